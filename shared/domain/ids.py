"""Identifiers: message ids derived from (conversation, seq), deterministic 1-on-1 conversation ids,
and time-sortable ids for frames that are not events."""

from __future__ import annotations

import hashlib
import os
import re
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_sortable_id(now_ms: int | None = None) -> str:
    """A ULID: 48-bit millisecond timestamp + 80 random bits, 26 Crockford base32 characters.

    Ids sort by creation time to the millisecond; ids made by concurrent writers in the same millisecond
    sort arbitrarily among themselves (they are not a sequence, and nothing relies on that).
    """
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


# A sortable id's pattern, which shared/contracts/schemas.py quotes (anchored there) for media ids.
SORTABLE_ID_PATTERN = f"[{_CROCKFORD}]{{26}}"
_SORTABLE_ID = re.compile(SORTABLE_ID_PATTERN)


def is_sortable_id(value: str) -> bool:
    return _SORTABLE_ID.fullmatch(value) is not None


def direct_conversation_id(user_a: str, user_b: str) -> str:
    """The same id from either side, computed without a lookup; reveals neither user id."""
    low, high = sorted((user_a, user_b))
    # Length-prefixed, so no two different pairs of ids encode alike, whatever characters they hold.
    digest = hashlib.sha256(f"{len(low)}:{low}{len(high)}:{high}".encode()).hexdigest()
    return f"dm_{digest[:32]}"


# Patterns shared/contracts/schemas.py quotes (anchored there).
CONVERSATION_ID_PATTERN = r"dm_[0-9a-f]{32}"
SEQ_PATTERN = r"[1-9][0-9]{0,14}"
_CONVERSATION_ID = re.compile(CONVERSATION_ID_PATTERN)


def is_conversation_id(value: str) -> bool:
    return _CONVERSATION_ID.fullmatch(value) is not None


# A conversation's seq stays well inside JSON's exact integers (2^53) and DynamoDB's numbers.
MAX_SEQ = 10**15 - 1
_SEQ = re.compile(SEQ_PATTERN)


def message_id(conversation_id: str, seq: int) -> str:
    """A message's id: stable, opaque to clients, and a GetItem key once parsed back."""
    return f"{conversation_id}.{seq}"


def parse_message_id(value: object) -> tuple[str, int] | None:
    """(conversation_id, seq) of a well-formed message id, else None (never raises on bad input)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    conversation_id, dot, seq = value.partition(".")
    if not dot or not is_conversation_id(conversation_id) or not _SEQ.fullmatch(seq):
        return None
    return conversation_id, int(seq)
