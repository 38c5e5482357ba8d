"""Identifiers: time-sortable message ids and deterministic 1-on-1 conversation ids."""

from __future__ import annotations

import hashlib
import os
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


def is_sortable_id(value: str) -> bool:
    return len(value) == 26 and all(c in _CROCKFORD for c in value)


def direct_conversation_id(user_a: str, user_b: str) -> str:
    """The same id from either side, computed without a lookup; reveals neither user id."""
    low, high = sorted((user_a, user_b))
    # Length-prefixed, so no two different pairs of ids encode alike, whatever characters they hold.
    digest = hashlib.sha256(f"{len(low)}:{low}{len(high)}:{high}".encode()).hexdigest()
    return f"dm_{digest[:32]}"


def is_conversation_id(value: str) -> bool:
    return len(value) == 35 and value.startswith("dm_") and all(c in "0123456789abcdef" for c in value[3:])
