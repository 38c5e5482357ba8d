"""The Lambda context object, as the Python runtime builds it for each invocation."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from shared.routes import Route

ACCOUNT_ID = "123456789012"
FUNCTION_NAME_PREFIX = "parley-"


def function_name(route: Route) -> str:
    return f"{FUNCTION_NAME_PREFIX}{route.name}"


def function_arn(route: Route, region: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name(route)}"


class LambdaContext:
    """Mirrors awslambdaric's LambdaContext: the same attributes, with the same types.

    As on AWS, ``memory_limit_in_mb`` is a string (the runtime reads it from the environment).
    """

    def __init__(self, route: Route, *, region: str, log_stream_name: str, deadline_epoch_ms: int) -> None:
        self.function_name = function_name(route)
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn(route, region)
        self.memory_limit_in_mb = str(route.memory_mb)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        remaining = self._deadline_epoch_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def __repr__(self) -> str:
        return f"LambdaContext(function_name={self.function_name!r}, aws_request_id={self.aws_request_id!r})"


def new_log_stream_name() -> str:
    """One per function for the life of the process, like one warm execution environment."""
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
