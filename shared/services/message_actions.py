"""What a participant does to a message after its send: react, delete (for everyone or for themselves),
star. Every route finds the message by its id with one GetItem (ids are (conversation, seq), so a message
is found at once after its send) and proves membership with the caller's row, fetched at the same time;
anyone else gets the same 404 as for an id that never existed.

Each change is pushed at once as `message_updated` (the message as each recipient sees it now) and reaches
sync through the messages stream (on_message_stored notes it on the rows, append_user_events logs it). A
change private to one user (their star, their "delete for me") is told to that user alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.realtime.concurrency import run_concurrently
from shared.domain.emoji import reaction_emoji
from shared.domain.errors import BadRequestError, ForbiddenError, MessageNotFoundError, StorageUnavailableError
from shared.realtime.events import message_updated_envelope
from shared.domain.ids import parse_message_id
from shared.domain.models import Conversation, Message, Page
from shared.storage.repositories.stars import StarRepository
from shared.services.messaging import MessagingDeps, push_to_users
from shared.domain.timefmt import iso_from_ms, now_ms

_CHANGE_ATTEMPTS = 3  # a conditional update lost to a concurrent change: read again, decide again


@dataclass(frozen=True)
class StarredMessage:
    message: Message
    starred_at: str

    def to_dict(self) -> dict:
        return {"message": self.message.to_dict(), "starred_at": self.starred_at}


def find_message(
    deps: MessagingDeps, user_id: str, message_id: object, *, hidden_ok: bool = False
) -> tuple[Message, Conversation]:
    """The message and the caller's row of its conversation; 404 for a malformed id, a message that does
    not exist, one of someone else's conversations, or one the caller deleted for themselves."""
    parsed = parse_message_id(message_id)
    if parsed is None:
        raise MessageNotFoundError()
    conversation_id, seq = parsed
    row, message = run_concurrently(
        [
            lambda: deps.conversations.get_for_user(user_id, conversation_id),
            lambda: deps.messages.get(conversation_id, seq),
        ]
    )
    if row is None or message is None or (user_id in message.hidden_for and not hidden_ok):
        raise MessageNotFoundError()
    return message, row


def react(deps: MessagingDeps, user_id: str, message_id: object, emoji: object) -> Message:
    """Sets the caller's reaction (one per user per message: a new one replaces theirs)."""
    emoji = reaction_emoji(emoji)
    message, row = find_message(deps, user_id, message_id)

    def change(current: Message) -> Message | None:
        if current.deleted:
            raise BadRequestError("the message was deleted")
        if dict(current.reactions).get(user_id) == emoji:
            return current
        return deps.messages.set_reaction(current, user_id, emoji)

    return row.shown(_apply(deps, message, change))


def unreact(deps: MessagingDeps, user_id: str, message_id: object) -> Message:
    """Removes the caller's reaction, if any."""
    message, row = find_message(deps, user_id, message_id)

    def change(current: Message) -> Message | None:
        if user_id not in dict(current.reactions):
            return current
        return deps.messages.remove_reaction(current, user_id)

    return row.shown(_apply(deps, message, change))


def delete_message(deps: MessagingDeps, user_id: str, message_id: object, *, for_me: bool) -> Message:
    """For everyone (its sender only): a tombstone stays, the content and attachments leave every read path
    and the media become unreachable (objects deleted, no more download links). For me
    (either participant): hidden from the caller alone. Deleting twice is harmless."""
    message, row = find_message(deps, user_id, message_id, hidden_ok=True)
    if for_me:
        hidden = _apply(
            deps, message, lambda m: m if user_id in m.hidden_for else deps.messages.hide_for(m, user_id), [user_id]
        )
        _tombstone_previews(deps, hidden, [user_id])
        return row.shown(hidden)
    if message.sender_id != user_id:
        raise ForbiddenError("only its sender can delete a message for everyone")
    if message.media_ids and deps.media is not None:
        from shared.services.media import make_media_unreachable

        # Before the tombstone: if this fails the message still names its media, and a retry finishes.
        for media_id in message.media_ids:
            make_media_unreachable(deps.media, media_id, message.id)
    deleted = _apply(
        deps, message, lambda m: m if m.deleted else deps.messages.delete_for_everyone(m, iso_from_ms(now_ms()))
    )
    participants = [user_id, row.peer_id]
    replies = [
        (lambda seq=seq: deps.messages.tombstone_reply_preview(deleted.conversation_id, seq))
        for seq in sorted(deleted.replied_by)
    ]
    updated_replies = run_concurrently(replies) if replies else []
    _tombstone_previews(deps, deleted, participants)
    for reply in updated_replies:
        if reply is not None:
            _announce(deps, reply, participants)
    return row.shown(deleted)


def _apply(deps: MessagingDeps, message: Message, change, users: list[str] | None = None) -> Message:
    """Runs `change` (the message as it is -> the changed message, the same one when there is nothing to do,
    or None when a concurrent change beat it) until it lands; announces a change to `users` (default: both
    participants)."""
    current = message
    for _ in range(_CHANGE_ATTEMPTS):
        changed = change(current)
        if changed is current:
            return current
        if changed is not None:
            _announce(deps, changed, users or sorted(deps.conversations.participants(changed.conversation_id) or ()))
            return changed
        current = deps.messages.get(message.conversation_id, message.seq)
        if current is None:
            raise MessageNotFoundError()
    raise StorageUnavailableError("the message keeps changing, retry shortly")


def _announce(deps: MessagingDeps, message: Message, users: list[str]) -> None:
    """Pushes `message_updated` to the users' devices, each with the message as they see it (their star,
    their "delete for me")."""
    if deps.pusher is None:
        return
    push_to_users(deps, users, lambda user: message_updated_envelope(message.as_seen_by(user)))


def _tombstone_previews(deps: MessagingDeps, message: Message, users: list[str]) -> None:
    """The users' conversation rows stop showing the message's text if it is their last message (the
    consumer does the same for rows it moves later: see on_message_changed)."""
    run_concurrently(
        [
            (lambda user=user: deps.conversations.tombstone_last_message(user, message.conversation_id, message.seq))
            for user in users
        ]
    )


# ---------------------------------------------------------------------------------------------- stars


def star(deps: MessagingDeps, user_id: str, message_id: object) -> Message:
    """Stars the message for the caller alone (starring it again keeps the first time); their other devices
    hear of it as a `message_updated` with `starred: true`, and so does their sync. No one else does."""
    message, row = find_message(deps, user_id, message_id)

    def change(current: Message) -> Message | None:
        if current.deleted:
            raise BadRequestError("the message was deleted")
        if user_id in current.starred_by:
            return current
        return deps.messages.set_star(current, user_id, now_ms())

    return row.shown(_apply(deps, message, change, [user_id]))


def unstar(deps: MessagingDeps, user_id: str, message_id: object) -> Message:
    """Unstars it (harmless if it was not starred); told to the caller's devices alone, as a star is."""
    message, row = find_message(deps, user_id, message_id, hidden_ok=True)

    def change(current: Message) -> Message | None:
        if user_id not in current.starred_by:
            return current
        return deps.messages.set_star(current, user_id, None)

    return row.shown(_apply(deps, message, change, [user_id]))


def list_starred(
    deps: MessagingDeps, stars: StarRepository, user_id: str, limit: int, cursor: str | None
) -> Page:
    """The caller's starred messages, newest starred first, each as the caller sees it now (a tombstone
    once deleted; one they deleted for themselves is left out)."""
    page = stars.list_newest_first(user_id, limit, cursor)
    keys = [parse_message_id(star.message_id) for star in page.items]
    messages, rows = run_concurrently(
        [
            lambda: deps.messages.get_many(key for key in keys if key),
            lambda: deps.conversations.get_many_for_user(user_id, {key[0] for key in keys if key}),
        ]
    )
    entries = []
    for star_entry, key in zip(page.items, keys, strict=True):
        message, row = (messages.get(key), rows.get(key[0])) if key else (None, None)
        if message is None or row is None or user_id in message.hidden_for:
            continue
        entries.append(StarredMessage(row.shown(message), iso_from_ms(star_entry.starred_at_ms)))
    return Page(entries, page.next_cursor)


def unread_count(deps: MessagingDeps, user_id: str) -> int:
    """Unread messages across the user's conversations: each conversation's last seq minus the user's read
    marker (exact: sending moves one's own marker, so one's own messages never count)."""
    return deps.conversations.unread_total(user_id)
