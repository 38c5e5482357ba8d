"""The local runtime's IAM for DynamoDB: a function may call only the actions its route declares.

On AWS a call outside a function's grants fails with AccessDeniedException. Here too: a botocore hook on
the shared session (shared/storage/aws.py) checks each DynamoDB call made while a function runs
(shared.observability.current_function) against its Route's `tables` (shared/routes.py), and refuses it
the same way. `parley local` installs it, and so do the tests, which also read what each function called
(tests/component/test_grants.py: every granted action is used). Calls made outside any function (table
set-up, test fixtures) are neither checked nor recorded.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping

from shared.config import table_name
from shared.observability import current_function
from shared.resources import TABLE_ENV
from shared.routes import ROUTES, Route

# The item operations of a transaction, and the IAM action each needs on its item's table (IAM has no
# TransactWriteItems action: a Put inside a transaction is authorized as dynamodb:PutItem).
_TRANSACTION_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def iam_actions(operation: str, params: Mapping) -> list[tuple[str, str]]:
    """(physical table name, IAM action) for each authorization one DynamoDB API call needs."""
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return [
            (body["TableName"], _TRANSACTION_ITEM_ACTIONS[kind])
            for item in params.get("TransactItems") or ()
            for kind, body in item.items()
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(table, operation) for table in params.get("RequestItems") or {}]
    return [(params.get("TableName", "*"), operation)]


class DynamoDbGrants:
    """Checks (and counts) each DynamoDB call a function makes against its route's grants."""

    def __init__(self, routes: Iterable[Route] = ROUTES) -> None:
        self._granted = {route.name: route.tables for route in routes}
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str, str]] = Counter()  # (function, logical table, action)
        self.denied: list[str] = []
        self._logical_names: dict[str, str] = {}  # physical table name -> logical

    def _logical_name(self, table: str) -> str:
        # Kept between calls (reading the names from the environment cost ~4% of a call); a name not
        # known is looked up afresh, in case the environment moved.
        logical = self._logical_names.get(table)
        if logical is None:
            self._logical_names = {table_name(logical): logical for logical in TABLE_ENV}
            logical = self._logical_names.get(table, table)
        return logical

    def install(self, session) -> None:
        """Before any client is made: botocore clients copy the session's handlers when created."""
        session.register("before-parameter-build.dynamodb", self._check, unique_id="parley-local-iam")

    def _check(self, params: Mapping, model, **_) -> None:
        function = current_function.get()
        if function is None or function not in self._granted:
            return
        for table, action in iam_actions(model.name, params):
            logical = self._logical_name(table)
            with self._lock:
                self.calls[(function, logical, action)] += 1
            if action not in self._granted[function].get(logical, ()):
                message = (
                    f"{function} is not granted dynamodb:{action} on the {logical} table: declare it in "
                    f"shared/routes.py if the code needs it"
                )
                with self._lock:
                    self.denied.append(message)
                raise _access_denied(model.name, message)


def _access_denied(operation: str, message: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, operation)
