"""What a page is stored as: its site (allow-list, host syntax, punycode), its path
(no OAuth tokens from fragments, the owner's masks)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from factories import beacon_query, make_line

from ownstats.cli import parser
from stream_processor.masks import PathMasks, parse_patterns
from stream_processor.pipeline import Processor
from stream_processor.reasons import Reason
from stream_processor.sinks import MemorySink
from stream_processor.sites import allow_list, ascii_host
from stream_processor.visitor import MemorySaltStore


def run(url: str, domains: tuple[str, ...] = ("example.com",), **kwargs: Any) -> Any:
    processor = Processor(
        domains=domains, sink=MemorySink(), salts=MemorySaltStore(), **kwargs
    )
    return processor.run(make_line(beacon_query(u=url)))


# -- OAuth and other credentials in fragments -----------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://example.com/#access_token=eyJhbGciOi.x.y&token_type=bearer", "/"),
        ("https://example.com/cb#id_token=eyJ&state=af0ifjsldkj", "/cb"),
        ("https://example.com/#code=SplxlOBeZQQYbYS6WxSbIA&state=xyz", "/"),
        ("https://example.com/app#token=abcTOKEN", "/app"),
        ("https://example.com/#/callback&code=CODE123&state=4", "/#/callback"),
        ("https://example.com/#/reset?token=secret", "/#/reset"),
        ("https://example.com/#/docs/intro", "/#/docs/intro"),
        ("https://example.com/page#section-2", "/page#section-2"),
    ],
)
def test_fragment_parameters_never_reach_the_page_path(url: str, path: str) -> None:
    event = run(url)
    assert event["page_path"] == path
    for secret in ("eyJ", "Splxl", "abcTOKEN", "CODE123", "secret", "af0if"):
        assert secret not in str(event)


def test_referrer_fragments_and_queries_are_dropped() -> None:
    processor = Processor(domains=["example.com"], sink=MemorySink(), salts=MemorySaltStore())
    referrer = "https://login.example.net/cb?code=1#access_token=eyJ"
    event = processor.run(make_line(beacon_query(r=referrer)))
    assert event["referrer_url"] == "https://login.example.net/cb"  # type: ignore[index]


# -- the owner's path masks --------------------------------------------------------------------


def test_masked_segments_are_stored_as_stars() -> None:
    masks = ("/reset/*", "/u/*/**")
    assert run("https://example.com/reset/8f3a9c", mask_paths=masks)["page_path"] == "/reset/*"
    user = run("https://example.com/u/ann%40mail.example/settings", mask_paths=masks)
    assert user["page_path"] == "/u/*/**"
    assert run("https://example.com/#/reset/tok", mask_paths=masks)["page_path"] == "/#/reset/*"
    assert run("https://example.com/blog/8f3a9c", mask_paths=masks)["page_path"] == "/blog/8f3a9c"


@pytest.mark.parametrize("bad", ["reset/*", "/reset/abc", "/a/**/b"])
def test_bad_mask_patterns_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(ValueError, match="path mask"):
        parse_patterns(bad)
    with pytest.raises(SystemExit):
        parser().parse_args(["ingest", "--mask-paths", bad, "-"])


def test_masks_keep_a_trailing_slash_and_leave_shorter_paths() -> None:
    masks = PathMasks(["/reset/*"])
    assert [masks.apply(p) for p in ("/reset/a/", "/reset", "/reset/a/b")] == [
        "/reset/*/",
        "/reset",
        "/reset/a/b",
    ]


# -- sites: host-name syntax, subdomains, punycode ---------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "<img src=x onerror=alert(1)>.example.com",
        "x'or'1.example.com",
        "-bad.example.com",
        "a..example.com",
        ("x" * 64) + ".example.com",
        "sp ace.example.com",
    ],
)
def test_hosts_that_are_no_host_names_are_malformed(host: str) -> None:
    outcome = run(f"https://{quote(host, safe='.')}/")
    assert isinstance(outcome, tuple) and outcome[0] == Reason.MALFORMED, outcome
    assert host not in outcome[1]  # never echoed


def test_a_strangers_subdomain_counts_under_the_site_and_adds_none() -> None:
    event = run("https://your-site-was-hacked-call-555-0100.example.com/")
    assert event["domain_name"] == "example.com"
    assert event["hostname"] == "your-site-was-hacked-call-555-0100.example.com"


def test_a_listed_subdomain_is_a_site_of_its_own() -> None:
    domains = ("example.com", "blog.example.com")
    assert run("https://blog.example.com/a", domains)["domain_name"] == "blog.example.com"
    assert run("https://x.blog.example.com/a", domains)["domain_name"] == "blog.example.com"
    assert run("https://shop.example.com/a", domains)["domain_name"] == "example.com"


def test_subdomains_share_the_visitor_of_their_site() -> None:
    processor = Processor(domains=["example.com"], sink=MemorySink(), salts=MemorySaltStore())
    a = processor.run(make_line(beacon_query(u="https://example.com/")))
    b = processor.run(make_line(beacon_query(u="https://docs.example.com/")))
    assert a["visitor_id"] == b["visitor_id"]  # type: ignore[index]


def test_an_internationalised_allow_list_matches_what_browsers_send() -> None:
    assert allow_list(["Bücher.de", "www.example.com"]) == ("example.com", "xn--bcher-kva.de")
    event = run("https://xn--bcher-kva.de/", ("bücher.de",))
    assert event["domain_name"] == "xn--bcher-kva.de"
    assert ascii_host("bücher.de") == "xn--bcher-kva.de"
    args = parser().parse_args(["ingest", "--domain", "bücher.de,Example.com", "-"])
    assert args.domain == ["example.com", "xn--bcher-kva.de"]


def test_ip_literals_and_localhost_are_sites_when_every_site_is_welcome() -> None:
    for url, site in [
        ("http://127.0.0.1:3000/", "127.0.0.1"),
        ("http://[::1]:8000/", "::1"),
        ("http://localhost:8000/", "localhost"),
    ]:
        assert run(url, ())["domain_name"] == site


def test_an_invalid_domain_flag_is_refused() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["ingest", "--domain", "exa mple.com", "-"])
