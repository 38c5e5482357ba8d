"""Time budgets against the route table: a slow dependency ends as an answer, never as a function timeout."""

import pytest

from shared.domain import limits
from shared.routes import ROUTES

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("route", [r for r in ROUTES if r.tables], ids=lambda r: r.name)
def test_a_stalled_storage_call_gives_up_well_inside_the_timeout_of_every_function_that_uses_storage(route):
    assert limits.STORAGE_CALL_MAX_SECONDS + limits.STORAGE_HEADROOM_SECONDS <= route.timeout_seconds


def _assert_uses_the_storage_budget(botocore_client) -> None:
    config = botocore_client.meta.config
    assert config.connect_timeout == limits.STORAGE_CONNECT_TIMEOUT_SECONDS
    assert config.read_timeout == limits.STORAGE_READ_TIMEOUT_SECONDS
    assert config.retries["total_max_attempts"] == 1 + limits.STORAGE_RETRY_ATTEMPTS


def test_every_table_model_uses_the_storage_budget():
    from shared.storage.tables import TABLE_MODELS

    for model in TABLE_MODELS.values():
        _assert_uses_the_storage_budget(model._get_connection().connection.client)


def test_the_transaction_connection_uses_the_storage_budget():
    from shared.storage.repositories.storage import transaction_connection

    _assert_uses_the_storage_budget(transaction_connection().client)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.api == "authorizer"], ids=lambda r: r.name)
def test_a_slow_key_fetch_gives_up_well_inside_the_authorizers_timeout(route):
    # JWKS (PyJWT: one fetch per verification at most, the timeout per connect and per read) and Secrets
    # Manager (no retry) alike.
    assert limits.KEY_FETCH_MAX_SECONDS + limits.KEY_FETCH_HEADROOM_SECONDS <= route.timeout_seconds
