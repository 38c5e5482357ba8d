"""Where media lives in the bucket: one source for the functions, the S3 triggers and the CDK rules.

uploads/{kind}/{media_id}        what a client posts; its kind's function runs on it, then it is deleted
media/{media_id}/{rendition}     what the functions keep (renditions, or the checked original)
"""

from __future__ import annotations

UPLOADS_PREFIX = "uploads/"
MEDIA_PREFIX = "media/"


def upload_prefix(kind: str) -> str:
    return f"{UPLOADS_PREFIX}{kind}/"


def upload_key(kind: str, media_id: str) -> str:
    return f"{upload_prefix(kind)}{media_id}"


def media_id_of_upload(key: str) -> str | None:
    """The media id an upload key names, or None for any other key."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != UPLOADS_PREFIX or not parts[2]:
        return None
    return parts[2]


def rendition_key(media_id: str, rendition: str) -> str:
    return f"{MEDIA_PREFIX}{media_id}/{rendition}"
