"""The DynamoDB stream adapter: Lambda's stream event in, ``{"batchItemFailures": […]}`` out.

`stream_consumer` wraps a function that processes ONE record. Records are processed in the order Lambda
delivered them (for one partition key, the order of the writes). On the first record that raises, the
rest of the batch is left alone and that record's sequence number is reported: Lambda (and the local
runtime) retries the batch from there, so the failed record and everything after it come again, in
order, and after the route's retries the batch goes to the dead-letter destination. A consumer must
therefore be idempotent: a redelivered record changes nothing twice.

    # functions/on_message_stored.py
    from shared.adapters.stream import StreamRecord, stream_consumer
    from shared import wiring

    def process(record: StreamRecord) -> None:
        if record.event_name == "INSERT":
            wiring.conversations().on_message_stored(record.new_image)

    handler = stream_consumer(process)

The route needs ``report_batch_item_failures`` on its event source mapping (the CDK construct sets it for
every stream route). Images hold plain Python values: strings, ints (a number with no fraction),
Decimal (one with a fraction), bool, None, lists, dicts, sets, and bytes for binary.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from shared.log import logger
from shared.observability import lambda_handler

EventName = Literal["INSERT", "MODIFY", "REMOVE"]

# Who made the change, when it was not an application: DynamoDB's TTL deleting an expired item.
TTL_PRINCIPAL = "dynamodb.amazonaws.com"


def _number(text: str) -> int | Decimal:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else number


def plain(value: Mapping[str, Any]) -> Any:
    """One attribute value in DynamoDB's JSON (``{"N": "3"}``) as a plain Python value (``3``)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return data
    if kind == "N":
        return _number(data)
    if kind == "BOOL":
        return bool(data)
    if kind == "NULL":
        return None
    if kind == "M":
        return {name: plain(item) for name, item in data.items()}
    if kind == "L":
        return [plain(item) for item in data]
    if kind == "SS":
        return set(data)
    if kind == "NS":
        return {_number(item) for item in data}
    if kind == "B":
        return base64.b64decode(data) if isinstance(data, str) else bytes(data)
    if kind == "BS":
        return {base64.b64decode(item) if isinstance(item, str) else bytes(item) for item in data}
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def plain_item(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if image is None else {name: plain(value) for name, value in image.items()}


@dataclass(frozen=True)
class StreamRecord:
    """One change to one item, as a DynamoDB stream reports it."""

    event_name: EventName
    keys: dict[str, Any]
    new_image: dict[str, Any] | None  # None for REMOVE
    old_image: dict[str, Any] | None  # None for INSERT
    sequence_number: str
    approximate_creation_time: int  # epoch seconds
    expired: bool = False  # a REMOVE made by DynamoDB's TTL, not by the application
    raw: dict = field(default_factory=dict, repr=False, compare=False)  # the record as delivered

    @classmethod
    def from_event_record(cls, record: Mapping[str, Any]) -> StreamRecord:
        change = record["dynamodb"]
        identity = record.get("userIdentity") or {}
        return cls(
            event_name=record["eventName"],
            keys=plain_item(change["Keys"]),
            new_image=plain_item(change.get("NewImage")),
            old_image=plain_item(change.get("OldImage")),
            sequence_number=change["SequenceNumber"],
            approximate_creation_time=int(change.get("ApproximateCreationDateTime") or 0),
            expired=identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL,
            raw=dict(record),
        )


def stream_consumer(process: Callable[[StreamRecord], None]) -> Callable[[dict, object], dict]:
    """A Lambda handler for a DynamoDB stream event that runs `process` on each record, in order, and
    reports the first failure as a partial batch failure."""

    @lambda_handler
    @functools.wraps(process)
    def handler(event: dict, context: object) -> dict:
        for raw in event.get("Records") or ():
            sequence_number = (raw.get("dynamodb") or {}).get("SequenceNumber", "")
            try:
                process(StreamRecord.from_event_record(raw))
            except Exception:
                logger.exception(
                    "stream record failed; the batch resumes from it",
                    extra={
                        "sequence_number": sequence_number,
                        "event_name": raw.get("eventName"),
                        "event_source_arn": raw.get("eventSourceARN"),
                    },
                )
                return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
        return {"batchItemFailures": []}

    return handler


def stream_batch_consumer(process_batch: Callable[[list[StreamRecord]], int | None]) -> Callable[[dict, object], dict]:
    """Like `stream_consumer`, for a consumer that does its work a whole batch at a time (one write per
    user for many records): `process_batch` gets every record, in order, and returns None when all are done,
    or the position of the first record not done (the batch resumes there). If it raises, the whole batch
    comes again."""

    @lambda_handler
    @functools.wraps(process_batch)
    def handler(event: dict, context: object) -> dict:
        raw_records = list(event.get("Records") or ())
        if not raw_records:
            return {"batchItemFailures": []}
        try:
            failed_at = process_batch([StreamRecord.from_event_record(raw) for raw in raw_records])
        except Exception:
            logger.exception("stream batch failed; it comes again", extra={"records": len(raw_records)})
            failed_at = 0
        if failed_at is None:
            return {"batchItemFailures": []}
        sequence_number = (raw_records[failed_at].get("dynamodb") or {}).get("SequenceNumber", "")
        return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}

    return handler
