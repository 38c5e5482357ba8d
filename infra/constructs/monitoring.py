"""Alarms that say "users are seeing errors", and what they watch.

- HTTP 5xx answers (API Gateway's metric);
- WebSocket integration errors (a function crashed or timed out);
- WebSocket error frames with a server-side code (shared/metrics.SERVER_ERROR_CODES): WebSocket routes
  answer every failure with an `error` frame and status 200, so a storage outage never shows up as an
  integration error; Parley's own ErrorResponses metric (EMF, by api and code) counts them;
- pushes that failed for another reason than a closed connection (the management API is failing).

They have no actions: wire `Monitoring.alarms` to an SNS topic or a chat channel where you deploy.
Per-function logs (one month) are set by EndpointFunction.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from shared import metrics
from shared.resources import METRICS_NAMESPACE, SERVICE_NAME

_PERIOD = cdk.Duration.minutes(5)
_ERRORS_PER_PERIOD = 5


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        http_api: apigwv2.HttpApi,
        websocket_api: apigwv2.WebSocketApi,
        websocket_stage: apigwv2.WebSocketStage,
    ) -> None:
        super().__init__(scope, construct_id)
        http_errors = http_api.metric_server_error(period=_PERIOD, statistic="Sum")
        websocket_errors = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="IntegrationError",  # the function failed or returned an error
            dimensions_map={"ApiId": websocket_api.api_id, "Stage": websocket_stage.stage_name},
            period=_PERIOD,
            statistic="Sum",
        )
        server_error_frames = cloudwatch.MathExpression(
            expression=" + ".join(f"FILL({code}, 0)" for code in metrics.SERVER_ERROR_CODES),
            using_metrics={code: _parley_metric(metrics.ERROR_RESPONSES, api="websocket", code=code)
                           for code in metrics.SERVER_ERROR_CODES},
            label="WebSocket error frames: " + ", ".join(metrics.SERVER_ERROR_CODES),
            period=_PERIOD,
        )
        self.alarms = [
            self._alarm("HttpServerErrors", http_errors, "Parley HTTP API answered 5xx"),
            self._alarm("WebSocketIntegrationErrors", websocket_errors, "Parley WebSocket routes failed"),
            self._alarm(
                "WebSocketServerErrorFrames", server_error_frames, "Parley WebSocket routes answered server-error frames"
            ),
            self._alarm("PushFailures", _parley_metric(metrics.PUSHES_FAILED), "Parley pushes to live connections failed"),
        ]

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_description=f"{description} {_ERRORS_PER_PERIOD}+ times in {_PERIOD.to_minutes()} minutes",
            threshold=_ERRORS_PER_PERIOD,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )


def _parley_metric(name: str, **dimensions: str) -> cloudwatch.Metric:
    """One of Parley's own metrics (shared/metrics.py), with the dimensions its EMF lines carry."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME, **dimensions},
        period=_PERIOD,
        statistic="Sum",
    )
