"""Search over the caller's own messages, and the consumer that keeps each user's index.

The index (shared/storage/search_index.py) is per user and written by ONE consumer per user: `index_user_events`
runs on the per-user event log's stream, where a user's events arrive in order, one batch at a time (see
the README's "Search"). An event naming a message (new_message, message_updated) makes the index agree
with the message as it is now: indexed while the user can see it, removed once it is deleted for everyone
or hidden by that user. A redelivered batch changes nothing twice.

A search reads the index, then the messages themselves: a message deleted a moment ago, before the
consumer caught up, is left out of the results all the same (its text never reaches a client).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.domain import limits
from shared.realtime.concurrency import run_concurrently
from shared.storage.cursors import decode_cursor, encode_cursor
from shared.domain.errors import BadRequestError
from shared.domain.models import Conversation, Message
from shared.storage.search_index import IndexEntry


class SearchIndexes(Protocol):
    def reading(self, user_id: str): ...  # context manager -> an index with .search(), or None

    def apply(self, user_id: str, entries: list[IndexEntry], removals: list[tuple[str, int]]) -> bool: ...


class MessageReader(Protocol):
    def get_many(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Message]: ...


class ConversationReader(Protocol):
    def get_many_for_user(self, user_id: str, conversation_ids: Iterable[str]) -> dict[str, Conversation]: ...


@dataclass(frozen=True)
class SearchDeps:
    indexes: SearchIndexes
    messages: MessageReader
    conversations: ConversationReader


@dataclass(frozen=True)
class SearchResult:
    message: Message
    conversation: Conversation

    def to_dict(self) -> dict:
        return {"message": self.message.to_dict(), "conversation": self.conversation.to_dict()}


@dataclass(frozen=True)
class SearchPage:
    results: list[SearchResult]
    next_cursor: str | None


def search_query(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequestError("q must hold the words to search for")
    if len(value) > limits.MAX_SEARCH_QUERY_LENGTH:
        raise BadRequestError(f"q is longer than {limits.MAX_SEARCH_QUERY_LENGTH} characters")
    return value


def search_messages(deps: SearchDeps, user_id: str, query: str, limit: int, cursor: str | None) -> SearchPage:
    """The caller's messages holding a word starting with each term of `query`, newest first."""
    query = search_query(query)
    before = None
    if cursor:
        raw = decode_cursor(cursor, ("before",))["before"]
        if not raw.isdigit() or len(raw) > 20:
            raise BadRequestError("invalid cursor")
        before = int(raw)
    with deps.indexes.reading(user_id) as index:
        hits = [] if index is None else index.search(query, limit=limit + 1, before=before)
    more = len(hits) > limit
    hits = hits[:limit]
    keys = [(hit.conversation_id, hit.seq) for hit in hits]
    messages, rows = run_concurrently(
        [
            lambda: deps.messages.get_many(keys),
            lambda: deps.conversations.get_many_for_user(user_id, {key[0] for key in keys}),
        ]
    )
    results = []
    for key in keys:
        message, conversation = messages.get(key), rows.get(key[0])
        # The index may lag a delete or a hide by a moment; the message itself never does.
        if message is None or conversation is None or not message.visible_to(user_id):
            continue
        results.append(SearchResult(conversation.shown(message), conversation))
    next_cursor = encode_cursor({"before": str(hits[-1].position)}) if more else None
    return SearchPage(results, next_cursor)


@dataclass(frozen=True)
class MessageEvent:
    """An entry of a user's event log that names a message: it arrived (new) or changed."""

    user_id: str
    conversation_id: str
    seq: int
    new: bool


class IndexingFailedError(Exception):
    def __init__(self, user_id: str):
        super().__init__(user_id)
        self.user_id = user_id


def index_user_events(deps: SearchDeps, events: list[MessageEvent]) -> None:
    """Brings each user's index in line with the messages their events name: a new message the user can
    see is added; a changed one they can no longer see (deleted, hidden by them) is removed. One
    read-modify-write per user for the whole batch, users in the order their first event came; raises
    IndexingFailedError for the first user whose index could not be written (those before it are done)."""
    if not events:
        return
    messages = deps.messages.get_many({(event.conversation_id, event.seq) for event in events})
    by_user: dict[str, list[MessageEvent]] = {}
    for event in events:
        by_user.setdefault(event.user_id, []).append(event)
    for user_id, user_events in by_user.items():
        entries, removals = [], []
        for event in user_events:
            message = messages.get((event.conversation_id, event.seq))
            if message is not None and message.visible_to(user_id):
                if event.new and message.type == "text":
                    created_ms = _epoch_ms(message.created_at)
                    entries.append(IndexEntry(message.conversation_id, message.seq, created_ms, message.content))
            else:
                removals.append((event.conversation_id, event.seq))
        if not entries and not removals:
            continue  # e.g. a reaction or a star: nothing to read or write
        try:
            deps.indexes.apply(user_id, entries, removals)
        except Exception as error:
            raise IndexingFailedError(user_id) from error


def _epoch_ms(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)
