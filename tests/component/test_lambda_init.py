"""On Lambda, a function makes the clients its route uses while its module is imported (the init phase, which
has a full vCPU), so its first request makes none; off Lambda nothing is made before it is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions import start_conversation
from tests.support.events import http_event, parse

pytestmark = pytest.mark.component

REPO_ROOT = Path(__file__).resolve().parents[2]

# A fresh process, as Lambda starts one: import the function, say what exists, run one request, say what
# it had to make.
CHILD = r"""
import importlib, json, sys
import botocore.session
built = []
create = botocore.session.Session.create_client
def counting(self, service_name, *args, **kwargs):
    built.append(service_name)
    return create(self, service_name, *args, **kwargs)
botocore.session.Session.create_client = counting
payload = json.loads(sys.stdin.read())
module = importlib.import_module(payload["module"])
at_init = {"clients": sorted(built), "redis": "redis.client" in sys.modules, "jwt": "jwt" in sys.modules}
built.clear()
response = module.handler(payload["event"], None)
print(json.dumps({"at_init": at_init, "first_request_built": built, "response": response}))
"""


def _run(module: str, event: dict, **env: str) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_")} | env
    payload = json.dumps({"module": module, "event": event})
    done = subprocess.run([sys.executable, "-c", CHILD], input=payload, env=environment, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _send_event(backend) -> dict:
    status, body = parse(start_conversation.handler(http_event("start_conversation", user_id="alice",
                                                                 path={"id": "bob"}), None))
    assert status == 201, body
    return http_event("send_message", user_id="alice", path={"id": body["conversation"]["id"]},
                      body={"client_message_id": "c1", "type": "text", "content": "hi"})


def test_on_lambda_the_send_function_makes_its_clients_during_init(backend):
    run = _run("functions.send_message", _send_event(backend), AWS_LAMBDA_INITIALIZATION_TYPE="on-demand")
    assert run["at_init"]["clients"] == ["apigatewaymanagementapi", "dynamodb"] and run["at_init"]["redis"]
    assert run["first_request_built"] == []
    assert run["response"]["statusCode"] == 201


def test_off_lambda_nothing_is_made_before_the_first_request(backend):
    run = _run("functions.send_message", _send_event(backend))
    assert run["at_init"] == {"clients": [], "redis": False, "jwt": False}
    assert run["first_request_built"] == ["dynamodb"]  # no push: bob has no connection
    assert run["response"]["statusCode"] == 201


def test_on_lambda_the_authorizer_imports_pyjwt_during_init(monkeypatch):
    from shared.auth import mint_token

    secret = "a-secret-long-enough-for-hs256-tokens"
    token = mint_token("alice", secret)
    event = {"version": "2.0", "type": "REQUEST", "routeKey": "GET /api/v1/conversations",
             "identitySource": [f"Bearer {token}"], "headers": {"authorization": f"Bearer {token}"},
             "requestContext": {"http": {"method": "GET", "path": "/api/v1/conversations"}}}
    run = _run("functions.http_authorizer", event, AWS_LAMBDA_INITIALIZATION_TYPE="on-demand", JWT_SECRET=secret)
    assert run["at_init"] == {"clients": [], "redis": False, "jwt": True}
    assert run["response"]["isAuthorized"] and run["response"]["context"]["user_id"] == "alice"


def test_a_client_that_cannot_be_made_at_init_fails_the_first_request_not_the_import(backend):
    run = _run("functions.send_message", _send_event(backend), AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
               REDIS_URL="nosuchscheme://localhost")
    assert run["at_init"]["clients"] == ["dynamodb"]  # Redis failed: the preparation stopped, the import went on
    assert run["response"]["statusCode"] == 500, run["response"]
