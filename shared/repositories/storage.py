"""What every repository shares: storage failures turned into domain errors, and transaction plumbing."""

from __future__ import annotations

import contextlib
import functools
import random
import time

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError

from shared.config import aws_region

from shared.errors import StorageUnavailableError
from shared.log import logger


@contextlib.contextmanager
def storage_call(operation: str):
    try:
        yield
    except PynamoDBException as error:
        logger.warning("storage call failed", extra={"operation": operation, "cause": error.cause_response_code})
        raise StorageUnavailableError("storage is unavailable, retry shortly") from error


@functools.cache
def transaction_connection() -> Connection:
    """The connection TransactWrite needs (models bring their own); one per process."""
    return Connection(region=aws_region())


def is_conditional_failure(error: PynamoDBException) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


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
