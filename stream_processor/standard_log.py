"""CloudFront standard (access) log files, read as real-time log records.

Standard logs are what CloudFront writes to S3 (gzip files, W3C extended format, a
``#Version: 1.0`` and a ``#Fields: …`` header line). Turning each of their lines into
the real-time record the processor already reads, instead of teaching the processor a
second format, keeps one parser and one set of rules: the same request gives the same
event from either log (tests/processor/test_standard_log.py), except for what a
standard log does not have (docs/PROTOCOL.md, "Standard logs"):

- ``date`` + ``time`` are UTC to the second: the timestamp is written ``<epoch>.000``;
- there is no ``c-country`` and no ``asn``: both are ``-`` (the country then comes from
  the beacon's time zone, as for any record without one).

What the CloudFront developer guide says, and why the values are copied unchanged
(AccessLogs.md, "Standard log file format" and "Standard log file fields"):

- columns are tab-separated, named by the ``#Fields`` line, ``-`` for an empty value.
  Columns are mapped by those names, never by position: a distribution's files from
  2014 have 24 fields, today's 33, and a file with another list still reads.
- every value is URL-encoded the same way as in real-time records (ASCII 0-32, 127
  and above, and ``< > " # % { } | \\ ^ ~ [ ] ` '`` become ``%XX``), so the user agent,
  referer and query are copied byte for byte. A line holding any other character
  (a raw byte above 126, a control character) was not written by CloudFront.
- ``cs-uri-stem`` is the path only and ``cs-uri-query`` the query (``-`` for none):
  "Question marks (?) in URLs and query strings are not included in the log". A
  real-time ``cs-uri-stem`` is the whole target, so the record's stem is
  ``path + "?" + query``; both halves carry the same encoding, and ``?`` is never
  encoded, so that equals the real-time value.

One historical exception is undone: until about 2019 the guide listed ``%2520``,
``%2522`` and ``%255C`` as the encoding of space, ``"`` and ``\\`` (changed to ``%20``
``%22`` ``%5C`` in January 2020), and real files of that time show user agents such
as ``Mozilla/5.0%2520(Macintosh;%2520…``. ``legacy_user_agent`` turns those back into
today's form, so backfilled old logs classify browsers as real-time records do.

A line that cannot be converted raises ``MalformedLine`` from ``StandardLogReader.read``
(``records`` yields it instead): the caller counts it and goes on with the next line.
Its ``reason`` never holds a value from the line (no IP, user agent or query).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from .fields import EMPTY, FIELD_INDEX, REALTIME_LOG_FIELDS

VERSION_DIRECTIVE = "#Version:"
FIELDS_DIRECTIVE = "#Fields:"

#: the documented field list of a standard log file, in CloudFront's order. The reader
#: never assumes it (it maps by the file's own ``#Fields`` line); fixtures and tests
#: write files with it.
STANDARD_LOG_FIELDS: tuple[str, ...] = (
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
)

#: the real-time field each standard-log field is copied into, unchanged
COPIED: dict[str, str] = {
    "c-ip": "c-ip",
    "sc-status": "sc-status",
    "cs-method": "cs-method",
    "x-edge-location": "x-edge-location",
    "x-edge-request-id": "x-edge-request-id",
    "x-host-header": "x-host-header",
    "cs-user-agent": "cs(User-Agent)",
    "cs-referer": "cs(Referer)",
    "cs-uri-query": "cs-uri-query",
    "x-edge-result-type": "x-edge-result-type",
}

#: fields without which no event can be made: the time, the request and its beacon,
#: the visitor hash's IP and user agent, the dedupe key. A header lacking one makes
#: every line under it malformed. The others become "-" when absent.
REQUIRED: tuple[str, ...] = (
    "date",
    "time",
    "c-ip",
    "cs-method",
    "cs-uri-stem",
    "sc-status",
    "cs(User-Agent)",
    "cs-uri-query",
    "x-edge-request-id",
)

#: CloudFront refuses URLs over 8,192 bytes and headers over 20 KB in all, and at most
#: triples them by encoding: no line it writes comes near this. Longer is corrupt.
MAX_LINE_CHARS = 128 * 1024

#: anything but tab and printable ASCII: CloudFront writes all of it URL-encoded
_UNENCODED = re.compile(r"[^\t\x20-\x7e]")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})")
_EPOCH_DAY = datetime.date(1970, 1, 1).toordinal()


class MalformedLine(ValueError):
    """A standard-log line that gives no record; ``reason`` is safe to log and show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Columns:
    """Where each value sits in the lines under one ``#Fields`` header."""

    count: int
    date: int
    time: int
    stem: int
    query: int
    #: per real-time field, the column copied into it; None for ``-``
    sources: tuple[int | None, ...]
    #: required fields the header lacks (every line under it is malformed)
    missing: tuple[str, ...]


def _columns(names: list[str]) -> _Columns:
    # W3C names are case-insensitive in practice; CloudFront writes cs(User-Agent)
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name.lower(), i)

    def at(name: str) -> int:
        return index.get(name.lower(), -1)

    missing = tuple(name for name in REQUIRED if at(name) < 0)
    found = {field: at(name) for field, name in COPIED.items()}
    sources = tuple(
        found[field] if found.get(field, -1) >= 0 else None for field in REALTIME_LOG_FIELDS
    )
    return _Columns(
        count=len(names),
        date=at("date"),
        time=at("time"),
        stem=at("cs-uri-stem"),
        query=at("cs-uri-query"),
        sources=sources,
        missing=missing,
    )


@lru_cache(maxsize=1024)
def _day_start(date: str) -> int | None:
    """Epoch seconds of ``YYYY-MM-DD`` 00:00 UTC; None for anything else."""
    match = _DATE.fullmatch(date)
    if match is None:
        return None
    try:
        day = datetime.date(*(int(part) for part in match.groups()))
    except ValueError:  # month 13, 30 February, year 0
        return None
    return (day.toordinal() - _EPOCH_DAY) * 86_400


def timestamp_of(date: str, time: str) -> str | None:
    """The real-time ``timestamp`` (``epoch.000``) of a standard log's UTC date and
    time; None when either is not a valid ``YYYY-MM-DD`` / ``HH:MM:SS``."""
    day = _day_start(date)
    match = _TIME.fullmatch(time)
    if day is None or match is None:
        return None
    hours, minutes, seconds = (int(part) for part in match.groups())
    if hours > 23 or minutes > 59 or seconds > 60:  # 60: a leap second
        return None
    return f"{day + hours * 3600 + minutes * 60 + seconds}.000"


def legacy_user_agent(value: str) -> str:
    """``value`` in today's encoding when it has the pre-2020 double-encoded form.

    Then the guide listed space, ``"`` and ``\\`` as ``%2520`` ``%2522`` ``%255C``: a
    user agent with ``%2520`` and no ``%20`` (browsers' have spaces) is such a one.
    Only those three escapes are undone; everything else was encoded as it is today.
    """
    if "%2520" not in value or "%20" in value:
        return value
    return value.replace("%2520", "%20").replace("%2522", "%22").replace("%255C", "%5C")


def is_standard_log(first_line: str | bytes) -> bool:
    """Whether a file whose first non-empty line is this one is a standard log.

    A real-time record starts with its epoch timestamp, a note in a file of records
    with ``#`` and any other text; a standard log with its ``#Version`` (or, cut from
    a longer file, ``#Fields``) directive.
    """
    if isinstance(first_line, bytes):
        first_line = first_line.decode("utf-8", "replace")
    line = first_line.lstrip("\ufeff")
    return line.startswith((VERSION_DIRECTIVE, FIELDS_DIRECTIVE))


class StandardLogReader:
    """Standard-log lines in, real-time record lines out, one file (or several
    concatenated files: every ``#Fields`` line re-maps the lines after it)."""

    def __init__(self) -> None:
        self._columns: _Columns | None = None
        #: the latest ``#Fields`` header's names (None before one)
        self.fields: tuple[str, ...] | None = None
        #: ``#`` lines read (headers included): notes, never records
        self.comments = 0
        #: the ``#Version`` of the latest header, "" before one
        self.version = ""

    def read(self, line: str | bytes) -> str | None:
        """The real-time record line for a data line; None for a header, another ``#``
        line or a blank one. Raises ``MalformedLine`` for a line that gives no record."""
        if len(line) > MAX_LINE_CHARS:
            raise MalformedLine("longer than any line CloudFront writes")
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedLine("not UTF-8 text") from None
        line = line.rstrip("\r\n")
        if line.startswith("\ufeff"):
            line = line[1:]
        if line.startswith("#"):
            self._directive(line)
            return None
        if not line.strip():
            return None
        columns = self._columns
        if columns is None:
            raise MalformedLine("no #Fields header before it")
        if columns.missing:
            raise MalformedLine(f"its #Fields header has no {', '.join(columns.missing)}")
        if _UNENCODED.search(line):
            raise MalformedLine("holds characters CloudFront writes URL-encoded")
        values = line.split("\t")
        if len(values) != columns.count:
            if len(values) < columns.count:
                raise MalformedLine("fewer columns than its #Fields header names")
            if any(values[columns.count :]):  # trailing tabs alone are harmless
                raise MalformedLine("more columns than its #Fields header names")
        timestamp = timestamp_of(values[columns.date], values[columns.time])
        if timestamp is None:
            raise MalformedLine("date or time is not YYYY-MM-DD HH:MM:SS")
        return self._record(values, columns, timestamp)

    def records(self, lines: Iterable[str | bytes]) -> Iterator[str | MalformedLine]:
        """Each data line's record, or the ``MalformedLine`` it raised (not raised
        here, so one bad line never stops a file); headers and blank lines give nothing."""
        for line in lines:
            try:
                record = self.read(line)
            except MalformedLine as bad:
                yield bad
                continue
            if record is not None:
                yield record

    def _directive(self, line: str) -> None:
        self.comments += 1
        if line.startswith(FIELDS_DIRECTIVE):
            names = line[len(FIELDS_DIRECTIVE) :].split()
            self.fields = tuple(names)
            self._columns = _columns(names)
        elif line.startswith(VERSION_DIRECTIVE):
            self.version = line[len(VERSION_DIRECTIVE) :].strip()

    @staticmethod
    def _record(values: list[str], columns: _Columns, timestamp: str) -> str:
        out = [(values[i] or EMPTY) if i is not None else EMPTY for i in columns.sources]
        out[_TIMESTAMP] = timestamp
        path, query = values[columns.stem] or EMPTY, values[columns.query]
        out[_STEM] = f"{path}?{query}" if query and query != EMPTY else path
        out[_USER_AGENT] = legacy_user_agent(out[_USER_AGENT])
        return "\t".join(out)


_TIMESTAMP = FIELD_INDEX["timestamp"]
_STEM = FIELD_INDEX["cs-uri-stem"]
_USER_AGENT = FIELD_INDEX["cs-user-agent"]


def standard_line(record: dict[str, str], fields: Iterable[str] = STANDARD_LOG_FIELDS) -> str:
    """A standard-log data line with ``fields`` from ``record`` (values as CloudFront
    logs them, ``-`` for those missing): what tests and fixtures write files with."""
    return "\t".join(record.get(name) or EMPTY for name in fields)


def header(fields: Iterable[str] = STANDARD_LOG_FIELDS) -> list[str]:
    """The two header lines of a standard log file with ``fields``."""
    return [f"{VERSION_DIRECTIVE} 1.0", f"{FIELDS_DIRECTIVE} {' '.join(fields)}"]
