import time

import jwt
import pytest

from shared import auth
from shared.auth import TokenVerifier, bearer_token, mint_token
from shared.config import AuthConfig
from shared.domain.errors import UnauthorizedError

pytestmark = pytest.mark.unit

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


def verifier(**overrides) -> TokenVerifier:
    settings = dict(secret=SECRET, secret_arn=None, jwks_url=None, issuer=None, audience=None) | overrides
    return TokenVerifier(AuthConfig(**settings))


def test_a_minted_token_names_its_user():
    assert verifier().user_id(mint_token("alice", SECRET)) == "alice"


@pytest.mark.parametrize(
    "claims, reason",
    [
        ({"sub": "alice", "exp": int(time.time()) - 120}, "expired"),
        ({"sub": "alice"}, "exp"),
        ({"exp": int(time.time()) + 3600}, "sub"),
        ({"sub": "", "exp": int(time.time()) + 3600}, "sub"),
        ({"sub": "x" * 129, "exp": int(time.time()) + 3600}, "sub"),
        ({"sub": "ali\nce", "exp": int(time.time()) + 3600}, "sub"),
        ({"sub": 42, "exp": int(time.time()) + 3600}, "Subject must be a string"),
    ],
)
def test_tokens_without_a_valid_exp_or_sub_are_refused(claims, reason):
    with pytest.raises(UnauthorizedError, match=reason):
        verifier().user_id(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_a_token_signed_with_another_secret_is_refused():
    with pytest.raises(UnauthorizedError, match="invalid token"):
        verifier().user_id(mint_token("alice", "some-other-secret-that-is-also-long-enough"))


def test_alg_none_is_refused():
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, None, algorithm="none")
    with pytest.raises(UnauthorizedError):
        verifier().user_id(token)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_an_algorithm_outside_the_allow_list_is_refused():
    # Signed with the right secret: only the algorithm is wrong.
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, SECRET, algorithm="HS512")
    with pytest.raises(UnauthorizedError):
        verifier().user_id(token)


def test_issuer_and_audience_are_enforced_when_configured():
    strict = verifier(issuer="https://issuer.example", audience="parley")
    good = mint_token("alice", SECRET, issuer="https://issuer.example", audience="parley")
    assert strict.user_id(good) == "alice"
    with pytest.raises(UnauthorizedError):
        strict.user_id(mint_token("alice", SECRET, issuer="https://evil.example", audience="parley"))
    with pytest.raises(UnauthorizedError):
        strict.user_id(mint_token("alice", SECRET, issuer="https://issuer.example", audience="other"))


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "a.b.c", "x" * 10_000])
def test_garbage_is_refused_with_a_401(token):
    with pytest.raises(UnauthorizedError):
        verifier().user_id(token)


def test_the_secret_can_come_from_secrets_manager_once():
    loads = []

    def load(arn):
        loads.append(arn)
        return SECRET

    v = TokenVerifier(AuthConfig(None, "arn:secret", None, None, None), load_secret=load)
    assert v.user_id(mint_token("alice", SECRET)) == "alice"
    assert v.user_id(mint_token("bob", SECRET)) == "bob"
    assert loads == ["arn:secret"]


@pytest.mark.parametrize(
    "header, token",
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), (None, None)],
)
def test_bearer_token_parsing(header, token):
    assert bearer_token(header) == token


class StoredSecrets:
    """Stands in for Secrets Manager (counts fetches, can fail) and for the clock."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.fetches = 0
        self.failing = False
        self.now = 1000.0

    def load(self, arn: str) -> str:
        self.fetches += 1
        if self.failing:
            raise TimeoutError("Secrets Manager did not answer")
        return self.secret

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(AuthConfig(None, "arn:secret", None, None, None), load_secret=self.load, clock=lambda: self.now)


NEW_SECRET = "the-other-issuers-secret-also-long-enough-for-hs256"


def test_a_replaced_secret_is_picked_up_on_the_first_token_it_signed():
    store = StoredSecrets(SECRET)
    v = store.verifier()
    assert v.user_id(mint_token("alice", SECRET)) == "alice"
    store.secret = NEW_SECRET  # the README's put-secret-value
    store.now += auth.SECRET_FETCH_MIN_INTERVAL_SECONDS
    assert v.user_id(mint_token("bob", NEW_SECRET)) == "bob"
    assert v.user_id(mint_token("carol", NEW_SECRET)) == "carol"
    assert store.fetches == 2
    with pytest.raises(UnauthorizedError):
        v.user_id(mint_token("alice", SECRET))  # the old secret's tokens are over


def test_bad_signatures_fetch_the_secret_at_most_once_per_interval():
    store = StoredSecrets(SECRET)
    v = store.verifier()
    v.user_id(mint_token("alice", SECRET))
    forged = mint_token("mallory", "a-guess-at-the-secret-long-enough-for-hs256")
    for _ in range(3):
        store.now += auth.SECRET_FETCH_MIN_INTERVAL_SECONDS / 2
        for _ in range(50):
            with pytest.raises(UnauthorizedError, match="Signature verification failed"):
                v.user_id(forged)
    # 1.5 intervals of forged tokens: one refetch, the second waits for the interval to pass.
    assert store.fetches == 2


def test_the_secret_is_fetched_again_once_it_is_old():
    store = StoredSecrets(SECRET)
    v = store.verifier()
    v.user_id(mint_token("alice", SECRET))
    store.now += auth.SECRET_MAX_AGE_SECONDS - 1
    v.user_id(mint_token("alice", SECRET))
    assert store.fetches == 1
    store.secret = NEW_SECRET
    store.now += 1
    assert v.user_id(mint_token("bob", NEW_SECRET)) == "bob" and store.fetches == 2


def test_a_failed_fetch_keeps_the_known_secret_and_without_one_refuses():
    store = StoredSecrets(SECRET)
    v = store.verifier()
    store.failing = True
    with pytest.raises(UnauthorizedError, match="unavailable"):
        v.user_id(mint_token("alice", SECRET))
    with pytest.raises(UnauthorizedError, match="unavailable"):
        v.user_id(mint_token("alice", SECRET))
    assert store.fetches == 1  # not again within the interval
    store.failing = False
    store.now += auth.SECRET_FETCH_MIN_INTERVAL_SECONDS
    assert v.user_id(mint_token("alice", SECRET)) == "alice"
    store.failing = True
    store.now += auth.SECRET_MAX_AGE_SECONDS
    assert v.user_id(mint_token("alice", SECRET)) == "alice"  # stale but known beats none
    assert store.fetches == 3


@pytest.mark.parametrize("jwks", [False, True], ids=["hs256", "rs256"])
def test_only_an_rs256_verifier_loads_cryptography(jwks):
    """HS256 needs hmac alone; cryptography (and the JWKS client) are for RS256 verifiers."""
    import subprocess
    import sys

    env_setting = 'os.environ["JWKS_URL"] = "http://127.0.0.1:9/jwks.json"' if jwks else ""
    code = f"""
import os, sys
os.environ.pop("JWKS_URL", None)
os.environ["JWT_SECRET"] = "s" * 40
{env_setting}
from functions import http_authorizer
answer = http_authorizer.handler({{"headers": {{"authorization": "Bearer not.a.token"}}}}, None)
assert "auth_error" in answer["context"], answer
print("cryptography" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str(jwks)


def test_a_secret_prepared_ahead_serves_the_first_token_without_a_fetch():
    store = StoredSecrets(SECRET)
    v = store.verifier()
    v.prepare()  # Lambda's init phase
    assert store.fetches == 1
    assert v.user_id(mint_token("alice", SECRET)) == "alice" and store.fetches == 1


def test_a_failed_fetch_ahead_of_use_lets_the_first_token_fetch_at_once():
    store = StoredSecrets(SECRET)
    v = store.verifier()
    store.failing = True
    v.prepare()
    store.failing = False
    assert v.user_id(mint_token("alice", SECRET)) == "alice"  # not refused for the minimum interval
    assert store.fetches == 2
