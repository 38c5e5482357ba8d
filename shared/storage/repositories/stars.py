"""Stars: the messages each user starred, private to them, listed newest starred first. They are written
with the message's `starred_by`, in one transaction (MessageRepository.set_star)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.storage.cursors import decode_cursor, encode_cursor
from shared.domain.errors import BadRequestError
from shared.domain.models import Page
from shared.storage.repositories.storage import storage_call
from shared.storage.tables import StarRecord


@dataclass(frozen=True)
class Star:
    message_id: str
    starred_at_ms: int


class StarRepository:
    def list_newest_first(self, user_id: str, limit: int, cursor: str | None) -> Page:
        """A page of the user's stars; the cursor is the last one's (time, message id)."""
        start_key = None
        if cursor:
            position = decode_cursor(cursor, ("t", "m"))
            if not position["t"].isdigit() or len(position["t"]) > 16 or len(position["m"]) > 64:
                raise BadRequestError("invalid cursor")
            start_key = {
                "user_id": {"S": user_id},
                "message_id": {"S": position["m"]},
                "starred_at": {"N": position["t"]},
            }
        with storage_call("list stars"):
            records = list(
                StarRecord.by_starred_at.query(
                    user_id,
                    scan_index_forward=False,
                    limit=limit + 1,
                    page_size=limit + 1,
                    last_evaluated_key=start_key,
                )
            )
        stars = [Star(record.message_id, int(record.starred_at)) for record in records[:limit]]
        next_cursor = None
        if len(records) > limit:
            next_cursor = encode_cursor({"t": str(stars[-1].starred_at_ms), "m": stars[-1].message_id})
        return Page(stars, next_cursor)
