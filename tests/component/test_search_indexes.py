"""The per-user search indexes in S3 (moto): stored, cached by version, read by other instances."""

import boto3
import pytest

from shared.repositories.search_indexes import S3SearchIndexes, index_key
from shared.search_index import IndexEntry

pytestmark = pytest.mark.component

BUCKET = "parley-search-test"


@pytest.fixture
def s3(moto_url):
    client = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def add(*entries):
    return lambda index: index.add(entries) > 0


def hits(store, user, query):
    with store.reading(user) as index:
        return None if index is None else [(hit.conversation_id, hit.seq) for hit in index.search(query, limit=10)]


def test_an_index_written_by_one_instance_is_read_by_another(s3, tmp_path):
    writer = S3SearchIndexes(BUCKET, str(tmp_path / "writer"))
    reader = S3SearchIndexes(BUCKET, str(tmp_path / "reader"))
    assert hits(reader, "alice", "hello") is None  # no index yet
    writer.update("alice", add(IndexEntry("dm_x", 1, 1000, "hello there")))
    assert hits(reader, "alice", "hello") == [("dm_x", 1)]
    writer.update("alice", add(IndexEntry("dm_x", 2, 2000, "hello again")))
    assert hits(reader, "alice", "hello") == [("dm_x", 2), ("dm_x", 1)]  # the reader's cache caught up
    assert hits(reader, "bob", "hello") is None  # one index per user


def test_a_change_that_changes_nothing_stores_nothing(s3, tmp_path):
    store = S3SearchIndexes(BUCKET, str(tmp_path))
    store.update("alice", add(IndexEntry("dm_x", 1, 1000, "hello")))
    version = s3.head_object(Bucket=BUCKET, Key=index_key("alice"))["ETag"]
    store.update("alice", add(IndexEntry("dm_x", 1, 1000, "hello")))  # a redelivery
    assert s3.head_object(Bucket=BUCKET, Key=index_key("alice"))["ETag"] == version


def test_the_cache_keeps_one_file_per_user_and_the_key_does_not_show_the_user_id(s3, tmp_path):
    store = S3SearchIndexes(BUCKET, str(tmp_path))
    for seq in range(1, 4):
        store.update("alice@example.com", add(IndexEntry("dm_x", seq, seq, f"note {seq}")))
    assert len(list(tmp_path.glob("*.db"))) == 1 and not list(tmp_path.glob("*.tmp"))
    assert "alice" not in index_key("alice@example.com")
    assert hits(S3SearchIndexes(BUCKET, str(tmp_path / "other")), "alice@example.com", "note") == [
        ("dm_x", 3), ("dm_x", 2), ("dm_x", 1)
    ]


def test_removals_reach_other_instances(s3, tmp_path):
    writer = S3SearchIndexes(BUCKET, str(tmp_path / "writer"))
    reader = S3SearchIndexes(BUCKET, str(tmp_path / "reader"))
    writer.update("alice", add(IndexEntry("dm_x", 1, 1000, "secret plan"), IndexEntry("dm_x", 2, 2000, "plan b")))
    assert hits(reader, "alice", "plan") == [("dm_x", 2), ("dm_x", 1)]
    writer.update("alice", lambda index: index.remove([("dm_x", 1)]) > 0)
    assert hits(reader, "alice", "secret") == [] and hits(reader, "alice", "plan") == [("dm_x", 2)]
