"""AWS list prices and DynamoDB capacity units, for the cost per million messages (calls_per_send.py).

Capacity follows DynamoDB's rules from the items' sizes: a write is ceil(size / 1 KB) write units (an
update: the item's size after it; a transactional write twice that); a read ceil(size / 4 KB) read units,
halved when eventually consistent (a transactional read twice); a Query or BatchGetItem sums the sizes
of the items it reads (the whole items, whatever the projection). A failed conditional write still
consumes its units. DynamoDB Streams reads made by Lambda triggers are free.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from dataclasses import dataclass, field

# us-east-1 list prices (USD), November 2026.
PRICES = {
    "websocket_message": 1.00 / 1e6,  # API Gateway WebSocket, per message (32 KB units), first billion
    "websocket_connection_minute": 0.25 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand read request unit
}
# The floor for one 1-on-1 text message: one WebSocket message in, its acknowledgment frame, one
# push out, one Lambda request, one 1 KB write.
FLOOR_PER_MESSAGE = 3 * PRICES["websocket_message"] + PRICES["lambda_request"] + PRICES["dynamodb_write_unit"]
# The least any design meeting issue 6's guarantees can pay, before Lambda durations, consumer invocations
# and conversation rows: the durable claim and the message have different keys and commit together (a 2-item
# transaction: 4 write units, not the floor's 1), each user's gap-free event log gets its own entry (2 units),
# and the connections are found by a consistent read (at least 1 read unit).
GUARANTEES_BOUND_PER_MESSAGE = FLOOR_PER_MESSAGE + 5 * PRICES["dynamodb_write_unit"] + PRICES["dynamodb_read_unit"]


def _value_size(value: dict) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        digits = data.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(base64.b64decode(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(_value_size({"N": n}) for n in data)
    return 0


def item_size(item: dict) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(sizes: list[int], consistent: bool) -> float:
    units = max(1, math.ceil(sum(sizes) / 4096))
    return units if consistent else units / 2


@dataclass
class Capacity:
    write_units: float = 0
    read_units: float = 0
    by_operation: Counter = field(default_factory=Counter)

    def add(self, operation: str, writes: float = 0, reads: float = 0):
        self.write_units += writes
        self.read_units += reads
        self.by_operation[operation] += writes + reads


class CapacityMeter:
    """botocore hooks that price every DynamoDB call from its request and response.

    `lookup(table, key)` reads an item's current size (for a transaction's updates, whose results
    DynamoDB does not return) and `query_all(request)` repeats a projected Query unprojected (billing
    counts the whole items); both through a client this meter does not watch."""

    def __init__(self, lookup, query_all):
        self.capacity = Capacity()
        self._lookup = lookup
        self._query_all = query_all

    def reset(self):
        self.capacity = Capacity()

    def register(self, client) -> None:
        if client.meta.service_model.service_name != "dynamodb":
            return
        client.meta.events.register("before-call", self._before)
        client.meta.events.register("after-call", self._after)

    def _before(self, model, params, context, **kwargs):
        body = params.get("body") or b"{}"
        context["capacity_request"] = json.loads(body.decode() if isinstance(body, bytes) else body or "{}")

    def _after(self, model, parsed, context, http_response, **kwargs):
        request = context.get("capacity_request") or {}
        op = model.name
        failed = http_response.status_code >= 400
        if op == "PutItem":
            self.capacity.add(op, writes=write_units(item_size(request["Item"])))
        elif op == "UpdateItem":
            after = parsed.get("Attributes") or self._lookup(request["TableName"], request["Key"]) or {}
            self.capacity.add(op, writes=write_units(item_size(after)))
        elif op == "DeleteItem":
            self.capacity.add(op, writes=1)
        elif op == "TransactWriteItems":
            for entry in request["TransactItems"]:
                ((kind, spec),) = entry.items()
                item = spec.get("Item") or self._lookup(spec["TableName"], spec["Key"]) or {}
                self.capacity.add(op, writes=2 * write_units(item_size(item)))
        elif op == "GetItem" and not failed:
            size = item_size(parsed.get("Item") or {})
            self.capacity.add(op, reads=read_units([size], bool(request.get("ConsistentRead"))))
        elif op == "BatchGetItem" and not failed:
            for table, items in (parsed.get("Responses") or {}).items():
                consistent = bool(request["RequestItems"][table].get("ConsistentRead"))
                for item in items:  # each item is read (and rounded) on its own
                    self.capacity.add(op, reads=read_units([item_size(item)], consistent))
        elif op == "Query" and not failed:
            items = parsed.get("Items") or []
            if request.get("ProjectionExpression") or request.get("AttributesToGet"):
                items = self._query_all(request)
            self.capacity.add(op, reads=read_units([item_size(i) for i in items], bool(request.get("ConsistentRead"))))


def websocket_cost(messages: float) -> float:
    return messages * PRICES["websocket_message"]


def lambda_cost(requests: float, memory_mb: int, seconds: float) -> float:
    return requests * (PRICES["lambda_request"] + memory_mb / 1024 * seconds * PRICES["lambda_gb_second_arm64"])


def dynamodb_cost(capacity: Capacity) -> float:
    return capacity.write_units * PRICES["dynamodb_write_unit"] + capacity.read_units * PRICES["dynamodb_read_unit"]
