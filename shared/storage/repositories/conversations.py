"""Conversations: their participants, and each participant's row in their conversation list."""

from __future__ import annotations

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from shared.storage.cursors import decode_cursor, encode_cursor
from shared.domain import limits
from shared.domain.ids import direct_conversation_id
from shared.domain.models import Conversation, LastMessagePreview, Page
from shared.storage.repositories.read_cache import LIST_CACHED, ReadCache
from shared.storage.repositories.storage import (
    cancellation_codes,
    is_conditional_failure,
    retry_transaction,
    storage_call,
    transaction_connection,
)
from shared.storage.tables import ConversationRecord, LastMessage, MessageVersion, UserConversationRecord

Row = UserConversationRecord


# Participants of a 1-on-1 never change, so a warm function keeps what it has read (bounded).
_PARTICIPANTS_CACHE_SIZE = 10_000


class ConversationRepository:
    def __init__(self, read_cache: ReadCache | None = None):
        self._participants: dict[str, frozenset[str]] = {}
        # Every row write below invalidates the users' cached lists (shared/storage/repositories/read_cache.py).
        self.read_cache = read_cache or ReadCache(None)

    def participants(self, conversation_id: str) -> frozenset[str] | None:
        cached = self._participants.get(conversation_id)
        if cached is not None:
            return cached
        with storage_call("get conversation"):
            try:
                record = ConversationRecord.get(conversation_id)
            except ConversationRecord.DoesNotExist:
                return None  # not cached: it may be created a moment later
        if len(self._participants) >= _PARTICIPANTS_CACHE_SIZE:
            self._participants.clear()
        self._participants[conversation_id] = participants = frozenset(record.participant_ids)
        return participants

    def get_for_user(self, user_id: str, conversation_id: str, *, consistent: bool = False) -> Conversation | None:
        with storage_call("get user conversation"):
            try:
                row = Row.get(user_id, conversation_id, consistent_read=consistent)
            except Row.DoesNotExist:
                return None
        return conversation_from_row(row)

    def create_direct(self, conversation_id: str, creator_id: str, peer_id: str, created_at: str) -> bool:
        """Creates the conversation and both list rows atomically; False if it already existed."""
        conversation = ConversationRecord(
            conversation_id,
            participant_ids={creator_id, peer_id},
            created_by=creator_id,
            created_at=created_at,
        )
        rows = [
            Row(user, conversation_id, peer_id=peer, created_at=created_at, last_activity_at=created_at)
            for user, peer in ((creator_id, peer_id), (peer_id, creator_id))
        ]

        def write():
            with TransactWrite(connection=transaction_connection()) as tx:
                tx.save(conversation, condition=ConversationRecord.conversation_id.does_not_exist())
                for row in rows:
                    tx.save(row, condition=Row.conversation_id.does_not_exist())

        with storage_call("create conversation"):
            try:
                retry_transaction(write)
            except TransactWriteError as error:
                if "ConditionalCheckFailed" in cancellation_codes(error):
                    return False
                raise
            finally:
                self.read_cache.changed(user_ids=[creator_id, peer_id])
        return True

    def list_for_user(self, user_id: str, limit: int, cursor: str | None) -> Page:
        """The user's conversations, latest activity first: all their rows (one Query, bounded by
        limits.MAX_LISTED_CONVERSATIONS), sorted here; the cursor is the last row's (activity, id).
        The first page comes from conv:list:{user} when cached."""
        if cursor is None and limit <= LIST_CACHED:
            first = self.read_cache.conversation_list(user_id, lambda: self._first_rows(user_id))
            return _page([Row.from_raw_data(image) for image in first["rows"]], limit, first["more"])
        after = None
        if cursor:
            position = decode_cursor(cursor, ("a", "c"))
            after = (position["a"], position["c"])
        rows = self._sorted_rows(user_id)
        if after is not None:
            rows = [row for row in rows if (row.last_activity_at, row.conversation_id) < after]
        return _page(rows, limit)

    def _first_rows(self, user_id: str) -> dict:
        rows = self._sorted_rows(user_id, consistent=self.read_cache.enabled)  # a fill must see every write before it
        return {"rows": [row.serialize() for row in rows[:LIST_CACHED]], "more": len(rows) > LIST_CACHED}

    def _sorted_rows(self, user_id: str, *, consistent: bool = False) -> list[Row]:
        with storage_call("list conversations"):
            rows = list(Row.query(user_id, limit=limits.MAX_LISTED_CONVERSATIONS, consistent_read=consistent))
        rows.sort(key=lambda row: (row.last_activity_at, row.conversation_id), reverse=True)
        return rows

    def peer_ids(self, user_id: str) -> list[str]:
        """Everyone the user shares a conversation with (one Query of their rows, peer ids only)."""
        with storage_call("list peers"):
            rows = Row.query(user_id, attributes_to_get=["peer_id"], limit=limits.MAX_LISTED_CONVERSATIONS)
            return sorted({row.peer_id for row in rows})

    def peers_among(self, user_id: str, others: list[str]) -> set[str]:
        """Which of `others` share a conversation with the user: their 1-on-1 ids are computable, so one
        consistent BatchGetItem of the user's rows answers it."""
        keys = {direct_conversation_id(user_id, other): other for other in others if other != user_id}
        if not keys:
            return set()
        with storage_call("find peers"):
            rows = Row.batch_get([(user_id, c) for c in keys], consistent_read=True, attributes_to_get=["conversation_id"])
            return {keys[row.conversation_id] for row in rows}

    def record_received(self, user_id: str, conversation_id: str, preview: LastMessagePreview) -> bool:
        """Moves the recipient's row to a message the peer sent (the on_message_stored consumer).

        The peer has seen everything before their own message (WhatsApp's rule): peer_read_seq = seq - 1,
        safe because the condition proves the row has seen nothing newer. A row already past the message
        (the user sent a newer one before this record came) keeps its last message and still gets the
        rule. A redelivered or out-of-date record changes nothing. True when the row moved.
        """
        moved = self._move(
            user_id,
            conversation_id,
            [
                Row.last_seq.set(preview.seq),
                Row.last_message.set(last_message_record(preview)),
                Row.last_activity_at.set(preview.created_at),
                Row.peer_read_seq.set(preview.seq - 1),
            ],
            Row.conversation_id.exists() & (Row.last_seq < preview.seq),
        )
        if not moved and preview.seq > 1:
            self._move(
                user_id,
                conversation_id,
                [Row.peer_read_seq.set(preview.seq - 1)],
                Row.conversation_id.exists() & (Row.last_seq >= preview.seq) & (Row.peer_read_seq < preview.seq - 1),
            )
        return moved

    def mark_peer_delivered(self, user_id: str, conversation_id: str, seq: int) -> bool:
        """On `user_id`'s row: the peer has received up to `seq` (only forward, only up to the latest)."""
        return self._move(
            user_id,
            conversation_id,
            [Row.peer_delivered_seq.set(seq)],
            Row.conversation_id.exists() & (Row.peer_delivered_seq < seq) & (Row.last_seq >= seq),
        )

    def mark_peer_read(self, user_id: str, conversation_id: str, seq: int) -> bool:
        """On `user_id`'s row: the peer has read up to `seq` (only forward, only up to the latest)."""
        return self._move(
            user_id,
            conversation_id,
            [Row.peer_read_seq.set(seq)],
            Row.conversation_id.exists() & (Row.peer_read_seq < seq) & (Row.last_seq >= seq),
        )

    def mark_read(self, user_id: str, conversation_id: str, seq: int, *, known_to_exist: bool = False) -> bool:
        """The user's own read marker (only forward). Up to the row's latest message, unless the caller
        knows message `seq` exists (the peer's row proved it) while this row's consumer is still behind."""
        condition = Row.conversation_id.exists() & (Row.read_seq < seq)
        if not known_to_exist:
            condition &= Row.last_seq >= seq
        return self._move(user_id, conversation_id, [Row.read_seq.set(seq)], condition)

    def get_many_for_user(self, user_id: str, conversation_ids) -> dict[str, Conversation]:
        """The user's rows of these conversations (those that are theirs), by one BatchGetItem."""
        keys = [(user_id, conversation_id) for conversation_id in dict.fromkeys(conversation_ids)]
        if not keys:
            return {}
        with storage_call("read user conversations"):
            rows = list(Row.batch_get(keys))
        return {row.conversation_id: conversation_from_row(row) for row in rows}

    def all_for_user(self, user_id: str, *, consistent: bool = False) -> list[Conversation]:
        """Every row of the user (one Query, bounded like the list)."""
        with storage_call("list conversations"):
            rows = list(Row.query(user_id, limit=limits.MAX_LISTED_CONVERSATIONS, consistent_read=consistent))
        return [conversation_from_row(row) for row in rows]

    def unread_total(self, user_id: str) -> int:
        """Unread messages across the user's conversations (cached in unread:{user}; a fill reads consistently)."""
        return self.read_cache.unread_total(
            user_id,
            lambda: sum(c.unread_count for c in self.all_for_user(user_id, consistent=self.read_cache.enabled)),
        )

    def tombstone_last_message(self, user_id: str, conversation_id: str, seq: int) -> bool:
        """Empties the row's last-message preview if it is message `seq` (deleted)."""
        return self._move(
            user_id,
            conversation_id,
            [Row.last_message.preview.set(""), Row.last_message.deleted.set(True)],
            Row.conversation_id.exists() & (Row.last_message.seq == seq),
        )

    def record_update(self, user_id: str, conversation_id: str, seq: int, version: int) -> bool:
        """Notes on the user's row that message `seq` changed (its version `version`): append_user_events
        turns it into a message_updated event. A redelivered or older change of the same message changes
        nothing."""
        same_or_newer = (Row.last_update.seq == seq) & (Row.last_update.version >= version)
        return self._move(
            user_id,
            conversation_id,
            [Row.last_update.set(MessageVersion(seq=seq, version=version))],
            Row.conversation_id.exists() & ~same_or_newer,
        )

    def _move(self, user_id: str, conversation_id: str, actions: list, condition) -> bool:
        with storage_call("update conversation row"):
            try:
                Row(user_id, conversation_id).update(actions=actions, condition=condition)
            except UpdateError as error:
                if is_conditional_failure(error):
                    return False
                self.read_cache.changed(user_ids=[user_id])  # it may have been written
                raise
        self.read_cache.changed(user_ids=[user_id])
        return True


def _page(rows: list[Row], limit: int, more_beyond: bool = False) -> Page:
    """The first `limit` of rows sorted newest activity first; `more_beyond`: rows exist past `rows`."""
    more = len(rows) > limit or more_beyond
    rows = rows[:limit]
    next_cursor = encode_cursor({"a": rows[-1].last_activity_at, "c": rows[-1].conversation_id}) if more else None
    return Page([conversation_from_row(row) for row in rows], next_cursor)


def last_message_record(preview: LastMessagePreview) -> LastMessage:
    return LastMessage(
        seq=preview.seq,
        sender_id=preview.sender_id,
        type=preview.type,
        preview=preview.preview,
        created_at=preview.created_at,
    )


def conversation_from_image(image: dict | None) -> Conversation | None:
    """A user's row from a stream record's image (DynamoDB JSON); None for no image."""
    return conversation_from_row(Row.from_raw_data(image)) if image else None


def conversation_from_row(row: UserConversationRecord) -> Conversation:
    """The one mapping from a stored row (or a stream image of one) to the domain object."""
    last = row.last_message
    return Conversation(
        id=row.conversation_id,
        user_id=row.user_id,
        peer_id=row.peer_id,
        created_at=row.created_at,
        last_activity_at=row.last_activity_at,
        last_seq=int(row.last_seq or 0),
        last_message=LastMessagePreview(
            int(last.seq), last.sender_id, last.type, last.preview, last.created_at, bool(last.deleted)
        )
        if last
        else None,
        read_seq=int(row.read_seq or 0),
        peer_delivered_seq=int(row.peer_delivered_seq or 0),
        peer_read_seq=int(row.peer_read_seq or 0),
        last_update=(int(row.last_update.seq), int(row.last_update.version)) if row.last_update else None,
    )
