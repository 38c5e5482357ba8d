"""Validation against the generated contracts (shared/contracts/*.json): every WebSocket frame by its
`action` or `type` (AsyncAPI), every HTTP answer by its route and status (OpenAPI).

A failure names the frame or the request, what in it is wrong (a JSON path) and the schema rule it broke
(a path into the document), e.g.:

    frame new_message (server to client) breaks the contract at $.data.message.seq: 0 is less than the
    minimum of 1 [asyncapi.json#/components/schemas/Message/properties/seq/minimum] …
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

CONTRACTS = Path(__file__).resolve().parents[2] / "shared" / "contracts"


class ContractViolation(AssertionError):
    pass


@functools.cache
def document(name: str) -> dict:
    return json.loads((CONTRACTS / name).read_text())


@functools.cache
def _registry(name: str) -> Registry:
    return Registry().with_resource(f"urn:parley:{name}", Resource.from_contents(document(name), DRAFT202012))


@functools.cache
def _validator(name: str, pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"urn:parley:{name}#{pointer}"}, registry=_registry(name))


def _check(name: str, pointer: str, instance: object, what: str) -> None:
    error = best_match(_validator(name, pointer).iter_errors(instance))
    if error is None:
        return
    # The schema path runs through $refs; name the rule where it failed, as a path into the document.
    rule = "/".join(str(part) for part in error.schema_path)
    text = json.dumps(instance, ensure_ascii=False)
    raise ContractViolation(
        f"{what} breaks the contract at {error.json_path}: {error.message} "
        f"[{name}#{pointer} → {rule}] in {text[:2000]}"
    )


def validate_client_frame(frame: object) -> None:
    """A frame the client sends: a JSON object whose `action` is a WebSocket route with a contract."""
    actions = document("asyncapi.json")["components"]["messages"]
    action = frame.get("action") if isinstance(frame, dict) else None
    if not isinstance(action, str) or action not in actions or action.startswith("event_"):
        raise ContractViolation(f"frame with action {action!r} (client to server) names no action of asyncapi.json: {frame!r}"[:2000])
    _check("asyncapi.json", f"/components/messages/{action}/payload", frame, f"frame {action} (client to server)")


def validate_server_frame(frame: object) -> None:
    """A frame the server sent, by its `type`."""
    event_type = frame.get("type") if isinstance(frame, dict) else None
    if not isinstance(event_type, str) or f"event_{event_type}" not in document("asyncapi.json")["components"]["messages"]:
        raise ContractViolation(f"frame of type {event_type!r} (server to client) is no event of asyncapi.json: {frame!r}"[:2000])
    _check("asyncapi.json", f"/components/schemas/Event_{event_type}", frame, f"frame {event_type} (server to client)")


@functools.cache
def _operations() -> list[tuple[str, re.Pattern, str]]:
    found = []
    for path, methods in document("openapi.json")["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        for method in methods:
            found.append((method.upper(), pattern, path))
    # Literal paths first, as API Gateway picks them (/conversations/unread-count over /conversations/{id}).
    return sorted(found, key=lambda entry: entry[2].count("{"))


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _operation_path(method: str, path: str, what: str) -> str:
    matched = next((p for m, pattern, p in _operations() if m == method.upper() and pattern.match(path)), None)
    if matched is None:
        raise ContractViolation(f"{what}: no operation of openapi.json has this method and path")
    return matched


def validate_http_request_body(method: str, path: str, body: object) -> None:
    """A request body the client sends (path as requested), by the route it reaches."""
    what = f"{method} {path} (request body)"
    matched = _operation_path(method, path, what)
    pointer = f"/paths/{_escape(matched)}/{method.lower()}/requestBody/content/application~1json/schema"
    _check("openapi.json", pointer, body, what)


def validate_http_response(method: str, path: str, status: int, body: object) -> None:
    """An HTTP answer of the API (path as requested, e.g. /api/v1/conversations/dm_…/messages), by the
    route it reached and its status; a status the route does not declare is a violation too."""
    what = f"{method} {path} → {status}"
    matched = _operation_path(method, path, what)
    responses = document("openapi.json")["paths"][matched][method.lower()]["responses"]
    if str(status) not in responses:
        raise ContractViolation(f"{what}: the operation {method} {matched} declares no {status} answer: {body!r}"[:2000])
    response = responses[str(status)]
    if "$ref" in response:
        pointer = response["$ref"].removeprefix("#")
        response = document("openapi.json")["components"]["responses"][pointer.rsplit("/", 1)[1]]
    else:
        pointer = f"/paths/{_escape(matched)}/{method.lower()}/responses/{status}"
    if "content" not in response:
        if body is not None:
            raise ContractViolation(f"{what}: the contract has no body here, got {body!r}"[:2000])
        return
    _check("openapi.json", f"{pointer}/content/application~1json/schema", body, what)
