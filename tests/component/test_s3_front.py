"""The local S3 front refuses presigned uploads exactly where S3 would, and runs S3 triggers with S3's events."""

from __future__ import annotations

import base64
import json
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
from aws_lambda_powertools.utilities.parser.models import S3Model

from shared.storage.repositories.media_store import MediaStore
from shared.routes import Route
from tests.support.s3_front import running_s3_front

pytestmark = pytest.mark.component

ROUTE = Route("process_image", "s3", "uploads/image/", retry_attempts=2)
JPEG = b"\xff\xd8\xff\xe0" + b"x" * 1000


@pytest.fixture
def front(moto_url, monkeypatch):
    with running_s3_front(moto_url, [ROUTE]) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", running.url)
        yield running


@pytest.fixture
def store(front):
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    store = MediaStore(bucket, "us-east-1")
    store._s3().create_bucket(Bucket=bucket)
    return store


def _post(grant, data: bytes, *, fields: dict | None = None, content_type: str = "image/jpeg", file_name="a.jpg"):
    form = {**grant.fields, **(fields or {})}
    return requests.post(grant.url, data=form, files={"file": (file_name, data, content_type)}, timeout=10)


def _error(response) -> tuple[str, str]:
    root = ET.fromstring(response.content)
    return root.findtext("Code"), root.findtext("Message")


def test_an_upload_within_its_grant_is_stored_and_runs_the_trigger_with_s3s_event(front, store) -> None:
    key = "uploads/image/holiday photo+1.jpg"
    grant = store.presigned_post(key, "image/jpeg", len(JPEG), 60)

    response = _post(grant, JPEG)

    assert response.status_code == 204
    assert store.read(key, 10_000) == JPEG
    (event,) = front.wait_for_events(1)
    parsed = S3Model.model_validate(event)  # Powertools' model: every field S3 sends is there
    record = parsed.Records[0]
    assert record.eventName == "ObjectCreated:Post"
    assert record.s3.bucket.name == store.bucket
    assert record.s3.object.size == len(JPEG)
    assert event["Records"][0]["s3"]["object"]["key"] == "uploads/image/holiday+photo%2B1.jpg"  # as S3 encodes


def test_objects_outside_the_trigger_prefix_run_nothing(front, store) -> None:
    store.put("media/x/standard.jpg", b"data", "image/jpeg")
    store.put("uploads/image/by-sdk", b"data", "image/jpeg")
    events = front.wait_for_events(1)
    time.sleep(0.2)
    assert [e["Records"][0]["s3"]["object"]["key"] for e in events] == ["uploads/image/by-sdk"]
    assert events[0]["Records"][0]["eventName"] == "ObjectCreated:Put"


@pytest.mark.parametrize(
    ("size", "status", "code"),
    [(len(JPEG) + 1, 400, "EntityTooLarge"), (len(JPEG) - 1, 400, "EntityTooSmall")],
)
def test_an_upload_of_another_size_is_refused(front, store, size, status, code) -> None:
    grant = store.presigned_post("uploads/image/a", "image/jpeg", len(JPEG), 60)
    response = _post(grant, b"y" * size)
    assert (response.status_code, _error(response)[0]) == (status, code)
    root = ET.fromstring(response.content)
    assert root.findtext("ProposedSize") == str(size)


def test_an_upload_of_another_content_type_is_refused(front, store) -> None:
    grant = store.presigned_post("uploads/image/a", "image/jpeg", len(JPEG), 60)
    response = _post(grant, JPEG, fields={"Content-Type": "text/html"})
    assert response.status_code == 403
    code, message = _error(response)
    assert code == "AccessDenied"
    assert message == 'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "image/jpeg"]'


def test_an_upload_to_another_key_is_refused(front, store) -> None:
    grant = store.presigned_post("uploads/image/mine", "image/jpeg", len(JPEG), 60)
    response = _post(grant, JPEG, fields={"key": "uploads/image/someone-elses"})
    assert response.status_code == 403
    assert _error(response)[1].startswith("Invalid according to Policy: Policy Condition failed")


def test_an_expired_grant_is_refused(front, store) -> None:
    grant = store.presigned_post("uploads/image/a", "image/jpeg", len(JPEG), 1)
    time.sleep(1.1)
    response = _post(grant, JPEG)
    assert response.status_code == 403
    assert _error(response) == ("AccessDenied", "Invalid according to Policy: Policy expired.")


def test_a_tampered_policy_or_a_wrong_key_is_refused(front, store) -> None:
    grant = store.presigned_post("uploads/image/a", "image/jpeg", len(JPEG), 60)
    policy = json.loads(base64.b64decode(grant.fields["policy"]))
    policy["conditions"] = [c for c in policy["conditions"] if not (isinstance(c, list) and c[0] == "content-length-range")]
    forged = base64.b64encode(json.dumps(policy).encode()).decode()
    response = _post(grant, JPEG * 3, fields={"policy": forged})
    assert (response.status_code, _error(response)[0]) == (403, "SignatureDoesNotMatch")

    unknown = grant.fields["x-amz-credential"].replace("testing/", "AKIAOTHER/", 1)
    response = _post(grant, JPEG, fields={"x-amz-credential": unknown})
    assert (response.status_code, _error(response)[0]) == (403, "InvalidAccessKeyId")


def test_a_field_the_policy_does_not_cover_is_refused(front, store) -> None:
    grant = store.presigned_post("uploads/image/a", "image/jpeg", len(JPEG), 60)
    response = _post(grant, JPEG, fields={"acl": "public-read"})
    assert response.status_code == 403
    assert _error(response)[1] == "Invalid according to Policy: Extra input fields: acl"


def test_a_browser_page_may_post_an_upload_and_read_the_answer(front, store) -> None:
    origin = {"Origin": "http://localhost:8000"}
    preflight = requests.options(
        f"{front.url}/{store.bucket}", headers={**origin, "Access-Control-Request-Method": "POST"}, timeout=10
    )
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    refused = requests.options(
        f"{front.url}/{store.bucket}", headers={**origin, "Access-Control-Request-Method": "DELETE"}, timeout=10
    )
    assert refused.status_code == 403

    grant = store.presigned_post("uploads/image/a", "image/jpeg", len(JPEG), 60)
    form = {**grant.fields}
    stored = requests.post(grant.url, data=form, files={"file": ("a.jpg", JPEG, "image/jpeg")}, headers=origin, timeout=10)
    too_big = requests.post(grant.url, data=form, files={"file": ("a.jpg", JPEG + b"x", "image/jpeg")}, headers=origin, timeout=10)
    for response in (stored, too_big):  # a page reads S3's refusal too
        assert response.headers["Access-Control-Allow-Origin"] == "*", response.status_code
    assert stored.status_code == 204 and "ETag" in stored.headers["Access-Control-Expose-Headers"]
    download = requests.get(store.presigned_get("uploads/image/a", 60, content_type="image/jpeg"), headers=origin, timeout=10)
    assert download.content == JPEG and download.headers["Access-Control-Allow-Origin"] == "*"


def test_the_bucket_is_private(front, store) -> None:
    store.put("media/x/standard.jpg", b"data", "image/jpeg")
    anonymous = requests.get(f"{front.url}/{store.bucket}/media/x/standard.jpg", timeout=10)
    assert (anonymous.status_code, _error(anonymous)[0]) == (403, "AccessDenied")
    upload = requests.post(f"{front.url}/{store.bucket}", data={"key": "uploads/image/x"}, files={"file": b"x"}, timeout=10)
    assert upload.status_code == 403

    url = store.presigned_get("media/x/standard.jpg", 60, content_type="image/jpeg")
    assert requests.get(url, timeout=10).content == b"data"
    forged = url.replace("media/x/standard.jpg", "media/x/other.jpg")
    assert _error(requests.get(forged, timeout=10))[0] == "SignatureDoesNotMatch"


def test_a_presigned_download_expires(front, store) -> None:
    store.put("media/x/standard.jpg", b"data", "image/jpeg")
    url = store.presigned_get("media/x/standard.jpg", 1, content_type="image/jpeg")
    time.sleep(1.1)
    response = requests.get(url, timeout=10)
    assert (response.status_code, _error(response)) == (403, ("AccessDenied", "Request has expired"))


def test_a_failing_trigger_is_retried_then_dead_lettered(moto_url, monkeypatch) -> None:
    def failing(event, context):
        raise RuntimeError("cannot process")

    with running_s3_front(moto_url, [ROUTE], failing) as front:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", front.url)
        bucket = f"media-{uuid.uuid4().hex[:12]}"
        store = MediaStore(bucket, "us-east-1")
        store._s3().create_bucket(Bucket=bucket)
        store.put("uploads/image/x", b"data", "image/jpeg")
        (letter,) = front.wait_for_dead_letters(1)
        assert len(front.events) == 3  # the first try and Lambda's 2 retries
        assert letter["requestContext"]["condition"] == "RetriesExhausted"
        assert letter["requestContext"]["approximateInvokeCount"] == 3
        assert "cannot process" in letter["responsePayload"]["errorMessage"]
        assert letter["requestPayload"] == front.events[0]
