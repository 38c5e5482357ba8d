"""Where the per-user search indexes live: SQLite files in S3, cached in the function's /tmp.

Each user's index is two objects under `search/v1/<sha256 of the user id>/` (a user id may hold any
character; its hash makes a safe key and says nothing about the user):
- `recent.db` takes every new message: small, so a consumer batch uploads a few hundred KB whatever the
  user's history holds;
- `main.db` holds the rest: when `recent` passes RECENT_ENTRIES it is folded into `main` (one large upload
  per RECENT_ENTRIES messages). A removal rewrites whichever holds the entry.
A search reads both and merges them newest first. An entry briefly in both (a fold interrupted, a
redelivered record) is found once.

Every read first asks S3 whether the cached copy is current (a GET with If-None-Match: a 304 costs a
request, no transfer), so a warm function downloads an object only after it changed. The cache holds
immutable files named by the object's ETag; a reader keeps its open file even when a newer one replaces it.

One writer per user at a time is assumed (the search_indexer consumer, see README): `apply` is a
read-modify-write without a lock.
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

from shared.domain.errors import StorageUnavailableError
from shared.storage.search_index import IndexEntry, SearchHit, SearchIndex

KEY_PREFIX = "search/v1/"
SEGMENTS = ("recent", "main")
RECENT_ENTRIES = 2000  # about 500 KB of index: folded into main beyond this
CACHE_BYTES = 256 * 1024 * 1024  # of Lambda's 512 MB of /tmp by default


def index_key(user_id: str, segment: str) -> str:
    return f"{KEY_PREFIX}{hashlib.sha256(user_id.encode()).hexdigest()}/{segment}.db"


class UserSearchIndex:
    """A user's index for searching: both segments, read-only, their results merged newest first."""

    def __init__(self, segments: list[SearchIndex]) -> None:
        self._segments = segments

    def search(self, query: str, *, limit: int, before: int | None = None) -> list[SearchHit]:
        hits = [hit for segment in self._segments for hit in segment.search(query, limit=limit, before=before)]
        hits.sort(key=lambda hit: hit.position, reverse=True)
        unique = {}
        for hit in hits:
            unique.setdefault((hit.conversation_id, hit.seq), hit)
        return list(unique.values())[:limit]


class S3SearchIndexes:
    def __init__(self, bucket: str, cache_dir: str | None = None, client=None) -> None:
        self._bucket = bucket
        # One cache per process: several processes on one machine (parley local and tests) would otherwise
        # delete each other's cached versions of the same user's index.
        self._cache = Path(cache_dir or os.path.join(tempfile.gettempdir(), f"parley-search-{os.getpid()}"))
        self._cache.mkdir(parents=True, exist_ok=True)
        self._client = client
        self._client_lock = threading.Lock()
        # The local runtime runs every function in one process: a download must not replace a cached
        # file between another thread finding it and opening it.
        self._cache_lock = threading.Lock()

    @contextlib.contextmanager
    def reading(self, user_id: str) -> Iterator[UserSearchIndex | None]:
        """The user's index at its latest version; None when they have none yet."""
        with contextlib.ExitStack() as stack:
            with self._cache_lock:
                paths = [self._current_copy(index_key(user_id, segment)) for segment in SEGMENTS]
                segments = [stack.enter_context(SearchIndex(str(path), read_only=True)) for path in paths if path]
            yield UserSearchIndex(segments) if segments else None

    def apply(self, user_id: str, entries: list[IndexEntry], removals: list[tuple[str, int]]) -> bool:
        """Adds `entries` and removes the entries of `removals` (conversation_id, seq) in the user's
        index; returns whether anything changed."""
        outcome = {}

        def change_recent(index: SearchIndex) -> bool:
            removed = index.remove(removals)
            added = index.add(entries)
            outcome["count"] = index.count()
            return bool(added or removed)

        changed = self._update(index_key(user_id, "recent"), change_recent)
        if removals:  # main too: an entry may be in both for a while (see _fold)
            changed |= self._update(index_key(user_id, "main"), lambda index: bool(index.remove(removals)))
        if outcome["count"] > RECENT_ENTRIES:
            self._fold(user_id)
        return changed

    def _fold(self, user_id: str) -> None:
        """Moves everything in `recent` into `main`, then empties `recent`. Interrupted between the two, the
        entries are in both for a while: searches find them once, the next fold skips them."""
        recent_key = index_key(user_id, "recent")
        with self._cache_lock:
            recent_path = self._current_copy(recent_key)
        if recent_path is None:
            return
        with SearchIndex(str(recent_path), read_only=True) as recent:
            moved = recent.entries()
        self._update(index_key(user_id, "main"), lambda index: index.add(moved) > 0)
        # A new, empty file: removing the rows would leave the file its old size.
        self._update(recent_key, lambda index: True, fresh=True)

    def delete(self, user_id: str) -> None:
        for segment in SEGMENTS:
            self._call("delete_object", Bucket=self._bucket, Key=index_key(user_id, segment))

    def _update(self, key: str, change: Callable[[SearchIndex], bool], *, fresh: bool = False) -> bool:
        """Applies `change` to the object's index (to a new one if there is none, or if `fresh`) and stores
        the result when `change` returns True (it changed something)."""
        fd, scratch = tempfile.mkstemp(dir=self._cache, suffix=".tmp")
        try:
            with self._cache_lock, os.fdopen(fd, "wb") as out:
                current = self._current_copy(key)
                if current is not None and not fresh:
                    with open(current, "rb") as source:
                        shutil.copyfileobj(source, out, 1024 * 1024)
            with SearchIndex(scratch) as index:
                changed = change(index)
            if not changed:
                return False
            with open(scratch, "rb") as body:
                etag = self._call("put_object", Bucket=self._bucket, Key=key, Body=body)["ETag"]
            with self._cache_lock:
                os.replace(scratch, self._cached_path(key, etag))
                if current is not None:
                    current.unlink(missing_ok=True)
            return True
        finally:
            Path(scratch).unlink(missing_ok=True)

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
        return self._cache / f"{_cache_stem(key)}.{etag.strip('"')}.db"

    def _cached_versions(self, key: str) -> list[tuple[Path, str]]:
        """Cached files of this object, newest first, with their ETags."""
        paths = sorted(self._cache.glob(f"{_cache_stem(key)}.*.db"), key=_mtime, reverse=True)
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

    def prepare(self) -> None:
        """Makes the S3 client now rather than on the first read (Lambda's init phase: shared/wiring.py)."""
        self._get_client()

    def _get_client(self):
        with self._client_lock:
            if self._client is None:
                from botocore.config import Config

                from shared.storage.aws import botocore_session
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


def _cache_stem(key: str) -> str:
    """`search/v1/<hash>/recent.db` -> `<hash>-recent`."""
    user_hash, segment = key.removeprefix(KEY_PREFIX).removesuffix(".db").split("/")
    return f"{user_hash}-{segment}"


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
