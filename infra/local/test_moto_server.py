"""The stack's moto (moto_server.py) answers as moto as installed does, only faster where it says so."""
from __future__ import annotations

import json
import subprocess
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Writes items of every attribute type to a table with a stream, changes and deletes some, and prints the stream's
# records as boto3 reads them, two `GetRecords` pages and the empty one after.
STREAM_RECORDS = """
import datetime, json

with mock_aws():
    db = boto3.client("dynamodb", region_name="us-east-1")
    table = db.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]
    item = {"pk": {"S": "P#1"}, "sk": {"S": "A"}, "n": {"N": "12.50"}, "b": {"B": b"\\x00\\xffsealed"},
            "t": {"BOOL": True}, "z": {"NULL": True}, "l": {"L": [{"S": "x"}, {"N": "-3"}]},
            "m": {"M": {"inner": {"S": "é ü \\u2019"}, "deep": {"M": {"k": {"N": "1e3"}}}}},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"\\x01", b"\\x02"]}}
    db.put_item(TableName="t", Item=item)
    db.put_item(TableName="t", Item={"pk": {"S": "P#2"}, "sk": {"S": "B"}, "entity": {"S": "rsvp"}})
    db.update_item(TableName="t", Key={"pk": {"S": "P#1"}, "sk": {"S": "A"}},
                   UpdateExpression="SET n = n + :one, s = :s", ExpressionAttributeValues={":one": {"N": "1"}, ":s": {"S": "new"}})
    db.transact_write_items(TransactItems=[
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "P#3"}, "sk": {"S": "C"}}}},
        {"Delete": {"TableName": "t", "Key": {"pk": {"S": "P#2"}, "sk": {"S": "B"}}}}])
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    shard = streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"]["Shards"][0]
    it = streams.get_shard_iterator(StreamArn=table["LatestStreamArn"], ShardId=shard["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    pages = []
    for limit in (3, 100, 100):
        page = streams.get_records(ShardIterator=it, Limit=limit)
        it = page["NextShardIterator"]
        pages.append(page["Records"])
    now = datetime.datetime.now(datetime.timezone.utc)

    def plain(value):
        if isinstance(value, datetime.datetime):
            # boto3 parses the epoch seconds into an aware datetime: when, relative to now
            return {"seconds_ago_under_60": 0 <= (now - value).total_seconds() < 60, "aware": value.tzinfo is not None}
        if isinstance(value, bytes):
            return {"bytes": value.hex()}
        raise TypeError(type(value))

    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    answered_by = DynamoDBStreamsHandler.get_records.__module__
    print(json.dumps({"answered_by": answered_by, "pages": pages}, default=plain, sort_keys=True))
"""


# Reads items of every attribute type every way that answers with items, and prints the answers as boto3 reads them.
ITEM_READS = """
import json

with mock_aws():
    db = boto3.client("dynamodb", region_name="us-east-1")
    db.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"},
                              {"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "byg", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    for i in range(5):
        db.put_item(TableName="t", Item={
            "pk": {"S": "P#1"}, "sk": {"S": f"S#{i}"}, "g": {"S": "G"}, "n": {"N": str(i * 1.5)},
            "b": {"B": bytes([i, 255]) + b"sealed"}, "t": {"BOOL": i % 2 == 0}, "z": {"NULL": True},
            "l": {"L": [{"S": "x"}, {"N": "-3"}, {"M": {"k": {"B": b"\\x00"}}}]},
            "m": {"M": {"inner": {"S": "é ü \\u2019 quote\\" newline\\n"}}}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]},
            "bs": {"BS": [b"\\x01", b"\\x02"]}})
    key = lambda i: {"pk": {"S": "P#1"}, "sk": {"S": f"S#{i}"}}
    answers = {
        "get": db.get_item(TableName="t", Key=key(1)),
        "get_projected": db.get_item(TableName="t", Key=key(2), ProjectionExpression="b, #m.inner",
                                     ExpressionAttributeNames={"#m": "m"}, ConsistentRead=True),
        "get_missing": db.get_item(TableName="t", Key=key(9)),
        "batch": db.batch_get_item(RequestItems={"t": {"Keys": [key(0), key(3), key(9)]}},
                                   ReturnConsumedCapacity="TOTAL"),
        "query": db.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "P#1"}},
                          Limit=2, ScanIndexForward=False),
        "query_count": db.query(TableName="t", KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                                ExpressionAttributeValues={":p": {"S": "P#1"}, ":s": {"S": "S#"}}, Select="COUNT"),
        "query_index": db.query(TableName="t", IndexName="byg", KeyConditionExpression="g = :g",
                                FilterExpression="t = :t", ExpressionAttributeValues={":g": {"S": "G"}, ":t": {"BOOL": True}}),
        "scan": db.scan(TableName="t", Limit=3),
        "scan_empty": db.scan(TableName="t", FilterExpression="n = :n", ExpressionAttributeValues={":n": {"N": "99"}}),
    }
    try:
        db.get_item(TableName="missing", Key=key(1))
    except db.exceptions.ResourceNotFoundException as e:
        answers["error"] = {"code": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    for a in answers.values():
        meta = a.pop("ResponseMetadata", None)
        if meta:
            a["status"] = meta["HTTPStatusCode"]
            a["crc32"] = "x-amz-crc32" in meta["HTTPHeaders"]
    from moto.dynamodb.responses import DynamoHandler
    print(json.dumps({"answered_by": DynamoHandler.serialized.__module__, "answers": answers},
                     default=lambda v: {"bytes": v.hex()}, sort_keys=True))
"""


# A transaction puts P#A and then fails its condition on P#B (slowly: 0.5 s). The stream is read in that time from
# an iterator taken before, then a put of P#C, then the stream read on with the first answer's next iterator, and
# once more from a new iterator at the start. Prints the keys each read returned.
CANCELLED_TRANSACTION = """
import json, threading, time
from moto.dynamodb.models import DynamoDBBackend

get_item = DynamoDBBackend.get_item
checking = threading.Event()


def slowly(self, table_name, keys, *args, **kwargs):
    if keys["pk"] == {"S": "P#B"}:
        checking.set()
        time.sleep(0.5)
    return get_item(self, table_name, keys, *args, **kwargs)


DynamoDBBackend.get_item = slowly
with mock_aws():
    db = boto3.client("dynamodb", region_name="us-east-1")
    arn = db.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def cancelled():
        try:
            db.transact_write_items(TransactItems=[
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "P#A"}}}},
                {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "P#B"}},
                                    "ConditionExpression": "attribute_exists(pk)"}}])
        except db.exceptions.TransactionCanceledException:
            pass

    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    transaction = threading.Thread(target=cancelled)
    transaction.start()
    checking.wait(10)
    page = streams.get_records(ShardIterator=it)
    transaction.join()
    db.put_item(TableName="t", Item={"pk": {"S": "P#C"}})
    during, after = page["Records"], streams.get_records(ShardIterator=page["NextShardIterator"])["Records"]
    resumed = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    written = streams.get_records(ShardIterator=resumed)["Records"]
    keys = lambda records: [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]
    print(json.dumps({"during": keys(during), "after": keys(after), "from_a_new_iterator": keys(written)}))
"""


# Transactions on a table with a range key and one without, cancelled in each way moto cancels them and then one
# that succeeds; prints both tables after each, and the stream's records.
TRANSACTIONS = """
import json

with mock_aws():
    db = boto3.client("dynamodb", region_name="us-east-1")
    stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    arn = db.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST", StreamSpecification=stream,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )["TableDescription"]["LatestStreamArn"]
    db.create_table(TableName="h", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}])
    k = lambda pk, sk: {"pk": {"S": pk}, "sk": {"S": sk}}
    db.put_item(TableName="t", Item={**k("P#1", "A"), "n": {"N": "1"}, "l": {"L": [{"S": "x"}]}})
    db.put_item(TableName="t", Item={**k("P#1", "B"), "n": {"N": "2"}})
    db.put_item(TableName="h", Item={"id": {"N": "7"}, "s": {"S": "kept"}})
    writes = [
        {"Update": {"TableName": "t", "Key": k("P#1", "A"), "UpdateExpression": "SET n = n + :one, l = list_append(l, :l)",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":l": {"L": [{"S": "y"}]}}}},
        {"Delete": {"TableName": "t", "Key": k("P#1", "B")}},
        {"Put": {"TableName": "t", "Item": {**k("P#2", "C"), "n": {"N": "3"}}}},
        {"Put": {"TableName": "h", "Item": {"id": {"N": "7"}, "s": {"S": "replaced"}}}},
        {"Put": {"TableName": "h", "Item": {"id": {"N": "8"}, "s": {"S": "new"}}}},
    ]
    scan = lambda name: sorted(db.scan(TableName=name)["Items"], key=lambda i: json.dumps(i, sort_keys=True))
    seen = {"before": {"t": scan("t"), "h": scan("h")}}
    cancellations = {
        "condition": [{"ConditionCheck": {"TableName": "h", "Key": {"id": {"N": "9"}},
                                          "ConditionExpression": "attribute_exists(id)"}}],
        "update_error": [{"Update": {"TableName": "h", "Key": {"id": {"N": "7"}}, "UpdateExpression": "SET s = s + :one",
                                     "ExpressionAttributeValues": {":one": {"N": "1"}}}}],
        "same_item_twice": [{"Delete": {"TableName": "h", "Key": {"id": {"N": "8"}}}}],
    }
    for name, last in cancellations.items():
        try:
            db.transact_write_items(TransactItems=writes + last)
            seen[name] = "not cancelled"
        except db.exceptions.ClientError as e:
            seen[name] = {"error": e.response["Error"]["Code"], "t": scan("t"), "h": scan("h")}
    db.transact_write_items(TransactItems=writes)
    seen["committed"] = {"t": scan("t"), "h": scan("h")}
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    seen["stream"] = [(r["eventName"], r["dynamodb"]["SequenceNumber"], r["dynamodb"]["Keys"])
                      for r in streams.get_records(ShardIterator=it)["Records"]]
    print(json.dumps(seen, sort_keys=True))
"""


# Update and condition expressions, each text used again with other values, on new and existing items, with every
# kind of clause and function and the errors moto raises for them; prints each answer, the table, and (with the
# stack's moto) how many texts its caches hold.
EXPRESSIONS = """
import json
patched = "moto_server" in sys.modules

with mock_aws():
    db = boto3.client("dynamodb", region_name="us-east-1")
    db.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )
    k = lambda pk: {"pk": {"S": pk}, "sk": {"S": "OUTBOX"}}
    n = lambda v: {"N": str(v)}
    claim = ("SET updated_at = :now, attempts = :next, lease_until = :lease, #status = :to, "
             "l = list_append(if_not_exists(l, :empty), :l) ADD tags :tag, c :one")
    sent = "SET provider_id = :pid, #m.#seg = :seg, #status = :to REMOVE lease_until DELETE tags :tag"
    condition = "(attribute_not_exists(pk) OR #status = :from) AND NOT begins_with(pk, :x)"
    calls = []
    for i, pk in enumerate(["P#1", "P#2", "P#1", "P#3", "P#1"]):
        calls.append(dict(Key=k(pk), UpdateExpression=claim, ConditionExpression=condition,
                          ExpressionAttributeNames={"#status": "status"},
                          ExpressionAttributeValues={":now": {"S": f"t{i}"}, ":next": n(i), ":lease": n(60 + i),
                                                     ":to": {"S": "sending"}, ":from": {"S": "pending"},
                                                     ":empty": {"L": []}, ":l": {"L": [n(i)]}, ":one": n(1),
                                                     ":tag": {"SS": [f"a{i}", "b"]}, ":x": {"S": "Z"}}))
        calls.append(dict(Key=k(pk), UpdateExpression=sent, ConditionExpression="#status = :to AND size(#status) < :big",
                          ExpressionAttributeNames={"#status": "status", "#m": "meta", "#seg": "segments"},
                          ExpressionAttributeValues={":pid": {"S": f"SM{i}"}, ":seg": n(i % 2 + 1),
                                                     ":to": {"S": "sending"}, ":tag": {"SS": ["b"]}, ":big": n(9)}))
        calls.append(dict(Key=k(pk), UpdateExpression="SET #m = if_not_exists(#m, :m)",
                          ExpressionAttributeNames={"#m": "meta"}, ExpressionAttributeValues={":m": {"M": {}}}))
        calls.append(dict(Key=k(pk), UpdateExpression="SET #status = :from", ExpressionAttributeNames={"#status": "status"},
                          ExpressionAttributeValues={":from": {"S": "pending"}}))
    stale = dict(calls[4], ExpressionAttributeValues={**calls[4]["ExpressionAttributeValues"], ":from": {"S": "sent"}})
    calls.append(stale)  # P#2 is pending: its condition fails
    bad = [
        dict(Key=k("P#1"), UpdateExpression="SET = :v", ExpressionAttributeValues={":v": n(1)}),
        dict(Key=k("P#1"), UpdateExpression="SET a = :v", ConditionExpression="a = = :v OR $",
             ExpressionAttributeValues={":v": n(1)}),
        dict(Key=k("P#1"), UpdateExpression="SET a = :v, a = :v", ExpressionAttributeValues={":v": n(1)}),
        dict(Key=k("P#1"), UpdateExpression="SET a = :missing", ExpressionAttributeValues={":v": n(1)}),
        dict(Key=k("P#1"), UpdateExpression="SET pk = :v", ExpressionAttributeValues={":v": {"S": "x"}}),
        dict(Key=k("P#1"), UpdateExpression="SET provider_id = provider_id + :v", ExpressionAttributeValues={":v": n(1)}),
    ]
    answers = []
    for call in calls + bad + bad:
        try:
            answers.append(db.update_item(TableName="t", ReturnValues="ALL_NEW", **call)["Attributes"])
        except db.exceptions.ClientError as e:
            answers.append({"error": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]})
        except ValueError as e:  # how moto fails on a condition it cannot parse, in-process
            answers.append({"error": type(e).__name__, "message": str(e)})
    try:
        db.transact_write_items(TransactItems=[
            {"Update": {"TableName": "t", **{key: calls[1][key] for key in calls[1] if key != "ConditionExpression"},
                        "ConditionExpression": "attribute_exists(pk)"}},
            {"Put": {"TableName": "t", "Item": {**k("P#9"), "n": n(1)}, "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
        answers.append("committed")
    except db.exceptions.ClientError as e:
        answers.append({"error": e.response["Error"]["Code"]})
    items = sorted(db.scan(TableName="t")["Items"], key=lambda i: i["pk"]["S"])
    cached = [len(moto_server._update_asts), len(moto_server._condition_tokens)] if patched else None
    print(json.dumps({"answers": answers, "items": items, "cached": cached}, sort_keys=True))
"""

# What each script above starts with: moto as installed, or with `--as-the-stack-runs-it` the stack's moto.
PREAMBLE = """
import sys
if "--as-the-stack-runs-it" in sys.argv:
    sys.path.insert(0, sys.argv[1])
    import moto_server  # noqa: F401  the stack's moto patches
import boto3
from moto import mock_aws
"""


def run_script(script: str, *args: str):
    """Runs one of the scripts above in a new interpreter, after the preamble, and reads the JSON it prints."""
    return json.loads(subprocess.run([sys.executable, "-c", PREAMBLE + script, str(HERE), *args],
                                     capture_output=True, text=True, timeout=120, check=True).stdout)


def expressions(*args: str) -> dict:
    return run_script(EXPRESSIONS, *args)


def transactions(*args: str) -> dict:
    return run_script(TRANSACTIONS, *args)


def stream_reads_around_a_cancelled_transaction(*args: str) -> dict:
    return run_script(CANCELLED_TRANSACTION, *args)


def item_reads(*args: str) -> tuple[str, dict]:
    out = run_script(ITEM_READS, *args)
    return out["answered_by"], out["answers"]


def stream_pages(*args: str) -> tuple[str, list]:
    out = run_script(STREAM_RECORDS, *args)
    return out["answered_by"], out["pages"]


class GetRecordsTest(unittest.TestCase):
    def test_stream_records_read_the_same_as_from_moto_as_installed(self):
        (by_installed, installed), (by_stack, stack) = stream_pages(), stream_pages("--as-the-stack-runs-it")
        self.assertEqual((by_installed, by_stack), ("moto.dynamodbstreams.responses", "moto_server"))
        self.assertEqual([len(p) for p in stack], [3, 2, 0], "a page of 3, the rest, then none")
        self.assertEqual([r["eventName"] for p in stack for r in p], ["INSERT", "INSERT", "MODIFY", "INSERT", "REMOVE"])
        self.assertEqual([len(p) for p in installed], [3, 2, 0])
        for a, b in zip([r for p in installed for r in p], [r for p in stack for r in p]):
            self.assertRegex(b.pop("eventID"), r"^[0-9a-f]{32}$")
            a.pop("eventID")
            # moto measures a record by its JSON when it is written, creation time included: a digit may differ
            self.assertAlmostEqual(a["dynamodb"].pop("SizeBytes"), b["dynamodb"].pop("SizeBytes"), delta=8)
            self.assertEqual(a, b)
        first = stack[0][0]["dynamodb"]
        self.assertEqual(first["NewImage"]["b"], {"B": {"bytes": b"\x00\xffsealed".hex()}})
        self.assertEqual(first["ApproximateCreationDateTime"], {"seconds_ago_under_60": True, "aware": True})


class CancelledTransactionTest(unittest.TestCase):
    """A stream shows committed writes only: a transaction moto cancels and rolls back is never read."""

    def test_the_stacks_moto_shows_nothing_of_a_cancelled_transaction_and_the_next_write_once(self):
        self.assertEqual(stream_reads_around_a_cancelled_transaction("--as-the-stack-runs-it"),
                         {"during": [], "after": ["P#C"], "from_a_new_iterator": ["P#C"]})

    def test_moto_as_installed_would_show_the_cancelled_put_and_then_never_the_next_write(self):
        # its rollback restores a copy of the table, stream included: the iterator's chain stays on the old stream
        self.assertEqual(stream_reads_around_a_cancelled_transaction(),
                         {"during": ["P#A"], "after": [], "from_a_new_iterator": ["P#C"]})

class TransactionsTest(unittest.TestCase):
    def test_cancelled_and_committed_transactions_leave_the_tables_as_moto_as_installed_does(self):
        installed, stack = transactions(), transactions("--as-the-stack-runs-it")
        self.assertEqual(stack, installed)
        for cancelled in ("condition", "update_error", "same_item_twice"):
            self.assertEqual({k: v for k, v in stack[cancelled].items() if k != "error"}, stack["before"], cancelled)
        self.assertEqual([e for e, _, _ in stack["stream"]], ["INSERT", "INSERT", "MODIFY", "REMOVE", "INSERT"])
        self.assertEqual(len({s for _, s, _ in stack["stream"]}), 5, "every record its own sequence number")
        self.assertNotEqual(stack["committed"], stack["before"])

class ExpressionsTest(unittest.TestCase):
    def test_update_and_condition_expressions_answer_as_moto_as_installed_does_when_parsed_once(self):
        installed, stack = expressions(), expressions("--as-the-stack-runs-it")
        self.maxDiff = None
        self.assertEqual(stack["answers"], installed["answers"])
        self.assertEqual(stack["items"], installed["items"])
        answers = stack["answers"]
        self.assertEqual([i for i, a in enumerate(answers[:21]) if "error" in a], [1, 5, 13, 20])
        self.assertEqual(answers[20]["error"], "ConditionalCheckFailedException")
        self.assertTrue(all("error" in a for a in answers[21:33]), "each bad call fails, the second time too")
        self.assertEqual(answers[21:27], answers[27:33])
        self.assertEqual(answers[-1], "committed")
        self.assertEqual(stack["items"][0]["l"], {"L": [{"N": "0"}, {"N": "2"}, {"N": "4"}]}, "list_append on P#1 thrice")
        self.assertGreaterEqual(stack["cached"][0], 5)
        self.assertGreaterEqual(stack["cached"][1], 3)


class ItemReadsTest(unittest.TestCase):
    def test_get_batch_get_query_and_scan_answer_as_moto_as_installed_does(self):
        (by_installed, installed), (by_stack, stack) = item_reads(), item_reads("--as-the-stack-runs-it")
        self.assertEqual((by_installed, by_stack), ("moto.core.responses", "moto_server"))
        self.maxDiff = None
        self.assertEqual(installed, stack)
        self.assertEqual(stack["get"]["Item"]["b"], {"B": {"bytes": (bytes([1, 255]) + b"sealed").hex()}})
        self.assertEqual(len(stack["batch"]["Responses"]["t"]), 2)
        self.assertIn("LastEvaluatedKey", stack["query"])
        self.assertNotIn("Item", stack["get_missing"])
        self.assertEqual(stack["error"], {"code": "ResourceNotFoundException", "status": 400})
        self.assertTrue(all(a.get("crc32", True) for a in stack.values()), "DynamoDB answers carry their CRC32")


class RequestLogTest(unittest.TestCase):
    def served_lines(self, *flags: str) -> str:
        import socket
        import time
        import urllib.request

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, str(HERE / "moto_server.py"), "-H", "127.0.0.1", "-p", str(port),
                                 *flags], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.1)
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=5).read()
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
        return out

    def test_no_request_log_leaves_out_only_the_line_per_request(self):
        self.assertIn("GET /moto-api/data.json HTTP/1.1", self.served_lines())
        quiet = self.served_lines("--no-request-log")
        self.assertNotIn("/moto-api/", quiet)
        self.assertIn("Running on http://127.0.0.1", quiet, "the server's other lines stay")


class ServiceLookupTest(unittest.TestCase):
    def test_moto_modules_are_listed_once_and_alike(self):
        script = (
            "import sys, os; sys.path.insert(0, sys.argv[1]);"
            "from moto import backends; listed = list(backends.list_of_moto_modules());"
            "import moto_server;"
            "os.listdir = None;"  # listing the directory again would fail
            "print(listed == list(backends.list_of_moto_modules()), 'dynamodb' in backends.list_of_moto_modules())")
        out = subprocess.run([sys.executable, "-c", script, str(HERE)], capture_output=True, text=True, timeout=120,
                             check=True).stdout.split()
        self.assertEqual(out, ["True", "True"])


if __name__ == "__main__":
    unittest.main()
