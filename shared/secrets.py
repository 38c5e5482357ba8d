"""Reads the JWT signing secret from Secrets Manager, once per cold start."""

from __future__ import annotations


def load_secret_string(secret_arn: str) -> str:
    import boto3  # only the authorizers reach this, and only when the secret lives in Secrets Manager

    return boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
