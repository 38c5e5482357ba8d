"""The S3 trigger adapter: an S3 notification event in, one call per stored object.

Keys arrive URL-encoded (spaces as `+`), as S3 sends them; the function sees them decoded. An exception
fails the invocation, and Lambda retries the whole event (then sends it to the dead-letter destination),
so what the function does per object must be safe to repeat.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote_plus

from shared.log import logger
from shared.observability import lambda_handler


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    event_name: str


def stored_objects(event: dict) -> list[StoredObject]:
    objects = []
    for record in event.get("Records") or []:
        s3 = record.get("s3") or {}
        obj = s3.get("object") or {}
        objects.append(
            StoredObject(
                bucket=(s3.get("bucket") or {}).get("name", ""),
                key=unquote_plus(obj.get("key", "")),
                size=int(obj.get("size") or 0),
                event_name=record.get("eventName", ""),
            )
        )
    return objects


def s3_trigger(func: Callable[[StoredObject], None]) -> Callable[[dict, object], None]:
    @lambda_handler
    @functools.wraps(func)
    def handler(event: dict, context: object) -> None:
        for stored in stored_objects(event):
            if not stored.event_name.startswith("ObjectCreated:"):
                logger.info("ignored s3 event", extra={"event_name": stored.event_name})
                continue
            func(stored)

    return handler
