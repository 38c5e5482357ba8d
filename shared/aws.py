"""One botocore session per process, shared by PynamoDB and the management-API client.

A fresh botocore session loads each service's model again (~50 ms here); PynamoDB makes one per model
class, so a cold send paid for four or five. Sharing one session makes every client after the first cheap.
botocore sessions are not safe for concurrent client creation, hence the lock.
"""

from __future__ import annotations

import threading

import botocore.session


class _SharedSession(botocore.session.Session):
    _create_lock = threading.Lock()

    def create_client(self, *args, **kwargs):
        with self._create_lock:
            return super().create_client(*args, **kwargs)


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
