"""Domain errors. Each carries its HTTP status and a stable code; adapters never match error text."""

from __future__ import annotations


class ParleyError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequestError(ParleyError):
    status = 400
    code = "bad_request"


class UnauthorizedError(ParleyError):
    status = 401
    code = "unauthorized"


class NotFoundError(ParleyError):
    status = 404
    code = "not_found"


class ConversationNotFoundError(NotFoundError):
    code = "conversation_not_found"

    def __init__(self, conversation_id: str = ""):
        # Same answer whether it does not exist or is not the caller's: no hint that it exists.
        super().__init__("conversation not found")


class ForbiddenError(ParleyError):
    """The caller may see the thing but not do this to it (outsiders get a 404 instead)."""

    status = 403
    code = "forbidden"


class MessageNotFoundError(NotFoundError):
    code = "message_not_found"

    def __init__(self):
        # Same answer whether it does not exist or is not the caller's: no hint that it exists.
        super().__init__("message not found")


class MediaNotFoundError(NotFoundError):
    code = "media_not_found"

    def __init__(self):
        # Same answer whether it does not exist, is not the caller's to see, or was deleted.
        super().__init__("media not found")


class ConflictError(ParleyError):
    status = 409
    code = "conflict"


class PayloadTooLargeError(ParleyError):
    status = 413
    code = "payload_too_large"


class RateLimitedError(ParleyError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int):
        super().__init__(message, details={"retry_after_seconds": retry_after_seconds})
        self.retry_after_seconds = retry_after_seconds


class StorageUnavailableError(ParleyError):
    """The database kept failing (throttling, conflicts) after retries; the caller may retry."""

    status = 503
    code = "unavailable"


class ResyncRequiredError(ParleyError):
    """A sync cursor older than the event log's retention: events may be gone; refetch history instead."""

    status = 410
    code = "resync_required"
