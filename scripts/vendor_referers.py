"""Vendor Matomo's search-engine, social-network and AI-assistant lists as compact JSON.

Why JSON: the processor reads it at import with the standard library (json), so the Lambda
needs no YAML parser for it and nothing is parsed per record. Why Matomo's list: it is
maintained, CC0-licensed (public domain dedication) and names each site; Snowplow's
referer-parser ``referers.yml`` says in its README that it is GPL-3.0, which an MIT project
should not ship without a decision, so it is used by bench/source_accuracy.py only, as an
independent yardstick read from a local checkout.

    python scripts/vendor_referers.py /path/to/searchengine-and-social-list [commit] [date]

Writes stream_processor/data/matomo_referrers.json: {"search"|"social"|"ai": {host: name}}.
Hosts keep Matomo's ``{}`` country placeholder (``google.{}``, ``{}.search.yahoo.com``);
URLs with a path (``google.{}/cse``) are dropped: a referrer reaches us as a host only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml_rs

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "stream_processor" / "data" / "matomo_referrers.json"


def _hosts(urls: list[str]) -> list[str]:
    """Matomo's URLs as bare lower-case hosts, path-qualified ones left out."""
    hosts = []
    for url in urls:
        url = str(url).strip().lower()
        if url and "/" not in url:
            hosts.append(url[4:] if url.startswith("www.") else url)
    return hosts


def convert(checkout: Path) -> dict[str, dict[str, str]]:
    """{category: {host: name}}; the first name listing a host keeps it."""
    out: dict[str, dict[str, str]] = {"search": {}, "social": {}, "ai": {}}
    engines = yaml_rs.loads((checkout / "SearchEngines.yml").read_text(encoding="utf-8"))
    for name, configs in engines.items():
        for config in configs:
            for host in _hosts(config.get("urls", [])):
                out["search"].setdefault(host, str(name))
    for category, file in (("social", "Socials.yml"), ("ai", "AIAssistants.yml")):
        table = yaml_rs.loads((checkout / file).read_text(encoding="utf-8"))
        for name, urls in table.items():
            for host in _hosts(urls):
                out[category].setdefault(host, str(name))
    return out


def main() -> None:
    """Convert a checkout given on the command line into the vendored JSON file."""
    checkout = Path(sys.argv[1])
    data = convert(checkout)
    meta = {
        "source": "https://github.com/matomo-org/searchengine-and-social-list",
        "commit": sys.argv[2] if len(sys.argv) > 2 else "",
        "date": sys.argv[3] if len(sys.argv) > 3 else "",
        "license": "CC0-1.0",
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"_meta": meta, **data}, ensure_ascii=False, sort_keys=True, indent=0)
    OUT.write_text(text + "\n", encoding="utf-8")
    print(f"{OUT}: " + ", ".join(f"{k} {len(v)}" for k, v in data.items()))


if __name__ == "__main__":
    main()
