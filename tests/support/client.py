"""A small real client for Parley: HTTP through aiohttp, WebSocket through aiohttp's client.

Used by the e2e suite and the benchmarks, against `parley local` or a deployed stack. It holds both sides to
the contracts (shared/contracts, tests/support/contracts.py): every HTTP answer is validated against the
OpenAPI document, every frame sent or received against the AsyncAPI document. A frame sent on purpose
against the contract goes through `Socket.send_off_contract`; a received frame that breaks it is raised by
the next `Socket.next` and kept in CONTRACT_VIOLATIONS, which tests/e2e/conftest.py checks after each test.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import aiohttp
from yarl import URL

from tests.support.contracts import (
    ContractViolation,
    validate_client_frame,
    validate_http_response,
    validate_server_frame,
)

# Received frames that broke the contract (a reader task cannot raise): tests/e2e/conftest.py fails the test.
CONTRACT_VIOLATIONS: list[ContractViolation] = []


class ParleyClient:
    def __init__(self, session: aiohttp.ClientSession, http_url: str, ws_url: str, token: str, *, check_contracts: bool = True):
        self.session = session
        self.check_contracts = check_contracts  # off in benchmarks: validation would count as latency
        self.http_url = http_url.rstrip("/")
        self.ws_url = ws_url
        self.token = token

    async def request(self, method: str, path: str, *, json_body=None, params=None, headers=None) -> tuple[int, dict]:
        all_headers = {"authorization": f"Bearer {self.token}"} | (headers or {})
        async with self.session.request(
            method, self.http_url + path, json=json_body, params=params, headers=all_headers
        ) as response:
            text = await response.text()
            body = json.loads(text) if text else None
            if self.check_contracts:
                validate_http_response(method, URL(self.http_url + path).path, response.status, body)
            return response.status, body

    async def start_conversation(self, peer_id: str) -> str:
        status, body = await self.request("POST", f"/conversations/{peer_id}")
        assert status in (200, 201), (status, body)
        return body["conversation"]["id"]

    async def send(self, conversation_id: str, content: str, client_message_id: str | None = None):
        return await self.request(
            "POST",
            f"/conversations/{conversation_id}/messages",
            json_body={"client_message_id": client_message_id or uuid.uuid4().hex, "type": "text", "content": content},
        )

    async def connect(self) -> Socket:
        ws = await self.session.ws_connect(self.ws_url, params={"token": self.token}, autoping=True)
        return Socket(ws, check_contracts=self.check_contracts)


class Socket:
    """A WebSocket connection that sorts incoming frames by type as they arrive."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, *, check_contracts: bool = True):
        self.ws = ws
        self.check_contracts = check_contracts
        self.frames: list[tuple[float, dict]] = []
        self.violations: list[ContractViolation] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self):
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                frame = json.loads(msg.data)
                try:
                    if self.check_contracts:
                        validate_server_frame(frame)
                except ContractViolation as violation:
                    self.violations.append(violation)
                    CONTRACT_VIOLATIONS.append(violation)
                self.frames.append((time.perf_counter(), frame))
                self._arrived.set()

    async def send(self, frame: dict):
        if self.check_contracts:
            validate_client_frame(frame)
        await self.ws.send_str(json.dumps(frame))

    async def send_off_contract(self, frame: dict | str):
        """Sends what a test means to break the contract with (raw text or an object); it must break it."""
        try:
            validate_client_frame(frame if isinstance(frame, dict) else None)
        except ContractViolation:
            await self.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))
            return
        raise AssertionError(f"{frame!r} keeps to the contract: send it with send()")

    async def send_message(self, conversation_id: str, content: str, client_message_id: str | None = None):
        await self.send(
            {
                "action": "sendMessage",
                "conversation_id": conversation_id,
                "client_message_id": client_message_id or uuid.uuid4().hex,
                "type": "text",
                "content": content,
            }
        )

    async def next(self, predicate=lambda frame: True, timeout: float = 5.0) -> dict:
        """The first frame (received so far or later) matching `predicate`; consumed once returned."""
        deadline = time.monotonic() + timeout
        while True:
            if self.violations:
                raise self.violations[0]
            for index, (_, frame) in enumerate(self.frames):
                if predicate(frame):
                    del self.frames[index]
                    return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame within {timeout}s; have {[f for _, f in self.frames]}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def close(self):
        await self.ws.close()
        self._reader.cancel()

    @property
    def closed(self) -> bool:
        return self.ws.closed


def of_type(event_type: str, **data_matches):
    def predicate(frame: dict) -> bool:
        if frame.get("type") != event_type:
            return False
        message = (frame.get("data") or {}).get("message") or {}
        return all(message.get(k) == v for k, v in data_matches.items())

    return predicate
