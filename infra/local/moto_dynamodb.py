"""Makes moto's DynamoDB keep DynamoDB's promises under concurrent requests, and its Query read one
partition (see _query_one_partition).

moto (5.x) runs a TransactWriteItems by deep-copying every table it touches, applying the items one by
one, and on a cancellation putting the copies back. Two things follow, both seen in Parley's benchmarks:
- a write another request made meanwhile is silently undone when a transaction is cancelled (a retried
  send cancels on its idempotency claim, and could erase other users' messages stored at the same time);
- every transaction costs a copy of whole tables, so sends get slower as data grows.

The fix, installed once per process that hosts moto: every DynamoDB request runs under one lock (moto is
pure Python, so the GIL serialized most of it anyway), and a transaction checks all its conditions before
it writes anything, then applies its items; if moto rejects an item mid-way, only the items it already
wrote are restored. That is DynamoDB's all-or-nothing, isolated behaviour.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_lock = threading.RLock()
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    call_action = DynamoHandler.call_action

    @functools.wraps(call_action)
    def serialized_call_action(self, *args, **kwargs):
        with _lock:
            return call_action(self, *args, **kwargs)

    DynamoHandler.call_action = serialized_call_action
    DynamoDBBackend.transact_write_items = _transact_write_items
    _query_one_partition()
    _parse_each_update_expression_once()
    _traverse_with_one_processing_map()
    _parse_each_plain_condition_once()
    _installed = True


_PARSED_EXPRESSIONS_KEPT = 1024


def _parse_each_update_expression_once() -> None:
    """moto parses an UpdateExpression twice per request (to validate the request, then to apply it),
    ~0.2 ms each, and a program sends the same few expressions over and over. The parsed tree of each is
    kept, with its pickle. moto reads the tree as it is (find_clauses) and hands it to its validator, which
    deep-copies it before rewriting the copy in place: here the validator's copy is unpickled instead
    (unpickling costs a fifth of a parse or a deep copy), and nothing else copies it. Expressions that fail
    to parse are not kept: they fail the same way each time."""
    import pickle

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import Validator

    make = UpdateExpressionParser.make.__func__
    parsed: dict[str, Any] = {}

    def make_from_cache(cls, expression_str):
        tree = parsed.get(expression_str)
        if tree is None:
            tree = make(cls, expression_str)
            if len(parsed) < _PARSED_EXPRESSIONS_KEPT:
                pickled = pickle.dumps(tree)
                tree._parley_pickled = pickled  # after the dump: the copies don't carry it
                parsed[expression_str] = tree
        return tree

    UpdateExpressionParser.make = classmethod(make_from_cache)
    validator_init = Validator.__init__

    @functools.wraps(validator_init)
    def init_from_pickle(self, expression, expression_attribute_names, expression_attribute_values, item, table):
        pickled = getattr(expression, "_parley_pickled", None)
        if pickled is None:
            validator_init(self, expression, expression_attribute_names, expression_attribute_values, item, table)
            return
        # moto's __init__, with the tree's copy unpickled rather than deep-copied.
        self.expression_attribute_names = expression_attribute_names
        self.expression_attribute_values = expression_attribute_values
        self.item = item
        self.table = table
        self.processors = self.get_ast_processors()
        self.node_to_validate = pickle.loads(pickled)

    Validator.__init__ = init_from_pickle


def _traverse_with_one_processing_map() -> None:
    """Validating an update runs ten processors over its tree (moto's DepthFirstTraverser). For every node
    visited each asked the processor for a fresh map of node types to functions, twice, and checked the
    node against abstract classes (isinstance through ABCMeta): more than half of an UpdateItem's CPU.
    Here the map is built once per traversal and each (processor, node class) pair is looked up once per
    process; the walk is moto's, node for node."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node, UpdateExpression
    from moto.dynamodb.parsing.validators import ActionCountValidator

    kinds: dict[tuple[type, type], type | None] = {}  # (processor class, node class) -> the map's key
    nodes: dict[type, bool] = {}  # class -> is it a Node

    def kind_of(processor_class: type, node_class: type, processing: dict) -> type | None:
        key = (processor_class, node_class)
        try:
            return kinds[key]
        except KeyError:
            # The first key that matches, as moto's process() picks it; None: a node it leaves alone.
            found = None if not issubclass(node_class, Node) else next(
                (kind for kind in processing if issubclass(node_class, kind)), None
            )
            kinds[key] = found
            return found

    def traverse(self, node):
        processing = self._processing_map()
        processor_class = type(self)
        before_child = self.pre_processing_of_child

        def visit(node, child_id=-1):
            node_class = type(node)
            is_node = nodes.get(node_class)
            if is_node is None:
                is_node = nodes[node_class] = issubclass(node_class, Node)
            if is_node:
                parent_node = node.parent
                if node.children is not None:
                    for i, child_node in enumerate(node.children):
                        before_child(node, i)
                        visit(child_node, i)
                kind = kind_of(processor_class, node_class, processing)
                if kind is not None:
                    node = processing[kind](node)
                    node.parent = parent_node
                    if parent_node:
                        parent_node.children[child_id] = node
            return node

        return visit(node)

    DepthFirstTraverser.traverse = traverse

    # The action count check ran on every UpdateExpression node of the tree (one per action: nested), each
    # collecting the clauses of its whole subtree. The root's subtree holds them all: when the root passes,
    # every node does; when it doesn't, moto's own walk runs, so the error is the one moto raises.
    count_each_node = ActionCountValidator.traverse

    def count_at_root(self, node):
        if isinstance(node, UpdateExpression):
            try:
                self.verify_action_counts(node)
            except Exception:
                return count_each_node(self, node)
            return node
        return count_each_node(self, node)

    ActionCountValidator.traverse = count_at_root


def _parse_each_plain_condition_once() -> None:
    """A condition without values (`attribute_not_exists(#0)`: PynamoDB's exists/does_not_exist, most of
    a transaction's and an update's) was parsed twice per item too. Its tree only reads the item it is
    evaluated on, so it is kept as it is, with the names it was found to use (moto's validation reads them)."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    parse = ConditionExpressionParser.parse
    parsed: dict[tuple, tuple] = {}

    @functools.wraps(parse)
    def parse_from_cache(self):
        # An UpdateItem hands its update's values to its condition's parser too: a condition that names no
        # value (no ":") doesn't read them.
        if self.expression_attribute_values and ":" in (self.condition_expression or ""):
            return parse(self)
        key = (self.condition_expression, tuple(sorted((self.expression_attribute_names or {}).items())))
        found = parsed.get(key)
        if found is None:
            tree = parse(self)
            found = (tree, tuple(self.expr_attr_names_found), tuple(self.expr_attr_values_found))
            if len(parsed) < _PARSED_EXPRESSIONS_KEPT:
                parsed[key] = found
            return tree
        tree, names_found, values_found = found
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return tree

    ConditionExpressionParser.parse = parse_from_cache


def _query_one_partition() -> None:
    """moto's Query of a table (not an index) sorts every item of the table, then keeps the partition
    asked for: its cost grows with all the data (tests/benchmarks/moto_query.py: with 100,000 items in
    other partitions a Query of 20 took p50 625 ms instead of 9 ms on a busy 2-core machine). DynamoDB
    reads one partition. Queries of an index still scan (moto keeps no index). The patched Query hands
    moto's own code a view of the table that holds only that partition, so everything else it does
    (conditions, paging, filters, projections) is moto's, unchanged."""
    from moto.dynamodb.models.table import Table

    query = Table.query

    @functools.wraps(query)
    def partition_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                        scan_index_forward, projection_expressions, index_name=None, *args, **kwargs):  # fmt: skip
        if index_name is None and hash_key is not None:
            self = _OnePartition(self, hash_key)
        return query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                     scan_index_forward, projection_expressions, index_name, *args, **kwargs)  # fmt: skip

    Table.query = partition_query


class _OnePartition:
    """A table as one Query of it needs to see it: all_items() is the partition's items."""

    def __init__(self, table, hash_key) -> None:
        self._table = table
        self._hash_key = hash_key

    def __getattr__(self, name: str):
        return getattr(self._table, name)

    def all_items(self) -> list:
        partition = self._table.items.get(self._hash_key)
        if partition is None:
            return []
        return list(partition.values()) if self._table.range_key_attr else [partition]


def _transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()

    with _lock:
        # 1. Check every item's condition against the current state; nothing is written yet.
        planned: list[tuple[str, dict, str, dict, Any]] = []
        seen: set[tuple[str, str]] = set()
        errors: list[tuple[Any, Any, Any]] = []
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            key = _key_of(self, op_type, op)
            identity = (str(table_name), str(dict(sorted(key.items()))))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
            current = self.get_item(table_name, key)
            if _condition_holds(op, current):
                errors.append((None, None, None))
            else:
                wants_old = current is not None and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                old = current.to_json()["Attributes"] if wants_old else None
                errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
            planned.append((op_type, op, table_name, key, current))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)

        # 2. Apply. Conditions held under the lock, so they are not evaluated again.
        from infra.local.moto_streams import roll_back_to, savepoint

        stream_ends = savepoint(self, [table_name for _, _, table_name, _, _ in planned])
        written: list[tuple[str, dict, Any]] = []
        for index, (op_type, op, table_name, key, current) in enumerate(planned):
            if op_type == "ConditionCheck":
                continue
            written.append((table_name, key, copy.deepcopy(current)))  # before: updates change items in place
            try:
                _apply(self, op_type, op, table_name, key)
            except Exception as error:  # moto rejected the item (e.g. a malformed update expression)
                for done_table, done_key, original in reversed(written):
                    _restore(self, done_table, done_key, original)
                roll_back_to(self, stream_ends)  # the stream never reports what was undone
                errors = [(None, None, None)] * len(planned)
                errors[index] = (type(error).__name__, str(error), None)
                raise TransactionCanceledException(errors) from error


def _key_of(backend, op_type: str, op: dict) -> dict:
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _condition_holds(op: dict, current) -> bool:
    from moto.dynamodb.comparisons import get_filter_expression

    expression = op.get("ConditionExpression")
    if expression is None:
        return True
    condition = get_filter_expression(expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues"))
    return condition.expr(current)


def _apply(backend, op_type: str, op: dict, table_name: str, key: dict) -> None:
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(table_name, op["Item"], expression_attribute_names=names, expression_attribute_values=values)
    elif op_type == "Delete":
        backend.delete_item(table_name, key, expression_attribute_names=names, expression_attribute_values=values)
    elif op_type == "Update":
        backend.update_item(
            table_name,
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )


def _restore(backend, table_name: str, key: dict, original) -> None:
    table = backend.get_table(table_name)
    hash_key, range_key = backend.get_keys_value(table, key)
    if original is None:
        table.delete_item(hash_key, range_key)
    elif range_key is not None:
        table.items[hash_key][range_key] = original
    else:
        table.items[hash_key] = original
