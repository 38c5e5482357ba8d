"""The event log's writer remembers each user's tail, so an append reads nothing; a remembered tail that
another writer moved past is found out by the conditional put, and the log stays gap-free and exactly once."""

from __future__ import annotations

import pytest

from shared.domain.models import LogEvent
from shared.storage.repositories.event_log import EventLogRepository

pytestmark = pytest.mark.component


def _events(*ids: str) -> list[LogEvent]:
    return [LogEvent(event_id, "new_message", "dm_x", {"seq": n}) for n, event_id in enumerate(ids, 1)]


def _log(user: str) -> list[tuple[int, str]]:
    return [(event.seq, event.event_id) for event in EventLogRepository().read_after(user, 0, 100)]


def _counting_tail_reads(monkeypatch) -> list[str]:
    reads = []
    read_tail = EventLogRepository._read_tail

    def counted(self, user_id, entries):
        reads.append(user_id)
        return read_tail(self, user_id, entries)

    monkeypatch.setattr(EventLogRepository, "_read_tail", counted)
    return reads


def test_a_writer_reads_a_users_tail_once_then_appends_after_what_it_wrote(tables, monkeypatch):
    reads = _counting_tail_reads(monkeypatch)
    writer = EventLogRepository()

    assert writer.append("bob", _events("a", "b"), 1) == 2
    assert writer.append("bob", _events("c"), 2) == 1
    assert writer.append("bob", _events("c", "d"), 3) == 1  # a redelivered event is skipped

    assert _log("bob") == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert reads == ["bob"]


def test_a_tail_another_writer_moved_past_is_read_again_and_nothing_is_lost_or_doubled(tables, monkeypatch):
    reads = _counting_tail_reads(monkeypatch)
    first, second = EventLogRepository(), EventLogRepository()  # the user's records moved to another instance
    first.append("bob", _events("a"), 1)
    second.append("bob", _events("a", "b"), 2)  # redelivered "a" is found in the log, "b" appended

    assert first.append("bob", _events("b", "c"), 3) == 1  # its remembered tail (seq 1) is stale

    assert _log("bob") == [(1, "a"), (2, "b"), (3, "c")]
    assert reads == ["bob", "bob", "bob"]  # each writer's first append, and the stale one's retry


def test_a_failed_append_forgets_the_tail(tables, monkeypatch):
    writer = EventLogRepository()
    writer.append("bob", _events("a"), 1)
    other = EventLogRepository()
    other.append("bob", _events("a", "b"), 2)

    def fail(*args, **kwargs):
        raise RuntimeError("storage down")

    with monkeypatch.context() as patched:
        patched.setattr(EventLogRepository, "_read_tail", fail)
        with pytest.raises(RuntimeError):
            writer.append("bob", _events("c"), 3)  # stale tail, then the read fails

    assert writer.append("bob", _events("c"), 4) == 1
    assert _log("bob") == [(1, "a"), (2, "b"), (3, "c")]
