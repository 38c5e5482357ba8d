"""API Gateway events as the handlers receive them, for in-process tests."""

from __future__ import annotations

import json
import uuid

from shared.resources import WEBSOCKET_STAGE
from shared.routes import ROUTES


def http_event(route_name: str, *, user_id: str | None, path: dict | None = None, query: dict | None = None,
               body: dict | str | None = None, auth_error: str | None = None) -> dict:
    route = next(r for r in ROUTES if r.name == route_name)
    authorizer = {"user_id": user_id} if user_id else {"auth_error": auth_error or "missing token"}
    raw_path = route.path
    for key, value in (path or {}).items():
        raw_path = raw_path.replace("{" + key + "}", value)
    return {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": raw_path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json"},
        "queryStringParameters": query or None,
        "pathParameters": path or None,
        "requestContext": {
            "authorizer": {"lambda": authorizer},
            "http": {"method": route.method, "path": raw_path},
            "requestId": str(uuid.uuid4()),
            "routeKey": route.key,
            "stage": "$default",
        },
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def ws_event(route_key: str, *, connection_id: str, user_id: str | None, body: dict | str | None = None) -> dict:
    authorizer = {"principalId": user_id, "user_id": user_id} if user_id else None
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    return {
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "connectionId": connection_id,
            "connectedAt": 1_700_000_000_000,
            "requestId": str(uuid.uuid4()),
            "authorizer": authorizer,
            "stage": WEBSOCKET_STAGE,
        },
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def parse(response: dict) -> tuple[int, dict]:
    return response["statusCode"], json.loads(response.get("body") or "null")


def stream_record(event_name: str, *, keys: dict, new: dict | None = None, old: dict | None = None,
                  sequence_number: str = "100", expired: bool = False, table: str = "messages") -> dict:
    """One record of a Lambda DynamoDB stream event; keys and images in DynamoDB JSON."""
    change = {
        "ApproximateCreationDateTime": 1700000000,
        "Keys": keys,
        "SequenceNumber": sequence_number,
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        change["NewImage"] = new
    if old is not None:
        change["OldImage"] = old
    record = {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-01-01T00:00:00.000",
        "dynamodb": change,
    }
    if expired:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record
