"""Counting visitors without tracking them (docs/PROTOCOL.md, privacy).

visitor_id = hex(BLAKE2b-64 keyed with the salt of the UTC day, over
domain ‖ ip ‖ user agent). A salt is 32 random bytes per day, created once (atomically,
so concurrent processors agree) and destroyed within 48 hours; after that nobody can
link a visitor_id to a person or to another day. Salts never reach the lake or logs.
Stores are injected: SSM Parameter Store in AWS, files locally, a dict in tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

SALT_BYTES = 32
SALT_LIFETIME_S = 48 * 3600


def visitor_id(salt: bytes, domain: str, ip: str, user_agent: str) -> str:
    """The 64-bit keyed hash, hex: 16 characters."""
    data = f"{domain}\x00{ip}\x00{user_agent}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, key=salt, digest_size=8).hexdigest()


class SaltStore(Protocol):
    def salt_for(self, day: str) -> bytes:
        """The salt of ``day`` (YYYY-MM-DD, UTC), created if it does not exist yet."""
        ...


class SaltUnavailable(Exception):
    """The salt store did not answer (throttled, unreachable, disk full, no file handles).

    An environment failure, not bad input: the records it stops are reported back for
    a retry (Kinesis batchItemFailures, the local pump), never dropped.
    """


class CachedSalts:
    """Per-container cache in front of a store: one store call per day per container.

    A cached salt is forgotten when the store would have destroyed it (48 hours after
    its day began, or an hour after it was fetched for a day already that old), so
    memory never holds a salt longer than the store does. Within that hour a backfill
    keeps using it: an ingest of weeks of old, interleaved records counts each visitor
    once per day, although every such salt file is deleted as soon as it is made. Any
    failure of the store becomes ``SaltUnavailable``, the one exception the processor
    retries instead of dropping.
    """

    MAX_DAYS = 64  # today, yesterday, and a backfill of two months (32 bytes each)

    def __init__(self, store: SaltStore, clock: Any = time.time) -> None:
        self.store = store
        self.clock = clock
        self._cache: dict[str, tuple[bytes, float]] = {}

    def salt_for(self, day: str) -> bytes:
        cached = self._cache.get(day)
        now = self.clock()
        if cached is not None and now < cached[1]:
            return cached[0]
        try:
            salt = self.store.salt_for(day)
        except Exception as error:
            raise SaltUnavailable(f"salt store: {type(error).__name__}") from error
        self._cache = {d: c for d, c in self._cache.items() if now < c[1]}
        while len(self._cache) >= self.MAX_DAYS:
            del self._cache[min(self._cache, key=lambda d: self._cache[d][1])]
        self._cache[day] = (salt, max(day_start(day) + SALT_LIFETIME_S, now + 3600))
        return salt


def day_start(day: str) -> float:
    """Epoch seconds of ``day``'s UTC midnight."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


class MemorySaltStore:
    """Tests and benchmarks: salts live as long as the object."""

    def __init__(self) -> None:
        self.salts: dict[str, bytes] = {}

    def salt_for(self, day: str) -> bytes:
        return self.salts.setdefault(day, secrets.token_bytes(SALT_BYTES))


class FileSaltStore:
    """Local mode: one file per day under ``directory``, created atomically.

    A salt is written to a temporary file and hard-linked into place: ``link`` fails
    if another process won the race, and then its salt is read instead. Salts whose
    day began more than 48 hours ago are deleted when the store opens, whenever a new
    day's salt is made, and at least every ten minutes while salts are asked for; a
    stopped installation deletes them on its next start.
    """

    PURGE_EVERY_S = 600

    def __init__(self, directory: Path | str, clock: Any = time.time) -> None:
        self.directory = Path(directory)
        self.clock = clock
        self._purged_at = self.clock()
        if self.directory.is_dir():
            self.purge()

    def salt_for(self, day: str) -> bytes:
        if self.clock() - self._purged_at > self.PURGE_EVERY_S:
            self.purge()
        path = self.directory / f"{day}.salt"
        try:
            return bytes.fromhex(path.read_text())
        except FileNotFoundError:
            pass
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".salt-")
        try:
            os.write(fd, secrets.token_bytes(SALT_BYTES).hex().encode())
            os.close(fd)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
        salt = bytes.fromhex(path.read_text())
        self.purge()  # may delete this very salt at once when its day is long gone (backfill)
        return salt

    def purge(self) -> None:
        """Delete salts whose day began more than 48 hours ago."""
        now = self._purged_at = self.clock()
        for path in self.directory.glob("*.salt"):
            try:
                day = date.fromisoformat(path.stem)
            except ValueError:
                continue
            if now - day_start(day.isoformat()) > SALT_LIFETIME_S:
                path.unlink(missing_ok=True)


class SsmSaltStore:
    """AWS: one SecureString parameter per day, deleted by SSM itself after 48 hours.

    ``put_parameter(Overwrite=False)`` is the atomic create-if-absent: the loser of a
    race gets ParameterAlreadyExists and reads the winner's salt. An Expiration
    parameter policy (Advanced tier) makes SSM delete the salt 48 hours after its day
    began, so no scheduled job is needed.
    """

    def __init__(self, client: Any, prefix: str, clock: Any = time.time) -> None:
        self.client = client
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.clock = clock

    def _get(self, name: str) -> bytes:
        response = self.client.get_parameter(Name=name, WithDecryption=True)
        return bytes.fromhex(response["Parameter"]["Value"])

    def salt_for(self, day: str) -> bytes:
        name = self.prefix + day
        try:
            return self._get(name)
        except self.client.exceptions.ParameterNotFound:
            pass
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        # never in the past: a late or replayed event for an old day gets a fresh salt
        expires = max(
            start + timedelta(seconds=SALT_LIFETIME_S),
            datetime.fromtimestamp(self.clock(), UTC) + timedelta(hours=1),
        )
        # a concurrent invocation may create it first: ParameterAlreadyExists, use theirs
        with contextlib.suppress(self.client.exceptions.ParameterAlreadyExists):
            self.client.put_parameter(
                Name=name,
                Description="ownstats visitor-hash salt; deleted by its expiration policy",
                Value=secrets.token_bytes(SALT_BYTES).hex(),
                Type="SecureString",
                Tier="Advanced",
                Overwrite=False,
                Policies=json.dumps(
                    [
                        {
                            "Type": "Expiration",
                            "Version": "1.0",
                            "Attributes": {"Timestamp": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z")},
                        }
                    ]
                ),
            )
        return self._get(name)
