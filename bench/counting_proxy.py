"""A counting HTTP proxy in front of moto: every AWS API request rising (or Lambda's SQS poller, or the producer)
makes goes through it and is counted by origin, service and operation, with the DynamoDB items each request reads
or writes (for request units). One listening port per origin, so the origin of a request is the port it came in
on: no guessing from headers. Standard library only.

Classification: `X-Amz-Target` (DynamoDB, SQS and KMS JSON protocols, SSM), else the form field `Action` (query
protocol), else the signing service of the `Authorization` header's credential scope and the REST path (SES v2).
Requests to moto's own control API (`/moto-api/`) are forwarded and not counted. `--route SERVICE=URL` sends one
service's requests to a moto of its own (the benchmark runs SQS apart, as AWS does: one moto process, on one core
for its GIL, answered every service).

Run as its own process (the stack's gateway, Runtime API and pollers hold one Python process's GIL already):

    python counting_proxy.py --upstream http://127.0.0.1:PORT --origin NAME [--origin ...] [--route SERVICE=URL ...]
                             --ports-file PATH

It listens on ports of its own choosing (port 0: no port is picked by one process and bound by another, which a
third can take in between) and, once all are bound, writes `{"control": PORT, "origins": {NAME: PORT, ...}}` to
--ports-file (written aside and renamed, so a reader never sees half of it).

Control API on the control port: `POST /reset` (clear and count), `POST /stop` (stop counting), `GET /snapshot`
(`{"requests": [[origin, service, operation, "ok"|"5xx", n]...], "items": [[origin, "read"|"write", kind,
transactional, consistent, n]...], "seconds": [[origin, service, operation, "ok"|"5xx", seconds]...]}`: seconds
from forwarding a request to having moto's whole answer).
"""
from __future__ import annotations

import argparse
import http.client
import json
import re
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "trailer",
              "content-length"}
TARGET_SERVICES = {"DynamoDB": "dynamodb", "AmazonSQS": "sqs", "TrentService": "kms", "AmazonSSM": "ssm"}
SCOPE = re.compile(r"Credential=[^/,]+/[^/,]+/[^/,]+/([^/,]+)/aws4_request")
REST_OPERATIONS = [  # (service, method, path pattern, operation) for REST services rising calls
    ("ses", "POST", re.compile(r"^/v2/email/outbound-emails/?$"), "SendEmail"),
]


def item_kind(key: dict | None) -> str:
    """`OUTBOX/OUTBOX`, `CONTACT/INVITED`, `BATCH/COUNT`...: the item's shape from its key, without ids."""
    if not key:
        return "?"
    pk = (key.get("pk") or {}).get("S", "?")
    sk = (key.get("sk") or {}).get("S", "?")
    return f"{pk.split('#', 1)[0]}/{sk.split('#', 1)[0]}"


def dynamodb_items(operation: str, body: dict, response: dict) -> list[tuple[str, str, bool, bool]]:
    """The items a DynamoDB request touched: (read|write, kind, transactional, strongly consistent)."""
    out = []
    if operation == "TransactWriteItems":
        for entry in body.get("TransactItems") or []:
            for action, spec in entry.items():
                key = spec.get("Item") if action == "Put" else spec.get("Key")
                out.append(("write", item_kind(key), True, True))
    elif operation == "TransactGetItems":
        for entry in body.get("TransactItems") or []:
            out.append(("read", item_kind((entry.get("Get") or {}).get("Key")), True, True))
    elif operation == "PutItem":
        out.append(("write", item_kind(body.get("Item")), False, True))
    elif operation in ("UpdateItem", "DeleteItem"):
        out.append(("write", item_kind(body.get("Key")), False, True))
    elif operation == "BatchWriteItem":
        for requests in (body.get("RequestItems") or {}).values():
            for r in requests:
                key = (r.get("PutRequest") or {}).get("Item") or (r.get("DeleteRequest") or {}).get("Key")
                out.append(("write", item_kind(key), False, True))
    elif operation == "GetItem":
        out.append(("read", item_kind(body.get("Key")), False, bool(body.get("ConsistentRead"))))
    elif operation == "BatchGetItem":
        for spec in (body.get("RequestItems") or {}).values():
            for key in spec.get("Keys") or []:
                out.append(("read", item_kind(key), False, bool(spec.get("ConsistentRead"))))
    elif operation in ("Query", "Scan"):
        # Billed by the bytes read, not per item: one "read" per 4 KB of the answer (rounded up, at least 1).
        size = len(json.dumps(response.get("Items") or []))
        for _ in range(max(1, -(-size // 4096))):
            out.append(("read", f"{operation.upper()}/4KB", False, bool(body.get("ConsistentRead"))))
    return out


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.enabled = False
        self.requests: Counter = Counter()  # (origin, service, operation, status class) -> n
        self.seconds: Counter = Counter()  # (origin, service, operation, status class) -> time moto took
        self.items: Counter = Counter()  # (origin, read|write, kind, transactional, consistent) -> n

    def reset(self, enabled: bool = True) -> None:
        with self.lock:
            self.requests.clear()
            self.seconds.clear()
            self.items.clear()
            self.enabled = enabled

    def snapshot(self, stop: bool = True) -> tuple[Counter, Counter, Counter]:
        with self.lock:
            if stop:
                self.enabled = False
            return Counter(self.requests), Counter(self.items), Counter(self.seconds)

    def add(self, origin: str, service: str, operation: str, status: int, items, seconds: float) -> None:
        with self.lock:
            if not self.enabled:
                return
            cls = "5xx" if status >= 500 else "ok"
            self.requests[(origin, service, operation, cls)] += 1
            self.seconds[(origin, service, operation, cls)] += seconds
            if cls == "ok":
                for rw, kind, transactional, consistent in items:
                    self.items[(origin, rw, kind, transactional, consistent)] += 1


def classify(method: str, path: str, headers, body: bytes) -> tuple[str, str]:
    target = headers.get("X-Amz-Target")
    if target and "." in target:
        prefix, operation = target.rsplit(".", 1)
        service = TARGET_SERVICES.get(prefix.split("_", 1)[0], prefix.lower())
        return service, operation
    m = SCOPE.search(headers.get("Authorization") or "")
    service = m.group(1) if m else "?"
    if "x-www-form-urlencoded" in (headers.get("Content-Type") or ""):
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return service, action[0]
    route = urllib.parse.urlsplit(path).path
    for svc, verb, pattern, operation in REST_OPERATIONS:
        if svc == service and verb == method and pattern.match(route):
            return service, operation
    return service, f"{method} {route}"


class CountingProxy:
    """Forwards to `upstream` (moto); `url(origin)` gives (and opens on first use) the port of one origin."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.upstream: tuple[str, int] | None = None
        self.routes: dict[str, tuple[str, int]] = {}  # service -> its own moto, when it has one
        self.counts = Counts()
        self.servers: dict[str, ThreadingHTTPServer] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def set_upstream(self, url: str) -> None:
        u = urllib.parse.urlsplit(url)
        self.upstream = (u.hostname, u.port)

    def route(self, service: str, url: str) -> None:
        """Requests to `service` go to `url` (a moto of its own) instead of the upstream."""
        u = urllib.parse.urlsplit(url)
        self.routes[service] = (u.hostname, u.port)

    def url(self, origin: str, port: int = 0) -> str:
        with self._lock:
            server = self.servers.get(origin)
            if server is None:
                server = ThreadingHTTPServer((self.host, port), self._handler(origin))
                server.daemon_threads = True
                server.request_queue_size = 128
                threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                                 name=f"proxy-{origin}").start()
                self.servers[origin] = server
            return f"http://{self.host}:{server.server_address[1]}"

    def close(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def _connection(self, upstream: tuple[str, int]) -> http.client.HTTPConnection:
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get(upstream)
        if conn is None:
            conn = conns[upstream] = http.client.HTTPConnection(*upstream, timeout=120)
        return conn

    def forward(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes,
                service: str | None = None):
        upstream = self.routes.get(service, self.upstream)
        for attempt in range(2):
            conn = self._connection(upstream)
            try:
                conn.request(method, path, body=body if body or method not in ("GET", "HEAD") else None,
                             headers=dict(headers))
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.getheaders(), data
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conns.pop(upstream, None)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _handler(self, origin: str):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # quiet
                pass

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _any(self):
                body = self._read_body()
                headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
                if body or self.command not in ("GET", "HEAD"):
                    headers.append(("Content-Length", str(len(body))))
                counted = not self.path.startswith("/moto-api")
                service, operation = classify(self.command, self.path, self.headers, body) if counted else ("", "")
                started = time.perf_counter()
                try:
                    status, resp_headers, data = proxy.forward(self.command, self.path, headers, body, service)
                except (http.client.HTTPException, OSError):
                    self.close_connection = True
                    return  # nothing answers: the client sees a closed connection, as without the proxy
                if counted:
                    items = []
                    if service == "dynamodb" and status < 300:
                        try:
                            items = dynamodb_items(operation, json.loads(body or b"{}"), json.loads(data or b"{}"))
                        except ValueError:
                            items = []
                    proxy.counts.add(origin, service, operation, status, items, time.perf_counter() - started)
                self.send_response_only(status)
                for k, v in resp_headers:
                    if k.lower() not in HOP_BY_HOP and k.lower() not in ("date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

        return Handler


def item_size(item: dict) -> int:
    """An item's size as DynamoDB bills it (attribute names plus values), approximately."""
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def value_size(v: dict) -> int:
    (t, x), = v.items()
    if t == "S":
        return len(x.encode())
    if t == "N":
        digits = len(x.lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if t == "B":
        return len(x) if isinstance(x, (bytes, bytearray)) else len(x) * 3 // 4
    if t in ("BOOL", "NULL"):
        return 1
    if t in ("SS", "NS", "BS"):
        return sum(value_size({t[0]: e}) for e in x)
    if t == "L":
        return 3 + sum(1 + value_size(e) for e in x)
    if t == "M":
        return 3 + sum(len(k.encode()) + 1 + value_size(e) for k, e in x.items())
    return 0


def control_handler(counts: Counts):
    class Control(BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def _json(self, value) -> None:
            body = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            if self.path == "/reset":
                counts.reset(enabled=True)
            elif self.path == "/stop":
                counts.snapshot(stop=True)
            self._json({"ok": True})

        def do_GET(self):
            requests, items, seconds = counts.snapshot(stop=False)
            self._json({"requests": [[*k, n] for k, n in requests.items()],
                        "items": [[*k, n] for k, n in items.items()],
                        "seconds": [[*k, n] for k, n in seconds.items()]})

    return Control


def main() -> None:
    ap = argparse.ArgumentParser(description="counting proxy in front of moto")
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--origin", action="append", default=[], help="NAME: one listening port for that origin")
    ap.add_argument("--route", action="append", default=[], help="SERVICE=URL: that service's own moto")
    ap.add_argument("--ports-file", required=True, type=Path, help="where to write the ports once all listen")
    args = ap.parse_args()
    proxy = CountingProxy()
    proxy.set_upstream(args.upstream)
    for spec in args.route:
        service, url = spec.split("=", 1)
        proxy.route(service, url)
    origins = {name: int(proxy.url(name).rsplit(":", 1)[1]) for name in args.origin}
    control = ThreadingHTTPServer((proxy.host, 0), control_handler(proxy.counts))
    control.daemon_threads = True
    aside = args.ports_file.with_name(args.ports_file.name + ".partial")
    aside.write_text(json.dumps({"control": control.server_address[1], "origins": origins}))
    aside.replace(args.ports_file)
    control.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
