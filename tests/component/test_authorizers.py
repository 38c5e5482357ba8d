"""The authorizer functions, and RS256 tokens verified through a JWKS document served over HTTP."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from functions import http_authorizer, ws_authorizer, ws_connect, ws_disconnect
from shared.auth import mint_token
from shared.storage.tables import ConnectionRecord
from tests.conftest import TEST_JWT_SECRET
from tests.support.events import ws_event

pytestmark = pytest.mark.component

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/$connect"


def test_http_authorizer_names_the_user_or_says_why_not(backend):
    good = http_authorizer.handler({"headers": {"authorization": f"Bearer {mint_token('alice', TEST_JWT_SECRET)}"}}, None)
    assert good == {"isAuthorized": True, "context": {"user_id": "alice"}}
    expired = mint_token("alice", TEST_JWT_SECRET, ttl_seconds=-600)
    bad = http_authorizer.handler({"headers": {"authorization": f"Bearer {expired}"}}, None)
    assert "user_id" not in bad["context"] and bad["context"]["auth_error"] == "token expired"


def test_ws_authorizer_allows_a_good_token_and_denies_a_bad_one(backend):
    allowed = ws_authorizer.handler(
        {"methodArn": METHOD_ARN, "queryStringParameters": {"token": mint_token("bob", TEST_JWT_SECRET)}}, None
    )
    assert allowed["principalId"] == "bob" and allowed["context"] == {"user_id": "bob"}
    assert allowed["policyDocument"]["Statement"][0] == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": METHOD_ARN,
    }
    for params in ({"token": "garbage"}, {"token": mint_token("bob", "another-secret-of-sufficient-length!!")}, None):
        denied = ws_authorizer.handler({"methodArn": METHOD_ARN, "queryStringParameters": params}, None)
        assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny" and "context" not in denied


def test_connect_records_and_disconnect_forgets_the_connection(backend):
    ws_connect.handler(ws_event("$connect", connection_id="c-1", user_id="alice"), None)
    ws_connect.handler(ws_event("$connect", connection_id="c-2", user_id="alice"), None)
    record = ConnectionRecord.get("alice")
    assert set(record.connections.as_dict()) == {"c-1", "c-2"} and record.expires_at is not None
    # $disconnect knows the user from the authorizer context, as API Gateway passes it.
    ws_disconnect.handler(ws_event("$disconnect", connection_id="c-1", user_id="alice"), None)
    record = ConnectionRecord.get("alice")
    assert set(record.connections.as_dict()) == {"c-2"} and record.last_seen is not None


@pytest.fixture
def jwks_server():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1", "use": "sig"}
    body = json.dumps({"keys": [public_jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", key
    server.shutdown()


def test_rs256_tokens_verify_through_a_jwks_url(jwks_server, monkeypatch):
    from shared.auth import TokenVerifier
    from shared.config import AuthConfig
    from shared.domain.errors import UnauthorizedError

    url, key = jwks_server
    verifier = TokenVerifier(AuthConfig(None, None, url, "https://idp.example", "parley-app"))
    claims = {"sub": "alice", "exp": int(time.time()) + 60, "iss": "https://idp.example", "aud": "parley-app"}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert verifier.user_id(token) == "alice"
    # An HS256 token "signed" with the public key (the classic confusion attack) is refused.
    with pytest.raises(UnauthorizedError):
        verifier.user_id(mint_token("alice", TEST_JWT_SECRET, issuer="https://idp.example", audience="parley-app"))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(UnauthorizedError):
        verifier.user_id(jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "k1"}))


def _authorize(token: str) -> dict:
    return http_authorizer.handler({"headers": {"authorization": f"Bearer {token}"}}, None)["context"]


def test_a_secret_replaced_in_secrets_manager_reaches_a_warm_authorizer(backend, moto_url, monkeypatch):
    from shared import auth, secrets, wiring
    from shared.storage.aws import botocore_session

    secretsmanager = botocore_session().create_client("secretsmanager", endpoint_url=moto_url)
    arn = secretsmanager.create_secret(Name=f"jwt-{time.monotonic_ns()}", SecretString=TEST_JWT_SECRET)["ARN"]
    fetches = []
    load = secrets.load_secret_string
    monkeypatch.setattr(secrets, "load_secret_string", lambda secret_arn: fetches.append(secret_arn) or load(secret_arn))
    monkeypatch.setattr(auth, "SECRET_FETCH_MIN_INTERVAL_SECONDS", 1)
    monkeypatch.delenv("JWT_SECRET")
    monkeypatch.setenv("JWT_SECRET_ARN", arn)
    wiring.reset()
    assert _authorize(mint_token("alice", TEST_JWT_SECRET)) == {"user_id": "alice"}

    new_secret = "the-new-issuers-secret-long-enough-for-hs256"
    secretsmanager.put_secret_value(SecretId=arn, SecretString=new_secret)  # the README's step
    time.sleep(1)
    assert _authorize(mint_token("bob", new_secret)) == {"user_id": "bob"}
    forged = mint_token("mallory", "a-guess-at-the-secret-long-enough-for-hs256")
    assert all("auth_error" in _authorize(forged) for _ in range(20))
    assert len(fetches) == 2  # the first use, and one refetch for bob's token; none for the forgeries
    assert "auth_error" in _authorize(mint_token("alice", TEST_JWT_SECRET))


@pytest.fixture
def slow_jwks_url():
    """A JWKS endpoint that accepts the request and does not answer."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            release.wait(30)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    release.set()
    server.shutdown()
    server.server_close()


def test_a_slow_jwks_endpoint_is_a_refusal_inside_the_authorizers_timeout(backend, slow_jwks_url, monkeypatch):
    from shared import wiring
    from shared.routes import authorizer_for

    monkeypatch.setenv("JWKS_URL", slow_jwks_url)
    wiring.reset()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, key, algorithm="RS256", headers={"kid": "k1"})

    started = time.monotonic()
    refused = _authorize(token)
    http_elapsed = time.monotonic() - started
    started = time.monotonic()
    denied = ws_authorizer.handler({"methodArn": METHOD_ARN, "queryStringParameters": {"token": token}}, None)
    ws_elapsed = time.monotonic() - started

    assert "user_id" not in refused and "invalid token" in refused["auth_error"]
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert http_elapsed < authorizer_for("http").timeout_seconds  # an answer, not a timed-out authorizer
    assert ws_elapsed < authorizer_for("websocket").timeout_seconds
