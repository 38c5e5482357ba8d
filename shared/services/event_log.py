"""What stream consumers derive after a send, idempotently (a redelivered record changes nothing twice):

- on_message_stored (messages stream): moves the recipient's conversation row to the new message;
- append_user_events (user_conversations stream): turns each change of a user's row into entries of that
  user's event log, the source of sync. It is the log's only writer, one batch at a time per user.
"""

from __future__ import annotations

from shared.log import logger
from shared.realtime.events import (
    MESSAGE_UPDATED,
    NEW_MESSAGE,
    RECEIPT,
    message_updated_event_id,
    new_message_event_id,
    receipt_event_id,
)
from shared.domain.models import Conversation, LastMessagePreview, LogEvent, Message
from shared.storage.repositories.conversations import ConversationRepository
from shared.storage.repositories.event_log import EventLogRepository


def on_message_stored(conversations: ConversationRepository, message: Message) -> bool:
    """Moves the recipient's row to the message (the sender's moved in the send's transaction).
    True when the row moved; False for a redelivery or a record overtaken by a newer message."""
    participants = conversations.participants(message.conversation_id) or frozenset()
    recipients = [user for user in participants if user != message.sender_id]
    moved = False
    for recipient in recipients:
        moved |= conversations.record_received(recipient, message.conversation_id, LastMessagePreview.of(message))
    return moved


def on_message_changed(conversations: ConversationRepository, old: Message, new: Message) -> None:
    """A message changed after its send: when its version moved, the rows of those concerned note it (a
    change private to some users — their star, their "delete for me" — concerns only them), and a deleted
    message's text leaves their last-message preview (also for a row the INSERT record moved after the
    delete). A redelivery changes nothing twice."""
    if new.version <= old.version:
        return  # not a change users hear of (a reply linked to it)
    participants = conversations.participants(new.conversation_id) or frozenset()
    private = {user for user in participants if _private_view(old, user) != _private_view(new, user)}
    unchanged_for_others = (new.deleted, new.reactions, new.reply_to) == (old.deleted, old.reactions, old.reply_to)
    concerned = sorted(private if private and unchanged_for_others else participants)
    for user in concerned:
        conversations.record_update(user, new.conversation_id, new.seq, new.version)
        if new.deleted or user in new.hidden_for:
            conversations.tombstone_last_message(user, new.conversation_id, new.seq)


def _private_view(message: Message, user_id: str) -> tuple[bool, bool]:
    return user_id in message.hidden_for, user_id in message.starred_by


def events_for_change(old: Conversation | None, new: Conversation) -> list[LogEvent]:
    """The events one change of a user's row means for that user, in order:

    - last_seq moved from a to b: a `new_message` per seq in (a, b] (a message committed while the row was
      behind still gets its own event);
    - the peer's markers moved (an ack or a read): a `receipt` about the peer, `read` (which implies
      delivered) and `delivered` only if it went beyond read. A marker that moved with last_seq is the
      reply rule (a message from the peer means they have seen everything before it): the new_message
      says so already, so it gets no event of its own;
    - the user's own read_seq moved (read on another device): a `receipt` about the user, so their other
      devices clear the badge;
    - one of its messages changed (a reaction, a delete, the user's star: `last_update` moved,
      on_message_changed): a `message_updated`.
    """
    before = old or Conversation(new.id, new.user_id, new.peer_id, new.created_at, new.last_activity_at)
    events = [
        LogEvent(new_message_event_id(new.id, seq), NEW_MESSAGE, new.id, {"seq": seq})
        for seq in range(before.last_seq + 1, new.last_seq + 1)
    ]
    if events:
        return events
    read_moved = new.peer_read_seq > before.peer_read_seq
    if read_moved:
        events.append(_receipt(new.id, new.peer_id, "read", new.peer_read_seq))
    if new.peer_delivered_seq > before.peer_delivered_seq and (
        not read_moved or new.peer_delivered_seq > new.peer_read_seq
    ):
        events.append(_receipt(new.id, new.peer_id, "delivered", new.peer_delivered_seq))
    if new.read_seq > before.read_seq:
        events.append(_receipt(new.id, new.user_id, "read", new.read_seq))
    if new.last_update is not None and new.last_update != before.last_update:
        seq, version = new.last_update
        data = {"seq": seq, "version": version}
        events.append(LogEvent(message_updated_event_id(new.id, seq, version), MESSAGE_UPDATED, new.id, data))
    return events


def append_user_events(
    log: EventLogRepository, changes: list[tuple[int, Conversation | None, Conversation]], now_ms: int
) -> int | None:
    """Appends a batch's row changes (position in the batch, old, new) to their owners' logs: one append
    per user (one read of the log's tail, then the events not already there). Returns None when all are
    done, else the position of the first change of a user whose append failed (the batch resumes there;
    what is already appended is skipped when it comes again)."""
    by_user: dict[str, list[tuple[int, list[LogEvent]]]] = {}
    for position, old, new in changes:
        by_user.setdefault(new.user_id, []).append((position, events_for_change(old, new)))
    for user_id, user_changes in by_user.items():
        try:
            log.append(user_id, [event for _, events in user_changes for event in events], now_ms)
        except Exception:
            logger.exception("appending to the event log failed", extra={"user_id": user_id})
            return user_changes[0][0]
    return None


def _receipt(conversation_id: str, user_id: str, status: str, up_to_seq: int) -> LogEvent:
    return LogEvent(
        receipt_event_id(conversation_id, user_id, status, up_to_seq),
        RECEIPT,
        conversation_id,
        {"user_id": user_id, "status": status, "up_to": up_to_seq},
    )
