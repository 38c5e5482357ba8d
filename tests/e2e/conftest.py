"""The e2e target: `parley local` started for the session, or a deployed stack named by the environment.

Against a deployed stack (LocalStack or AWS), set:
  PARLEY_HTTP_URL     e.g. https://abc.execute-api.eu-west-1.amazonaws.com/api/v1
  PARLEY_WS_URL       e.g. wss://def.execute-api.eu-west-1.amazonaws.com/prod
  PARLEY_JWT_SECRET   the stack's HS256 secret (its Secrets Manager value), to mint test users' tokens
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest

from shared.auth import LOCAL_DEV_SECRET, mint_token


@dataclass(frozen=True)
class Target:
    http_url: str
    ws_url: str
    secret: str

    def token(self, user_id: str, ttl_seconds: int = 3600) -> str:
        return mint_token(user_id, self.secret, ttl_seconds=ttl_seconds)


@pytest.fixture(scope="session")
def target():
    if os.environ.get("PARLEY_HTTP_URL"):
        yield Target(os.environ["PARLEY_HTTP_URL"], os.environ["PARLEY_WS_URL"], os.environ["PARLEY_JWT_SECRET"])
        return
    from tests.support.local_runtime import run_local_runtime

    # The runtime brings its own moto and Redis: don't hand it the component tests' endpoints.
    env = {name: value for name, value in os.environ.items() if name not in ("AWS_ENDPOINT_URL", "REDIS_URL", "JWT_SECRET")}
    with run_local_runtime(env=env) as runtime:
        yield Target(runtime.http_url, runtime.ws_url, LOCAL_DEV_SECRET)


@pytest.fixture(autouse=True)
def frames_keep_to_the_contract():
    """Every frame a test's sockets received was validated as it arrived (tests/support/client.py)."""
    from tests.support.client import CONTRACT_VIOLATIONS

    CONTRACT_VIOLATIONS.clear()
    yield
    if CONTRACT_VIOLATIONS:
        raise CONTRACT_VIOLATIONS[0]


@pytest.fixture
def users():
    """Fresh user ids per test, so tests never see each other's data on a shared target."""
    run = uuid.uuid4().hex[:8]
    return {name: f"{name}-{run}" for name in ("alice", "bob", "carol")}
