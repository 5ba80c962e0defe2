"""Stand-ins for the Rust binaries, used by the tests of stack.py: a "function" that speaks the Lambda Runtime
API like a real one, and a Twilio emulator that only answers its health check.

    write_fakes(directory)  ->  directory/{sms-inbound,sms-status,send-worker,...,fake-function,twilio-emulator}

The fake function chooses what to do from the `do` query parameter (or the path's last segment):
echo (default: 201 with the event, the runtime headers and its environment), plain (a body without
statusCode), error (an invocation error), crash (exits), sleep (sleeps `s` seconds, then echoes),
b64 (a base64 body). FAKE_INIT_ERROR=1 in its environment makes it report an init error and exit.

Given an SQS event (records with eventSource aws:sqs) it first appends one JSON line to `sqs-events.jsonl` next to
itself ({"function", "pid", "started", "event"}), then reads each record's body as JSON and its `do`: fail (the
record's messageId goes into batchItemFailures), bad-id (an itemIdentifier that is not in the batch), sleep
(sleeps `s` seconds first), error (the whole invocation fails), crash (exits); anything else succeeds. It answers
{"batchItemFailures": [...]}.

Given a DynamoDB stream event (records with eventSource aws:dynamodb) it appends one JSON line to
`stream-events.jsonl` the same way, then reads each record's NewImage attribute `do` (a string): fail (the record's
SequenceNumber goes into batchItemFailures), bad-id (an itemIdentifier that is not in the batch), sleep (sleeps the
number attribute `s` seconds first), error (the whole invocation fails), crash (exits); anything else, and a record
without NewImage, succeeds. It answers {"batchItemFailures": [...]}.

Given an SNS event (a record with EventSource aws:sns) it appends one JSON line to `sns-events.jsonl` the same way,
then reads the message as JSON and its `do`: error (the invocation fails), crash (exits); anything else succeeds.

Given any other event that is not an HTTP API request (no rawPath, requestContext or Records: EventBridge's scheduled
event, a schedule's Input, what a test sends through the Invoke API) it appends one JSON line to
`direct-events.jsonl` the same way, then reads the event's `do`: error (the invocation fails), crash (exits), sleep
(sleeps `s` seconds first); anything else succeeds with {"received": <the event>, "pid": <its pid>}.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

FAKE_FUNCTION = r'''
import json, os, sys, time, urllib.request

base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def post(path, obj, headers=None):
    req = urllib.request.Request(base + path, data=json.dumps(obj).encode(), method="POST", headers=headers or {})
    urllib.request.urlopen(req).read()


if os.environ.get("FAKE_INIT_ERROR") or os.path.exists(os.path.join(os.path.dirname(__file__), "init-error")):
    post("/init/error", {"errorType": "Runtime.Fake", "errorMessage": "fake init failure"},
         {"Lambda-Runtime-Function-Error-Type": "Runtime.Fake"})
    sys.exit(1)
print("fake function ready", flush=True)
while True:
    with urllib.request.urlopen(base + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        runtime = {k: r.headers[k] for k in ("Lambda-Runtime-Aws-Request-Id", "Lambda-Runtime-Deadline-Ms",
                                             "Lambda-Runtime-Invoked-Function-Arn", "Lambda-Runtime-Trace-Id")}
        event = json.loads(r.read())
    records = event.get("Records") if isinstance(event, dict) else None

    def record_event(file_name):
        line = json.dumps({"function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"), "pid": os.getpid(),
                           "started": time.time(), "event": event}) + "\n"
        fd = os.open(os.path.join(os.path.dirname(os.path.abspath(__file__)), file_name),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, line.encode())
        os.close(fd)

    if records and records[0].get("EventSource") == "aws:sns":
        record_event("sns-events.jsonl")
        try:
            order = json.loads(records[0]["Sns"]["Message"])
        except ValueError:
            order = {}
        do = order.get("do") if isinstance(order, dict) else None
        if do == "crash":
            os._exit(3)
        if do == "error":
            post(f"/invocation/{rid}/error", {"errorType": "FakeError", "errorMessage": "fake sns failure"},
                 {"Lambda-Runtime-Function-Error-Type": "FakeError"})
            continue
        post(f"/invocation/{rid}/response", None)
        continue
    if records and records[0].get("eventSource") == "aws:dynamodb":
        record_event("stream-events.jsonl")
        failures, actions, pause = [], set(), 0.0
        for record in records:
            do = ((record.get("dynamodb", {}).get("NewImage") or {}).get("do") or {}).get("S")
            if do == "fail":
                failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            elif do == "bad-id":
                failures.append({"itemIdentifier": "not-a-record-of-this-batch"})
            elif do == "sleep":
                pause = max(pause, float(record["dynamodb"]["NewImage"].get("s", {}).get("N", "1")))
            elif do in ("error", "crash"):
                actions.add(do)
        time.sleep(pause)
        if "crash" in actions:
            os._exit(3)
        if "error" in actions:
            post(f"/invocation/{rid}/error", {"errorType": "FakeError", "errorMessage": "fake stream failure"},
                 {"Lambda-Runtime-Function-Error-Type": "FakeError"})
            continue
        post(f"/invocation/{rid}/response", {"batchItemFailures": failures})
        continue
    if records and records[0].get("eventSource") == "aws:sqs":
        record_event("sqs-events.jsonl")
        failures, actions, pause = [], set(), 0.0
        for record in records:
            try:
                order = json.loads(record["body"])
            except ValueError:
                order = {}
            do = order.get("do") if isinstance(order, dict) else None
            if do == "fail":
                failures.append({"itemIdentifier": record["messageId"]})
            elif do == "bad-id":
                failures.append({"itemIdentifier": "not-a-message-of-this-batch"})
            elif do == "sleep":
                pause = max(pause, float(order.get("s", 1)))
            elif do in ("error", "crash"):
                actions.add(do)
        time.sleep(pause)
        if "crash" in actions:
            os._exit(3)
        if "error" in actions:
            post(f"/invocation/{rid}/error", {"errorType": "FakeError", "errorMessage": "fake batch failure"},
                 {"Lambda-Runtime-Function-Error-Type": "FakeError"})
            continue
        post(f"/invocation/{rid}/response", {"batchItemFailures": failures})
        continue
    if not isinstance(event, dict) or (not records and "rawPath" not in event and "requestContext" not in event):
        record_event("direct-events.jsonl")
        do = event.get("do") if isinstance(event, dict) else None
        if do == "sleep":
            time.sleep(float(event.get("s", 1)))
        if do == "crash":
            os._exit(3)
        if do == "error":
            post(f"/invocation/{rid}/error", {"errorType": "FakeError", "errorMessage": "fake direct failure"},
                 {"Lambda-Runtime-Function-Error-Type": "FakeError"})
            continue
        post(f"/invocation/{rid}/response", {"received": event, "pid": os.getpid()})
        continue
    query = event.get("queryStringParameters") or {}
    action = query.get("do") or event.get("rawPath", "/").rstrip("/").rsplit("/", 1)[-1]
    if action == "sleep":
        time.sleep(float(query.get("s", "30")))
    if action == "crash":
        os._exit(3)
    if action == "error":
        post(f"/invocation/{rid}/error", {"errorType": "FakeError", "errorMessage": "fake failure"},
             {"Lambda-Runtime-Function-Error-Type": "FakeError"})
        continue
    if action == "plain":
        post(f"/invocation/{rid}/response", {"hello": "world"})
        continue
    if action == "b64":
        post(f"/invocation/{rid}/response", {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                                            "body": "AAEC/w==", "isBase64Encoded": True})
        continue
    body = json.dumps({"event": event, "runtime": runtime, "env": dict(os.environ), "pid": os.getpid()})
    post(f"/invocation/{rid}/response", {"statusCode": 201, "headers": {"content-type": "application/json"},
                                        "cookies": ["a=1; Path=/", "b=2"], "body": body})
'''

FAKE_EMULATOR = r'''
import argparse, json
from http.server import BaseHTTPRequestHandler, HTTPServer

parser = argparse.ArgumentParser()
for flag in ("--listen", "--account-sid", "--auth-token", "--phone-number", "--sms-webhook-url"):
    parser.add_argument(flag, required=True)
args, _ = parser.parse_known_args()  # test-number flags (--fail-numbers ...) do not matter to the fake
host, port = args.listen.rsplit(":", 1)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        ok = self.path == "/_emulator/health"
        body = json.dumps({"status": "ok", "args": vars(args)}).encode() if ok else b"{}"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = HTTPServer((host, int(port)), Handler)
print(f"twilio-emulator listening on http://{args.listen}", flush=True)
server.serve_forever()
'''


def _write(path: Path, source: str) -> None:
    path.write_text(f"#!{sys.executable}\n{source}")
    path.chmod(0o755)


KNOWN_FUNCTIONS = ("sms-inbound", "sms-status", "send-worker")


def template_function_binaries() -> tuple[str, ...]:
    """The binaries of template.yaml's functions (each gets a fake), with the known ones when it cannot be read."""
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import stack

        resources = stack.load_template(stack.DEFAULT_TEMPLATE).get("Resources") or {}
        found = [stack.function_binary_name(lid, r) for lid, r in resources.items()
                 if r.get("Type") == "AWS::Serverless::Function"]
    except Exception:
        found = []
    return tuple(dict.fromkeys([*KNOWN_FUNCTIONS, *found]))


def write_fakes(directory: Path | str, function_names: tuple[str, ...] | None = None) -> Path:
    """Fake functions (by default one per function of template.yaml, and `fake-function`) and a fake emulator."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if function_names is None:
        function_names = (*template_function_binaries(), "fake-function")
    for name in function_names:
        _write(directory / name, FAKE_FUNCTION)
    _write(directory / "twilio-emulator", FAKE_EMULATOR)
    return directory


if __name__ == "__main__":
    print(write_fakes(sys.argv[1] if len(sys.argv) > 1 else os.getcwd()))
