"""Builds the OpenAPI 3.1 and AsyncAPI 3 documents from the route table (shared/routes.py) and the schemas
(shared/contracts/schemas.py), and writes the checked-in copies:

    .venv/bin/python -m shared.contracts.generate          # writes shared/contracts/{openapi,asyncapi}.json
    .venv/bin/python -m shared.contracts.generate --check  # exit 1 if either is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.domain import limits
from shared.contracts.schemas import (
    COMPONENTS,
    HTTP_CONTRACTS,
    SERVER_EVENTS,
    WS_ACTIONS,
    action_schema,
    all_error_classes,
    error_statuses,
    ref,
)
from shared.routes import HTTP_PREFIX, HTTP_ROUTES, WEBSOCKET_ROUTES, Route

HERE = Path(__file__).parent
OPENAPI_PATH = HERE / "openapi.json"
ASYNCAPI_PATH = HERE / "asyncapi.json"
REGENERATE = ".venv/bin/python -m shared.contracts.generate"
VERSION = "1.0.0"
LOCAL_ORIGIN = "http://127.0.0.1:8000"  # infra/local/cli.py's default
WS_PATH = "/ws"  # parley local's WebSocket path (the deployed stack's URL ends in its stage, /prod)

# What the runtime's Lambda routes never answer for, but the stack's API Gateway routes can.
_GATEWAY = ref("GatewayMessage")


class MissingContract(Exception):
    pass


# API Gateway answers these itself too, with its own body (a request it cannot parse, e.g. a URL too long;
# no token; throttling; integration failures).
_GATEWAY_STATUSES = (400, 401, 413, 429, 500, 503)
_ERROR_DESCRIPTIONS = {
    400: "Bad request: the message says what is wrong (API Gateway's own for a request it cannot parse)",
    401: "Missing, invalid or expired token",
    413: "Request body too large",
    429: "Too many requests (a send or typing limit, or API Gateway's throttling)",
    500: "Internal error (logged; retrying may help)",
    503: "Storage unavailable or timed out: retry shortly",
}


def _error_responses() -> dict[str, dict]:
    """components/responses: each status's error answer; Gateway<status> for the public route's."""
    responses = {}
    for status in error_statuses():
        schema = ref(f"Error{status}")
        if status in _GATEWAY_STATUSES:
            schema = {"oneOf": [schema, _GATEWAY]}
        description = _ERROR_DESCRIPTIONS.get(status) or next(e.__doc__ or e.code for e in all_error_classes() if e.status == status)
        responses[f"Error{status}"] = {"description": description.strip(), "content": {"application/json": {"schema": schema}}}
    responses["Error429"]["headers"] = {
        "retry-after": {"description": "seconds to wait (Parley's own 429s)", "schema": {"type": "string", "pattern": "^[0-9]+$"}}
    }
    for status in _GATEWAY_STATUSES:
        responses[f"Gateway{status}"] = {
            "description": f"API Gateway's own answer: {_ERROR_DESCRIPTIONS[status]}",
            "content": {"application/json": {"schema": _GATEWAY}},
        }
    return responses


def _errors(route: Route, contract) -> dict[str, dict]:
    """Every error answer a route may give: those of every route, its own (the contract's), API Gateway's."""
    if route.public:  # no token, no Parley code: only API Gateway's answers
        return {str(s): {"$ref": f"#/components/responses/Gateway{s}"} for s in (429, 500, 503)}
    statuses = {400, 401, 429, 500, 503} | {error.status for error in contract.errors}
    if contract.body is not None:
        statuses.add(413)
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


def _operation(route: Route) -> dict:
    contract = HTTP_CONTRACTS.get(route.name)
    if contract is None:
        raise MissingContract(
            f"route {route.name} ({route.key}) has no contract: add HTTP_CONTRACTS[{route.name!r}] to "
            f"shared/contracts/schemas.py, then run {REGENERATE}"
        )
    operation: dict = {
        "operationId": route.name,
        "summary": contract.summary,
        "tags": [route.path.removeprefix(HTTP_PREFIX).split("/")[1]],
    }
    parameters = []
    if "{id}" in route.path:
        if contract.path_id is None:
            raise MissingContract(f"route {route.name} has an {{id}} but its contract gives no path_id schema")
        parameters.append({"name": "id", "in": "path", "required": True, "schema": contract.path_id})
    for name, query in contract.query.items():
        parameters.append(
            {"name": name, "in": "query", "required": query.required, "description": query.description, "schema": query.schema}
        )
    if parameters:
        operation["parameters"] = parameters
    if contract.body is not None:
        operation["requestBody"] = {
            "required": contract.body_required,
            "content": {"application/json": {"schema": contract.body}},
        }
    responses = {}
    for status, body in contract.responses.items():
        description = {200: "OK", 201: "Created", 204: "No content"}.get(status, str(status))
        responses[str(status)] = {"description": description}
        if body is not None:
            responses[str(status)]["content"] = {"application/json": {"schema": body}}
    responses.update(_errors(route, contract))
    operation["responses"] = dict(sorted(responses.items()))
    if route.public:
        operation["security"] = []
    return operation


def openapi() -> dict:
    stale = set(HTTP_CONTRACTS) - {r.name for r in HTTP_ROUTES}
    if stale:
        raise MissingContract(f"contracts for routes the route table no longer has: {sorted(stale)}")
    paths: dict[str, dict] = {}
    for route in HTTP_ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Parley HTTP API",
            "version": VERSION,
            "description": (
                "1-on-1 messaging. Every route but this document needs `Authorization: Bearer <JWT>`. "
                "Real-time events come over the WebSocket (see asyncapi.json). "
                f"Generated from shared/routes.py and shared/contracts/schemas.py: {REGENERATE}"
            ),
        },
        "servers": [
            {"url": "/", "description": "the origin that served this document"},
            {"url": LOCAL_ORIGIN, "description": "parley local"},
        ],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "responses": _error_responses(),
            "schemas": dict(sorted(COMPONENTS.items())),
        },
    }


def asyncapi() -> dict:
    routed = {r.key for r in WEBSOCKET_ROUTES if not r.key.startswith("$")}
    if routed != set(WS_ACTIONS):
        raise MissingContract(
            f"WebSocket actions without a contract: {sorted(routed - set(WS_ACTIONS))}; contracts without a "
            f"route: {sorted(set(WS_ACTIONS) - routed)} (shared/contracts/schemas.py WS_ACTIONS, then {REGENERATE})"
        )
    channel_ref = {"$ref": "#/channels/parley"}
    messages: dict[str, dict] = {}
    operations: dict[str, dict] = {}
    for action, spec in WS_ACTIONS.items():
        messages[action] = {
            "name": action,
            "title": f"{action} (client to server)",
            "summary": spec.summary,
            "contentType": "application/json",
            "payload": action_schema(action),
        }
    for event in SERVER_EVENTS:
        messages[f"event_{event.type}"] = {
            "name": event.type,
            "title": f"{event.type} (server to client)",
            "summary": event.summary,
            "contentType": "application/json",
            "payload": ref(f"Event_{event.type}"),
        }
    for action, spec in WS_ACTIONS.items():
        # The document describes Parley: it receives the clients' actions and sends them events.
        operations[action] = {
            "action": "receive",
            "channel": channel_ref,
            "summary": spec.summary,
            "messages": [{"$ref": f"#/channels/parley/messages/{action}"}],
            "reply": {
                "channel": channel_ref,
                "messages": [{"$ref": f"#/channels/parley/messages/event_{reply}"} for reply in spec.replies],
            },
        }
    for event in SERVER_EVENTS:
        operations[f"send_{event.type}"] = {
            "action": "send",
            "channel": channel_ref,
            "summary": event.summary,
            "messages": [{"$ref": f"#/channels/parley/messages/event_{event.type}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Parley WebSocket API",
            "version": VERSION,
            "description": (
                "Connect with ?token=<JWT>. Client frames are JSON objects whose `action` picks the route; "
                f"frames are at most {limits.WS_MAX_FRAME_BYTES} bytes. Any other action gets an error frame. "
                f"Generated from shared/routes.py and shared/contracts/schemas.py: {REGENERATE}"
            ),
        },
        "servers": {
            "local": {
                "host": LOCAL_ORIGIN.removeprefix("http://"),
                "pathname": WS_PATH,
                "protocol": "ws",
                "description": "parley local",
                "security": [{"$ref": "#/components/securitySchemes/token"}],
            }
        },
        "defaultContentType": "application/json",
        "channels": {
            "parley": {
                "address": None,
                "description": "The user's connection: one per device",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": operations,
        "components": {
            "securitySchemes": {"token": {"type": "httpApiKey", "name": "token", "in": "query", "description": "a JWT"}},
            "messages": messages,
            "schemas": dict(sorted(COMPONENTS.items())),
        },
    }


def render(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def documents() -> dict[Path, str]:
    return {OPENAPI_PATH: render(openapi()), ASYNCAPI_PATH: render(asyncapi())}


def main(argv: list[str]) -> int:
    stale = [path for path, text in documents().items() if not path.exists() or path.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path} is not current: run {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in documents().items():
        path.write_text(text)
    print(f"wrote {', '.join(str(p) for p in documents())}" if stale else "already current")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
