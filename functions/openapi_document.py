"""GET /api/v1/openapi.json: the HTTP API's OpenAPI 3.1 document, public (no token). It is the generated copy
shipped in the shared layer (shared/contracts/openapi.json), read once per instance."""

import functools
from importlib.resources import files

from shared.observability import lambda_handler

HEADERS = {"content-type": "application/json; charset=utf-8", "cache-control": "public, max-age=300"}


@functools.cache
def _document() -> str:
    return files("shared.contracts").joinpath("openapi.json").read_text(encoding="utf-8")


@lambda_handler
def handler(event: dict, context: object) -> dict:
    return {"statusCode": 200, "headers": HEADERS, "body": _document()}
