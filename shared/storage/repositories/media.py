"""Media records: one per upload grant; only processing moves them out of `pending`, exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.transactions import TransactWrite

from shared.media.model import Media, StoredRendition
from shared.storage.repositories.storage import is_conditional_failure, storage_call
from shared.storage.tables import MediaRecord

# Uploads never attached to a message are forgotten after this long (the bucket's lifecycle rule expires
# their objects after the same number of days: infra/constructs/media.py reads it).
UNATTACHED_MEDIA_DAYS = 2


class MediaRepository:
    def create(self, media: Media) -> None:
        expires = datetime.now(timezone.utc) + timedelta(days=UNATTACHED_MEDIA_DAYS)
        with storage_call("create media"):
            _record(media, expires_at=expires).save(condition=MediaRecord.media_id.does_not_exist())

    def get(self, media_id: str) -> Media | None:
        with storage_call("get media"):
            try:
                return _media(MediaRecord.get(media_id, consistent_read=True))
            except DoesNotExist:
                return None

    def settle(self, media: Media) -> bool:
        """Stores the outcome of processing (ready or rejected); False if it was no longer pending (a
        redelivered event, or a concurrent run that finished first)."""
        record = _record(media)
        actions = [
            MediaRecord.status.set(media.status),
            MediaRecord.content_type.set(media.content_type),
            MediaRecord.details.set(record.details) if record.details else MediaRecord.details.remove(),
            MediaRecord.reason.set(media.reason) if media.reason else MediaRecord.reason.remove(),
        ]
        return self._conditional_update(media.id, actions, MediaRecord.status == "pending", "settle media")

    def mark_deleted(self, media_id: str) -> None:
        with storage_call("delete media"):
            try:
                MediaRecord(media_id).update(
                    actions=[MediaRecord.status.set("deleted"), MediaRecord.details.remove()],
                    condition=MediaRecord.media_id.exists(),
                )
            except UpdateError as error:
                if not is_conditional_failure(error):
                    raise

    def _conditional_update(self, media_id: str, actions: list, condition, operation: str) -> bool:
        with storage_call(operation):
            try:
                MediaRecord(media_id).update(actions=actions, condition=condition)
            except (UpdateError, PutError) as error:
                if is_conditional_failure(error):
                    return False
                raise
        return True


def attach_in(tx: TransactWrite, media_id: str, owner_id: str, conversation_id: str, message_id: str) -> None:
    """Binds ready media to a message, as an item of the transaction that stores the message: the item's
    condition (the owner's ready media, bound to no other message) is checked atomically with the store,
    so two sends of one media item cannot both attach it."""
    condition = (
        (MediaRecord.status == "ready")
        & (MediaRecord.owner_id == owner_id)
        & (MediaRecord.message_id.does_not_exist() | (MediaRecord.message_id == message_id))
    )
    actions = [
        MediaRecord.conversation_id.set(conversation_id),
        MediaRecord.message_id.set(message_id),
        MediaRecord.expires_at.remove(),  # attached media lives as long as its message
    ]
    tx.update(MediaRecord(media_id), actions=actions, condition=condition)


def _record(media: Media, expires_at: datetime | None = None) -> MediaRecord:
    details = {}
    if media.width is not None:
        details.update(width=media.width, height=media.height)
    if media.placeholder is not None:
        details["placeholder"] = media.placeholder
    if media.duration_ms is not None:
        details["duration_ms"] = media.duration_ms
    if media.renditions:
        details["renditions"] = {
            name: {k: v for k, v in vars(r).items() if v is not None} for name, r in media.renditions.items()
        }
    return MediaRecord(
        media.id,
        owner_id=media.owner_id,
        kind=media.kind,
        status=media.status,
        content_type=media.content_type,
        size=media.size,
        quality=media.quality,
        created_at=media.created_at,
        file_name=media.file_name,
        reason=media.reason,
        details=details or None,
        conversation_id=media.conversation_id,
        message_id=media.message_id,
        expires_at=expires_at,
    )


def _media(record: MediaRecord) -> Media:
    details = record.details.as_dict() if record.details else {}
    renditions = {
        name: StoredRendition(
            key=r["key"],
            content_type=r["content_type"],
            size=int(r["size"]),
            width=int(r["width"]) if "width" in r else None,
            height=int(r["height"]) if "height" in r else None,
        )
        for name, r in (details.get("renditions") or {}).items()
    }
    return Media(
        id=record.media_id,
        owner_id=record.owner_id,
        kind=record.kind,
        status=record.status,
        content_type=record.content_type,
        size=int(record.size),
        created_at=record.created_at,
        quality=record.quality,
        file_name=record.file_name,
        reason=record.reason,
        width=int(details["width"]) if "width" in details else None,
        height=int(details["height"]) if "height" in details else None,
        placeholder=details.get("placeholder"),
        duration_ms=int(details["duration_ms"]) if "duration_ms" in details else None,
        renditions=renditions,
        conversation_id=record.conversation_id,
        message_id=record.message_id,
    )
