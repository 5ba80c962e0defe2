"""Tests of the local DynamoDB stream event source in infra/local/stack.py (filter patterns, records converted from
moto's GetRecords answers, how a function's answer ends a batch, retries, bisection and the on-failure record, the
settings read from the template) and of the EventBridge bus it creates, in process with fakes, then end to end
(`stack.py up` with real moto, a small template, and the fake function of fakes.py).

    .venv/bin/python -m unittest discover -s infra/local
"""
from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import stack  # noqa: E402
from fakes import write_fakes  # noqa: E402
from stack import (  # noqa: E402
    FilterPatternError, FunctionSpec, Resolver, StackError, StreamEventSource, StreamPoller, StreamShardBatches,
    fallback_attrs, filter_matches, filters_match, parameter_values, stream_batch_result, stream_event_sources,
    stream_failure_record, stream_record, validate_filter_pattern,
)
from test_schedule_source import quiet_logs  # noqa: E402
from test_sns_source import FakeAws  # noqa: E402
from test_stack_up import StackProcess, moto_client  # noqa: E402

REGION = "eu-west-1"
STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/rising-local-Table/stream/2026-01-01T00:00:00.000"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:rising-local-Dlq"
QUEUE_URL = "http://127.0.0.1:5000/123456789012/rising-local-Dlq"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:rising-local-Alarms"
SHARD = "shardId-00000001541626099285-f35f62ef"
FIRST_SEQ = 1100000000017454423009
PUBLISHER_PATTERN = {"dynamodb": {"NewImage": {"entity": {"S": ["rsvp", "consent", "contact"]}}}}


def raw_record(seq: int, name: str = "INSERT", new: dict | None = None, old: dict | None = None,
               keys: dict | None = None) -> dict:
    """A record as boto3 parses moto's GetRecords answer."""
    ddb: dict[str, Any] = {"ApproximateCreationDateTime": dt.datetime(2026, 3, 1, 12, 0, 5, 250000,
                                                                      tzinfo=dt.timezone.utc),
                           "Keys": keys or {"pk": {"S": f"item-{seq}"}}, "SequenceNumber": str(seq),
                           "SizeBytes": 120, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        ddb["NewImage"] = new
    if old is not None:
        ddb["OldImage"] = old
    return {"eventID": uuid.uuid4().hex, "eventName": name, "eventVersion": "1.0", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "dynamodb": ddb}


def record(seq: int, entity: str = "rsvp", do: str = "ok", name: str = "INSERT") -> dict:
    new = {"pk": {"S": f"item-{seq}"}, "entity": {"S": entity}, "do": {"S": do}}
    return stream_record(raw_record(seq, name, new=None if name == "REMOVE" else new,
                                    old=new if name != "INSERT" else None), STREAM_ARN, REGION)


def source(**kw) -> StreamEventSource:
    settings: dict[str, Any] = dict(function="Publisher", event="Stream", table="Table", stream_arn=STREAM_ARN,
                                    starting_position="TRIM_HORIZON", batch_size=10)
    settings.update(kw)
    return StreamEventSource(**settings)


# --------------------------------------------------------------------------------------------------------------
# Filter patterns

class FilterMatchTest(unittest.TestCase):
    def test_the_publisher_pattern_on_records(self):
        self.assertTrue(filter_matches(PUBLISHER_PATTERN, record(1, "rsvp")))
        self.assertTrue(filter_matches(PUBLISHER_PATTERN, record(2, "contact", name="MODIFY")))
        self.assertFalse(filter_matches(PUBLISHER_PATTERN, record(3, "counter")))
        # a REMOVE has no NewImage: a pattern on NewImage does not match it, as on AWS
        removed = record(4, "rsvp", name="REMOVE")
        self.assertNotIn("NewImage", removed["dynamodb"])
        self.assertFalse(filter_matches(PUBLISHER_PATTERN, removed))
        self.assertTrue(filter_matches({"dynamodb": {"OldImage": {"entity": {"S": ["rsvp"]}}}}, removed))

    def test_exact_values_and_types(self):
        event = {"a": "x", "n": 5, "f": 1.5, "b": True, "z": None, "list": ["p", "q"]}
        self.assertTrue(filter_matches({"a": ["y", "x"]}, event))
        self.assertFalse(filter_matches({"a": ["X"]}, event))
        self.assertTrue(filter_matches({"n": [5.0]}, event))
        self.assertFalse(filter_matches({"n": ["5"]}, event))
        self.assertTrue(filter_matches({"b": [True]}, event))
        self.assertFalse(filter_matches({"b": [1]}, event))
        self.assertFalse(filter_matches({"n": [True]}, {"n": 1}))
        self.assertTrue(filter_matches({"z": [None]}, event))
        self.assertTrue(filter_matches({"list": ["q"]}, event), "an array matches by any of its elements")
        self.assertFalse(filter_matches({"missing": ["x"]}, event))
        self.assertTrue(filter_matches({"a": ["x"], "n": [5]}, event))
        self.assertFalse(filter_matches({"a": ["x"], "n": [6]}, event), "every field of a pattern must match")

    def test_matchers(self):
        event = {"s": "Rsvp-created", "n": 42, "nested": {"k": "v"}}
        cases = [
            ({"s": [{"prefix": "Rsvp"}]}, True), ({"s": [{"prefix": "rsvp"}]}, False),
            ({"s": [{"prefix": {"equals-ignore-case": "rsvp"}}]}, True),
            ({"s": [{"suffix": "created"}]}, True), ({"s": [{"suffix": "deleted"}]}, False),
            ({"s": [{"equals-ignore-case": "RSVP-CREATED"}]}, True),
            ({"s": [{"wildcard": "Rsvp-*ed"}]}, True), ({"s": [{"wildcard": "*x*"}]}, False),
            ({"s": [{"exists": True}]}, True), ({"s": [{"exists": False}]}, False),
            ({"gone": [{"exists": False}]}, True), ({"gone": [{"exists": True}]}, False),
            ({"nested": [{"exists": True}]}, False),  # exists matches leaves only
            ({"s": [{"anything-but": "x"}]}, True), ({"s": [{"anything-but": ["Rsvp-created"]}]}, False),
            ({"s": [{"anything-but": {"prefix": "Rsvp"}}]}, False),
            ({"s": [{"anything-but": {"suffix": "x"}}]}, True),
            ({"gone": [{"anything-but": "x"}]}, False),  # anything-but needs the field
            ({"n": [{"numeric": [">", 40, "<=", 42]}]}, True), ({"n": [{"numeric": ["=", 41]}]}, False),
            ({"s": [{"numeric": [">", 0]}]}, False),
            ({"s": ["nope", {"prefix": "Rsvp"}]}, True),  # any entry of the list
            ({"nested": {"k": ["v"]}}, True), ({"nested": {"k": ["w"]}}, False),
            ({"nested": {"gone": [{"exists": False}]}}, True),
            ({"absent": {"k": [{"exists": False}]}}, True), ({"absent": {"k": ["v"]}}, False),
            ({"$or": [{"s": ["x"]}, {"n": [42]}]}, True), ({"$or": [{"s": ["x"]}, {"n": [1]}]}, False),
        ]
        for pattern, expected in cases:
            with self.subTest(pattern=pattern):
                validate_filter_pattern(pattern)
                self.assertEqual(filter_matches(pattern, event), expected)

    def test_nested_arrays_of_objects(self):
        event = {"items": [{"kind": "a"}, {"kind": "b"}]}
        self.assertTrue(filter_matches({"items": {"kind": ["b"]}}, event))
        self.assertFalse(filter_matches({"items": {"kind": ["c"]}}, event))

    def test_filters_are_ored_and_none_keeps_everything(self):
        rsvp, counter = record(1, "rsvp"), record(2, "counter")
        self.assertTrue(filters_match([], counter))
        either = [PUBLISHER_PATTERN, {"dynamodb": {"NewImage": {"entity": {"S": ["counter"]}}}}]
        self.assertTrue(filters_match(either, rsvp) and filters_match(either, counter))
        self.assertFalse(filters_match([PUBLISHER_PATTERN], counter))

    def test_invalid_patterns(self):
        for pattern in ({}, [], {"a": "x"}, {"a": []}, {"a": [{"prefix": 1}]}, {"a": [{"cidr": "10.0.0.0/8"}]},
                        {"a": [{"numeric": [">"]}]}, {"a": [{"numeric": ["~", 1]}]}, {"a": [{"exists": "yes"}]},
                        {"a": [{"prefix": "x", "suffix": "y"}]}, {"a": [["x"]]}, {"$or": [{"a": ["x"]}]},
                        {"a": [{"anything-but": {"numeric": [">", 1]}}]}):
            with self.subTest(pattern=pattern):
                with self.assertRaises(FilterPatternError):
                    validate_filter_pattern(pattern)


# --------------------------------------------------------------------------------------------------------------
# Records

def reference_event() -> dict | None:
    for base in (stack.REPO.parent / "shared", Path("/work/shared")):
        path = base / "reference" / "aws-events" / "example-dynamodb-event.json"
        if path.exists():
            return json.loads(path.read_text())
    return None


class RecordTest(unittest.TestCase):
    def test_converted_from_moto_s_shape(self):
        raw = raw_record(FIRST_SEQ, "MODIFY", new={"pk": {"S": "a"}, "bin": {"B": b"\x00\x01*A"},
                                                   "set": {"BS": [b"\x00", b"\xff"]},
                                                   "m": {"M": {"b": {"B": b"A*\x01\x00"}, "n": {"N": "1"}}},
                                                   "l": {"L": [{"B": b"\x01"}, {"S": "x"}]}},
                         old={"pk": {"S": "a"}}, keys={"pk": {"S": "a"}})
        r = stream_record(raw, STREAM_ARN, REGION)
        self.assertEqual(list(r), ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
                                   "eventSourceARN"])
        self.assertEqual((r["eventID"], r["eventName"], r["eventVersion"], r["eventSource"], r["awsRegion"],
                          r["eventSourceARN"]), (raw["eventID"], "MODIFY", "1.1", "aws:dynamodb", REGION, STREAM_ARN))
        ddb = r["dynamodb"]
        self.assertEqual(list(ddb), ["ApproximateCreationDateTime", "Keys", "NewImage", "OldImage", "SequenceNumber",
                                     "SizeBytes", "StreamViewType"])
        self.assertEqual(ddb["ApproximateCreationDateTime"], 1772366405)  # epoch seconds, rounded down
        self.assertIsInstance(ddb["ApproximateCreationDateTime"], int)
        self.assertEqual(ddb["NewImage"]["bin"], {"B": "AAEqQQ=="})
        self.assertEqual(ddb["NewImage"]["set"], {"BS": ["AA==", "/w=="]})
        self.assertEqual(ddb["NewImage"]["m"], {"M": {"b": {"B": "QSoBAA=="}, "n": {"N": "1"}}})
        self.assertEqual(ddb["NewImage"]["l"], {"L": [{"B": "AQ=="}, {"S": "x"}]})
        self.assertEqual((ddb["SequenceNumber"], ddb["SizeBytes"], ddb["StreamViewType"]),
                         (str(FIRST_SEQ), 120, "NEW_AND_OLD_IMAGES"))
        json.dumps(r)  # plain JSON data

    def test_records_read_off_the_wire_convert_as_boto3_s_do(self):
        import boto3
        from moto import mock_aws
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name=REGION)
            arn = ddb.create_table(
                TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )["TableDescription"]["LatestStreamArn"]
            item = {"pk": {"S": "a"}, "bin": {"B": b"\x00\x01*A"}, "bs": {"BS": [b"\x00", b"\xff"]},
                    "ns": {"NS": ["1", "2.5"]}, "ss": {"SS": ["x", "y"]}, "n": {"N": "-3"}, "t": {"BOOL": True},
                    "z": {"NULL": True}, "m": {"M": {"b": {"B": b"A*"}, "l": {"L": [{"B": b"\x01"}, {"S": "s"}]}}}}
            ddb.put_item(TableName="t", Item=item)
            ddb.update_item(TableName="t", Key={"pk": {"S": "a"}}, UpdateExpression="SET n = :n",
                            ExpressionAttributeValues={":n": {"N": "4"}})
            ddb.delete_item(TableName="t", Key={"pk": {"S": "a"}})

            def read(client) -> list[dict]:
                shard = client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
                iterator = client.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                                     ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                answer = client.get_records(ShardIterator=iterator, Limit=100)
                self.assertTrue(answer["NextShardIterator"])
                return answer["Records"]

            parsed = read(boto3.client("dynamodbstreams", region_name=REGION))
            wire = read(stack.keep_raw_stream_records(boto3.client("dynamodbstreams", region_name=REGION)))
        # as read: boto3's parser hands bytes and datetimes, the wire base64 text and epoch numbers
        self.assertIsInstance(parsed[0]["dynamodb"]["NewImage"]["bin"]["B"], bytes)
        self.assertIsInstance(wire[0]["dynamodb"]["NewImage"]["bin"]["B"], str)
        self.assertIsInstance(wire[0]["dynamodb"]["ApproximateCreationDateTime"], (int, float))
        parsed = [stream_record(r, STREAM_ARN, REGION) for r in parsed]
        wire = [stream_record(r, STREAM_ARN, REGION) for r in wire]
        self.assertEqual([r["eventName"] for r in wire], ["INSERT", "MODIFY", "REMOVE"])
        self.assertEqual(wire, parsed)
        self.assertEqual(wire[0]["dynamodb"]["NewImage"]["bin"], {"B": "AAEqQQ=="})
        json.dumps(wire)

    def test_naive_datetimes_are_utc_and_ttl_deletions_keep_their_identity(self):
        raw = raw_record(FIRST_SEQ, "REMOVE", old={"pk": {"S": "a"}})
        raw["dynamodb"]["ApproximateCreationDateTime"] = dt.datetime(2026, 3, 1, 12, 0, 5)
        raw["userIdentity"] = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
        r = stream_record(raw, STREAM_ARN, REGION)
        self.assertEqual(r["dynamodb"]["ApproximateCreationDateTime"], 1772366405)
        self.assertEqual(r["userIdentity"], {"type": "Service", "principalId": "dynamodb.amazonaws.com"})
        self.assertEqual(list(r)[5:], ["userIdentity", "dynamodb", "eventSourceARN"])
        self.assertNotIn("NewImage", r["dynamodb"])

    def test_same_fields_as_a_real_event(self):
        ref = reference_event()
        if ref is None:  # the reference folder has no DynamoDB example: the shape Lambda documents
            ref = {"Records": [{"eventID": "f07f8ca4b0b26cb9c4e5e77e69f274ee", "eventName": "INSERT",
                                "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                                "dynamodb": {"ApproximateCreationDateTime": 1480642020, "Keys": {},
                                             "NewImage": {}, "SequenceNumber": "1405400000000002063282832",
                                             "SizeBytes": 54, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                                "eventSourceARN": STREAM_ARN}]}
        expected = ref["Records"][-1]
        r = record(FIRST_SEQ)
        self.assertEqual(set(r), set(expected) - {"userIdentity"})
        self.assertEqual(set(r["dynamodb"]), set(expected["dynamodb"]))
        for key in ("eventVersion", "eventSource"):
            self.assertEqual(r[key], expected[key])
        self.assertIsInstance(r["dynamodb"]["ApproximateCreationDateTime"],
                              type(expected["dynamodb"]["ApproximateCreationDateTime"]))


# --------------------------------------------------------------------------------------------------------------
# A function's answer, the shard's bookkeeping, the on-failure record

SEQS = ["11", "12", "13"]


class BatchResultTest(unittest.TestCase):
    def test_success(self):
        for payload in (b"", b"null", b"{}", b'{"batchItemFailures": []}', b'{"batchItemFailures": null}'):
            with self.subTest(payload=payload):
                self.assertEqual(stream_batch_result("ok", payload, SEQS, True), (None, False, "ok"))
        self.assertEqual(stream_batch_result("ok", b'{"batchItemFailures": [{"itemIdentifier": "12"}]}', SEQS,
                                             False), (None, False, "ok"), "without ReportBatchItemFailures")

    def test_reported_failures_retry_from_the_lowest(self):
        payload = json.dumps({"batchItemFailures": [{"itemIdentifier": "13"}, {"itemIdentifier": "12"}]}).encode()
        failed_from, whole, reason = stream_batch_result("ok", payload, SEQS, True)
        self.assertEqual((failed_from, whole), (1, False))
        self.assertIn("the first at 12", reason)
        first = json.dumps({"batchItemFailures": [{"itemIdentifier": "11"}]}).encode()
        self.assertEqual(stream_batch_result("ok", first, SEQS, True)[:2], (0, False))

    def test_whole_failures(self):
        for outcome, payload in (("error", b"{}"), ("timeout", b""), ("crash", b""), ("ok", b"not json"),
                                 ("ok", b"[1]"), ("ok", b'{"batchItemFailures": {}}'),
                                 ("ok", b'{"batchItemFailures": [{"itemIdentifier": ""}]}'),
                                 ("ok", b'{"batchItemFailures": [{}]}'),
                                 ("ok", b'{"batchItemFailures": [{"itemIdentifier": "99"}]}')):
            with self.subTest(outcome=outcome, payload=payload):
                failed_from, whole, reason = stream_batch_result(outcome, payload, SEQS, True)
                self.assertEqual((failed_from, whole), (0, True))
                self.assertNotIn(payload.decode(), reason) if payload.strip() not in (b"", b"{}") else None


class ShardBatchesTest(unittest.TestCase):
    def batches(self, n: int = 4, **kw) -> tuple[StreamShardBatches, list[dict]]:
        b = StreamShardBatches(source(**kw))
        records = [record(FIRST_SEQ + i) for i in range(n)]
        b.add(records, now=0.0)
        return b, records

    def test_batch_size_window_and_success(self):
        b, records = self.batches(5, batch_size=3, batching_window_s=2)
        self.assertTrue(b.ready(now=0.0), "a full batch goes at once")
        self.assertEqual(b.next_batch(), records[:3])
        self.assertEqual(b.settle(records[:3], None).done, 3)
        self.assertFalse(b.ready(now=1.9), "two records wait for the window")
        self.assertTrue(b.ready(now=2.0))
        self.assertEqual(b.settle(b.next_batch(), None).done, 2)
        self.assertEqual(len(b), 0)
        self.assertFalse(b.ready(now=10))

    def test_partial_failure_checkpoints_then_gives_up_the_rest(self):
        b, records = self.batches(4, max_retries=1)
        s = b.settle(records, 1, whole=False)
        self.assertEqual((s.done, s.retry, s.attempts), (1, True, 1))
        self.assertEqual(b.next_batch(), records[1:], "retried from the first reported record")
        self.assertTrue(b.ready(now=0.0))
        s = b.settle(records[1:], 1, whole=False)  # progress again: the new front failed once
        self.assertEqual((s.done, s.retry, s.attempts), (1, True, 1))
        s = b.settle(records[2:], 0, whole=False)  # no progress: second failure of the same record
        self.assertEqual((s.done, s.retry, s.discarded, s.condition, s.attempts),
                         (0, False, records[2:], "RetryAttemptsExhausted", 2))
        self.assertEqual(len(b), 0)

    def test_whole_failures_retry_the_batch_then_give_it_up(self):
        b, records = self.batches(3, max_retries=2)
        for attempt in (1, 2):
            s = b.settle(records, 0)
            self.assertEqual((s.retry, s.attempts), (True, attempt))
            self.assertEqual(b.next_batch(), records)
        s = b.settle(records, 0)
        self.assertEqual((s.discarded, s.attempts), (records, 3))

    def test_bisection_isolates_the_failing_record_without_using_retries(self):
        b, records = self.batches(4, bisect=True, max_retries=0)
        bad = records[2]
        calls = []
        while len(b):
            batch = b.next_batch()
            calls.append([r["dynamodb"]["SequenceNumber"][-1] for r in batch])
            s = b.settle(batch, 0 if bad in batch else None)
            if s.discarded:
                self.assertEqual((s.discarded, s.attempts, s.condition), ([bad], 1, "RetryAttemptsExhausted"))
        self.assertEqual(calls, [list("9012"), list("90"), list("12"), ["1"], ["2"]])

    def test_bisected_halves_keep_their_size_when_more_records_arrive(self):
        b, records = self.batches(4, bisect=True, max_retries=3)
        b.settle(records, 0)
        b.add([record(FIRST_SEQ + 10)], now=1.0)
        self.assertEqual(b.next_batch(), records[:2])
        b.settle(records[:2], None)
        self.assertEqual(b.next_batch(), records[2:])
        b.settle(records[2:], None)
        self.assertEqual(len(b.next_batch()), 1)

    def test_a_reported_first_record_is_not_bisected(self):
        b, records = self.batches(4, bisect=True, max_retries=5)
        s = b.settle(records, 0, whole=False)
        self.assertEqual((s.bisected, s.attempts), (False, 1))
        self.assertEqual(b.next_batch(), records)

    def test_unlimited_retries_are_capped_locally_and_old_records_expire(self):
        b, records = self.batches(1)
        self.assertEqual(b.source.retry_limit, stack.STREAM_LOCAL_MAX_RETRIES)
        created = records[0]["dynamodb"]["ApproximateCreationDateTime"]
        b.source.max_record_age_s = 60
        self.assertTrue(b.settle(records, 0, now_epoch=created + 60).retry)
        s = b.settle(records, 0, now_epoch=created + 61)
        self.assertEqual((s.condition, s.discarded, s.attempts), ("RecordAgeExceeded", records, 2))


class FailureRecordTest(unittest.TestCase):
    def test_shape(self):
        records = [record(FIRST_SEQ), record(FIRST_SEQ + 1)]
        r = stream_failure_record(source(), "arn:aws:lambda:eu-west-1:123456789012:function:p", SHARD, records,
                                  "RetryAttemptsExhausted", 3, True, "req-1", now=1772366406.5)
        self.assertEqual(r, {
            "requestContext": {"requestId": "req-1", "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:p",
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2026-03-01T12:00:06.500Z",
            "DDBStreamBatchInfo": {"shardId": SHARD, "startSequenceNumber": str(FIRST_SEQ),
                                   "endSequenceNumber": str(FIRST_SEQ + 1),
                                   "approximateArrivalOfFirstRecord": "2026-03-01T12:00:05Z",
                                   "approximateArrivalOfLastRecord": "2026-03-01T12:00:05Z",
                                   "batchSize": 2, "streamArn": STREAM_ARN}})
        partial = stream_failure_record(source(), "arn", SHARD, records[:1], "RecordAgeExceeded", 1, False, "r")
        self.assertNotIn("functionError", partial["responseContext"])


# --------------------------------------------------------------------------------------------------------------
# The poller, with a fake stream and a fake function

class FakeStreams:
    def __init__(self, records: list[dict] | None = None):
        self.records = list(records or [])
        self.positions: list[str] = []

    def append(self, *records: dict) -> None:
        self.records.extend(records)

    def describe_stream(self, StreamArn):
        return {"StreamDescription": {"StreamArn": StreamArn, "Shards": [{"ShardId": SHARD}]}}

    def get_shard_iterator(self, StreamArn, ShardId, ShardIteratorType, SequenceNumber=None):
        self.positions.append(ShardIteratorType)
        if ShardIteratorType == "AFTER_SEQUENCE_NUMBER":  # records are in sequence order
            after = [i for i, r in enumerate(self.records) if int(r["dynamodb"]["SequenceNumber"]) <= int(SequenceNumber)]
            return {"ShardIterator": str(len(after))}
        return {"ShardIterator": str(0 if ShardIteratorType == "TRIM_HORIZON" else len(self.records))}

    def get_records(self, ShardIterator, Limit):
        start = int(ShardIterator)
        chunk = self.records[start:start + Limit]
        return {"Records": chunk, "NextShardIterator": str(start + len(chunk))}


class FakePool:
    """Invokes `handler(records) -> (outcome, payload)` and keeps each batch's sequence numbers."""

    def __init__(self, handler: Callable[[list[dict]], tuple[str, Any]]):
        self.handler = handler
        self.spec = SimpleNamespace(binary="fake-publisher", arn="arn:aws:lambda:eu-west-1:123456789012:function:p")
        self.stopping = False
        self.calls: list[list[int]] = []
        self.events: list[dict] = []

    def invoke(self, event: bytes, timeout_s: float, queue_timeout_s: float):
        parsed = json.loads(event)
        self.events.append(parsed)
        records = parsed["Records"]
        self.calls.append([int(r["dynamodb"]["SequenceNumber"]) - FIRST_SEQ for r in records])
        outcome, payload = self.handler(records)
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
        return SimpleNamespace(outcome=outcome, payload=payload, id=f"req-{len(self.calls)}")


def fails(*bad: int) -> Callable[[list[dict]], tuple[str, Any]]:
    """A handler reporting the records whose offset is in `bad`."""
    def handler(records):
        return "ok", {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in records
                                            if int(r["dynamodb"]["SequenceNumber"]) - FIRST_SEQ in bad]}
    return handler


def errors_on(*bad: int) -> Callable[[list[dict]], tuple[str, Any]]:
    def handler(records):
        hit = any(int(r["dynamodb"]["SequenceNumber"]) - FIRST_SEQ in bad for r in records)
        return ("error", {"errorType": "E", "errorMessage": "boom"}) if hit else ("ok", None)
    return handler


def rsvps(n: int, start: int = 0, entity: str = "rsvp") -> list[dict]:
    secret = {"S": "SEALED-SECRET-VALUE"}
    return [raw_record(FIRST_SEQ + i, new={"pk": {"S": f"p{i}"}, "entity": {"S": entity}, "sealed": secret})
            for i in range(start, start + n)]


class PollerTest(unittest.TestCase):
    def setUp(self):
        self.lines = quiet_logs(self)
        self.aws = FakeAws()

    def poller(self, handler, records: list[dict], **kw) -> tuple[StreamPoller, FakePool, FakeStreams]:
        kw.setdefault("on_failure", ("SQS", "Dlq", QUEUE_URL))
        src = source(**kw)
        pool, streams = FakePool(handler), FakeStreams(records)
        p = StreamPoller(src, pool, streams, self.aws, REGION, 5.0, retry_pause_s=0)
        p.open()
        return p, pool, streams

    def drain(self, p: StreamPoller, rounds: int = 100) -> None:
        for _ in range(rounds):
            if not p.step(now=time.monotonic() + 3600):
                return
        self.fail("the poller never went idle")

    def test_records_written_later_are_read_even_when_the_chain_of_next_iterators_goes_dead(self):
        class DeadChain(FakeStreams):  # moto's NextShardIterator chain, as seen stalling under load
            def get_records(self, ShardIterator, Limit):
                if ShardIterator.startswith("next-"):
                    return {"Records": [], "NextShardIterator": ShardIterator}
                answer = super().get_records(ShardIterator, Limit)
                return {**answer, "NextShardIterator": "next-" + answer["NextShardIterator"]}
        src = source(on_failure=("SQS", "Dlq", QUEUE_URL))
        pool, streams = FakePool(lambda records: ("ok", None)), DeadChain(rsvps(3))
        p = StreamPoller(src, pool, streams, self.aws, REGION, 5.0, retry_pause_s=0)
        p.open()
        self.drain(p)
        streams.append(*rsvps(2, start=3))
        self.drain(p)
        self.assertEqual(pool.calls, [[0, 1, 2], [3, 4]])

    def sent(self, service: str) -> list[dict]:
        return [kwargs for svc, method, kwargs in self.aws.calls
                if svc == service and method in ("send_message", "publish")]

    def dead_letters(self) -> list[dict]:
        return [json.loads(m["MessageBody"]) for m in self.sent("sqs")]

    def test_batches_in_order_filtered_and_shaped(self):
        records = rsvps(3) + rsvps(2, 3, entity="counter") + rsvps(3, 5)
        p, pool, _ = self.poller(fails(), records, batch_size=4, filters=[PUBLISHER_PATTERN],
                                 report_batch_item_failures=True)
        self.drain(p)
        self.assertEqual(pool.calls, [[0, 1, 2, 5], [6, 7]])
        event = pool.events[0]
        self.assertEqual(list(event), ["Records"])
        self.assertEqual({r["eventSourceARN"] for r in event["Records"]}, {STREAM_ARN})
        self.assertEqual({r["awsRegion"] for r in event["Records"]}, {REGION})
        self.assertEqual(self.dead_letters(), [])
        self.assertIn("4 record(s) 1100000000017454423009..1100000000017454423014 -> fake-publisher: ok "
                      "(2 filtered out before)", "\n".join(self.lines))
        self.assertNotIn("SEALED-SECRET-VALUE", "\n".join(self.lines))

    def test_a_batch_that_is_filtered_out_entirely_is_never_invoked(self):
        p, pool, _ = self.poller(fails(), rsvps(3, entity="counter"), filters=[PUBLISHER_PATTERN])
        self.drain(p)
        self.assertEqual(pool.calls, [])
        self.assertEqual(len(p.shards[SHARD]), 0)

    def test_partial_failures_retry_from_the_reported_record_then_the_on_failure_queue(self):
        p, pool, _ = self.poller(fails(2), rsvps(5), report_batch_item_failures=True, max_retries=2)
        self.drain(p)
        self.assertEqual(pool.calls, [[0, 1, 2, 3, 4], [2, 3, 4], [2, 3, 4]])
        [dead] = self.dead_letters()
        info = dead["DDBStreamBatchInfo"]
        self.assertEqual((info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]),
                         (str(FIRST_SEQ + 2), str(FIRST_SEQ + 4), 3))
        self.assertEqual((info["shardId"], info["streamArn"]), (SHARD, STREAM_ARN))
        self.assertEqual(dead["requestContext"]["approximateInvokeCount"], 3)
        self.assertEqual(dead["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual(dead["requestContext"]["functionArn"], pool.spec.arn)
        self.assertNotIn("functionError", dead["responseContext"])
        self.assertNotIn("SEALED-SECRET-VALUE", json.dumps(dead))
        log = "\n".join(self.lines)
        self.assertIn("retrying from 1100000000017454423011 (attempt 2 of 3)", log)
        self.assertIn("gave up 3 record(s) after 3 attempt(s) (RetryAttemptsExhausted): on-failure record sent to "
                      "SQS Dlq", log)

    def test_a_failed_batch_blocks_the_shard_until_it_succeeds(self):
        state = {"fail": 2}

        def flaky(records):
            if state["fail"]:
                state["fail"] -= 1
                return "timeout", b""
            return "ok", None

        p, pool, streams = self.poller(flaky, rsvps(2), batch_size=2)
        self.assertTrue(p.step(now=0))
        streams.append(*rsvps(2, 2))
        self.drain(p)
        self.assertEqual(pool.calls, [[0, 1], [0, 1], [0, 1], [2, 3]])
        self.assertEqual(self.dead_letters(), [])

    def test_bisection_on_function_errors(self):
        p, pool, _ = self.poller(errors_on(5), rsvps(8), bisect=True, max_retries=1)
        self.drain(p)
        self.assertEqual(pool.calls, [list(range(8)), [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [5], [6, 7]])
        [dead] = self.dead_letters()
        self.assertEqual((dead["DDBStreamBatchInfo"]["startSequenceNumber"], dead["DDBStreamBatchInfo"]["batchSize"]),
                         (str(FIRST_SEQ + 5), 1))
        self.assertEqual(dead["responseContext"]["functionError"], "Unhandled")
        self.assertEqual(dead["requestContext"]["approximateInvokeCount"], 2)
        self.assertIn("bisected into 4 + 4", "\n".join(self.lines))

    def test_without_a_destination_the_batch_is_skipped(self):
        p, pool, _ = self.poller(errors_on(0), rsvps(2), max_retries=0, on_failure=None)
        p.streams.append(*rsvps(1, 2))
        self.drain(p)
        self.assertEqual(pool.calls, [[0, 1, 2]])
        self.assertEqual(self.dead_letters(), [])
        self.assertIn("no on-failure destination: skipped", "\n".join(self.lines))

    def test_an_sns_destination(self):
        p, pool, _ = self.poller(errors_on(0), rsvps(1), max_retries=0, on_failure=("SNS", "Alarms", TOPIC_ARN))
        self.drain(p)
        [message] = self.sent("sns")
        self.assertEqual(message["TopicArn"], TOPIC_ARN)
        self.assertEqual(json.loads(message["Message"])["DDBStreamBatchInfo"]["batchSize"], 1)

    def test_latest_starts_after_what_is_there(self):
        p, pool, streams = self.poller(fails(), rsvps(3), starting_position="LATEST")
        self.assertEqual(streams.positions, ["LATEST"])
        streams.append(*rsvps(1, 3))
        self.drain(p)
        self.assertEqual(pool.calls, [[3]])

    def test_throttles_do_not_count_and_a_stopping_stack_settles_nothing(self):
        answers = [("throttled", b""), ("ok", None)]
        p, pool, _ = self.poller(lambda records: answers.pop(0), rsvps(1), max_retries=0)
        self.drain(p)
        self.assertEqual(pool.calls, [[0], [0]])
        self.assertEqual(self.dead_letters(), [])
        p2, pool2, _ = self.poller(errors_on(0), rsvps(1), max_retries=0)
        pool2.stopping = True
        p2.step(now=0)
        self.assertEqual(len(p2.shards[SHARD]), 1)
        self.assertEqual(self.dead_letters(), [])

    def test_quiet_logs_only_failures(self):
        p, pool, _ = self.poller(fails(), rsvps(2))
        p.quiet = True
        self.drain(p)
        self.assertEqual(len(pool.calls), 1)
        self.assertEqual(self.lines, [])


# --------------------------------------------------------------------------------------------------------------
# Settings read from the template

def template_with(events: dict, condition: str | None = None) -> dict:
    fn: dict[str, Any] = {"Type": "AWS::Serverless::Function", "Properties": {"Events": events}}
    if condition:
        fn["Condition"] = condition
    return {"Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
            "Resources": {"Table": {"Type": "AWS::DynamoDB::Table"}, "Dlq": {"Type": "AWS::SQS::Queue"},
                          "Worker": fn}}


STREAMS = {STREAM_ARN: "Table"}
QUEUES = {QUEUE_ARN: ("Dlq", QUEUE_URL)}


def sources_of(template: dict, functions: set[str] | None = None) -> list[StreamEventSource]:
    attrs = {"Table": {"Ref": "rising-local-Table", "Arn": "arn:table", "StreamArn": STREAM_ARN},
             "Dlq": {"Ref": QUEUE_URL, "Arn": QUEUE_ARN, "QueueUrl": QUEUE_URL}}
    resolver = Resolver(template, {}, REGION, lambda lid: attrs[lid])
    return stream_event_sources(template, resolver, STREAMS, QUEUES, {TOPIC_ARN: "Alarms"}, functions)


class StreamSourcesTest(unittest.TestCase):
    def setUp(self):
        self.lines = quiet_logs(self)

    def test_defaults(self):
        [s] = sources_of(template_with({"S": {"Type": "DynamoDB", "Properties": {
            "Stream": {"Fn::GetAtt": "Table.StreamArn"}, "StartingPosition": "LATEST"}}}))
        self.assertEqual((s.function, s.event, s.table, s.stream_arn, s.starting_position), ("Worker", "S", "Table",
                                                                                            STREAM_ARN, "LATEST"))
        self.assertEqual((s.batch_size, s.batching_window_s, s.report_batch_item_failures, s.bisect, s.max_retries,
                          s.max_record_age_s, s.filters, s.on_failure, s.enabled, s.max_concurrency),
                         (100, 0, False, False, -1, -1, [], None, True, 1))

    def test_settings(self):
        [s, off] = sources_of(template_with({
            "S": {"Type": "DynamoDB", "Properties": {
                "Stream": STREAM_ARN, "StartingPosition": "TRIM_HORIZON", "BatchSize": 7,
                "MaximumBatchingWindowInSeconds": 2, "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 3, "MaximumRecordAgeInSeconds": 600,
                "FilterCriteria": {"Filters": [{"Pattern": json.dumps(PUBLISHER_PATTERN)},
                                               {"Pattern": {"eventName": ["REMOVE"]}}]},
                "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": "Dlq.Arn"}}}}},
            "Off": {"Type": "DynamoDB", "Properties": {
                "Stream": STREAM_ARN, "StartingPosition": "LATEST", "Enabled": False,
                "DestinationConfig": {"OnFailure": {"Destination": TOPIC_ARN}}}},
            "Q": {"Type": "SQS", "Properties": {"Queue": QUEUE_ARN}}}))
        self.assertEqual((s.batch_size, s.batching_window_s, s.report_batch_item_failures, s.bisect, s.max_retries,
                          s.max_record_age_s), (7, 2, True, True, 3, 600))
        self.assertEqual(s.filters, [PUBLISHER_PATTERN, {"eventName": ["REMOVE"]}])
        self.assertEqual(s.on_failure, ("SQS", "Dlq", QUEUE_URL))
        self.assertEqual((off.enabled, off.on_failure), (False, ("SNS", "Alarms", TOPIC_ARN)))
        self.assertIn("from TRIM_HORIZON, batches of up to 7, window 2s, 2 filter(s), ReportBatchItemFailures, "
                      "bisect on error, 3 retries, records up to 600s old, on failure SQS Dlq", s.describe())

    def test_functions_not_started_have_none(self):
        template = template_with({"S": {"Type": "DynamoDB", "Properties": {"Stream": STREAM_ARN,
                                                                            "StartingPosition": "LATEST"}}})
        self.assertEqual(sources_of(template, functions=set()), [])

    def test_invalid_settings_are_clear_errors(self):
        base = {"Stream": STREAM_ARN, "StartingPosition": "LATEST"}
        cases = [
            ({"Stream": "arn:aws:dynamodb:eu-west-1:1:table/x/stream/y", "StartingPosition": "LATEST"},
             "not the stream of a table"),
            ({"Stream": STREAM_ARN}, "StartingPosition None"),
            ({**base, "StartingPosition": "AT_TIMESTAMP"}, "StartingPosition 'AT_TIMESTAMP'"),
            ({**base, "BatchSize": 10_001}, "BatchSize 10001 is outside"),
            ({**base, "MaximumRetryAttempts": -2}, "MaximumRetryAttempts -2 is outside"),
            ({**base, "MaximumRecordAgeInSeconds": 30}, "at least 60"),
            ({**base, "FunctionResponseTypes": ["Other"]}, "FunctionResponseTypes"),
            ({**base, "FilterCriteria": {"Filters": [{"Pattern": "{not json"}]}}, "not JSON"),
            ({**base, "FilterCriteria": {"Filters": [{"Pattern": '{"a": "x"}'}]}}, "must be in a list"),
            ({**base, "FilterCriteria": {"Filters": [{"Pattern": {"a": ["x"]}}] * 11}}, "at most 10"),
            ({**base, "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": "arn:aws:sqs:x:1:y"}}},
             "not a queue or topic of the template"),
        ]
        for props, message in cases:
            with self.subTest(props=props):
                with self.assertRaisesRegex(StackError, message):
                    sources_of(template_with({"S": {"Type": "DynamoDB", "Properties": props}}))

    def test_settings_not_emulated_are_logged(self):
        sources_of(template_with({"S": {"Type": "DynamoDB", "Properties": {
            "Stream": STREAM_ARN, "StartingPosition": "LATEST", "ParallelizationFactor": 4,
            "TumblingWindowInSeconds": 60}}}))
        log = "\n".join(self.lines)
        self.assertIn("ParallelizationFactor 4 is not emulated", log)
        self.assertIn("TumblingWindowInSeconds is not emulated", log)

    def test_the_real_template(self):
        template = stack.load_template(stack.DEFAULT_TEMPLATE)
        resources = template["Resources"]
        if not any((e or {}).get("Type") == "DynamoDB" for r in resources.values()
                   for e in ((r.get("Properties") or {}).get("Events") or {}).values()):
            self.skipTest("template.yaml has no DynamoDB event")
        created: dict[str, dict] = {}
        for lid, r in resources.items():
            if r["Type"] == "AWS::SQS::Queue":
                url = f"http://moto/123456789012/rising-local-{lid}"
                created[lid] = {"Ref": url, "QueueUrl": url, "Arn": f"arn:aws:sqs:{REGION}:123456789012:"
                                                                    f"rising-local-{lid}"}
            elif r["Type"] == "AWS::DynamoDB::Table" and (r.get("Properties") or {}).get("StreamSpecification"):
                created[lid] = {"Ref": f"rising-local-{lid}", "Arn": f"arn:table/{lid}",
                                "StreamArn": f"arn:aws:dynamodb:{REGION}:123456789012:table/{lid}/stream/x"}
        params = parameter_values(template, {}, json.loads(stack.PARAMETERS_FILE.read_text()), {})
        resolver = Resolver(template, params, REGION,
                            lambda lid: created.get(lid) or fallback_attrs(lid, resources[lid], REGION))
        queues = {a["Arn"]: (lid, a["QueueUrl"]) for lid, a in created.items() if "QueueUrl" in a}
        streams = {a["StreamArn"]: lid for lid, a in created.items() if "StreamArn" in a}
        sources = {s.function: s for s in stream_event_sources(template, resolver, streams, queues)}
        publisher = sources["EventsPublisherFunction"]
        self.assertEqual((publisher.table, publisher.starting_position, publisher.batch_size,
                          publisher.batching_window_s, publisher.report_batch_item_failures, publisher.bisect,
                          publisher.max_retries, publisher.enabled),
                         ("RisingTable", "TRIM_HORIZON", 100, 1, True, True, 20, True))
        self.assertEqual(publisher.on_failure, ("SQS", "EventsDeadLetterQueue",
                                                created["EventsDeadLetterQueue"]["QueueUrl"]))
        [pattern] = publisher.filters
        entities = pattern["dynamodb"]["NewImage"]["entity"]["S"]
        self.assertIn("rsvp", entities)
        rsvp, counter = record(1, "rsvp"), record(2, "counter")
        self.assertTrue(filters_match(publisher.filters, rsvp))
        self.assertFalse(filters_match(publisher.filters, counter))
        self.assertFalse(filters_match(publisher.filters, record(3, "rsvp", name="REMOVE")))

    def test_one_instance_per_stream_source(self):
        up = stack.Stack(stack.parse_args(["up", "--concurrency", "3"]))
        spec = FunctionSpec("Worker", "w", "w", "arn", 3, 128, "bootstrap", "Text", {}, [])
        [s] = sources_of(template_with({"S": {"Type": "DynamoDB", "Properties": {"Stream": STREAM_ARN,
                                                                                 "StartingPosition": "LATEST"}}}))
        self.assertEqual(up.function_concurrency(spec, [s]), 1)
        s.enabled = False
        self.assertEqual(up.function_concurrency(spec, [s]), 3)


# --------------------------------------------------------------------------------------------------------------
# End to end: `stack.py up` with this template, real moto, the fake function

TABLE = """\
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
"""

E2E_TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 5
Resources:
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub "${{AWS::StackName}}-events"
  BusQueue:
    Type: AWS::SQS::Queue
  BusRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {{source: [rising]}}
      Targets:
        - Id: queue
          Arn: !GetAtt BusQueue.Arn
  OkTable:
{TABLE}
  OkWorker:
    Type: AWS::Serverless::Function
    Metadata: {{BuildProperties: {{Binary: fake-function}}}}
    Properties:
      Environment:
        Variables:
          EVENT_BUS_NAME: !Ref Bus
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt OkTable.StreamArn
            StartingPosition: TRIM_HORIZON
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{{"dynamodb": {{"NewImage": {{"entity": {{"S": ["rsvp"]}}}}}}}}'
  FailTable:
{TABLE}
  FailDlq:
    Type: AWS::SQS::Queue
  FailWorker:
    Type: AWS::Serverless::Function
    Metadata: {{BuildProperties: {{Binary: fake-function}}}}
    Properties:
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt FailTable.StreamArn
            StartingPosition: TRIM_HORIZON
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
            BisectBatchOnFunctionError: true
            MaximumRetryAttempts: 1
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt FailDlq.Arn
  ErrorTable:
{TABLE}
  ErrorDlq:
    Type: AWS::SQS::Queue
  ErrorWorker:
    Type: AWS::Serverless::Function
    Metadata: {{BuildProperties: {{Binary: fake-function}}}}
    Properties:
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt ErrorTable.StreamArn
            StartingPosition: LATEST
            MaximumBatchingWindowInSeconds: 1
            BisectBatchOnFunctionError: true
            MaximumRetryAttempts: 0
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt ErrorDlq.Arn
  OffTable:
{TABLE}
  OffWorker:
    Type: AWS::Serverless::Function
    Metadata: {{BuildProperties: {{Binary: fake-function}}}}
    Properties:
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt OffTable.StreamArn
            StartingPosition: TRIM_HORIZON
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


class StreamSourceUpTest(unittest.TestCase):
    """One stack for the class: each scenario has its own table and function."""

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
        cls.ddb = moto_client(cls.env, "dynamodb")
        cls.sqs = moto_client(cls.env, "sqs")
        cls.secret = f"SEALED-{uuid.uuid4().hex}"

    @classmethod
    def tearDownClass(cls):
        cls.stack.kill()
        cls._tmp.cleanup()

    def item(self, pk: str, do: str = "ok", entity: str = "rsvp") -> dict:
        return {"pk": {"S": pk}, "entity": {"S": entity}, "do": {"S": do}, "sealed": {"S": self.secret},
                "raw": {"B": b"\x00\xff"}}

    def put_all(self, table: str, *items: dict) -> None:
        self.ddb.batch_write_item(RequestItems={self.env[f"{stack.upper_snake(table)}_NAME"]: [
            {"PutRequest": {"Item": item}} for item in items]})

    def deliveries(self, function: str) -> list[list[dict]]:
        path = self.tmp / "bin" / "stream-events.jsonl"
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [x["event"]["Records"] for x in lines if x["function"] == f"rising-local-{function}"]

    def dead_letters(self, queue: str, n: int, timeout: float = 20) -> list[dict]:
        found: dict[str, dict] = {}

        def check():
            for m in self.sqs.receive_message(QueueUrl=self.env[f"{stack.upper_snake(queue)}_URL"],
                                              MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                              VisibilityTimeout=60).get("Messages", []):
                found[m["MessageId"]] = m
            return len(found) >= n

        wait_until(check, timeout, f"{n} message(s) in {queue}", interval=0.3)
        return [json.loads(m["Body"]) for m in found.values()]

    def keys(self, batch: list[dict]) -> list[str]:
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in batch]

    # scenarios ------------------------------------------------------------------------------------------------
    def test_the_bus_and_its_rule(self):
        name = self.env["BUS_NAME"]
        self.assertEqual(name, "rising-local-events")
        events = moto_client(self.env, "events")
        self.assertEqual(events.describe_event_bus(Name=name)["Arn"], self.env["BUS_ARN"])
        self.assertEqual(self.env["EVENT_BUS_NAME"], name)
        events.put_events(Entries=[{"EventBusName": name, "Source": "rising", "DetailType": "rsvp.created",
                                    "Detail": json.dumps({"id": "r1"})}])
        [message] = self.dead_letters("BusQueue", 1)
        self.assertEqual((message["source"], message["detail-type"], message["detail"]),
                         ("rising", "rsvp.created", {"id": "r1"}))

    def test_changes_reach_the_function_filtered_and_shaped_like_lambdas(self):
        table = self.env["OK_TABLE_NAME"]
        self.ddb.put_item(TableName=table, Item=self.item("a"))
        self.ddb.put_item(TableName=table, Item=self.item("counter", entity="counter"))
        self.ddb.update_item(TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="SET n = :n",
                             ExpressionAttributeValues={":n": {"N": "2"}})
        self.ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": self.item("b")}}])
        self.ddb.delete_item(TableName=table, Key={"pk": {"S": "b"}})
        wait_until(lambda: sum(len(b) for b in self.deliveries("OkWorker")) >= 3, 10, "three records delivered")
        time.sleep(1.5)
        batches = self.deliveries("OkWorker")
        records = [r for b in batches for r in b]
        self.assertEqual([(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records],
                         [("INSERT", "a"), ("MODIFY", "a"), ("INSERT", "b")], "no counter, no REMOVE")
        self.assertEqual(len(batches), 1, "the batching window gathers them")
        now = time.time()
        seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        self.assertEqual(seqs, sorted(seqs))
        for r in records:
            self.assertEqual(list(r), ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion",
                                       "dynamodb", "eventSourceARN"])
            self.assertEqual((r["eventVersion"], r["eventSource"], r["awsRegion"], r["eventSourceARN"]),
                             ("1.1", "aws:dynamodb", self.env["AWS_REGION"], self.env["OK_TABLE_STREAM_ARN"]))
            self.assertRegex(r["eventID"], r"^[0-9a-f]{32}$")
            ddb = r["dynamodb"]
            self.assertIsInstance(ddb["ApproximateCreationDateTime"], int)
            self.assertLess(abs(ddb["ApproximateCreationDateTime"] - now), 30)
            self.assertEqual(ddb["StreamViewType"], "NEW_AND_OLD_IMAGES")
            self.assertEqual(ddb["NewImage"]["raw"], {"B": "AP8="})
            self.assertIsInstance(ddb["SizeBytes"], int)
        self.assertNotIn("OldImage", records[0]["dynamodb"])
        self.assertEqual(records[1]["dynamodb"]["OldImage"]["do"], {"S": "ok"})
        self.assertEqual(records[1]["dynamodb"]["NewImage"]["n"], {"N": "2"})
        logs = self.stack.logs()
        self.assertIn("[dynamodb OkTable] 3 record(s) ", logs)
        self.assertIn("-> fake-function: ok", logs)
        self.assertNotIn(self.secret, logs)

    def test_a_reported_failure_is_retried_then_given_up_to_the_on_failure_queue(self):
        self.put_all("FailTable", self.item("f1"), self.item("f2", do="fail"), self.item("f3"))
        [dead] = self.dead_letters("FailDlq", 1)
        batches = self.deliveries("FailWorker")
        self.assertEqual([self.keys(b) for b in batches], [["f1", "f2", "f3"], ["f2", "f3"]])
        info = dead["DDBStreamBatchInfo"]
        seqs = [r["dynamodb"]["SequenceNumber"] for r in batches[0]]
        self.assertEqual((info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]),
                         (seqs[1], seqs[2], 2))
        self.assertEqual(info["streamArn"], self.env["FAIL_TABLE_STREAM_ARN"])
        self.assertEqual(dead["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual(dead["requestContext"]["approximateInvokeCount"], 2)
        self.assertEqual(dead["requestContext"]["functionArn"], "arn:aws:lambda:us-east-1:123456789012:function:"
                                                                 "rising-local-FailWorker")
        self.assertNotIn(self.secret, json.dumps(dead))
        self.put_all("FailTable", self.item("f4"))
        wait_until(lambda: len(self.deliveries("FailWorker")) == 3, 10, "the shard moved on")
        self.assertEqual(self.keys(self.deliveries("FailWorker")[2]), ["f4"])
        self.assertNotIn(self.secret, self.stack.logs())

    def test_function_errors_bisect_the_batch_down_to_the_bad_record(self):
        self.put_all("ErrorTable", self.item("e1"), self.item("e2"), self.item("e3", do="error"), self.item("e4"))
        [dead] = self.dead_letters("ErrorDlq", 1)
        wait_until(lambda: len(self.deliveries("ErrorWorker")) == 5, 10, "five invocations")
        self.assertEqual([self.keys(b) for b in self.deliveries("ErrorWorker")],
                         [["e1", "e2", "e3", "e4"], ["e1", "e2"], ["e3", "e4"], ["e3"], ["e4"]])
        self.assertEqual(dead["DDBStreamBatchInfo"]["batchSize"], 1)
        self.assertEqual(dead["responseContext"]["functionError"], "Unhandled")
        self.assertIn("bisected into 2 + 2", self.stack.logs())

    def test_a_disabled_source_does_not_read(self):
        self.put_all("OffTable", self.item("o1"))
        self.assertIn("DynamoDB event OffWorker.Changes: OffTable stream -> fake-function is disabled",
                      self.stack.logs())
        time.sleep(1.5)
        self.assertEqual(self.deliveries("OffWorker"), [])


if __name__ == "__main__":
    unittest.main()
