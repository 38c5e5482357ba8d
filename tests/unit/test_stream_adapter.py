"""The DynamoDB stream adapter: records in order, plain values, the first failure reported for a retry."""

from decimal import Decimal

import pytest

from shared.adapters.stream import StreamRecord, stream_consumer
from tests.support.events import stream_record

pytestmark = pytest.mark.unit


def _insert(seq: int, sequence_number: str) -> dict:
    return stream_record(
        "INSERT",
        keys={"conversation_id": {"S": "c1"}, "seq": {"N": str(seq)}},
        new={"conversation_id": {"S": "c1"}, "seq": {"N": str(seq)}, "content": {"S": f"m{seq}"}},
        sequence_number=sequence_number,
    )


def test_records_are_processed_in_order_as_plain_values():
    seen: list[StreamRecord] = []
    handler = stream_consumer(seen.append)

    result = handler({"Records": [_insert(1, "100"), _insert(2, "200")]}, None)

    assert result == {"batchItemFailures": []}
    assert [r.keys for r in seen] == [{"conversation_id": "c1", "seq": 1}, {"conversation_id": "c1", "seq": 2}]
    assert seen[0].event_name == "INSERT" and seen[0].old_image is None
    assert seen[0].new_image == {"conversation_id": "c1", "seq": 1, "content": "m1"}
    assert seen[0].sequence_number == "100" and seen[0].approximate_creation_time == 1700000000


def test_the_first_failure_stops_the_batch_and_is_reported_by_sequence_number():
    processed = []

    def process(record: StreamRecord) -> None:
        if record.keys["seq"] == 2:
            raise RuntimeError("storage down")
        processed.append(record.keys["seq"])

    result = stream_consumer(process)({"Records": [_insert(1, "100"), _insert(2, "200"), _insert(3, "300")]}, None)

    assert result == {"batchItemFailures": [{"itemIdentifier": "200"}]}
    assert processed == [1]  # 3 is left for the retry, which starts at 2: order is kept


def test_every_dynamodb_type_becomes_a_plain_value():
    image = {
        "s": {"S": "x"}, "i": {"N": "42"}, "d": {"N": "1.5"}, "t": {"BOOL": True}, "z": {"NULL": True},
        "m": {"M": {"a": {"L": [{"N": "1"}, {"S": "b"}]}}}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]},
        "b": {"B": "aGk="}, "bs": {"BS": ["aGk="]},
    }
    record = StreamRecord.from_event_record(stream_record("MODIFY", keys={"s": {"S": "x"}}, new=image, old=image))
    assert record.new_image == {
        "s": "x", "i": 42, "d": Decimal("1.5"), "t": True, "z": None, "m": {"a": [1, "b"]},
        "ss": {"a", "b"}, "ns": {1, Decimal("2.5")}, "b": b"hi", "bs": {b"hi"},
    }


def test_a_ttl_deletion_is_marked_expired():
    keys = {"user_id": {"S": "u"}}
    expired = StreamRecord.from_event_record(stream_record("REMOVE", keys=keys, old=keys, expired=True))
    deleted = StreamRecord.from_event_record(stream_record("REMOVE", keys=keys, old=keys))
    assert expired.expired and not deleted.expired
    assert expired.new_image is None and expired.old_image == {"user_id": "u"}


def test_an_empty_batch_succeeds():
    assert stream_consumer(lambda record: None)({"Records": []}, None) == {"batchItemFailures": []}


def test_a_batch_consumer_gets_every_record_and_resumes_where_it_says():
    from shared.adapters.stream import stream_batch_consumer

    batches = []

    def process(records: list[StreamRecord]) -> int | None:
        batches.append([r.keys["seq"] for r in records])
        return 1 if len(records) == 3 else None

    handler = stream_batch_consumer(process)
    records = [_insert(1, "100"), _insert(2, "200"), _insert(3, "300")]
    assert handler({"Records": records}, None) == {"batchItemFailures": [{"itemIdentifier": "200"}]}
    assert handler({"Records": records[1:]}, None) == {"batchItemFailures": []}
    assert batches == [[1, 2, 3], [2, 3]]


def test_a_batch_consumer_that_raises_gets_the_whole_batch_again():
    from shared.adapters.stream import stream_batch_consumer

    def process(records):
        raise RuntimeError("S3 down")

    handler = stream_batch_consumer(process)
    assert handler({"Records": [_insert(1, "100"), _insert(2, "200")]}, None) == {
        "batchItemFailures": [{"itemIdentifier": "100"}]
    }
    assert handler({"Records": []}, None) == {"batchItemFailures": []}
