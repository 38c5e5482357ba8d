"""What every repository shares: storage failures turned into domain errors, and transaction plumbing."""

from __future__ import annotations

import contextlib
import functools
import random
import time

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError

from shared.domain import limits
from shared.config import aws_region

from shared.domain.errors import StorageUnavailableError
from shared.log import logger


@contextlib.contextmanager
def storage_call(operation: str):
    try:
        yield
    except PynamoDBException as error:
        logger.warning("storage call failed", extra={"operation": operation, "cause": _cause_code(error)})
        raise StorageUnavailableError("storage is unavailable, retry shortly") from error


@functools.cache
def transaction_connection() -> Connection:
    """The connection TransactWrite needs (models bring their own); one per process, with the models' time
    budget (PynamoDB's defaults, 15 s connect and 30 s read, outlast the function)."""
    return Connection(
        region=aws_region(),
        connect_timeout_seconds=limits.STORAGE_CONNECT_TIMEOUT_SECONDS,
        read_timeout_seconds=limits.STORAGE_READ_TIMEOUT_SECONDS,
        max_retry_attempts=limits.STORAGE_RETRY_ATTEMPTS,
    )


def is_conditional_failure(error: PynamoDBException) -> bool:
    return _cause_code(error) == "ConditionalCheckFailedException"


def _cause_code(error: PynamoDBException) -> str:
    """DynamoDB's error code; with no answer (a timeout, a dropped connection) the failure's name instead,
    where PynamoDB's own cause_response_code raises."""
    response = getattr(error.cause, "response", None) or {}
    return response.get("Error", {}).get("Code") or type(error.cause).__name__


def cancellation_codes(error: TransactWriteError) -> list[str | None]:
    """Why each item of a cancelled transaction failed, in item order (None: that item was fine)."""
    return [reason.code if reason else None for reason in (error.cancellation_reasons or [])]


def retry_transaction(write, attempts: int = 4):
    """Runs `write()` again when DynamoDB cancels it for a conflict with a concurrent transaction."""
    for attempt in range(attempts):
        try:
            return write()
        except TransactWriteError as error:
            if "TransactionConflict" not in cancellation_codes(error) or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
