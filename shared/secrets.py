"""Reads the JWT signing secret from Secrets Manager, once per cold start."""

from __future__ import annotations


def load_secret_string(secret_arn: str) -> str:
    from shared.aws import botocore_session  # only reached when the secret lives in Secrets Manager

    client = botocore_session().create_client("secretsmanager")
    return client.get_secret_value(SecretId=secret_arn)["SecretString"]
