"""The contracts as a client developer meets them: the OpenAPI document served without a token."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from shared.contracts.generate import OPENAPI_PATH

pytestmark = pytest.mark.e2e


def test_the_api_serves_its_openapi_document_to_anyone(target):
    async def fetch():
        async with aiohttp.ClientSession() as session, session.get(f"{target.http_url}/openapi.json") as response:
            return response.status, response.headers.get("Content-Type", ""), await response.read()

    status, content_type, body = asyncio.run(fetch())
    assert status == 200 and content_type.startswith("application/json")
    assert json.loads(body) == json.loads(OPENAPI_PATH.read_text())
