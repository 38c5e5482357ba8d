"""The local triggers' pure parts: schedule expressions and Lambda's reading of a partial batch response."""

import pytest

from infra.local.triggers import _resume_index, rate_seconds

pytestmark = pytest.mark.unit

BATCH = [{"dynamodb": {"SequenceNumber": str(n)}} for n in (100, 200, 300)]


@pytest.mark.parametrize(
    "expression, seconds",
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("rate(1 day)", 86400),
     ("rate(1 minutes)", None), ("rate(5 minute)", None), ("rate(0 minutes)", None), ("cron(0 * * * ? *)", None)],
)
def test_rate_expressions(expression, seconds):
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize(
    "result, resume_at",
    [
        (None, None),  # no answer: the batch succeeded
        ({"batchItemFailures": []}, None),
        ({"statusCode": 200}, None),
        ({"batchItemFailures": [{"itemIdentifier": "200"}]}, 1),
        ({"batchItemFailures": [{"itemIdentifier": "300"}, {"itemIdentifier": "200"}]}, 1),  # the lowest
        ({"batchItemFailures": [{"itemIdentifier": "999"}]}, 0),  # not in the batch: all of it failed
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, 0),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, 0),
        ({"batchItemFailures": [{}]}, 0),
    ],
)
def test_a_partial_batch_response_is_read_as_lambda_reads_it(result, resume_at):
    assert _resume_index(result, BATCH) == resume_at
