"""Tests of the local SQS event source in infra/local/stack.py: the records, SQS's MD5 of message attributes, how a
function's answer decides what is deleted, the settings read from the template, and end to end (`stack.py up`
with real moto, a small template with short visibility timeouts, and the fake function of fakes.py).

    .venv/bin/python -m unittest discover -s infra/local
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import uuid
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import stack  # noqa: E402
from fakes import write_fakes  # noqa: E402
from stack import (  # noqa: E402
    FunctionSpec, Resolver, Route, StackError, fallback_attrs, md5_of_message_attributes, parameter_values,
    sqs_batch_failures, sqs_event, sqs_event_sources, sqs_record,
)
from test_stack_up import StackProcess, alive, moto_client  # noqa: E402

ARN = "arn:aws:sqs:us-east-1:123456789012:rising-local-Jobs"
URL = "http://127.0.0.1:5000/123456789012/rising-local-Jobs"


def reference_record() -> dict | None:
    for base in (stack.REPO.parent / "shared", Path("/work/shared")):
        path = base / "reference" / "aws-events" / "example-sqs-event.json"
        if path.exists():
            return json.loads(path.read_text())["Records"][0]
    return None


class Md5OfMessageAttributesTest(unittest.TestCase):
    def test_published_vectors(self):
        # values published with other SQS implementations' tests, checked there against SQS itself
        self.assertEqual(md5_of_message_attributes({"timestamp": {"DataType": "Number",
                                                                  "StringValue": "1493147359900"}}),
                         "235c5c510d26fb653d073faed50ae77c")
        self.assertEqual(md5_of_message_attributes({"SellerName": {"DataType": "String",
                                                                   "StringValue": "Example Store"}}),
                         "cd28f3b68aeee4b2eac9c66f2f694b58")
        self.assertEqual(md5_of_message_attributes({"ordinal": {"DataType": "Number", "StringValue": "1"},
                                                    "category": {"DataType": "String", "StringValue": "test"}}),
                         "d21ae90c49061e927f57df5f5d72be1f")

    def test_binary_and_custom_types_as_moto_computes_them(self):
        attributes = {"n": {"DataType": "Number.int", "StringValue": "12"},
                      "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
                      "a": {"DataType": "String", "StringValue": "x"}}
        self.assertEqual(md5_of_message_attributes(attributes), "95b660b4f3e207b71f70de869cd4ce26")
        as_text = dict(attributes, b={"DataType": "Binary", "BinaryValue": "AAE="})  # base64 text works too
        self.assertEqual(md5_of_message_attributes(as_text), "95b660b4f3e207b71f70de869cd4ce26")

    def test_list_values_use_their_transport_bytes(self):
        def manual(name: str, data_type: str, transport: int, values: list[bytes]) -> str:
            md5 = hashlib.md5()
            for part in (name.encode(), data_type.encode()):
                md5.update(len(part).to_bytes(4, "big") + part)
            md5.update(bytes([transport]))
            for v in values:
                md5.update(len(v).to_bytes(4, "big") + v)
            return md5.hexdigest()

        self.assertEqual(md5_of_message_attributes({"l": {"DataType": "String", "StringListValues": ["a", "bc"]}}),
                         manual("l", "String", 3, [b"a", b"bc"]))
        self.assertEqual(md5_of_message_attributes({"l": {"DataType": "Binary", "BinaryListValues": [b"\x01"]}}),
                         manual("l", "Binary", 4, [b"\x01"]))


class RecordTest(unittest.TestCase):
    def test_matches_the_reference_record(self):
        ref = reference_record()
        if ref is None:
            self.skipTest("reference event example-sqs-event.json not available")
        b64 = base64.b64decode
        message = {  # what boto3's ReceiveMessage answer holds for that message
            "MessageId": ref["messageId"], "ReceiptHandle": ref["receiptHandle"], "Body": ref["body"],
            "MD5OfBody": ref["md5OfBody"], "Attributes": dict(ref["attributes"]),
            "MessageAttributes": {
                "Attribute3": {"BinaryValue": b64("MTEwMA=="), "StringListValues": ["abc", "123"],
                               "BinaryListValues": [b64("MA=="), b64("MQ=="), b64("MA==")], "DataType": "Binary"},
                "Attribute2": {"StringValue": "123", "BinaryListValues": [b64("MQ=="), b64("MA==")],
                               "DataType": "Number"},
                "Attribute1": {"StringValue": "AttributeValue1", "DataType": "String"},
            },
        }
        record = sqs_record(message, ref["eventSourceARN"], ref["awsRegion"])
        # the reference's md5OfMessageAttributes is a placeholder (its md5OfBody is not the body's MD5 either)
        self.assertEqual(record.pop("md5OfMessageAttributes"),
                         md5_of_message_attributes(message["MessageAttributes"]))
        expected = dict(ref)
        del expected["md5OfMessageAttributes"]
        self.assertEqual(record, expected)

    def test_shape_order_and_defaults(self):
        message = {"MessageId": "m1", "ReceiptHandle": "r1", "Body": "héllo",
                   "Attributes": {"SenderId": "AIDA", "ApproximateFirstReceiveTimestamp": "2",
                                  "ApproximateReceiveCount": "1", "SentTimestamp": "1"}}
        record = sqs_record(message, ARN, "eu-west-1")
        self.assertEqual(list(record), ["messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                                        "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"])
        self.assertEqual(list(record["attributes"]), ["ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                                      "ApproximateFirstReceiveTimestamp"])
        self.assertEqual(record["messageAttributes"], {})  # no md5OfMessageAttributes without attributes
        self.assertEqual(record["md5OfBody"], hashlib.md5("héllo".encode()).hexdigest())
        self.assertEqual((record["eventSource"], record["eventSourceARN"], record["awsRegion"]),
                         ("aws:sqs", ARN, "eu-west-1"))

    def test_fifo_attributes_and_message_attributes(self):
        message = {"MessageId": "m1", "ReceiptHandle": "r1", "Body": "{}", "MD5OfBody": "x",
                   "Attributes": {"SenderId": "AIDA", "SentTimestamp": "1", "ApproximateReceiveCount": "3",
                                  "ApproximateFirstReceiveTimestamp": "2", "MessageDeduplicationId": "d",
                                  "MessageGroupId": "g", "SequenceNumber": "18849496460467696128"},
                   "MessageAttributes": {"kind": {"StringValue": "invite", "DataType": "String"},
                                         "raw": {"BinaryValue": b"\xff\x00", "DataType": "Binary.gz"}}}
        record = sqs_record(message, ARN + ".fifo", "us-east-1")
        self.assertEqual(list(record["attributes"]), [
            "ApproximateReceiveCount", "SentTimestamp", "SequenceNumber", "MessageGroupId", "SenderId",
            "MessageDeduplicationId", "ApproximateFirstReceiveTimestamp"])
        self.assertEqual(record["messageAttributes"], {
            "kind": {"stringValue": "invite", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "raw": {"binaryValue": "/wA=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary.gz"}})
        self.assertEqual(record["md5OfMessageAttributes"], md5_of_message_attributes(message["MessageAttributes"]))
        self.assertEqual(list(record)[-4:], ["md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion"])

    def test_event_holds_every_record_in_order(self):
        messages = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": str(i)} for i in range(3)]
        event = sqs_event(messages, ARN, "us-east-1")
        self.assertEqual(list(event), ["Records"])
        self.assertEqual([r["messageId"] for r in event["Records"]], ["m0", "m1", "m2"])


class BatchFailuresTest(unittest.TestCase):
    IDS = ["id1", "id2", "id3"]

    def failed(self, payload, outcome="ok", report=True) -> set[str]:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return sqs_batch_failures(outcome, data, self.IDS, report)[0]

    def test_reported_failures_keep_only_those(self):
        self.assertEqual(self.failed({"batchItemFailures": [{"itemIdentifier": "id2"}]}), {"id2"})
        self.assertEqual(self.failed({"batchItemFailures": [{"itemIdentifier": "id1"}, {"itemIdentifier": "id3"}]}),
                         {"id1", "id3"})
        failed, reason = sqs_batch_failures("ok", b'{"batchItemFailures":[{"itemIdentifier":"id2"}]}', self.IDS, True)
        self.assertEqual(reason, "1 reported failure(s)")

    def test_empty_answers_are_complete_success(self):
        for payload in ({"batchItemFailures": []}, {"batchItemFailures": None}, {}, None, b"", b"  ",
                        {"other": 1}):
            with self.subTest(payload=payload):
                self.assertEqual(self.failed(payload), set())

    def test_invalid_answers_fail_the_whole_batch(self):
        everything = set(self.IDS)
        for payload in ({"batchItemFailures": [{"itemIdentifier": ""}]},
                        {"batchItemFailures": [{"itemIdentifier": None}]},
                        {"batchItemFailures": [{"itemidentifier": "id1"}]},
                        {"batchItemFailures": [{"itemIdentifier": "id2"}, {"itemIdentifier": "not-in-batch"}]},
                        {"batchItemFailures": ["id1"]}, {"batchItemFailures": "id1"}, ["id1"], "ok", 3,
                        b"not json", b"\xff"):
            with self.subTest(payload=payload):
                self.assertEqual(self.failed(payload), everything)

    def test_failed_invocations_fail_everything(self):
        for outcome in ("error", "timeout", "crash", "init-timeout", "throttled"):
            for report in (True, False):
                with self.subTest(outcome=outcome, report=report):
                    self.assertEqual(self.failed({}, outcome=outcome, report=report), set(self.IDS))

    def test_without_report_batch_item_failures_success_deletes_all(self):
        self.assertEqual(self.failed({"batchItemFailures": [{"itemIdentifier": "id2"}]}, report=False), set())
        self.assertEqual(self.failed(b"not json", report=False), set())

    def test_reasons_never_quote_the_response(self):
        _, reason = sqs_batch_failures("ok", b'{"batchItemFailures":[{"itemIdentifier":"+12025550143"}]}',
                                       self.IDS, True)
        self.assertNotIn("2025550143", reason)


QUEUES = {ARN: ("Jobs", URL), ARN + ".fifo": ("Ordered", URL + ".fifo")}


def template_with(events: dict, condition: str | None = None) -> dict:
    fn = {"Type": "AWS::Serverless::Function", "Properties": {"Events": events}}
    if condition:
        fn["Condition"] = condition
    return {"Parameters": {"Concurrency": {"Type": "Number", "Default": 4}},
            "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
            "Resources": {"Jobs": {"Type": "AWS::SQS::Queue"}, "Worker": fn}}


def sources_of(template: dict, params: dict | None = None):
    attrs = {"Jobs": {"Ref": URL, "Arn": ARN, "QueueUrl": URL}}
    resolver = Resolver(template, params or {"Concurrency": "4"}, "us-east-1", lambda lid: attrs[lid])
    return sqs_event_sources(template, resolver, QUEUES)


class _SlowSqs:
    """A queue of 10-message batches whose receives and deletes take a while, as moto's do under load."""

    def __init__(self, messages: int, receive_s: float, delete_s: float):
        self.waiting = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": "{}"} for i in range(messages)]
        self.receive_s, self.delete_s = receive_s, delete_s
        self.deleted: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    def receive_message(self, MaxNumberOfMessages: int, WaitTimeSeconds: int, **_):
        time.sleep(self.receive_s)
        with self.lock:
            got, self.waiting = self.waiting[:MaxNumberOfMessages], self.waiting[MaxNumberOfMessages:]
        if not got:
            time.sleep(min(WaitTimeSeconds, 0.05))
        return {"Messages": got}

    def delete_message_batch(self, Entries: list[dict], **_):
        time.sleep(self.delete_s)
        with self.lock:
            self.deleted.extend((e["ReceiptHandle"], time.monotonic()) for e in Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


class _TimedPool:
    """A function that takes `run_s` per batch and reports the ids in `fail` as failed."""

    def __init__(self, run_s: float, fail: set[str] = frozenset()):
        self.run_s, self.fail = run_s, fail
        self.spec = SimpleNamespace(binary="fake-function")
        self.runs: list[tuple[float, float, list[str]]] = []

    def invoke(self, event: bytes, timeout_s: float, queue_timeout_s: float):
        started = time.monotonic()
        ids = [r["messageId"] for r in json.loads(event)["Records"]]
        time.sleep(self.run_s)
        self.runs.append((started, time.monotonic(), ids))
        failures = [{"itemIdentifier": i} for i in ids if i in self.fail]
        return SimpleNamespace(outcome="ok", payload=json.dumps({"batchItemFailures": failures}).encode())


CONCURRENT_RECEIVES = """
import sys, threading, time
if "--as-the-stack-runs-it" in sys.argv:
    sys.path.insert(0, sys.argv[1])
    import moto_server  # noqa: F401  the stack's moto patches
import boto3
import moto.sqs.models as models
from moto import mock_aws

mark_received = models.Message.mark_received


def slowly(self, visibility_timeout=None):
    time.sleep(0.002)  # between finding the message visible and marking it received: another receive runs here
    return mark_received(self, visibility_timeout)


models.Message.mark_received = slowly
with mock_aws():
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for i in range(10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": "{}"} for j in range(10)])
    got = []

    def receive():
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages"):
            got.extend(m["MessageId"] for m in batch)

    threads = [threading.Thread(target=receive) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(len(got), len(set(got)))
"""


class ConcurrentReceivesTest(unittest.TestCase):
    """The event source's receivers receive at once; SQS never hands one message to two receives in flight."""

    def receipts(self, *args: str) -> tuple[int, int]:
        out = subprocess.run([sys.executable, "-c", CONCURRENT_RECEIVES, str(HERE), *args], capture_output=True,
                             text=True, timeout=120, check=True).stdout.split()
        return int(out[0]), int(out[1])

    def test_four_receivers_at_once_get_each_message_once_from_the_stacks_moto(self):
        self.assertEqual(self.receipts("--as-the-stack-runs-it"), (100, 100))

    def test_moto_as_installed_would_hand_them_out_twice(self):
        # Only the duplicates are asserted: the same race in unpatched moto now and then loses a message as well
        # (99 distinct of 100 in one make test run), so its exact count of distinct messages is not deterministic.
        received, distinct = self.receipts()
        self.assertGreater(received, distinct, "the race the stack's moto closes")


class PollerPipelineTest(unittest.TestCase):
    def poll(self, sqs: _SlowSqs, pool: _TimedPool, until) -> None:
        source = stack.SqsEventSource(function="Worker", event="Jobs", queue="Jobs", queue_arn=ARN, queue_url=URL,
                                      batch_size=10, report_batch_item_failures=True, max_concurrency=1)
        poller = stack.SqsPoller(source, pool, sqs, "us-east-1", 30, quiet=True)
        poller.start()
        try:
            wait_until(until, 20, "the batches handled")
        finally:
            poller.stop()

    def test_the_next_batch_is_received_and_deleting_the_last_one_waits_for_nobody(self):
        # One instance, receives of 0.2 s and deletes of 0.4 s around batches of 0.3 s: played one after the
        # other, each batch would wait 0.6 s for SQS after the one before.
        sqs, pool = _SlowSqs(40, receive_s=0.2, delete_s=0.4), _TimedPool(run_s=0.3)
        self.poll(sqs, pool, lambda: len(sqs.deleted) == 40)
        self.assertEqual([len(ids) for _, _, ids in pool.runs], [10, 10, 10, 10])
        gaps = [b[0] - a[1] for a, b in zip(pool.runs, pool.runs[1:])]
        self.assertLess(max(gaps), 0.15, f"the instance waited between batches: {gaps}")
        self.assertEqual(sorted(h for h, _ in sqs.deleted), sorted(f"r{i}" for i in range(40)))
        ended = {i: end for _, end, ids in pool.runs for i in ids}
        for handle, at in sqs.deleted:
            self.assertGreaterEqual(at, ended["m" + handle[1:]], "deleted only after its batch returned")

    def test_messages_a_batch_reports_failed_are_never_deleted(self):
        sqs, pool = _SlowSqs(20, receive_s=0.01, delete_s=0.01), _TimedPool(run_s=0.05, fail={"m3", "m14"})
        self.poll(sqs, pool, lambda: len(sqs.deleted) == 18)
        time.sleep(0.2)
        self.assertEqual(sorted(h for h, _ in sqs.deleted), sorted(f"r{i}" for i in range(20) if i not in (3, 14)))


class EventSourcesTest(unittest.TestCase):
    def test_defaults(self):
        [s] = sources_of(template_with({"Q": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": "Jobs.Arn"}}}}))
        self.assertEqual((s.function, s.event, s.queue, s.queue_arn, s.queue_url),
                         ("Worker", "Q", "Jobs", ARN, URL))
        self.assertEqual((s.batch_size, s.batching_window_s, s.report_batch_item_failures, s.max_concurrency,
                          s.enabled), (10, 0, False, 2, True))

    def test_settings_and_intrinsics(self):
        [s, off] = sources_of(template_with({
            "Q": {"Type": "SQS", "Properties": {
                "Queue": {"Fn::GetAtt": ["Jobs", "Arn"]}, "BatchSize": 100, "MaximumBatchingWindowInSeconds": 5,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": {"Ref": "Concurrency"}}}},
            "Off": {"Type": "SQS", "Properties": {"Queue": ARN, "Enabled": False}},
            "Web": {"Type": "HttpApi", "Properties": {"Path": "/x", "Method": "GET"}}}))
        self.assertEqual((s.batch_size, s.batching_window_s, s.report_batch_item_failures, s.max_concurrency),
                         (100, 5, True, 4))
        self.assertFalse(off.enabled)

    def test_functions_whose_condition_is_false_have_none(self):
        template = template_with({"Q": {"Type": "SQS", "Properties": {"Queue": ARN}}}, condition="Never")
        attrs = {"Jobs": {"Ref": URL, "Arn": ARN}}
        resolver = Resolver(template, {"Concurrency": "4"}, "us-east-1", lambda lid: attrs[lid])
        self.assertEqual(sqs_event_sources(template, resolver, QUEUES, functions=set()), [])

    def test_invalid_settings_are_clear_errors(self):
        cases = [
            ({"Queue": "arn:aws:sqs:us-east-1:123456789012:elsewhere"}, "not a queue of the template"),
            ({"Queue": ARN, "BatchSize": 0}, "BatchSize 0 is outside"),
            ({"Queue": ARN, "BatchSize": 11}, "MaximumBatchingWindowInSeconds of at least 1"),
            ({"Queue": ARN + ".fifo", "BatchSize": 20, "MaximumBatchingWindowInSeconds": 1}, "BatchSize 20"),
            ({"Queue": ARN, "BatchSize": "ten"}, "not an integer"),
            ({"Queue": ARN, "FunctionResponseTypes": ["Other"]}, "FunctionResponseTypes"),
            ({"Queue": ARN, "ScalingConfig": {"MaximumConcurrency": 1}}, "MaximumConcurrency 1 is outside"),
        ]
        for props, message in cases:
            with self.subTest(props=props):
                with self.assertRaisesRegex(StackError, message):
                    sources_of(template_with({"Q": {"Type": "SQS", "Properties": props}}))

    def test_the_real_template(self):
        template = stack.load_template(stack.DEFAULT_TEMPLATE)
        resources = template["Resources"]
        queue_ids = [lid for lid, r in resources.items() if r["Type"] == "AWS::SQS::Queue"]
        if not any((e or {}).get("Type") == "SQS" for r in resources.values()
                   for e in ((r.get("Properties") or {}).get("Events") or {}).values()):
            self.skipTest("template.yaml has no SQS event")
        created = {lid: {"Ref": f"http://moto/123456789012/rising-local-{lid}",
                         "Arn": f"arn:aws:sqs:us-east-1:123456789012:rising-local-{lid}",
                         "QueueUrl": f"http://moto/123456789012/rising-local-{lid}"} for lid in queue_ids}
        for concurrency, batch in ((None, None), ("5", "50")):
            env = {"SendMaxConcurrency": concurrency, "SendBatchSize": batch} if concurrency else {}
            params = parameter_values(template, env, json.loads(stack.PARAMETERS_FILE.read_text()), {})
            r = Resolver(template, params, "us-east-1",
                         lambda lid: created.get(lid) or fallback_attrs(lid, resources[lid], "us-east-1"))
            queues = {a["Arn"]: (lid, a["QueueUrl"]) for lid, a in created.items()}
            sources = {(s.function, s.queue): s for s in sqs_event_sources(template, r, queues)}
            send = sources["SendWorkerFunction", "SendQueue"]
            self.assertEqual((send.queue, send.queue_url), ("SendQueue", created["SendQueue"]["QueueUrl"]))
            self.assertEqual((send.batch_size, send.batching_window_s, send.report_batch_item_failures,
                              send.enabled), (int(batch or 10), 1, True, True))
            self.assertEqual(send.max_concurrency, int(concurrency or 2))
            # the worker also settles its dead-letter queue (at a fixed, small concurrency)
            dead = sources["SendWorkerFunction", "SendDeadLetterQueue"]
            self.assertEqual(dead.queue_url, created["SendDeadLetterQueue"]["QueueUrl"])
            self.assertEqual((dead.batch_size, dead.batching_window_s, dead.report_batch_item_failures,
                              dead.max_concurrency), (10, 0, True, 2))

    def test_instances_per_function(self):
        up = stack.Stack(stack.parse_args(["up", "--concurrency", "3"]))
        spec = FunctionSpec("Worker", "w", "w", "arn", 3, 128, "bootstrap", "Text", {}, [])
        web = FunctionSpec("Worker", "w", "w", "arn", 3, 128, "bootstrap", "Text", {}, [Route("GET", "/x", "Worker")])
        [s] = sources_of(template_with({"Q": {"Type": "SQS", "Properties": {
            "Queue": ARN, "ScalingConfig": {"MaximumConcurrency": 5}}}}))
        self.assertEqual(up.function_concurrency(spec, []), 3)
        self.assertEqual(up.function_concurrency(spec, [s]), 5)  # one instance per poller
        self.assertEqual(up.function_concurrency(web, [s]), 8)  # and the HTTP routes keep theirs
        s.enabled = False
        self.assertEqual(up.function_concurrency(spec, [s]), 3)


# --------------------------------------------------------------------------------------------------------------
# End to end: `stack.py up` with this template, real moto, the fake function

E2E_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  SlowConcurrency:
    Type: Number
    Default: 3
Globals:
  Function:
    Timeout: 5
Resources:
  OkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 2
  OkWorker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fake-function}}
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt OkQueue.Arn
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
  BigQueue:
    Type: AWS::SQS::Queue
  BigWorker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fake-function}}
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt BigQueue.Arn
            BatchSize: 25
            MaximumBatchingWindowInSeconds: 2
  PartialQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 3
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt PartialDlq.Arn
        maxReceiveCount: 2
  PartialDlq:
    Type: AWS::SQS::Queue
  PartialWorker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fake-function}}
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt PartialQueue.Arn
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
  CrashQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 3
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt CrashDlq.Arn
        maxReceiveCount: 2
  CrashDlq:
    Type: AWS::SQS::Queue
  CrashWorker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fake-function}}
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt CrashQueue.Arn
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
  PlainQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 3
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt PlainDlq.Arn
        maxReceiveCount: 2
  PlainDlq:
    Type: AWS::SQS::Queue
  PlainWorker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fake-function}}
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt PlainQueue.Arn
  SlowQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
  SlowWorker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fake-function}}
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt SlowQueue.Arn
            BatchSize: 1
            ScalingConfig:
              MaximumConcurrency: !Ref SlowConcurrency
  OrderedQueue:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      ContentBasedDeduplication: true
  OrderedWorker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fake-function}}
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt OrderedQueue.Arn
            FunctionResponseTypes: [ReportBatchItemFailures]
  OffQueue:
    Type: AWS::SQS::Queue
  OffWorker:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fake-function}}
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt OffQueue.Arn
            Enabled: false
"""


def wait_until(check, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s: {what}")


class EventSourceUpTest(unittest.TestCase):
    """One stack for the class: each scenario has its own queue and function."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.tmp = Path(cls._tmp.name)
        write_fakes(cls.tmp / "bin", ("fake-function",))
        template = cls.tmp / "template.yaml"
        template.write_text(E2E_TEMPLATE)
        cls.stack = StackProcess(cls.tmp, "up", "--template", str(template))
        try:
            cls.env = cls.stack.wait_ready()
        except BaseException:
            cls.stack.kill()
            cls._tmp.cleanup()
            raise
        cls.sqs = moto_client(cls.env, "sqs")
        cls.bodies: list[str] = []

    @classmethod
    def tearDownClass(cls):
        cls.stack.kill()
        cls._tmp.cleanup()

    # helpers --------------------------------------------------------------------------------------------------
    def url(self, queue: str) -> str:
        return self.env[f"{stack.upper_snake(queue)}_URL"]

    def send(self, queue: str, *orders: dict, **extra) -> list[str]:
        """Sends one message per order (a JSON body with a unique secret-looking marker); their ids."""
        entries = []
        for i, order in enumerate(orders):
            body = json.dumps({**order, "secret": f"person-{uuid.uuid4().hex}"})
            self.bodies.append(body)
            entries.append({"Id": str(i), "MessageBody": body, **extra})
        answer = self.sqs.send_message_batch(QueueUrl=self.url(queue), Entries=entries)
        self.assertFalse(answer.get("Failed"), answer)
        by_id = {e["Id"]: e for e in answer["Successful"]}
        self.sent = {by_id[str(i)]["MessageId"]: by_id[str(i)] for i in range(len(orders))}
        return [by_id[str(i)]["MessageId"] for i in range(len(orders))]

    def deliveries(self, function: str) -> list[dict]:
        """The events the fake `function` received: {"pid", "started", "event"}."""
        path = self.tmp / "bin" / "sqs-events.jsonl"
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [x for x in lines if x["function"] == f"rising-local-{function}"]

    def records_of(self, function: str, ids: list[str]) -> list[dict]:
        return [r for d in self.deliveries(function) for r in d["event"]["Records"] if r["messageId"] in ids]

    def counts(self, queue: str) -> tuple[int, int]:
        a = self.sqs.get_queue_attributes(QueueUrl=self.url(queue), AttributeNames=["All"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])

    def empty(self, queue: str) -> bool:
        return self.counts(queue) == (0, 0)

    def dead_letters(self, dlq: str, n: int, timeout: float = 20) -> list[dict]:
        found: dict[str, dict] = {}

        def check():
            for m in self.sqs.receive_message(QueueUrl=self.url(dlq), MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                              VisibilityTimeout=60).get("Messages", []):
                found[m["MessageId"]] = m
            return len(found) >= n

        wait_until(check, timeout, f"{n} message(s) in {dlq}", interval=0.3)
        return list(found.values())

    def assert_no_bodies_in_logs(self):
        logs = self.stack.logs()
        for body in self.bodies:
            self.assertNotIn(json.loads(body)["secret"], logs)

    # scenarios ------------------------------------------------------------------------------------------------
    def test_a_successful_batch_is_deleted_and_shaped_like_lambdas(self):
        ids = self.send("OkQueue", {"do": "ok"}, {"do": "ok"}, {"do": "ok"}, MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "invite"},
            "attempt": {"DataType": "Number", "StringValue": "1"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}})
        sent = self.sent
        wait_until(lambda: len(self.records_of("OkWorker", ids)) == 3 and self.empty("OkQueue"), 10,
                   "the batch delivered and deleted")
        deliveries = self.deliveries("OkWorker")
        self.assertEqual(len(deliveries), 1, "the batching window gathers the three into one batch")
        records = deliveries[0]["event"]["Records"]
        self.assertEqual(sorted(r["messageId"] for r in records), sorted(ids))
        ref = reference_record()
        for r in records:
            if ref is not None:
                self.assertEqual(set(r), set(ref))
                self.assertEqual(set(r["attributes"]), set(ref["attributes"]))
            self.assertEqual(r["eventSource"], "aws:sqs")
            self.assertEqual(r["eventSourceARN"], self.env["OK_QUEUE_ARN"])
            self.assertEqual(r["awsRegion"], self.env["AWS_REGION"])
            self.assertEqual(r["attributes"]["ApproximateReceiveCount"], "1")
            self.assertTrue(r["receiptHandle"])
            self.assertEqual(r["md5OfBody"], sent[r["messageId"]]["MD5OfMessageBody"])
            self.assertEqual(r["md5OfBody"], hashlib.md5(r["body"].encode()).hexdigest())
            self.assertEqual(r["md5OfMessageAttributes"], sent[r["messageId"]]["MD5OfMessageAttributes"])
            self.assertEqual(r["messageAttributes"], {
                "kind": {"stringValue": "invite", "stringListValues": [], "binaryListValues": [],
                         "dataType": "String"},
                "attempt": {"stringValue": "1", "stringListValues": [], "binaryListValues": [],
                            "dataType": "Number"},
                "raw": {"binaryValue": "AP8=", "stringListValues": [], "binaryListValues": [],
                        "dataType": "Binary"}})
        wait_until(lambda: "[sqs OkQueue] 3 message(s) -> fake-function: ok; deleted 3" in self.stack.logs(), 5,
                   "the batch's log line")
        self.assert_no_bodies_in_logs()

    def test_batches_larger_than_ten_are_gathered_in_the_window(self):
        ids = []
        for _ in range(3):
            ids += self.send("BigQueue", *[{"do": "ok"}] * 9)
        wait_until(lambda: len(self.records_of("BigWorker", ids)) == 27 and self.empty("BigQueue"), 15,
                   "27 messages delivered and deleted")
        sizes = [len(d["event"]["Records"]) for d in self.deliveries("BigWorker")]
        # BatchSize 25, gathered over several receives. Two receivers (MaximumConcurrency 2) may share the 27, as
        # Lambda's pollers do, but one of them holds more than a receive's 10.
        self.assertGreater(max(sizes), 10, sizes)
        self.assertLessEqual(max(sizes), 25, sizes)
        self.assertEqual(sum(sizes), 27)

    def test_partial_failure_redelivers_only_the_failed_message_then_the_dlq(self):
        ok1, failing, ok2 = self.send("PartialQueue", {"do": "ok"}, {"do": "fail"}, {"do": "ok"})
        [dead] = self.dead_letters("PartialDlq", 1)
        self.assertEqual(dead["MessageId"], failing)
        self.assertEqual(json.loads(dead["Body"])["do"], "fail")
        self.assertTrue(self.empty("PartialQueue"))
        records = self.records_of("PartialWorker", [ok1, failing, ok2])
        by_id: dict[str, list[str]] = {}
        for r in records:
            by_id.setdefault(r["messageId"], []).append(r["attributes"]["ApproximateReceiveCount"])
        self.assertEqual(by_id, {ok1: ["1"], ok2: ["1"], failing: ["1", "2"]})  # maxReceiveCount 2, then the DLQ
        first, second = self.deliveries("PartialWorker")
        gap = second["started"] - first["started"]
        self.assertGreaterEqual(gap, 2.8, "redelivered only after the visibility timeout (3 s)")
        self.assertIn(f"left for redelivery: {failing}", self.stack.logs())
        self.assert_no_bodies_in_logs()

    def test_a_crash_redelivers_the_whole_batch(self):
        ids = self.send("CrashQueue", {"do": "ok"}, {"do": "crash"})
        dead = self.dead_letters("CrashDlq", 2)
        self.assertEqual(sorted(m["MessageId"] for m in dead), sorted(ids))
        deliveries = self.deliveries("CrashWorker")
        self.assertEqual(len(deliveries), 2)
        for delivery, count in zip(deliveries, ("1", "2")):
            records = delivery["event"]["Records"]
            self.assertEqual(sorted(r["messageId"] for r in records), sorted(ids))
            self.assertEqual({r["attributes"]["ApproximateReceiveCount"] for r in records}, {count})
        self.assertNotEqual(deliveries[0]["pid"], deliveries[1]["pid"], "a new process after the crash")
        self.assertIn("runtime exited; deleted 0", self.stack.logs())

    def test_without_report_batch_item_failures_only_errors_count(self):
        [reported] = self.send("PlainQueue", {"do": "fail"})
        wait_until(lambda: self.records_of("PlainWorker", [reported]) and self.empty("PlainQueue"), 10,
                   "a reported failure ignored: the message deleted")
        [failing] = self.send("PlainQueue", {"do": "error"})
        [dead] = self.dead_letters("PlainDlq", 1)
        self.assertEqual(dead["MessageId"], failing)
        counts = [r["attributes"]["ApproximateReceiveCount"] for r in self.records_of("PlainWorker", [failing])]
        self.assertEqual(counts, ["1", "2"])
        self.assertEqual(len(self.records_of("PlainWorker", [reported])), 1)
        self.assertIn("function error; deleted 0", self.stack.logs())

    def test_maximum_concurrency_runs_that_many_instances(self):
        ids = self.send("SlowQueue", *[{"do": "sleep", "s": 2}] * 3)
        wait_until(lambda: len(self.records_of("SlowWorker", ids)) == 3 and self.empty("SlowQueue"), 15,
                   "three slow messages handled")
        deliveries = self.deliveries("SlowWorker")
        self.assertEqual([len(d["event"]["Records"]) for d in deliveries], [1, 1, 1])  # BatchSize 1
        self.assertEqual(len({d["pid"] for d in deliveries}), 3, "three instances")
        starts = [d["started"] for d in deliveries]
        self.assertLess(max(starts) - min(starts), 1.9, "the three ran at once (each sleeps 2 s)")

    def test_fifo_records_carry_group_and_deduplication_ids(self):
        [mid] = self.send("OrderedQueue", {"do": "ok"}, MessageGroupId="group-1")
        wait_until(lambda: self.records_of("OrderedWorker", [mid]) and self.empty("OrderedQueue"), 10,
                   "the FIFO message delivered and deleted")
        [record] = self.records_of("OrderedWorker", [mid])
        self.assertEqual(record["attributes"]["MessageGroupId"], "group-1")
        self.assertTrue(record["attributes"]["MessageDeduplicationId"])
        self.assertEqual(record["eventSourceARN"], self.env["ORDERED_QUEUE_ARN"])

    def test_a_disabled_event_source_does_not_poll(self):
        self.send("OffQueue", {"do": "ok"})
        self.assertIn("SQS event OffWorker.Jobs: OffQueue -> fake-function is disabled", self.stack.logs())
        time.sleep(2.5)
        self.assertEqual(self.counts("OffQueue"), (1, 0))
        self.assertEqual(self.deliveries("OffWorker"), [])


class EventSourceShutdownTest(unittest.TestCase):
    def test_pollers_and_functions_stop_on_sigint_mid_batch(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            write_fakes(tmp / "bin", ("fake-function",))
            template = tmp / "template.yaml"
            template.write_text(textwrap.dedent("""\
                Transform: AWS::Serverless-2016-10-31
                Resources:
                  Jobs:
                    Type: AWS::SQS::Queue
                  Worker:
                    Type: AWS::Serverless::Function
                    Metadata: {BuildProperties: {Binary: fake-function}}
                    Properties:
                      Timeout: 30
                      Events:
                        Jobs:
                          Type: SQS
                          Properties:
                            Queue: !GetAtt Jobs.Arn
                            BatchSize: 1
                            ScalingConfig:
                              MaximumConcurrency: 3
                """))
            s = StackProcess(tmp, "up", "--template", str(template))
            self.addCleanup(s.kill)
            env = s.wait_ready()
            sqs = moto_client(env, "sqs")
            for _ in range(3):
                sqs.send_message(QueueUrl=env["JOBS_URL"], MessageBody=json.dumps({"do": "sleep", "s": 20}))
            events = tmp / "bin" / "sqs-events.jsonl"
            wait_until(lambda: events.exists() and len(events.read_text().splitlines()) == 3, 15,
                       "three invocations in flight")
            children = s.children()
            self.assertGreaterEqual(len(children), 5)  # moto, emulator, three instances
            started = time.monotonic()
            self.assertEqual(s.stop(signal.SIGINT), 0, s.logs())
            self.assertLess(time.monotonic() - started, 10)
            self.assertEqual([p for p in children if alive(p)], [])
            self.assertFalse(s.env_file.exists())
            self.assertNotIn("Traceback", s.logs())


if __name__ == "__main__":
    unittest.main()
