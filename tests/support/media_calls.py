"""Media through the real handlers, for in-process tests: grants, the client's upload (stored in moto
where the grant points), S3's event delivered to the media function, download links."""

from __future__ import annotations

from functions import get_media, process_audio, process_file, process_image, upload_audio, upload_file, upload_image
from infra.local.s3_front import s3_event
from shared import wiring
from shared.config import media_bucket
from shared.media import keys
from tests.support.events import http_event, parse

GRANTS = {"image": upload_image, "audio": upload_audio, "file": upload_file}
PROCESSORS = {"image": process_image, "audio": process_audio, "file": process_file}


def grant(user: str, kind: str, data: bytes, content_type: str, **extra) -> dict:
    body = {"content_type": content_type, "size": len(data), **extra}
    status, answer = parse(GRANTS[kind].handler(http_event(f"upload_{kind}", user_id=user, body=body), None))
    assert status == 201, answer
    return answer


def upload_and_process(user: str, kind: str, data: bytes, content_type: str, **extra) -> str:
    """Grant, store the bytes where the grant points (as the client's POST would), deliver S3's event."""
    media_id = grant(user, kind, data, content_type, **extra)["media"]["id"]
    deliver(kind, media_id, data, content_type)
    return media_id


def deliver(kind: str, media_id: str, data: bytes | None, content_type: str = "binary/octet-stream") -> None:
    PROCESSORS[kind].handler(uploaded(kind, media_id, data, content_type), None)


def uploaded(kind: str, media_id: str, data: bytes | None, content_type: str = "binary/octet-stream") -> dict:
    """Stores the bytes where the grant points (none: the client never uploaded) and returns S3's event."""
    key = keys.upload_key(kind, media_id)
    if data is not None:
        wiring.media().store._s3().put_object(Bucket=media_bucket(), Key=key, Body=data, ContentType=content_type)
    return s3_event("us-east-1", media_bucket(), key, "ObjectCreated:Post", len(data or b""), "etag")


def get(user: str, media_id: str) -> tuple[int, dict]:
    return parse(get_media.handler(http_event("get_media", user_id=user, path={"id": media_id}), None))


def object_keys() -> set[str]:
    listing = wiring.media().store._s3().list_objects_v2(Bucket=media_bucket())
    return {item["Key"] for item in listing.get("Contents", [])}
