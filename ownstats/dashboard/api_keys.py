"""Stats API keys: created by the owner, stored hashed, checked per request, rate-limited.

Why hashed: the key file sits beside the lake; whoever reads it must not get a working
key. A key is 32 random bytes, so a plain SHA-256 is enough (nothing to brute-force,
unlike a password), and ``hmac.compare_digest`` keeps the check constant-time. Only the
first characters (``ownstats_<id>``) are ever shown again, to tell keys apart; the key
itself is printed once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PREFIX = "ownstats_"
#: requests per key and hour (Plausible's default for its Stats API v2)
HOURLY_LIMIT = 600
_FILE = "api-keys.json"


@dataclass(frozen=True)
class StoredKey:
    id: str
    name: str
    digest: str
    created: str


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class KeyStore:
    """The keys of one installation, in ``<data>/api-keys.json`` (owner-readable only)."""

    def __init__(self, data_dir: Path, hourly_limit: int = HOURLY_LIMIT) -> None:
        self.path = Path(data_dir) / _FILE
        self.hourly_limit = hourly_limit
        self._lock = threading.Lock()
        self._loaded: tuple[float, dict[str, StoredKey]] = (-1.0, {})
        #: key id → (window start, requests in it)
        self._used: dict[str, tuple[float, int]] = {}

    # -- the file ------------------------------------------------------------------------

    def _read(self) -> dict[str, StoredKey]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self._loaded[0]:  # another process (the CLI) changed the keys
            self._loaded = (mtime, _parsed(self.path.read_bytes()))
        return self._loaded[1]

    def _write(self, keys: dict[str, StoredKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{_FILE}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(_document(keys))
        os.replace(temporary, self.path)  # whole or not at all

    # -- what the CLI does ---------------------------------------------------------------

    def create(self, name: str) -> str:
        """A new key; the only time it is shown."""
        with self._lock:
            keys = dict(self._read())
            key_id = secrets.token_hex(4)
            key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
            created = datetime.now(UTC).replace(microsecond=0).isoformat()
            keys[key_id] = StoredKey(key_id, name[:100], _digest(key), created)
            self._write(keys)
            return key

    def list(self) -> list[StoredKey]:
        with self._lock:
            return sorted(self._read().values(), key=lambda k: k.created)

    def revoke(self, key_id: str) -> bool:
        key_id = key_id.removeprefix(PREFIX).split("_")[0]
        with self._lock:
            keys = dict(self._read())
            if keys.pop(key_id, None) is None:
                return False
            self._write(keys)
            return True

    # -- what a request does -------------------------------------------------------------

    def check(self, authorization: str | None) -> tuple[int, str] | str:
        """The key id of a valid ``Bearer`` key, or the refusal (status, message)."""
        if not authorization or not authorization.startswith("Bearer "):
            return 401, "missing API key: send 'Authorization: Bearer <key>'"
        key = authorization.removeprefix("Bearer ").strip()
        if not key.startswith(PREFIX) or len(key) > 200:
            return 401, "invalid API key"
        key_id = key.removeprefix(PREFIX).split("_")[0]
        with self._lock:
            stored = self._read().get(key_id)
            if stored is None or not hmac.compare_digest(stored.digest, _digest(key)):
                return 401, "invalid API key"
            start, used = self._used.get(key_id, (0.0, 0))
            now = time.monotonic()
            if now - start >= 3600:
                start, used = now, 0
            if used >= self.hourly_limit:
                wait = int(3600 - (now - start)) + 1
                return (
                    429,
                    f"rate limit of {self.hourly_limit} requests an hour reached; "
                    f"retry in {wait} s",
                )
            self._used[key_id] = (start, used + 1)
        return key_id


def _parsed(raw: bytes) -> dict[str, StoredKey]:
    document = json.loads(raw.decode("utf-8"))
    return {k["id"]: StoredKey(**k) for k in document.get("keys", [])}


def _document(keys: dict[str, StoredKey]) -> bytes:
    return json.dumps({"keys": [vars(k) for k in keys.values()]}, indent=1).encode()


#: where a deployed stack keeps its keys' hashes: one object in the lake bucket, read by
#: the dashboard function (GetObject on this key only), written by ``ownstats api-key``
S3_KEY = "settings/api-keys.json"


class S3KeyStore(KeyStore):
    """The hosted stack's keys: ``s3://<lake bucket>/settings/api-keys.json``.

    The function reads the object at most every ``refresh_s`` (a revoked key stops
    working within that time); its rate limit counts per function instance, and the
    API's stage throttling bounds the whole."""

    def __init__(
        self, bucket: str, client: Any, refresh_s: float = 60.0,
        hourly_limit: int = HOURLY_LIMIT,
    ) -> None:  # fmt: skip
        super().__init__(Path("/nonexistent"), hourly_limit)
        self.bucket, self.client, self.refresh_s = bucket, client, refresh_s
        self._checked = -float("inf")

    def _read(self) -> dict[str, StoredKey]:
        now = time.monotonic()
        if now - self._checked >= self.refresh_s:
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=S3_KEY)["Body"].read()
                self._loaded = (now, _parsed(body))
            except self.client.exceptions.NoSuchKey:
                self._loaded = (now, {})
            self._checked = now
        return self._loaded[1]

    def _write(self, keys: dict[str, StoredKey]) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=S3_KEY, Body=_document(keys),
            ContentType="application/json", ServerSideEncryption="AES256",
        )  # fmt: skip
        self._checked = -float("inf")


def describe(key: StoredKey) -> dict[str, Any]:
    return {"id": key.id, "name": key.name, "created": key.created, "prefix": f"{PREFIX}{key.id}_…"}
