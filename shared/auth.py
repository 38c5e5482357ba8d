"""JWT verification (PyJWT): HS256 with a shared secret, or RS256 through a JWKS URL.

Only the authorizer functions import this module, so PyJWT's import cost stays out of the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt

from shared import validation
from shared.config import AuthConfig
from shared.errors import BadRequestError, UnauthorizedError

# Accepted by `parley local` and `parley token` unless JWT_SECRET is set. Never used by a deployed stack.
LOCAL_DEV_SECRET = "parley-local-development-secret-do-not-deploy"

SECRET_ALGORITHMS = ["HS256"]
JWKS_ALGORITHMS = ["RS256"]
MAX_TOKEN_LENGTH = 8192
LEEWAY_SECONDS = 30  # clock skew tolerated on exp/nbf/iat


class TokenVerifier:
    """Turns a bearer token into the caller's user id (the `sub` claim), or raises UnauthorizedError."""

    def __init__(self, config: AuthConfig, load_secret: Callable[[str], str] | None = None):
        self._config = config
        self._load_secret = load_secret
        self._secret: str | None = config.secret
        self._jwks_client: jwt.PyJWKClient | None = None

    def user_id(self, token: str | None) -> str:
        if not token:
            raise UnauthorizedError("missing token")
        if len(token) > MAX_TOKEN_LENGTH:
            raise UnauthorizedError("token too long")
        try:
            key, algorithms = self._key_for(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=self._config.issuer,
                audience=self._config.audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub"], "verify_aud": self._config.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("token expired") from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as error:
            raise UnauthorizedError(f"invalid token: {error}") from None
        try:
            # The same rules as a user id anywhere else, so every user can be addressed by every other.
            return validation.user_id(claims["sub"])
        except BadRequestError:
            raise UnauthorizedError("invalid token: bad sub claim") from None

    def _key_for(self, token: str):
        if self._config.jwks_url:
            if self._jwks_client is None:
                self._jwks_client = jwt.PyJWKClient(self._config.jwks_url, cache_keys=True, lifespan=3600, timeout=5)
            return self._jwks_client.get_signing_key_from_jwt(token).key, JWKS_ALGORITHMS
        if self._secret is None:
            if not (self._config.secret_arn and self._load_secret):
                raise UnauthorizedError("no key configured to verify tokens")
            self._secret = self._load_secret(self._config.secret_arn)
        return self._secret, SECRET_ALGORITHMS


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
    return jwt.encode(claims, secret, algorithm="HS256")
