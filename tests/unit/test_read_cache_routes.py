"""Every route that writes messages or conversation rows can reach Redis, to invalidate the read caches
(shared/storage/repositories/read_cache.py): a writer without Redis would leave a cached list or history stale."""

import pytest

from shared.routes import ROUTES

pytestmark = pytest.mark.unit

_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}


@pytest.mark.parametrize("route", [r for r in ROUTES if r.tables], ids=lambda r: r.name)
def test_a_writer_of_cached_tables_reaches_redis(route):
    writes_cached = any(route.tables.get(table, frozenset()) & _WRITES for table in ("messages", "user_conversations"))
    assert route.uses_redis or not writes_cached, f"{route.name} writes cached data: it needs uses_redis=True"
