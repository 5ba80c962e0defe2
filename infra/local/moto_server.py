#!/usr/bin/env python3
"""moto's server, as `moto_server` starts it, with DynamoDB calls and SQS receives run one at a time.

moto's server is threaded and its DynamoDB model is not thread-safe: two transactions at once can fail
with a 500 ("dictionary changed size during iteration" while `TransactWriteItems` copies the tables for
its rollback), and a failed transaction's rollback restores that copy, undoing writes another thread
made in between. With the send worker's pollers and the tests running in parallel, a webhook's
transaction could be answered 200 and then lost. DynamoDB itself is serialisable per item; running
moto's DynamoDB calls under one lock gives the local stack that guarantee; moto holds the GIL through
each call anyway, so little is lost. The stream's calls (DynamoDB Streams) take the same lock: a stream
shows only committed writes, and a cancelled transaction's writes are in moto's stream until undone.

moto also keeps a reference to every model instance it ever made (each DynamoDB item, SQS message, KMS
call's objects) for its `/moto-api/data.json` dump, so that dump, which is how the tests read the email
SES accepted, grew with the whole suite until it took longer than a client's timeout, and the memory
grew with it. Only SES's instances are tracked here. Everything else is moto as installed
(`infra/requirements.txt`).

A cancelled `TransactWriteItems` is undone item by item: moto deep-copies every table it names before each
transaction (its rollback), a cost that grew with the tables, and a restored copy left every stream iterator
on a stream that no longer grows (see `transact_write_items`).

Costs moto pays on every request, faster here with the same answers (a 5,000-invite
`make bench` found them: a third of the DynamoDB process's time while the send workers ran):

- Finding the service of a request lists moto's package directory (`os.listdir` and an `isdir` per entry, about
  150) on every request, under the dispatcher's lock. The directory does not change while moto runs: it is listed
  once.
- `GetRecords` (DynamoDB Streams) answers through moto's model-driven serializer, which walks every attribute of
  every old and new image in Python: a quarter of the process's time, for the stream the events publisher reads.
  The records are already in the wire's JSON form (moto builds them so when the item is written); here they are
  written out with `json.dumps`, the record's creation time converted by the serializer's own function.
- The same serializer writes the items `GetItem`, `BatchGetItem`, `Query` and `Scan` return (a send worker's gate
  lookup is a `BatchGetItem` of 100 items: its mean answer under the bench's load went from 522 to 224 ms with
  these changes). Those answers are plain JSON too (binary values base64, as the serializer writes them); errors
  still go through the serializer.
- Every update expression is parsed twice per call (once to check the request, once to apply it), and each condition
  lexed twice, though the stack's functions use a few dozen texts with ever new values. Here the syntax tree of
  each update text is parsed once and shared (moto only reads it, and its validator works on a copy), the
  validator copies it by unpickling its kept pickled form rather than with `copy.deepcopy`, and a condition's tokens are kept by text
  (the values are still looked up on every call). With these, the DynamoDB process used a quarter less CPU for
  the same 5,000 invites (`make bench`: 113 s → 86 s during the sends) and its mean answer to the send workers'
  `TransactWriteItems` went from 2.1 to 1.4 s.
- The validator then walks each update's tree once per check (eight of them), and moto's walk rebuilds the
  checker's map of node types (a dict, then a tuple) at every node: with the send workers' claims and outcomes,
  that was half of `TransactWriteItems`' time and two fifths of the process's. Here each walk reads the map once.
- With `--no-request-log`, the server writes no line per request (werkzeug's access log: a twentieth of the
  process's time under load); the stack passes it unless `--verbose`, as it dropped those lines anyway.

Usage: the same arguments as `moto_server` (`-H HOST -p PORT`), and `--no-request-log`.
"""
from __future__ import annotations

import base64
import copy
import json
import pickle
import sys
import threading
import time
from collections import deque

from botocore.utils import parse_to_aware_datetime
from moto import backends
from moto.core.common_models import BaseModel
from moto.core.serialize import TimestampSerializer
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing import validators as update_validators
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
from moto.dynamodb.parsing.ast_nodes import Node as UpdateExpressionNode
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.dynamodb.responses import DynamoHandler
from moto.server import main
from moto.sqs.models import SQSBackend

_lock = threading.RLock()


def _one_at_a_time(handler) -> None:
    """The handler's requests run under `_lock`, each through the handler's own `call_action`."""
    unlocked = handler.call_action

    def call_action(self):
        with _lock:
            return unlocked(self)

    handler.call_action = call_action


_one_at_a_time(DynamoHandler)
# The stream's reads too: a cancelled transaction's writes reach the stream before they are undone, and a
# `GetRecords` in between returned records of writes that never happened (events of nothing published), after
# which the reader, past their sequence numbers, skipped the real records that took those numbers next (lost).
_one_at_a_time(DynamoDBStreamsHandler)


class _UndoLog:
    """What a `TransactWriteItems` may change, as it was before: each item it names, and each stream's length."""

    def __init__(self, backend, transact_items):
        self.items = []  # (table, hash key, range key, the item before or None), in the transaction's order
        self.streams = [(t.stream_shard, len(t.stream_shard.items)) for t in backend.tables.values()
                        if t.stream_shard is not None]
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                table = backend.tables[op["TableName"]]
                key = op["Item"] if op_type == "Put" else op["Key"]
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            except (AttributeError, KeyError, StopIteration, TypeError):
                continue  # moto refuses it before anything is written
            before = table.items.get(hash_key)
            if range_key is not None:
                before = before.get(range_key) if before else None
            self.items.append((table, hash_key, range_key, copy.deepcopy(before)))

    def undo(self) -> None:
        for table, hash_key, range_key, before in reversed(self.items):
            if range_key is None:
                if before is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = before
            elif before is None:
                if hash_key in table.items:
                    table.items[hash_key].pop(range_key, None)
            else:
                table.items[hash_key][range_key] = before
        for shard, length in self.streams:
            del shard.items[length:]


_transacting = threading.local()
_transact_write_items = DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    """moto's `TransactWriteItems`, cancelled by an undo log instead of a copy of every table it names.

    moto copies each table before a transaction (`copy.deepcopy`, every item) and, when an item fails, puts the
    copies in the tables' place. The time of every transaction grew with its tables (a 10-item transaction on a
    10,000-item table with a stream: 6.4 s; 25 ms here), and the copy came with a copy of the stream, so every
    stream iterator taken before a cancelled transaction held the old stream, with the records of the writes before
    the failure in it, and never saw another write. Here the copy is the table itself and the undo log puts back
    the items the transaction named and each stream's length. Runs under `_lock`, as every DynamoDB and DynamoDB
    Streams call does, so no read sees the writes undone."""
    undo = _UndoLog(self, transact_items)
    _transacting.active = True
    try:
        return _transact_write_items(self, transact_items)
    except BaseException:
        undo.undo()
        raise
    finally:
        _transacting.active = False


DynamoDBBackend.transact_write_items = transact_write_items


def _copy_table(self, memo):
    """A table's deep copy, as `copy.deepcopy` makes it; inside a transaction, the table itself (see above)."""
    if getattr(_transacting, "active", False):
        return self
    table = object.__new__(type(self))
    memo[id(self)] = table
    table.__dict__.update(copy.deepcopy(self.__dict__, memo))
    return table


Table.__deepcopy__ = _copy_table

# SQS receives one at a time: moto's ReceiveMessage checks that a message is visible and then marks it received,
# and two receives at once (the event source's receivers, a test) could both take one message. SQS never hands
# out a message another receive holds. A long poll waits outside the lock, so that sends and other receives go on.
_sqs_receive_lock = threading.Lock()
_receive_message = SQSBackend.receive_message


def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                    message_attribute_names=None):
    deadline = time.monotonic() + (wait_seconds_timeout or 0)
    while True:
        with _sqs_receive_lock:
            got = _receive_message(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
        remaining = deadline - time.monotonic()
        if got or remaining <= 0:
            return got
        self.get_queue(queue_name).wait_for_messages(min(remaining, 1.0))


SQSBackend.receive_message = receive_message

# The services whose instances `/moto-api/data.json` lists: the tests read sent email there.
_TRACKED = {"ses"}


def _new(cls, *args, **kwargs):
    instance = super(BaseModel, cls).__new__(cls)
    if cls.__module__.split(".")[1] in _TRACKED:
        cls.instances_tracked.append(instance)
    return instance


BaseModel.__new__ = staticmethod(_new)

# The service of a request: moto's modules, listed once (see the docstring).
_moto_modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _moto_modules


def _epoch_seconds(value):
    """A record's creation time as moto's JSON serializer writes a timestamp (with its own conversion)."""
    return TimestampSerializer._timestamp_unixtimestamp(parse_to_aware_datetime(value))


def _blob(value):
    """A binary attribute moto holds as bytes, as the wire carries it: base64."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} in a DynamoDB answer")


def get_records(self):
    """`GetRecords` as moto answers it, serialized with `json.dumps` (see the docstring)."""
    limit = self._get_param("Limit")
    result = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
    records = []
    for record in result["Records"]:
        stream = dict(record["dynamodb"])
        created = stream.get("ApproximateCreationDateTime")
        if created is not None and not isinstance(created, (int, float)):
            stream["ApproximateCreationDateTime"] = _epoch_seconds(created)
        records.append({**record, "dynamodb": stream})
    body = json.dumps({"NextShardIterator": result["NextShardIterator"], "Records": records},
                      separators=(",", ":"), default=_blob)
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, body


DynamoDBStreamsHandler.get_records = get_records

# The reads that answer with items, serialized with `json.dumps` (see the docstring).
_ITEM_READS = {"GetItem", "BatchGetItem", "Query", "Scan"}
_serialized = DynamoHandler.serialized


def _without_none(value):
    """The answer without absent members (`None`), which the serializer leaves out."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def serialized(self, action_result):
    result = action_result.result
    if self._get_action() not in _ITEM_READS or not isinstance(result, dict):
        return _serialized(self, action_result)
    body = json.dumps(_without_none(result), separators=(",", ":"), default=_blob)
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    headers.update(self.response_headers)
    return 200, headers, body


DynamoHandler.serialized = serialized

# Expressions, parsed once per text (see the docstring). A cache of at most _PARSED texts, emptied when full: the
# stack's functions write a few dozen, and a client inventing new ones only pays the parse again.
_PARSED = 4096
_update_asts: dict[str, UpdateExpressionNode] = {}
_make_update_ast = UpdateExpressionParser.make.__func__


def _make_update_expression(cls, expression_str):
    """`UpdateExpressionParser.make`: the syntax tree of the first parse of that text, shared. Every caller in moto
    only reads it (`find_clauses`) or hands it to the validator, which works on a copy (`_copy_tree`, from the
    tree's pickled form kept with it). A text that does not parse raises as before and is not kept."""
    tree = _update_asts.get(expression_str)
    if tree is None:
        tree = _make_update_ast(cls, expression_str)
        blob = pickle.dumps(tree, pickle.HIGHEST_PROTOCOL)
        tree.__dict__[_PICKLED] = blob  # after pickling: the copies do not carry it
        if len(_update_asts) >= _PARSED:
            _update_asts.clear()
        _update_asts[expression_str] = tree
    return tree


UpdateExpressionParser.make = classmethod(_make_update_expression)
_PICKLED = "_rising_pickled"


def _copy_tree(value, memo=None):
    """The validator's `deepcopy`: a syntax tree copied by unpickling (its kept pickled form when it is a shared
    parse), other values as `copy.deepcopy` copies them."""
    if isinstance(value, UpdateExpressionNode) and memo is None:
        blob = value.__dict__.get(_PICKLED)
        return pickle.loads(blob if blob is not None else pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    return copy.deepcopy(value, memo)


update_validators.deepcopy = _copy_tree


def _traverse(self, node):
    """`DepthFirstTraverser.traverse` as moto's, bottom up, with the processor's node types and processing map read
    once per traversal rather than rebuilt (a new dict and tuple) at every node of the tree."""
    processing = tuple(self._processing_map().items())
    types = tuple(kind for kind, _ in processing)
    node_type, pre = UpdateExpressionNode, self.pre_processing_of_child

    def visit(node, child_id=-1):
        if isinstance(node, node_type):
            parent = node.parent
            if node.children is not None:
                for i, child in enumerate(node.children):
                    pre(node, i)
                    visit(child, i)
            if isinstance(node, types):
                node = next(process for kind, process in processing if isinstance(node, kind))(node)
                node.parent = parent
                if parent:
                    parent.children[child_id] = node
        return node

    return visit(node)


DepthFirstTraverser.traverse = _traverse

_condition_tokens: dict[str, tuple] = {}
_lex_condition = ConditionExpressionParser._lex_condition_expression


def _lex_condition_expression(self):
    """A condition's tokens, lexed once per text: each call gets new tokens (each with its own empty `children`),
    as moto's lexer makes them. A text that does not lex raises as before and is not kept."""
    text = self.condition_expression
    fields = _condition_tokens.get(text)
    if fields is None:
        fields = tuple((n.nonterminal, n.kind, n.text, n.value) for n in _lex_condition(self))
        if len(_condition_tokens) >= _PARSED:
            _condition_tokens.clear()
        _condition_tokens[text] = fields
    node = ConditionExpressionParser.Node
    return deque(node(nonterminal, kind, token, value, []) for nonterminal, kind, token, value in fields)


ConditionExpressionParser._lex_condition_expression = _lex_condition_expression


def serve() -> int:
    """moto's server with these patches, from the command line's arguments."""
    if "--no-request-log" in sys.argv:
        sys.argv.remove("--no-request-log")
        from werkzeug.serving import WSGIRequestHandler

        WSGIRequestHandler.log_request = lambda self, code="-", size="-": None
    return main()


if __name__ == "__main__":
    sys.exit(serve())
