"""Where the lake's objects are: S3 (the AWS stack) or a local data directory.

The compaction protocol (``lake_compactor.run``) needs six operations of a store and
nothing else: list a prefix, fetch an object to a local file, upload a file, put and
get a small JSON document, delete exact keys. Keys are relative to the bucket (or
the data directory): ``events/event_date=2026-11-28/part.parquet``.

A write is all-or-nothing in both stores (an S3 PUT; locally a temporary file renamed
into place after fsync), so a reader never sees half an object.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from lake_compactor.policy import StoredObject
from lake_compactor.validate import quarantine_key

__all__ = ["LocalStore", "S3Store", "Store", "StoreError"]


class StoreError(RuntimeError):
    """A store operation failed; the message names the keys."""


class Store(Protocol):
    def list(self, prefix: str) -> list[StoredObject]: ...

    def fetch(self, key: str, directory: Path) -> Path:
        """A local path holding the object (downloaded into ``directory`` if remote)."""
        ...

    def upload(self, path: Path, key: str) -> None: ...

    def put_json(self, key: str, document: dict[str, Any]) -> None: ...

    def get_json(self, key: str) -> dict[str, Any] | None:
        """The document, or None if there is no such key."""
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Delete exactly these keys; a key that is already gone is not an error."""
        ...

    def quarantine(self, key: str) -> str:
        """Move ``key`` out of the lake to ``quarantine/<key>``; the new key."""
        ...


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class S3Store:
    """The lake bucket, through a boto3 S3 client."""

    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self.client = client

    def list(self, prefix: str) -> list[StoredObject]:
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found.append(
                    StoredObject(item["Key"], int(item["Size"]), item["LastModified"].timestamp())
                )
        return found

    def fetch(self, key: str, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{uuid.uuid4().hex}.parquet"
        self.client.download_file(self.bucket, key, str(target))
        return target

    def upload(self, path: Path, key: str) -> None:
        self.client.upload_file(str(path), self.bucket, key)

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(document, sort_keys=True).encode(),
            ContentType="application/json",
        )

    def get_json(self, key: str) -> dict[str, Any] | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        except self.client.exceptions.ClientError as err:
            # S3 answers 403, not 404, for a missing key when the caller's s3:ListBucket
            # does not cover it (ours is limited to the events/ prefix); GetObject on
            # events/* is granted, so a 403 here means the manifest is gone
            if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (403, 404):
                return None
            raise
        return json.loads(response["Body"].read())

    def delete(self, keys: Sequence[str]) -> None:
        for chunk in _chunks(list(keys), 1000):  # the DeleteObjects limit
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
            )
            errors = response.get("Errors", [])
            if errors:
                shown = ", ".join(f"{e.get('Key')} ({e.get('Code')})" for e in errors[:5])
                raise StoreError(f"S3 refused to delete {len(errors)} object(s): {shown}")

    def quarantine(self, key: str) -> str:
        target = quarantine_key(key)
        # a lake object is at most a few hundred MB: one CopyObject (≤ 5 GB) moves it
        self.client.copy_object(
            Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": key}
        )
        self.delete([key])
        return target


class LocalStore:
    """A local data directory laid out like the bucket (``<root>/events/…``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        # absolute: keys are paths relative to it, and listings walk resolved paths
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StoreError(f"key {key!r} leaves the data directory")
        return path

    def list(self, prefix: str) -> list[StoredObject]:
        base = self._path(prefix.rstrip("/")) if prefix.rstrip("/") else self.root
        if not base.is_dir():
            return []
        found = []
        for path in base.rglob("*"):
            if path.name.startswith(".") or not path.is_file():
                continue  # temporary files being written are dot-files
            stat = path.stat()
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                found.append(StoredObject(key, stat.st_size, stat.st_mtime))
        return found

    def fetch(self, key: str, directory: Path) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise StoreError(f"{key} does not exist")
        return path

    def _write(self, key: str, write: Any) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(tmp, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)

    def upload(self, path: Path, key: str) -> None:
        with open(path, "rb") as source:
            self._write(key, lambda handle: shutil.copyfileobj(source, handle))

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        data = json.dumps(document, sort_keys=True).encode()
        self._write(key, lambda handle: handle.write(data))

    def get_json(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._path(key).read_bytes())
        except FileNotFoundError:
            return None

    def quarantine(self, key: str) -> str:
        target = quarantine_key(key)
        source, destination = self._path(key), self._path(target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, destination)
        fsync_dir(destination.parent)
        fsync_dir(source.parent)
        return target

    def delete(self, keys: Sequence[str]) -> None:
        parents = set()
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            parents.add(path.parent)
        for parent in parents:
            if parent.is_dir():
                fsync_dir(parent)


def fsync_dir(directory: Path) -> None:
    """Make the entries of ``directory`` (created, renamed, deleted files) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
