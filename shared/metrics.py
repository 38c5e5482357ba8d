"""Operational metrics: CloudWatch embedded metric format (EMF) through Powertools Metrics.

Counted while an invocation runs and written as one EMF log line when it ends (shared/observability.py
flushes), so a metric costs no API call. The names are what infra/constructs/monitoring.py alarms on.
Every metric carries the dimension `service`; ERROR_RESPONSES also `api` and `code`.
"""

from __future__ import annotations

import functools

from shared.resources import METRICS_NAMESPACE, SERVICE_NAME

MESSAGES_STORED = "MessagesStored"  # a send stored a new message
DUPLICATE_SENDS = "DuplicateSends"  # a retried send answered with the message already stored
PUSHES_SENT = "PushesSent"  # frames the management API accepted
PUSHES_GONE = "PushesGone"  # 410: the connection had closed (its record is forgotten)
PUSHES_FAILED = "PushesFailed"  # any other push failure (the message is stored; the client's sync finds it)
RATE_LIMITED_SENDS = "RateLimitedSends"
AUTHORIZER_REFUSALS = "AuthorizerRefusals"  # a missing, bad or expired token
ERROR_RESPONSES = "ErrorResponses"  # HTTP error answers and WebSocket error frames, by api and code

# Codes that mean "Parley failed", not "the client asked for something wrong": the ones to alarm on.
SERVER_ERROR_CODES = ("unavailable", "internal_error")


@functools.cache
def _metrics():
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


def count(name: str, value: int = 1) -> None:
    if value:
        from aws_lambda_powertools.metrics import MetricUnit

        _metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)


def count_error(api: str, code: str) -> None:
    """One error answer; its own EMF line, since its dimensions differ from the other metrics'."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(
        name=ERROR_RESPONSES,
        unit=MetricUnit.Count,
        value=1,
        namespace=METRICS_NAMESPACE,
        default_dimensions={"service": SERVICE_NAME},
    ) as metric:
        metric.add_dimension(name="api", value=api)
        metric.add_dimension(name="code", value=code)


def flush() -> None:
    """Writes what this invocation counted (nothing when it counted nothing)."""
    if not _metrics.cache_info().currsize:  # nothing counted yet in this process: Powertools is not even loaded
        return
    recorder = _metrics()
    if recorder.metric_set:  # Powertools warns about an empty flush
        recorder.flush_metrics()
