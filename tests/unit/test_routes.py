"""The route table is internally consistent and every handler it names exists."""

import importlib

import pytest

from shared.resources import TABLE_ENV
from shared.routes import HTTP_PREFIX, ROUTES, WEBSOCKET_ROUTES

pytestmark = pytest.mark.unit


def test_names_and_keys_are_unique():
    assert len({r.name for r in ROUTES}) == len(ROUTES)
    assert len({(r.api, r.key) for r in ROUTES}) == len(ROUTES)


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
