"""A media item as the API shows it, and what a message carries to render it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

MediaStatus = Literal["pending", "ready", "rejected", "deleted"]


@dataclass(frozen=True)
class StoredRendition:
    key: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None

    def to_dict(self) -> dict:
        shape = {"content_type": self.content_type, "size": self.size}
        if self.width is not None:
            shape.update(width=self.width, height=self.height)
        return shape


@dataclass(frozen=True)
class Media:
    id: str
    owner_id: str
    kind: str  # image, audio, file
    status: MediaStatus
    content_type: str  # as declared at the grant (and found in the content once ready)
    size: int  # the upload's size in bytes
    created_at: str
    quality: str = "standard"
    file_name: str | None = None
    reason: str | None = None  # why it was rejected
    width: int | None = None
    height: int | None = None
    placeholder: str | None = None  # images: a BlurHash
    duration_ms: int | None = None  # audio
    renditions: dict[str, StoredRendition] = field(default_factory=dict)
    conversation_id: str | None = None  # set once attached to a message
    message_id: str | None = None

    def with_changes(self, **changes) -> Media:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        shape = {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "content_type": self.content_type,
            "size": self.size,
            "created_at": self.created_at,
        }
        if self.status == "rejected":
            shape["reason"] = self.reason
        shape.update(self.attachment_fields())
        return shape

    def attachment_fields(self) -> dict:
        """What a client needs to render it, before downloading anything."""
        shape: dict = {}
        if self.file_name is not None:
            shape["file_name"] = self.file_name
        if self.width is not None:
            shape.update(width=self.width, height=self.height)
        if self.placeholder is not None:
            shape["placeholder"] = self.placeholder
        if self.duration_ms is not None:
            shape["duration_ms"] = self.duration_ms
        if self.renditions:
            shape["renditions"] = {name: r.to_dict() for name, r in self.renditions.items()}
        return shape

    def attachment(self) -> dict:
        """The attachment a message stores and shows: the media's id, kind, type, size and render fields."""
        return {
            "media_id": self.id,
            "kind": self.kind,
            "content_type": self.content_type,
            "size": self.size,
            **self.attachment_fields(),
        }
