"""Tests of the local EventBridge schedule event source in infra/local/stack.py (schedule expressions, the scheduled
event, the events read from the template, --schedule-period, retries then the dead-letter queue through the shared
asynchronous invocation) and of the local Lambda Invoke API (LAMBDA_ENDPOINT_URL), in process with fake pools, then
end to end (`stack.py up --schedule-period 1`, real moto, the fake function of fakes.py).

    .venv/bin/python -m unittest discover -s infra/local
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import stack  # noqa: E402
from fakes import write_fakes  # noqa: E402
from stack import (  # noqa: E402
    AsyncInvokeConfig, AsyncInvoker, FunctionSpec, InvokeApi, Invocation, Resolver, ScheduleSource, Scheduler,
    SnsDelivery, SnsEventSource, StackError, fallback_attrs, parameter_values, parse_schedule_expression,
    schedule_event, schedule_payload, schedule_sources,
)
from test_sns_source import FakeAws  # noqa: E402
from test_stack_up import StackProcess, moto_client  # noqa: E402

REGION = "us-east-1"
ACCOUNT = stack.ACCOUNT_ID
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:rising-local-Dlq"
QUEUE_URL = "http://127.0.0.1:5000/123456789012/rising-local-Dlq"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:rising-local-Alarms"
TIME_FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def reference_event() -> dict | None:
    for base in (stack.REPO.parent / "shared", Path("/work/shared")):
        path = base / "reference" / "aws-events" / "example-eventbridge-schedule.json"
        if path.exists():
            return json.loads(path.read_text())
    return None


def quiet_logs(test: unittest.TestCase) -> list[str]:
    """Replaces the stack's log with a list of its lines for the test."""
    lines: list[str] = []
    patcher = mock.patch.object(stack, "log", lambda prefix, message: lines.append(f"[{prefix}] {message}"))
    patcher.start()
    test.addCleanup(patcher.stop)
    return lines


# --------------------------------------------------------------------------------------------------------------
# Schedule expressions

class ScheduleExpressionTest(unittest.TestCase):
    def test_rates(self):
        for text, seconds in (("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600),
                              ("rate(12 hours)", 43200), ("rate(1 day)", 86400), ("rate(7 days)", 604800),
                              (" rate(10 minutes) ", 600)):
            with self.subTest(text=text):
                self.assertEqual(parse_schedule_expression(text, "F.Events.E"), ("rate", float(seconds)))

    def test_cron_and_at(self):
        self.assertEqual(parse_schedule_expression("cron(0 12 * * ? *)", "w"), ("cron", None))
        self.assertEqual(parse_schedule_expression("cron(0/15 8-17 ? * MON-FRI *)", "w"), ("cron", None))
        self.assertEqual(parse_schedule_expression("at(2026-01-31T09:00:00)", "w", at_allowed=True), ("at", None))

    def test_bad_expressions_are_clear_errors(self):
        cases = [
            ("rate(1 minutes)", "wants rate\\(1 minute\\)"),
            ("rate(5 minute)", "wants rate\\(5 minutes\\)"),
            ("rate(2 hour)", "wants rate\\(2 hours\\)"),
            ("rate(0 minutes)", "positive integer"),
            ("rate(-1 minutes)", "whole number"),
            ("rate(1.5 hours)", "whole number"),
            ("rate(five minutes)", "whole number"),
            ("rate(5 weeks)", "not minute\\(s\\), hour\\(s\\) or day\\(s\\)"),
            ("rate(5 Minutes)", "not minute\\(s\\)"),
            ("rate()", "whole number"),
            ("rate(5minutes)", "whole number"),
            ("every 5 minutes", "is not a schedule expression"),
            ("cron(0 12 * * *)", "has 5 field\\(s\\); EventBridge's cron has six"),
            ("cron(0 12 * * MON *)", "one of day-of-month and day-of-week must be \\?"),
            ("at(2026-01-31T09:00:00)", "is not a schedule expression"),  # only EventBridge Scheduler has at()
            ("", "is not a string"),
            (None, "is not a string"),
            (5, "is not a string"),
        ]
        for text, message in cases:
            with self.subTest(text=text):
                with self.assertRaisesRegex(StackError, "^Fn.Events.Tick: .*" + message):
                    parse_schedule_expression(text, "Fn.Events.Tick")
        with self.assertRaisesRegex(StackError, "not at\\(yyyy-mm-ddThh:mm:ss\\)"):
            parse_schedule_expression("at(tomorrow)", "w", at_allowed=True)


# --------------------------------------------------------------------------------------------------------------
# The scheduled event

def source(**kw) -> ScheduleSource:
    args = {"function": "Worker", "event": "Tick", "expression": "rate(5 minutes)", "kind": "rate", "rate_s": 300.0}
    args.update(kw)
    return ScheduleSource(**args)


class ScheduleEventTest(unittest.TestCase):
    NOW = dt.datetime(2026, 3, 1, 10, 4, 5, 678901, tzinfo=dt.timezone.utc)

    def test_every_key(self):
        event = schedule_event(source(), REGION, self.NOW)
        self.assertEqual(list(event), ["version", "id", "detail-type", "source", "account", "time", "region",
                                       "resources", "detail"])
        self.assertEqual(event["version"], "0")
        self.assertEqual(uuid.UUID(event["id"]).version, 4)
        self.assertEqual((event["detail-type"], event["source"]), ("Scheduled Event", "aws.events"))
        self.assertEqual(event["account"], ACCOUNT)
        self.assertEqual(event["time"], "2026-03-01T10:04:05Z")
        self.assertEqual(event["region"], REGION)
        self.assertEqual(event["resources"], [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/Worker-Tick"])
        self.assertEqual(event["detail"], {})

    def test_the_account_is_the_one_of_the_stack_s_arns(self):
        function_arn = fallback_attrs("Worker", {"Type": "AWS::Serverless::Function"}, REGION)["Arn"]
        self.assertEqual(schedule_event(source(), REGION)["account"], function_arn.split(":")[4])

    def test_matches_the_reference_event(self):
        reference = reference_event()
        if reference is None:
            self.skipTest("no reference event")
        event = schedule_event(source(name="my-scheduled-rule"), reference["region"], self.NOW,
                               account_id=reference["account"])
        self.assertEqual(list(event), list(reference))
        for key in ("version", "detail-type", "source", "account", "region", "resources", "detail"):
            self.assertEqual(event[key], reference[key], key)
        self.assertRegex(reference["time"], TIME_FORMAT)
        self.assertEqual({k: type(v) for k, v in event.items()}, {k: type(v) for k, v in reference.items()})

    def test_name_arn_region_and_account(self):
        event = schedule_event(source(name="nightly-digest"), "eu-west-1", self.NOW, account_id="000000000000")
        self.assertEqual(event["resources"], ["arn:aws:events:eu-west-1:000000000000:rule/nightly-digest"])
        self.assertEqual(source(name="nightly-digest").rule_arn("eu-west-1", "000000000000"),
                         event["resources"][0])

    def test_time_is_utc_to_the_second(self):
        self.assertEqual(schedule_event(source(), REGION, dt.datetime(2026, 3, 1, 10, 4, 5))["time"],
                         "2026-03-01T10:04:05Z")  # naive: UTC
        paris = dt.timezone(dt.timedelta(hours=1))
        self.assertEqual(schedule_event(source(), REGION, dt.datetime(2026, 3, 1, 11, 4, 5, tzinfo=paris))["time"],
                         "2026-03-01T10:04:05Z")
        self.assertEqual(schedule_event(source(), REGION, self.NOW.timestamp())["time"], "2026-03-01T10:04:05Z")
        before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        now = dt.datetime.strptime(schedule_event(source(), REGION)["time"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.timezone.utc)
        self.assertTrue(before <= now <= dt.datetime.now(dt.timezone.utc), now)
        self.assertRegex(schedule_event(source(), REGION)["time"], TIME_FORMAT)

    def test_a_fresh_id_each_time(self):
        ids = {schedule_event(source(), REGION)["id"] for _ in range(20)}
        self.assertEqual(len(ids), 20)

    def test_input_replaces_the_event(self):
        text = '{"job": "reminders",  "dry_run": false}'
        payload, event_id = schedule_payload(source(input=text), REGION, self.NOW)
        self.assertEqual(payload, text.encode())  # as written, like EventBridge
        self.assertEqual(uuid.UUID(event_id).version, 4)
        payload, event_id = schedule_payload(source(), REGION, self.NOW)
        self.assertEqual(json.loads(payload)["id"], event_id)


# --------------------------------------------------------------------------------------------------------------
# Events from the template

def template_with(events: dict, dead_letter: dict | None = None, invoke_config: dict | None = None,
                  globals_fn: dict | None = None) -> dict:
    props: dict = {"Events": events}
    if dead_letter is not None:
        props["DeadLetterQueue"] = dead_letter
    if invoke_config is not None:
        props["EventInvokeConfig"] = invoke_config
    template = {"Parameters": {"Stage": {"Type": "String", "Default": "dev"}}, "Resources": {
        "Dlq": {"Type": "AWS::SQS::Queue"},
        "Alarms": {"Type": "AWS::SNS::Topic"},
        "Worker": {"Type": "AWS::Serverless::Function", "Properties": props},
        "Web": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
            "Api": {"Type": "HttpApi", "Properties": {"Path": "/x", "Method": "GET"}}}}},
    }}
    if globals_fn:
        template["Globals"] = {"Function": globals_fn}
    return template


def sources_of(template: dict, functions: set[str] | None = None) -> list[ScheduleSource]:
    attrs = {"Dlq": {"Ref": QUEUE_URL, "Arn": QUEUE_ARN, "QueueUrl": QUEUE_URL},
             "Alarms": {"Ref": TOPIC_ARN, "TopicArn": TOPIC_ARN}}
    resolver = Resolver(template, {"Stage": "dev"}, REGION, lambda lid: attrs[lid])
    return schedule_sources(template, resolver, {TOPIC_ARN: "Alarms"}, {QUEUE_ARN: ("Dlq", QUEUE_URL)}, functions)


class ScheduleSourcesTest(unittest.TestCase):
    def setUp(self):
        self.lines = quiet_logs(self)

    def test_schedule_defaults(self):
        [s] = sources_of(template_with({"Tick": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}}}))
        self.assertEqual((s.function, s.event, s.event_type, s.expression, s.kind, s.rate_s),
                         ("Worker", "Tick", "Schedule", "rate(5 minutes)", "rate", 300.0))
        self.assertEqual((s.name, s.enabled, s.input, s.retries, s.dead_letter),
                         ("Worker-Tick", True, None, 2, None))
        self.assertEqual(s.rule_arn(REGION), f"arn:aws:events:{REGION}:{ACCOUNT}:rule/Worker-Tick")

    def test_name_input_dead_letter_queue_and_retries(self):
        [s] = sources_of(template_with(
            {"Tick": {"Type": "Schedule", "Properties": {
                "Schedule": "rate(1 hour)", "Name": {"Fn::Sub": "rising-${Stage}-tick"}, "Enabled": True,
                "Input": '{"job": "reminders"}'}}},
            dead_letter={"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}},
            invoke_config={"MaximumRetryAttempts": 1}))
        self.assertEqual((s.name, s.rate_s, s.enabled, s.input), ("rising-dev-tick", 3600.0, True,
                                                                   '{"job": "reminders"}'))
        self.assertEqual((s.retries, s.dead_letter), (1, ("SQS", "Dlq", QUEUE_URL)))
        # from Globals, with an SNS topic as the dead-letter target
        [s] = sources_of(template_with({"Tick": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 day)"}}},
                                       globals_fn={"DeadLetterQueue": {"Type": "SNS", "TargetArn": TOPIC_ARN},
                                                   "EventInvokeConfig": {"MaximumRetryAttempts": 0}}))
        self.assertEqual((s.retries, s.dead_letter), (0, ("SNS", "Alarms", TOPIC_ARN)))

    def test_disabled_schedules(self):
        events = {
            "Off": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)", "Enabled": False}},
            "OffText": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)", "Enabled": "false"}},
            "OffState": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)", "State": "DISABLED"}},
            "OffV2": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 minute)",
                                                           "State": "DISABLED"}},
            "On": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)", "State": "ENABLED"}},
            "OnV2": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 minute)",
                                                          "State": "ENABLED"}},
        }
        enabled = {s.event: s.enabled for s in sources_of(template_with(events))}
        self.assertEqual(enabled, {"Off": False, "OffText": False, "OffState": False, "OffV2": False, "On": True,
                                   "OnV2": True})
        for s in sources_of(template_with(events)):
            if not s.enabled:
                for setting in (0, "rate", 1, 0.5):
                    self.assertIsNone(s.local_period(setting), (s.event, setting))

    def test_schedule_v2(self):
        [s, t] = sources_of(template_with({
            "V2": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "cron(0 9 * * ? *)",
                                                        "Name": "morning", "Input": '{"a": 1}'}},
            "Once": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "at(2026-06-01T09:00:00)"}}}))
        self.assertEqual((s.event_type, s.kind, s.rate_s, s.name, s.input, s.enabled),
                         ("ScheduleV2", "cron", None, "morning", '{"a": 1}', True))
        self.assertEqual((t.kind, t.name), ("at", "Worker-Once"))

    def test_only_schedule_events_of_the_functions_asked_for(self):
        template = template_with({"Tick": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}},
                                  "Q": {"Type": "SQS", "Properties": {"Queue": QUEUE_ARN}}})
        self.assertEqual([s.key for s in sources_of(template)], ["Worker.Tick"])
        self.assertEqual(sources_of(template, functions={"Web"}), [])

    def test_invalid_events_are_clear_errors(self):
        cases = [
            ({"Type": "Schedule", "Properties": {}}, "Worker.Events.E: Schedule is missing"),
            ({"Type": "ScheduleV2", "Properties": {"Schedule": "rate(1 minute)"}},
             "Worker.Events.E: ScheduleExpression is missing"),
            ({"Type": "Schedule", "Properties": {"Schedule": "rate(1 minutes)"}}, "wants rate\\(1 minute\\)"),
            ({"Type": "Schedule", "Properties": {"Schedule": "at(2026-06-01T09:00:00)"}},
             "not a schedule expression"),
            ({"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)", "State": "PAUSED"}},
             "State 'PAUSED' is not one of"),
            ({"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 minute)",
                                                   "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"}},
             "is not one of ENABLED, DISABLED"),
            ({"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)", "Input": "{not json"}},
             "Input is not JSON"),
            ({"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)", "Name": "has spaces"}},
             "Name 'has spaces'"),
        ]
        for event, message in cases:
            with self.subTest(event=event):
                with self.assertRaisesRegex(StackError, message):
                    sources_of(template_with({"E": event}))

    def test_settings_eventbridge_keeps_for_itself_are_logged(self):
        sources_of(template_with({"E": {"Type": "Schedule", "Properties": {
            "Schedule": "rate(1 minute)", "RetryPolicy": {"MaximumRetryAttempts": 3},
            "DeadLetterConfig": {"Type": "SQS"}}}}))
        self.assertTrue(any("DeadLetterConfig, RetryPolicy not emulated" in line for line in self.lines),
                        self.lines)

    def test_the_real_template(self):
        """Every Schedule/ScheduleV2 event of template.yaml is found (there may be none yet); SchedulerFunction's,
        when the template has it, fires at its own rate with --schedule-period rate."""
        template = stack.load_template(stack.DEFAULT_TEMPLATE)
        resources = template["Resources"]
        created = {}
        for lid, r in resources.items():
            if r["Type"] == "AWS::SNS::Topic":
                arn = f"arn:aws:sns:us-east-1:123456789012:rising-local-{lid}"
                created[lid] = {"Ref": arn, "TopicArn": arn}
            elif r["Type"] == "AWS::SQS::Queue":
                url = f"http://moto/123456789012/rising-local-{lid}"
                created[lid] = {"Ref": url, "QueueUrl": url,
                                "Arn": f"arn:aws:sqs:us-east-1:123456789012:rising-local-{lid}"}
        params = parameter_values(template, {}, json.loads(stack.PARAMETERS_FILE.read_text()), {})
        resolver = Resolver(template, params, REGION,
                            lambda lid: created.get(lid) or fallback_attrs(lid, resources[lid], REGION))
        topics = {a["TopicArn"]: lid for lid, a in created.items() if "TopicArn" in a}
        queues = {a["Arn"]: (lid, a["QueueUrl"]) for lid, a in created.items() if "QueueUrl" in a}
        specs = {spec.logical_id for spec in stack.function_specs(template, resolver, REGION)}
        sources = schedule_sources(template, resolver, topics, queues, specs)
        declared = {f"{lid}.{name}" for lid, r in resources.items() if lid in specs
                    for name, e in ((r.get("Properties") or {}).get("Events") or {}).items()
                    if (e or {}).get("Type") in ("Schedule", "ScheduleV2")}
        self.assertEqual({s.key for s in sources}, declared)
        for s in sources:
            self.assertEqual(s.rule_arn(REGION), f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{s.name}")
            self.assertIsNone(s.local_period(0), s.key)  # make test's stack never fires by itself
        scheduler = [s for s in sources if s.function == "SchedulerFunction"]
        if "SchedulerFunction" not in resources:
            self.assertEqual(scheduler, [])
            return
        self.assertTrue(scheduler, "SchedulerFunction has no Schedule event")
        for s in scheduler:
            self.assertEqual(s.kind, "rate", s.expression)
            self.assertEqual(s.local_period("rate"), parse_schedule_expression(s.expression, s.key)[1])
            if s.expression == "rate(5 minutes)":
                self.assertEqual(s.local_period("rate"), 300.0)
            self.assertEqual(s.local_period(60), 60.0)  # make dev


class LocalPeriodTest(unittest.TestCase):
    def test_settings(self):
        rate, cron = source(), source(expression="cron(0 12 * * ? *)", kind="cron", rate_s=None)
        once = source(expression="at(2026-06-01T09:00:00)", kind="at", rate_s=None, event_type="ScheduleV2")
        self.assertEqual([s.local_period(0) for s in (rate, cron, once)], [None, None, None])
        self.assertEqual([s.local_period("rate") for s in (rate, cron, once)], [300.0, 300.0, None])
        self.assertEqual([s.local_period(60) for s in (rate, cron, once)], [60.0, 60.0, 60.0])
        self.assertEqual(rate.local_period(0.25), 0.25)

    def test_startup_descriptions(self):
        cron = source(expression="cron(0 12 * * ? *)", kind="cron", rate_s=None)
        self.assertIn("not fired automatically (--schedule-period 0)", source().describe(0))
        self.assertIn("locally every 300s", source().describe("rate"))
        self.assertIn("locally every 60s", source().describe(60))
        self.assertIn("cron is not played locally: every 300s instead", cron.describe("rate"))
        self.assertIn("disabled: never fired", source(enabled=False).describe(60))
        self.assertIn("its Input", source(input="{}").describe(60))
        self.assertIn("2 retries, dead-letter SQS Dlq", source(dead_letter=("SQS", "Dlq", QUEUE_URL)).describe(60))


class CliTest(unittest.TestCase):
    def test_schedule_period_on_up_and_run(self):
        self.assertEqual(stack.parse_args(["up"]).schedule_period, 0)
        self.assertEqual(stack.parse_args(["up", "--schedule-period", "60"]).schedule_period, 60.0)
        self.assertEqual(stack.parse_args(["up", "--schedule-period", "0.5"]).schedule_period, 0.5)
        self.assertEqual(stack.parse_args(["up", "--schedule-period", "rate"]).schedule_period, "rate")
        self.assertEqual(stack.parse_args(["up", "--schedule-period", "0"]).schedule_period, 0)
        args = stack.parse_args(["run", "--schedule-period", "rate", "--", "true"])
        self.assertEqual((args.schedule_period, args.cmd), ("rate", ["true"]))
        self.assertEqual(stack.parse_args(["run", "--", "true"]).schedule_period, 0)

    def test_bad_periods(self):
        for value in ("-1", "soon", "inf", "nan"):
            with self.subTest(value=value), mock.patch("sys.stderr"):
                with self.assertRaises(SystemExit):
                    stack.parse_args(["up", "--schedule-period", value])


# --------------------------------------------------------------------------------------------------------------
# Firing: Lambda's asynchronous invocation, shared with the SNS event source

class ScriptedPool:
    """A function pool whose invocations end as the event's `do` says (ok, error, timeout, crash, throttled, block:
    waits for `release`), or as the next of `outcomes` when given. Keeps the events; thread-safe."""

    def __init__(self, *outcomes: str, name: str = "Worker", timeout_s: float = 3):
        self.outcomes = list(outcomes)
        self.events: list[Any] = []
        self.lock = threading.Lock()
        self.stopping = False
        self.release = threading.Event()
        self.spec = FunctionSpec(name, f"rising-local-{name}", "worker",
                                 f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rising-local-{name}", timeout_s, 128,
                                 "bootstrap", "Text", {}, [])

    def invoke(self, event: bytes, timeout_s: float, queue_timeout_s: float) -> Invocation:
        decoded = json.loads(event)
        with self.lock:
            self.events.append(decoded)
            outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is None:
            outcome = decoded.get("do", "ok") if isinstance(decoded, dict) else "ok"
        if outcome == "block":
            self.release.wait(10)
            outcome = "ok"
        inv = Invocation(event, timeout_s)
        payload = {"ok": json.dumps({"received": decoded}).encode(),
                   "error": b'{"errorType":"FakeError","errorMessage":"no such gathering"}',
                   "crash": b'{"errorType":"Runtime.ExitError","errorMessage":"Runtime exited (exited with code 3)"}'
                   }.get(outcome, b"")
        inv.finish(outcome, payload)
        return inv

    def count(self) -> int:
        with self.lock:
            return len(self.events)


class FiringTest(unittest.TestCase):
    NOW = dt.datetime(2026, 3, 1, 9, 0, 0, tzinfo=dt.timezone.utc)

    def setUp(self):
        self.lines = quiet_logs(self)

    def scheduler(self, pool: ScriptedPool, *sources: ScheduleSource, aws: FakeAws | None = None,
                  setting: float | str = 0) -> Scheduler:
        s = Scheduler(list(sources), {"Worker": pool}, REGION, setting, aws or FakeAws(), pause_s=0)
        self.addCleanup(s.stop)
        return s

    def test_a_firing_invokes_once_with_the_scheduled_event(self):
        pool, aws = ScriptedPool("ok"), FakeAws()
        tick = source(name="tick")
        self.assertEqual(self.scheduler(pool, tick, aws=aws).fire(tick, self.NOW), "ok")
        [event] = pool.events
        self.assertEqual((event["source"], event["time"], event["resources"]),
                         ("aws.events", "2026-03-01T09:00:00Z", [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/tick"]))
        self.assertEqual(aws.calls, [])
        self.assertEqual(self.lines, [f"[schedule tick] event {event['id']} -> worker: ok"])

    def test_retries_then_the_dead_letter_queue(self):
        pool, aws = ScriptedPool("error", "timeout", "error"), FakeAws()
        tick = source(dead_letter=("SQS", "Dlq", QUEUE_URL))
        self.assertEqual(self.scheduler(pool, tick, aws=aws).fire(tick, self.NOW), "function error")
        self.assertEqual(len(pool.events), 3)
        self.assertEqual(pool.events[0], pool.events[2])  # the same event, id included, each time
        [(service, method, kwargs)] = aws.calls
        self.assertEqual((service, method, kwargs["QueueUrl"]), ("sqs", "send_message", QUEUE_URL))
        self.assertEqual(json.loads(kwargs["MessageBody"]), pool.events[0])
        self.assertEqual(kwargs["MessageAttributes"]["ErrorMessage"],
                         {"DataType": "String", "StringValue": "no such gathering"})
        self.assertEqual(kwargs["MessageAttributes"]["ErrorCode"]["DataType"], "Number")
        event_id = pool.events[0]["id"]
        self.assertEqual(self.lines, [
            f"[schedule Worker-Tick] event {event_id} -> worker: function error (attempt 1 of 3); retrying in 0s",
            f"[schedule Worker-Tick] event {event_id} -> worker: function timed out (attempt 2 of 3); retrying in 0s",
            f"[schedule Worker-Tick] event {event_id} -> worker: function error after 3 attempt(s); sent to the "
            "dead-letter SQS Dlq"])

    def test_a_retry_that_succeeds_sends_nothing_to_the_dead_letter_queue(self):
        pool, aws = ScriptedPool("crash", "ok"), FakeAws()
        tick = source(dead_letter=("SQS", "Dlq", QUEUE_URL))
        self.assertEqual(self.scheduler(pool, tick, aws=aws).fire(tick), "ok")
        self.assertEqual((len(pool.events), aws.calls), (2, []))
        self.assertIn("(attempt 2)", self.lines[-1])

    def test_maximum_retry_attempts_an_sns_target_and_no_dead_letter_queue(self):
        pool, aws = ScriptedPool("error"), FakeAws()
        tick = source(retries=0, dead_letter=("SNS", "Alarms", TOPIC_ARN))
        self.scheduler(pool, tick, aws=aws).fire(tick)
        [(service, method, kwargs)] = aws.calls
        self.assertEqual((len(pool.events), service, method, kwargs["TopicArn"]), (1, "sns", "publish", TOPIC_ARN))
        pool, aws = ScriptedPool("error", "error", "error"), FakeAws()
        tick = source()
        self.scheduler(pool, tick, aws=aws).fire(tick)
        self.assertEqual((len(pool.events), aws.calls), (3, []))
        self.assertIn("no dead-letter queue: the event is lost", self.lines[-1])

    def test_input_is_the_payload_and_never_logged(self):
        secret = f"person-{uuid.uuid4().hex}"
        text = json.dumps({"do": "error", "note": secret})
        pool, aws = ScriptedPool(), FakeAws()
        tick = source(input=text, dead_letter=("SQS", "Dlq", QUEUE_URL))
        self.assertEqual(self.scheduler(pool, tick, aws=aws).fire(tick), "function error")
        self.assertEqual(pool.events, [json.loads(text)] * 3)
        self.assertEqual(aws.calls[0][2]["MessageBody"], text)
        self.assertFalse([line for line in self.lines if secret in line], self.lines)

    def test_fire_without_waiting_and_a_stopping_stack(self):
        pool, aws = ScriptedPool("error", "ok"), FakeAws()
        tick = source(dead_letter=("SQS", "Dlq", QUEUE_URL))
        scheduler = self.scheduler(pool, tick, aws=aws)
        scheduler.stopping.set()  # the stack stops: no retry, nothing to the dead-letter queue
        thread = scheduler.fire(tick, wait=False)
        thread.join(5)
        self.assertEqual((len(pool.events), aws.calls), (1, []))
        self.assertIn("the stack is stopping, dropped", self.lines[-1])

    def test_the_sns_source_uses_the_same_helper(self):
        sns = SnsEventSource(function="Worker", event="E", topic="Alarms", topic_arn=TOPIC_ARN, retries=1,
                             dead_letter=("SQS", "Dlq", QUEUE_URL))
        delivery = SnsDelivery(sns, ScriptedPool(), 3.0, FakeAws(), pause_s=0)
        self.assertIsInstance(delivery.invoker, AsyncInvoker)
        self.assertEqual(delivery.invoker.config, AsyncInvokeConfig(1, ("SQS", "Dlq", QUEUE_URL)))
        self.assertIs(delivery.invoker.stopping, delivery.stopping)
        scheduler = self.scheduler(ScriptedPool(), source())
        self.assertIsInstance(scheduler.invokers["Worker.Tick"], AsyncInvoker)


class SchedulerLoopTest(unittest.TestCase):
    def setUp(self):
        self.lines = quiet_logs(self)

    def run_for(self, seconds: float, setting, *sources: ScheduleSource) -> tuple[Scheduler, ScriptedPool]:
        pool = ScriptedPool()
        scheduler = Scheduler(list(sources), {"Worker": pool}, REGION, setting, FakeAws(), pause_s=0)
        self.addCleanup(scheduler.stop)
        scheduler.start()
        time.sleep(seconds)
        scheduler.stop()
        return scheduler, pool

    def test_enabled_schedules_fire_every_period_disabled_ones_never(self):
        on, off = source(event="On"), source(event="Off", enabled=False)
        scheduler, pool = self.run_for(0.65, 0.1, on, off)
        self.assertGreaterEqual(scheduler.fired["Worker.On"], 4)
        self.assertLessEqual(scheduler.fired["Worker.On"], 7)
        self.assertEqual(scheduler.fired["Worker.Off"], 0)
        time.sleep(0.1)  # the last firing's thread
        self.assertTrue(all(e["resources"] == [on.rule_arn(REGION)] for e in pool.events), pool.events)
        self.assertEqual(len({e["id"] for e in pool.events}), len(pool.events))

    def test_the_first_firing_waits_one_period(self):
        scheduler, pool = self.run_for(0.2, 0.5, source())
        self.assertEqual((scheduler.fired["Worker.Tick"], pool.count()), (0, 0))

    def test_period_zero_never_fires(self):
        scheduler, pool = self.run_for(0.3, 0, source(), source(event="Cron", kind="cron", rate_s=None))
        self.assertIsNone(scheduler.thread)
        self.assertEqual(pool.count(), 0)

    def test_rate_setting_uses_each_expression(self):
        scheduler = Scheduler([source(event="Five"), source(event="Cron", kind="cron", rate_s=None),
                               source(event="Off", enabled=False)], {"Worker": ScriptedPool()}, REGION, "rate")
        self.assertEqual(scheduler.periods(), {"Worker.Five": 300.0, "Worker.Cron": 300.0})

    def test_stop_ends_the_loop(self):
        scheduler = Scheduler([source()], {"Worker": ScriptedPool()}, REGION, 0.05, FakeAws(), pause_s=0)
        scheduler.start()
        scheduler.stop()
        self.assertFalse(scheduler.thread.is_alive())


# --------------------------------------------------------------------------------------------------------------
# The local Invoke API, in process

class InvokeApiTest(unittest.TestCase):
    def setUp(self):
        self.lines = quiet_logs(self)
        self.pool = ScriptedPool()
        self.aws = FakeAws()
        self.api = InvokeApi(REGION)
        self.api.add(self.pool.spec, self.pool, AsyncInvoker(
            self.pool, 3, AsyncInvokeConfig(2, ("SQS", "Dlq", QUEUE_URL)), self.aws, "invoke Worker", pause_s=0))
        self.api.start()
        self.addCleanup(self.api.stop)
        self.addCleanup(self.pool.release.set)

    def invoke(self, name: str = "Worker", body: bytes | None = b"{}", kind: str | None = None,
               query: str = "") -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.api.server_address[1], timeout=20)
        self.addCleanup(conn.close)
        headers = {"Content-Type": "application/json"}
        if kind:
            headers["X-Amz-Invocation-Type"] = kind
        path = f"/2015-03-31/functions/{urllib.parse.quote(name, safe='')}/invocations" + (f"?{query}" if query else "")
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()

    def test_request_response_answers_the_function_s_payload(self):
        event = schedule_event(source(), REGION, dt.datetime(2026, 3, 1, 12, 0, 0))
        status, headers, body = self.invoke(body=json.dumps(event).encode())
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"received": event})
        self.assertNotIn("x-amz-function-error", headers)
        self.assertEqual(headers["x-amz-executed-version"], "$LATEST")
        self.assertEqual(self.pool.events, [event])
        self.assertEqual(self.aws.calls, [])

    def test_a_function_error_answers_200_with_the_error(self):
        status, headers, body = self.invoke(body=b'{"do": "error"}')
        self.assertEqual((status, headers["x-amz-function-error"]), (200, "Unhandled"))
        self.assertEqual(json.loads(body), {"errorType": "FakeError", "errorMessage": "no such gathering"})
        self.assertEqual(len(self.pool.events), 1)  # a synchronous invocation is not retried
        status, headers, body = self.invoke(body=b'{"do": "timeout"}')
        self.assertEqual((status, headers["x-amz-function-error"]), (200, "Unhandled"))
        self.assertEqual(json.loads(body)["errorType"], "Sandbox.Timedout")
        self.assertIn("Task timed out after 3.00 seconds", json.loads(body)["errorMessage"])
        status, headers, body = self.invoke(body=b'{"do": "crash"}')
        self.assertEqual((status, json.loads(body)["errorType"]), (200, "Runtime.ExitError"))

    def test_event_answers_202_at_once_then_retries_and_dead_letters(self):
        started = time.monotonic()
        status, headers, body = self.invoke(body=b'{"do": "block"}', kind="Event")
        self.assertEqual((status, body), (202, b""))
        self.assertLess(time.monotonic() - started, 5)
        self.assertFalse(self.pool.release.is_set())  # answered while the function still runs
        self.pool.release.set()
        status, _, _ = self.invoke(body=b'{"do": "error"}', kind="Event")
        self.assertEqual(status, 202)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not self.aws.calls:
            time.sleep(0.02)
        [(service, method, kwargs)] = self.aws.calls
        self.assertEqual((service, method, kwargs["QueueUrl"], json.loads(kwargs["MessageBody"])),
                         ("sqs", "send_message", QUEUE_URL, {"do": "error"}))
        self.assertEqual([e for e in self.pool.events if e == {"do": "error"}], [{"do": "error"}] * 3)

    def test_no_free_instance_is_429(self):
        status, headers, body = self.invoke(body=b'{"do": "throttled"}')
        self.assertEqual((status, headers["x-amzn-errortype"]), (429, "TooManyRequestsException"))
        self.assertEqual(json.loads(body)["Reason"], "ReservedFunctionConcurrentInvocationLimitExceeded")

    def test_dry_run_answers_204_and_invokes_nothing(self):
        status, _, body = self.invoke(kind="DryRun")
        self.assertEqual((status, body, self.pool.events), (204, b"", []))

    def test_unknown_function_is_404_resource_not_found(self):
        status, headers, body = self.invoke(name="Nope")
        self.assertEqual(status, 404)
        self.assertEqual(headers["x-amzn-errortype"], "ResourceNotFoundException")
        self.assertEqual(json.loads(body), {"Type": "User", "message": f"Function not found: arn:aws:lambda:"
                                                                      f"{REGION}:{ACCOUNT}:function:Nope"})
        self.assertEqual(self.invoke(query="Qualifier=7")[0], 404)
        self.assertEqual(self.invoke(name="Worker:7")[0], 404)
        self.assertEqual(self.pool.events, [])

    def test_every_name_of_the_function(self):
        for name in ("Worker", "rising-local-Worker", self.pool.spec.arn, self.pool.spec.arn + ":$LATEST",
                     f"{ACCOUNT}:function:rising-local-Worker", "rising-local-Worker:$LATEST"):
            with self.subTest(name=name):
                self.assertEqual(self.invoke(name=name)[0], 200)
        self.assertEqual(self.invoke(query="Qualifier=%24LATEST")[0], 200)

    def test_payload_over_6_mb_is_413(self):
        status, headers, body = self.invoke(body=b'"' + b"x" * (6 * 1024 * 1024 - 1) + b'"')
        self.assertEqual((status, headers["x-amzn-errortype"]), (413, "RequestTooLargeException"))
        self.assertEqual(json.loads(body)["Type"], "User")
        status, _, _ = self.invoke(body=b'"' + b"x" * (6 * 1024 * 1024 - 2) + b'"')  # exactly 6 MB
        self.assertEqual(status, 200)

    def test_body_that_is_not_json_is_400(self):
        status, headers, body = self.invoke(body=b"not json")
        self.assertEqual((status, headers["x-amzn-errortype"]), (400, "InvalidRequestContentException"))
        self.assertTrue(json.loads(body)["message"].startswith("Could not parse request body into json"))
        self.assertEqual(self.invoke(body=b"\xff\xfe")[0], 400)
        self.assertEqual(self.pool.events, [])

    def test_empty_body_is_the_empty_event_and_bad_invocation_types_are_400(self):
        self.assertEqual(self.invoke(body=None)[0], 200)
        self.assertEqual(self.pool.events, [{}])
        status, headers, _ = self.invoke(kind="Later")
        self.assertEqual((status, headers["x-amzn-errortype"]), (400, "InvalidParameterValueException"))

    def test_other_paths_are_unknown_operations(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.api.server_address[1], timeout=20)
        self.addCleanup(conn.close)
        conn.request("GET", "/2015-03-31/functions/Worker")
        r = conn.getresponse()
        self.assertEqual((r.status, r.getheader("x-amzn-ErrorType")), (404, "UnknownOperationException"))
        r.read()

    def test_one_log_line_per_request_never_the_payload(self):
        secret = f"person-{uuid.uuid4().hex}"
        self.invoke(body=json.dumps({"note": secret}).encode())
        self.invoke(body=json.dumps({"do": "error", "note": secret}).encode())
        invoke_lines = wait_until(  # logged once the answer is sent
            lambda: len([x for x in self.lines if x.startswith("[invoke]")]) >= 2
            and [x for x in self.lines if x.startswith("[invoke]")], 5, "two access lines")
        self.assertEqual(len(invoke_lines), 2, self.lines)
        # Each line is written after its answer is sent, so the second request's line can come first.
        ok, failed = sorted(invoke_lines, key=lambda line: "Unhandled" in line)
        self.assertRegex(ok, r"^\[invoke\] Worker RequestResponse -> 200 \(\d+ ms\)$")
        self.assertIn("-> 200, Unhandled: function error", failed)
        self.assertFalse([line for line in self.lines if secret in line])

    def test_an_aws_sdk_reads_every_answer(self):
        import boto3

        client = boto3.client("lambda", endpoint_url=self.api.url, region_name=REGION, aws_access_key_id="x",
                              aws_secret_access_key="x")
        r = client.invoke(FunctionName="Worker", Payload=b'{"a": 1}')
        self.assertEqual((r["StatusCode"], r.get("FunctionError"), json.loads(r["Payload"].read())),
                         (200, None, {"received": {"a": 1}}))
        r = client.invoke(FunctionName=self.pool.spec.arn, Payload=b'{"do": "error"}')
        self.assertEqual((r["StatusCode"], r["FunctionError"]), (200, "Unhandled"))
        self.assertEqual(client.invoke(FunctionName="Worker", InvocationType="DryRun")["StatusCode"], 204)
        self.pool.release.set()
        self.assertEqual(client.invoke(FunctionName="Worker", InvocationType="Event",
                                       Payload=b'{"do": "ok"}')["StatusCode"], 202)
        with self.assertRaises(client.exceptions.ResourceNotFoundException):
            client.invoke(FunctionName="Nope")
        with self.assertRaises(client.exceptions.InvalidRequestContentException):
            client.invoke(FunctionName="Worker", Payload=b"{")


# --------------------------------------------------------------------------------------------------------------
# End to end: `stack.py up --schedule-period 1` with this template, real moto, the fake function

E2E_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 5
Resources:
  FailingDlq:
    Type: AWS::SQS::Queue
  InvokeDlq:
    Type: AWS::SQS::Queue
  Ticker:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: fake-function
    Properties:
      Events:
        EveryMinute:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
            Name: ticker-rule
  Failing:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: fake-function
    Properties:
      DeadLetterQueue:
        Type: SQS
        TargetArn: !GetAtt FailingDlq.Arn
      EventInvokeConfig:
        MaximumRetryAttempts: 1
      Events:
        Nightly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 3 * * ? *)
            Input: '{"do": "error", "note": "SECRET-INPUT-MARKER"}'
  Dormant:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: fake-function
    Properties:
      DeadLetterQueue:
        Type: SQS
        TargetArn: !GetAtt InvokeDlq.Arn
      Events:
        Disabled:
          Type: Schedule
          Properties:
            Schedule: rate(5 minutes)
            Enabled: false
        DisabledV2:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 minute)
            State: DISABLED
"""


def wait_until(check, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s: {what}")


class ScheduleUpTest(unittest.TestCase):
    """One stack for the class, schedules firing every second."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.tmp = Path(cls._tmp.name)
        write_fakes(cls.tmp / "bin", ("fake-function",))
        template = cls.tmp / "template.yaml"
        template.write_text(E2E_TEMPLATE)
        cls.stack = StackProcess(cls.tmp, "up", "--template", str(template), "--schedule-period", "1")
        try:
            cls.env = cls.stack.wait_ready()
        except BaseException:
            cls.stack.kill()
            cls._tmp.cleanup()
            raise
        cls.sqs = moto_client(cls.env, "sqs")

    @classmethod
    def tearDownClass(cls):
        cls.stack.kill()
        cls._tmp.cleanup()

    def deliveries(self, function: str) -> list[dict]:
        path = self.tmp / "bin" / "direct-events.jsonl"
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [x for x in lines if x["function"] == f"rising-local-{function}"]

    def dead_letters(self, queue: str, n: int) -> list[dict]:
        found: dict[str, dict] = {}

        def check():
            for m in self.sqs.receive_message(QueueUrl=self.env[f"{stack.upper_snake(queue)}_URL"],
                                              MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60,
                                              MessageAttributeNames=["All"]).get("Messages", []):
                found[m["MessageId"]] = m
            return len(found) >= n

        wait_until(check, 20, f"{n} message(s) in {queue}", interval=0.3)
        return list(found.values())

    def test_startup_lines_and_the_env_key(self):
        self.assertRegex(self.env["LAMBDA_ENDPOINT_URL"], r"^http://127\.0\.0\.1:\d+$")
        self.assertNotEqual(self.env["LAMBDA_ENDPOINT_URL"], self.env["GATEWAY_URL"])
        keys = [line.partition("=")[0] for line in self.stack.env_file.read_text().splitlines()
                if line and not line.startswith("#")]
        self.assertEqual(keys[keys.index("AWS_ENDPOINT_URL") + 1], "LAMBDA_ENDPOINT_URL")
        logs = self.stack.logs()
        self.assertIn("Schedule event Ticker.EveryMinute: rate(1 minute) -> fake-function, rule ticker-rule, "
                      "locally every 1s, the scheduled event, 2 retries, no dead-letter queue", logs)
        self.assertIn("ScheduleV2 event Failing.Nightly: cron(0 3 * * ? *) -> fake-function, rule Failing-Nightly, "
                      "locally every 1s, its Input, 1 retry, dead-letter SQS FailingDlq", logs)
        self.assertIn("Schedule event Dormant.Disabled: rate(5 minutes) -> fake-function, rule Dormant-Disabled, "
                      "disabled: never fired", logs)
        self.assertIn("ScheduleV2 event Dormant.DisabledV2: rate(1 minute) -> fake-function, rule Dormant-DisabledV2, "
                      "disabled: never fired", logs)

    def test_a_schedule_fires_the_scheduled_event_every_period(self):
        deliveries = wait_until(lambda: len(self.deliveries("Ticker")) >= 2 and self.deliveries("Ticker"), 15,
                                "two firings of Ticker")
        first, second = deliveries[0], deliveries[1]
        for d in (first, second):
            event = d["event"]
            self.assertEqual(list(event), ["version", "id", "detail-type", "source", "account", "time", "region",
                                           "resources", "detail"])
            self.assertEqual((event["version"], event["detail-type"], event["source"], event["account"],
                              event["region"], event["resources"], event["detail"]),
                             ("0", "Scheduled Event", "aws.events", ACCOUNT, self.env["AWS_REGION"],
                              [f"arn:aws:events:{self.env['AWS_REGION']}:{ACCOUNT}:rule/ticker-rule"], {}))
            self.assertRegex(event["time"], TIME_FORMAT)
        self.assertNotEqual(first["event"]["id"], second["event"]["id"])
        self.assertGreater(second["started"] - first["started"], 0.5)
        self.assertIn(f"[schedule ticker-rule] event {first['event']['id']} -> fake-function: ok", self.stack.logs())

    def test_a_failing_schedule_retries_then_dead_letters_its_input(self):
        [message] = self.dead_letters("FailingDlq", 1)[:1]
        self.assertEqual(json.loads(message["Body"]), {"do": "error", "note": "SECRET-INPUT-MARKER"})
        self.assertEqual(message["MessageAttributes"]["ErrorMessage"]["StringValue"], "fake direct failure")
        sent = re.compile(r"\[schedule Failing-Nightly\] event \S+ -> fake-function: function error after 2 "
                          r"attempt\(s\); sent to the dead-letter SQS FailingDlq")
        logs = wait_until(lambda: sent.search(self.stack.logs()) and self.stack.logs(), 5, "the dead-letter line")
        self.assertRegex(logs, r"\[schedule Failing-Nightly\] event \S+ -> fake-function: function error \(attempt 1 "
                               r"of 2\); retrying in 1s")
        self.assertNotIn("SECRET-INPUT-MARKER", logs)

    def test_disabled_schedules_never_fire(self):
        wait_until(lambda: len(self.deliveries("Ticker")) >= 3, 15, "three firings of Ticker")
        self.assertEqual(self.deliveries("Dormant"), [])
        self.assertNotIn("[schedule Dormant-", self.stack.logs())

    def test_the_invoke_api_fires_a_scheduled_function_with_a_chosen_time(self):
        import boto3

        client = boto3.client("lambda", endpoint_url=self.env["LAMBDA_ENDPOINT_URL"],
                              region_name=self.env["AWS_REGION"], aws_access_key_id="x", aws_secret_access_key="x")
        dormant = ScheduleSource(function="Dormant", event="Disabled", expression="rate(5 minutes)", kind="rate",
                                 rate_s=300)
        event = schedule_event(dormant, self.env["AWS_REGION"], dt.datetime(2026, 6, 13, 18, 30, 0))
        for name in ("Dormant", "rising-local-Dormant"):
            r = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
            self.assertEqual((r["StatusCode"], r.get("FunctionError")), (200, None))
            reply = json.loads(r["Payload"].read())
            self.assertEqual(reply["received"], event)
        self.assertEqual([d["event"]["time"] for d in self.deliveries("Dormant")], ["2026-06-13T18:30:00Z"] * 2)
        r = client.invoke(FunctionName="Dormant", Payload=b'{"do": "error"}')
        self.assertEqual((r["StatusCode"], r["FunctionError"]), (200, "Unhandled"))
        self.assertEqual(json.loads(r["Payload"].read())["errorType"], "FakeError")
        self.assertEqual(client.invoke(FunctionName="Dormant", InvocationType="DryRun")["StatusCode"], 204)
        with self.assertRaises(client.exceptions.ResourceNotFoundException):
            client.invoke(FunctionName="Nobody")
        # Event: at once, then Lambda's retries and the function's dead-letter queue
        r = client.invoke(FunctionName="Dormant", InvocationType="Event", Payload=b'{"do": "error", "n": 1}')
        self.assertEqual(r["StatusCode"], 202)
        [message] = self.dead_letters("InvokeDlq", 1)
        self.assertEqual(json.loads(message["Body"]), {"do": "error", "n": 1})
        self.assertEqual(len([d for d in self.deliveries("Dormant") if d["event"] == {"do": "error", "n": 1}]), 3)

    def test_zz_stop_ends_the_schedules(self):
        stopped = ScheduleUpTest.stack.stop()
        self.assertEqual(stopped, 0, self.stack.logs())
        self.assertFalse(self.stack.env_file.exists())


if __name__ == "__main__":
    unittest.main()
