"""The media bucket: private, encrypted, expiring what is never attached; one notification per media kind
to its function, retried then dead-lettered; each function reaches only the prefixes its Route lists."""

from __future__ import annotations

import pytest

from shared.media.keys import MEDIA_PREFIX, UPLOADS_PREFIX
from shared.storage.repositories.media import UNATTACHED_MEDIA_DAYS
from shared.storage.repositories.media_store import ATTACHED_TAG
from shared.resources import MEDIA_BUCKET_ENV, MEDIA_CORS_EXPOSE_HEADERS, MEDIA_CORS_METHODS
from shared.routes import ROUTES

pytestmark = pytest.mark.infra

MEDIA_TRIGGERS = [r for r in ROUTES if r.api == "s3"]


def _bucket(synth) -> tuple[str, dict]:
    bucket_id = synth.logical_id(synth.stack.media.bucket)
    return bucket_id, synth.resources[bucket_id]["Properties"]


def test_the_bucket_is_private_encrypted_and_kept(full) -> None:
    bucket_id, bucket = _bucket(full)
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert encryption == {"SSEAlgorithm": "AES256"}
    assert full.resources[bucket_id]["DeletionPolicy"] == "Retain"
    (cors,) = bucket["CorsConfiguration"]["CorsRules"]  # what the local S3 front answers too
    assert sorted(cors["AllowedMethods"]) == sorted(MEDIA_CORS_METHODS) and cors["AllowedHeaders"] == ["*"]
    assert cors["ExposedHeaders"] == list(MEDIA_CORS_EXPOSE_HEADERS)
    policies = [p for p in full.of_type("AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    (statement,) = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_uploads_never_attached_expire(full) -> None:
    _, bucket = _bucket(full)
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireUnprocessedUploads"]["Prefix"] == UPLOADS_PREFIX
    assert rules["ExpireUnprocessedUploads"]["ExpirationInDays"] == UNATTACHED_MEDIA_DAYS
    unattached = rules["ExpireUnattachedMedia"]
    assert unattached["Prefix"] == MEDIA_PREFIX and unattached["ExpirationInDays"] == UNATTACHED_MEDIA_DAYS
    assert unattached["TagFilters"] == [{"Key": ATTACHED_TAG, "Value": "no"}]
    assert all(rule["Status"] == "Enabled" for rule in rules.values())


def test_each_media_kind_notifies_its_own_function_for_its_own_prefix(full) -> None:
    (notifications,) = full.of_type("Custom::S3BucketNotifications").values()
    configurations = notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    found = {}
    for configuration in configurations:
        assert configuration["Events"] == ["s3:ObjectCreated:*"]
        (rule,) = configuration["Filter"]["Key"]["FilterRules"]
        assert rule["Name"] == "prefix"
        (function_id,) = full.get_att_targets(configuration["LambdaFunctionArn"])
        found[rule["Value"]] = function_id
    expected = {route.key: full.function(route.handler)[0] for route in MEDIA_TRIGGERS}
    assert found == expected
    assert set(expected) == {"uploads/image/", "uploads/audio/", "uploads/file/"}


@pytest.mark.parametrize("route", MEDIA_TRIGGERS, ids=lambda r: r.name)
def test_a_failed_upload_event_is_retried_then_dead_lettered(full, route) -> None:
    function_id, function = full.function(route.handler)
    (config,) = [
        c["Properties"]
        for c in full.of_type("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert config["MaximumRetryAttempts"] == route.retry_attempts == 2
    queue_id = full.logical_id(full.stack.triggers.dead_letters)
    assert full.get_att_targets(config["DestinationConfig"]["OnFailure"]["Destination"]) == {queue_id}
    assert function["Properties"]["MemorySize"] == route.memory_mb


def _s3_statements(synth, function_id: str) -> dict[str, set[str]]:
    """Object ARN pattern (suffix after the bucket ARN) -> S3 actions granted on it."""
    granted: dict[str, set[str]] = {}
    bucket_id, _ = _bucket(synth)
    for statement in synth.role_policies(function_id):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        s3_actions = {a for a in actions if a.startswith("s3:")}
        if not s3_actions:
            continue
        resource = statement["Resource"]
        assert resource != "*" and "*" not in (resource if isinstance(resource, list) else [resource])
        if synth.get_att_targets(resource) != {bucket_id}:
            continue  # another bucket's (the search indexes')
        (suffix,) = [part for part in resource["Fn::Join"][1] if isinstance(part, str)]
        granted.setdefault(suffix, set()).update(s3_actions)
    return granted


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_each_function_reaches_only_the_prefixes_its_route_lists(full, route) -> None:
    function_id, function = full.function(route.handler)
    expected = {f"/{prefix}*": set(actions) for prefix, actions in route.media_bucket.items()}
    assert _s3_statements(full, function_id) == expected
    environment = function["Properties"].get("Environment", {}).get("Variables", {})
    assert (MEDIA_BUCKET_ENV in environment) == bool(route.media_bucket)


def test_upload_grants_may_only_put_their_own_kind(full) -> None:
    function_id, _ = full.function("functions.upload_image.handler")
    assert _s3_statements(full, function_id) == {"/uploads/image/*": {"s3:PutObject"}}
