"""The local DynamoDB's cheaper UpdateItem validation (infra/local/moto_dynamodb.py: parsed trees copied by
unpickling, one processing map per traversal, the action count checked at the root) changes nothing moto
answers: the same updates, valid and invalid, run in a process with moto as shipped and in this one (patched),
and every item and every error must be the same."""

from __future__ import annotations

import json
import subprocess
import sys

UPDATES = [  # (update expression, names, values); each runs on the item the previous ones left
    ("SET #a = :s, #b = :n", {"#a": "a", "#b": "b"}, {":s": {"S": "x"}, ":n": {"N": "1"}}),
    ("SET b = b + :n", None, {":n": {"N": "2"}}),
    ("SET c = if_not_exists(c, :l)", None, {":l": {"L": [{"S": "first"}]}}),
    ("SET c = list_append(c, :l)", None, {":l": {"L": [{"S": "second"}]}}),
    ("SET m = :m", None, {":m": {"M": {"inner": {"M": {"deep": {"N": "1"}}}}}}),
    ("SET m.#i.#d = m.#i.#d - :n, m.#o = :s", {"#i": "inner", "#d": "deep", "#o": "other"},
     {":n": {"N": "5"}, ":s": {"S": "o"}}),
    ("ADD #c :n, #t :ss", {"#c": "counter", "#t": "tags"}, {":n": {"N": "3"}, ":ss": {"SS": ["t1", "t2"]}}),
    ("DELETE #t :ss", {"#t": "tags"}, {":ss": {"SS": ["t1"]}}),
    ("REMOVE a, m.#o SET d = :s", {"#o": "other"}, {":s": {"S": "d"}}),
    ("SET #a = :s", {"#a": "a"}, {":s": {"S": "again"}}),
    # Invalid: each must fail as moto fails it, and change nothing.
    ("SET a = :s SET b = :s", None, {":s": {"S": "x"}}),
    ("ADD #c :n ADD #c :n", {"#c": "counter"}, {":n": {"N": "1"}}),
    ("SET pk = :s", None, {":s": {"S": "other"}}),
    ("SET #missing = :s", None, {":s": {"S": "x"}}),
    ("SET a = :missing", None, {":s": {"S": "x"}}),
    ("SET a = :s, a = :s", None, {":s": {"S": "x"}}),
    ("SET m = :s, m.inner = :s", None, {":s": {"S": "x"}}),
    ("SET b = b + :s", None, {":s": {"S": "not a number"}}),
    ("SET c = list_append(c, :s)", None, {":s": {"S": "not a list"}}),
    ("SET e = f + :n", None, {":n": {"N": "1"}}),
    ("SET a = :s", None, {":s": {"S": "x"}}),  # valid again after the failures
]

_SCRIPT = """
import json, sys
patched = sys.argv[1] == "patched"
if patched:
    from infra.local import moto_streams
    moto_streams.install(ttl_sweep_seconds=0)
    from infra.local.moto_dynamodb import _lock
    _lock.acquire()  # as every request holds it
from moto.dynamodb.models import DynamoDBBackend

backend = DynamoDBBackend("us-east-1", "123456789012")
backend.create_table(
    "t", schema=[{"AttributeName": "pk", "KeyType": "HASH"}], throughput=None,
    attr=[{"AttributeName": "pk", "AttributeType": "S"}], global_indexes=None, indexes=None,
    streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}, billing_mode="PAY_PER_REQUEST",
    sse_specification=None, tags=[], deletion_protection_enabled=False, warm_throughput=None,
)
outcomes = []
for key in ("existing", "new"):
    if key == "existing":
        backend.put_item("t", {"pk": {"S": key}, "z": {"S": "kept"}})
    for rounds in range(2):  # the second round reuses every parsed tree
        for expression, names, values in json.loads(sys.argv[2]):
            try:
                item = backend.update_item("t", {"pk": {"S": key}}, expression, names, values)
                outcomes.append(["ok", item.to_json()])
            except Exception as error:
                outcomes.append(["error", type(error).__name__, str(error)])
            outcomes.append(["stored", backend.get_item("t", {"pk": {"S": key}}).to_json()])
print(json.dumps(outcomes))
"""


def _outcomes(mode: str) -> list:
    command = [sys.executable, "-c", _SCRIPT, mode, json.dumps(UPDATES)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(run.stdout)


def test_patched_updates_answer_and_fail_as_motos_own():
    patched, shipped = _outcomes("patched"), _outcomes("shipped")
    assert len(patched) == len(shipped) == 2 * 2 * 2 * len(UPDATES)
    errors = [outcome for outcome in shipped if outcome[0] == "error"]
    assert len(errors) >= 2 * 2 * 9, errors  # the invalid ones did fail
    for index, (mine, theirs) in enumerate(zip(patched, shipped, strict=True)):
        assert mine == theirs, (index, UPDATES[(index // 2) % len(UPDATES)])
