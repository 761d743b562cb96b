"""The hosted dashboard's static files, derived from local mode's page at synth time.

Why derived, not a second page: ``static/index.html`` is the one definition of the
dashboard's markup. The hosted copy differs only by ``auth.js`` loaded before ``app.js``
(deferred scripts run in document order, so ``window.ownstatsAuth`` exists before the
app starts) and by a config file the CDK deployment writes next to it. Standard library
only (importing ``ownstats.dashboard`` would pull in its engine): the CDK app and the
browser tests both call this.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

__all__ = [
    "AUTH_SCRIPT",
    "CONFIG_KEY",
    "CSP",
    "STATIC_DIR",
    "HostedPageError",
    "hosted_index_html",
    "stage_hosted_static",
    "static_files",
]

STATIC_DIR = Path(__file__).resolve().parent.parent / "ownstats" / "dashboard" / "static"
AUTH_SCRIPT = '<script src="/_dash/auth.js" defer></script>'
#: object key of the sign-in settings auth.js reads (user pool domain, client id, …)
CONFIG_KEY = "_dash/hosted-config.json"
#: the page's Content-Security-Policy: local mode's, plus the sign-in origin in connect-src
#: (auth.js exchanges the code there); ``{login}`` is that origin
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self' {login}; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
_APP_SCRIPT = re.compile(r'[ \t]*<script\s+src="/_dash/app\.js"[^>]*></script>')


class HostedPageError(ValueError):
    """index.html no longer loads /_dash/app.js the way the hosted page expects."""


def hosted_index_html(source: str) -> str:
    """``source`` (local index.html) with ``auth.js`` inserted just before ``app.js``."""
    match = _APP_SCRIPT.search(source)
    if match is None or len(_APP_SCRIPT.findall(source)) != 1:
        raise HostedPageError(
            "static/index.html must load app.js exactly once as "
            '<script src="/_dash/app.js" defer></script> so auth.js can go before it'
        )
    indent = match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip())]
    return source[: match.start()] + indent + AUTH_SCRIPT + "\n" + source[match.start() :]


def static_files(static_dir: Path = STATIC_DIR) -> list[str]:
    """Every file the page may ask for under ``/_dash/`` (all of ``static/`` but the page
    itself, as local mode's ``StaticFiles`` serves them): a script the page gains later
    is uploaded without a change here."""
    return sorted(
        p.name
        for p in static_dir.iterdir()
        if p.is_file() and p.name != "index.html" and not p.name.startswith(".")
    )


def stage_hosted_static(build_root: Path, static_dir: Path = STATIC_DIR) -> Path:
    """A directory laid out like the dashboard bucket: ``index.html`` and ``_dash/*``.

    Keyed by content hash so repeated synths reuse it (and CDK its asset hash).
    """
    html = hosted_index_html((static_dir / "index.html").read_text(encoding="utf-8"))
    names = static_files(static_dir)
    digest = hashlib.sha256(html.encode())
    for name in names:
        digest.update(name.encode() + (static_dir / name).read_bytes())
    target = build_root / "dashboard-static" / digest.hexdigest()[:16]
    if not (target / "index.html").is_file():
        staging = target.with_name(target.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "_dash").mkdir(parents=True)
        for name in names:
            shutil.copyfile(static_dir / name, staging / "_dash" / name)
        (staging / "index.html").write_text(html, encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target
