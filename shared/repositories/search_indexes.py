"""Where the per-user search indexes live: one SQLite file per user in S3, cached in the function's /tmp.

Each user's index is one object, `search/v1/<sha256 of the user id>.db` (a user id may hold any character;
its hash makes a safe key and says nothing about the user). Reads and writes first ask S3 whether the
cached copy is current (a GET with If-None-Match: a 304 costs a request, no transfer), so a warm function
downloads an index only after someone else changed it.

One writer per user at a time is assumed (the search_indexer consumer, see README): `update` is a
read-modify-write of the whole object without a lock. The cache holds immutable files named by the
object's ETag; a reader keeps its open file even when a newer version replaces it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from shared.errors import StorageUnavailableError
from shared.search_index import SearchIndex

KEY_PREFIX = "search/v1/"
CACHE_BYTES = 256 * 1024 * 1024  # of Lambda's 512 MB of /tmp by default


def index_key(user_id: str) -> str:
    return KEY_PREFIX + hashlib.sha256(user_id.encode()).hexdigest() + ".db"


class S3SearchIndexes:
    def __init__(self, bucket: str, cache_dir: str | None = None, client=None) -> None:
        self._bucket = bucket
        self._cache = Path(cache_dir or os.path.join(tempfile.gettempdir(), "parley-search"))
        self._cache.mkdir(parents=True, exist_ok=True)
        self._client = client
        self._client_lock = threading.Lock()
        # The local runtime runs every function in one process: a download must not replace a cached
        # file between another thread finding it and opening it.
        self._cache_lock = threading.Lock()

    @contextlib.contextmanager
    def reading(self, user_id: str) -> Iterator[SearchIndex | None]:
        """The user's index, opened read-only at its latest version; None when they have none yet."""
        with self._cache_lock:
            path = self._current_copy(index_key(user_id))
            index = None if path is None else SearchIndex(str(path), read_only=True)
        if index is None:
            yield None
            return
        with index:
            yield index

    def update(self, user_id: str, change: Callable[[SearchIndex], bool]) -> None:
        """Applies `change` to the user's index (a new one if they have none) and stores the result when
        `change` returns True (it changed something)."""
        key = index_key(user_id)
        fd, scratch = tempfile.mkstemp(dir=self._cache, suffix=".tmp")
        try:
            with self._cache_lock, os.fdopen(fd, "wb") as out:
                current = self._current_copy(key)
                if current is not None:
                    with open(current, "rb") as source:
                        shutil.copyfileobj(source, out, 1024 * 1024)
            with SearchIndex(scratch) as index:
                changed = change(index)
            if not changed:
                return
            with open(scratch, "rb") as body:
                etag = self._call("put_object", Bucket=self._bucket, Key=key, Body=body)["ETag"]
            with self._cache_lock:
                os.replace(scratch, self._cached_path(key, etag))
                if current is not None:
                    current.unlink(missing_ok=True)
        finally:
            Path(scratch).unlink(missing_ok=True)

    def delete(self, user_id: str) -> None:
        self._call("delete_object", Bucket=self._bucket, Key=index_key(user_id))

    def _current_copy(self, key: str) -> Path | None:
        """A cached file holding the object's latest version (downloaded if the cache is behind), or None
        when there is no object. Called holding the cache lock."""
        cached = self._cached_versions(key)
        request = {"Bucket": self._bucket, "Key": key}
        if cached:
            request["IfNoneMatch"] = cached[0][1]
        try:
            response = self._call("get_object", **request)
        except _NotModified:
            return cached[0][0]
        except _NoSuchKey:
            for path, _etag in cached:
                path.unlink(missing_ok=True)
            return None
        fd, scratch = tempfile.mkstemp(dir=self._cache, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            for chunk in response["Body"].iter_chunks(1024 * 1024):
                out.write(chunk)
        path = self._cached_path(key, response["ETag"])
        os.replace(scratch, path)
        for old, _etag in cached:
            if old != path:
                old.unlink(missing_ok=True)
        self._evict()
        return path

    def _cached_path(self, key: str, etag: str) -> Path:
        return self._cache / f"{Path(key).stem}.{etag.strip('"')}.db"

    def _cached_versions(self, key: str) -> list[tuple[Path, str]]:
        """Cached files of this object, newest first, with their ETags."""
        paths = sorted(self._cache.glob(f"{Path(key).stem}.*.db"), key=_mtime, reverse=True)
        return [(path, '"' + path.name.split(".")[1] + '"') for path in paths]

    def _evict(self) -> None:
        """Keeps the cache under CACHE_BYTES, dropping the least recently written files first."""
        files = sorted(self._cache.glob("*.db"), key=_mtime)
        total = sum(_size(path) for path in files)
        for path in files:
            if total <= CACHE_BYTES:
                break
            total -= _size(path)
            path.unlink(missing_ok=True)

    def _call(self, operation: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._get_client()
        try:
            return getattr(client, operation)(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("304", "NotModified") or status == 304:
                raise _NotModified from None
            if code in ("NoSuchKey", "404") or status == 404:
                raise _NoSuchKey from None
            raise StorageUnavailableError("the search index is unavailable") from error
        except BotoCoreError as error:
            raise StorageUnavailableError("the search index is unavailable") from error

    def _get_client(self):
        with self._client_lock:
            if self._client is None:
                from botocore.config import Config

                from shared.aws import botocore_session
                from shared.config import aws_region

                self._client = botocore_session().create_client(
                    "s3",
                    region_name=aws_region(),
                    config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 3}),
                )
            return self._client


class _NotModified(Exception):
    pass


class _NoSuchKey(Exception):
    pass


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
