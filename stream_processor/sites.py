"""Which site a page belongs to: the allow-list, host-name syntax, punycode.

A beacon's page host is whatever the request says, so it is checked as a host name
(LDH labels of 1–63 characters, 253 in all, or an IP address) before it can become a
site: ``<img src=x onerror=…>.example.com`` or ``x'or'1.example.com`` are malformed,
not sites. Browsers send internationalised names in punycode (``location.href``
serialises the host as ASCII), so the owner's ``bücher.de`` is converted to
``xn--bcher-kva.de`` once, here, for the processor, local mode and the CDK app alike.

A subdomain of a configured site is counted under that site (``domain_name``) unless
the owner lists it too, as Plausible does: a stranger's
``your-site-was-hacked.example.com`` adds no site to the owner's dashboard; the full
host stays in ``hostname``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
MAX_HOST = 253


def normalize_domain(host: str) -> str:
    """Lower-case, no trailing dot, no leading ``www.``: the name a site is counted under."""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


@lru_cache(maxsize=4096)
def ascii_host(host: str) -> str | None:
    """``host`` lower-cased, in punycode, if it is a valid host name or IP; else None."""
    host = host.strip().lower().rstrip(".")
    if not host:
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except (UnicodeError, ValueError):
            return None
    if len(host) > MAX_HOST:
        return None
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if all(_LABEL.match(label) for label in host.split(".")):
        return host
    return None


def allow_list(domains: Iterable[str]) -> tuple[str, ...]:
    """The owner's site domains, normalised and in punycode; ValueError names a bad one."""
    sites = set()
    for domain in domains:
        if not domain.strip():
            continue
        host = ascii_host(domain)
        if host is None:
            raise ValueError(f"{domain.strip()!r} is not a valid domain name")
        sites.add(normalize_domain(host))
    return tuple(sorted(sites))


class Sites:
    """Matches a page host against the allow-list: (site, domain_name) or None."""

    def __init__(self, domains: Iterable[str]) -> None:
        self.domains = allow_list(domains)
        self._exact = frozenset(self.domains)
        # the longest entry first: blog.example.com before example.com when both listed
        self._by_length = tuple(sorted(self.domains, key=len, reverse=True))

    def match(self, domain: str) -> str | None:
        """The domain_name a normalised, valid host is counted under; None if foreign."""
        if not self.domains or domain in self._exact:
            return domain  # local mode without --domain: every site is welcome
        for site in self._by_length:
            # a subdomain on a label boundary, never example.com.evil.test
            if domain.endswith("." + site):
                return site
        return None
