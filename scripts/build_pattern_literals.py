"""Write stream_processor/data/pattern_literals.json: every list pattern's literals.

Why a file: a list matcher (``stream_processor.patternset.PatternSet``) indexes its
patterns by literals before it answers its first user agent, and working them out costs
~25 us a pattern, 0.2 s for the device brands a phone's first record needs: in every
``ownstats ingest`` and every Lambda cold start. They depend only on the patterns and on
``stream_processor/prefilter.py``, so they are worked out once, here, and shipped with
the package (``data/*.json`` is package data; the Lambda asset copies the directory).

The file is keyed by each pattern's digest and stamped with prefilter.py's digest: a
pattern it does not hold (an updated list package, an edited local list) has its literals
worked out at run time, and a file made by other code is not used at all, so a stale file
costs time, never a different answer. tests/processor/test_pattern_literals.py fails
when the file is not what this script would write now.

    python scripts/build_pattern_literals.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def contents() -> str:
    """The file as this code and the installed lists make it."""
    from stream_processor.prefilter import cache_table, code_version
    from stream_processor.useragent import indexed_patterns

    data = {"version": code_version(), "literals": cache_table(indexed_patterns())}
    return json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args()
    from stream_processor.prefilter import CACHE_FILE

    text = contents()
    current = CACHE_FILE.read_text(encoding="utf-8") if CACHE_FILE.exists() else ""
    if args.check:
        print("up to date" if text == current else f"stale: run {Path(__file__).name}")
        return 0 if text == current else 1
    CACHE_FILE.write_text(text, encoding="utf-8")
    entries = len(json.loads(text)["literals"])
    print(f"wrote {CACHE_FILE.relative_to(ROOT)}: {entries:,} patterns, {len(text):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
