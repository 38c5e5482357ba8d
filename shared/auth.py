"""JWT verification (PyJWT): HS256 with a shared secret, or RS256 through a JWKS URL.

Only the authorizer functions import this module, so PyJWT's import cost stays out of the others; and
what only RS256 needs (cryptography, the JWKS client) is loaded only by a verifier configured for it.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable

from shared.domain import limits, validation
from shared.config import AuthConfig
from shared.domain.errors import BadRequestError, UnauthorizedError

# Accepted by `parley local` and `parley token` unless JWT_SECRET is set. Never used by a deployed stack.
LOCAL_DEV_SECRET = "parley-local-development-secret-do-not-deploy"

SECRET_ALGORITHMS = ["HS256"]
JWKS_ALGORITHMS = ["RS256"]
MAX_TOKEN_LENGTH = 8192
LEEWAY_SECONDS = 30  # clock skew tolerated on exp/nbf/iat
# A secret kept in Secrets Manager is fetched again once it is this old, and when a token's signature does not
# match it (the README's put-secret-value step replaces it); but never more often than the minimum interval,
# whatever asks, so bad tokens cannot hammer Secrets Manager.
SECRET_MAX_AGE_SECONDS = 300
SECRET_FETCH_MIN_INTERVAL_SECONDS = 10


def pyjwt(*, with_rsa: bool):
    """PyJWT. It imports `cryptography` whenever that is installed (about half its import time), though
    HS256 needs only hmac: an HS256-only process imports PyJWT with cryptography hidden, which leaves out
    PyJWT's RSA and EC algorithms, never accepted there anyway. The first import in a process decides (a
    process that verifies both kinds, like the test suite, imports `jwt` itself first)."""
    if with_rsa or "jwt" in sys.modules or "cryptography" in sys.modules:
        import jwt

        return jwt
    sys.modules["cryptography"] = None  # `import cryptography` raises ImportError meanwhile
    try:
        import jwt
    finally:
        del sys.modules["cryptography"]
    return jwt


class TokenVerifier:
    """Turns a bearer token into the caller's user id (the `sub` claim), or raises UnauthorizedError."""

    def __init__(
        self,
        config: AuthConfig,
        load_secret: Callable[[str], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._config = config
        self._stored_secret = None
        if not config.secret and config.secret_arn and load_secret:
            self._stored_secret = StoredSecret(config.secret_arn, load_secret, clock)
        self._jwks_client = None  # jwt.PyJWKClient, made on the first RS256 token
        self._jwt = None  # PyJWT, imported on the first token (shared.auth.pyjwt)

    def prepare(self) -> None:
        """All a first token needs that no token decides, now: PyJWT, and the secret if it lives in Secrets
        Manager (Lambda's init phase: shared/wiring.py)."""
        if self._jwt is None:
            self._jwt = pyjwt(with_rsa=bool(self._config.jwks_url))
        if self._stored_secret is not None:
            self._stored_secret.prefetch()

    def user_id(self, token: str | None) -> str:
        if not token:
            raise UnauthorizedError("missing token")
        if len(token) > MAX_TOKEN_LENGTH:
            raise UnauthorizedError("token too long")
        claims = self._verified_claims(token, may_refetch_secret=True)
        try:
            # The same rules as a user id anywhere else, so every user can be addressed by every other.
            return validation.user_id(claims["sub"])
        except BadRequestError:
            raise UnauthorizedError("invalid token: bad sub claim") from None

    def _verified_claims(self, token: str, may_refetch_secret: bool) -> dict:
        if self._jwt is None:
            self._jwt = pyjwt(with_rsa=bool(self._config.jwks_url))
        jwt = self._jwt
        try:
            key, algorithms = self._key_for(token)
            return jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=self._config.issuer,
                audience=self._config.audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub"], "verify_aud": self._config.audience is not None},
            )
        except jwt.InvalidSignatureError as error:
            # The secret may have been replaced since this instance fetched it: fetch it once more and retry.
            if may_refetch_secret and self._stored_secret and self._stored_secret.refetch():
                return self._verified_claims(token, may_refetch_secret=False)
            raise UnauthorizedError(f"invalid token: {error}") from None
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("token expired") from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as error:
            raise UnauthorizedError(f"invalid token: {error}") from None

    def _key_for(self, token: str):
        if self._config.jwks_url:
            if self._jwks_client is None:
                self._jwks_client = self._jwt.PyJWKClient(
                    self._config.jwks_url, cache_keys=True, lifespan=3600, timeout=limits.KEY_FETCH_TIMEOUT_SECONDS
                )
            return self._jwks_client.get_signing_key_from_jwt(token).key, JWKS_ALGORITHMS
        if self._config.secret:
            return self._config.secret, SECRET_ALGORITHMS
        if self._stored_secret is None:
            raise UnauthorizedError("no key configured to verify tokens")
        return self._stored_secret.current(), SECRET_ALGORITHMS


class StoredSecret:
    """The HS256 secret in Secrets Manager, as this instance knows it: fetched on first use, again once it is
    SECRET_MAX_AGE_SECONDS old or on request (refetch), at most once per SECRET_FETCH_MIN_INTERVAL_SECONDS. A
    failed fetch keeps the secret already known."""

    def __init__(self, secret_arn: str, load: Callable[[str], str], clock: Callable[[], float]):
        self._arn = secret_arn
        self._load = load
        self._clock = clock
        self._lock = threading.Lock()
        self._secret: str | None = None
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf

    def current(self) -> str:
        if self._clock() - self._fetched_at >= SECRET_MAX_AGE_SECONDS:
            self._fetch()
        if self._secret is None:
            raise UnauthorizedError("cannot verify tokens: the signing secret is unavailable, retry shortly")
        return self._secret

    def prefetch(self) -> None:
        """Fetches the secret ahead of its first use. A failure is logged and does not count as an attempt:
        the first token tries again at once rather than being refused for the minimum interval."""
        try:
            secret = self._load(self._arn)
        except Exception as error:
            from shared.log import logger

            logger.warning("could not fetch the JWT secret ahead of use", extra={"error": repr(error)})
            return
        with self._lock:
            self._secret = secret
            self._fetched_at = self._attempted_at = self._clock()

    def refetch(self) -> bool:
        """Fetches the secret again (unless fetched too recently); True if it changed."""
        before = self._secret
        self._fetch()
        return self._secret is not None and self._secret != before

    def _fetch(self) -> None:
        with self._lock:
            now = self._clock()
            if now - self._attempted_at < SECRET_FETCH_MIN_INTERVAL_SECONDS:
                return
            self._attempted_at = now
            try:
                secret = self._load(self._arn)
            except Exception as error:  # Secrets Manager failing or slow: keep what we have, try again later
                from shared.log import logger

                logger.warning("could not fetch the JWT secret", extra={"error": repr(error)})
                return
            self._secret, self._fetched_at = secret, now


def bearer_token(authorization_header: str | None) -> str | None:
    if not authorization_header:
        return None
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def mint_token(
    user_id: str,
    secret: str,
    *,
    ttl_seconds: int = 24 * 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """An HS256 token for `user_id`: what `parley token` prints and what tests use."""
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "exp": now + ttl_seconds}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return pyjwt(with_rsa=True).encode(claims, secret, algorithm="HS256")
