"""Lambda's trigger events, built the way AWS builds them: DynamoDB stream records, the stream mapping's
on-failure record, and EventBridge's Scheduled Event.

`lambda_record` turns one record of the DynamoDB Streams API (GetRecords, as botocore parses it) into the
record Lambda's event source mapping puts in the event: the same fields plus ``eventSourceARN``,
``ApproximateCreationDateTime`` in epoch seconds, binary values base64-encoded, and ``userIdentity``
spelled as Lambda spells it.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from infra.local.lambda_context import ACCOUNT_ID


def _json_value(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value as JSON carries it: botocore gives binary as bytes, events carry base64."""
    ((kind, data),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(data).decode("ascii")}
    if kind == "BS":
        return {"BS": [base64.b64encode(item).decode("ascii") for item in data]}
    if kind == "M":
        return {"M": {name: _json_value(item) for name, item in data.items()}}
    if kind == "L":
        return {"L": [_json_value(item) for item in data]}
    return {kind: data}


def _json_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in item.items()}


def _epoch_seconds(value: datetime | float | int) -> float:
    """Epoch seconds rounded down to the second, as DynamoDB Streams reports it (a JSON number)."""
    seconds = value.timestamp() if isinstance(value, datetime) else float(value)
    return float(int(seconds))


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    change = record["dynamodb"]
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": _epoch_seconds(change["ApproximateCreationDateTime"])}
    for name in ("Keys", "NewImage", "OldImage"):
        if name in change:
            dynamodb[name] = _json_item(change[name])
    dynamodb["SequenceNumber"] = change["SequenceNumber"]
    dynamodb["SizeBytes"] = change["SizeBytes"]
    dynamodb["StreamViewType"] = change["StreamViewType"]
    event_record = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record["eventVersion"],
        "eventSource": record["eventSource"],
        "awsRegion": record["awsRegion"],
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    identity = record.get("userIdentity")
    if identity:
        event_record["userIdentity"] = {"type": identity["Type"], "principalId": identity["PrincipalId"]}
    return event_record


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def on_failure_record(
    records: list[dict[str, Any]],
    *,
    shard_id: str,
    stream_arn: str,
    function_arn: str,
    request_id: str,
    condition: str,
    invoke_count: int,
    function_error: str | None,
) -> dict[str, Any]:
    """What Lambda sends to a stream mapping's on-failure destination about a batch it gave up on
    (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html)."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        response_context["functionError"] = function_error
    first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": _iso(datetime.now(UTC).timestamp()),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso(first["ApproximateCreationDateTime"]),
            "approximateArrivalOfLastRecord": _iso(last["ApproximateCreationDateTime"]),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


def scheduled_event(*, rule_name: str, region: str, event_id: str, epoch_seconds: float) -> dict[str, Any]:
    """EventBridge's Scheduled Event, as a schedule rule's target receives it."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.fromtimestamp(int(epoch_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }
