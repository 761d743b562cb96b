"""How many known referrers get a name and the channel GA4 gives them.

Corpus: Google Analytics 4's source-category list (search, social, video, shopping), the
one GA4's default channel group reads (https://support.google.com/analytics/answer/9756891),
as kept in stream_processor/referrers.py (copied from Plausible's
priv/ga4-source-categories.csv; see there). Its hosts (entries with a dot) arrive as
referrers, its bare words (``baidu``, ``ig``) as ``utm_source``.

- named: the source is a name ("Pinterest"), not the raw host ("pinterest.pt");
- channel agreement: the channel is the one GA4 gives the category (search → Organic
  Search, social → Organic Social, video → Organic Video, shopping → Organic Shopping).
  Where ownstats disagrees on purpose (webmail GA4 files under search is Email here;
  the misses are printed) it counts as a disagreement.

Those are self-checks: the GA4 list is in the lookup tables. Held-out figures, measured
on hosts the tables do not contain, are printed separately:

- matomo held-out: a fixed ~20% of the vendored Matomo list's hosts (sha1 of the host),
  taken out of the measured module's ``LIST_SOURCES`` for the run; hosts our own or GA4's
  tables hold are skipped. ``{}`` patterns are measured as their ``de`` form.
- snowplow: Snowplow's referer-parser ``referers.yml`` (GPL-3.0, so not vendored: pass a
  local copy with ``--snowplow``), search/social/email/chatbot sections. "all" is every
  host (a cross-list check); "held-out" only those no table of ours holds (exact or
  ``{}`` pattern), so they are named by rules and parent domains alone.

    python bench/source_accuracy.py [--module path] [--snowplow referers.yml] [--show 20]

``--module`` measures another implementation with the same ``source_of``/``channel_of``:
a sources.py with no package imports, or a copy of the stream_processor package directory
(e.g. the code before this change).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stream_processor import referrers as current  # noqa: E402
from stream_processor.referrers import GA4_SOURCES  # noqa: E402
from stream_processor.sources import listed as matomo_listed  # noqa: E402

CHANNEL = {
    "search": "Organic Search",
    "social": "Organic Social",
    "video": "Organic Video",
    "shopping": "Organic Shopping",
}


#: channel each list's section means
LIST_CHANNEL = {
    "search": "Organic Search",
    "social": "Organic Social",
    "ai": "AI Assistants",
    "chatbot": "AI Assistants",
    "email": "Email",
}


def load(path: str | None) -> ModuleType:
    """The sources module to measure: ours, a package directory copy, or a lone file."""
    if path is None:
        from stream_processor import sources

        return sources
    if Path(path).is_dir():  # a package copy: its relative imports need a package
        init = Path(path) / "__init__.py"
        spec = importlib.util.spec_from_file_location(
            "measured_pkg", init, submodule_search_locations=[str(path)]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules["measured_pkg"] = package
        spec.loader.exec_module(package)
        return importlib.import_module("measured_pkg.sources")
    spec = importlib.util.spec_from_file_location("measured_sources", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def held_out(host: str) -> bool:
    """A fixed ~20% of hosts, the same on every run and machine."""
    return hashlib.sha1(host.encode()).digest()[0] % 5 == 0


def in_our_tables(host: str) -> bool:
    """Whether the current code's own tables (not Matomo's list) hold the host exactly."""
    return any(
        host in table
        for table in (current.GA4_SOURCES, current.OURS, current.NOT_SEARCH, current.ANDROID_APPS)
    )


def clear_caches(sources: ModuleType) -> None:
    """Forget memoised answers after the tables changed."""
    for name in ("known_referrer", "_tagged", "channel_of"):
        cached = getattr(sources, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def score(sources: ModuleType, label: str, hosts: list[tuple[str, str, str]], show: int) -> None:
    """Print named share, channel agreement and name agreement on (host, section, name)."""
    named = agree = same_name = 0
    misses: list[str] = []
    for host, section, name in hosts:
        source, cat = sources.source_of(None, None, host)
        channel = sources.channel_of(source, cat, None, None)
        named += source != host
        agree += channel == LIST_CHANNEL[section]
        same_name += source.lower() == name.lower()
        if channel != LIST_CHANNEL[section] and len(misses) < show:
            misses.append(f"{host} ({section}: {source} / {channel})")
    n = max(len(hosts), 1)
    print(
        f"  {label:28s} n={len(hosts):4d}  named {named / n:7.2%}  channel {agree / n:7.2%}"
        f"  same name {same_name / n:7.2%}"
    )
    if misses:
        print("    misses:", ", ".join(misses))


def matomo_held_out(sources: ModuleType, show: int) -> None:
    """Channel and naming on ~20% of the vendored Matomo hosts, removed from the lookup."""
    hosts: list[tuple[str, str, str]] = []
    for pattern, (name, category) in current.LIST_SOURCES.items():
        if not held_out(pattern):
            continue
        host = pattern.replace("{}", "de")
        if in_our_tables(host) or category is None:
            continue
        hosts.append((host, category, name))
    table = getattr(sources, "LIST_SOURCES", None)
    removed = {}
    if table is not None:  # the measured module has the list: take the slice out of it
        removed = {k: table.pop(k) for k in list(table) if held_out(k)}
        clear_caches(sources)
    try:
        score(sources, "matomo held-out (20%)", hosts, show)
    finally:
        if table is not None:
            table.update(removed)
            clear_caches(sources)


def snowplow(sources: ModuleType, path: str, show: int) -> None:
    """Channel and naming on Snowplow's hosts: all of them, and those no table holds."""
    import yaml_rs

    data = yaml_rs.loads(Path(path).read_text(encoding="utf-8"))
    every: list[tuple[str, str, str]] = []
    for section in ("search", "social", "email", "chatbot"):
        for name, entry in data[section].items():
            for host in entry.get("domains", []):
                host = str(host).lower()
                host = host[4:] if host.startswith("www.") else host
                if "/" not in host:
                    every.append((host, section, str(name)))
    every = sorted(set(every))
    unseen = [h for h in every if not in_our_tables(h[0]) and matomo_listed(h[0]) is None]
    score(sources, "snowplow all", every, 0)
    score(sources, "snowplow held-out", unseen, show)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default=None)
    parser.add_argument("--snowplow", default=None, help="a local copy of referers.yml")
    parser.add_argument("--show", type=int, default=0)
    args = parser.parse_args()
    sources = load(args.module)

    named: dict[str, Counter[bool]] = {c: Counter() for c in CHANNEL}
    agree: dict[str, Counter[bool]] = {"host": Counter(), "utm_source": Counter()}
    unnamed: list[str] = []
    disagree: list[tuple[str, str, str]] = []
    for entry, category in sorted(GA4_SOURCES.items()):
        is_host = "." in entry and " " not in entry
        if is_host:
            source, cat = sources.source_of(None, None, entry)
            named[category][source != entry] += 1
            if source == entry:
                unnamed.append(f"{entry} ({category})")
        else:
            source, cat = sources.source_of(entry, None, None)
        channel = sources.channel_of(source, cat, None, None)
        agree["host" if is_host else "utm_source"][channel == CHANNEL[category]] += 1
        if channel != CHANNEL[category]:
            disagree.append((entry, CHANNEL[category], channel))

    print(f"module: {sources.__file__}")
    print("named source (GA4 hosts arriving as referrers):")
    for category, count in named.items():
        total = sum(count.values())
        print(f"  {category:9s} {count[True]:4d} / {total:4d} = {count[True] / total:7.2%}")
    both = named["search"] + named["social"]
    print(f"  search + social: {both[True] / sum(both.values()):.2%}")
    print("channel agreement with GA4's category:")
    for kind, count in agree.items():
        total = sum(count.values())
        print(f"  as {kind:10s} {count[True]:4d} / {total:4d} = {count[True] / total:7.2%}")
    total = agree["host"] + agree["utm_source"]
    print(f"  all entries: {total[True] / sum(total.values()):.2%}")
    if args.show:
        print("unnamed:", ", ".join(unnamed[: args.show]))
        for entry, want, got in disagree[: args.show]:
            print(f"  {entry:30s} GA4 {want:17s} ours {got}")
    print("held-out (hosts not in the measured lookup tables):")
    matomo_held_out(sources, args.show)
    if args.snowplow:
        snowplow(sources, args.snowplow, args.show)


if __name__ == "__main__":
    main()
