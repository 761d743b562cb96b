"""The stream processor's pipeline: parse → validate → drop bots → enrich → deliver.

Each step is a small function named in ``STEPS``; a step returns None to pass the hit
on or a ``(Reason, detail)`` drop to stop it. The runner counts drops per reason and
hands accepted events to the injected sink in one batch. Side effects (sink, salt
store) are injected, so the Lambda, local mode and the tests run the same code.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from . import beacon as beacon_mod
from . import geo, sources
from .beacon import MAX_SHORT, MAX_URL, Beacon, BeaconError, bounded, bounded_int, clean_path
from .logline import (
    I_COUNTRY,
    I_EDGE,
    I_IP,
    I_METHOD,
    I_QUERY,
    I_REQUEST_ID,
    I_STATUS,
    I_STEM,
    I_TIMESTAMP,
    I_USER_AGENT,
    parse_timestamp_ms,
    request_path,
    request_query,
    split_line,
)
from .masks import PathMasks
from .reasons import Reason, Rejections
from .sinks import Event, Sink
from .sites import Sites, ascii_host, normalize_domain
from .text import storable_event
from .useragent import MAX_BYTES as MAX_AGENT_BYTES
from .useragent import MAX_LENGTH as MAX_AGENT_LENGTH
from .useragent import AgentInfo, classify, head
from .visitor import CachedSalts, SaltStore, SaltUnavailable, visitor_id

log = logging.getLogger(__name__)

BEACON_PATH = "/hello.gif"
MAX_CLOCK_SKEW_S = 600
KNOWN_PATHS = frozenset({"/hello.gif", "/hello.js", "/", "/favicon.ico", "/robots.txt"})
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
Drop = tuple[Reason, str]
#: the edge fields of an event whose x-edge-location is empty
NO_EDGE = (None, None, None, None, None)


@dataclass(slots=True)
class Hit:
    """One log record on its way through the steps."""

    line: str
    values: list[str] = field(default_factory=list)
    time_ms: int = 0
    beacon: Beacon | None = None
    domain: str = ""  # the site the page is counted under (domain_name)
    site: str = ""  # the allow-list entry the page belongs to
    hostname: str = ""  # the page's host, punycode
    user_agent: str = ""
    agent: AgentInfo | None = None
    event: Event = field(default_factory=dict)


class Steps:
    """The named steps, bound to one deployment's allow-list and salts."""

    def __init__(
        self, domains: Iterable[str], salts: SaltStore, mask_paths: Iterable[str] = ()
    ) -> None:
        self.sites = Sites(domains)
        self.domains = self.sites.domains
        self.masks = PathMasks(mask_paths)
        #: the masks' cached ``apply``, None without masks: tested per event
        self.mask_path = self.masks.apply if self.masks else None
        self.salts = CachedSalts(salts)
        #: the latest event time accepted (epoch ms); the processor moves it per batch
        self.horizon_ms = 0

    # -- parse ---------------------------------------------------------------
    def parse(self, hit: Hit) -> Drop | None:
        values = split_line(hit.line)
        if values is None:
            return Reason.MALFORMED, "record has fewer fields than the real-time log config"
        time_ms = parse_timestamp_ms(values[I_TIMESTAMP])
        if time_ms is None:
            # never the value: a shifted record can put an IP in this field
            return Reason.MALFORMED, "bad timestamp (not epoch seconds from 2000 to 2100)"
        if time_ms > self.horizon_ms:
            # a clock or a forged line from the future would count as "current" for years
            return Reason.MALFORMED, "timestamp more than 10 minutes in the future"
        hit.values, hit.time_ms = values, time_ms
        return None

    # -- validate ------------------------------------------------------------
    @staticmethod
    def drop_not_beacon(hit: Hit) -> Drop | None:
        method, path = hit.values[I_METHOD], request_path(hit.values[I_STEM])
        if method != "GET" or path != BEACON_PATH:
            # a path can carry anything: name it only when it is a known, harmless one
            shown = path if path in KNOWN_PATHS else "another path"
            return Reason.NOT_BEACON, f"{method[:10] if method in KNOWN_METHODS else '?'} {shown}"
        status = hit.values[I_STATUS]
        if status[:1] not in ("2", "3"):
            # CloudFront refused or failed the request (403 over plain HTTP, 5xx …): no view
            return Reason.NOT_BEACON, f"response status {status[:3] if status.isdigit() else '?'}"
        return None

    @staticmethod
    def decode_beacon(hit: Hit) -> Drop | None:
        try:
            query = request_query(hit.values[I_STEM], hit.values[I_QUERY])
            hit.beacon = beacon_mod.decode(query)
        except BeaconError as error:
            return error.reason, error.detail
        return None

    def drop_foreign_domain(self, hit: Hit) -> Drop | None:
        assert hit.beacon is not None
        host = ascii_host(hit.beacon.hostname)
        if host is None:
            # never echoed: it could hold markup or anything else a request sends
            return Reason.MALFORMED, "page host is not a valid host name"
        domain = hit.hostname = normalize_domain(host)
        site = self.sites.match(domain)
        if site is None:
            return Reason.FOREIGN_DOMAIN, f"hostname {domain[:100]} is not on the allow-list"
        # a subdomain nobody listed counts under its site: it adds no site of its own
        hit.domain = hit.site = site
        return None

    @staticmethod
    def drop_bot(hit: Hit) -> Drop | None:
        hit.user_agent, hit.agent = agent_of(hit.values[I_USER_AGENT])
        if hit.agent is None:
            return Reason.BOT, "crawler, automation or HTTP client user agent"
        return None

    # -- enrich --------------------------------------------------------------
    def put_event(self, hit: Hit) -> Drop | None:
        b, values, agent = hit.beacon, hit.values, hit.agent
        assert b is not None and agent is not None
        get = b.params.get
        referrer_url, referrer_domain = referrer_parts(b.referrer, hit.site)
        utm_source, utm_medium = bounded(get("us")), bounded(get("um"))
        utm_campaign = bounded(get("uc"))
        source, category = sources.source_of(utm_source, bounded(get("s")), referrer_domain)
        timezone = bounded(get("tz"), 64)
        # one unpacking, not five "… if edge else None" (this step runs on every event)
        location, city, country, latitude, longitude = geo.edge(values[I_EDGE][:32]) or NO_EDGE
        event_date = utc_day(hit.time_ms)
        hit.event = {
            "event_id": event_id_of(values[I_REQUEST_ID]),
            "event_time": hit.time_ms,
            "event_type": b.event_type,
            "event_name": b.event_name,
            "props": b.props,
            "domain_name": hit.domain,
            "page_path": self.mask_path(b.path) if self.mask_path else b.path,
            "page_id": bounded(get("id"), 64),
            "referrer_url": referrer_url,
            "referrer_domain": referrer_domain,
            "source": source[:MAX_SHORT],
            "channel": sources.channel_of(source, category, utm_medium, utm_campaign),
            "utm_source": utm_source,
            "utm_medium": utm_medium,
            "utm_campaign": utm_campaign,
            "utm_term": bounded(get("ut")),
            "utm_content": bounded(get("un")),
            "browser_name": agent.browser_name,
            "browser_version": agent.browser_version,
            "os_name": agent.os_name,
            "os_version": agent.os_version,
            "device_type": agent.device_type,
            "screen_width": bounded_int(get("sw"), beacon_mod.MAX_DIMENSION),
            "screen_height": bounded_int(get("sh"), beacon_mod.MAX_DIMENSION),
            "viewport_width": bounded_int(get("w"), beacon_mod.MAX_DIMENSION),
            "language": bounded(get("l"), 35),
            "timezone": timezone,
            "country_code": geo.country_code(values[I_COUNTRY], timezone),
            "edge_location": location,
            "edge_city": city,
            "edge_country": country,
            "edge_latitude": latitude,
            "edge_longitude": longitude,
            "visitor_id": None,
            "engagement_ms": bounded_int(get("e"), beacon_mod.MAX_ENGAGEMENT_MS),
            "scroll_depth": bounded_int(get("sd"), 100),
            "hostname": hit.hostname[:MAX_SHORT],
            "event_date": event_date,
        }
        return None

    @staticmethod
    def put_storable_text(hit: Hit) -> Drop | None:
        # one lone surrogate or NUL from a props escape must not fail the whole batch
        storable_event(hit.event)
        return None

    def put_visitor_id(self, hit: Hit) -> Drop | None:
        salt = self.salts.salt_for(hit.event["event_date"])
        # the IP and the full user agent end their journey here
        hit.event["visitor_id"] = visitor_id(salt, hit.domain, hit.values[I_IP], hit.user_agent)
        return None

    def named(self) -> tuple[tuple[str, Callable[[Hit], Drop | None]], ...]:
        return (
            ("parse", self.parse),
            ("drop_not_beacon", self.drop_not_beacon),
            # bots before decoding: most unwanted traffic is bots, and the verdict is
            # cached per user agent while every beacon query is new
            ("drop_bot", self.drop_bot),
            ("decode_beacon", self.decode_beacon),
            ("drop_foreign_domain", self.drop_foreign_domain),
            ("put_event", self.put_event),
            ("put_storable_text", self.put_storable_text),
            ("put_visitor_id", self.put_visitor_id),
        )


def event_id_of(request_id: str) -> str:
    """The dedupe key: a stable 64-bit hash of x-edge-request-id, 16 hex characters.

    The raw id is ~56 random base64 characters (~42 bytes of entropy no Parquet
    encoding can shrink); 64 bits dedupe just as well (a billion events in one day give
    0.03 expected colliding pairs, each costing one event) at a third of the bytes.
    """
    return hashlib.blake2b(request_id.encode(), digest_size=8).hexdigest()


@lru_cache(maxsize=64)
def _day_of(day_start_ms: int) -> str:
    return datetime.fromtimestamp(day_start_ms // 1000, UTC).date().isoformat()


def utc_day(time_ms: int) -> str:
    """``YYYY-MM-DD`` of an epoch-ms instant, cached on the day's start."""
    return _day_of(time_ms - time_ms % 86_400_000)


@lru_cache(maxsize=8192)
def agent_of(raw: str) -> tuple[str, AgentInfo | None]:
    """The URL-decoded user agent as the verdict reads it (``useragent.head``: at most
    ``MAX_AGENT_LENGTH`` characters, also for the visitor id) and what it is (None: a
    bot), cached per raw string."""
    escapes = raw.count("%")
    if (
        len(raw) - 3 * escapes + escapes // 4 > MAX_AGENT_LENGTH
        and len(raw) - 2 * escapes > MAX_AGENT_BYTES
    ):
        # decoded it would still be too long (``useragent.too_long``), so a bot for
        # classify() anyway: a cheap verdict before decoding kilobytes. The bounds are the
        # fewest characters and bytes the text can decode to: an escape is one byte, and
        # UTF-8 takes at most 4 bytes a character. Either bound keeps what is decoded
        # bounded: at most 12 raw characters a character, 3 a byte
        return raw, None
    user_agent = unquote(raw) if "%" in raw else raw
    return head(user_agent), classify(user_agent)


@lru_cache(maxsize=16384)
def referrer_parts(raw: str, site: str) -> tuple[str | None, str | None]:
    """(origin + path, host) of a referrer; (None, None) when absent or same site."""
    if not raw:
        return None, None
    try:
        parts = urlsplit(raw)
        host = parts.hostname
    except ValueError:
        return None, None
    if not host:
        return None, None
    host = normalize_domain(host)
    if host == site or host.endswith("." + site):
        return None, None
    path = clean_path(parts.path)
    url = f"{parts.scheme}://{host}{path}" if parts.scheme else host + path
    return url[:MAX_URL], host[:MAX_SHORT]


@dataclass
class BatchResult:
    """What happened to one batch: the numbers behind metrics and the ingest summary.

    Every record in is counted exactly once: ``accepted``, a rejection, or ``failed``
    (``delivery_failures`` events the sink could not take plus ``unavailable`` records
    not processed because the salt store failed); failed ones are named by
    ``failed_ids`` for a retry.
    """

    records_in: int = 0
    accepted: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    rejections: Rejections = field(default_factory=Rejections)
    failed_ids: list[Hashable] = field(default_factory=list)
    delivery_failures: int = 0
    unavailable: int = 0

    @property
    def failed(self) -> int:
        """Records reported back for a retry, whatever failed."""
        return self.delivery_failures + self.unavailable

    def merge(self, other: BatchResult) -> None:
        self.records_in += other.records_in
        self.accepted += other.accepted
        self.by_type.update(other.by_type)
        self.rejections.update(other.rejections)
        for reason, example in other.rejections.examples.items():
            self.rejections.examples.setdefault(reason, example)
        self.failed_ids.extend(other.failed_ids)
        self.delivery_failures += other.delivery_failures
        self.unavailable += other.unavailable


class Processor:
    """Runs the steps over a batch of (item id, log line) pairs and delivers the events.

    Reusable across warm invocations: per-batch state lives in ``process`` only.
    """

    def __init__(
        self,
        *,
        domains: Iterable[str],
        sink: Sink,
        salts: SaltStore,
        clock: Callable[[], float] = time.time,
        mask_paths: Iterable[str] = (),
    ) -> None:
        self.steps = Steps(domains, salts, mask_paths)
        self.named_steps = self.steps.named()
        self.sink = sink
        self.clock = clock
        self.steps.horizon_ms = self.horizon_ms()

    def horizon_ms(self) -> int:
        """Events later than this are from a wrong clock: now plus ten minutes of skew."""
        return int((self.clock() + MAX_CLOCK_SKEW_S) * 1000)

    def run(self, line: str) -> Event | Drop:
        """One line through every step: the event, or the drop that stopped it."""
        hit = Hit(line)
        for _name, step in self.named_steps:
            drop = step(hit)
            if drop is not None:
                return drop
        return hit.event

    def process(self, items: Iterable[tuple[Hashable, str]]) -> BatchResult:
        self.steps.horizon_ms = self.horizon_ms()
        result = BatchResult()
        events: list[Event] = []
        owners: list[Hashable] = []
        seen: set[str] = set()
        failed: dict[Hashable, None] = {}  # ordered set of item ids to report back
        errors: Counter[str] = Counter()  # processing errors by exception type
        for item_id, line in items:
            result.records_in += 1
            if failed:
                # retries resume from the lowest failed record: processing the rest now
                # would only deliver it twice
                result.unavailable += 1
                failed.setdefault(item_id, None)
                continue
            try:
                outcome = self.run(line)
            except SaltUnavailable as error:  # the environment, not the input: retry
                log.warning("reporting records back for retry: %s", error)
                result.unavailable += 1
                failed.setdefault(item_id, None)
                continue
            except Exception as error:  # a bug must never take the batch down with it
                # hostile input can reach a bug on every record: one short line per batch
                # below, the traceback only at DEBUG (Lambda logs are billed per byte)
                log.debug("step failed on a record", exc_info=True)
                errors[type(error).__name__] += 1
                result.rejections.add(Reason.MALFORMED, f"processing error {type(error).__name__}")
                continue
            if isinstance(outcome, tuple):
                result.rejections.add(*outcome)
                continue
            if outcome["event_id"] and outcome["event_id"] in seen:
                result.rejections.add(Reason.DUPLICATE, "x-edge-request-id seen twice in a batch")
                continue
            seen.add(outcome["event_id"])
            events.append(outcome)
            owners.append(item_id)
        if errors:
            log.error(
                "processing error on %d records (counted as malformed): %s",
                sum(errors.values()),
                dict(errors),
            )
        if events:
            self._deliver(events, owners, result, failed)
        result.failed_ids = list(failed)
        if result.rejections:
            log.info(
                "rejected %d of %d records",
                sum(result.rejections.values()),
                result.records_in,
                extra={
                    "rejected": result.rejections.as_dict(),
                    "examples": {k.value: v for k, v in result.rejections.examples.items()},
                },
            )
        return result

    def _deliver(
        self,
        events: list[Event],
        owners: list[Hashable],
        result: BatchResult,
        failed: dict[Hashable, None],
    ) -> None:
        try:
            undelivered = self.sink.put(events)
        except Exception:
            log.exception("sink raised; reporting the whole batch back for retry")
            undelivered = list(range(len(events)))
        undelivered_set = set(undelivered)
        result.delivery_failures = len(undelivered_set)
        result.accepted = len(events) - len(undelivered_set)
        for i, event in enumerate(events):
            if i not in undelivered_set:
                result.by_type[event["event_type"]] += 1
        for i in sorted(undelivered_set):
            failed.setdefault(owners[i], None)
