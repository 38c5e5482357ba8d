"""What an operator and a browser get from the APIs: alarms on what users notice (including failures that
WebSocket routes answer with 200), and CORS that lets apps read what they need."""

from __future__ import annotations

import pytest

from shared import metrics

pytestmark = pytest.mark.infra


def _alarms(synth) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in synth.of_type("AWS::CloudWatch::Alarm").items()}


def test_server_side_error_frames_raise_an_alarm(full):
    (alarm,) = [a for a in _alarms(full).values() if "server-error frames" in a["AlarmDescription"]]
    watched = {
        tuple(sorted((d["Name"], d["Value"]) for d in query["MetricStat"]["Metric"]["Dimensions"]))
        for query in alarm["Metrics"]
        if "MetricStat" in query
    }
    assert watched == {
        (("api", "websocket"), ("code", code), ("service", "parley")) for code in metrics.SERVER_ERROR_CODES
    }
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            assert query["MetricStat"]["Metric"]["Namespace"] == "Parley"
            assert query["MetricStat"]["Metric"]["MetricName"] == metrics.ERROR_RESPONSES
            assert query["MetricStat"]["Stat"] == "Sum"


def test_failed_pushes_raise_an_alarm(minimal):
    (alarm,) = [a for a in _alarms(minimal).values() if a.get("MetricName") == metrics.PUSHES_FAILED]
    assert alarm["Namespace"] == "Parley" and alarm["Dimensions"] == [{"Name": "service", "Value": "parley"}]


def test_browsers_may_read_retry_after(variant):
    """A cross-origin app must be able to read a 429's retry-after: the HTTP API exposes it."""
    (api,) = [a for a in variant.of_type("AWS::ApiGatewayV2::Api").values() if a["Properties"]["ProtocolType"] == "HTTP"]
    cors = api["Properties"]["CorsConfiguration"]
    assert cors["ExposeHeaders"] == ["retry-after"]
    assert set(cors["AllowHeaders"]) == {"authorization", "content-type"}


def test_a_change_that_replaces_the_cache_also_renames_it(full):
    from infra.constructs.cache import _REPLACEMENT_SETTINGS, cache_name

    (cache,) = full.of_type("AWS::ElastiCache::ServerlessCache").values()
    name = cache["Properties"]["ServerlessCacheName"]
    assert len(name) <= 40 and name == name.lower()
    base = name.rsplit("-", 1)[0]
    assert cache_name(base) == name
    # Another engine or subnet layout makes CloudFormation replace the cache: the new one gets a new name.
    assert cache_name(base, {**_REPLACEMENT_SETTINGS, "private_cidr_mask": 21}) != name
    assert cache_name(base, {**_REPLACEMENT_SETTINGS, "engine": "redis"}) != name


def test_tables_are_retained_and_findable_unless_asked_otherwise(full, tmp_path):
    from tests.infra.conftest import synthesize

    for table in full.of_type("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Retain"
        tags = {t["Key"]: t["Value"] for t in table["Properties"]["Tags"]}
        assert tags["parley:stack"] == full.stack.stack_name and tags["parley:table"]
    throwaway = synthesize(tmp_path, retain_data="false", redis="false")
    assert {t["DeletionPolicy"] for t in throwaway.of_type("AWS::DynamoDB::Table").values()} == {"Delete"}


def test_tracing_is_a_flag_off_by_default(full, tmp_path):
    from tests.infra.conftest import synthesize

    functions = full.of_type("AWS::Lambda::Function").values()
    assert all(f["Properties"].get("TracingConfig", {}).get("Mode", "PassThrough") == "PassThrough" for f in functions)
    traced = synthesize(tmp_path, tracing="true", redis="false")  # cdk-nag runs: findings acknowledged
    # Parley's own functions (CDK's deploy-time helpers, e.g. the bucket-notifications handler, are not traced).
    functions = [
        f for f in traced.of_type("AWS::Lambda::Function").values() if f["Properties"]["Handler"].startswith("functions.")
    ]
    assert {f["Properties"]["TracingConfig"]["Mode"] for f in functions} == {"Active"}
