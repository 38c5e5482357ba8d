"""Media: upload grants, judging what was uploaded (the S3-triggered functions), attaching media to
messages, and download links for the conversation's participants."""

from __future__ import annotations


import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from shared.realtime.events import media_envelope
from shared.domain.errors import BadRequestError, ConflictError, MediaNotFoundError
from shared.domain.ids import is_sortable_id, new_sortable_id
from shared.log import logger
from shared.media import keys
from shared.media.model import Media, StoredRendition
from shared.media.policy import DOWNLOAD_URL_SECONDS, UPLOAD_GRANT_SECONDS, MediaRejected, UploadRequest
from shared.realtime.push import Pusher
from shared.storage.repositories.connections import ConnectionRepository
from shared.storage.repositories.media import MediaRepository
from shared.storage.repositories.media_store import MediaStore, ObjectMissing
from shared.services.messaging import push_to_users
from shared.domain.timefmt import iso_from_ms, now_ms


@dataclass(frozen=True)
class MediaDeps:
    """What media needs; `connections` and `pusher` as messaging's push_to_users takes them."""

    media: MediaRepository
    store: MediaStore
    connections: ConnectionRepository
    pusher: Pusher | None


@dataclass(frozen=True)
class UploadGrant:
    media: Media
    url: str
    fields: dict[str, str]
    expires_at: str

    def to_dict(self) -> dict:
        return {
            "media": self.media.to_dict(),
            "upload": {"url": self.url, "fields": self.fields, "expires_at": self.expires_at},
        }


def request_upload(deps: MediaDeps, user_id: str, request: UploadRequest) -> UploadGrant:
    """A pending media record and a presigned POST for exactly what the client declared."""
    created_ms = now_ms()
    media = Media(
        id=new_sortable_id(created_ms),
        owner_id=user_id,
        kind=request.kind,
        status="pending",
        content_type=request.content_type,
        size=request.size,
        created_at=iso_from_ms(created_ms),
        quality=request.quality,
        file_name=request.file_name,
    )
    deps.media.create(media)
    post = deps.store.presigned_post(
        keys.upload_key(media.kind, media.id), media.content_type, media.size, UPLOAD_GRANT_SECONDS
    )
    return UploadGrant(
        media=media, url=post.url, fields=post.fields, expires_at=iso_from_ms(created_ms + UPLOAD_GRANT_SECONDS * 1000)
    )


# ------------------------------------------------------------------------------------------ processing


def process_upload(deps: MediaDeps, kind: str, key: str) -> str:
    """Judges one stored upload: renditions (or the checked original) kept, record `ready`; or record
    `rejected` with a reason. The upload itself is deleted either way; the owner's devices are told.
    A redelivered event finds the record settled and changes nothing. Returns what happened."""
    media_id = keys.media_id_of_upload(key)
    if media_id is None or not key.startswith(keys.upload_prefix(kind)):
        logger.warning("not an upload key", extra={"key": key})
        return "ignored"
    media = deps.media.get(media_id)
    if media is None or media.kind != kind:
        deps.store.delete([key])  # nobody was granted this upload
        return "ignored"
    if media.status != "pending":
        deps.store.delete([key])  # a redelivery: only make sure the upload is gone
        return "already_settled"
    try:
        settled = _JUDGES[kind](deps, media, key)
    except ObjectMissing:
        return "missing"  # deleted by an earlier run that settled it since we read the record
    except MediaRejected as rejection:
        logger.info("media rejected", extra={"media_id": media.id, "reason": rejection.reason, "why": rejection.detail})
        settled = media.with_changes(status="rejected", reason=rejection.reason)
    if not deps.media.settle(settled):
        deps.store.delete([key])
        return "already_settled"
    deps.store.delete([key])
    _tell_owner(deps, settled)
    return settled.status


def _judge_image(deps: MediaDeps, media: Media, key: str) -> Media:
    from shared.media.images import process_image

    data = deps.store.read(key, media.size + 1)
    _check_size(media, len(data))
    image = process_image(data, media.content_type, hd=media.quality == "hd")
    renditions = {}
    for rendition in image.renditions:
        rendition_key = keys.rendition_key(media.id, f"{rendition.name}.jpg")
        deps.store.put(rendition_key, rendition.data, rendition.content_type)
        renditions[rendition.name] = StoredRendition(
            rendition_key, rendition.content_type, len(rendition.data), rendition.width, rendition.height
        )
    return media.with_changes(
        status="ready",
        width=image.width,
        height=image.height,
        placeholder=image.placeholder,
        renditions=renditions,
    )


def _judge_audio(deps: MediaDeps, media: Media, key: str) -> Media:
    from shared.media.audio import inspect_audio

    data = deps.store.read(key, media.size + 1)
    _check_size(media, len(data))
    info = inspect_audio(data, media.content_type)
    return _keep_original(deps, media, key, duration_ms=info.duration_ms)


def _judge_file(deps: MediaDeps, media: Media, key: str) -> Media:
    from shared.media.files import check_file

    # Up to FILE_MAX_BYTES: spooled to /tmp past 8 MB, not held in memory.
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as content:
        deps.store.download(key, content)
        _check_size(media, content.tell())
        check_file(content, media.content_type, media.file_name or "")
    return _keep_original(deps, media, key)


def _keep_original(deps: MediaDeps, media: Media, key: str, **found) -> Media:
    original = keys.rendition_key(media.id, "original")
    deps.store.copy(key, original, media.content_type)
    rendition = StoredRendition(original, media.content_type, media.size)
    return media.with_changes(status="ready", renditions={"original": rendition}, **found)


def _check_size(media: Media, actual: int) -> None:
    # The grant's policy allows exactly the declared size; this guards a grant made some other way.
    if actual != media.size:
        raise MediaRejected("size_mismatch", f"declared {media.size} bytes, stored {actual}")


_JUDGES: dict[str, Callable[[MediaDeps, Media, str], Media]] = {
    "image": _judge_image,
    "audio": _judge_audio,
    "file": _judge_file,
}


def _tell_owner(deps: MediaDeps, media: Media) -> None:
    if deps.pusher is not None:
        push_to_users(deps, [media.owner_id], media_envelope(media))


# ---------------------------------------------------------------------------------- messages, downloads


def attachable_media(deps: MediaDeps | None, sender_id: str, request) -> Media:
    """The sender's own ready media of the message's kind, for a message about to be sent to
    request.conversation_id (a SendMessageRequest). Media already sent in another conversation is refused:
    a message holds its media, and deleting the message deletes it (the send's transaction binds it, and
    refuses media another message holds: only a retry of the same send attaches it again)."""
    if deps is None:
        raise BadRequestError("media messages are not available here")
    media = deps.media.get(request.media_id)
    if media is None or media.owner_id != sender_id or media.status == "deleted":
        raise MediaNotFoundError()
    if media.kind != request.type:
        raise BadRequestError(f"media {media.id} is {media.kind}, not {request.type}", details={"field": "media_id"})
    if media.status != "ready":
        raise ConflictError(f"media {media.id} is {media.status}, not ready", details={"status": media.status})
    if media.conversation_id not in (None, request.conversation_id):
        raise ConflictError(f"media {media.id} was sent in another conversation")
    return media


def keep_attached_media(deps: MediaDeps, media: Media) -> None:
    """After the message is stored (its transaction bound the media to it): the media's objects no longer
    expire. Idempotent, run again by a retry of the send."""
    deps.store.mark_attached([r.key for r in media.renditions.values()])


@dataclass(frozen=True)
class DownloadLinks:
    media: Media
    urls: dict[str, str]  # rendition name -> presigned GET; none until the media is ready
    expires_at: str | None

    def to_dict(self) -> dict:
        return {"media": self.media.to_dict(), "urls": self.urls, "expires_at": self.expires_at}


def download_links(
    deps: MediaDeps, user_id: str, media_id: str, is_participant: Callable[[str, str], bool]
) -> DownloadLinks:
    """Short-lived links to every rendition: for the owner, and for the participants of the conversation
    the media was sent in. The owner also sees their pending or rejected uploads (no links), so a device
    that missed media_ready/media_rejected can ask. Anyone else, and deleted media, get the same 404 as
    media that never existed."""
    media = deps.media.get(media_id) if is_sortable_id(media_id) else None
    if media is None or media.status == "deleted":
        raise MediaNotFoundError()
    if media.owner_id != user_id and not (
        media.status == "ready" and media.conversation_id and is_participant(user_id, media.conversation_id)
    ):
        raise MediaNotFoundError()
    if media.status != "ready":
        return DownloadLinks(media=media, urls={}, expires_at=None)
    download_name = media.file_name if media.kind == "file" else None
    urls = {
        name: deps.store.presigned_get(
            r.key, DOWNLOAD_URL_SECONDS, content_type=r.content_type, download_name=download_name
        )
        for name, r in media.renditions.items()
    }
    return DownloadLinks(media=media, urls=urls, expires_at=iso_from_ms(now_ms() + DOWNLOAD_URL_SECONDS * 1000))


def make_media_unreachable(deps: MediaDeps, media_id: str, message_id: str) -> None:
    """For deleting a message for everyone: its media's objects are deleted and its record says `deleted`,
    so no new link is given; links already handed out stop working as the objects go. Only media bound to
    that message (the transaction that stored it bound it). Idempotent."""
    media = deps.media.get(media_id)
    if media is None or media.message_id != message_id:
        return
    deps.store.delete([r.key for r in media.renditions.values()])
    deps.media.mark_deleted(media_id)


