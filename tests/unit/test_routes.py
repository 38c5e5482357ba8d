"""The route table is internally consistent and every handler it names exists."""

import importlib

import pytest

from shared.resources import TABLE_ENV
from shared.routes import HTTP_PREFIX, ROUTES, TRIGGER_ROUTES, WEBSOCKET_ROUTES

pytestmark = pytest.mark.unit


def test_names_and_keys_are_unique():
    assert len({r.name for r in ROUTES}) == len(ROUTES)
    # Several triggers may share a source (two consumers of one table's stream); API routes may not.
    api_routes = [r for r in ROUTES if not r.is_trigger]
    assert len({(r.api, r.key) for r in api_routes}) == len(api_routes)


@pytest.mark.parametrize("route", [r for r in TRIGGER_ROUTES if r.api == "stream"], ids=lambda r: r.name)
def test_a_stream_route_consumes_a_table_whose_model_declares_its_stream(route):
    from shared.storage.tables import TABLE_MODELS

    assert route.key in TABLE_MODELS
    # The one source of the stream: the CDK stack and the local runtime both create it from the model.
    assert getattr(TABLE_MODELS[route.key].Meta, "stream_view_type", None) == "NEW_AND_OLD_IMAGES"
    assert 1 <= route.batch_size <= 10_000 and 0 <= route.retry_attempts <= 10_000  # Lambda's limits


@pytest.mark.parametrize("route", [r for r in TRIGGER_ROUTES if r.api == "schedule"], ids=lambda r: r.name)
def test_a_schedule_route_has_an_eventbridge_expression(route):
    assert route.key.startswith(("rate(", "cron(")) and route.key.endswith(")")
    assert 0 <= route.retry_attempts <= 2  # EventBridge invokes asynchronously: Lambda retries at most twice


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_handler_imports(route):
    module, func = route.handler.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), func))


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_grants_name_real_tables(route):
    assert set(route.tables) <= set(TABLE_ENV)


def test_http_routes_live_under_the_api_prefix_and_websocket_has_the_predefined_routes():
    assert all(r.path.startswith(HTTP_PREFIX + "/") for r in ROUTES if r.api == "http")
    assert {"$connect", "$disconnect", "$default"} <= {r.key for r in WEBSOCKET_ROUTES}


def test_handlers_stay_free_of_storage_clients():
    """House style: a handler imports no boto3, pynamodb or redis (cold start, layering)."""
    import pathlib

    for path in pathlib.Path("functions").glob("*.py"):
        text = path.read_text()
        for banned in ("import boto3", "import pynamodb", "from pynamodb", "import redis"):
            assert banned not in text, f"{path} has {banned!r}"


def test_only_the_search_functions_load_sqlite():
    """Cold start: the search index's SQLite (sqlean's 8.8 MB library) loads in the routes that search."""
    import subprocess
    import sys

    others = [r.handler.rsplit(".", 1)[0] for r in ROUTES if r.search_indexes is None]
    script = f"import importlib, sys; [importlib.import_module(m) for m in {others!r}]; " + (
        "print(sorted(m for m in sys.modules if m in ('sqlean', 'sqlite3', 'shared.storage.search_index')))"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_grants_are_dynamodb_actions_not_access_levels():
    from shared.routes import Route

    with pytest.raises(TypeError, match="DynamoDB actions the code calls"):
        Route("x", "http", "GET /api/v1/x", tables={"messages": "read"})
    with pytest.raises(ValueError, match="TransactWriteItems"):
        Route("x", "http", "GET /api/v1/x", tables={"messages": {"TransactWriteItems"}})
    assert Route("x", "http", "GET /api/v1/x", tables={"messages": ["Query"]}).tables == {"messages": {"Query"}}
