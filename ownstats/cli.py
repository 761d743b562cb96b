"""The ``ownstats`` command: serve, ingest, query, demo, dashboard (README, "Use it locally").

Every command runs the same processor and views as the AWS deployment; only the
services around them are local. Errors say what to do next and exit non-zero
without a traceback; long-running work shows progress on stderr.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from numbers import Number
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from stream_processor.reasons import Rejections

DEFAULT_DATA = "./ownstats-data"


def domains_arg(value: str) -> list[str]:
    """The allow-list as the processor matches it: normalised, in punycode."""
    from stream_processor.sites import allow_list

    try:
        return list(allow_list(value.split(",")))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{err}; give bare names like example.com") from None


def time_zone_arg(value: str) -> str:
    from ownstats.zones import time_zones

    try:
        time_zones(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def masks_arg(value: str) -> list[str]:
    from stream_processor.masks import parse_patterns

    try:
        return list(parse_patterns(value))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


class Progress:
    """A rate-limited progress line on stderr: overwritten on a terminal, logged otherwise."""

    def __init__(self, label: str, every_s: float = 1.0, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.every_s = every_s if stream.isatty() else max(every_s, 5.0)
        self.stream = stream
        self.start = time.monotonic()
        self.last = self.start
        self.shown = False

        self.count, self.extra = 0, ""

    def update(self, count: int, extra: str = "") -> None:
        self.count, self.extra = count, extra
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            self._show()

    def _show(self) -> None:
        rate = self.count / max(time.monotonic() - self.start, 1e-9)
        message = f"{self.label}: {self.count:,} records ({rate:,.0f}/s){self.extra}"
        if self.stream.isatty():
            print(f"\r\033[K{message}", end="", file=self.stream, flush=True)
        else:
            print(message, file=self.stream, flush=True)
        self.shown = True

    def done(self) -> None:
        """The final figures, when the work took long enough to deserve a progress line."""
        if self.shown or self.count >= 10_000 or time.monotonic() - self.start > 1.0:
            self._show()
        if self.shown and self.stream.isatty():
            print(file=self.stream)


# -- ingest --------------------------------------------------------------------------------


def read_lines(source: str) -> Iterator[str]:
    if source == "-":
        yield from sys.stdin
        return
    path = Path(source)
    if not path.is_file():
        raise SystemExit(
            f"error: {source}: no such file. Pass a file of CloudFront real-time log records "
            "(one per line, tab-separated, the configured fields in order) or - for stdin"
        )
    opener = open
    if path.suffix == ".gz":
        import gzip

        opener = gzip.open  # type: ignore[assignment]
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        yield from handle


@dataclass
class InputShape:
    """What ``batched`` saw besides records: ``#`` comment lines (a real-time log record
    starts with its epoch timestamp, never ``#``; files and fixtures carry notes, and
    standard logs a ``#Version``/``#Fields`` header) and the first record's field count."""

    comments: int = 0
    first_fields: int | None = None


def batched(
    lines: Iterable[str], size: int, shape: InputShape | None = None
) -> Iterator[list[tuple[int, str]]]:
    shape = shape if shape is not None else InputShape()
    batch: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            shape.comments += 1
            continue
        if shape.first_fields is None:
            shape.first_fields = line.rstrip("\r\n").count("\t") + 1
        batch.append((number, line))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


#: seconds to wait before each retry of records that failed (salt store or disk trouble)
RETRY_DELAYS_S = (0.2, 1.0, 3.0)


def process_with_retries(
    processor: Any, batch: list[tuple[int, str]], delays: Sequence[float] = RETRY_DELAYS_S
) -> Any:
    """``processor.process(batch)``, with failed records retried, exactly them.

    Unlike Kinesis, a file can hand back just the failed lines, so nothing is
    processed twice; what still fails after the last retry stays counted as failed.
    """
    result = processor.process(batch)
    for delay in delays:
        if not result.failed_ids:
            break
        time.sleep(delay)
        retry = set(result.failed_ids)
        again = processor.process([item for item in batch if item[0] in retry])
        result.accepted += again.accepted
        result.by_type.update(again.by_type)
        result.rejections.update(again.rejections)
        result.failed_ids = again.failed_ids
        result.delivery_failures, result.unavailable = again.delivery_failures, again.unavailable
    return result


def ingest(
    data: Path,
    domains: Sequence[str],
    lines: Iterable[str],
    *,
    quiet: bool = False,
    mask_paths: Sequence[str] = (),
    shape: InputShape | None = None,
) -> Any:
    """Feed log lines through the processor into the lake; the merged BatchResult."""
    from ownstats.lake import LakeSink, salts_dir
    from stream_processor.pipeline import BatchResult, Processor
    from stream_processor.visitor import FileSaltStore

    sink = LakeSink(data, max_buffer_rows=50_000, max_buffer_age_s=30.0)
    processor = Processor(
        domains=domains, sink=sink, salts=FileSaltStore(salts_dir(data)), mask_paths=mask_paths
    )
    totals = BatchResult()
    progress = Progress("ingest")
    try:
        for batch in batched(lines, 500, shape):  # Kinesis-sized batches, as Lambda's
            totals.merge(process_with_retries(processor, batch))
            if not quiet:
                progress.update(totals.records_in, f", {totals.accepted:,} accepted")
    finally:
        if not quiet:
            progress.done()
        sink.close()
    sink.compact()
    return totals


def sniff_standard_log(lines: Iterable[str]) -> tuple[bool, Iterator[str]]:
    """Whether the input is a CloudFront standard log (its first non-empty line is a
    ``#Version``/``#Fields`` header), and the lines, none lost to the look."""
    from stream_processor.standard_log import is_standard_log

    it = iter(lines)
    head: list[str] = []
    for line in it:
        head.append(line)
        if line.strip():
            break
    standard = bool(head) and is_standard_log(head[-1])
    return standard, itertools.chain(head, it)


def standard_log_records(
    lines: Iterable[str], shape: InputShape, unread: Rejections
) -> Iterator[str]:
    """A standard log's data lines as real-time records (stream_processor/standard_log.py).

    Its ``#`` lines are counted in ``shape.comments``, as ``batched`` counts them in a
    file of records; a line that gives no record is counted in ``unread`` (a
    ``Rejections``) as malformed, with the reason but never a value from the line.
    """
    from stream_processor.reasons import Reason
    from stream_processor.standard_log import MalformedLine, StandardLogReader

    reader = StandardLogReader()
    try:
        for item in reader.records(lines):
            if isinstance(item, MalformedLine):
                unread.add(Reason.MALFORMED, f"standard log line: {item.reason}")
            else:
                yield item
    finally:
        shape.comments += reader.comments


def cmd_ingest(args: argparse.Namespace) -> int:
    from stream_processor.fields import REALTIME_LOG_FIELDS
    from stream_processor.reasons import Reason, Rejections

    data = Path(args.data)
    shape = InputShape()
    standard, lines = sniff_standard_log(read_lines(args.file))
    unread = Rejections()  # standard-log lines that gave no record
    if standard:
        lines = standard_log_records(lines, shape, unread)
    totals = ingest(
        data,
        args.domain,
        lines,
        quiet=args.quiet,
        mask_paths=args.mask_paths,
        shape=shape,
    )
    if unread:
        totals.records_in += sum(unread.values())
        totals.rejections.update(unread)
        for reason, example in unread.examples.items():
            totals.rejections.examples.setdefault(reason, example)
    rejected = totals.rejections.as_dict()
    print(
        f"records: {totals.records_in:,}  accepted: {totals.accepted:,}  "
        f"rejected: {sum(rejected.values()):,}  failed: {totals.failed:,}"
    )
    for reason, count in rejected.items():
        example = totals.rejections.examples.get(reason, "")
        print(f"  {reason:<20} {count:>9,}   e.g. {example}")
    if shape.comments:
        print(f"  ({shape.comments:,} comment lines starting with # skipped)")
    if standard:
        print("  (read as a CloudFront standard log: times to the second, no c-country or asn)")
    if not totals.records_in:
        print("warning: no records found in the input", file=sys.stderr)
    elif standard and rejected.get("malformed", 0) == totals.records_in:
        from stream_processor.standard_log import REQUIRED

        example = totals.rejections.examples.get(Reason.MALFORMED, "")
        print(
            f"error: none of the {totals.records_in:,} lines of the standard log could be "
            f"read (e.g. {example}). ownstats reads CloudFront standard log files by their "
            f"#Fields header and needs these fields in it: {', '.join(REQUIRED)} "
            '(docs/PROTOCOL.md, "Standard logs")',
            file=sys.stderr,
        )
        return 1
    elif rejected.get("malformed", 0) == totals.records_in:
        expected = len(REALTIME_LOG_FIELDS)
        found = shape.first_fields
        print(
            f"error: none of the {totals.records_in:,} records could be read. ownstats reads "
            f"CloudFront real-time log records with {expected} tab-separated fields in this "
            f"order: {', '.join(REALTIME_LOG_FIELDS)} (docs/PROTOCOL.md); the first record "
            f"has {found}. A log written with another field list (an older deployment's, "
            "such as tests/fixtures/cloudfront/ownstats-2022.tsv) cannot be read as it is",
            file=sys.stderr,
        )
        return 1
    if totals.failed:
        print(
            f"error: {totals.failed:,} records could not be processed or written to {data} "
            f"(after {len(RETRY_DELAYS_S)} retries); check free disk space, permissions and "
            "the open-file limit (ulimit -n), then ingest the file again: events already "
            "stored are not counted twice",
            file=sys.stderr,
        )
        return 1
    print(
        f"lake: {data.resolve() / 'events'}  (try: ownstats query --data {args.data} "
        '"SELECT * FROM daily_stats ORDER BY event_date")'
    )
    return 0


# -- query ---------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """A value as the table shows it (rounded floats, ISO dates, maps as JSON)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4f}"
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters and bidi overrides
    shown as escapes (``\\x1b``, ``\\u202e``), everything else as it is.

    Page paths, event names and UTM values are whatever a visitor sent; printed raw,
    an ESC sequence could retitle, recolour or clear the site owner's terminal.
    """
    from ownstats.dashboard.csvsafe import visible

    return visible(text)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if hasattr(value, "is_finite"):  # Decimal
        return float(value)
    return value


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _csv_value(value: Any) -> Any:
    """A value as a CSV cell: exact (no rounding), text defused against formulas."""
    from ownstats.dashboard.csvsafe import defuse

    if value is None:
        return ""
    if isinstance(value, Number):
        return value  # numbers stay numbers: -3 is a value, not a formula
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return defuse(str(value))


#: a CSV field holding one of these is quoted; csv.writer with a "\n" line end would
#: leave a bare "\r" unquoted, and a spreadsheet reading it as a row break would start a
#: new cell there: "x\r=HYPERLINK(…)" past the formula guard
_CSV_SPECIAL = re.compile('[",\r\n]')


def _csv_line(values: Iterable[Any]) -> str:
    """One CSV record (RFC 4180 quoting) ending in "\n", as Unix tools expect."""
    fields = []
    for value in values:
        text = str(_csv_value(value))
        fields.append('"' + text.replace('"', '""') + '"' if _CSV_SPECIAL.search(text) else text)
    return (",".join(fields) if fields != [""] else '""') + "\n"


def print_result(result: Any, fmt: str, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    if fmt == "json":
        rows = [{k: _json_value(v) for k, v in row.items()} for row in result.as_dicts()]
        text = json.dumps(rows, ensure_ascii=False, default=str)
        # json escapes C0 itself; DEL, C1 and bidi controls too (the same data, as \uXXXX)
        from ownstats.dashboard.csvsafe import UNSAFE

        out.write(UNSAFE.sub(_json_escape, text))
        out.write("\n")
    elif fmt == "csv":
        out.write(_csv_line(result.columns))
        for row in result.rows:
            out.write(_csv_line(row))
    else:
        columns = [printable(str(c)) for c in result.columns]
        cells = [[printable(_cell(v)) for v in row] for row in result.rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        numeric = [
            all(isinstance(r[i], Number) or r[i] is None for r in result.rows) and bool(result.rows)
            for i in range(len(columns))
        ]

        def line(values: Sequence[str]) -> str:
            return "  ".join(
                v.rjust(w) if n else v.ljust(w)
                for v, w, n in zip(values, widths, numeric, strict=True)
            ).rstrip()

        out.write(line(columns) + "\n")
        out.write("  ".join("-" * w for w in widths) + "\n")
        for row in cells:
            out.write(line(row) + "\n")
        out.write(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})\n")


def athena_backend(args: argparse.Namespace) -> Any:
    from ownstats.athena import AthenaBackend, stack_outputs, stderr_progress

    workgroup, database = args.workgroup, args.database
    if not (workgroup and database):
        if not args.stack:
            raise SystemExit(
                "error: --athena needs --stack NAME (the deployed stack, e.g. "
                "ownstats-example-com) or both --workgroup and --database"
            )
        outputs = stack_outputs(args.stack)
        workgroup = workgroup or outputs.get("AthenaWorkGroup")
        database = database or outputs.get("GlueDatabase")
        if not (workgroup and database):
            raise SystemExit(
                f"error: stack {args.stack} has no AthenaWorkGroup/GlueDatabase "
                "outputs; is it an ownstats stack? Pass --workgroup and --database"
            )
    return AthenaBackend(workgroup, database, progress=stderr_progress)


def cmd_query(args: argparse.Namespace) -> int:
    from ownstats.engine import Engine, QueryError

    try:
        if args.athena:
            result = athena_backend(args).query(args.sql)
        else:
            data = Path(args.data)
            if not (data / "events").is_dir():
                print(
                    f"note: no lake at {data}/events yet (run `ownstats demo` or "
                    "`ownstats ingest`); querying an empty one",
                    file=sys.stderr,
                )
            # one query: run the views live (materialising every day would cost more)
            with Engine(data, materialize=False) as engine:
                result = engine.query(args.sql)
    except QueryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print_result(result, args.format)
    return 0


# -- serve and demo -------------------------------------------------------------------------


def _url_host(host: str) -> str:
    if host in ("127.0.0.1", "::1", "0.0.0.0", "::"):  # all addresses include loopback
        return "localhost"
    return f"[{host}]" if ":" in host else host


def banner(
    host: str,
    port: int,
    data: Path,
    domains: Sequence[str],
    dashboard_host: str = "127.0.0.1",
    dashboard_port: int | None = None,
    *,
    shared: bool = True,
) -> str:
    from ownstats.server import dashboard_address

    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"
    board_host = _url_host(host if shared else dashboard_host)
    board = f"http://{board_host}:{dashboard_address(port, dashboard_port, shared=shared)}/"
    sites = ", ".join(domains) if domains else "any site (pass --domain to restrict)"
    return (
        f"ownstats is running: dashboard {board}\n"
        f'  tracker: <script defer src="{url}/hello.js"></script>\n'
        f"  sites:   {sites}\n"
        f"  lake:    {data.resolve()}/events\n"
        "  stop with Ctrl-C (everything received is written before exit)"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from ownstats.server import LocalStack, serve, shares_port

    data = Path(args.data)
    stack = LocalStack(
        data,
        args.domain,
        trust_proxy=args.trust_proxy,
        mask_paths=args.mask_paths,
        time_zone=args.time_zone,
    )

    def ready() -> None:
        print(
            banner(
                args.host,
                args.port,
                data,
                args.domain,
                args.dashboard_host,
                args.dashboard_port,
                shared=shares_port(args.host, args.dashboard_port, args.trust_proxy),
            ),
            flush=True,
        )
        if stack.replayed:
            print(
                f"  replayed {stack.replayed:,} beacons left in {stack.spool_dir} by the last "
                "run (events already stored are not stored twice)",
                flush=True,
            )

    serve(
        stack,
        args.host,
        args.port,
        dashboard_host=args.dashboard_host,
        dashboard_port=args.dashboard_port,
        ready=ready,
    )
    if stack.kept:
        print(
            f"error: {stack.stop_error}\n"
            f"error: {stack.kept:,} beacons kept in {stack.spool_dir}, replayed on next start "
            "(nothing received is lost)",
            file=sys.stderr,
            flush=True,
        )
        return 1
    totals = stack.pump.totals
    rejected = totals.rejections.as_dict()
    # by reason: "foreign_domain" is the answer to "why is my site not counted?"
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in rejected.items())
    stored = totals.accepted - stack.sink.skipped  # a replay skips what was stored before
    print(
        f"stopped: {stored:,} events stored, {sum(rejected.values()):,} rejected"
        + (f" ({reasons})" if reasons else ""),
        flush=True,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ownstats import demo

    return demo.run(args)


def cmd_dashboard(args: argparse.Namespace) -> int:
    import uvicorn

    from ownstats.dashboard import build_app
    from ownstats.server import check_port

    if not args.athena:
        raise SystemExit(
            "error: `ownstats dashboard` is for a deployed stack: pass --athena "
            "(locally, `ownstats serve` already serves the dashboard at /)"
        )
    backend = athena_backend(args)
    check_port(args.host, args.port)
    print(
        f"dashboard over Athena ({backend.workgroup}/{backend.database}): "
        f"http://localhost:{args.port}/",
        flush=True,
    )
    uvicorn.run(
        build_app(backend, cache_ttl_s=60.0, parallel=True, time_zone=args.time_zone),
        host=args.host,
        port=args.port,
        log_level="warning",
    )
    return 0


# -- parser ---------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="ownstats",
        description="Privacy-first website analytics: the local embedded mode and tools.",
    )
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data",
            default=os.environ.get("OWNSTATS_DATA", DEFAULT_DATA),
            help=f"lake directory (default {DEFAULT_DATA}, or $OWNSTATS_DATA)",
        )

    def domain_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--domain",
            type=domains_arg,
            default=[],
            help="allowed site domains, comma-separated (subdomains count under them); "
            "default: accept every site",
        )
        p.add_argument(
            "--mask-paths",
            type=masks_arg,
            default=[],
            metavar="PATTERNS",
            help="page paths stored with their * segments masked, comma-separated "
            "(e.g. /reset/*,/u/*/**: tokens or e-mail addresses in paths)",
        )

    def server_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to listen on (default 127.0.0.1: this machine only)",
        )
        p.add_argument("--port", type=int, default=8080, help="port (default 8080)")

    def time_zone_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--time-zone",
            type=time_zone_arg,
            default=os.environ.get("OWNSTATS_TIME_ZONE", ""),
            metavar="ZONE",
            help="the dashboard's days and hours in this IANA time zone, for every site "
            "(Europe/Berlin) or per site (shop.example=America/New_York), comma-separated "
            "(default UTC, or $OWNSTATS_TIME_ZONE)",
        )

    def stack_arg(p: argparse.ArgumentParser, outputs: str) -> None:
        p.add_argument(
            "--stack",
            default=os.environ.get("OWNSTATS_STACK"),
            help=f"deployed stack name, to read the {outputs} outputs ($OWNSTATS_STACK)",
        )

    def athena_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--athena",
            action="store_true",
            help="run on AWS Athena (your AWS credentials) instead of the local lake",
        )
        stack_arg(p, "workgroup and database")
        p.add_argument("--workgroup", help="Athena workgroup (overrides the stack output)")
        p.add_argument("--database", help="Glue database (overrides the stack output)")

    serve_p = sub.add_parser("serve", help="collector + processor + dashboard in one process")
    server_args(serve_p)
    data_arg(serve_p)
    domain_arg(serve_p)
    serve_p.add_argument(
        "--dashboard-host",
        default="127.0.0.1",
        help="address of the dashboard and its API (default 127.0.0.1: this machine only; "
        "the collector's --host serves only /hello.js and /hello.gif)",
    )
    serve_p.add_argument(
        "--dashboard-port",
        type=int,
        default=None,
        help="dashboard port (default: --port + 1)",
    )
    serve_p.add_argument(
        "--trust-proxy",
        action="store_true",
        help="take the client IP from X-Forwarded-For and the country from "
        "CloudFront-Viewer-Country / CF-IPCountry",
    )
    time_zone_opt(serve_p)
    serve_p.set_defaults(func=cmd_serve)

    ingest_p = sub.add_parser(
        "ingest", help="feed CloudFront real-time log records or standard logs into the lake"
    )
    data_arg(ingest_p)
    domain_arg(ingest_p)
    ingest_p.add_argument(
        "file",
        metavar="FILE|-",
        help="real-time log records, one per line, or a standard log file (recognised by "
        "its #Version/#Fields header; .gz ok), or - for stdin",
    )
    ingest_p.add_argument("--quiet", action="store_true", help="no progress output")
    ingest_p.set_defaults(func=cmd_ingest)

    query_p = sub.add_parser("query", help="run Athena-dialect SQL on the lake and its views")
    data_arg(query_p)
    query_p.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="output (default table)"
    )
    athena_args(query_p)
    query_p.add_argument(
        "sql", metavar="SQL", help="one Athena-dialect statement, e.g. 'select * from sessions'"
    )
    query_p.set_defaults(func=cmd_query)

    demo_p = sub.add_parser("demo", help="serve with generated, realistic traffic")
    server_args(demo_p)
    demo_p.add_argument(
        "--data", default=None, help="lake directory (default: a fresh ./ownstats-demo-data)"
    )
    # Two months: the dashboard's default 30-day view is full and has a previous period.
    demo_p.add_argument("--days", type=int, default=60, help="days of history to generate")
    demo_p.add_argument(
        "--visits-per-day",
        type=int,
        default=600,
        help="generated visits per day of history, and the live traffic's pace (default 600)",
    )
    demo_p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="live visits started per second (default: the history's pace and daily rhythm)",
    )
    demo_p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    time_zone_opt(demo_p)
    demo_p.set_defaults(func=cmd_demo)

    dash_p = sub.add_parser("dashboard", help="the dashboard over a deployed stack (--athena)")
    server_args(dash_p)
    athena_args(dash_p)
    time_zone_opt(dash_p)
    dash_p.set_defaults(func=cmd_dashboard)

    replay_p = sub.add_parser(
        "replay-errors",
        help="re-send the records Firehose could not convert (the lake bucket's errors/)",
    )
    stack_arg(replay_p, "LakeBucket and DeliveryStreamName")
    replay_p.add_argument("--bucket", help="lake bucket (overrides the stack output)")
    replay_p.add_argument("--delivery-stream", help="Firehose stream (overrides the stack output)")
    replay_p.add_argument(
        "--apply",
        action="store_true",
        help="send them and move each re-sent object to errors-replayed/ (default: dry run)",
    )
    replay_p.set_defaults(func=cmd_replay_errors)

    repair_p = sub.add_parser(
        "repair",
        help="add the events the log archive holds and the lake lacks (a deployed stack)",
    )
    stack_arg(repair_p, "RepairFunction")
    repair_p.add_argument("--function", help="the repair function (overrides the stack output)")
    repair_p.add_argument("--from", dest="first", required=True, type=_day_arg,
                          help="first UTC day, YYYY-MM-DD")  # fmt: skip
    repair_p.add_argument("--to", dest="last", type=_day_arg,
                          help="last UTC day (default: --from)")  # fmt: skip
    repair_p.add_argument(
        "--apply", action="store_true", help="add the missing events (default: dry run)"
    )
    repair_p.set_defaults(func=cmd_repair)

    key_p = sub.add_parser(
        "api-key", help="create, list or revoke Stats API keys (POST /api/v2/query)"
    )
    key_sub = key_p.add_subparsers(dest="action", required=True, metavar="ACTION")
    create_p = key_sub.add_parser("create", help="make a key; it is printed once")
    create_p.add_argument("--name", default="", help="what the key is for (shown by list)")
    list_p = key_sub.add_parser("list", help="the keys (their ids, never the keys)")
    revoke_p = key_sub.add_parser("revoke", help="delete a key: it stops working at once")
    for key_action in (create_p, list_p, revoke_p):
        data_arg(key_action)
        key_action.add_argument(
            "--stack", default=None,
            help="the deployed stack's keys (its lake bucket) instead of the local ones",
        )  # fmt: skip
    revoke_p.add_argument("key_id", metavar="ID", help="the id `list` shows (or the key)")
    key_p.set_defaults(func=cmd_api_key)

    funnel_p = sub.add_parser("funnel", help="define, list or remove the dashboard's funnels")
    funnel_sub = funnel_p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_p = funnel_sub.add_parser(
        "add", help="a funnel of 2-8 steps: page paths (/pricing, /blog/*) or goal:<name>"
    )
    data_arg(add_p)
    add_p.add_argument("name", metavar="NAME")
    add_p.add_argument("steps", metavar="STEP", nargs="+")
    flist_p = funnel_sub.add_parser("list", help="the funnels and their steps")
    data_arg(flist_p)
    fremove_p = funnel_sub.add_parser("remove", help="delete a funnel")
    data_arg(fremove_p)
    fremove_p.add_argument("name", metavar="NAME")
    for funnel_action in (add_p, flist_p, fremove_p):
        funnel_action.add_argument(
            "--stack", default=None,
            help="the deployed stack's funnels (its lake bucket) instead of the local ones",
        )  # fmt: skip
    funnel_p.set_defaults(func=cmd_funnel)
    return root


def _stack_settings(stack: str) -> tuple[str, Any] | None:
    """The deployed stack's lake bucket and an S3 client: where its settings (API keys,
    funnels) live. None, said on stderr, when the stack has no lake bucket."""
    from ownstats.athena import aws_client, stack_outputs

    bucket = stack_outputs(stack).get("LakeBucket")
    if not bucket:
        print(f"error: stack {stack} has no LakeBucket output", file=sys.stderr)
        return None
    return bucket, aws_client("s3")


def cmd_funnel(args: argparse.Namespace) -> int:
    """Funnels live in ``<data>/funnels.json``; a running ``serve`` shows changes at once.
    With ``--stack``, in the stack's lake bucket: its dashboard shows them within 60 s."""
    from ownstats.dashboard.funnels import FunnelError, FunnelStore, S3FunnelStore

    store = FunnelStore(Path(args.data))
    if args.stack:
        found = _stack_settings(args.stack)
        if found is None:
            return 1
        store = S3FunnelStore(*found, refresh_s=0)
    try:
        if args.action == "add":
            funnel = store.add(args.name, list(args.steps))
            print(f"{funnel.name}: {' → '.join(funnel.steps)}")
            return 0
        if args.action == "list":
            for funnel in store.list():
                print(f"{funnel.name}: {' → '.join(funnel.steps)}")
            return 0
    except FunnelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if store.remove(args.name):
        print(f"removed {args.name}")
        return 0
    print(f"error: no funnel {args.name[:100]!r}", file=sys.stderr)
    return 1


def cmd_api_key(args: argparse.Namespace) -> int:
    """Keys live hashed in ``<data>/api-keys.json``; a running ``serve`` sees changes at
    its next request."""
    from ownstats.dashboard.api_keys import KeyStore, S3KeyStore, describe

    store = KeyStore(Path(args.data))
    if args.stack:
        found = _stack_settings(args.stack)
        if found is None:
            return 1
        store = S3KeyStore(*found, refresh_s=0)
    if args.action == "create":
        key = store.create(args.name)
        print(key)
        print("keep it now: only its hash is stored, it cannot be shown again", file=sys.stderr)
        return 0
    if args.action == "list":
        for stored in store.list():
            info = describe(stored)
            print(f"{info['id']}  {info['created']}  {info['prefix']}  {info['name']}")
        return 0
    if store.revoke(args.key_id):
        print(f"revoked {args.key_id}")
        return 0
    print(f"error: no key {args.key_id[:40]!r}", file=sys.stderr)
    return 1


def _day_arg(value: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day as YYYY-MM-DD: {value[:40]!r}") from None


def cmd_repair(args: argparse.Namespace) -> int:
    """One invocation of the stack's repair function per day (each may take minutes), so
    a long range never meets Lambda's 15-minute limit; the counts per day as they come."""
    from datetime import date, timedelta

    from ownstats.athena import aws_client, stack_outputs

    function = args.function
    if not function:
        if not args.stack:
            print("error: name the deployed stack (--stack ownstats-example-com) or pass "
                  "--function", file=sys.stderr)  # fmt: skip
            return 2
        function = stack_outputs(args.stack).get("RepairFunction")
        if not function:
            print(f"error: stack {args.stack} has no RepairFunction output: deploy this "
                  "version first (cdk deploy), or pass --function", file=sys.stderr)  # fmt: skip
            return 1
    first = date.fromisoformat(args.first)
    last = date.fromisoformat(args.last or args.first)
    if last < first:
        print("error: --to is before --from", file=sys.stderr)
        return 2
    from botocore.config import Config

    # a day may take minutes: wait as long as the function may run, and never re-invoke
    client = aws_client("lambda", config=Config(read_timeout=905, retries={"max_attempts": 0}))
    print(f"{'day':<12}{'log files':>10}{'in archive':>12}{'in lake':>10}{'missing':>10}"
          f"{'added':>10}")  # fmt: skip
    totals = {"missing": 0, "added": 0}
    failed = 0
    day = first
    while day <= last:
        payload = {"from": day.isoformat(), "to": day.isoformat(), "apply": bool(args.apply)}
        response = client.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
        body = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError") or body.get("errors"):
            failed += 1
            reason = body.get("errorMessage") or "; ".join(body.get("errors", []))
            print(f"{day.isoformat():<12} failed: {str(reason)[:200]}")
        for report in body.get("repairs", []):
            totals["missing"] += report["missing"]
            totals["added"] += report["added"]
            counts = ("log_files", "in_archive", "in_lake", "missing", "added")
            widths = (10, 12, 10, 10, 10)
            cells = "".join(f"{report[k]:>{w},}" for k, w in zip(counts, widths, strict=True))
            print(f"{report['day']:<12}{cells}")
            for key in report.get("damaged", []):
                print(f"{'':<12}unreadable archive file (the lines before the damage were "
                      f"used): {key}")  # fmt: skip
        day += timedelta(days=1)
    if not args.apply and totals["missing"]:
        print(f"dry run: {totals['missing']:,} events would be added; run again with --apply")
    return 1 if failed else 0


def cmd_replay_errors(args: argparse.Namespace) -> int:
    from ownstats.athena import aws_client, stack_outputs
    from ownstats.replay import replay
    from stream_processor.sinks import FirehoseSink

    bucket, stream = args.bucket, args.delivery_stream
    if not (bucket and stream):
        if not args.stack:
            print(
                "error: name the deployed stack (--stack ownstats-example-com) or pass "
                "--bucket and --delivery-stream",
                file=sys.stderr,
            )
            return 2
        outputs = stack_outputs(args.stack)
        bucket = bucket or outputs.get("LakeBucket")
        stream = stream or outputs.get("DeliveryStreamName")
        if not (bucket and stream):
            print(
                f"error: stack {args.stack} has no LakeBucket/DeliveryStreamName outputs: "
                "deploy this version first (cdk deploy), or pass --bucket and --delivery-stream",
                file=sys.stderr,
            )
            return 1
    sink = FirehoseSink(aws_client("firehose"), stream) if args.apply else None
    report = replay(aws_client("s3"), bucket, sink)
    print(
        f"error objects: {report.objects:,}  records: {report.records:,}  "
        f"events: {report.events:,}  unreadable records: {report.unreadable:,}"
    )
    for name, count in sorted(report.by_type.items()):
        print(f"  {name:<28} {count:>9,} records")
    for code, count in report.by_code.most_common(5):
        print(f"  ErrorCode {code:<18} {count:>9,}")
    if not args.apply:
        if report.events:
            print(
                f"dry run: {report.events:,} events would be sent to {stream}. Fix the cause "
                "first (the ErrorMessage in the objects; a schema change is the usual one), "
                "then run again with --apply"
            )
        return 0
    print(f"sent: {report.sent:,}  failed: {report.failed:,}  objects moved: {report.moved:,}")
    if report.failed:
        print(
            "error: some events were refused again; their objects stay under errors/ "
            "(see the Firehose log group and the objects' ErrorMessage)",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # the processor's per-batch INFO lines are for CloudWatch; locally the summaries say it
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    # from where it is defined, not from ownstats.engine: ``ingest`` never pays for
    # duckdb and sqlglot (~0.25 s of start-up) just to be able to name this error
    from ownstats.results import QueryError

    try:
        return int(args.func(args) or 0)
    except QueryError as error:  # e.g. a stack that cannot be read, before any query
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ownstats query … | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
