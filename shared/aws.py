"""One botocore session per process, and one client per service and settings, shared by PynamoDB and the
management-API pusher.

A fresh botocore session loads each service's model again (~50 ms here), and each client costs ~20 ms
more to build; PynamoDB makes a connection, hence a client, per model class and one for transactions,
so a cold send built five DynamoDB clients. All of them ask for the same thing (same region, endpoint and
settings), and botocore clients are safe to share between threads: the first is made, the rest reuse it.
botocore sessions are not safe for concurrent client creation, hence the lock.
"""

from __future__ import annotations

import threading

import botocore.session

from shared.config import aws_endpoint_override


class _SharedSession(botocore.session.Session):
    _create_lock = threading.Lock()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[tuple, object] = {}

    def create_client(self, service_name, region_name=None, *args, **kwargs):
        # What makes two clients interchangeable: what they talk to and how. The endpoint override in the
        # environment counts, since botocore resolves it when the client is made (tests move it).
        config = kwargs.get("config")
        key = (
            service_name,
            region_name,
            repr(args),
            repr(sorted((k, v) for k, v in kwargs.items() if k != "config")),
            repr(sorted(config._user_provided_options.items())) if config is not None else None,
            aws_endpoint_override(service_name),
        )
        with self._create_lock:
            client = self._clients.get(key)
            # A client that resolved no credentials stays without them (PynamoDB asks again for that reason).
            if client is None or not getattr(client._request_signer, "_credentials", True):
                client = self._clients[key] = super().create_client(service_name, region_name, *args, **kwargs)
            return client


_session: _SharedSession | None = None
_session_lock = threading.Lock()


def botocore_session() -> botocore.session.Session:
    global _session
    with _session_lock:
        if _session is None:
            _session = _SharedSession()
        return _session


def share_session_with_pynamodb() -> None:
    """PynamoDB asks `pynamodb.connection.base.get_session` for a session per connection: hand it ours."""
    import pynamodb.connection.base

    pynamodb.connection.base.get_session = botocore_session
