"""One botocore session per process, and one client per service and settings, shared by PynamoDB and the
management-API pusher.

A fresh botocore session loads each service's model again (~50 ms here), and each client costs ~20 ms
more to build; PynamoDB makes a connection, hence a client, per model class and one for transactions,
so a cold send built five DynamoDB clients. All of them ask for the same thing (same region, endpoint and
settings), and botocore clients are safe to share between threads: the first is made, the rest reuse it.
botocore sessions are not safe for concurrent client creation, hence the lock.
"""

from __future__ import annotations

import os
import threading

import botocore
import botocore.loaders
import botocore.session

from shared.config import aws_endpoint_override

# Where layers/botocore_data.py leaves botocore's data trimmed to Parley's services, next to the botocore it
# was made from (locally; the deployed layer's botocore has its own data directory trimmed in place).
_TRIMMED_DATA = os.path.join(os.path.dirname(os.path.dirname(botocore.__file__)), "parley_botocore_data")


def trimmed_data_path() -> str | None:
    """The trimmed copy if it was made from this very botocore: any other version's data may not match it."""
    try:
        with open(os.path.join(_TRIMMED_DATA, "BOTOCORE_VERSION")) as file:
            return _TRIMMED_DATA if file.read().strip() == botocore.__version__ else None
    except OSError:
        return None


class _TrimmedDataLoader(botocore.loaders.Loader):
    """botocore's loader with the trimmed copy in place of botocore's data directory. It stands as the
    built-in data, as it is in the layer: botocore treats endpoints read from elsewhere as a custom endpoint."""

    def __init__(self, path: str):
        self.BUILTIN_DATA_PATH = path
        super().__init__()


class _SharedSession(botocore.session.Session):
    _create_lock = threading.Lock()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[tuple, object] = {}
        # AWS_DATA_PATH (models added by hand) keeps botocore's own loader.
        if (path := trimmed_data_path()) and not self.get_config_variable("data_path"):
            self.register_component("data_loader", _TrimmedDataLoader(path))

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
