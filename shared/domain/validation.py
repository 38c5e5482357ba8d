"""Checks on user input shared by several requests; each failure is a 400 that says what is wrong."""

from __future__ import annotations

import re
import unicodedata

from shared.domain import limits
from shared.domain.errors import BadRequestError

CLIENT_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:\-]+")  # shared/contracts/schemas.py quotes it
# ASCII digits only: str.isdigit() and int() also take superscripts, other scripts' digits, "_" and spaces.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


def whole_number(raw: str, field: str, low: int, high: int) -> int:
    """A query-string number from `low` to `high`; anything else (however long or exotic) is a 400."""
    if not _WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
        raise BadRequestError(f"{field} must be an integer from {low} to {high}")
    return int(raw)


def user_id(value: object, field: str = "user id") -> str:
    if not isinstance(value, str) or not value or len(value) > limits.MAX_USER_ID_LENGTH:
        raise BadRequestError(f"{field} must be 1 to {limits.MAX_USER_ID_LENGTH} characters")
    if any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in value) or value != value.strip():
        raise BadRequestError(f"{field} has characters a user id cannot have")
    return value


def client_message_id(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limits.MAX_CLIENT_MESSAGE_ID_LENGTH:
        raise BadRequestError(
            f"client_message_id must be a string of 1 to {limits.MAX_CLIENT_MESSAGE_ID_LENGTH} characters"
        )
    if not CLIENT_MESSAGE_ID.fullmatch(value):
        raise BadRequestError("client_message_id may hold only letters, digits and . _ : -")
    return value


def media_id(value: object) -> str:
    """The id an upload grant returned (a ULID)."""
    from shared.domain.ids import is_sortable_id

    if not isinstance(value, str) or not is_sortable_id(value):
        raise BadRequestError("media_id must be the id an upload grant returned")
    return value


def text_content(value: object) -> str:
    if not isinstance(value, str):
        raise BadRequestError("content must be a string")
    if not value.strip():
        raise BadRequestError("content must not be empty")
    if len(value) > limits.MAX_TEXT_LENGTH:
        raise BadRequestError(f"content is longer than {limits.MAX_TEXT_LENGTH} characters")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise BadRequestError("content is not valid Unicode text")
    return value
