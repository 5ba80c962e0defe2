#!/usr/bin/env python3
"""`make bench`: rising's benchmarks, measured in one run on this machine, printed as a table and written to
bench/results.md. Not part of `make test`: no goal here fails the build. See bench/README.md for the method.

    .venv/bin/python bench/run.py [--invites 5000] [--email-every 5] [--mps 50] [--concurrency 2] [--batch 100]
                                  [--cold-runs 9] [--callback-texts 400] [--no-build]

1. builds what it measures: the function binaries and a `lambda_runtime` hello world in the release profile (the
   profile `sam build` deploys, for the host architecture), the Twilio emulator and the producer in debug (as `make
   test` and `make dev` build the workspace, so that after them this costs nothing);
2. throughput and cost: starts the local stack (infra/local/stack.py, imported) on free ports with
   SmsSendRate = EmailSendRate = --mps, SendMaxConcurrency = --concurrency (the template's Default unless
   given) and SendBatchSize = --batch, the emulator limited to --mps, and every AWS request of the functions, the
   producer and the stack's SQS poller going through a counting proxy in front of moto (one port per origin);
   produces --invites host invitations (every --email-every-th an email) with rising-core's producer API, then lets
   the SQS event source run and waits until all are final; then hands the status callbacks of --callback-texts
   texts (held by a relay during the sends) to sms-status;
3. cold start: each function binary and the hello world, started against a local Lambda Runtime API, from spawn
   to their first `GET /runtime/invocation/next`; median of --cold-runs;
4. sizes: each function's zip (arm64 from a fresh .aws-sam/build when there is one; host release otherwise);
5. segments: the segments the (emulated) provider billed per SMS invite against the minimum for its text.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "infra" / "local"))
sys.path.insert(0, str(HERE))

import stack as st  # noqa: E402  the local stack, driven in-process

TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
TARGET = TARGET if TARGET.is_absolute() else REPO / TARGET
RESULTS = HERE / "results.md"
DEPLOY_TARGET = "aarch64-unknown-linux-gnu"  # what `sam build` (cargo lambda build --arm64) compiles for
BIN = TARGET / "release"  # the measured binaries (functions, hello world); main() sets it
HELLO = "hello-lambda"
SEND_WORKER = "send-worker"
PRODUCER = "producer"  # origins of AWS requests besides the functions
POLLER = "lambda-sqs-poller"
ONE_CERT = "|one-certificate trust store"  # suffix of the cold-start diagnostic's names

# List prices, us-east-1, USD (AWS pricing pages as of 2025; free tiers ignored).
PRICES = {
    "dynamodb_wru": 0.625 / 1e6,  # on-demand, per write request unit (1 KB; transactional: 2 per KB)
    "dynamodb_rru": 0.125 / 1e6,  # on-demand, per read request unit (4 KB strongly consistent; 0.5 eventually)
    "sqs_request": 0.40 / 1e6,  # standard queue, per request (64 KB chunk)
    "kms_request": 0.03 / 1e4,  # symmetric key API request
    "ssm_request": 0.0,  # Parameter Store standard parameters at standard throughput
    "ses_email": 0.10 / 1e3,  # per email sent
    "lambda_request": 0.20 / 1e6,  # per invocation
    "lambda_gb_s_arm64": 0.0000133334,  # per GB-second, arm64, first tier
    "http_api_request": 1.00 / 1e6,  # API Gateway HTTP API, per request (first 300 M a month)
}
PRICE_TEXT = ("us-east-1 list prices (2025): DynamoDB on-demand $0.625 per million write request units and "
              "$0.125 per million read request units; SQS $0.40 per million requests; KMS $0.03 per 10,000 "
              "requests; SSM Parameter Store standard parameters $0; SES $0.10 per 1,000 emails; Lambda arm64 "
              "$0.20 per million requests and $0.0000133334 per GB-second; API Gateway HTTP API $1.00 per "
              "million requests. Free tiers ignored; CloudWatch Logs, data transfer and Twilio not included.")


_STARTED = time.monotonic()


def say(message: str) -> None:
    """A line on the terminal, with the time since the bench started (where its minutes go)."""
    sys.__stderr__.write(f"[bench {time.monotonic() - _STARTED:5.0f} s] {message}\n")
    sys.__stderr__.flush()


# ----------------------------------------------------------------------------------------------------------------
# Build


def package_name(code_uri: str) -> str:
    text = (REPO / code_uri / "Cargo.toml").read_text()
    m = re.search(r'^\[package\][^\[]*?^name\s*=\s*"([^"]+)"', text, re.M | re.S)
    if not m:
        raise SystemExit(f"no package name in {code_uri}/Cargo.toml")
    return m.group(1)


def template_functions() -> list[dict]:
    template = st.load_template(REPO / "template.yaml")
    out = []
    for lid, res in (template.get("Resources") or {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            props = res.get("Properties") or {}
            code_uri = str(props.get("CodeUri") or "")
            out.append({"logical_id": lid, "binary": st.function_binary_name(lid, res), "code_uri": code_uri,
                        "package": package_name(code_uri)})
    return out


def template_default(parameter: str) -> int:
    """A template parameter's Default: what a deployment gets unless the organizer chooses otherwise."""
    spec = (st.load_template(REPO / "template.yaml").get("Parameters") or {}).get(parameter) or {}
    if "Default" not in spec:
        raise SystemExit(f"bench: template.yaml has no Default for {parameter}")
    return int(spec["Default"])


def cargo(args: list[str]) -> float:
    say("cargo " + " ".join(args))
    started = time.monotonic()
    rc = subprocess.call(["cargo", *args], cwd=REPO, stdin=subprocess.DEVNULL)
    if rc != 0:
        raise SystemExit(f"cargo {' '.join(args)} failed ({rc})")
    return time.monotonic() - started


def host_triple() -> str:
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("host:"))


def deployed_rustflags() -> list[str]:
    """The flags .cargo/config.toml gives the deployed binaries, less the CPU choice (`-C target-cpu=…`, an arm64
    CPU): the host binaries measured here are then built as those are (e.g. the same relocation model)."""
    import tomllib
    config = tomllib.loads((REPO / ".cargo" / "config.toml").read_text())
    flags = config.get("target", {}).get(DEPLOY_TARGET, {}).get("rustflags", [])
    out, i = [], 0
    while i < len(flags):
        pair = flags[i:i + 2]
        if pair[0] == "-C" and len(pair) == 2 and pair[1].startswith("target-cpu="):
            i += 2
            continue
        out.append(flags[i])
        i += 1
    return out


def release_bin() -> Path:
    """Where the release binaries are built: for the host triple named explicitly, so that the deployed binaries'
    rustflags apply to them and not to build scripts and proc macros (which must stay position-independent)."""
    return TARGET / host_triple() / "release"


def build(functions: list[dict]) -> dict[str, float]:
    times = {}
    # The Twilio emulator and the producer, built as `make dev` and `make test` build the workspace: the
    # same feature set, so after either this is a no-op (built alone, their dependencies would be rebuilt
    # with other features).
    times["debug"] = cargo(["build", "--workspace", "--bins"])
    host = host_triple()
    release = ["build", "--release", "--target", host,
               "--config", f"target.{host}.rustflags = {json.dumps(deployed_rustflags())}",
               "-p", "bench", "--bin", HELLO]
    for f in functions:
        release += ["-p", f["package"], "--bin", f["binary"]]
    times["release"] = cargo(release)
    return times


# ----------------------------------------------------------------------------------------------------------------
# The stack, with every AWS request counted


class Invocations:
    """Lambda invocations per function, with their durations (what Lambda bills)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.enabled = False
        self.data: dict[str, list[float]] = defaultdict(list)
        self.memory: dict[str, int] = {}

    def reset(self, enabled=True):
        with self.lock:
            self.data.clear()
            self.enabled = enabled

    def add(self, binary: str, memory_mb: int, seconds: float):
        with self.lock:
            if self.enabled:
                self.data[binary].append(seconds)
                self.memory[binary] = memory_mb

    def snapshot(self):
        with self.lock:
            self.enabled = False
            return {k: list(v) for k, v in self.data.items()}, dict(self.memory)


class CounterClient:
    """The counting proxy (bench/counting_proxy.py), run as its own process: one port per origin, each chosen by
    the proxy as it binds it and read back from its ports file (`ready`)."""

    def __init__(self, origins: list[str], ports_file: Path):
        self.origins = origins
        self.ports_file = ports_file
        self.ports: dict[str, int] = {}
        self.control = ""

    def url(self, origin: str) -> str:
        return f"http://{st.LOOPBACK}:{self.ports[origin]}"

    def argv(self, upstream: str, routes: dict[str, str]) -> list[str]:
        self.ports_file.unlink(missing_ok=True)
        argv = [sys.executable, str(HERE / "counting_proxy.py"), "--upstream", upstream,
                "--ports-file", str(self.ports_file)]
        for service, url in routes.items():
            argv += ["--route", f"{service}={url}"]
        for origin in self.origins:
            argv += ["--origin", origin]
        return argv

    def ready(self) -> bool:
        """Whether the proxy listens on every port; once it does, its ports are known here."""
        if not self.ports_file.exists():
            return False
        ports = json.loads(self.ports_file.read_text())
        self.ports = ports["origins"]
        self.control = f"http://{st.LOOPBACK}:{ports['control']}"
        return st.http_answers(self.control + "/snapshot") == 200

    def reset(self) -> None:
        http_json(self.control + "/reset", {})

    def snapshot(self) -> tuple[Counter, Counter, Counter]:
        http_json(self.control + "/stop", {})
        data = http_json(self.control + "/snapshot")
        return tuple(Counter({tuple(r[:-1]): r[-1] for r in data[k]}) for k in ("requests", "items", "seconds"))


class CallbackRelay(ThreadingHTTPServer):
    """Where the send worker's texts ask Twilio to report their status during the benchmark: records each status
    callback and answers 204 at once. After the sends, `forward` delivers every one, in order per message and
    signed again for the stack's own URL, to `sms-status` through the stack's gateway."""

    daemon_threads = True

    def __init__(self):
        super().__init__((st.LOOPBACK, 0), RelayHandler)
        self.lock = threading.Lock()
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []  # (query string, form parameters)

    @property
    def url(self) -> str:
        return f"http://{st.LOOPBACK}:{self.server_address[1]}"

    def forward(self, gateway_url: str, public_base_url: str, auth_token: str, texts: int,
                workers: int = 4) -> tuple[Counter, int, int]:
        """Posts the recorded callbacks of the first `texts` texts to the gateway: the HTTP statuses it got, the
        number of callbacks posted and the number of texts they were for."""
        import base64
        import hashlib
        import hmac
        import http.client
        import urllib.parse

        signed_url = public_base_url.rstrip("/") + "/sms/status"
        target = urllib.parse.urlsplit(gateway_url.rstrip("/") + "/sms/status")
        lanes: list[list] = [[] for _ in range(workers)]
        chosen: dict[str, int] = {}
        posted = 0
        for query, params in self.calls:  # one lane per message, so its statuses arrive in order
            sid = dict(params).get("MessageSid", "")
            if sid not in chosen:
                if len(chosen) >= texts:
                    continue
                chosen[sid] = len(chosen) % workers
            lanes[chosen[sid]].append((query, params))
            posted += 1
        statuses: Counter = Counter()
        lock = threading.Lock()

        def run(lane):
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            for query, params in lane:
                suffix = f"?{query}" if query else ""  # the batch the worker named, signed with the rest
                payload = signed_url + suffix + "".join(k + v for k, v in sorted(params))
                signature = base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1)
                                             .digest()).decode()
                body = urllib.parse.urlencode(params)
                for attempt in range(3):
                    try:
                        conn.request("POST", target.path + suffix, body=body, headers={
                            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
                            "User-Agent": "TwilioProxy/1.1"})
                        resp = conn.getresponse()
                        resp.read()
                        with lock:
                            statuses[resp.status] += 1
                        break
                    except (OSError, http.client.HTTPException):
                        conn.close()
                        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            conn.close()

        threads = [threading.Thread(target=run, args=(lane,)) for lane in lanes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return statuses, posted, len(chosen)


class RelayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        import urllib.parse
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        query = urllib.parse.urlsplit(self.path).query
        with self.server.lock:
            self.server.calls.append((query, urllib.parse.parse_qsl(body, keep_blank_values=True)))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


def patch_stack(counter: CounterClient, relay: CallbackRelay, invocations: Invocations):
    """infra/local/stack.py, used as it is, with four changes made from outside: moto is bench/moto_server.py
    (moto with its size-dependent costs fixed); every AWS request goes through the counting proxy (each function on
    its own port, the stack itself, i.e. resources and Lambda's SQS poller, on another); the send worker's texts
    report their status to the relay; the SQS event source starts when the benchmark says."""
    original_env = st.FunctionPool.process_env
    original_invoke = st.FunctionInstance.invoke

    def process_env(self, runtime_port, index):
        env = original_env(self, runtime_port, index)
        env["AWS_ENDPOINT_URL"] = counter.url(self.spec.binary)
        if self.spec.binary == SEND_WORKER:
            env["PUBLIC_BASE_URL"] = relay.url  # StatusCallback = <relay>/sms/status
        return env

    def invoke(self, inv):
        started = time.monotonic()
        try:
            return original_invoke(self, inv)
        finally:
            invocations.add(self.spec.binary, self.spec.memory_mb, time.monotonic() - started)

    st.FunctionPool.process_env = process_env
    st.FunctionInstance.invoke = invoke

    class BenchStack(st.Stack):
        moto_direct = ""
        deferred_sources = None

        def start_moto(self):
            def moto(name: str):
                port = st.free_port()
                url = f"http://{st.LOOPBACK}:{port}"
                child = self._start_child(name, [sys.executable, str(HERE / "moto_server.py"), "-H", st.LOOPBACK,
                                                 "-p", str(port), "--no-request-log"],
                                          line_filter=st._moto_line_filter(False))
                self._wait(name, lambda: st.http_answers(url + "/moto-api/") is not None, child, 30)
                return child, url

            child, url = moto("moto")
            # SQS in a moto of its own, as it is a service of its own in AWS: one moto process (one GIL, one core)
            # answering every service was the ceiling of the send rate (SQS does not call the other services here:
            # the stack plays the event sources and destinations itself).
            _, sqs_url = moto("moto-sqs")
            self.moto_direct = url
            proxy = self._start_child("counting-proxy", counter.argv(url, {"sqs": sqs_url}))
            self._wait("counting proxy", counter.ready, proxy, 30)
            return child, counter.url(POLLER)

        def _start_child(self, name, argv, **kw):
            # The emulator's line per request and per status callback (16,000 here) would each be read, filtered and
            # written by this process while it plays the event sources: its warnings and errors are enough here.
            if name == "twilio-emulator":
                kw["env"] = {**kw.get("env", self.env), "RUST_LOG": "warn"}
            return super()._start_child(name, argv, **kw)

        def start_event_sources(self, sources, gw, moto_url):
            self.deferred_sources = (sources, gw, moto_url)  # started by start_deferred_sources

        def start_deferred_sources(self):
            super().start_event_sources(*self.deferred_sources)

    return BenchStack


def http_json(url: str, data: dict | None = None, timeout: float = 30.0):
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


class Sampler(threading.Thread):
    """Samples the emulator's count of Create Message requests every 0.1 s, on this process's clock (the
    emulator's own timestamps have one-second resolution)."""

    def __init__(self, emulator: str):
        super().__init__(daemon=True)
        self.url = emulator + "/_emulator/requests"
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                n = http_json(self.url, timeout=5)["create_requests"]
                self.samples.append((time.monotonic(), n))
            except OSError:
                pass
            self.stopping.wait(0.1)

    def span(self, total: int) -> tuple[float, float] | None:
        """(first, last) request time, each the midpoint of the samples around it."""
        first = last = None
        prev_t = None
        for t, n in self.samples:
            if first is None and n > 0 and prev_t is not None:
                first = (prev_t + t) / 2
            if n >= total and prev_t is not None:
                last = (prev_t + t) / 2
                break
            prev_t = t
        return (first, last) if first is not None and last is not None else None

    def crossing(self, count: int) -> float | None:
        """When the request count first reached `count` (the midpoint of the samples around it)."""
        prev_t = None
        for t, n in self.samples:
            if n >= count and prev_t is not None:
                return (prev_t + t) / 2
            prev_t = t
        return None


def run_stack(args, functions: list[dict], out: dict) -> None:
    counter = CounterClient([f["binary"] for f in functions] + [PRODUCER, POLLER],
                            REPO / ".local" / "bench-proxy-ports.json")
    relay = CallbackRelay()
    threading.Thread(target=relay.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    invocations = Invocations()
    BenchStack = patch_stack(counter, relay, invocations)
    log_path = REPO / ".local" / "bench-stack.log"
    env_file = REPO / ".local" / "bench-stack.env"
    log_path.parent.mkdir(exist_ok=True)
    os.environ.update({"SmsSendRate": str(args.mps), "EmailSendRate": str(args.mps),
                       "SendMaxConcurrency": str(args.concurrency), "SendBatchSize": str(args.batch)})
    ns = st.parse_args(["up", "--gateway-port", "0", "--no-build", "--quiet", "--concurrency", "4",
                        "--env-file", str(env_file),
                        "--bin-dir", str(BIN), "--twilio-emulator", str(TARGET / "debug" / "twilio-emulator")])
    stack = BenchStack(ns)
    say(f"starting the local stack (log: {log_path.relative_to(REPO)}): SmsSendRate=EmailSendRate={args.mps}, "
        f"SendMaxConcurrency={args.concurrency}, SendBatchSize={args.batch}, {args.profile} function binaries")

    def ready(env: dict[str, str]) -> int:
        emulator = env["TWILIO_EMULATOR_URL"]
        http_json(emulator + "/_emulator/config", {"mps": args.mps})
        out["function_env"] = {p.spec.binary: p.process_env(0, 0) for p in stack.pools}
        out["memory_mb"] = {p.spec.binary: p.spec.memory_mb for p in stack.pools}
        producer_env = dict(os.environ)
        producer_env.update(env)
        producer_env.update({"AWS_ENDPOINT_URL": counter.url(PRODUCER), "BENCH_MONITOR_ENDPOINT": stack.moto_direct,
                             "RUST_LOG": "warn"})
        sampler = Sampler(emulator)
        sampler.start()
        counter.reset()
        invocations.reset(enabled=True)
        say(f"producing {args.invites} invites (every {args.email_every}th an email)")
        started = time.monotonic()
        proc = subprocess.Popen([str(TARGET / "debug" / "bench-invites"), "--count", str(args.invites),
                                 "--email-every", str(args.email_every), "--timeout", str(args.timeout)],
                                env=producer_env, stdout=subprocess.PIPE, stderr=sys.__stderr__, text=True)
        last_line = ""
        for line in proc.stdout:
            last_line = line
            if line.startswith('{"event":"produced"'):
                say("every invite is on the queue: the SQS event source starts; waiting until all are final")
                stack.start_deferred_sources()
        if proc.wait() != 0:
            raise st.StackError(f"bench-invites failed ({proc.returncode})")
        out["producer"] = json.loads(last_line)
        time.sleep(2)  # the last callbacks of the last texts (the emulator waits 100 ms before each)
        sampler.stopping.set()
        sampler.join()
        out["span"] = sampler.span(http_json(emulator + "/_emulator/requests")["create_requests"])
        # the middle 80% of the texts: the fleet's rate without its start (batches received, first claims, all at
        # once) and its drain (the last batches of some workers while the others have none left)
        total = http_json(emulator + "/_emulator/requests")["create_requests"]
        out["middle"] = [(k, sampler.crossing(k)) for k in (total // 10, total - total // 10)]
        out["recorded_callbacks"] = len(relay.calls)
        out["callback_texts"] = len({dict(params).get("MessageSid") for _, params in relay.calls})
        say(f"delivering the status callbacks of {args.callback_texts} texts to sms-status")
        t = time.monotonic()
        out["callback_statuses"], out["posted_callbacks"], out["sampled_texts"] = relay.forward(
            env["GATEWAY_URL"], env["PUBLIC_BASE_URL"], env["TWILIO_AUTH_TOKEN"], args.callback_texts)
        out["callback_seconds"] = time.monotonic() - t
        say("counting requests, invocations and the emulator's texts")
        out["requests"], out["items"], out["seconds"] = counter.snapshot()
        out["invocations"], _ = invocations.snapshot()
        out["window_seconds"] = time.monotonic() - started
        messages = [m for m in http_json(emulator + "/_emulator/messages") if m["direction"] == "outbound-api"]
        out["created"] = len(messages)
        out["segments_billed"] = sum(int(m["num_segments"]) for m in messages)
        out["create_requests"] = http_json(emulator + "/_emulator/requests")["create_requests"]
        out["callbacks"] = len(http_json(emulator + "/_emulator/callbacks"))
        say("reading the sizes of the table's items")
        out["item_sizes"] = table_item_sizes(stack.moto_direct, env)
        say("measuring cold starts")
        out["cold"] = cold_starts(args, functions, out["function_env"])
        return 0

    # Another bench still running (its stack owns the env file): say so before emptying the log it writes.
    try:
        owner = json.loads(stack.registry.path.read_text()).get("owner") or {}
    except (OSError, ValueError, AttributeError):
        owner = {}
    if owner and st.proc_start_time(int(owner.get("pid", 0))) == owner.get("start"):
        raise SystemExit(f"bench: another local stack (pid {owner['pid']}) uses {log_path.parent}; let it finish first")
    saved_stderr = sys.stderr
    with open(log_path, "w") as log_file:
        sys.stderr = log_file
        try:
            code = stack.run(ready)
        except st.StackError as e:
            sys.stderr = saved_stderr
            raise SystemExit(f"bench: {e} (see {log_path})")
        finally:
            sys.stderr = log_file
            stack.shutdown()
            relay.shutdown()
            relay.server_close()
            sys.stderr = saved_stderr
    if code != 0:
        raise SystemExit(f"bench: the run failed ({code}); see {log_path}")


def table_item_sizes(moto_url: str, env: dict[str, str]) -> dict[str, float]:
    """Mean billed size of each kind of item in the table after the run (read directly, not counted): every item's
    size as the counting proxy's `item_size` bills it, computed inside moto (bench/moto_server.py,
    `GET /_bench/item-sizes`), where a Scan of the whole table spent about 10 s on per-item work of its own."""
    import urllib.parse
    import urllib.request
    query = urllib.parse.urlencode({"table": env["TABLE_NAME"], "region": env["AWS_REGION"]})
    with urllib.request.urlopen(f"{moto_url}/_bench/item-sizes?{query}", timeout=120) as answer:
        items = json.load(answer)["items"]
    sizes: dict[str, list[int]] = defaultdict(list)
    for pk, sk, size in items:
        sizes[f"{pk.split('#', 1)[0]}/{sk.split('#', 1)[0]}"].append(size)
    return {k: statistics.fmean(v) for k, v in sizes.items()}


# ----------------------------------------------------------------------------------------------------------------
# Cold start against a local Lambda Runtime API


class RuntimeApi(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), RuntimeHandler)
        self.asked = threading.Event()
        self.asked_at = 0.0
        self.init_error = ""
        self.release = threading.Event()


class RuntimeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            self.server.asked_at = time.perf_counter()
            self.server.asked.set()
            self.server.release.wait(10)  # no event: the process is killed while it waits, as Lambda freezes it
        self.close_connection = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.endswith("/init/error"):
            self.server.init_error = body.decode("utf-8", "replace")[:300]
            self.server.asked.set()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def init_time(binary: Path, env: dict[str, str]) -> float:
    """Seconds from spawning `binary` to its first request for work (its init phase)."""
    api = RuntimeApi()
    # Polls for shutdown every 5 ms: the stub stops after each of the ~100 runs, and a longer poll would be
    # seconds of waiting per `make bench`.
    threading.Thread(target=api.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True).start()
    env = dict(env)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{api.server_address[1]}"
    try:
        started = time.perf_counter()
        proc = subprocess.Popen([str(binary)], env=env, cwd=str(binary.parent), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = api.asked.wait(10)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not ok or api.init_error:
            raise SystemExit(f"bench: {binary.name} did not finish its init: {api.init_error or 'no request in 10 s'}")
        return api.asked_at - started
    finally:
        api.release.set()
        api.shutdown()
        api.server_close()


def unpacked(binary: Path, into: Path) -> Path:
    """A copy of `binary` written in one sequential pass, as Lambda writes a function's code when it unpacks
    the zip: started from the file the linker wrote, the same bytes take longer, the more so the larger the
    binary (bench/README.md, "Cold start")."""
    copy = into / binary.name
    shutil.copyfile(binary, copy)
    copy.chmod(0o755)
    return copy


def cold_starts(args, functions: list[dict], envs: dict[str, dict[str, str]]) -> dict[str, list[float]]:
    import ssl
    import tempfile
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp_dir:
        tmp = Path(tmp_dir)
        binaries = {f["binary"]: (unpacked(BIN / f["binary"], tmp), envs[f["binary"]]) for f in functions}
        # The hello world gets a function's Lambda environment too (it reads none of it).
        binaries[HELLO] = (unpacked(BIN / HELLO, tmp), envs[functions[0]["binary"]])
        # --cert-diagnostic: beside the measure, the same binaries with a trust store of one certificate
        # (SSL_CERT_FILE, SSL_CERT_DIR), to show how much of an init is loading the system's root certificates.
        bundle = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
        variants = {"": {}}
        if args.cert_diagnostic and bundle.is_file():
            text = bundle.read_text(errors="replace")
            end = text.find("-----END CERTIFICATE-----")
            if end > 0:
                (tmp / "one.pem").write_text(text[: end + len("-----END CERTIFICATE-----")] + "\n")
                (tmp / "dir").mkdir()
                variants[ONE_CERT] = {"SSL_CERT_FILE": str(tmp / "one.pem"), "SSL_CERT_DIR": str(tmp / "dir")}
        times: dict[str, list[float]] = defaultdict(list)
        for name, (path, env) in binaries.items():
            init_time(path, env)  # warm-up: page cache, not counted
        rng = random.Random(8)
        for _ in range(args.cold_runs):
            order = [(name, v) for name in binaries for v in variants]
            rng.shuffle(order)  # interleaved, so a noisy moment hits every binary alike
            for name, v in order:
                path, env = binaries[name]
                times[name + v].append(init_time(path, {**env, **variants[v]}))
        return dict(times)


# ----------------------------------------------------------------------------------------------------------------
# Sizes


def newest_source(f: dict) -> float:
    paths = [REPO / "Cargo.lock", REPO / "Cargo.toml"]
    for d in (REPO / "functions" / "core", REPO / f["code_uri"]):
        paths += [p for p in d.rglob("*") if p.is_file() and "target" not in p.parts]
    return max(p.stat().st_mtime for p in paths if p.exists())


def zipped(path: Path) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, path.read_bytes())
    return len(buf.getvalue())


def sizes(functions: list[dict]) -> dict[str, dict]:
    out = {}
    for f in functions + [{"binary": HELLO, "logical_id": None}]:
        host = BIN / f["binary"]
        entry = {"host_binary": host.stat().st_size, "host_zip": zipped(host)}
        if f["logical_id"]:
            sam = REPO / ".aws-sam" / "build" / f["logical_id"] / "bootstrap"
            if sam.is_file():
                entry["arm64_zip"] = zipped(sam)
                entry["arm64_built"] = dt.datetime.fromtimestamp(sam.stat().st_mtime, dt.timezone.utc)
                entry["arm64_fresh"] = sam.stat().st_mtime >= newest_source(f)
        out[f["binary"]] = entry
    return out


# ----------------------------------------------------------------------------------------------------------------
# Report


def limiter_burst_seconds() -> float:
    """`BURST_SECONDS` of the send worker's rate limiter, read from its source so that the report says what the
    worker does."""
    source = REPO / "functions" / "core" / "src" / "outbound" / "rate.rs"
    found = re.search(r"^const BURST_SECONDS: f64 = ([0-9.]+);", source.read_text(), re.M)
    if not found:
        raise SystemExit(f"bench: no `const BURST_SECONDS: f64 = …;` in {source}")
    return float(found.group(1))


def mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def analyse(args, out: dict) -> dict:
    p = out["producer"]
    invites, sms, emails = p["invites"], p["sms"], p["email"]
    r: dict = {}
    # throughput
    span = out["span"]
    created = out["created"]
    r["rate"] = (created - 1) / (span[1] - span[0]) if span and created > 1 and span[1] > span[0] else float("nan")
    r["rate_ratio"] = r["rate"] / args.mps
    (k1, t1), (k2, t2) = out.get("middle") or [(0, None), (0, None)]
    r["middle_rate"] = (k2 - k1) / (t2 - t1) if t1 is not None and t2 is not None and t2 > t1 else float("nan")
    r["throttled"] = out["create_requests"] - created
    # requests; sms-status's are those of the callbacks of a sample of texts, scaled to every text
    r["scale"] = scale = out["callback_texts"] / out["sampled_texts"] if out["sampled_texts"] else 0.0
    # Per callback: sms-status's DynamoDB requests and its invocations; once per execution environment (SSM, KMS): not
    weight = lambda origin, service="dynamodb": scale if origin == "sms-status" and service == "dynamodb" else 1.0  # noqa: E731,E501
    requests: Counter = Counter({k: n * weight(k[0], k[1]) for k, n in out["requests"].items()})
    by_origin: Counter = Counter()
    five_xx = 0
    sms_only = email_only = 0
    for (origin, service, op, cls), n in requests.items():
        if cls == "5xx":
            five_xx += n
            continue
        by_origin[origin] += n
        if origin == "sms-status":
            sms_only += n
        elif service == "ses":
            email_only += n
    poller = by_origin.get("lambda-sqs-poller", 0)
    rising = sum(n for o, n in by_origin.items() if o != "lambda-sqs-poller")
    shared = rising - sms_only - email_only
    r.update(rising=rising, poller=poller, five_xx=five_xx, sms_only=sms_only, email_only=email_only)
    r["per_invite"] = rising / invites
    r["per_sms"] = shared / invites + (sms_only / sms if sms else 0)
    r["per_sms_with_polling"] = r["per_sms"] + poller / invites
    r["per_sms_send_path"] = (shared) / invites
    # cost: (service, attribution) -> USD
    cost: Counter = Counter()
    sizes_ = out["item_sizes"]
    units = Counter()
    for (origin, rw, kind, transactional, consistent), n in out["items"].items():
        size = sizes_.get(kind, 0.0)
        if rw == "write":
            u = max(1, math.ceil(size / 1024)) * (2 if transactional else 1)
            units[("wru", origin)] += u * n * weight(origin)
        else:
            u = 1 if kind.endswith("/4KB") else max(1, math.ceil(size / 4096))
            u = u * (1 if consistent else 0.5) * (2 if transactional else 1)
            units[("rru", origin)] += u * n * weight(origin)
    attribution = lambda origin: "polling" if origin == "lambda-sqs-poller" else (  # noqa: E731
        "sms" if origin == "sms-status" else "shared")
    for (kind, origin), u in units.items():
        cost[("DynamoDB", attribution(origin))] += u * PRICES["dynamodb_wru" if kind == "wru" else "dynamodb_rru"]
    for (origin, service, op, cls), n in requests.items():
        if cls == "5xx":
            continue
        a = attribution(origin)
        if service == "sqs":
            cost[("SQS", a)] += n * PRICES["sqs_request"]
        elif service == "kms":
            cost[("KMS", a)] += n * PRICES["kms_request"]
        elif service == "ssm":
            cost[("SSM", a)] += n * PRICES["ssm_request"]
        elif service == "ses" and op == "SendEmail":
            cost[("SES", "email")] += n * PRICES["ses_email"]
    inv, memory = out["invocations"], out["memory_mb"]
    for binary, durations in inv.items():
        a = "sms" if binary == "sms-status" else "shared"
        count = len(durations) * weight(binary)
        gb_s = sum(durations) * weight(binary) * memory.get(binary, 128) / 1024
        cost[("Lambda", a)] += count * PRICES["lambda_request"] + gb_s * PRICES["lambda_gb_s_arm64"]
        if binary == "sms-status":  # an HTTP API route
            cost[("API Gateway", "sms")] += count * PRICES["http_api_request"]
    r["cost"] = cost
    r["units"] = units

    def per_million(channel_count, channel):
        total = sum(v for (s, a), v in cost.items() if a == "shared") / invites
        total += sum(v for (s, a), v in cost.items() if a == channel) / channel_count if channel_count else 0
        return total * 1e6
    r["usd_sms"] = per_million(sms, "sms")
    r["usd_sms_polling"] = r["usd_sms"] + sum(v for (s, a), v in cost.items() if a == "polling") / invites * 1e6
    r["usd_email"] = per_million(emails, "email")
    # cold start
    cold = out["cold"]
    med = {k: statistics.median(v) for k, v in cold.items()}
    r["cold_median"] = med
    r["cold_ratio"] = {k: v / med[HELLO] for k, v in med.items() if k != HELLO and ONE_CERT not in k}
    # segments
    r["seg_billed_mean"] = out["segments_billed"] / created if created else float("nan")
    r["seg_sent_mean"] = p["segments_sent"] / sms
    r["seg_min_mean"] = p["segments_min"] / sms
    r["batches"] = batch_timing(out)
    return r


def batch_timing(out: dict) -> dict:
    """Where a send worker's time goes, from its own log lines (ids and timestamps only) and the invocations."""
    import collections
    events = collections.defaultdict(list)
    instance = {}
    for line in open(REPO / ".local" / "bench-stack.log", encoding="utf-8", errors="replace"):
        if not line.startswith(f"[{SEND_WORKER}"):
            continue
        try:
            j = json.loads(line.split("] ", 1)[1])
            t = dt.datetime.fromisoformat(j["timestamp"].replace("Z", "+00:00")).timestamp()
            rid = j["span"]["requestId"]
        except (ValueError, KeyError, IndexError):
            continue
        events[rid].append((t, j["fields"].get("message"), j["fields"].get("channel")))
        instance[rid] = line.split("]", 1)[0]
    load_claim, sending, per_instance = [], [], collections.defaultdict(list)
    for rid, ev in events.items():
        gated = [t for t, m, c in ev if m == "gated"]
        sent = [t for t, m, c in ev if m == "sent" and c == "sms"]
        if gated and len(sent) > 1:
            load_claim.append(min(sent) - min(gated))
            sending.append(max(sent) - min(sent))
            per_instance[instance[rid]].append((min(gated), max(t for t, m, c in ev)))
    gaps = []
    for spans in per_instance.values():
        spans.sort()
        gaps += [b[0] - a[1] for a, b in zip(spans, spans[1:])]
    durations = out["invocations"].get(SEND_WORKER, [])
    mean = lambda xs: statistics.fmean(xs) if xs else float("nan")  # noqa: E731
    return {"invocation": mean(durations), "claim": mean(load_claim), "sending": mean(sending),
            "between": statistics.median(gaps) if gaps else float("nan"), "batches": len(durations)}


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def report(args, out: dict, r: dict, sz: dict, builds: dict, started_wall: dt.datetime, total_s: float) -> str:
    p = out["producer"]
    lines = []
    w = lines.append
    w("# rising benchmarks (`make bench`)")
    w("")
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True).stdout.strip()
    w(f"Run {started_wall:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({cpu or platform.processor()}, "
      f"{platform.machine()}), {rustc}; one run, all ratios from the same run. Other work on the machine "
      f"(load average at the end: {os.getloadavg()[0]:.1f}) adds noise.")
    w(f"Whole `make bench`: {total_s / 60:.1f} min (builds {builds['debug'] + builds['release']:.0f} s, "
      f"measuring {total_s - builds['debug'] - builds['release']:.0f} s).")
    w("")
    w("| Measure | Result | Goal | Met |")
    w("|---|---|---|---|")
    w(f"| SMS send rate ÷ configured rate ({args.mps}/s) | {r['rate_ratio']:.3f} ({r['rate']:.1f}/s) | ≥ 0.95 | "
      f"{verdict(r['rate_ratio'] >= 0.95)} |")
    w(f"| … from the 10th to the 90th percentile text (no start, no drain) | {r['middle_rate'] / args.mps:.3f} "
      f"({r['middle_rate']:.1f}/s) | | |")
    w(f"| Throttled Twilio requests (429) | {r['throttled']} | 0 | {verdict(r['throttled'] == 0)} |")
    w(f"| AWS requests per SMS invite, rising's (producer, send-worker, sms-status) | {r['per_sms']:.2f} | ≤ 1.5 | "
      f"{verdict(r['per_sms'] <= 1.5)} |")
    w(f"| … including Lambda's SQS polling | {r['per_sms_with_polling']:.2f} | | |")
    w(f"| … of which the send path alone (producer + send-worker) | {r['per_sms_send_path']:.2f} | | |")
    w(f"| USD per million SMS invites (AWS; incl. polling) | ${r['usd_sms']:.2f} (${r['usd_sms_polling']:.2f}) | | |")
    w(f"| USD per million email invites (AWS, incl. SES) | ${r['usd_email']:.2f} | | |")
    for name, ratio in sorted(r["cold_ratio"].items()):
        w(f"| Cold start `{name}` ÷ hello world | {ratio:.2f}× ({r['cold_median'][name] * 1e3:.1f} ms vs "
          f"{r['cold_median'][HELLO] * 1e3:.1f} ms) | ≤ 1.3× | {verdict(ratio <= 1.3)} |")
    for name, e in sorted(sz.items()):
        if name == HELLO:
            continue
        if e.get("arm64_fresh"):
            w(f"| Zip `{name}` (arm64, sam build) | {mb(e['arm64_zip'])} | ≤ 3 MB | {verdict(e['arm64_zip'] <= 3e6)} |")
        else:
            w(f"| Zip `{name}` (host {platform.machine()} release, stand-in for arm64) | {mb(e['host_zip'])} | "
              f"≤ 3 MB | {verdict(e['host_zip'] <= 3e6)} |")
    w(f"| Segments per SMS invite: billed ÷ minimum for its text | {r['seg_billed_mean']:.2f} ÷ "
      f"{r['seg_min_mean']:.2f} = {r['seg_billed_mean'] / r['seg_min_mean']:.2f} | 1.00 | "
      f"{verdict(abs(r['seg_billed_mean'] - r['seg_min_mean']) < 1e-9)} |")
    w("")
    w("## Throughput")
    w("")
    skipped = ", ".join(f"{k} {v}" for k, v in p["skipped"].items()) or "none"
    w(f"{p['invites']} host invitations ({p['sms']} SMS, {p['email']} email; recipients' ZIPs {', '.join(p['zips'])}, "
      f"all inside sending hours) stored and enqueued by `bench-invites` (debug build; 250 at a time, four at once) in "
      f"{p['produce_seconds']:.1f} s (sealing {p['seal_seconds']:.1f} s, then DynamoDB {p['store_seconds']:.1f} s and SQS "
      f"{p['enqueue_seconds']:.1f} s summed over the steps); the queue's "
      f"event source was switched on then, so that the send rate is the senders' and not the producer's. All final "
      f"{p['final_seconds'] - p['produce_seconds']:.1f} s later: sent {p['sent']}, failed {p['failed']}, unknown {p['unknown']}, "
      f"skipped {skipped}, deferred {p['deferred']}. SmsSendRate = EmailSendRate = {args.mps}, "
      f"SendMaxConcurrency = {args.concurrency} ({args.mps / args.concurrency:g} texts/s per worker), SendBatchSize = "
      f"{args.batch}, Twilio emulator "
      f"limited to {args.mps} messages/s.")
    span = out["span"]
    if span:
        w(f"The emulator created {out['created']} texts from {out['create_requests']} Create Message requests; the first "
          f"and last request {span[1] - span[0]:.1f} s apart (the emulator's request count sampled every 0.1 s): "
          f"(texts − 1) ÷ that span = {r['rate']:.2f}/s.")
        w(f"Between the 10th and the 90th percentile request the rate was {r['middle_rate']:.2f}/s: the rest of the "
          f"span is the start (every worker receives, gates and claims its first batch at once, on a moto that answers "
          f"one request at a time) and the drain (batches of {args.batch} at {args.mps / args.concurrency:g} texts/s "
          f"take a worker about {args.batch * (1 - 1 / args.email_every) * args.concurrency / args.mps:.1f} s, and near the end some workers "
          f"still have one while the others have none left).")
    b = r["batches"]
    # The worker's limiter: a burst of what BURST_SECONDS of its share allows.
    share = args.mps / args.concurrency
    burst = max(1, math.floor(share * limiter_burst_seconds()))
    credit = (burst - 1) / share
    w(f"Where a send worker's time went, per batch of up to {args.batch} ({b['batches']} batches): invocation {b['invocation']:.2f} s "
      f"on average, of which reading the batch and its gates, gating and claiming until the first text "
      f"{b['claim']:.2f} s and first to last text {b['sending']:.2f} s (a worker's texts are "
      f"{args.concurrency / args.mps * 1e3:.0f} ms apart after a burst of up to {burst}); between two batches of one worker (recording outcomes, "
      f"answering, the poller's delete and next receive) {b['between']:.2f} s (median). The rate limiter gives "
      f"back at most {credit:.1f} s of the time a worker idled (its burst, so that the fleet never exceeds the provider's "
      f"limit), so the fleet's rate is at most its configured rate × (time sending + {credit:.1f} s) ÷ time per batch; "
      "moto's answer times are in the table below.")
    w("")
    w("## AWS requests")
    w("")
    w(f"Counted by a proxy in front of moto from the first invite stored until the last status callback "
      f"({out['window_seconds']:.0f} s): rising's {r['rising']:.0f} requests, Lambda's SQS poller {r['poller']:.0f}; "
      f"{r['five_xx']:.0f} answers that were moto 5xx (retried by the SDKs) are left out. Per SMS invite = requests "
      f"shared by both channels ÷ all invites + SMS-only requests (sms-status) ÷ SMS invites.")
    w("")
    w(f"`sms-status` handled the status callbacks of {out['sampled_texts']} of the {out['callback_texts']} texts "
      f"({out['posted_callbacks']} callbacks); its DynamoDB requests and invocations are scaled by {r['scale']:.2f} to "
      "every text (each callback is handled alike).")
    w("")
    w("| Origin | Service | Operation | Requests counted | Per invite | moto's mean answer |")
    w("|---|---|---|---|---|---|")
    for (origin, service, op, cls), n in sorted(out["requests"].items(), key=lambda kv: (kv[0][0], -kv[1])):
        if cls == "ok":
            scaled = n * (r["scale"] if origin == "sms-status" and service == "dynamodb" else 1)
            latency = out["seconds"].get((origin, service, op, cls), 0.0) / n * 1e3
            w(f"| {origin} | {service} | {op} | {n} | {scaled / p['invites']:.3f} | {latency:.0f} ms |")
    w("")
    w("Lambda invocations (duration as the stack measured it; GB-seconds at the template's memory size): " + "; ".join(
        f"`{b}` {len(d)} × mean {statistics.fmean(d) * 1e3:.0f} ms" for b, d in sorted(out["invocations"].items())) + ".")
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(out["callback_statuses"].items()))
    w(f"Status callbacks: the emulator made {out['callbacks']} ({out['callbacks'] / max(out['created'], 1):.2f} per "
      f"text), each an HTTP API request and a `sms-status` invocation. During the sends they went to a relay in the "
      f"benchmark (which recorded {out['recorded_callbacks']}), then were delivered in order, signed for the stack's "
      f"URL, to `sms-status` through the stack's gateway in {out['callback_seconds']:.0f} s (answers {statuses}): "
      "on two cores they would otherwise take CPU from the sends they report on, which in AWS run apart.")
    w("")
    w("Cost per service (USD for this run; attribution: shared, SMS-only, email-only, polling):")
    w("")
    w("| Service | Attribution | USD this run |")
    w("|---|---|---|")
    for (service, a), v in sorted(r["cost"].items()):
        w(f"| {service} | {a} | {v:.6f} |")
    w("")
    w("DynamoDB request units: " + ", ".join(f"{k.upper()} {o} {u:g}" for (k, o), u in sorted(r["units"].items()))
      + ". Item sizes of every item after the run (read inside moto): " + ", ".join(
        f"{k} {v:.0f} B" for k, v in sorted(out["item_sizes"].items())) + ".")
    w("")
    w(PRICE_TEXT)
    w("")
    w("## Cold start")
    w("")
    w(f"Release binaries (the profile `sam build` deploys: LTO, one codegen unit, stripped) for the host "
      f"({platform.machine()}), built in this run and copied out in one pass as Lambda unpacks a zip (started "
      "from the linker's own file, the same bytes take up to 13% longer), each started "
      f"{args.cold_runs} times (after one warm-up, interleaved) "
      "against a local Lambda Runtime API with its environment from the stack; init = spawn to the first "
      "`GET /runtime/invocation/next`. Median (min–max):")
    w("")
    diagnostic = any(ONE_CERT in name for name in out["cold"])
    w("| Binary | Init median | min–max | ÷ hello world |"
      + (" With a one-certificate trust store (diagnostic) |" if diagnostic else ""))
    w("|---|---|---|---|" + ("---|" if diagnostic else ""))
    for name, times in sorted(out["cold"].items()):
        if ONE_CERT in name:
            continue
        ratio = r["cold_ratio"].get(name, 1.0)
        one = out["cold"].get(name + ONE_CERT)
        diag = (f" {statistics.median(one) * 1e3:.2f} ms ({statistics.median(one) / r['cold_median'][HELLO]:.2f}×) |"
                if one else " not measured |" if diagnostic else "")
        w(f"| `{name}` | {statistics.median(times) * 1e3:.2f} ms | {min(times) * 1e3:.2f}–{max(times) * 1e3:.2f} ms | "
          f"{ratio:.2f}× |{diag}")
    w("")
    if diagnostic:
        w("The last column starts each binary with `SSL_CERT_FILE` = one certificate and `SSL_CERT_DIR` = an empty "
          "directory: a difference would be time its init spends loading the system's root certificates (here "
          "a bundle plus a directory of certificates; Lambda's provided.al2023 has its own store). rising compiles "
          "Mozilla's roots in (`rising_core::aws`), so none should show one.")
    else:
        w("rising compiles Mozilla's roots in (`rising_core::aws`) and reads no system certificate store: "
          "`--cert-diagnostic` adds a column with each binary started on a one-certificate store, which would "
          "show the time an init spends loading the system's (none did when it was last run).")
    w("")
    w("## Zip sizes")
    w("")
    w("| Binary | Host release binary | Host zip | arm64 zip (.aws-sam/build) |")
    w("|---|---|---|---|")
    for name, e in sorted(sz.items()):
        arm = "none"
        if "arm64_zip" in e:
            arm = mb(e["arm64_zip"]) + ("" if e["arm64_fresh"] else f" (stale: built {e['arm64_built']:%Y-%m-%d %H:%M} "
                                       "UTC, before the latest source change; not used)")
        w(f"| `{name}` | {mb(e['host_binary'])} | {mb(e['host_zip'])} | {arm} |")
    w("")
    w("Zips are deflated like `sam build`'s (one `bootstrap` file). `make bench` does not run `sam build` (10–15 "
      "minutes cold): run `make build` first to measure the arm64 zips themselves.")
    w("")
    w("## Segments")
    w("")
    w(f"{p['sms']} SMS invitations rotating over {len(p['texts'])} host-written texts. Billed = `num_segments` the "
      "emulator (its own segment counter) recorded for each text created; minimum = "
      "`rising_core::sms::segments(normalise(text))`.")
    w("")
    w("| Text | Invites | Segments as sent | Minimum |")
    w("|---|---|---|---|")
    for t in p["texts"]:
        w(f"| {t['template'] + 1} | {t['invites']} | {t['segments_sent']} | {t['segments_min']} |")
    w(f"| mean | | {r['seg_sent_mean']:.2f} (billed {r['seg_billed_mean']:.2f}) | {r['seg_min_mean']:.2f} |")
    w("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--invites", type=int, default=5000)
    ap.add_argument("--email-every", type=int, default=5, help="every K-th invite is an email (default 5: 20%%)")
    ap.add_argument("--mps", type=int, default=50, help="SmsSendRate, EmailSendRate and the emulator's limit")
    ap.add_argument("--concurrency", type=int, default=template_default("SendMaxConcurrency"),
                    help="SendMaxConcurrency: send workers (default: the template's, %(default)s)")
    ap.add_argument("--batch", type=int, default=100,
                    help="SendBatchSize: messages per worker invocation (default 100, the template's maximum: 80 "
                         "texts, 3.2 s at 25 texts/s with two workers, and 5,000 invites in 50 batches)")
    ap.add_argument("--cold-runs", type=int, default=9)
    ap.add_argument("--callback-texts", type=int, default=400,
                    help="texts whose status callbacks are delivered to sms-status and counted (default 400)")
    ap.add_argument("--timeout", type=int, default=420, help="seconds the invites may take to be final")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--cert-diagnostic", action="store_true",
                    help="also start each binary with a one-certificate trust store (SSL_CERT_FILE/SSL_CERT_DIR)")
    ap.add_argument("--profile", default="release", choices=["release", "debug"],
                    help="profile of the function and hello-world binaries measured (debug: quick trial runs only)")
    ap.add_argument("--output", default=str(RESULTS))
    args = ap.parse_args()
    global BIN
    BIN = release_bin() if args.profile == "release" else TARGET / "debug"
    started_wall = dt.datetime.now(dt.timezone.utc)
    started = time.monotonic()
    functions = template_functions()
    builds = {"debug": 0.0, "release": 0.0} if args.no_build else build(functions)
    out: dict = {}
    run_stack(args, functions, out)
    sz = sizes(functions)
    r = analyse(args, out)
    text = report(args, out, r, sz, builds, started_wall, time.monotonic() - started)
    Path(args.output).write_text(text)
    print(text)
    say(f"written to {Path(args.output).relative_to(REPO) if Path(args.output).is_relative_to(REPO) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
