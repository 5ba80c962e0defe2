"""Tests of the local SNS event source in infra/local/stack.py (the SNS records Lambda delivers, the events read from
the template, retries then the dead-letter queue, the listener moto posts to) and of the resource creators for SES
configuration sets, their event destinations and SNS topic policies, against fakes. The real template's topic is
published to end to end in test_stack_up.py.

    .venv/bin/python -m unittest discover -s infra/local
"""
from __future__ import annotations

import base64
import json
import sys
import threading
import unittest
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import stack  # noqa: E402
from stack import (  # noqa: E402
    FunctionSpec, Invocation, Resolver, SnsDelivery, SnsEventSource, SnsListener, StackError, fallback_attrs,
    parameter_values, sns_event, sns_event_sources, sns_message_attributes,
)

REGION = "us-east-1"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:rising-local-Events"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:rising-local-Dlq"
QUEUE_URL = "http://127.0.0.1:5000/123456789012/rising-local-Dlq"
SUBSCRIPTION_ARN = TOPIC_ARN + ":2c8a4262-e5da-42ab-a708-71ef0d18aaa7"


def moto_notification(**overrides) -> dict:
    """The JSON moto's SNS POSTs to an http subscription (Subscription.get_post_data)."""
    body = {
        "Type": "Notification",
        "MessageId": "82833b5c-8d5d-56d0-b0e1-7511f8253eb8",
        "TopicArn": TOPIC_ARN,
        "Message": '{"notificationType":"Bounce"}',
        "Timestamp": "2026-03-01T10:00:00.123Z",
        "SignatureVersion": "2",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
    }
    body.update(overrides)
    return body


def reference_event() -> dict | None:
    for base in (stack.REPO.parent / "shared", Path("/work/shared")):
        path = base / "reference" / "aws-events" / "example-sns-event.json"
        if path.exists():
            return json.loads(path.read_text())
    return None


class SnsEventTest(unittest.TestCase):
    def test_every_field_from_moto_s_post(self):
        [record] = sns_event(moto_notification(Subject="Greetings"), SUBSCRIPTION_ARN)["Records"]
        self.assertEqual(list(record), ["EventSource", "EventVersion", "EventSubscriptionArn", "Sns"])
        self.assertEqual((record["EventSource"], record["EventVersion"], record["EventSubscriptionArn"]),
                         ("aws:sns", "1.0", SUBSCRIPTION_ARN))
        sns = record["Sns"]
        self.assertEqual(list(sns), ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                                     "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL",
                                     "MessageAttributes"])
        expected = moto_notification(Subject="Greetings")
        for key in ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                    "Signature", "SigningCertURL", "UnsubscribeURL"):
            self.assertEqual(sns[key], expected[key], key)
        self.assertEqual(sns["MessageAttributes"], {})

    def test_subject_is_null_when_absent(self):
        sns = sns_event(moto_notification(), SUBSCRIPTION_ARN)["Records"][0]["Sns"]
        self.assertIn("Subject", sns)
        self.assertIsNone(sns["Subject"])
        self.assertIn('"Subject": null', json.dumps(sns))

    def test_message_attributes_as_lambda_has_them(self):
        notification = moto_notification(MessageAttributes={
            "kind": {"Type": "String", "Value": "bounce"},
            "count": {"Type": "Number", "Value": "3"},
            "blob": {"Type": "Binary", "Value": "AAEC"}})
        sns = sns_event(notification, SUBSCRIPTION_ARN)["Records"][0]["Sns"]
        self.assertEqual(sns["MessageAttributes"], {"kind": {"Type": "String", "Value": "bounce"},
                                                    "count": {"Type": "Number", "Value": "3"},
                                                    "blob": {"Type": "Binary", "Value": "AAEC"}})
        # as Publish takes them
        self.assertEqual(sns_message_attributes({
            "kind": {"DataType": "String", "StringValue": "bounce"},
            "list": {"DataType": "String.Array", "StringValue": '["a","b"]'},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"}}),
            {"kind": {"Type": "String", "Value": "bounce"}, "list": {"Type": "String.Array", "Value": '["a","b"]'},
             "blob": {"Type": "Binary", "Value": base64.b64encode(b"\x00\x01\x02").decode()}})

    def test_matches_the_reference_event(self):
        reference = reference_event()
        if reference is None:
            self.skipTest("no reference event")
        [ref] = reference["Records"]
        [record] = sns_event(moto_notification(Subject="s"), SUBSCRIPTION_ARN)["Records"]
        self.assertEqual(set(record), set(ref))
        self.assertEqual(set(record["Sns"]) - {"MessageAttributes"}, set(ref["Sns"]))
        self.assertEqual((record["EventSource"], record["EventVersion"]), (ref["EventSource"], ref["EventVersion"]))


# --------------------------------------------------------------------------------------------------------------
# Events from the template

def template_with(events: dict, dead_letter: dict | None = None, invoke_config: dict | None = None) -> dict:
    props: dict = {"Events": events}
    if dead_letter is not None:
        props["DeadLetterQueue"] = dead_letter
    if invoke_config is not None:
        props["EventInvokeConfig"] = invoke_config
    return {"Resources": {
        "Events": {"Type": "AWS::SNS::Topic"},
        "Dlq": {"Type": "AWS::SQS::Queue"},
        "Worker": {"Type": "AWS::Serverless::Function", "Properties": props},
        "Other": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
            "Web": {"Type": "HttpApi", "Properties": {"Path": "/x", "Method": "GET"}}}}},
    }}


def sources_of(template: dict) -> list[SnsEventSource]:
    attrs = {"Events": {"Ref": TOPIC_ARN, "TopicArn": TOPIC_ARN, "TopicName": "rising-local-Events"},
             "Dlq": {"Ref": QUEUE_URL, "Arn": QUEUE_ARN, "QueueUrl": QUEUE_URL}}
    resolver = Resolver(template, {}, REGION, lambda lid: attrs[lid])
    return sns_event_sources(template, resolver, {TOPIC_ARN: "Events"}, {QUEUE_ARN: ("Dlq", QUEUE_URL)})


class SnsEventSourcesTest(unittest.TestCase):
    def setUp(self):
        patcher = mock.patch.object(stack, "log", lambda prefix, message: None)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_ref_topic_defaults(self):
        [s] = sources_of(template_with({"E": {"Type": "SNS", "Properties": {"Topic": {"Ref": "Events"}}}}))
        self.assertEqual((s.function, s.event, s.topic, s.topic_arn), ("Worker", "E", "Events", TOPIC_ARN))
        self.assertEqual((s.filter_policy, s.filter_policy_scope, s.retries, s.dead_letter), (None, None, 2, None))
        self.assertEqual(s.path, "/sns/Worker/E")
        self.assertEqual(s.subscription_attributes(), {})

    def test_filter_policy_dead_letter_queue_and_retries(self):
        [s] = sources_of(template_with(
            {"E": {"Type": "SNS", "Properties": {"Topic": {"Ref": "Events"}, "FilterPolicyScope": "MessageBody",
                                                 "FilterPolicy": {"notificationType": ["Bounce"]}}}},
            dead_letter={"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}},
            invoke_config={"MaximumRetryAttempts": 1}))
        self.assertEqual(s.dead_letter, ("SQS", "Dlq", QUEUE_URL))
        self.assertEqual(s.retries, 1)
        self.assertEqual(s.subscription_attributes(), {"FilterPolicyScope": "MessageBody",
                                                       "FilterPolicy": '{"notificationType":["Bounce"]}'})
        # an SNS topic as the dead-letter target
        [s] = sources_of(template_with({"E": {"Type": "SNS", "Properties": {"Topic": TOPIC_ARN}}},
                                       dead_letter={"Type": "SNS", "TargetArn": {"Ref": "Events"}}))
        self.assertEqual(s.dead_letter, ("SNS", "Events", TOPIC_ARN))

    def test_invalid_events_are_clear_errors(self):
        cases = [
            ({"Topic": "arn:aws:sns:us-east-1:123456789012:elsewhere"}, "not a topic of the template"),
            ({"Topic": TOPIC_ARN, "FilterPolicyScope": "Body"}, "FilterPolicyScope"),
        ]
        for props, message in cases:
            with self.subTest(props=props):
                with self.assertRaisesRegex(StackError, message):
                    sources_of(template_with({"E": {"Type": "SNS", "Properties": props}}))
        with self.assertRaisesRegex(StackError, "MaximumRetryAttempts 3 is outside"):
            sources_of(template_with({"E": {"Type": "SNS", "Properties": {"Topic": TOPIC_ARN}}},
                                     invoke_config={"MaximumRetryAttempts": 3}))

    def test_the_real_template(self):
        template = stack.load_template(stack.DEFAULT_TEMPLATE)
        resources = template["Resources"]
        if "EmailEventsFunction" not in resources:
            self.skipTest("template.yaml has no EmailEventsFunction")
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
        sources = {s.function: s for s in sns_event_sources(template, resolver, topics, queues)}
        s = sources["EmailEventsFunction"]
        self.assertEqual((s.topic, s.topic_arn), ("EmailEventsTopic", created["EmailEventsTopic"]["TopicArn"]))
        self.assertEqual(s.dead_letter, ("SQS", "EmailEventsDeadLetterQueue",
                                         created["EmailEventsDeadLetterQueue"]["QueueUrl"]))
        self.assertEqual(s.retries, 2)


# --------------------------------------------------------------------------------------------------------------
# Retries, then the dead-letter queue

class FakePool:
    """Answers invocations with the given outcomes, in order, and keeps the events."""

    def __init__(self, *outcomes: str):
        self.outcomes = list(outcomes)
        self.events: list[dict] = []
        self.stopping = False
        self.spec = FunctionSpec("Worker", "rising-local-Worker", "worker", "arn", 3, 128, "bootstrap", "Text", {}, [])

    def invoke(self, event: bytes, timeout_s: float, queue_timeout_s: float) -> Invocation:
        self.events.append(json.loads(event))
        inv = Invocation(event, timeout_s)
        outcome = self.outcomes.pop(0)
        payload = b'{"errorType":"FakeError","errorMessage":"no such contact"}' if outcome == "error" else b"null"
        inv.finish(outcome, payload)
        return inv


class FakeAws:
    """Records every call made through any client, answers with `answers[method]` (an exception is raised)."""

    def __init__(self, **answers):
        self.calls: list[tuple[str, str, dict]] = []
        self.answers = answers
        self.region = REGION

    def __call__(self, service: str):
        aws = self

        class Client:
            def __getattr__(self, method):
                def call(**kwargs):
                    aws.calls.append((service, method, kwargs))
                    answer = aws.answers.get(method, {})
                    if isinstance(answer, Exception):
                        raise answer
                    return answer
                return call
        return Client()


def source(**kw) -> SnsEventSource:
    args = {"function": "Worker", "event": "E", "topic": "Events", "topic_arn": TOPIC_ARN}
    args.update(kw)
    return SnsEventSource(**args)


class SnsDeliveryTest(unittest.TestCase):
    def setUp(self):
        self.lines: list[str] = []
        patcher = mock.patch.object(stack, "log", lambda prefix, message: self.lines.append(f"[{prefix}] {message}"))
        patcher.start()
        self.addCleanup(patcher.stop)

    def delivery(self, pool: FakePool, aws: FakeAws | None = None, **kw) -> SnsDelivery:
        d = SnsDelivery(source(**kw), pool, 3.0, aws or FakeAws(), pause_s=0)
        d.subscription_arn = SUBSCRIPTION_ARN
        return d

    def test_success_invokes_once_with_the_sns_event(self):
        pool = FakePool("ok")
        self.assertEqual(self.delivery(pool).deliver(moto_notification()), "ok")
        self.assertEqual(pool.events, [sns_event(moto_notification(), SUBSCRIPTION_ARN)])

    def test_two_retries_after_errors(self):
        pool, aws = FakePool("error", "timeout", "ok"), FakeAws()
        self.assertEqual(self.delivery(pool, aws, dead_letter=("SQS", "Dlq", QUEUE_URL)).deliver(moto_notification()),
                         "ok")
        self.assertEqual(len(pool.events), 3)
        self.assertEqual(pool.events[0], pool.events[2])  # the same event each time
        self.assertEqual(aws.calls, [])
        self.assertTrue(any("attempt 3" in line for line in self.lines), self.lines)

    def test_after_the_last_failure_the_event_goes_to_the_dead_letter_queue(self):
        pool, aws = FakePool("error", "crash", "error"), FakeAws()
        result = self.delivery(pool, aws, dead_letter=("SQS", "Dlq", QUEUE_URL)).deliver(moto_notification())
        self.assertEqual(result, "function error")
        self.assertEqual(len(pool.events), 3)
        [(service, method, kwargs)] = aws.calls
        self.assertEqual((service, method, kwargs["QueueUrl"]), ("sqs", "send_message", QUEUE_URL))
        self.assertEqual(json.loads(kwargs["MessageBody"]), pool.events[0])
        attributes = kwargs["MessageAttributes"]
        self.assertEqual(attributes["ErrorMessage"], {"DataType": "String", "StringValue": "no such contact"})
        self.assertEqual(attributes["ErrorCode"]["DataType"], "Number")
        self.assertEqual(attributes["RequestID"]["DataType"], "String")
        self.assertTrue(any("sent to the dead-letter SQS Dlq" in line for line in self.lines), self.lines)
        self.assertFalse(any("Bounce" in line for line in self.lines), self.lines)  # never the message

    def test_without_a_dead_letter_queue_it_is_logged(self):
        pool, aws = FakePool("error", "error", "error"), FakeAws()
        self.assertEqual(self.delivery(pool, aws).deliver(moto_notification()), "function error")
        self.assertEqual(aws.calls, [])
        self.assertTrue(any("no dead-letter queue" in line for line in self.lines), self.lines)

    def test_maximum_retry_attempts_and_an_sns_dead_letter_topic(self):
        pool, aws = FakePool("error"), FakeAws()
        self.delivery(pool, aws, retries=0, dead_letter=("SNS", "Events", TOPIC_ARN)).deliver(moto_notification())
        self.assertEqual(len(pool.events), 1)
        [(service, method, kwargs)] = aws.calls
        self.assertEqual((service, method, kwargs["TopicArn"]), ("sns", "publish", TOPIC_ARN))

    def test_a_failing_dead_letter_queue_is_logged(self):
        pool, aws = FakePool("error"), FakeAws(send_message=RuntimeError("moto is gone"))
        self.delivery(pool, aws, retries=0, dead_letter=("SQS", "Dlq", QUEUE_URL)).deliver(moto_notification())
        self.assertTrue(any("failed (RuntimeError)" in line for line in self.lines), self.lines)

    def test_no_retry_while_the_stack_stops(self):
        pool, aws = FakePool("crash", "ok"), FakeAws()
        d = self.delivery(pool, aws, dead_letter=("SQS", "Dlq", QUEUE_URL))
        d.stopping.set()
        self.assertEqual(d.deliver(moto_notification()), "runtime exited")
        self.assertEqual((len(pool.events), aws.calls), (1, []))


# --------------------------------------------------------------------------------------------------------------
# The listener moto posts to

class SnsListenerTest(unittest.TestCase):
    def setUp(self):
        patcher = mock.patch.object(stack, "log", lambda prefix, message: None)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.listener = SnsListener()
        self.listener.start()
        self.addCleanup(self.listener.stop)

    def post(self, path: str, body: bytes) -> int:
        req = urllib.request.Request(self.listener.url + path, data=body, method="POST",
                                     headers={"Content-Type": "text/plain; charset=UTF-8"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def test_answers_after_the_function_ran(self):
        ran = threading.Event()

        class SlowPool(FakePool):
            def invoke(self, event, timeout_s, queue_timeout_s):
                inv = super().invoke(event, timeout_s, queue_timeout_s)
                ran.set()
                return inv

        pool = SlowPool("error", "ok")
        d = SnsDelivery(source(), pool, 3.0, FakeAws(), pause_s=0)
        d.subscription_arn = SUBSCRIPTION_ARN
        self.listener.deliveries[d.source.path] = d
        self.assertEqual(self.post("/sns/Worker/E", json.dumps(moto_notification()).encode()), 200)
        self.assertTrue(ran.is_set())
        self.assertEqual(len(pool.events), 2)  # the retry, too, before the answer
        self.assertEqual(pool.events[0]["Records"][0]["EventSubscriptionArn"], SUBSCRIPTION_ARN)

    def test_confirmations_unknown_paths_and_bad_bodies(self):
        pool = FakePool()
        self.listener.deliveries["/sns/Worker/E"] = SnsDelivery(source(), pool, 3.0, FakeAws(), pause_s=0)
        confirmation = moto_notification(Type="SubscriptionConfirmation", SubscribeURL="http://x", Token="t")
        self.assertEqual(self.post("/sns/Worker/E", json.dumps(confirmation).encode()), 200)
        self.assertEqual(pool.events, [])
        self.assertEqual(self.post("/sns/Nobody/E", json.dumps(moto_notification()).encode()), 404)
        self.assertEqual(self.post("/sns/Worker/E", b"not json"), 400)

    def test_stop_ends_pending_retries(self):
        d = SnsDelivery(source(), FakePool(), 3.0, FakeAws())
        self.listener.deliveries[d.source.path] = d
        self.listener.stop()
        self.assertTrue(d.stopping.is_set())
        self.assertFalse(self.listener.serving)


# --------------------------------------------------------------------------------------------------------------
# Resource creators

class ResourceCreatorsTest(unittest.TestCase):
    def setUp(self):
        self.lines: list[str] = []
        patcher = mock.patch.object(stack, "log", lambda prefix, message: self.lines.append(message))
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_the_new_types_are_created(self):
        for rtype in ("AWS::SES::ConfigurationSet", "AWS::SES::ConfigurationSetEventDestination",
                      "AWS::SNS::TopicPolicy"):
            self.assertIn(rtype, stack.RESOURCE_CREATORS)

    def test_configuration_set_with_suppression_options(self):
        aws = FakeAws()
        attrs, env = stack.create_ses_configuration_set(aws, "EmailConfigurationSet", {
            "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]}})
        self.assertEqual(aws.calls, [("sesv2", "create_configuration_set", {
            "ConfigurationSetName": "rising-local-EmailConfigurationSet",
            "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]}})])
        self.assertEqual((attrs, env), ({"Ref": "rising-local-EmailConfigurationSet"},
                                        {"NAME": "rising-local-EmailConfigurationSet"}))
        aws = FakeAws()
        stack.create_ses_configuration_set(aws, "Plain", {"Name": "named"})
        self.assertEqual(aws.calls, [("sesv2", "create_configuration_set", {"ConfigurationSetName": "named"})])

    def test_event_destination(self):
        props = {"ConfigurationSetName": "rising-local-EmailConfigurationSet", "EventDestination": {
            "Name": "bounces-and-complaints", "Enabled": True, "MatchingEventTypes": ["bounce", "complaint"],
            "SnsDestination": {"TopicARN": TOPIC_ARN}}}
        aws = FakeAws()
        attrs, env = stack.create_ses_event_destination(aws, "EmailEventDestination", props)
        self.assertEqual(aws.calls, [("ses", "create_configuration_set_event_destination", {
            "ConfigurationSetName": "rising-local-EmailConfigurationSet", "EventDestination": {
                "Name": "bounces-and-complaints", "Enabled": True, "MatchingEventTypes": ["bounce", "complaint"],
                "SNSDestination": {"TopicARN": TOPIC_ARN}}})])
        self.assertEqual(attrs["Ref"], "bounces-and-complaints")
        # refused by moto: logged, not fatal
        aws = FakeAws(create_configuration_set_event_destination=RuntimeError("not implemented"))
        stack.create_ses_event_destination(aws, "EmailEventDestination", props)
        self.assertTrue(any("not emulated" in line for line in self.lines), self.lines)

    def test_topic_policy_on_each_topic(self):
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish"}]}
        aws = FakeAws()
        attrs, env = stack.create_sns_topic_policy(aws, "EmailEventsTopicPolicy", {
            "Topics": [TOPIC_ARN, TOPIC_ARN + "2"], "PolicyDocument": policy})
        self.assertEqual([(c[0], c[1], c[2]["TopicArn"], c[2]["AttributeName"]) for c in aws.calls],
                         [("sns", "set_topic_attributes", TOPIC_ARN, "Policy"),
                          ("sns", "set_topic_attributes", TOPIC_ARN + "2", "Policy")])
        self.assertEqual(json.loads(aws.calls[0][2]["AttributeValue"]), policy)
        self.assertEqual(env, {})
        aws = FakeAws(set_topic_attributes=RuntimeError("no"))
        stack.create_sns_topic_policy(aws, "EmailEventsTopicPolicy", {"Topics": [TOPIC_ARN], "PolicyDocument": policy})
        self.assertTrue(any("not emulated" in line for line in self.lines), self.lines)

    def test_the_destination_follows_the_policy_and_the_topic(self):
        template = stack.load_template(stack.DEFAULT_TEMPLATE)
        resources = template["Resources"]
        if "EmailEventDestination" not in resources:
            self.skipTest("template.yaml has no EmailEventDestination")
        ids = [lid for lid, r in resources.items() if r["Type"] in stack.RESOURCE_CREATORS]
        order = stack.creation_order(resources, ids)
        for before in ("EmailEventsTopicPolicy", "EmailEventsTopic", "EmailConfigurationSet"):
            self.assertLess(order.index(before), order.index("EmailEventDestination"), before)


if __name__ == "__main__":
    unittest.main()
