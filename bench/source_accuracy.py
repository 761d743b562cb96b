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

    python bench/source_accuracy.py [--module path/to/sources.py] [--show 20]

``--module`` measures another implementation with the same ``source_of``/``channel_of``,
e.g. the code before this change saved to a file.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stream_processor.referrers import GA4_SOURCES  # noqa: E402

CHANNEL = {
    "search": "Organic Search",
    "social": "Organic Social",
    "video": "Organic Video",
    "shopping": "Organic Shopping",
}


def load(path: str | None) -> ModuleType:
    if path is None:
        from stream_processor import sources

        return sources
    spec = importlib.util.spec_from_file_location("measured_sources", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default=None)
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


if __name__ == "__main__":
    main()
