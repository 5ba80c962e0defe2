#!/usr/bin/env python3
"""moto's server, as `moto_server` starts it, with DynamoDB calls and SQS receives run one at a time.

moto's server is threaded and its DynamoDB model is not thread-safe: two transactions at once can fail
with a 500 ("dictionary changed size during iteration" while `TransactWriteItems` copies the tables for
its rollback), and a failed transaction's rollback restores that copy, undoing writes another thread
made in between. With the send worker's pollers and the tests running in parallel, a webhook's
transaction could be answered 200 and then lost. DynamoDB itself is serialisable per item; running
moto's DynamoDB calls under one lock gives the local stack that guarantee. moto holds the GIL through
each call anyway, so little is lost.

moto also keeps a reference to every model instance it ever made (each DynamoDB item, SQS message, KMS
call's objects) for its `/moto-api/data.json` dump, so that dump, which is how the tests read the email
SES accepted, grew with the whole suite until it took longer than a client's timeout, and the memory
grew with it. Only SES's instances are tracked here. Everything else is moto as installed
(`infra/requirements.txt`).

A table's stream (its one shard's list of records) is copied without copying the records: moto deep-copies
every table before each `TransactWriteItems` (its rollback), and with the stream on, that copy grew with
every record the stream ever held, until transactions took seconds and functions timed out. Stream records
are written once and never changed, so the copy shares them.

Usage: the same arguments as `moto_server` (`-H HOST -p PORT`).
"""
from __future__ import annotations

import copy
import sys
import threading
import time

from moto.core.common_models import BaseModel
from moto.dynamodb.models.table import StreamShard
from moto.dynamodb.responses import DynamoHandler
from moto.server import main
from moto.sqs.models import SQSBackend

_lock = threading.RLock()
_call_action = DynamoHandler.call_action


def call_action(self):
    with _lock:
        return _call_action(self)


DynamoHandler.call_action = call_action


def _copy_shard(self, memo):
    shard = object.__new__(StreamShard)
    memo[id(self)] = shard
    shard.__dict__.update(self.__dict__)
    shard.table = copy.deepcopy(self.table, memo)
    shard.items = list(self.items)  # the records themselves are shared: written once, never changed
    return shard


StreamShard.__deepcopy__ = _copy_shard

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

if __name__ == "__main__":
    sys.exit(main())
