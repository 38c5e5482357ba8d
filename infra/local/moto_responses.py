"""A fast path for the answers of moto's busiest DynamoDB and DynamoDB Streams operations.

moto (5.x) turns every result into JSON with a generic serializer that walks botocore's output shape
member by member, looking each value up through several alias pickers: a third of the moto process's
CPU under `parley local`'s load (py-spy, tests/benchmarks/README.md). The results of these operations
are already in DynamoDB's wire format (moto builds them as {"Item": {"name": {"S": "x"}}, …}), so for
them json.dumps gives the same body, once bytes become base64, datetimes epoch seconds, and None
members and top-level members the operation doesn't answer with are left out, as the serializer does. Errors and every other operation keep moto's serializer;
tests/infra/test_moto_responses.py checks both give the same answers.
"""

from __future__ import annotations

import base64
import calendar
import datetime
import decimal
import functools
import json
from typing import Any

FAST_OPERATIONS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem", "BatchWriteItem",
    "TransactWriteItems", "TransactGetItems", "GetRecords", "GetShardIterator",
})  # fmt: skip
CONTENT_TYPE = "application/x-amz-json-1.0"


def wire(value: Any) -> Any:
    """The JSON value moto's serializer writes for `value` (a result built by moto's DynamoDB code)."""
    if isinstance(value, dict):
        return {key: wire(member) for key, member in value.items() if member is not None}
    if isinstance(value, list | tuple):
        return [wire(member) for member in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):
        seconds = calendar.timegm(value.timetuple())  # as moto's: truncated to milliseconds
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


@functools.cache
def _output_members(service: str, operation: str) -> frozenset[str]:
    """What the operation's answer may hold: moto's serializer leaves out anything else it was given."""
    from moto.core.responses import get_service_model

    return frozenset(get_service_model(service).operation_model(operation).output_shape.members)


def install() -> None:
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        serialized = handler.serialized

        @functools.wraps(serialized)
        def fast_serialized(self, action_result: ActionResult, _serialized=serialized):
            result = action_result.result
            if isinstance(result, Exception) or self._get_action() not in FAST_OPERATIONS:
                return _serialized(self, action_result)
            members = _output_members(self.boto3_service_name, self._get_action())
            body = {name: wire(value) for name, value in result.items() if name in members and value is not None}
            headers = {"Content-Type": CONTENT_TYPE}
            headers.update(self.response_headers)
            return 200, headers, json.dumps(body, separators=(",", ":"))

        handler.serialized = fast_serialized
