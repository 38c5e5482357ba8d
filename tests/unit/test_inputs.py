"""Input checks: cursors, page sizes, message fields."""

import pytest

from shared.domain import limits
from shared.storage.cursors import decode_cursor, encode_cursor, page_size
from shared.domain.errors import BadRequestError
from shared.services.messaging import SendMessageRequest
from shared.services.sync import sync, sync_limit

pytestmark = pytest.mark.unit

CONVERSATION = "dm_" + "0" * 32


def test_a_cursor_round_trips():
    assert decode_cursor(encode_cursor({"before": "01ABC"}), ("before",)) == {"before": "01ABC"}


@pytest.mark.parametrize(
    "cursor",
    ["!!!", "e30", encode_cursor({"other": "x"}), encode_cursor({"before": ""}), "A" * 2000, encode_cursor({"before": 3})],
)
def test_a_cursor_this_api_did_not_issue_is_a_400(cursor):
    with pytest.raises(BadRequestError, match="cursor"):
        decode_cursor(cursor, ("before",))


@pytest.mark.parametrize("raw, size", [(None, 50), ("", 50), ("1", 1), ("100", 100)])
def test_page_size(raw, size):
    assert page_size(raw) == size


@pytest.mark.parametrize("raw", ["0", "101", "-1", "ten", "1.5"])
def test_page_size_out_of_range_is_a_400(raw):
    with pytest.raises(BadRequestError, match="limit"):
        page_size(raw)


def test_a_valid_send_request():
    request = SendMessageRequest.from_body(CONVERSATION, {"client_message_id": "c-1", "type": "text", "content": "hi"})
    assert (request.client_message_id, request.type, request.content) == ("c-1", "text", "hi")


def test_text_of_the_maximum_length_is_accepted_and_one_more_character_is_not():
    SendMessageRequest.from_body(CONVERSATION, {"client_message_id": "c", "content": "é" * limits.MAX_TEXT_LENGTH})
    with pytest.raises(BadRequestError, match="longer than 4096"):
        SendMessageRequest.from_body(
            CONVERSATION, {"client_message_id": "c", "content": "é" * (limits.MAX_TEXT_LENGTH + 1)}
        )


@pytest.mark.parametrize(
    "body, complaint",
    [
        ({"content": "hi"}, "client_message_id"),
        ({"client_message_id": "", "content": "hi"}, "client_message_id"),
        ({"client_message_id": "a b", "content": "hi"}, "client_message_id"),
        ({"client_message_id": "x" * 65, "content": "hi"}, "client_message_id"),
        ({"client_message_id": 5, "content": "hi"}, "client_message_id"),
        ({"client_message_id": "c"}, "content"),
        ({"client_message_id": "c", "content": "   "}, "empty"),
        ({"client_message_id": "c", "content": ["hi"]}, "content"),
        ({"client_message_id": "c", "content": "hi", "type": "sticker"}, "type"),
        ({"client_message_id": "c", "content": "hi", "type": "image"}, "media_id"),  # an image needs its upload
        ({"client_message_id": "c", "type": "file", "media_id": "../etc/passwd"}, "media_id"),
        ({"client_message_id": "c", "content": "hi", "type": None}, "type"),
    ],
)
def test_bad_send_requests_say_what_is_wrong(body, complaint):
    with pytest.raises(BadRequestError, match=complaint):
        SendMessageRequest.from_body(CONVERSATION, body)


@pytest.mark.parametrize("raw", ["²", "1²", "٣", "1_0", " 5", "5\n", "+5", "9" * 5000, "0" * 20 + "1"])
def test_page_sizes_that_python_reads_as_numbers_but_are_not_ascii_digits_are_a_400(raw):
    with pytest.raises(BadRequestError, match="limit"):
        page_size(raw)



@pytest.mark.parametrize("raw", ["²", "٣", "9" * 5000, 0, True, 1.5])
def test_sync_limits_that_are_not_plain_integers_in_range_are_a_400(raw):
    with pytest.raises(BadRequestError, match="limit"):
        sync_limit(raw)


@pytest.mark.parametrize("position", [{"s": "²", "t": "1"}, {"s": "1", "t": "9" * 5000}, {"s": "1", "t": "١"}])
def test_a_sync_cursor_with_numbers_int_would_choke_on_is_a_400(position):
    with pytest.raises(BadRequestError, match="cursor"):
        sync(None, None, "alice", encode_cursor(position), 10, now_ms=0)
