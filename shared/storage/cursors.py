"""Opaque pagination cursors: URL-safe base64 of a small JSON object, validated on the way back in."""

from __future__ import annotations

import base64
import json

from shared.domain import limits, validation
from shared.domain.errors import BadRequestError


def encode_cursor(position: dict[str, str]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys: tuple[str, ...]) -> dict[str, str]:
    """The position a cursor names; a 400 for anything this API did not hand out."""
    if len(cursor) > limits.MAX_CURSOR_LENGTH:
        raise BadRequestError("invalid cursor")
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise BadRequestError("invalid cursor") from None
    if (
        not isinstance(position, dict)
        or set(position) != set(keys)
        or not all(isinstance(value, str) and value for value in position.values())
    ):
        raise BadRequestError("invalid cursor")
    return position


def page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return limits.DEFAULT_PAGE_SIZE
    return validation.whole_number(raw, "limit", 1, limits.MAX_PAGE_SIZE)
