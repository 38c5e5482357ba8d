"""What runs a trigger route's function: an event source mapping on its table's stream, or an EventBridge
rule, or the media bucket's notifications (s3 routes); and where what they give up on goes (one dead-letter
queue, with an alarm).

Stream routes read as the local runtime reads (infra/local/triggers.py): from TRIM_HORIZON, in order,
one batch in flight per shard (parallelization factor 1: the consumers rely on a single writer per
partition key), `batch_size` records, `retry_attempts` retries resuming from the failed record
(report_batch_item_failures; no bisection, which would break the order), then the batch's description
goes to the dead-letter queue and the mapping moves on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs import pascal_case
from infra.constructs.media import MediaStorage
from infra.constructs.nag import acknowledge
from shared.routes import Route

# A batch older than this is dead-lettered rather than retried further: the queue then holds its
# sequence numbers while the stream (24 h retention) still holds its records, leaving 18 h to replay it.
MAX_RECORD_AGE = cdk.Duration.hours(6)
DEAD_LETTER_RETENTION = cdk.Duration.days(14)  # SQS's longest
_ALARM_PERIOD = cdk.Duration.minutes(1)


class Triggers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        routes: Sequence[Route],
        functions: Mapping[str, lambda_.IFunction],
        tables: Mapping[str, dynamodb.ITable],
        media: MediaStorage | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._media = media
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter destination itself: what lands here waits for a person, not a retry.",
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "DeadLettersWaiting",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=_ALARM_PERIOD, statistic="Maximum"
            ),
            alarm_description="Parley triggers gave up on work after their retries: see the dead-letter queue",
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for route in routes:
            if route.api == "stream":
                self._stream(route, functions[route.name], tables[route.key])
            elif route.api == "schedule":
                self._schedule(route, functions[route.name])
            elif route.api == "s3":
                self._s3(route, functions[route.name])

    def _stream(self, route: Route, function: lambda_.IFunction, table: dynamodb.ITable) -> None:
        if table.table_stream_arn is None:
            raise ValueError(f"{route.name}: table {route.key} has no stream (Meta.stream_view_type in shared/storage/tables.py)")
        function.add_event_source(
            event_sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=route.batch_size,
                retry_attempts=route.retry_attempts,
                report_batch_item_failures=True,
                parallelization_factor=1,
                bisect_batch_on_error=False,
                max_record_age=MAX_RECORD_AGE,
                on_failure=event_sources.SqsDlq(self.dead_letters),
            )
        )
        acknowledge(
            function,
            "AwsSolutions-IAM5[Resource::*]",
            "dynamodb:ListStreams, which Lambda's stream poller needs, has no resource-level permissions.",
        )

    def _s3(self, route: Route, function: lambda_.IFunction) -> None:
        # S3 invokes asynchronously too: retried, then the event goes to the dead-letter queue.
        if self._media is None:
            raise ValueError(f"{route.name}: an s3 route needs the media bucket")
        function.configure_async_invoke(
            retry_attempts=route.retry_attempts,
            max_event_age=MAX_RECORD_AGE,
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        self._media.notify(function, route)

    def _schedule(self, route: Route, function: lambda_.IFunction) -> None:
        # EventBridge invokes asynchronously: Lambda retries a failed run (at most twice), then the
        # event goes to the dead-letter queue; so does an event EventBridge could not deliver at all.
        function.configure_async_invoke(
            retry_attempts=route.retry_attempts, on_failure=destinations.SqsDestination(self.dead_letters)
        )
        events.Rule(
            self,
            f"{pascal_case(route.name)}Schedule",
            description=f"Runs Parley's {route.name}",
            schedule=events.Schedule.expression(route.key),
            targets=[targets.LambdaFunction(function, dead_letter_queue=self.dead_letters)],
        )
