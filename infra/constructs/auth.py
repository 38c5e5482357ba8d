"""How the authorizers verify tokens: RS256 through a JWKS URL, or HS256 with a secret in Secrets Manager."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs.nag import acknowledge
from shared.resources import JWKS_URL_ENV, JWT_AUDIENCE_ENV, JWT_ISSUER_ENV, JWT_SECRET_ARN_ENV


@dataclass(frozen=True)
class JwtSettings:
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None


class JwtVerification(Construct):
    """Without a JWKS URL, creates a generated HS256 signing secret (its SecretString is the raw key)."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: JwtSettings) -> None:
        super().__init__(scope, construct_id)
        self.secret: secretsmanager.Secret | None = None
        self.environment: dict[str, str] = {}
        if settings.jwks_url:
            self.environment[JWKS_URL_ENV] = settings.jwks_url
        else:
            self.secret = secretsmanager.Secret(
                self,
                "SigningSecret",
                description="Parley HS256 key for user JWTs; replace the value to share your issuer's key",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=64, exclude_punctuation=True
                ),
            )
            self.environment[JWT_SECRET_ARN_ENV] = self.secret.secret_arn
            acknowledge(
                self.secret,
                "AwsSolutions-SMG4",
                "The key is shared with whatever issues the tokens; rotating it here alone would invalidate "
                "every token, so rotation is done with the issuer (put-secret-value), not on a schedule.",
            )
        if settings.issuer:
            self.environment[JWT_ISSUER_ENV] = settings.issuer
        if settings.audience:
            self.environment[JWT_AUDIENCE_ENV] = settings.audience

    def grant_read(self, grantee: iam.IGrantable) -> None:
        if self.secret is not None:
            self.secret.grant_read(grantee)
