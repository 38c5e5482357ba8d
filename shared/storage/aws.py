"""One botocore session per process, and one client per service and settings, shared by PynamoDB and the
management-API pusher.

A fresh botocore session loads each service's model again (~50 ms here), and each client costs ~20 ms
more to build; PynamoDB makes a connection, hence a client, per model class and one for transactions,
so a cold send built five DynamoDB clients. All of them ask for the same thing (same region, endpoint and
settings), and botocore clients are safe to share between threads: the first is made, the rest reuse it.
botocore sessions are not safe for concurrent client creation, hence the lock.
"""

from __future__ import annotations

import gzip
import json
import os
import threading

import botocore
import botocore.credentials
import botocore.handlers
import botocore.hooks
import botocore.loaders
import botocore.session

from shared.config import aws_endpoint_override
from shared.package_init import defer_package_init, package_init_ran

# Where layers/botocore_data.py leaves botocore's data trimmed to Parley's services: next to the botocore it
# was made from (locally), or in place of botocore's own data (the deployed dependencies layer).
_TRIMMED_DATA = os.path.join(os.path.dirname(os.path.dirname(botocore.__file__)), "parley_botocore_data")
_BOTOCORE_DATA = os.path.join(os.path.dirname(botocore.__file__), "data")


def trimmed_data_path() -> str | None:
    """The trimmed data if it was made from this very botocore (any other version's data may not match it):
    the copy next to it, else botocore's own data directory if the layer trimmed it in place. Either way the
    session below reads it the same way, so what is measured locally is what runs on Lambda."""
    for path in (_TRIMMED_DATA, _BOTOCORE_DATA):
        try:
            with open(os.path.join(path, "BOTOCORE_VERSION")) as file:
                if file.read().strip() == botocore.__version__:
                    return path
        except OSError:
            pass
    return None


class _JsonFileLoader(botocore.loaders.JSONFileLoader):
    """botocore's, parsing into plain dicts rather than through an OrderedDict hook: ~2.5x faster (~2 ms
    of a DynamoDB client, ~5 ms of an S3 one). Dicts keep their order too, and botocore's model makes its own
    ordered maps of what it reads."""

    def load_file(self, file_path):
        for extension, open_file in ((".json", open), (".json.gz", gzip.open)):
            if os.path.isfile(file_path + extension):
                with open_file(file_path + extension, "rb") as file:
                    return json.loads(file.read().decode("utf-8"))
        return None


class _TrimmedDataLoader(botocore.loaders.Loader):
    """botocore's loader with the trimmed copy in place of botocore's data directory. It stands as the
    built-in data, as it is in the layer: botocore treats endpoints read from elsewhere as a custom endpoint."""

    def __init__(self, path: str):
        self.BUILTIN_DATA_PATH = path
        super().__init__(file_loader=_JsonFileLoader())


def _trimmed_services(path: str) -> set[str]:
    """The names the trimmed data's services go by in botocore's event names (e.g. `secrets-manager`)."""
    names = {entry for entry in os.listdir(path) if os.path.isdir(os.path.join(path, entry))}
    return names | {alias for name, alias in botocore.session.EVENT_ALIASES.items() if name in names}


def _register_builtin_handlers(events: botocore.hooks.EventAliaser, keep) -> None:
    """What botocore's Session registers itself, in its order, limited to the events `keep` accepts."""
    for event_name, handler, *register_type in botocore.handlers.BUILTIN_HANDLERS:
        if not keep(event_name):
            continue
        if not register_type:
            events.register(event_name, handler)
        elif register_type[0] is botocore.handlers.REGISTER_FIRST:
            events.register_first(event_name, handler)
        elif register_type[0] is botocore.handlers.REGISTER_LAST:
            events.register_last(event_name, handler)


class _SharedSession(botocore.session.Session):
    _create_lock = threading.Lock()

    def __init__(self):
        # botocore registers ~130 built-in event handlers in every session (~7 ms): for documentation (`docs.*`)
        # and for each service it knows. With the trimmed data only five services exist, so only the handlers
        # of any service and of those five are registered, as botocore would, before anything else is.
        path = trimmed_data_path()
        services = _trimmed_services(path) if path else None

        def serves(event_name: str) -> bool:
            parts = event_name.split(".")
            return parts[0] != "docs" and (len(parts) < 2 or parts[1] == "*" or parts[1] in services)

        emitter = botocore.hooks.HierarchicalEmitter()
        if services is not None:
            _register_builtin_handlers(botocore.hooks.EventAliaser(emitter), serves)
        super().__init__(event_hooks=emitter, include_builtin_handlers=services is None)
        self._clients: dict[tuple, object] = {}
        # AWS_DATA_PATH (models added by hand) keeps botocore's own loader, and every service's handlers.
        if path and not self.get_config_variable("data_path"):
            self.register_component("data_loader", _TrimmedDataLoader(path))
        elif services is not None:
            _register_builtin_handlers(self._events, lambda event_name: not serves(event_name))
        # Lambda gives the function's credentials in the environment, where botocore's chain looks first: a
        # chain of that one provider finds the same credentials without building the others (~2.5 ms).
        if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
            self.register_component("credential_provider", botocore.credentials.CredentialResolver(
                [botocore.credentials.EnvProvider()]))

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
            _register_powertools_user_agent()
            _session = _SharedSession()
        return _session


def _register_powertools_user_agent() -> None:
    """Powertools' __init__ adds its mark ("PT/no-op/<version>") to the user agent of every botocore session
    made after it. Powertools now loads after the session, if at all (shared/log.py, metrics.py): so that
    AWS sees the requests it saw, its registration is made here, unless its __init__ ran already."""
    if package_init_ran("aws_lambda_powertools"):
        return
    defer_package_init("aws_lambda_powertools")
    from aws_lambda_powertools.shared.user_agent import inject_user_agent

    inject_user_agent()


def share_session_with_pynamodb() -> None:
    """PynamoDB asks `pynamodb.connection.base.get_session` for a session per connection: hand it ours."""
    import pynamodb.connection.base

    pynamodb.connection.base.get_session = botocore_session
