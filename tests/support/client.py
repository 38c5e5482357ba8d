"""A small real client for Parley: HTTP through aiohttp, WebSocket through aiohttp's client.

Used by the e2e suite and the benchmarks, against `parley local` or a deployed stack.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import aiohttp


class ParleyClient:
    def __init__(self, session: aiohttp.ClientSession, http_url: str, ws_url: str, token: str):
        self.session = session
        self.http_url = http_url.rstrip("/")
        self.ws_url = ws_url
        self.token = token

    async def request(self, method: str, path: str, *, json_body=None, params=None, headers=None) -> tuple[int, dict]:
        all_headers = {"authorization": f"Bearer {self.token}"} | (headers or {})
        async with self.session.request(
            method, self.http_url + path, json=json_body, params=params, headers=all_headers
        ) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

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
        return Socket(ws)


class Socket:
    """A WebSocket connection that sorts incoming frames by type as they arrive."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self.frames: list[tuple[float, dict]] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self):
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.frames.append((time.perf_counter(), json.loads(msg.data)))
                self._arrived.set()

    async def send(self, frame: dict):
        await self.ws.send_str(json.dumps(frame))

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
