"""Contract fuzzing: schemathesis generates requests from the OpenAPI document (shared/contracts/openapi.json)
for every operation, those it allows and those it forbids, sends them to a real `parley local` with real
tokens, and checks every answer against the document: no 5xx, a status the operation declares, its content
type, its body schema, its headers.

Bounded and reproducible (derandomized): SCHEMATHESIS_EXAMPLES per operation (PARLEY_FUZZ_SCALE multiplies
it, PARLEY_FUZZ_RANDOM=1 draws new examples). Half the requests to a route with an {id} name something
that exists (the seeded conversation, one of its messages, the peer), so successful answers are checked
too, not only 404s. (Not checked: that the server refuses everything the document forbids — it ignores
unknown fields, and takes an empty `cursor` or `limit` as none.)
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from shared.auth import LOCAL_DEV_SECRET, mint_token
from shared.contracts.generate import OPENAPI_PATH
from shared.contracts.schemas import HTTP_CONTRACTS
from shared.routes import HTTP_PREFIX, HTTP_ROUTES
from tests.support.local_runtime import run_local_runtime

pytestmark = pytest.mark.fuzz

CALLER, PEER = "contract-alice", "contract-bob"
SCHEMATHESIS_EXAMPLES = max(5, int(25 * float(os.environ.get("PARLEY_FUZZ_SCALE", "1"))))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
SETTINGS = settings(
    max_examples=SCHEMATHESIS_EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("PARLEY_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=list(HealthCheck),
)
# What sent requests and their durations add up to, reported at the end of the session.
TALLY = {"requests": 0, "seconds": 0.0, "statuses": Counter()}


class Target:
    def __init__(self, runtime):
        self.base_url = runtime.http_url.removesuffix(HTTP_PREFIX)
        self.token = mint_token(CALLER, LOCAL_DEV_SECRET)
        self.session = requests.Session()
        self.existing: dict[str, str] = {}  # schema name of a path {id} -> an id that exists

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.session.request(
            method, self.base_url + HTTP_PREFIX + path, json=body, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json()

    def seed(self) -> None:
        conversation = self.call("POST", f"/conversations/{PEER}")["conversation"]["id"]
        message = self.call(
            "POST", f"/conversations/{conversation}/messages", {"client_message_id": "seed-1", "content": "hello there"}
        )["message"]
        upload = self.call("POST", "/messages/upload-image", {"content_type": "image/png", "size": 100})
        self.existing = {
            "ConversationId": conversation, "MessageId": message["id"], "UserId": PEER, "MediaId": upload["media"]["id"]
        }  # fmt: skip


@pytest.fixture(scope="module")
def contract_target():
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "REDIS_URL", "JWT_SECRET")}
    with run_local_runtime(env=env) as runtime:
        target = Target(runtime)
        target.seed()
        yield target
        target.session.close()
        seconds = TALLY["seconds"]
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(TALLY["statuses"].items()))
        print(f"\nschemathesis: {TALLY['requests']} requests to {len(HTTP_ROUTES)} operations in {seconds:.1f} s ({statuses})")


SCHEMA = schemathesis.openapi.from_dict(json.loads(OPENAPI_PATH.read_text()))


def _existing_kind(route) -> str | None:
    path_id = HTTP_CONTRACTS[route.name].path_id
    return path_id["$ref"].rsplit("/", 1)[1] if path_id else None


# Positive: requests the document allows; negative: requests it forbids (each answer must still be one the
# document declares). The public document's route takes no input at all, so it has no negative requests.
CASES = [
    pytest.param(route, mode, id=f"{route.key} {mode.value}")
    for route in HTTP_ROUTES
    for mode in schemathesis.GenerationMode
    if not (route.public and mode is schemathesis.GenerationMode.NEGATIVE)
]


@pytest.mark.parametrize("route, mode", CASES)
def test_every_answer_keeps_to_the_openapi_document(contract_target, route, mode):
    operation = SCHEMA[route.path][route.method]
    kind = _existing_kind(route)

    @SETTINGS
    @given(case=operation.as_strategy(mode), real_id=st.booleans())
    def check(case, real_id):
        if kind and real_id and mode is schemathesis.GenerationMode.POSITIVE:
            case.path_parameters["id"] = contract_target.existing[kind]
        headers = {} if route.public else {"Authorization": f"Bearer {contract_target.token}"}
        began = time.monotonic()
        try:
            response = case.call_and_validate(
                base_url=contract_target.base_url, session=contract_target.session, headers=headers, checks=CHECKS, timeout=30
            )
            TALLY["statuses"][response.status_code] += 1
        finally:
            TALLY["requests"] += 1
            TALLY["seconds"] += time.monotonic() - began

    check()
