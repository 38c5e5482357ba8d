"""The per-user search indexes in S3 (moto): stored, cached by version, read by other instances, folded."""

import boto3
import pytest

from shared.storage.repositories import search_indexes
from shared.storage.repositories.search_indexes import S3SearchIndexes, index_key
from shared.storage.search_index import IndexEntry

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


def entry(seq, text, conversation="dm_x"):
    return IndexEntry(conversation, seq, seq * 1000, text)


def hits(store, user, query):
    with store.reading(user) as index:
        return None if index is None else [(hit.conversation_id, hit.seq) for hit in index.search(query, limit=100)]


def test_an_index_written_by_one_instance_is_read_by_another(s3, tmp_path):
    writer = S3SearchIndexes(BUCKET, str(tmp_path / "writer"))
    reader = S3SearchIndexes(BUCKET, str(tmp_path / "reader"))
    assert hits(reader, "alice", "hello") is None  # no index yet
    writer.apply("alice", [entry(1, "hello there")], [])
    assert hits(reader, "alice", "hello") == [("dm_x", 1)]
    writer.apply("alice", [entry(2, "hello again")], [])
    assert hits(reader, "alice", "hello") == [("dm_x", 2), ("dm_x", 1)]  # the reader's cache caught up
    assert hits(reader, "bob", "hello") is None  # one index per user


def test_a_change_that_changes_nothing_stores_nothing(s3, tmp_path):
    store = S3SearchIndexes(BUCKET, str(tmp_path))
    assert store.apply("alice", [entry(1, "hello")], [])
    version = s3.head_object(Bucket=BUCKET, Key=index_key("alice", "recent"))["ETag"]
    assert not store.apply("alice", [entry(1, "hello")], [("dm_x", 7)])  # a redelivery, a removal of nothing
    assert s3.head_object(Bucket=BUCKET, Key=index_key("alice", "recent"))["ETag"] == version


def test_the_cache_keeps_one_file_per_object_and_keys_do_not_show_the_user_id(s3, tmp_path):
    store = S3SearchIndexes(BUCKET, str(tmp_path))
    for seq in range(1, 4):
        store.apply("alice@example.com", [entry(seq, f"note {seq}")], [])
    assert len(list(tmp_path.glob("*.db"))) == 1 and not list(tmp_path.glob("*.tmp"))
    assert "alice" not in index_key("alice@example.com", "main")
    fresh = S3SearchIndexes(BUCKET, str(tmp_path / "other"))
    assert hits(fresh, "alice@example.com", "note") == [("dm_x", 3), ("dm_x", 2), ("dm_x", 1)]


def test_recent_entries_fold_into_main_and_removals_reach_both(s3, tmp_path, monkeypatch):
    monkeypatch.setattr(search_indexes, "RECENT_ENTRIES", 3)
    writer = S3SearchIndexes(BUCKET, str(tmp_path / "writer"))
    reader = S3SearchIndexes(BUCKET, str(tmp_path / "reader"))
    for seq in range(1, 6):
        writer.apply("alice", [entry(seq, f"plan {seq}")], [])
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {index_key("alice", "recent"), index_key("alice", "main")}
    assert hits(reader, "alice", "plan") == [("dm_x", seq) for seq in (5, 4, 3, 2, 1)]
    writer.apply("alice", [entry(3, "plan 3")], [])  # redelivered after its fold: still found once
    assert hits(reader, "alice", "plan") == [("dm_x", seq) for seq in (5, 4, 3, 2, 1)]
    assert writer.apply("alice", [], [("dm_x", 1), ("dm_x", 5), ("dm_x", 3)])  # in main, in recent, in both
    assert hits(reader, "alice", "plan") == [("dm_x", 4), ("dm_x", 2)]
    assert hits(S3SearchIndexes(BUCKET, str(tmp_path / "cold")), "alice", "plan") == [("dm_x", 4), ("dm_x", 2)]
