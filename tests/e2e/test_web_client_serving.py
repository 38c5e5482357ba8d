"""`parley local` serves the web client at / with its config.json and a local-only sign-in; every other
path is still the HTTP API's (API Gateway's 404 for unknown ones)."""

from __future__ import annotations

import os

import pytest
import requests

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(os.environ.get("PARLEY_HTTP_URL")), reason="the deployed client is on CloudFront"),
]


def base_url(target) -> str:
    return target.http_url.removesuffix("/api/v1")


def test_the_client_and_its_config_are_served_at_the_root(target):
    page = requests.get(base_url(target) + "/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>Parley</title>" in page.text or "not built" in page.text
    config = requests.get(base_url(target) + "/config.json", timeout=10).json()
    host = base_url(target).removeprefix("http://")
    assert config == {"api_url": f"http://{host}/api/v1", "ws_url": f"ws://{host}/ws", "sign_in_url": "/local/sign-in"}


def test_local_sign_in_mints_a_token_the_api_accepts(target, users):
    signed_in = requests.post(base_url(target) + "/local/sign-in", json={"user_id": users["alice"]}, timeout=10)
    assert signed_in.status_code == 200
    body = signed_in.json()
    assert body["user_id"] == users["alice"]
    listed = requests.get(
        target.http_url + "/conversations", headers={"Authorization": f"Bearer {body['token']}"}, timeout=10
    )
    assert listed.status_code == 200 and listed.json()["conversations"] == []


@pytest.mark.parametrize("body", [{}, {"user_id": ""}, {"user_id": " padded "}, {"user_id": "x" * 129}, "not json"])
def test_local_sign_in_refuses_what_is_not_a_user_id(target, body):
    data = body if isinstance(body, str) else None
    answer = requests.post(
        base_url(target) + "/local/sign-in", json=None if data else body, data=data, timeout=10
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"


def test_other_paths_stay_the_apis(target):
    for path in ("/nothing", "/index", "/.parley-stamp", "/api/v1/nothing"):
        answer = requests.get(base_url(target) + path, timeout=10)
        assert (answer.status_code, answer.json()) == (404, {"message": "Not Found"}), path
