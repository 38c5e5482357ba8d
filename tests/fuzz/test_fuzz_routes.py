"""Property-based fuzzing of every route in shared/routes.py against a real `parley local`.

Whatever a client sends: never a 5xx, always JSON, every error the contract's `{"error": {"code",
"message"}}` with a code from shared/domain/errors.py (an `error` frame on the WebSocket), the socket stays
open (a ping after every frame gets its pong), every frame answered keeps to the AsyncAPI document
(shared/contracts/asyncapi.json), and a refused input stores nothing. Routes added to the
route table are fuzzed without touching this file.

Bounded and reproducible by default (derandomized, a fixed budget of examples shared by the routes);
PARLEY_FUZZ_SCALE=10 runs ten times as many, PARLEY_FUZZ_RANDOM=1 draws new examples each run.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain import errors, limits
from shared.auth import LOCAL_DEV_SECRET, mint_token
from shared.routes import HTTP_ROUTES, WEBSOCKET_ROUTES, Route
from tests.fuzz.conftest import FUZZER, PEER, REPLY_TIMEOUT_SECONDS, FuzzTarget, writes
from tests.support.contracts import validate_server_frame

pytestmark = pytest.mark.fuzz

KNOWN_CODES = frozenset(
    value.code for value in vars(errors).values() if isinstance(value, type) and issubclass(value, errors.ParleyError)
)
SCALE = float(os.environ.get("PARLEY_FUZZ_SCALE", "1"))
HTTP_EXAMPLES = 300  # shared by all HTTP routes
WS_EXAMPLES = 150  # shared by all WebSocket actions
FUZZ = settings(
    deadline=None,
    derandomize=os.environ.get("PARLEY_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=list(HealthCheck),
)
ACTIONS = tuple(r for r in WEBSOCKET_ROUTES if r.key not in ("$connect", "$disconnect"))
ROUTE_KEYS = frozenset(r.key for r in WEBSOCKET_ROUTES)
# Stand-ins for what only the running target knows, swapped in when a request is sent.
CONVERSATION, CURSOR = "\x00conversation\x00", "\x00cursor\x00"


def examples(total: int, routes: tuple) -> int:
    return max(8, int(total * SCALE) // max(1, len(routes)))


# --------------------------------------------------------------------------------------------- inputs

_lone_surrogates = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=2)
short_texts = st.one_of(
    st.text(max_size=40),
    st.tuples(st.text(max_size=8), _lone_surrogates, st.text(max_size=8)).map("".join),
    st.sampled_from(["", " ", "\x00", "a\nb", "\u202e", "\ufffd", "\U0001f600"]),
)
texts = st.one_of(short_texts, st.sampled_from([5000, limits.MAX_TEXT_LENGTH + 1]).map(lambda n: "é" * n))
numbers_as_text = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.text(alphabet="0123456789²³¹⁰٣١", min_size=1, max_size=12),
    st.sampled_from(["²", "1²", "٣", "1_0", " 5", "+5", "0x10", "1e2", "9" * 5000, "0" * 30 + "1", "NaN", "∞"]),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30), st.floats(allow_nan=False), texts
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=10
)


def _field(valid):
    return st.one_of(st.just(valid) if not isinstance(valid, st.SearchStrategy) else valid, json_values)


# The contract's field names (DESIGN.md §4), valid-looking or not; fuzzed bodies mix them with anything.
body_objects = st.fixed_dictionaries(
    {},
    optional={
        "client_message_id": _field(st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True)),
        "type": _field("text"),
        "content": _field(texts),
        "conversation_id": _field(CONVERSATION),
        "message_id": _field(texts),
        "emoji": _field("👍"),
        "state": _field(st.sampled_from(["start", "stop"])),
        "since": _field(CURSOR),
        "limit": _field(st.integers(0, 200)),
        "ids": _field(texts),
        "q": _field(texts),
    },
).flatmap(lambda known: st.dictionaries(texts, json_values, max_size=2).map(lambda extra: {**extra, **known}))

_deep = "[" * 30000 + "]" * 30000  # far deeper than any parser's stack, under both size limits
# JSON objects that json.loads accepts or chokes on in ways a handler must survive.
MALFORMED_OBJECTS = (
    '{"a":' + _deep + "}",
    '{"a":' + "[" * (limits.MAX_JSON_DEPTH + 1) + "]" * (limits.MAX_JSON_DEPTH + 1) + "}",
    '{"content":"\\ud800","client_message_id":"\\udfff","type":"text"}',
    '{"\\ud800":1}',
    '{"a":NaN}',
    '{"limit":1e400}',
    '{"limit":' + "9" * 5000 + "}",
)
SPECIAL_BODIES = MALFORMED_OBJECTS + (
    '{"content":"' + "x" * (limits.MAX_HTTP_BODY_BYTES + 1) + '"}',
    "[]",
    "null",
    '"text"',
    "{",
    "",
)


def specials(values: tuple[str, ...]) -> st.SearchStrategy[str]:
    """sampled_from by index: hypothesis's report shows the strategy, and these strings are long."""
    return st.sampled_from(range(len(values))).map(values.__getitem__)


def _dumps(value) -> str:
    return json.dumps(value)  # ensure_ascii: a lone surrogate goes out as its \ud800 escape


def _path_segment() -> st.SearchStrategy[str]:
    """A raw (percent-encoded) path segment: text, raw bytes (invalid UTF-8 too) or sub-delimiters."""
    return st.one_of(
        st.sampled_from([CONVERSATION, PEER, FUZZER, "dm_" + "0" * 32]),
        st.text(min_size=1, max_size=40).map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")),
        st.binary(min_size=1, max_size=20).map(lambda b: quote(b, safe="")),
        st.text(alphabet="!$&'()*+,;=:@~-_", min_size=1, max_size=10),
    ).filter(lambda segment: segment not in (".", ".."))


def _query_value() -> st.SearchStrategy[str]:
    return st.one_of(
        numbers_as_text.map(lambda s: quote(s, safe="")),
        short_texts.map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")),  # short: URLs stay within the gateway's limits
        st.binary(max_size=16).map(lambda b: quote(b, safe="")),
        st.just(CURSOR),
    )


queries = st.dictionaries(
    st.one_of(st.sampled_from(["limit", "cursor", "since", "q", "ids", "for"]), st.text(min_size=1, max_size=6)).map(
        lambda k: quote(k, safe="")
    ),
    _query_value(),
    max_size=3,
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs.items()))

bodies = st.one_of(
    body_objects.map(_dumps),
    json_values.map(_dumps),
    specials(SPECIAL_BODIES),
    st.binary(max_size=64),
)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", "application/octet-stream", None])
tokens = st.sampled_from(["fuzzer"] * 6 + ["garbage", "expired", "peer"])


@st.composite
def http_requests(draw, route: Route) -> dict:
    path = re.sub(r"\{[^}]+\}", lambda _: draw(_path_segment()), route.path)
    query = draw(queries)
    request = {"method": route.method, "path": path + (f"?{query}" if query else ""), "token": draw(tokens)}
    if route.method != "GET":
        request["body"] = draw(bodies)
        request["content_type"] = draw(content_types)
    return request


def ws_frames(route: Route) -> st.SearchStrategy[str]:
    if route.key == "$default":  # whatever selects no other route
        actions = st.one_of(json_values, st.just(None)).filter(lambda a: not (isinstance(a, str) and a in ROUTE_KEYS))
        objects = st.tuples(actions, body_objects).map(lambda pair: _dumps({"action": pair[0], **pair[1]}))
        raw = st.one_of(st.text(max_size=60), specials(MALFORMED_OBJECTS))
    else:
        objects = body_objects.map(lambda body: _dumps({**body, "action": route.key}))
        raw = specials(MALFORMED_OBJECTS).map(lambda body: f'{{"action":"{route.key}","x":{body}}}')
    return st.one_of(objects, raw).filter(lambda frame: len(frame.encode("utf-8", "surrogatepass")) <= limits.WS_MAX_FRAME_BYTES)


# ------------------------------------------------------------------------------------------ checks


def resolve(target: FuzzTarget, text: str) -> str:
    return text.replace(CONVERSATION, target.conversation_id).replace(CURSOR, target.next_cursor)


def token_for(target: FuzzTarget, kind: str) -> str:
    return {
        "fuzzer": target.token,
        "peer": mint_token(PEER, LOCAL_DEV_SECRET),
        "expired": mint_token(FUZZER, LOCAL_DEV_SECRET, ttl_seconds=-60),
        "garbage": "not.a.jwt",
    }[kind]


def assert_contract_error(error: object, context: object) -> None:
    assert isinstance(error, dict) and error["code"] in KNOWN_CODES, context
    assert isinstance(error["message"], str) and error["message"], context


@pytest.mark.parametrize("route", HTTP_ROUTES, ids=lambda route: route.key)
def test_no_http_input_gets_a_5xx_or_anything_but_json_and_a_refusal_stores_nothing(fuzz_target, route):
    tables = writes(route)

    @settings(FUZZ, max_examples=examples(HTTP_EXAMPLES, HTTP_ROUTES))
    @given(request=http_requests(route))
    def check(request):
        before = fuzz_target.settled(tables) if tables else None
        headers = fuzz_target.auth(token_for(fuzz_target, request["token"]))
        if request.get("content_type"):
            headers["Content-Type"] = request["content_type"]
        body = request.get("body")
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
        status, raw, response_headers = fuzz_target.run(
            fuzz_target.request(request["method"], fuzz_target.base_url + resolve(fuzz_target, request["path"]), data=body, headers=headers)
        )
        assert status < 500, (status, raw)
        if status == 204:  # No Content: a success with nothing to say
            assert raw == b"", raw
            fuzz_target.accepted(route)
            return
        assert response_headers.get("Content-Type", "").startswith("application/json"), (status, raw)
        answer = json.loads(raw)
        if status >= 400:
            assert isinstance(answer, dict) and set(answer) == {"error"}, (status, answer)
            assert_contract_error(answer["error"], (status, answer))
            if tables:
                assert fuzz_target.stored(tables) == before, (status, answer)
        else:
            fuzz_target.accepted(route)

    check()


async def _next_frame(ws: aiohttp.ClientWebSocketResponse) -> dict:
    message = await ws.receive(timeout=REPLY_TIMEOUT_SECONDS)
    assert message.type == aiohttp.WSMsgType.TEXT, (message.type, message.data, message.extra)
    frame = json.loads(message.data)
    validate_server_frame(frame)  # whatever was sent, the answer keeps to asyncapi.json
    return frame


@pytest.mark.parametrize("route", ACTIONS, ids=lambda route: route.key)
def test_no_frame_gets_silence_or_anything_but_an_error_frame_and_the_socket_stays_open(fuzz_target, route):
    tables = writes(route)
    ws = fuzz_target.run(fuzz_target.session.ws_connect(fuzz_target.runtime.ws_url, params={"token": fuzz_target.token}))

    @settings(FUZZ, max_examples=examples(WS_EXAMPLES, ACTIONS))
    @given(frame=ws_frames(route))
    def check(frame):
        before = fuzz_target.settled(tables) if tables else None
        fuzz_target.run(ws.send_str(resolve(fuzz_target, frame)))
        if route.returns_response:
            reply = fuzz_target.run(_next_frame(ws))
            assert "type" in reply, reply  # not API Gateway's {"message": "Internal server error"}
            if reply["type"] == "error":
                assert_contract_error(reply["data"]["error"], reply)
                if tables:
                    assert fuzz_target.stored(tables) == before, reply
            else:
                fuzz_target.accepted(route)
        fuzz_target.run(ws.send_str(json.dumps({"action": "ping"})))
        assert fuzz_target.run(_next_frame(ws))["type"] == "pong"

    try:
        check()
    finally:
        fuzz_target.run(ws.close())
        fuzz_target.changing()  # its $disconnect


@settings(FUZZ, max_examples=int(30 * SCALE))
@given(query=queries, token=st.one_of(short_texts, st.binary(max_size=40).map(lambda b: quote(b, safe=""))))
def test_a_bad_handshake_is_refused_with_api_gateways_json_and_leaves_no_connection(fuzz_target, query, token):
    before = fuzz_target.settled(("connections",))
    url = f"{fuzz_target.runtime.ws_url}?{resolve(fuzz_target, query)}&token={quote(token.encode('utf-8', 'surrogatepass'), safe='%')}"
    status, raw, _ = fuzz_target.run(
        fuzz_target.request(
            "GET",
            url,
            headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
        )
    )
    assert status in (401, 403), (status, raw)
    assert set(json.loads(raw)) == {"message"}
    assert fuzz_target.stored(("connections",)) == before
