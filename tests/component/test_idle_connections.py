"""Other users' idle connections cost a send nothing: it makes the same requests with 1,000 of them."""

from __future__ import annotations

import time

import botocore.endpoint

from shared.storage.tables import ConnectionRecord
from tests.support.calls import connect, start, ws_send

IDLE_USERS = 1_000


def test_a_send_makes_the_same_requests_with_a_thousand_idle_connections(backend, monkeypatch):
    requests: list[str] = []
    make_request = botocore.endpoint.Endpoint.make_request

    def counted(self, operation_model, request_dict):
        requests.append(operation_model.name)
        return make_request(self, operation_model, request_dict)

    monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", counted)
    conversation_id = start("alice", "bob")
    connect("alice", "alice-phone")
    connect("bob", "bob-phone")
    ws_send("alice", "alice-phone", conversation_id, "warm-up", "m0")  # caches filled, clients made

    def one_send(client_message_id: str) -> tuple[list[str], int]:
        requests.clear()
        backend.reset()
        answer = ws_send("alice", "alice-phone", conversation_id, "hello", client_message_id)
        assert answer["type"] == "message_ack"
        return sorted(requests), sum(len(posts) for posts in backend.posts.values())

    alone = one_send("m1")
    now = int(time.time())
    with ConnectionRecord.batch_write() as batch:  # as $connect stores them, 25 users a request
        for index in range(IDLE_USERS):
            entry = {"connected_at": now * 1000, "expires_at": now + 3600}
            batch.save(ConnectionRecord(f"idle-{index}", connections={f"idle-{index}-phone": entry}))
    with_idle = one_send("m2")

    assert alone == (["BatchGetItem", "PostToConnection", "TransactWriteItems"], 1)
    assert with_idle == alone
