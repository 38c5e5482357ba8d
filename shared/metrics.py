"""Operational metrics: CloudWatch embedded metric format (EMF) through Powertools Metrics.

Counted while an invocation runs and written as one EMF log line when it ends (shared/observability.py
flushes), so a metric costs no API call. The names are what infra/constructs/monitoring.py alarms on.
Every metric carries the dimension `service`; ERROR_RESPONSES also `api` and `code`.
"""

from __future__ import annotations

import functools

from shared.package_init import defer_package_init
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


def _powertools_metrics():
    """Powertools' metrics without the rest of Powertools (shared/package_init.py): ~7 ms less of the first
    request that counts."""
    defer_package_init("aws_lambda_powertools")
    import aws_lambda_powertools.metrics

    return aws_lambda_powertools.metrics


@functools.cache
def _metrics():
    return _powertools_metrics().Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


def count(name: str, value: int = 1) -> None:
    if value:
        _metrics().add_metric(name=name, unit=_powertools_metrics().MetricUnit.Count, value=value)


def count_error(api: str, code: str) -> None:
    """One error answer; its own EMF line, since its dimensions differ from the other metrics'."""
    powertools = _powertools_metrics()
    with powertools.single_metric(
        name=ERROR_RESPONSES,
        unit=powertools.MetricUnit.Count,
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
