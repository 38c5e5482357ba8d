"""What may be uploaded: per kind, the accepted content types and size limits (the README quotes these).

A declared type is checked at the grant (here) and again against the bytes once stored (images.py,
audio.py, files.py): the grant only binds the upload to what the client said it would send.
"""

from __future__ import annotations

import posixpath
import unicodedata
from dataclasses import dataclass
from typing import Literal

from shared.domain.errors import BadRequestError, PayloadTooLargeError

MediaKind = Literal["image", "audio", "file"]
MEDIA_KINDS: tuple[MediaKind, ...] = ("image", "audio", "file")
ImageQuality = Literal["standard", "hd"]

MB = 1024 * 1024
IMAGE_MAX_BYTES = {"standard": 5 * MB, "hd": 20 * MB}  # the brief's limits
AUDIO_MAX_BYTES = 16 * MB  # ~2 h of a 16 kbit/s Opus voice note; 16 min of 128 kbit/s MP3
AUDIO_MAX_SECONDS = 30 * 60
FILE_MAX_BYTES = 100 * MB
MAX_FILE_NAME_LENGTH = 255

# Images: more pixels than this are refused before decoding (a decompression bomb). 50 MP takes a 48 MP
# camera's photo; decoded as RGB it is 150 MB.
IMAGE_MAX_PIXELS = 50_000_000

# How long a grant and a download link live.
UPLOAD_GRANT_SECONDS = 5 * 60
DOWNLOAD_URL_SECONDS = 5 * 60

IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}  # -> Pillow format
AUDIO_TYPES = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "mp4", "audio/aac": "mp4", "audio/mpeg": "mp3"}
FILE_TYPES = {
    "application/pdf": "pdf",
    "text/plain": "text",
    "text/csv": "text",
    "application/rtf": "rtf",
    "application/zip": "zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "ooxml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "ooxml",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "ooxml",
}
ACCEPTED_TYPES: dict[MediaKind, dict[str, str]] = {"image": IMAGE_TYPES, "audio": AUDIO_TYPES, "file": FILE_TYPES}

# Files whose names end so are refused whatever they contain (and so are archive entries named so):
# programs, scripts and installers a click could run.
DENIED_EXTENSIONS = frozenset(
    ".apk .app .appimage .bat .bin .cmd .com .cpl .deb .dll .dmg .elf .exe .gadget .hta .inf .ins .isp .jar "
    ".js .jse .ko .lnk .msc .msi .msp .ps1 .psm1 .reg .rpm .scf .scr .sh .so .sys .vb .vbe .vbs .ws .wsc .wsf "
    ".wsh .php .phtml .py .pl .rb .cgi .xll .xlam .docm .xlsm .pptm".split()
)


@dataclass(frozen=True)
class UploadRequest:
    """What a client asks to upload, checked: kind, canonical content type, exact size, name."""

    kind: MediaKind
    content_type: str
    size: int
    file_name: str | None = None
    quality: ImageQuality = "standard"

    @property
    def max_bytes(self) -> int:
        return max_bytes(self.kind, self.quality)

    @classmethod
    def from_body(cls, kind: MediaKind, body: dict) -> UploadRequest:
        content_type = canonical_type(body.get("content_type"))
        if content_type not in ACCEPTED_TYPES[kind]:
            raise BadRequestError(
                f"content_type must be one of: {', '.join(ACCEPTED_TYPES[kind])}", details={"field": "content_type"}
            )
        quality = body.get("quality", "standard") if kind == "image" else "standard"
        if quality not in IMAGE_MAX_BYTES:
            raise BadRequestError("quality must be standard or hd", details={"field": "quality"})
        size = body.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise BadRequestError("size must be the upload's exact size in bytes", details={"field": "size"})
        limit = max_bytes(kind, quality)
        if size > limit:
            raise PayloadTooLargeError(f"{kind} uploads are limited to {limit} bytes", details={"max_bytes": limit})
        file_name = body.get("file_name")
        if kind == "file" or file_name is not None:
            file_name = clean_file_name(file_name)
        return cls(kind=kind, content_type=content_type, size=size, file_name=file_name, quality=quality)


def max_bytes(kind: MediaKind, quality: ImageQuality = "standard") -> int:
    if kind == "image":
        return IMAGE_MAX_BYTES[quality]
    return AUDIO_MAX_BYTES if kind == "audio" else FILE_MAX_BYTES


def canonical_type(value: object) -> str:
    """`Audio/WebM; codecs=opus` -> `audio/webm`: parameters dropped, lower case."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError("content_type is required", details={"field": "content_type"})
    return value.split(";", 1)[0].strip().lower()


def clean_file_name(value: object) -> str:
    """A name to show and to offer on download: the last path part, no control characters, bounded."""
    if not isinstance(value, str):
        raise BadRequestError("file_name is required", details={"field": "file_name"})
    name = posixpath.basename(value.replace("\\", "/")).strip()
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    if not name or name in (".", ".."):
        raise BadRequestError("file_name must name a file", details={"field": "file_name"})
    if len(name) > MAX_FILE_NAME_LENGTH:
        raise BadRequestError(f"file_name is over {MAX_FILE_NAME_LENGTH} characters", details={"field": "file_name"})
    if has_denied_extension(name):
        raise BadRequestError("this kind of file is not accepted", details={"field": "file_name"})
    return name


def has_denied_extension(name: str) -> bool:
    return posixpath.splitext(name.lower().rstrip(". "))[1] in DENIED_EXTENSIONS


class MediaRejected(Exception):
    """The stored bytes are not what may be shared; `reason` is a stable code clients show a text for."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
