#!/usr/bin/env python3
"""The local stack's moto (infra/local/moto_server.py: moto's server with DynamoDB calls run one at a time, and a
cancelled transaction undone item by item instead of from a copy of each table) with three more fixes, for costs
that grow with the data: a 5,000-invite run meets them, `make dev`/`make test` (small tables, short queues) do not
(moto 5.2):

1. SQS: every SendMessage computes the queue's attributes, counting the messages delayed, in flight and visible,
   each message asking for the time through three datetime conversions; every ReceiveMessage lists the visible
   messages the same way. With 5,000 messages on the queue a `SendMessageBatch` took about a second. Here the
   counts read the clock once per pass (same results: a message is visible when now > visible_at, delayed when
   now < delayed_until, in milliseconds since the epoch, as moto computes them).
2. SQS: every message a ReceiveMessage returns checks its retention period by computing all the queue's
   attributes, which counts the messages three times (about 3 ms per message at 5,000); every DeleteMessage scans
   the queue twice, building a list of each message's receipt handles. Here the retention period is read from the
   queue and a delete scans once for the one message with that handle (same results, same errors).
3. DynamoDB: a Query on the table's key lists every item of the table, sorted, and keeps the partition's: the
   benchmark's progress polling (two a second) took a tenth of moto's time at 20,000 items. Here it lists the one
   partition (same items, same order).

And one route of its own, for the benchmark's item sizes: `GET /_bench/item-sizes` (4. below).

Everything else is moto as installed. Usage: the same arguments as the stack's (`-H HOST -p PORT`,
`--no-request-log`).
"""
from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import moto.sqs.models as sqs_models
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from counting_proxy import item_size

# DynamoDB calls under one lock, as the stack runs moto (loaded by path: this file has the same name).
_spec = importlib.util.spec_from_file_location(
    "stack_moto_server", Path(__file__).resolve().parent.parent / "infra" / "local" / "moto_server.py")
_stack_moto = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_stack_moto)


def _now_ms() -> float:
    return time.time() * 1000.0


def _visible(self) -> bool:
    return _now_ms() > self.visible_at


def _delayed(self) -> bool:
    return _now_ms() < self.delayed_until


def _messages(self):
    now = _now_ms()
    return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]


def _delayed_count(self) -> int:
    now = _now_ms()
    return sum(1 for m in self._messages if now < m.delayed_until)


def _not_visible_count(self) -> int:
    now = _now_ms()
    return sum(1 for m in self._messages if not now > m.visible_at)


sqs_models.Message.visible = property(_visible)
sqs_models.Message.delayed = property(_delayed)
sqs_models.Queue.messages = property(_messages)
sqs_models.Queue.approximate_number_of_messages = property(lambda self: len(self.messages))
sqs_models.Queue.approximate_number_of_messages_delayed = property(_delayed_count)
sqs_models.Queue.approximate_number_of_messages_not_visible = property(_not_visible_count)


def _within_retention(self, queue_name: str, message) -> bool:
    retention_s = self.get_queue(queue_name).message_retention_period
    return retention_s + message.sent_timestamp / 1000 > time.time()


def _delete_message(self, receipt_handle: str) -> None:
    if receipt_handle in self.deleted_messages:
        return  # already deleted: SQS accepts it again
    for i, message in enumerate(self._messages):
        if message.receipt_handle == receipt_handle or receipt_handle in message._old_receipt_handles:
            self.pending_messages.discard(message)
            self.deleted_messages.update(message.all_receipt_handles)
            del self._messages[i]
            return
    raise sqs_models.ReceiptHandleIsInvalid()


sqs_models.SQSBackend.is_message_valid_based_on_retention_period = _within_retention
sqs_models.Queue.delete_message = _delete_message

# 3. A Query on the table's own key reads its one partition, not a sorted list of every item in the table.
_query = Table.query
_all_items = Table.all_items
_partition = threading.local()


def _partition_or_all_items(self):
    hash_key = getattr(_partition, "hash_key", None)
    if hash_key is None or not self.range_key_attr:
        return _all_items(self)
    return sorted((self.items.get(hash_key) or {}).values(), key=lambda x: (x.hash_key, x.range_key))


def _query_partition(self, hash_key, *args, **kwargs):
    if kwargs.get("index_name") is not None or len(args) > 6 and args[6] is not None:
        return _query(self, hash_key, *args, **kwargs)
    _partition.hash_key = hash_key
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        _partition.hash_key = None


Table.all_items = _partition_or_all_items
Table.query = _query_partition

# 4. `GET /_bench/item-sizes?table=NAME&region=REGION`: every item's key and billed size, read here, under the lock
# DynamoDB calls take. A Scan of the whole table spent about 10 s in moto on its per-item work (a deep copy, two size
# computations, JSON for the wire), none of which the benchmark measures. Sizes come from the item in DynamoDB's wire
# form (what a Scan returns), sized by the counting proxy's `item_size`, except that a binary value is here its bytes,
# sized exactly, where a Scan's base64 text was sized as 3/4 of its length (a byte more per `=` of padding).
ITEM_SIZES_PATH = "/_bench/item-sizes"
_dispatch = DomainDispatcherApplication.__call__


def _item_sizes(table_name: str, region: str) -> list[list]:
    from moto.dynamodb.models import dynamodb_backends
    with _stack_moto._lock:
        table = dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(table_name)
        out = []
        for item in table.all_items():
            wire = item.to_json()["Attributes"]
            out.append([wire[table.hash_key_attr]["S"], wire[table.range_key_attr]["S"], item_size(wire)])
        return out


def _dispatch_with_item_sizes(self, environ, start_response):
    if environ.get("PATH_INFO") != ITEM_SIZES_PATH:
        return _dispatch(self, environ, start_response)
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    try:
        status, body = "200 OK", json.dumps({"items": _item_sizes(query["table"], query["region"])})
    except Exception as e:  # a wrong name or region: say which, as a 400
        status, body = "400 Bad Request", json.dumps({"error": f"{type(e).__name__}: {e}"})
    start_response(status, [("Content-Type", "application/json")])
    return [body.encode()]


DomainDispatcherApplication.__call__ = _dispatch_with_item_sizes

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    sys.exit(_stack_moto.serve())
