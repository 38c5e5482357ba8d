"""Messages, keyed by their conversation's gap-free seq, stored with their idempotency claim."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from shared.storage.cursors import decode_cursor, encode_cursor
from shared.domain.errors import BadRequestError
from shared.domain.ids import MAX_SEQ
from shared.domain.models import LastMessagePreview, Message, Page, ReplyPreview
from shared.storage.repositories.storage import (
    cancellation_codes,
    is_conditional_failure,
    retry_transaction,
    storage_call,
    transaction_connection,
)
from shared.storage.repositories.conversations import last_message_record
from shared.storage.repositories.read_cache import HISTORY_CACHED, PendingInvalidation, ReadCache
from shared.storage.tables import MessageRecord, ReplyTo, SentMessageRecord, StarRecord, UserConversationRecord

_CONDITION_FAILED = "ConditionalCheckFailed"


class DuplicateSendError(Exception):
    """The sender already sent a message with this client_message_id."""

    def __init__(self, existing: Message):
        super().__init__(existing.id)
        self.existing = existing


class SeqTakenError(Exception):
    """The guessed seq is already a message: the guess was stale."""


class MediaTakenError(Exception):
    """The message's media is not the sender's ready media free for it: another message holds it (or it
    was deleted meanwhile)."""


# The newest seq a warm function has seen committed, per conversation (bounded): the next send's guess.
_SEQ_CACHE_SIZE = 10_000


class MessageRepository:
    def __init__(self, read_cache: ReadCache | None = None):
        self._newest_seen: dict[str, int] = {}
        # A write to messages invalidates msg:conv:{conversation} (shared/storage/repositories/read_cache.py).
        self.read_cache = read_cache or ReadCache(None)

    def next_seq(self, conversation_id: str, *, refresh: bool = False) -> int:
        """The seq a new message should take: one past the newest seen, read (consistently) when not known
        or when the last guess was stale. No gap can form: the newest seen is committed, and messages are
        never removed (deletes leave tombstones)."""
        newest = None if refresh else self._newest_seen.get(conversation_id)
        if newest is None:
            newest = self._remember(conversation_id, self.newest_seq(conversation_id))
        return newest + 1

    def _remember(self, conversation_id: str, seq: int) -> int:
        if len(self._newest_seen) >= _SEQ_CACHE_SIZE:
            self._newest_seen.clear()
        self._newest_seen[conversation_id] = max(seq, self._newest_seen.get(conversation_id, 0))
        return self._newest_seen[conversation_id]

    def newest_seq(self, conversation_id: str) -> int:
        """The conversation's newest committed seq (0 when empty), by a consistent read."""
        with storage_call("read newest seq"):
            newest = list(
                MessageRecord.query(
                    conversation_id,
                    scan_index_forward=False,
                    limit=1,
                    consistent_read=True,
                    attributes_to_get=["seq"],
                )
            )
        return int(newest[0].seq) if newest else 0

    def store(self, message: Message) -> PendingInvalidation:
        """ONE transaction: the message at its seq, the claim on (sender, client_message_id), and the sender's
        own conversation row moved to it (read-your-writes: the sender's list moves with the store).

        A media message's transaction also binds its media to it (shared/storage/repositories/media.py attach_in), so
        media is held by one message at most; a text message's has these three items only.

        The row needs no "forward only" condition: message n+1 can only commit once n exists, so rows are
        written in seq order. Raises DuplicateSendError (the claim is taken), SeqTakenError (stale seq) or
        MediaTakenError (the media is held by another message).
        Returns the read caches' invalidation (the history, the sender's list) for the caller to run before
        it answers; a failure that may have committed runs it at once.
        """
        record = MessageRecord(
            message.conversation_id,
            message.seq,
            sender_id=message.sender_id,
            client_message_id=message.client_message_id,
            type=message.type,
            content=message.content,
            created_at=message.created_at,
            reply_to=_reply_record(message.reply_to),
            attachments=list(message.attachments) or None,
        )
        claim = SentMessageRecord(
            message.sender_id, message.client_message_id, conversation_id=message.conversation_id, seq=message.seq
        )
        row = UserConversationRecord
        row_actions = [
            row.last_seq.set(message.seq),
            row.last_message.set(last_message_record(LastMessagePreview.of(message))),
            row.last_activity_at.set(message.created_at),
            row.read_seq.set(message.seq),
        ]

        if message.media_ids:
            from shared.storage.repositories.media import attach_in  # media messages only: text sends import less

        def write():
            with TransactWrite(connection=transaction_connection()) as tx:
                tx.save(record, condition=MessageRecord.seq.does_not_exist())
                tx.save(claim, condition=SentMessageRecord.client_message_id.does_not_exist())
                tx.update(
                    row(message.sender_id, message.conversation_id),
                    actions=row_actions,
                    condition=row.conversation_id.exists(),
                )
                for media_id in message.media_ids:
                    attach_in(tx, media_id, message.sender_id, message.conversation_id, message.id)

        items = 3 + len(message.media_ids)
        invalidation = self.read_cache.pending(message.conversation_id, [message.sender_id])
        written, stored = True, False  # written: or maybe (a failure that is not a condition's may have committed)
        with storage_call("store message"):
            try:
                retry_transaction(write)
                self._remember(message.conversation_id, message.seq)
                stored = True
                return invalidation
            except TransactWriteError as error:
                codes = cancellation_codes(error)
                expected = len(codes) == items
                written = not (expected and _CONDITION_FAILED in codes[:2] + codes[3:])
                if expected and codes[1] == _CONDITION_FAILED:
                    existing = self.find_sent(message.sender_id, message.client_message_id)
                    if existing is None:  # the claim exists but not its message: cannot happen with transactions
                        raise
                    raise DuplicateSendError(existing) from None
                if expected and _CONDITION_FAILED in codes[3:]:  # a retry of the same send is a duplicate (above)
                    raise MediaTakenError(message.seq) from None
                if expected and codes[0] == _CONDITION_FAILED:
                    raise SeqTakenError(message.seq) from None
                raise
            finally:
                if written and not stored:  # the conversation's messages and the sender's row may have changed
                    invalidation()

    def find_sent(self, sender_id: str, client_message_id: str) -> Message | None:
        with storage_call("find sent message"):
            try:
                claim = SentMessageRecord.get(sender_id, client_message_id, consistent_read=True)
                record = MessageRecord.get(claim.conversation_id, claim.seq, consistent_read=True)
            except (SentMessageRecord.DoesNotExist, MessageRecord.DoesNotExist):
                return None
        return _message(record)

    def get_many(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Message]:
        """Messages by (conversation_id, seq), consistently read; missing ones are left out."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        with storage_call("read messages"):
            records = list(MessageRecord.batch_get(keys, consistent_read=True))
        return {(r.conversation_id, int(r.seq)): _message(r) for r in records}

    def list_newest_first(
        self,
        conversation_id: str,
        limit: int,
        cursor: str | None,
        *,
        newest_known: int = 0,
        change_known: tuple[int, int] | None = None,
    ) -> Page:
        """A page of messages, newest first. The first page comes from msg:conv:{conversation} when cached
        and holding at least message `newest_known` and change `change_known` ((seq, version): the caller's
        row's last seq and latest change to a message, so a send, reaction, delete or star whose
        invalidation was lost is never missing once its consumer noted it on the row)."""
        if cursor is None and limit <= HISTORY_CACHED:
            first = self.read_cache.history(conversation_id, lambda: self._newest(conversation_id))
            if _newest_seq(first) < newest_known or _older_than(first, change_known):  # a lost invalidation
                self.read_cache.changed(conversation_id)
                first = self.read_cache.history(conversation_id, lambda: self._newest(conversation_id))
            return _message_page([message_from_image(image) for image in first["messages"]], limit, first["more"])
        condition = None
        if cursor:
            before = decode_cursor(cursor, ("before",))["before"]
            if not before.isdigit() or not 1 <= int(before) <= MAX_SEQ + 1:
                raise BadRequestError("invalid cursor")
            condition = MessageRecord.seq < int(before)
        with storage_call("list messages"):
            records = list(
                MessageRecord.query(
                    conversation_id,
                    range_key_condition=condition,
                    scan_index_forward=False,
                    limit=limit + 1,
                    page_size=limit + 1,
                )
            )
        return _message_page([_message(record) for record in records], limit)

    def _newest(self, conversation_id: str) -> dict:
        """What msg:conv:{conversation} holds: the newest messages as stored, consistently read (a fill must
        see every write before it)."""
        with storage_call("list messages"):
            records = list(
                MessageRecord.query(
                    conversation_id,
                    scan_index_forward=False,
                    limit=HISTORY_CACHED + 1,
                    page_size=HISTORY_CACHED + 1,
                    consistent_read=self.read_cache.enabled,
                )
            )
        return {"messages": [r.serialize() for r in records[:HISTORY_CACHED]], "more": len(records) > HISTORY_CACHED}

    def get(self, conversation_id: str, seq: int) -> Message | None:
        """One message by its key, consistently read (at once after its send)."""
        with storage_call("get message"):
            try:
                return _message(MessageRecord.get(conversation_id, seq, consistent_read=True))
            except MessageRecord.DoesNotExist:
                return None

    def set_reaction(self, message: Message, user_id: str, emoji: str) -> Message | None:
        """Sets the user's reaction (replacing theirs); None when the message was deleted meanwhile."""
        record = MessageRecord
        if message.reactions:
            actions = [record.reactions[user_id].set(emoji)]
            condition = record.reactions.exists()
        else:  # the map must exist before a path in it can be set; removing the last reaction leaves it empty
            actions = [record.reactions.set({user_id: emoji})]
            condition = record.reactions.does_not_exist() | (size(record.reactions) == 0)
        return self._change(message, actions, condition & record.deleted_at.does_not_exist())

    def remove_reaction(self, message: Message, user_id: str) -> Message | None:
        return self._change(message, [MessageRecord.reactions[user_id].remove()], MessageRecord.reactions[user_id].exists())

    def delete_for_everyone(self, message: Message, deleted_at: str) -> Message | None:
        """Leaves a tombstone: the content, reactions, quoted preview and attachments are removed from the item."""
        record = MessageRecord
        actions = [
            record.deleted_at.set(deleted_at),
            record.content.remove(),
            record.reactions.remove(),
            record.reply_to.remove(),
            record.attachments.remove(),
        ]
        return self._change(message, actions, record.deleted_at.does_not_exist())

    def hide_for(self, message: Message, user_id: str) -> Message | None:
        """"Delete for me": the message is hidden from this user alone."""
        record = MessageRecord
        return self._change(message, [record.hidden_for.add({user_id})], ~record.hidden_for.contains(user_id))

    def set_star(self, message: Message, user_id: str, starred_at_ms: int | None) -> Message | None:
        """Stars the message for the user (`starred_at_ms`), or unstars it (None): ONE transaction writes
        the message's `starred_by` (what every read of the message shows) and the user's StarRecord (what
        lists their stars), so the two never disagree. Conditional on the message's version, so the message
        returned is exactly as stored; None when a concurrent change beat it (read it again)."""
        record = MessageRecord
        if starred_at_ms is None:
            action, starred_by = record.starred_by.delete({user_id}), message.starred_by - {user_id}
        else:
            action, starred_by = record.starred_by.add({user_id}), message.starred_by | {user_id}
        unchanged = record.version == message.version
        if not message.version:
            unchanged = record.version.does_not_exist() | unchanged
        star = StarRecord(user_id, message.id, starred_at=starred_at_ms)

        def write():
            with TransactWrite(connection=transaction_connection()) as tx:
                tx.update(
                    MessageRecord(message.conversation_id, message.seq),
                    actions=[action, record.version.add(1)],
                    condition=record.seq.exists() & unchanged,
                )
                if starred_at_ms is None:
                    tx.delete(star)
                else:
                    tx.save(star)

        with storage_call("star message"):
            try:
                retry_transaction(write)
            except TransactWriteError as error:
                if _CONDITION_FAILED in cancellation_codes(error):
                    return None
                raise
            finally:
                self.read_cache.changed(message.conversation_id)
        return replace(message, starred_by=starred_by, version=message.version + 1)

    def link_reply(self, quoted_seq: int, reply: Message) -> Message | None:
        """Records on the quoted message that `reply` quotes it (so a later delete reaches the reply's
        preview); returns the quoted message as it is now, None if it is gone."""
        with storage_call("link reply"):
            try:
                record = MessageRecord(reply.conversation_id, quoted_seq)
                record.update(actions=[MessageRecord.replied_by.add({reply.seq})], condition=MessageRecord.seq.exists())
            except UpdateError as error:
                if is_conditional_failure(error):
                    return None
                raise
            finally:
                self.read_cache.changed(reply.conversation_id)
        return _message(record)

    def tombstone_reply_preview(self, conversation_id: str, reply_seq: int) -> Message | None:
        """The reply's embedded preview of a message deleted since: emptied (and the reply's version moves,
        so its devices hear of it)."""
        record = MessageRecord
        with storage_call("tombstone reply preview"):
            try:
                item = MessageRecord(conversation_id, reply_seq)
                item.update(
                    actions=[record.reply_to.preview.set(""), record.reply_to.deleted.set(True), record.version.add(1)],
                    condition=record.reply_to.exists() & (record.reply_to.deleted == False),  # noqa: E712
                )
            except UpdateError as error:
                if is_conditional_failure(error):
                    return None
                raise
            finally:
                self.read_cache.changed(conversation_id)
        return _message(item)

    def _change(self, message: Message, actions: list, condition) -> Message | None:
        """Applies a change to a stored message and counts it in its version; the message as it is now,
        or None when the condition failed (the caller reads it again to see why)."""
        item = MessageRecord(message.conversation_id, message.seq)
        with storage_call("update message"):
            try:
                item.update(
                    actions=[*actions, MessageRecord.version.add(1)],
                    condition=MessageRecord.seq.exists() & condition,
                )
            except UpdateError as error:
                if is_conditional_failure(error):
                    return None
                raise
            finally:
                self.read_cache.changed(message.conversation_id)
        return _message(item)


def _newest_seq(first: dict) -> int:
    return int(first["messages"][0]["seq"]["N"]) if first["messages"] else 0


def _older_than(first: dict, change: tuple[int, int] | None) -> bool:
    """Whether the cached page holds the changed message at an older version. A page filled after the
    change holds every change before it too (a fill reads consistently), so the latest one tells."""
    if change is None:
        return False
    seq, version = change
    image = next((m for m in first["messages"] if int(m["seq"]["N"]) == seq), None)
    return image is not None and int(image.get("version", {}).get("N", 0)) < version


def _message_page(messages: list[Message], limit: int, more_beyond: bool = False) -> Page:
    """The first `limit` of messages (newest first); `more_beyond`: older ones exist past `messages`."""
    more = len(messages) > limit or more_beyond
    messages = messages[:limit]
    next_cursor = encode_cursor({"before": str(messages[-1].seq)}) if more else None
    return Page(messages, next_cursor)


def message_from_image(image: dict) -> Message:
    """A message from a stream record's image (DynamoDB JSON)."""
    return _message(MessageRecord.from_raw_data(image))


def _reply_record(reply_to: ReplyPreview | None) -> ReplyTo | None:
    if reply_to is None:
        return None
    return ReplyTo(
        seq=reply_to.seq,
        sender_id=reply_to.sender_id,
        type=reply_to.type,
        preview=reply_to.preview,
        deleted=reply_to.deleted,
    )


def _message(record: MessageRecord) -> Message:
    """The one mapping from a stored message (or a stream image of one) to the domain object."""
    quoted = record.reply_to
    reactions = record.reactions.as_dict() if record.reactions is not None else {}
    return Message(
        conversation_id=record.conversation_id,
        seq=int(record.seq),
        sender_id=record.sender_id,
        client_message_id=record.client_message_id,
        type=record.type,
        content=record.content or "",
        created_at=record.created_at,
        reply_to=ReplyPreview(int(quoted.seq), quoted.sender_id, quoted.type, quoted.preview, bool(quoted.deleted))
        if quoted
        else None,
        reactions=tuple(sorted(reactions.items())),
        deleted=record.deleted_at is not None,
        hidden_for=frozenset(record.hidden_for or ()),
        starred_by=frozenset(record.starred_by or ()),
        version=int(record.version or 0),
        replied_by=frozenset(int(seq) for seq in record.replied_by or ()),
        attachments=tuple(record.attachments or ()),
    )
