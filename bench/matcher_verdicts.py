"""Same verdicts from another matcher: every labelled user agent, both codes, compared.

Start-up work (issue #25) changed how the list matchers are built, never what they say.
This runs every user agent of the labelled corpora (Matomo's device-detector fixtures,
all rows; every file of tests/fixtures/useragents; crawler-user-agents' instances) and
the adversarial mix of bench/useragent_worst_case.py through ``bot_reason``, ``classify``
and every list's ``first_match``, once with this tree's ``patternset.py`` and once with
another's (the lists are this tree's both times), and counts the answers that differ.

The exact checks of look-around patterns and of phone models give up after 0.2 ms of wall
time (patternset.py, ``bounded``): on a busy machine a check can give up in one run and
not in the next, which is noise, not a difference between the codes. Both runs therefore
use ``--verify-timeout`` (50 ms; 0 keeps the processor's own). A list asked about many
texts switches to a set compiled whole (``WHOLE_SET_AFTER``, the old code's matcher): this
comparison keeps every list lazy (``--whole-set-after``), so it is the lazy matching that
is compared.

    git worktree add /tmp/ownstats-before HEAD
    python bench/matcher_verdicts.py --before /tmp/ownstats-before [--adversarial 20000]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def user_agents(adversarial: int) -> list[str]:
    import crawleruseragents
    from useragent_accuracy import FIXTURES, matomo_fixtures
    from useragent_worst_case import adversarial as adversarial_mix

    found = {row["user_agent"] for row in matomo_fixtures() if row.get("user_agent")}
    for path in sorted(FIXTURES.iterdir()):
        if path.suffix in (".txt", ".tsv"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line and not line.startswith("#"):
                    found.update(line.split("\t") if path.suffix == ".tsv" else [line])
    found.update(i for e in crawleruseragents.CRAWLER_USER_AGENTS_DATA for i in e["instances"])
    found.update(adversarial_mix(adversarial))
    return sorted(found)


def _use_patternset(source: Path) -> None:
    """Make ``stream_processor.patternset`` the module at ``source`` before anything imports it."""
    spec = importlib.util.spec_from_file_location("stream_processor.patternset", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stream_processor.patternset"] = module
    spec.loader.exec_module(module)


def verdicts(agents: list[str]) -> list[str]:
    """One line of every answer per user agent (bounded as the processor bounds it)."""
    from stream_processor import browsers, devices
    from stream_processor.bots import bot_lists
    from stream_processor.useragent import MAX_LENGTH, bot_reason, classify

    lists = bot_lists()
    sets = {
        "deny": lists.deny,
        "crawler_detect": lists.crawler_detect,
        "browsers": browsers._browsers(),
        "non_browser": browsers._non_browser_clients(),
        "systems": browsers._systems(),
        "tv_browsers": devices._tv_browsers(),
    }
    for n, (_gate, device_list) in enumerate(devices._lists()):
        sets[f"devices{n}"] = device_list.brands
    out = []
    for ua in agents:
        bounded = ua[:MAX_LENGTH]
        row = [bot_reason(ua), classify(ua)]
        row += [found.first_match(bounded) for found in sets.values()]
        out.append(json.dumps(row))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a tree (worktree) with the other code")
    parser.add_argument("--adversarial", type=int, default=20_000)
    parser.add_argument("--verify-timeout", type=float, default=0.05)
    parser.add_argument("--whole-set-after", type=int, default=10**9)
    parser.add_argument("--patternset", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.out is not None:  # a child: one code's verdicts
        if args.patternset is not None:
            _use_patternset(args.patternset)
        if args.verify_timeout:
            from stream_processor import devices, patternset

            patternset.VERIFY_TIMEOUT_S = devices.VERIFY_TIMEOUT_S = args.verify_timeout
        from stream_processor import patternset

        patternset.WHOLE_SET_AFTER = args.whole_set_after  # the old module: an unused name
        agents = user_agents(args.adversarial)
        args.out.write_text("\n".join(verdicts(agents)) + "\n", encoding="utf-8")
        return
    if args.before is None:
        parser.error("--before DIR is required")
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, source in (
            ("before", args.before / "stream_processor" / "patternset.py"),
            ("after", None),
        ):
            out = Path(tmp) / name
            command = [sys.executable, __file__, "--out", str(out)]
            command += ["--adversarial", str(args.adversarial)]
            command += ["--verify-timeout", str(args.verify_timeout)]
            command += ["--whole-set-after", str(args.whole_set_after)]
            if source is not None:
                command += ["--patternset", str(source)]
            subprocess.run(command, check=True)
            runs[name] = out.read_text(encoding="utf-8").splitlines()
    agents = user_agents(args.adversarial)
    differ = [
        (ua, a, b) for ua, a, b in zip(agents, runs["before"], runs["after"], strict=True) if a != b
    ]
    lists = len(json.loads(runs["after"][0])) - 2
    print(f"user agents compared: {len(agents):,} (each: bot_reason, classify, {lists} lists)")
    print(f"differing: {len(differ):,}")
    for ua, a, b in differ[:20]:
        print(f"  {ua[:120]!r}\n    before {a[:200]}\n    after  {b[:200]}")


if __name__ == "__main__":
    main()
