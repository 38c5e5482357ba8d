"""Makes moto's DynamoDB Streams and TTL behave like DynamoDB's, for the local runtime's stream consumers.

Installed in the moto process (infra/local/moto_process.py), after infra.local.moto_dynamodb, under the
same lock. What it corrects (moto 5.x):
- an update that changes nothing wrote a MODIFY record: DynamoDB writes none;
- records said ``eventVersion`` 1.0 and region us-east-1 whatever the table's: now 1.1 and the table's;
- moto never expires TTL items: a sweeper thread deletes expired items every few seconds, and their
  REMOVE records carry the service's ``userIdentity``, as DynamoDB's TTL deletions do;
- records of a transaction moto rejected mid-way stayed in the stream: gone with the rollback (see
  moto_dynamodb), and a transaction's records become visible together, when it is done;
- every GetRecords made a shard iterator that lived forever: an empty read now hands back the same
  iterator, and iterators expire after 15 minutes, as DynamoDB's do;
- a stream kept every record for the life of the process: at most MAX_RECORDS_PER_SHARD are kept
  (DynamoDB keeps 24 hours); reading trimmed records fails with TrimmedDataAccessException, as on AWS.

And one addition that is not DynamoDB's: a GetRecords carrying the header ``X-Parley-Wait-Seconds: N``
waits up to N seconds for a record when there is none yet (a long poll). The runtime's pollers send it,
so a record reaches its consumer within milliseconds without polling moto in a tight loop; any other
client (and any other endpoint, which ignores the header) gets the usual immediate answer.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from typing import Any

from infra.local import moto_dynamodb, moto_responses

log = logging.getLogger("local.moto.streams")

WAIT_HEADER = "X-Parley-Wait-Seconds"
MAX_WAIT_SECONDS = 5.0
MAX_RECORDS_PER_SHARD = 100_000
ITERATOR_LIFETIME_SECONDS = 15 * 60
DEFAULT_TTL_SWEEP_SECONDS = 5.0
# DynamoDB leaves alone items whose expiry is more than five years in the past (a mistaken unit).
TTL_MAX_AGE_SECONDS = 5 * 365 * 24 * 3600
# As the GetRecords API spells it (Lambda's event spells it "type"/"principalId").
TTL_IDENTITY = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
_SWEEP_CHUNK = 500  # items checked per hold of the lock, so requests are not stalled by a sweep
_SWEEP_BUDGET = 2_000  # items checked per table and sweep: a sweep's cost does not grow with the table

_state = threading.local()
_installed = False


def install(ttl_sweep_seconds: float | None = DEFAULT_TTL_SWEEP_SECONDS) -> None:
    """Patches moto in this process; with `ttl_sweep_seconds`, starts the TTL sweeper (a daemon thread)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    moto_dynamodb.install()
    moto_responses.install()
    StreamShard.add = _add
    StreamShard.get = _get
    StreamShard.next_sequence_number = property(_next_sequence_number)
    _patch_iterators(ShardIterator, DynamoDBStreamsBackend)

    call_action = DynamoDBStreamsHandler.call_action

    @functools.wraps(call_action)
    def serialized_call_action(self, *args, **kwargs):
        with moto_dynamodb._lock:
            return call_action(self, *args, **kwargs)

    get_records = DynamoDBStreamsHandler.get_records

    @functools.wraps(get_records)
    def waiting_get_records(self):
        try:
            wait = min(float(self.headers.get(WAIT_HEADER) or 0), MAX_WAIT_SECONDS)
        except ValueError:
            wait = 0.0
        iterator = self.backend.shard_iterators.get(self._get_param("ShardIterator"))
        if wait > 0 and iterator is not None:
            shard = iterator.stream_shard
            _changed(shard).wait_for(lambda: shard.next_sequence_number > iterator.sequence_number, timeout=wait)
        return get_records(self)

    DynamoDBStreamsHandler.call_action = serialized_call_action
    DynamoDBStreamsHandler.get_records = waiting_get_records
    if ttl_sweep_seconds:
        threading.Thread(target=_sweep_forever, args=(ttl_sweep_seconds,), name="ttl-sweeper", daemon=True).start()
    _installed = True


# ------------------------------------------------------------------------------------------ the shard


def _next_sequence_number(shard) -> int:
    return shard.starting_sequence_number + getattr(shard, "trimmed", 0) + len(shard.items)


def _changed(shard) -> threading.Condition:
    """Notified whenever `shard` gets a record: each waiting read wakes for its own shard only, not for
    every write to any table. Made under the lock, which it shares."""
    condition = getattr(shard, "_parley_changed", None)
    if condition is None:
        condition = shard._parley_changed = threading.Condition(moto_dynamodb._lock)
    return condition


def _add(self, old, new) -> None:
    """StreamShard.add: DynamoDB's record for one change (none for a change that changes nothing). The
    record is moto's StreamRecord, built from each image's JSON made once (moto made each twice more)."""
    from moto.core.utils import utcnow
    from moto.dynamodb.models.utilities import dynamo_json_dump
    from moto.moto_api._internal import mock_random

    old_image = old.to_json()["Attributes"] if old is not None else None
    new_image = new.to_json()["Attributes"] if new is not None else None
    if old_image is not None and old_image == new_image:
        return
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    view_type = self.table.stream_specification["StreamViewType"]
    changed = old if old is not None else new
    keys = {self.table.hash_key_attr: changed.hash_key.to_json()}
    if self.table.range_key_attr is not None:
        keys[self.table.range_key_attr] = changed.range_key.to_json()
    dynamodb = {
        "StreamViewType": view_type,
        "ApproximateCreationDateTime": utcnow(),
        "SequenceNumber": str(self.next_sequence_number),
        "SizeBytes": 1,
        "Keys": keys,
    }
    if view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new_image is not None:
        dynamodb["NewImage"] = new_image
    if view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old_image is not None:
        dynamodb["OldImage"] = old_image
    dynamodb["SizeBytes"] = len(dynamo_json_dump(dynamodb))  # moto's estimate: the record's JSON
    record = _StreamRecord(
        {
            "eventID": mock_random.uuid4().hex,
            "eventName": event_name,
            "eventSource": "aws:dynamodb",
            "eventVersion": "1.1",
            "awsRegion": self.table.region_name,
            "dynamodb": dynamodb,
        }
    )
    identity = getattr(_state, "identity", None)
    if identity is not None:
        record.record["userIdentity"] = dict(identity)
    self.items.append(record)
    _trim(self)
    _changed(self).notify_all()  # the lock is held: every caller is a request (or the sweeper) under it


class _StreamRecord:
    """What moto's StreamRecord holds and gives (its record, as to_json())."""

    __slots__ = ("record",)

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def to_json(self) -> dict[str, Any]:
        return self.record


def _get(self, start: int, quantity: int) -> list[dict[str, Any]]:
    from moto.core.exceptions import JsonRESTError

    index = start - self.starting_sequence_number - getattr(self, "trimmed", 0)
    if index < 0:
        raise JsonRESTError(
            "TrimmedDataAccessException",
            f"The records from sequence number {start} on were trimmed: this local stream keeps "
            f"{MAX_RECORDS_PER_SHARD} records (infra/local/moto_streams.py)",
        )
    return [record.to_json() for record in self.items[index : index + quantity]]


def _trim(shard) -> None:
    excess = len(shard.items) - MAX_RECORDS_PER_SHARD
    if excess > 0:
        excess += MAX_RECORDS_PER_SHARD // 10  # in chunks, not one record per call
        del shard.items[:excess]
        shard.trimmed = getattr(shard, "trimmed", 0) + excess
        log.warning("stream of %s: trimmed its %d oldest records", shard.table.name, excess)


def savepoint(backend, table_names) -> dict[str, int]:
    """Where each table's stream ends now (see moto_dynamodb's transactions)."""
    ends = {}
    for name in set(table_names):
        shard = backend.get_table(name).stream_shard
        if shard is not None:
            ends[name] = shard.next_sequence_number
    return ends


def roll_back_to(backend, ends: dict[str, int]) -> None:
    """Removes the records written since `savepoint`: the changes they report were undone. (Trimming
    only ever drops the oldest records, so sequence numbers still say where to cut.)"""
    for name, end in ends.items():
        shard = backend.get_table(name).stream_shard
        if shard is not None:
            del shard.items[max(0, end - shard.starting_sequence_number - getattr(shard, "trimmed", 0)) :]


# -------------------------------------------------------------------------------------- the iterators


def _patch_iterators(ShardIterator, DynamoDBStreamsBackend) -> None:  # noqa: N803 - classes
    init = ShardIterator.__init__

    @functools.wraps(init)
    def init_with_birth(self, streams_backend, stream_shard, shard_iterator_type, sequence_number=None):
        init(self, streams_backend, stream_shard, shard_iterator_type, sequence_number)
        if shard_iterator_type == "LATEST":  # moto counted from the first record ever, trimmed or not
            self.sequence_number = stream_shard.next_sequence_number
        self.created = time.monotonic()

    get = ShardIterator.get

    def get_reusing_an_idle_iterator(self, limit: int = 1000) -> dict[str, Any]:
        if self.stream_shard.next_sequence_number <= self.sequence_number:
            return {"NextShardIterator": self.arn, "Records": []}
        _forget_expired_iterators(self.streams_backend)
        return get(self, limit)

    get_shard_iterator = DynamoDBStreamsBackend.get_shard_iterator

    @functools.wraps(get_shard_iterator)
    def get_shard_iterator_forgetting_expired(self, *args, **kwargs):
        _forget_expired_iterators(self)
        return get_shard_iterator(self, *args, **kwargs)

    get_records = DynamoDBStreamsBackend.get_records

    @functools.wraps(get_records)
    def get_records_of_a_live_iterator(self, iterator_arn: str, limit: int):
        from moto.core.exceptions import JsonRESTError

        iterator = self.shard_iterators.get(iterator_arn)
        if iterator is None or time.monotonic() - iterator.created > ITERATOR_LIFETIME_SECONDS:
            raise JsonRESTError("ExpiredIteratorException", "Iterator expired or unknown")
        return get_records(self, iterator_arn, limit)

    ShardIterator.__init__ = init_with_birth
    ShardIterator.get = get_reusing_an_idle_iterator
    DynamoDBStreamsBackend.get_shard_iterator = get_shard_iterator_forgetting_expired
    DynamoDBStreamsBackend.get_records = get_records_of_a_live_iterator


def _forget_expired_iterators(backend) -> None:
    now = time.monotonic()
    if now - getattr(backend, "last_expiry_check", 0.0) < 60:
        return
    backend.last_expiry_check = now
    for arn, iterator in list(backend.shard_iterators.items()):
        if now - iterator.created > ITERATOR_LIFETIME_SECONDS:
            del backend.shard_iterators[arn]


# --------------------------------------------------------------------------------------------- TTL


def _sweep_forever(interval: float) -> None:
    while True:
        time.sleep(interval)
        try:
            sweep_expired_items()
        except Exception:  # a bug here must not stop the sweeper, nor go unnoticed
            log.exception("TTL sweep failed")


def sweep_expired_items(now: float | None = None) -> int:
    """Deletes expired items (TTL attribute in epoch seconds, past), as DynamoDB's TTL does (there: within a
    few days; here: within a few sweeps). Each sweep checks at most _SWEEP_BUDGET items per table, going on
    where the last one stopped: a sweep's cost does not grow with the table (checking 10,000 live connection
    rows took ~10 ms of CPU, every 5 s; 2,000 take ~2 ms). Returns how many it deleted."""
    from moto.dynamodb.models import dynamodb_backends

    now = time.time() if now is None else now
    deleted = 0
    for account in list(dynamodb_backends.values()):
        for backend in list(account.values()):
            for table in list(backend.tables.values()):
                ttl = table.ttl or {}
                if ttl.get("TimeToLiveStatus") == "ENABLED" and ttl.get("AttributeName"):
                    deleted += _sweep_table(table, ttl["AttributeName"], now)
    return deleted


def _sweep_table(table, attribute: str, now: float) -> int:
    """Checks up to _SWEEP_BUDGET items of the table's current round (the partitions it had when the round
    began; one added since waits for the next round), a few hundred per hold of the lock: a table of 10,000
    connection rows once held it for its whole scan, stalling every request meanwhile."""
    with moto_dynamodb._lock:
        if not getattr(table, "ttl_unchecked", None):
            table.ttl_unchecked = deque(table.items)  # a copy of the keys (C speed): the table changes meanwhile
        unchecked = table.ttl_unchecked
    deleted, checked = 0, 0
    while unchecked and checked < _SWEEP_BUDGET:
        with moto_dynamodb._lock:
            _state.identity = TTL_IDENTITY
            try:
                chunk_end = min(checked + _SWEEP_CHUNK, _SWEEP_BUDGET)
                while unchecked and checked < chunk_end:
                    partition = table.items.get(unchecked.popleft())
                    if partition is None:
                        continue
                    items = list(partition.values()) if table.range_key_attr is not None else [partition]
                    checked += len(items)
                    for item in items:
                        if _expired(item, attribute, now):
                            table.delete_item(item.hash_key, item.range_key)
                            deleted += 1
            finally:
                _state.identity = None
    return deleted


def _expired(item, attribute: str, now: float) -> bool:
    value = item.attrs.get(attribute)
    if value is None or value.type != "N":
        return False  # DynamoDB ignores a TTL attribute that is not a number
    try:
        expires = float(value.value)
    except ValueError:
        return False
    return now - TTL_MAX_AGE_SECONDS <= expires < now
