"""Reads the JWT signing secret from Secrets Manager (shared/auth.py decides when: rarely)."""

from __future__ import annotations

from shared.domain import limits


def load_secret_string(secret_arn: str) -> str:
    from botocore.config import Config

    from shared.storage.aws import botocore_session  # only reached when the secret lives in Secrets Manager

    # botocore's defaults (60 s timeouts, retries) would outlast the authorizer: fail fast, refuse, retry later.
    timeout = limits.KEY_FETCH_TIMEOUT_SECONDS
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1, "mode": "standard"})
    client = botocore_session().create_client("secretsmanager", config=config)
    return client.get_secret_value(SecretId=secret_arn)["SecretString"]
