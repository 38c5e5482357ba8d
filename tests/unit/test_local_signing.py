"""infra/local/signing.py: requests to `parley local`'s loopback endpoints carry a placeholder signature
with the real credential scope (moto reads region and account from it); anything else is signed as always."""

from __future__ import annotations

import botocore.session
import pytest

from infra.local import signing


def _authorization(service: str, endpoint_url: str) -> str:
    session = botocore.session.Session()
    signing.install(session)
    client = session.create_client(service, region_name="eu-west-1", endpoint_url=endpoint_url,
                                   aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    seen = {}

    def stop(request, **_):
        seen["authorization"] = request.headers["Authorization"].decode()
        seen["date"] = request.headers.get("X-Amz-Date")
        raise RuntimeError("not sent")

    client.meta.events.register("before-send", stop)
    with pytest.raises(RuntimeError, match="not sent"):
        client.list_tables() if service == "dynamodb" else client.list_buckets()
    assert seen["date"]
    return seen["authorization"]


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8000", "http://localhost:8000"])
def test_a_loopback_endpoint_gets_the_scope_and_a_placeholder_signature(endpoint):
    authorization = _authorization("dynamodb", endpoint)
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/dynamodb/aws4_request," in authorization
    assert authorization.endswith("Signature=" + "0" * 64)


def test_any_other_endpoint_and_s3_are_really_signed():
    for service, endpoint in [("dynamodb", "http://10.1.2.3:8000"), ("s3", "http://127.0.0.1:8000")]:
        signature = _authorization(service, endpoint).rpartition("Signature=")[2]
        assert len(signature) == 64 and signature != "0" * 64
