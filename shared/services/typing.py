"""Typing indicators: live only, never stored. The peer's devices get `typing` {user_id, state}; the
receiving client clears an indicator 3 s after the last `start` (a typing client repeats `start` every ~2 s),
so a lost `stop` costs nothing. Rate limited per user and conversation (Redis; not limited without it)."""

from __future__ import annotations

from shared.domain import limits
from shared.domain.errors import BadRequestError, ConversationNotFoundError
from shared.realtime.events import typing_envelope
from shared.realtime.ratelimit import FixedWindowLimiter
from shared.services.conversations import require_participant
from shared.services.messaging import MessagingDeps, push_to_users

TYPING_STATES = ("start", "stop")


def send_typing(
    deps: MessagingDeps, limiter: FixedWindowLimiter, user_id: str, conversation_id: object, state: object
) -> None:
    if not isinstance(conversation_id, str) or not conversation_id:
        raise ConversationNotFoundError()
    if state not in TYPING_STATES:
        raise BadRequestError("state must be start or stop")
    participants = require_participant(deps.conversations, user_id, conversation_id)
    limiter.hit(
        f"{user_id}:{conversation_id}",
        f"too many typing updates: at most {limits.TYPING_LIMIT_PER_WINDOW} per {limits.TYPING_WINDOW_SECONDS} s",
    )
    peers = [p for p in participants if p != user_id]
    if deps.pusher is not None and peers:
        push_to_users(deps, peers, typing_envelope(conversation_id, user_id, state))
