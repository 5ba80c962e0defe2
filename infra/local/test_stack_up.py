"""End-to-end tests of `stack.py up` / `stack.py run`: real moto, real template.yaml, fake binaries (fakes.py)
standing in for the Rust function and the Twilio emulator. A few seconds each.

    .venv/bin/python -m unittest discover -s infra/local
"""
from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fakes import write_fakes  # noqa: E402

STACK = HERE / "stack.py"
CLEAN_ENV_KEYS = ("TWILIO_API_BASE_URL", "TWILIO_EMULATOR_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                  "TWILIO_PHONE_NUMBER", "PUBLIC_BASE_URL", "CONTACT_HASH_KEY", "GATEWAY_PORT", "AWS_REGION",
                  "AWS_DEFAULT_REGION", "TwilioAccountSid", "TwilioPhoneNumber")


def read_env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k] = v
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def template_function_ids() -> set[str]:
    import stack

    resources = stack.load_template(stack.DEFAULT_TEMPLATE).get("Resources") or {}
    return {lid for lid, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}


def moto_client(env: dict[str, str], service: str):
    import boto3

    return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


class StackProcess:
    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None, build: bool = False):
        self.env_file = tmp / "stack.env"
        self.log = open(tmp / "stack.log", "w+b")
        self.out = open(tmp / "stack.out", "w+b")
        base = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV_KEYS}
        base.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, str(STACK), args[0], *([] if build else ["--no-build"]), "--bin-dir", str(tmp / "bin"),
             "--gateway-port", "0", "--env-file", str(self.env_file), *args[1:]],
            stdout=self.out, stderr=self.log, env=base, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.env_file.exists():
                return read_env(self.env_file)
            if self.proc.poll() is not None:
                raise AssertionError(f"stack exited ({self.proc.returncode}):\n{self.logs()}")
            time.sleep(0.1)
        raise AssertionError(f"stack not ready in {timeout}s:\n{self.logs()}")

    def logs(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stdout(self) -> str:
        self.out.seek(0)
        return self.out.read().decode(errors="replace")

    def children(self) -> list[int]:
        data = json.loads(self.env_file.with_name("stack.env.pids").read_text())
        return [c["pid"] for c in data["children"]]

    def stop(self, sig=signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()
        self.out.close()


class UpTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        write_fakes(self.tmp / "bin")
        self.addCleanup(self._tmp.cleanup)

    def start(self, *args, env=None) -> StackProcess:
        s = StackProcess(self.tmp, *args, env=env)
        self.addCleanup(s.kill)
        return s

    def test_up_with_the_real_template(self):
        s = self.start("up")
        env = s.wait_ready()
        children = s.children()
        for key in ("GATEWAY_URL", "PUBLIC_BASE_URL", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY", "TWILIO_API_BASE_URL", "TWILIO_EMULATOR_URL", "TWILIO_ACCOUNT_SID",
                    "TWILIO_AUTH_TOKEN", "TWILIO_PHONE_NUMBER", "CONTACT_HASH_KEY", "CONTACT_HASH_KEY_PARAMETER",
                    "TWILIO_AUTH_TOKEN_PARAMETER", "TABLE_NAME", "RISING_TABLE_NAME", "RISING_TABLE_ARN"):
            self.assertIn(key, env)
        self.assertEqual(env["PUBLIC_BASE_URL"], env["GATEWAY_URL"])
        self.assertEqual(env["AWS_REGION"], "us-east-1")
        self.assertEqual(len(base64.b64decode(env["CONTACT_HASH_KEY"])), 32)
        self.assertIn(f"rising local stack ready: GATEWAY_URL={env['GATEWAY_URL']}", s.stdout())

        # the table, as the template describes it
        ddb = moto_client(env, "dynamodb")
        table = ddb.describe_table(TableName=env["TABLE_NAME"])["Table"]
        self.assertEqual(table["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"},
                                              {"AttributeName": "sk", "KeyType": "RANGE"}])
        self.assertEqual([g["IndexName"] for g in table["GlobalSecondaryIndexes"]], ["gsi1"])
        self.assertEqual(table["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
        ttl = ddb.describe_time_to_live(TableName=env["TABLE_NAME"])["TimeToLiveDescription"]
        self.assertEqual((ttl["TimeToLiveStatus"], ttl["AttributeName"]), ("ENABLED", "expires_at"))

        # the secrets, where the template's parameters say
        ssm = moto_client(env, "ssm")
        for name_key, value_key in (("CONTACT_HASH_KEY_PARAMETER", "CONTACT_HASH_KEY"),
                                    ("TWILIO_AUTH_TOKEN_PARAMETER", "TWILIO_AUTH_TOKEN")):
            p = ssm.get_parameter(Name=env[name_key], WithDecryption=True)["Parameter"]
            self.assertEqual((p["Type"], p["Value"]), ("SecureString", env[value_key]))

        # the emulator got the same account, token, number and webhook
        with urllib.request.urlopen(env["TWILIO_EMULATOR_URL"] + "/_emulator/health") as r:
            args = json.loads(r.read())["args"]
        self.assertEqual(args, {"listen": env["TWILIO_EMULATOR_URL"].removeprefix("http://"),
                                "account_sid": env["TWILIO_ACCOUNT_SID"], "auth_token": env["TWILIO_AUTH_TOKEN"],
                                "phone_number": env["TWILIO_PHONE_NUMBER"],
                                "sms_webhook_url": env["PUBLIC_BASE_URL"] + "/sms/inbound"})

        # a Twilio-shaped webhook through the gateway to the function
        req = urllib.request.Request(env["GATEWAY_URL"] + "/sms/inbound", data=b"From=%2B15551234567&Body=JOIN",
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "X-Twilio-Signature": "sig"}, method="POST")
        with urllib.request.urlopen(req) as r:
            reply = json.loads(r.read())
        event, fenv = reply["event"], reply["env"]
        self.assertEqual(event["routeKey"], "POST /sms/inbound")
        self.assertEqual(event["headers"]["x-twilio-signature"], "sig")
        self.assertEqual(base64.b64decode(event["body"]), b"From=%2B15551234567&Body=JOIN")
        for key in ("TABLE_NAME", "PUBLIC_BASE_URL", "TWILIO_API_BASE_URL", "TWILIO_ACCOUNT_SID",
                    "TWILIO_PHONE_NUMBER", "CONTACT_HASH_KEY_PARAMETER", "TWILIO_AUTH_TOKEN_PARAMETER",
                    "AWS_ENDPOINT_URL", "AWS_REGION"):
            self.assertEqual(fenv[key], env[key], key)
        self.assertEqual(fenv["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256")
        self.assertEqual(fenv["RUST_LOG"], "info")
        self.assertNotIn("TWILIO_AUTH_TOKEN", fenv)  # functions read it from SSM, as in AWS

        # the send queue and its dead-letter queue, and the send worker playing their SQS event source
        sqs = moto_client(env, "sqs")
        for key in ("SEND_QUEUE_URL", "SEND_QUEUE_ARN", "SEND_DEAD_LETTER_QUEUE_URL", "SEND_DEAD_LETTER_QUEUE_ARN"):
            self.assertIn(key, env)
        attrs = sqs.get_queue_attributes(QueueUrl=env["SEND_QUEUE_URL"], AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["VisibilityTimeout"], "180")
        self.assertEqual(json.loads(attrs["RedrivePolicy"]),
                         {"deadLetterTargetArn": env["SEND_DEAD_LETTER_QUEUE_ARN"], "maxReceiveCount": 5})
        self.assertIn("SQS event SendWorkerFunction.SendQueue: SendQueue -> send-worker, batches of up to 10, window 1s, "
                      "2 concurrent invocation(s), ReportBatchItemFailures", s.logs())
        # the worker reads its dead-letter queue too (it settles what is there, sending nothing)
        self.assertIn("SQS event SendWorkerFunction.DeadLetters: SendDeadLetterQueue -> send-worker, batches of up "
                      "to 10, 2 concurrent invocation(s), ReportBatchItemFailures", s.logs())
        sent = sqs.send_message(QueueUrl=env["SEND_QUEUE_URL"], MessageBody='{"message_id":"m-1"}')["MessageId"]
        events = self.tmp / "bin" / "sqs-events.jsonl"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (events.exists() and sent in events.read_text()):
            time.sleep(0.1)
        [delivery] = [json.loads(line) for line in events.read_text().splitlines()]
        self.assertEqual(delivery["function"], "rising-local-SendWorkerFunction")
        [record] = delivery["event"]["Records"]
        self.assertEqual((record["messageId"], record["eventSourceARN"]), (sent, env["SEND_QUEUE_ARN"]))
        while time.monotonic() < deadline and sqs.get_queue_attributes(
                QueueUrl=env["SEND_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessagesNotVisible"])[
                "Attributes"]["ApproximateNumberOfMessagesNotVisible"] != "0":
            time.sleep(0.1)
        attrs = sqs.get_queue_attributes(QueueUrl=env["SEND_QUEUE_URL"], AttributeNames=["All"])["Attributes"]
        self.assertEqual((attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]),
                         ("0", "0"))
        children = s.children()  # now with the send worker

        # SES's bounces and complaints: the configuration set, its SNS destination, and EmailEventsFunction playing
        # its SNS subscription (Publish returns once the function ran, locally)
        if "EMAIL_EVENTS_TOPIC_ARN" in env:
            self.assertIn("EMAIL_EVENTS_DEAD_LETTER_QUEUE_URL", env)
            config_set = moto_client(env, "sesv2").get_configuration_set(
                ConfigurationSetName=env["EMAIL_CONFIGURATION_SET"])
            self.assertEqual(config_set["SuppressionOptions"], {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]})
            [destination] = moto_client(env, "ses").describe_configuration_set(
                ConfigurationSetName=env["EMAIL_CONFIGURATION_SET"],
                ConfigurationSetAttributeNames=["eventDestinations"])["EventDestinations"]
            self.assertEqual(destination["SNSDestination"], {"TopicARN": env["EMAIL_EVENTS_TOPIC_ARN"]})
            sns = moto_client(env, "sns")
            topic = sns.get_topic_attributes(TopicArn=env["EMAIL_EVENTS_TOPIC_ARN"])["Attributes"]
            policy = json.loads(topic["Policy"])
            self.assertEqual(policy["Statement"][0]["Principal"], {"Service": "ses.amazonaws.com"})
            [subscription] = sns.list_subscriptions_by_topic(TopicArn=env["EMAIL_EVENTS_TOPIC_ARN"])["Subscriptions"]
            self.assertEqual(subscription["Protocol"], "http")
            published = sns.publish(TopicArn=env["EMAIL_EVENTS_TOPIC_ARN"], Subject="Amazon SES Email Event",
                                    Message='{"eventType":"Bounce"}')["MessageId"]
            [delivery] = [json.loads(line) for line in (self.tmp / "bin" / "sns-events.jsonl").read_text().splitlines()]
            self.assertEqual(delivery["function"], "rising-local-EmailEventsFunction")
            [record] = delivery["event"]["Records"]
            self.assertEqual((record["EventSource"], record["EventSubscriptionArn"]),
                             ("aws:sns", subscription["SubscriptionArn"]))
            self.assertEqual((record["Sns"]["MessageId"], record["Sns"]["TopicArn"], record["Sns"]["Subject"],
                              record["Sns"]["Message"]),
                             (published, env["EMAIL_EVENTS_TOPIC_ARN"], "Amazon SES Email Event",
                              '{"eventType":"Bounce"}'))
            self.assertIn("SNS event EmailEventsFunction.EmailEvents: EmailEventsTopic -> email-events", s.logs())
            children = s.children()  # now with the email events function

        # Lambda's Invoke API, for any function and any event (test_schedule_source.py has the details); the
        # template's schedules never fire by themselves here (--schedule-period 0), a test fires them through it
        self.assertRegex(env["LAMBDA_ENDPOINT_URL"], r"^http://127\.0\.0\.1:\d+$")
        lam = moto_client({**env, "AWS_ENDPOINT_URL": env["LAMBDA_ENDPOINT_URL"]}, "lambda")
        self.assertEqual(lam.invoke(FunctionName="SmsInboundFunction", InvocationType="DryRun")["StatusCode"], 204)
        with self.assertRaises(lam.exceptions.ResourceNotFoundException):
            lam.invoke(FunctionName="NoSuchFunction", InvocationType="DryRun")
        if "SchedulerFunction" in template_function_ids():
            self.assertRegex(s.logs(), r"Schedule(V2)? event SchedulerFunction\.\S+: .* -> \S+, rule \S+, not fired "
                                       r"automatically \(--schedule-period 0\)")
            self.assertNotIn("[schedule SchedulerFunction", s.logs())
            scheduled = {"version": "0", "id": "8a1f0c6e-0f5e-4c55-9a47-0d4bb0a1c0de", "detail-type": "Scheduled Event",
                         "source": "aws.events", "account": "123456789012", "time": "2026-06-13T18:30:00Z",
                         "region": env["AWS_REGION"], "resources": [], "detail": {}}
            r = lam.invoke(FunctionName="SchedulerFunction", Payload=json.dumps(scheduled).encode())
            self.assertEqual((r["StatusCode"], json.loads(r["Payload"].read())["received"]), (200, scheduled))
            children = s.children()

        # stop: exit 0, env file gone, no process left
        self.assertEqual(s.stop(), 0, s.logs())
        self.assertFalse(s.env_file.exists())
        self.assertEqual([p for p in children if alive(p)], [])

        # and again right away, on the same files
        s2 = self.start("up")
        env2 = s2.wait_ready()
        self.assertNotEqual(env2["CONTACT_HASH_KEY"], env["CONTACT_HASH_KEY"])  # new per start
        self.assertEqual(s2.stop(signal.SIGINT), 0, s2.logs())

    def test_run_with_more_resources_and_overrides(self):
        template = self.tmp / "template.yaml"
        template.write_text(textwrap.dedent("""\
            AWSTemplateFormatVersion: "2010-09-09"
            Transform: AWS::Serverless-2016-10-31
            Parameters:
              Stage:
                Type: String
                Default: dev
              SecretThingParameter:
                Type: String
                Default: /rising/secret-thing
            Conditions:
              IsProd: !Equals [!Ref Stage, prod]
            Globals:
              Function:
                Timeout: 5
                Environment:
                  Variables:
                    QUEUE_URL: !Ref Jobs
            Resources:
              Jobs:
                Type: AWS::SQS::Queue
                Properties:
                  FifoQueue: true
                  ContentBasedDeduplication: true
                  VisibilityTimeout: 120
                  RedrivePolicy:
                    deadLetterTargetArn: !GetAtt JobsDlq.Arn
                    maxReceiveCount: 3
              JobsDlq:
                Type: AWS::SQS::Queue
                Properties:
                  FifoQueue: true
              Events:
                Type: AWS::SNS::Topic
              Inbox:
                Type: AWS::SQS::Queue
              EventsToInbox:
                Type: AWS::SNS::Subscription
                Properties:
                  TopicArn: !Ref Events
                  Protocol: sqs
                  Endpoint: !GetAtt Inbox.Arn
              Key:
                Type: AWS::KMS::Key
                Properties:
                  Description: envelope key
              KeyAlias:
                Type: AWS::KMS::Alias
                Properties:
                  AliasName: alias/rising-local
                  TargetKeyId: !Ref Key
              Sender:
                Type: AWS::SES::EmailIdentity
                Properties:
                  EmailIdentity: hello@example.org
              ProdOnly:
                Type: AWS::SQS::Queue
                Condition: IsProd
              Worker:
                Type: AWS::Serverless::Function
                Metadata:
                  BuildProperties:
                    Binary: fake-function
                Properties:
                  Environment:
                    Variables:
                      DLQ_ARN: !GetAtt JobsDlq.Arn
                      TOPIC: !Ref Events
                      KEY_ARN: !GetAtt Key.Arn
                      MODE: !If [IsProd, live, local]
                      ZONE: !Select [0, !GetAZs ""]
                      PAIR: !Join ["|", [!Ref Stage, !Sub "${AWS::Region}-${Stage}"]]
                  Events:
                    Any:
                      Type: HttpApi
                      Properties:
                        Path: /{proxy+}
                        Method: ANY
            """))
        check = self.tmp / "check.py"
        check.write_text(textwrap.dedent("""\
            import json, os, sys, urllib.request
            import boto3
            e = os.environ
            c = lambda s: boto3.client(s, endpoint_url=e["AWS_ENDPOINT_URL"], region_name=e["AWS_REGION"])
            assert e["AWS_REGION"] == "eu-west-1", e["AWS_REGION"]
            attrs = c("sqs").get_queue_attributes(QueueUrl=e["JOBS_URL"], AttributeNames=["All"])["Attributes"]
            assert attrs["FifoQueue"] == "true" and attrs["VisibilityTimeout"] == "120", attrs
            assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"] == e["JOBS_DLQ_ARN"], attrs
            assert e["JOBS_NAME"] == "rising-local-Jobs.fifo", e["JOBS_NAME"]
            assert e["QUEUE_URL"] == e["JOBS_URL"]
            assert "PROD_ONLY_URL" not in e
            subs = c("sns").list_subscriptions_by_topic(TopicArn=e["EVENTS_ARN"])["Subscriptions"]
            assert [s["Endpoint"] for s in subs] == [e["INBOX_ARN"]], subs
            assert e["INBOX_NAME"] == "rising-local-Inbox"
            assert c("kms").describe_key(KeyId=e["KEY_ALIAS_NAME"])["KeyMetadata"]["Arn"] == e["KEY_ARN"]
            ids = c("sesv2").list_email_identities()["EmailIdentities"]
            assert [i["IdentityName"] for i in ids] == ["hello@example.org"], ids
            secret = c("ssm").get_parameter(Name="/rising/secret-thing", WithDecryption=True)["Parameter"]
            assert secret["Value"] == e["SECRET_THING"], secret
            assert e["CONTACT_HASH_KEY"] if "CONTACT_HASH_KEY" in e else True
            assert e["TWILIO_API_BASE_URL"] == "http://127.0.0.1:9/twilio", e["TWILIO_API_BASE_URL"]
            assert e["TWILIO_ACCOUNT_SID"] == "AC" + "f" * 32
            assert e["PUBLIC_BASE_URL"] == "https://sms.example.org"
            assert e["MODE"] == "local" and e["ZONE"] == "eu-west-1a" and e["PAIR"] == "dev|eu-west-1-dev", e
            with urllib.request.urlopen(e["GATEWAY_URL"] + "/anything/here?do=echo") as r:
                reply = json.loads(r.read())
            assert reply["event"]["pathParameters"] == {"proxy": "anything/here"}, reply["event"]
            fenv = reply["env"]
            assert fenv["DLQ_ARN"] == e["JOBS_DLQ_ARN"] and fenv["KEY_ARN"] == e["KEY_ARN"], fenv
            assert fenv["PUBLIC_BASE_URL"] == "https://sms.example.org"
            assert fenv["TWILIO_API_BASE_URL"] == "http://127.0.0.1:9/twilio"
            assert fenv["AWS_REGION"] == "eu-west-1"
            print("CHECKS PASSED")
            sys.exit(7)
            """))
        s = self.start("run", "--template", str(template), "--", sys.executable, str(check), env={
            "TWILIO_API_BASE_URL": "http://127.0.0.1:9/twilio", "TWILIO_ACCOUNT_SID": "AC" + "f" * 32,
            "PUBLIC_BASE_URL": "https://sms.example.org", "AWS_REGION": "eu-west-1"})
        rc = s.proc.wait(90)
        self.assertEqual(rc, 7, s.logs() + s.stdout())  # the command's exit code
        self.assertIn("CHECKS PASSED", s.stdout())
        self.assertFalse(s.env_file.exists())

    def test_missing_emulator_is_a_clear_error(self):
        (self.tmp / "bin" / "twilio-emulator").unlink()
        s = self.start("up")
        self.assertEqual(s.proc.wait(60), 1)
        logs = s.logs()
        self.assertIn("twilio-emulator", logs)
        self.assertIn("cargo build -p twilio-emulator", logs)
        self.assertFalse(s.env_file.exists())

    def test_function_that_exits_during_init_is_a_clear_error(self):
        (self.tmp / "bin" / "init-error").write_text("")
        s = self.start("up")
        self.assertEqual(s.proc.wait(60), 1)
        self.assertIn("before asking the Runtime API for work", s.logs())

    def test_build_runs_cargo_unless_no_build(self):
        fake_bin = self.tmp / "path"
        fake_bin.mkdir()
        record = self.tmp / "cargo-args"
        cargo = fake_bin / "cargo"
        cargo.write_text(f"#!/bin/sh\necho \"$@\" >> {record}\nexit ${{FAKE_CARGO_EXIT:-0}}\n")
        cargo.chmod(0o755)
        path = f"{fake_bin}:{os.environ.get('PATH', '')}"
        s = StackProcess(self.tmp, "up", env={"PATH": path, "FAKE_CARGO_EXIT": "101"}, build=True)
        self.addCleanup(s.kill)
        self.assertEqual(s.proc.wait(60), 1)
        self.assertIn("cargo build failed", s.logs())
        self.assertEqual(record.read_text(), "build --bins\n")
        s = StackProcess(self.tmp, "up", env={"PATH": path}, build=True)
        self.addCleanup(s.kill)
        s.wait_ready()
        self.assertEqual(s.stop(), 0, s.logs())
        self.assertEqual(record.read_text(), "build --bins\nbuild --bins\n")

    def test_moto_dying_stops_the_stack(self):
        s = self.start("up")
        env = s.wait_ready()
        moto = [p for p in s.children() if "moto_server" in Path(f"/proc/{p}/cmdline").read_text()]
        self.assertEqual(len(moto), 1)
        os.kill(moto[0], signal.SIGKILL)
        self.assertEqual(s.proc.wait(30), 1)
        self.assertIn("moto", s.logs())
        self.assertFalse(s.env_file.exists())
        self.assertTrue(env)


if __name__ == "__main__":
    unittest.main()
