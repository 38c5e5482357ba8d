"""Pushes frames to WebSocket connections through API Gateway's management API (@connections)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from shared import metrics

from shared.domain import limits
from shared.realtime.concurrency import IO_CONCURRENCY, run_concurrently
from shared.log import logger


class Pusher(Protocol):
    def post(self, connection_id: str, data: bytes) -> bool:
        """Sends data to one connection; False when the connection is gone (410)."""


class ManagementApiPusher:
    def __init__(self, endpoint_url: str):
        self._endpoint_url = endpoint_url
        self._client = None
        self._lock = threading.Lock()

    def post(self, connection_id: str, data: bytes) -> bool:
        client = self._get_client()
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
        except client.exceptions.GoneException:
            return False
        return True

    def prepare(self) -> None:
        """Makes the client now rather than on the first push (Lambda's init phase: shared/wiring.py)."""
        self._get_client()

    def _get_client(self):
        with self._lock:
            if self._client is None:
                from botocore.config import Config

                from shared.storage.aws import botocore_session

                self._client = botocore_session().create_client(
                    "apigatewaymanagementapi",
                    endpoint_url=self._endpoint_url,
                    config=Config(
                        # Its only call's parameters are built here: a connection id from the connections
                        # table and a frame fan_out has checked. Validating them cost ~5% of each post.
                        parameter_validation=False,
                        connect_timeout=2,
                        read_timeout=5,
                        retries={"max_attempts": 2},
                        max_pool_connections=IO_CONCURRENCY,  # the fan-out's concurrency
                    ),
                )
            return self._client


@dataclass
class FanOutResult:
    delivered: int = 0
    gone: list[str] = field(default_factory=list)
    failed: int = 0


def fan_out(
    pusher: Pusher, connection_ids: Iterable[str], data: bytes, *, alongside: Callable[[], object] | None = None
) -> FanOutResult:
    """Posts to every connection at once; a failed post is logged, never fatal to the caller. `alongside`:
    one more I/O call (that never raises) made at the same time as the posts, e.g. a cache invalidation."""
    connection_ids = list(connection_ids)
    result = FanOutResult()
    if len(data) > limits.WS_MAX_FRAME_BYTES:
        logger.error("frame too large to push", extra={"bytes": len(data)})
        connection_ids = []
    extra = [alongside] if alongside is not None else []
    if not connection_ids:
        run_concurrently(extra)
        return result

    def post(connection_id: str):
        try:
            return connection_id, pusher.post(connection_id, data)
        except Exception:
            logger.exception("push failed", extra={"connection_id": connection_id})
            return connection_id, None

    posts = [functools.partial(post, connection_id) for connection_id in connection_ids]
    outcomes = run_concurrently(posts + extra)[: len(posts)]
    for connection_id, delivered in outcomes:
        if delivered is True:
            result.delivered += 1
        elif delivered is False:
            result.gone.append(connection_id)
        else:
            result.failed += 1
    metrics.count(metrics.PUSHES_SENT, result.delivered)
    metrics.count(metrics.PUSHES_GONE, len(result.gone))
    metrics.count(metrics.PUSHES_FAILED, result.failed)
    return result
