"""Two alarms that say "users are seeing errors": HTTP 5xx and failing WebSocket integrations.

They have no actions: wire `Monitoring.alarms` to an SNS topic or a chat channel where you deploy.
Per-function logs (one month) are set by EndpointFunction.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

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
        self.alarms = [
            self._alarm("HttpServerErrors", http_errors, "Parley HTTP API answered 5xx"),
            self._alarm("WebSocketIntegrationErrors", websocket_errors, "Parley WebSocket routes failed"),
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
