"""Test-wide setup. The environment is fixed before any shared.* import: PynamoDB models read table
names and region when they are defined."""

from __future__ import annotations

import os

from tests.support.ports import free_port

TEST_JWT_SECRET = "parley-test-secret-long-enough-for-hs256"
MOTO_PORT = free_port()

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    JWT_SECRET=TEST_JWT_SECRET,
    POWERTOOLS_LOG_LEVEL="WARNING",
    JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
)
# In-process component tests talk to the session's moto server (started on first use).
os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{MOTO_PORT}"
for name in ("REDIS_URL", "WS_MANAGEMENT_URL", "JWKS_URL", "JWT_SECRET_ARN", "JWT_ISSUER", "JWT_AUDIENCE"):
    os.environ.pop(name, None)

# This process verifies HS256 and RS256 tokens: PyJWT with all its algorithms (see shared.auth.pyjwt).
import jwt  # noqa: E402, F401

# Property tests: no per-example deadline (2 shared cores make timings noisy).
from hypothesis import settings  # noqa: E402

settings.register_profile("parley", deadline=None)
settings.load_profile("parley")

# As IAM does on AWS (and `parley local` does): a function's DynamoDB call outside its route's grants fails
# with AccessDeniedException. Installed before any botocore client exists; each test fails on a refusal.
import pytest  # noqa: E402

from infra.local.iam import DynamoDbGrants  # noqa: E402
from shared.storage.aws import botocore_session  # noqa: E402

DYNAMODB_GRANTS = DynamoDbGrants()
DYNAMODB_GRANTS.install(botocore_session())


@pytest.fixture(autouse=True)
def _no_dynamodb_call_outside_the_grants():
    already = len(DYNAMODB_GRANTS.denied)
    yield
    refused = DYNAMODB_GRANTS.denied[already:]
    if refused:
        pytest.fail("refused as IAM would: " + "; ".join(sorted(set(refused))), pytrace=False)

