#!/usr/bin/env python3
"""The local stack behind `make dev` and `make test`, driven by template.yaml (the one schema).

    .venv/bin/python infra/local/stack.py up  [options]            # run until Ctrl-C / SIGTERM
    .venv/bin/python infra/local/stack.py run [options] -- CMD...   # up, run CMD with the stack's env, down

`up` starts moto (AWS APIs), creates every supported resource of the template in it, creates the SSM
SecureString parameters the functions read, starts the Twilio emulator, and serves an API Gateway HTTP API
emulation: each HTTP request becomes a payload-format-2.0 event handed to the real function binary through a
local implementation of the Lambda Runtime API. When everything answers it writes `.local/stack.env`
(KEY=VALUE lines) and prints `rising local stack ready: GATEWAY_URL=...`. Every created resource is in it as
<LOGICAL_ID>_<ATTR> (a queue: SEND_QUEUE_URL, SEND_QUEUE_ARN, SEND_QUEUE_NAME, SEND_DEAD_LETTER_QUEUE_URL ...).

It also plays Lambda's SQS event source (moto's own ignores ReportBatchItemFailures): for every `Type: SQS` event of
a function, with its settings from the template (BatchSize, default 10; MaximumBatchingWindowInSeconds;
FunctionResponseTypes; ScalingConfig.MaximumConcurrency, default 2 locally; Enabled), up to five receivers long-poll
the queue (ReceiveMessage of up to 10, WaitTimeSeconds 2, all system and message attributes), each filling a batch
until it is full or the batching window closes, with up to two batches kept ready; that many invokers each take
the next ready batch and invoke the function with the records Lambda delivers (messageId, receiptHandle, body,
attributes, messageAttributes in camelCase, md5OfBody, md5OfMessageAttributes, eventSource, eventSourceARN,
awsRegion). Then, as Lambda: a failed invocation (error, timeout, crash) deletes nothing; a successful one deletes
the whole batch, or with ReportBatchItemFailures all but the messages its `batchItemFailures` names (an
itemIdentifier that is empty or not in the batch, or a response that is not JSON, fails the whole batch). What is
not deleted comes back after the queue's VisibilityTimeout, with a higher ApproximateReceiveCount, and moto moves it
to the dead-letter queue once it was received the RedrivePolicy's maxReceiveCount times. Deletes run apart from the
invokers, as receives do, so an instance goes from one batch to the next without waiting for SQS. The function runs
up to MaximumConcurrency instances for its queue (plus --concurrency for HTTP routes). The log says counts, message
ids and outcomes, never a body. The queue's visibility timeout is the template's; a test that wants quick
redeliveries on the real template can lower it on the running stack (SetQueueAttributes VisibilityTimeout), which
the pollers honour from their next receive. Ctrl-C/SIGTERM stops the pollers (no new batch), then the functions; a
batch in flight is not deleted and comes back later.

It plays Lambda's SNS event source too: for every `Type: SNS` event (Topic, FilterPolicy, FilterPolicyScope) it
subscribes an internal listener (127.0.0.1, a free port; not the gateway) to the topic in moto with protocol
`http`, once the functions run. moto posts each notification there inside Publish; the listener hands the function
the event Lambda delivers (one record: EventSource aws:sns, EventVersion, EventSubscriptionArn, Sns with Type,
MessageId, TopicArn, Subject or null, Message, Timestamp, signature fields, MessageAttributes), then, as Lambda's
asynchronous invocation: after a failure up to two retries (EventInvokeConfig.MaximumRetryAttempts), a second apart
locally, then the event to the function's DeadLetterQueue (SQS SendMessage or SNS Publish, with RequestID,
ErrorCode and ErrorMessage attributes) or, without one, a log line. It answers moto only once that is done, so a
local Publish returns after the function ran (AWS answers Publish at once). moto's HTTP notifications carry no
MessageAttributes, so the function sees `{}` there; filter policies on attributes still apply (moto matches them).
moto records SES configuration sets (SuppressionOptions), their event destinations (SES v1 API) and topic policies,
but never publishes SES events: a test plays SES by publishing to the topic.

It plays EventBridge schedules: every `Type: Schedule` event (Schedule: rate(...) or cron(...), Enabled, State, Name,
Input) and `Type: ScheduleV2` event (ScheduleExpression, State, Name, Input) of a function fires it with the scheduled
event (version "0", a fresh id, detail-type "Scheduled Event", source aws.events, account, time now in UTC to the
second, region, resources [arn:aws:events:<region>:<account>:rule/<Name, else Function-Event>], detail {}), or with
the event's Input instead when it has one, through Lambda's asynchronous invocation (AsyncInvoker, as for SNS: two
retries, then the DeadLetterQueue). How often is --schedule-period: 0 (the default) never by itself, so that test runs
are deterministic; `rate` the expression's own rate (cron is not played: every 300 s); N every N seconds. A disabled
schedule never fires. Expressions EventBridge would refuse (rate(1 minutes), a cron without six fields) stop the start.

It plays Lambda's DynamoDB stream event source: for every `Type: DynamoDB` event (Stream: a table of the template
with a StreamSpecification; StartingPosition TRIM_HORIZON or LATEST; BatchSize, default 100;
MaximumBatchingWindowInSeconds; FilterCriteria; FunctionResponseTypes; BisectBatchOnFunctionError;
MaximumRetryAttempts, -1 meaning 100 locally; MaximumRecordAgeInSeconds; DestinationConfig.OnFailure, an SQS queue or
SNS topic of the template; Enabled) one poller reads the stream in moto (DynamoDB Streams: DescribeStream,
GetShardIterator, GetRecords, every 0.25 s, 0.5 s when idle), drops the records no filter pattern matches (the
EventBridge pattern subset Lambda supports: values, prefix, suffix, equals-ignore-case, wildcard, exists,
anything-but, numeric, nested objects, $or; OR across Filters; a pattern on NewImage never matches a REMOVE), and
invokes the function with the records Lambda delivers (eventID, eventName, eventVersion 1.1, eventSource
aws:dynamodb, awsRegion, dynamodb with ApproximateCreationDateTime in epoch seconds, Keys, NewImage, OldImage,
SequenceNumber, SizeBytes, StreamViewType, and eventSourceARN, the stream's ARN), one batch of a shard at a time and
in order: a failed batch blocks the records after it. Then, as Lambda: with ReportBatchItemFailures,
`batchItemFailures` (itemIdentifier = SequenceNumber) retries from the lowest one named (the records before it are
done); an error, timeout, crash or invalid response fails the whole batch, which BisectBatchOnFunctionError splits in
halves first (a split costs no retry). A record that failed 1 + MaximumRetryAttempts times (or is older than
MaximumRecordAgeInSeconds) gives up its batch from there on: Lambda's on-failure record (requestContext,
responseContext, version, timestamp, DDBStreamBatchInfo with shard, first and last sequence numbers and the batch
size; never a record) goes to the destination, and the shard moves on. Retries are 0.5 s apart locally. The log says
counts, sequence numbers and outcomes, never a record. Each stream source adds one instance to its function.

It creates EventBridge buses (AWS::Events::EventBus: Ref the name, Arn, Name; <ID>_NAME and <ID>_ARN in the env file)
and rules on them (AWS::Events::Rule with EventPattern and targets; moto delivers PutEvents to SQS targets), so a test
reads what a function published by adding a rule with a queue target.

It serves Lambda's Invoke API for every function (127.0.0.1, a free port, LAMBDA_ENDPOINT_URL in the env file):
POST /2015-03-31/functions/<logical id, name or ARN>/invocations with X-Amz-Invocation-Type RequestResponse (200 and
the function's payload; X-Amz-Function-Error: Unhandled and the error payload when it failed), Event (202 at once,
then the asynchronous invocation above) or DryRun (204); AWS SDKs work against it (endpoint_url), so a test invokes
any function with any event, e.g. a scheduled event with a time it chooses.

Only the standard library, boto3 (comes with moto) and samcli's YAML loader (PyYAML fallback) are used.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_TEMPLATE = REPO / "template.yaml"
DEFAULT_ENV_FILE = REPO / ".local" / "stack.env"
PARAMETERS_FILE = HERE / "parameters.json"

ACCOUNT_ID = "123456789012"  # moto's default account
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
STACK_NAME = "rising-local"
NAME_PREFIX = "rising-local-"
LOOPBACK = "127.0.0.1"

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API payload limit
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda synchronous response limit
INTEGRATION_TIMEOUT_MS = 30_000  # HTTP API default (and maximum) integration timeout
INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit
SMS_WEBHOOK_PATH = "/sms/inbound"
# Numbers on which the local Twilio misbehaves as real carriers do, like Twilio's own magic test numbers
# (README, "Text the local system"): delivery failures with their ErrorCode (30003 unreachable, 30005 unknown,
# 30007 carrier filtering, 21610 unsubscribed, 30004 blocked), an invalid and a landline number.
EMULATOR_TEST_NUMBERS = [
    "--fail-numbers",
    "+15005550001=30003,+15005550002=30005,+15005550003=30007:failed,+15005550004=21610:failed,+15005550005=30004",
    "--invalid-numbers", "+15005550010",
    "--landline-numbers", "+15005550009",
]

# Secret values behind template Parameters whose name ends in `Parameter` (the parameter's value is the SSM
# name; the secret is stored there as a SecureString). Key = environment/env-file name of the secret value,
# derived from the parameter name (ContactHashKeyParameter -> CONTACT_HASH_KEY); an environment variable of
# that name wins. Unlisted ones get 32 random bytes, base64, per stack start.
LOCAL_SECRETS: dict[str, Callable[[], str]] = {
    "TWILIO_AUTH_TOKEN": lambda: secrets.token_hex(16),  # Twilio tokens are 32 hex characters
    "CONTACT_HASH_KEY": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
    # Who may use /admin locally (sign in as this address; its link arrives in moto's SES).
    "ORGANIZER_EMAILS": lambda: "organizer@rising.test",
}

# Template Parameters whose local value is a value of the running stack (which itself honours the
# environment variable of the same name), not the template Default.
STACK_BOUND_PARAMETERS = {
    "TwilioAccountSid": "TWILIO_ACCOUNT_SID",
    "TwilioPhoneNumber": "TWILIO_PHONE_NUMBER",
    "TwilioApiBaseUrl": "TWILIO_API_BASE_URL",
    "PublicBaseUrl": "PUBLIC_BASE_URL",
}

# Request bodies API Gateway HTTP APIs hand over as plain text; every other content type (also a missing one
# and, surprisingly, application/x-www-form-urlencoded) arrives base64-encoded with isBase64Encoded=true.
TEXT_MEDIA_TYPES = {"application/json", "application/xml", "application/javascript"}

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "trailer"}


class StackError(Exception):
    """A failure with a message meant for the developer; no traceback."""


class IntrinsicError(StackError):
    pass


# --------------------------------------------------------------------------------------------------------------
# Logging: one prefixed line per child output line, to stderr.

_log_lock = threading.Lock()


def log(prefix: str, message: str) -> None:
    with _log_lock:
        for line in message.splitlines() or [""]:
            sys.stderr.write(f"[{prefix}] {line}\n")
        sys.stderr.flush()


# --------------------------------------------------------------------------------------------------------------
# Template loading


def load_template(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    try:
        from samcli.yamlhelper import yaml_parse  # parses !Ref/!GetAtt/!Sub into the long form
    except Exception:  # pragma: no cover - samcli missing: a small loader of our own
        yaml_parse = _yaml_parse_fallback
    data = yaml_parse(text)
    return _plain(data)


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _yaml_parse_fallback(text: str) -> Any:  # pragma: no cover - used only without samcli
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader, tag_suffix, node):
        name = "Ref" if tag_suffix == "Ref" else ("Condition" if tag_suffix == "Condition" else f"Fn::{tag_suffix}")
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag_suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    Loader.add_multi_constructor("!", construct)
    return yaml.load(text, Loader=Loader)


# --------------------------------------------------------------------------------------------------------------
# Names


def upper_snake(name: str) -> str:
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").upper()


def kebab(name: str) -> str:
    return upper_snake(name).lower().replace("_", "-")


def secret_env_name(parameter_name: str) -> str:
    base = parameter_name[: -len("Parameter")] if parameter_name.endswith("Parameter") else parameter_name
    return upper_snake(base)


def api_id_for(logical_id: str) -> str:
    """A stable 10-character id shaped like an API Gateway API id."""
    return hashlib.sha1(logical_id.encode()).hexdigest()[:10]


def as_bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() == "true"
    return bool(v)


def cfn_str(v: Any) -> str:
    """How CloudFormation turns a scalar into a string (environment variables, attributes)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


# --------------------------------------------------------------------------------------------------------------
# Intrinsic functions

NO_VALUE = object()  # AWS::NoValue


class Resolver:
    """Resolves CloudFormation intrinsics against local parameter values and local resource attributes.

    `attrs(logical_id)` returns the resource's attribute dict ("Ref" key = what !Ref returns).
    """

    def __init__(self, template: dict, parameters: dict[str, Any], region: str,
                 attrs: Callable[[str], dict[str, Any]], account_id: str = ACCOUNT_ID):
        self.template = template
        self.parameters = parameters
        self.attrs = attrs
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{region}:{account_id}:stack/{STACK_NAME}/"
                            "00000000-0000-0000-0000-000000000000",
            "AWS::NotificationARNs": [],
        }
        self._conditions: dict[str, bool] = {}

    # public -------------------------------------------------------------------------------------------------
    def resolve(self, v: Any) -> Any:
        if isinstance(v, dict):
            if len(v) == 1:
                (key, arg), = v.items()
                fn = self._FUNCTIONS.get(key)
                if fn is not None:
                    return fn(self, arg)
                if key.startswith("Fn::"):
                    raise IntrinsicError(f"{key} is not supported by the local stack")
            out = {}
            for k, x in v.items():
                r = self.resolve(x)
                if r is not NO_VALUE:
                    out[k] = r
            return out
        if isinstance(v, list):
            return [r for r in (self.resolve(x) for x in v) if r is not NO_VALUE]
        return v

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise IntrinsicError(f"unknown Condition {name}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in (self.template.get("Parameters") or {}):
            raise IntrinsicError(f"parameter {name} has no local value")
        return self.attrs(name)["Ref"]

    def get_att(self, logical_id: str, attribute: str) -> Any:
        attrs = self.attrs(logical_id)
        if attribute not in attrs:
            raise IntrinsicError(f"!GetAtt {logical_id}.{attribute} has no local value")
        return attrs[attribute]

    # functions ----------------------------------------------------------------------------------------------
    def _ref(self, arg):
        return self.ref(self._name(arg))

    def _get_att(self, arg):
        if isinstance(arg, str):
            logical_id, _, attribute = arg.partition(".")
        else:
            logical_id, attribute = self._name(arg[0]), self._name(arg[1])
        return self.get_att(logical_id, attribute)

    def _sub(self, arg):
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1] if len(arg) > 1 else {})
        else:
            text, variables = arg, {}
        if not isinstance(text, str):
            raise IntrinsicError("Fn::Sub needs a string")

        def replace(m: re.Match) -> str:
            inner = m.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            name = inner.strip()
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                value = self.get_att(logical_id, attribute)
            else:
                value = self.ref(name)
            return cfn_str(value)

        return re.sub(r"\$\{([^}]*)\}", replace, text)

    def _if(self, arg):
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(self._name(name)) else when_false)

    def _equals(self, arg):
        a, b = (self.resolve(x) for x in arg)
        return cfn_str(a) == cfn_str(b)

    def _and(self, arg):
        return all(self._truth(x) for x in arg)

    def _or(self, arg):
        return any(self._truth(x) for x in arg)

    def _not(self, arg):
        return not self._truth(arg[0])

    def _truth(self, x):
        r = self.resolve(x)
        return as_bool(r) if isinstance(r, str) else bool(r)

    def _condition(self, arg):
        return self.condition(self._name(arg))

    def _join(self, arg):
        delimiter, values = arg
        values = self.resolve(values)
        if not isinstance(values, list):
            raise IntrinsicError("Fn::Join needs a list")
        return self.resolve(delimiter).join(cfn_str(x) for x in values)

    def _select(self, arg):
        index, values = self.resolve(arg[0]), self.resolve(arg[1])
        if not isinstance(values, list):
            raise IntrinsicError("Fn::Select needs a list")
        return values[int(index)]

    def _split(self, arg):
        delimiter, text = self.resolve(arg[0]), self.resolve(arg[1])
        return cfn_str(text).split(delimiter)

    def _find_in_map(self, arg):
        name, top, second = (self._name(x) for x in arg[:3])
        try:
            return self.template["Mappings"][name][top][second]
        except KeyError:
            if len(arg) > 3 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"])
            raise IntrinsicError(f"Fn::FindInMap {name}/{top}/{second} not found") from None

    def _base64(self, arg):
        return base64.b64encode(cfn_str(self.resolve(arg)).encode()).decode()

    def _get_azs(self, arg):
        region = self.resolve(arg) or self.pseudo["AWS::Region"]
        return [f"{region}{z}" for z in "abc"]

    def _to_json_string(self, arg):
        return json.dumps(self.resolve(arg), separators=(",", ":"))

    def _length(self, arg):
        return len(self.resolve(arg))

    def _name(self, x) -> str:
        r = self.resolve(x)
        if not isinstance(r, str):
            raise IntrinsicError(f"expected a name, got {r!r}")
        return r

    _FUNCTIONS = {
        "Ref": _ref, "Fn::GetAtt": _get_att, "Fn::Sub": _sub, "Fn::If": _if, "Fn::Equals": _equals,
        "Fn::And": _and, "Fn::Or": _or, "Fn::Not": _not, "Condition": _condition, "Fn::Join": _join,
        "Fn::Select": _select, "Fn::Split": _split, "Fn::FindInMap": _find_in_map, "Fn::Base64": _base64,
        "Fn::GetAZs": _get_azs, "Fn::ToJsonString": _to_json_string, "Fn::Length": _length,
    }


def referenced_resources(v: Any, known: set[str]) -> set[str]:
    """Logical ids of resources (in `known`) that an expression refers to: Ref, GetAtt, ${X} / ${X.Attr}."""
    found: set[str] = set()

    def walk(x):
        if isinstance(x, dict):
            if len(x) == 1:
                (k, a), = x.items()
                if k == "Ref" and isinstance(a, str):
                    found.add(a)
                    return
                if k == "Fn::GetAtt":
                    found.add(a.split(".", 1)[0] if isinstance(a, str) else a[0] if isinstance(a[0], str) else "")
                    return
                if k == "Fn::Sub":
                    text, variables = (a[0], a[1] if len(a) > 1 else {}) if isinstance(a, list) else (a, {})
                    for m in re.finditer(r"\$\{([^}!][^}]*)\}", text if isinstance(text, str) else ""):
                        name = m.group(1).strip().split(".", 1)[0]
                        if name not in variables:
                            found.add(name)
                    walk(variables)
                    return
            for y in x.values():
                walk(y)
        elif isinstance(x, list):
            for y in x:
                walk(y)

    walk(v)
    return found & known


# --------------------------------------------------------------------------------------------------------------
# Parameters


def parameter_values(template: dict, env: dict[str, str], local_defaults: dict[str, Any],
                     bound: dict[str, str]) -> dict[str, str]:
    """Local value of every template Parameter.

    Parameters bound to a stack value (STACK_BOUND_PARAMETERS) take it from `bound` when present; the others:
    environment variable named like the parameter, else the template Default, else parameters.json.
    Values from the environment or parameters.json are checked against AllowedPattern/AllowedValues.
    """
    values: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        spec = spec or {}
        stack_key = STACK_BOUND_PARAMETERS.get(name)
        if stack_key and stack_key in bound:
            values[name] = bound[stack_key]
            continue
        if name in env:
            value, source = env[name], f"environment variable {name}"
        elif "Default" in spec:
            values[name] = cfn_str(spec["Default"])
            continue
        elif name in local_defaults:
            value, source = cfn_str(local_defaults[name]), str(PARAMETERS_FILE.relative_to(REPO))
        else:
            raise StackError(f"template parameter {name} has no Default: set the environment variable {name} "
                             f"or add it to {PARAMETERS_FILE.relative_to(REPO)}")
        pattern = spec.get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, value):
            raise StackError(f"{name}={value!r} (from {source}) does not match the template's AllowedPattern "
                             f"{pattern}")
        allowed = spec.get("AllowedValues")
        if allowed and value not in [cfn_str(a) for a in allowed]:
            raise StackError(f"{name}={value!r} (from {source}) is not one of {allowed}")
        values[name] = value
    return values


def secret_parameter_names(template: dict) -> list[str]:
    return [n for n, s in (template.get("Parameters") or {}).items()
            if n.endswith("Parameter") and str((s or {}).get("Type", "String")) == "String"]


# --------------------------------------------------------------------------------------------------------------
# Resources: local attributes and creation in moto


def physical_name(logical_id: str, props: dict, prop: str | None) -> str:
    if prop and props.get(prop):
        return str(props[prop])
    return NAME_PREFIX + logical_id


def fallback_attrs(logical_id: str, resource: dict, region: str, gateway_url: str = "") -> dict[str, Any]:
    """Attributes of resources the local stack does not create (functions, APIs, roles, ...)."""
    rtype = resource.get("Type", "")
    props = resource.get("Properties") or {}
    if rtype in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
        name = physical_name(logical_id, props, "FunctionName")
        return {"Ref": name, "Arn": f"arn:{PARTITION}:lambda:{region}:{ACCOUNT_ID}:function:{name}"}
    if rtype in ("AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api") or logical_id == "ServerlessHttpApi":
        api_id = api_id_for(logical_id)
        return {"Ref": api_id, "ApiId": api_id, "ApiEndpoint": gateway_url}
    if rtype == "AWS::IAM::Role" or logical_id.endswith("Role"):
        name = physical_name(logical_id, props, "RoleName")
        return {"Ref": name, "Arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{name}", "RoleId": "AROA" + "0" * 17}
    service = rtype.split("::")[1].lower() if rtype.count("::") >= 2 else "unknown"
    name = NAME_PREFIX + logical_id
    return {"Ref": name, "Arn": f"arn:{PARTITION}:{service}:{region}:{ACCOUNT_ID}:{name}"}


def _json_prop(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def _tags(props: dict) -> list[dict]:
    tags = props.get("Tags") or []
    if isinstance(tags, dict):
        return [{"Key": k, "Value": cfn_str(v)} for k, v in tags.items()]
    return [{"Key": t["Key"], "Value": cfn_str(t["Value"])} for t in tags]


def create_dynamodb_table(aws, lid: str, p: dict) -> tuple[dict, dict]:
    name = physical_name(lid, p, "TableName")
    billing = p.get("BillingMode", "PROVISIONED")
    args: dict[str, Any] = {"TableName": name, "KeySchema": p["KeySchema"],
                            "AttributeDefinitions": p["AttributeDefinitions"], "BillingMode": billing}
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = _throughput(p.get("ProvisionedThroughput"))
    gsis = []
    for g in p.get("GlobalSecondaryIndexes") or []:
        gsi = {k: g[k] for k in ("IndexName", "KeySchema", "Projection") if k in g}
        if billing == "PROVISIONED":
            gsi["ProvisionedThroughput"] = _throughput(g.get("ProvisionedThroughput"))
        gsis.append(gsi)
    if gsis:
        args["GlobalSecondaryIndexes"] = gsis
    lsis = [{k: x[k] for k in ("IndexName", "KeySchema", "Projection") if k in x}
            for x in p.get("LocalSecondaryIndexes") or []]
    if lsis:
        args["LocalSecondaryIndexes"] = lsis
    stream = p.get("StreamSpecification")
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = p.get("SSESpecification")
    if sse:
        spec = {"Enabled": as_bool(sse.get("SSEEnabled", False))}
        if sse.get("SSEType"):
            spec["SSEType"] = sse["SSEType"]
        if sse.get("KMSMasterKeyId"):
            spec["KMSMasterKeyId"] = sse["KMSMasterKeyId"]
        args["SSESpecification"] = spec
    if "DeletionProtectionEnabled" in p:
        args["DeletionProtectionEnabled"] = as_bool(p["DeletionProtectionEnabled"])
    if p.get("TableClass"):
        args["TableClass"] = p["TableClass"]
    if _tags(p):
        args["Tags"] = _tags(p)
    ddb = aws("dynamodb")
    desc = ddb.create_table(**args)["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and as_bool(ttl.get("Enabled", False)):
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "AttributeName": ttl["AttributeName"], "Enabled": True})
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr and as_bool(pitr.get("PointInTimeRecoveryEnabled", False)):
        try:
            ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True})
        except Exception:  # not needed locally
            pass
    attrs = {"Ref": name, "Arn": desc["TableArn"]}
    env = {"NAME": name, "ARN": desc["TableArn"]}
    if desc.get("LatestStreamArn"):
        attrs["StreamArn"] = env["STREAM_ARN"] = desc["LatestStreamArn"]
    return attrs, env


def _throughput(t: dict | None) -> dict:
    t = t or {}
    return {"ReadCapacityUnits": int(t.get("ReadCapacityUnits", 5)),
            "WriteCapacityUnits": int(t.get("WriteCapacityUnits", 5))}


SQS_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                  "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
                  "FifoThroughputLimit", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled")


def create_sqs_queue(aws, lid: str, p: dict) -> tuple[dict, dict]:
    fifo = as_bool(p.get("FifoQueue", False))
    name = p.get("QueueName") or (NAME_PREFIX + lid + (".fifo" if fifo else ""))
    attributes = {k: cfn_str(p[k]) for k in SQS_ATTRIBUTES if k in p}
    for k in ("RedrivePolicy", "RedriveAllowPolicy"):
        if k in p:
            attributes[k] = _json_prop(p[k])
    args: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
    if _tags(p):
        args["tags"] = {t["Key"]: t["Value"] for t in _tags(p)}
    sqs = aws("sqs")
    url = sqs.create_queue(**args)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return ({"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url},
            {"NAME": name, "URL": url, "ARN": arn})


def create_sns_topic(aws, lid: str, p: dict) -> tuple[dict, dict]:
    fifo = as_bool(p.get("FifoTopic", False))
    name = p.get("TopicName") or (NAME_PREFIX + lid + (".fifo" if fifo else ""))
    attributes = {k: cfn_str(p[k]) for k in ("DisplayName", "FifoTopic", "ContentBasedDeduplication",
                                              "KmsMasterKeyId", "SignatureVersion", "TracingConfig") if k in p}
    args: dict[str, Any] = {"Name": name, "Attributes": attributes}
    if _tags(p):
        args["Tags"] = _tags(p)
    sns = aws("sns")
    arn = sns.create_topic(**args)["TopicArn"]
    for sub in p.get("Subscription") or []:
        sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
    return {"Ref": arn, "TopicArn": arn, "TopicName": name}, {"NAME": name, "ARN": arn}


def create_sns_subscription(aws, lid: str, p: dict) -> tuple[dict, dict]:
    attributes = {}
    for k in ("RawMessageDelivery", "FilterPolicyScope"):
        if k in p:
            attributes[k] = cfn_str(p[k])
    for k in ("FilterPolicy", "RedrivePolicy", "DeliveryPolicy"):
        if k in p:
            attributes[k] = _json_prop(p[k])
    arn = aws("sns").subscribe(TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p.get("Endpoint", ""),
                               Attributes=attributes, ReturnSubscriptionArn=True)["SubscriptionArn"]
    return {"Ref": arn, "Arn": arn}, {"ARN": arn}


def create_ses_email_identity(aws, lid: str, p: dict) -> tuple[dict, dict]:
    identity = p["EmailIdentity"]
    args: dict[str, Any] = {"EmailIdentity": identity}
    cs = (p.get("ConfigurationSetAttributes") or {}).get("ConfigurationSetName")
    if cs:
        args["ConfigurationSetName"] = cs
    aws("sesv2").create_email_identity(**args)
    return {"Ref": identity}, {"NAME": identity}


def create_ses_configuration_set(aws, lid: str, p: dict) -> tuple[dict, dict]:
    name = physical_name(lid, p, "Name")
    args: dict[str, Any] = {"ConfigurationSetName": name}
    suppressed = (p.get("SuppressionOptions") or {}).get("SuppressedReasons")
    if suppressed is not None:  # moto keeps it (GetConfigurationSet) but does not suppress anything
        args["SuppressionOptions"] = {"SuppressedReasons": [str(r).upper() for r in suppressed]}
    aws("sesv2").create_configuration_set(**args)
    return {"Ref": name}, {"NAME": name}


def create_ses_event_destination(aws, lid: str, p: dict) -> tuple[dict, dict]:
    """Recorded with SES's v1 API, whose shape CloudFormation's is (moto has no SESv2
    CreateConfigurationSetEventDestination). moto never publishes SES events: a test plays SES by publishing an
    event to the topic itself. A destination moto refuses is logged and skipped."""
    d = p.get("EventDestination") or {}
    name = str(d.get("Name") or NAME_PREFIX + lid)
    dest: dict[str, Any] = {"Name": name, "Enabled": as_bool(d.get("Enabled", False)),
                            "MatchingEventTypes": [str(t) for t in d.get("MatchingEventTypes") or []]}
    sns = d.get("SnsDestination")
    if sns:
        dest["SNSDestination"] = {"TopicARN": sns["TopicARN"]}
    others = sorted(k for k in d if k.endswith("Destination") and k != "SnsDestination")
    if others:
        log("stack", f"{lid}: {', '.join(others)} not emulated")
    try:
        aws("ses").create_configuration_set_event_destination(ConfigurationSetName=p["ConfigurationSetName"],
                                                              EventDestination=dest)
    except Exception as e:
        log("stack", f"{lid}: moto did not take the event destination ({type(e).__name__}); not emulated")
    return {"Ref": name}, {"NAME": name}


def create_sns_topic_policy(aws, lid: str, p: dict) -> tuple[dict, dict]:
    """Sets each topic's Policy attribute (moto stores it; it enforces no policy). One moto refuses is logged."""
    policy = _json_prop(p.get("PolicyDocument") or {})
    sns = aws("sns")
    for topic in p.get("Topics") or []:
        try:
            sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=policy)
        except Exception as e:
            log("stack", f"{lid}: moto did not take the policy of {topic} ({type(e).__name__}); not emulated")
    return {"Ref": NAME_PREFIX + lid, "Id": NAME_PREFIX + lid}, {}


def create_kms_key(aws, lid: str, p: dict) -> tuple[dict, dict]:
    args: dict[str, Any] = {}
    for k in ("Description", "KeyUsage", "KeySpec"):
        if k in p:
            args[k] = p[k]
    if "KeyPolicy" in p:
        args["Policy"] = _json_prop(p["KeyPolicy"])
    if _tags(p):
        args["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in _tags(p)]
    kms = aws("kms")
    meta = kms.create_key(**args)["KeyMetadata"]
    if as_bool(p.get("EnableKeyRotation", False)):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    if "Enabled" in p and not as_bool(p["Enabled"]):
        kms.disable_key(KeyId=meta["KeyId"])
    return ({"Ref": meta["KeyId"], "Arn": meta["Arn"], "KeyId": meta["KeyId"]},
            {"ID": meta["KeyId"], "ARN": meta["Arn"]})


def create_kms_alias(aws, lid: str, p: dict) -> tuple[dict, dict]:
    aws("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
    return {"Ref": p["AliasName"]}, {"NAME": p["AliasName"]}


def create_ssm_parameter(aws, lid: str, p: dict) -> tuple[dict, dict]:
    name = physical_name(lid, p, "Name")
    args = {"Name": name, "Type": p.get("Type", "String"), "Value": cfn_str(p["Value"]), "Overwrite": True}
    if p.get("Description"):
        args["Description"] = p["Description"]
    aws("ssm").put_parameter(**args)
    return {"Ref": name, "Type": args["Type"], "Value": args["Value"]}, {"NAME": name}


def create_log_group(aws, lid: str, p: dict) -> tuple[dict, dict]:
    name = physical_name(lid, p, "LogGroupName")
    logs = aws("logs")
    logs.create_log_group(logGroupName=name)
    if p.get("RetentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
    arn = f"arn:{PARTITION}:logs:{aws.region}:{ACCOUNT_ID}:log-group:{name}:*"
    return {"Ref": name, "Arn": arn}, {"NAME": name}


def create_event_bus(aws, lid: str, p: dict) -> tuple[dict, dict]:
    name = physical_name(lid, p, "Name")
    args: dict[str, Any] = {"Name": name}
    for k in ("Description", "KmsKeyIdentifier"):
        if p.get(k):
            args[k] = cfn_str(p[k])
    if _tags(p):
        args["Tags"] = _tags(p)
    arn = aws("events").create_event_bus(**args)["EventBusArn"]
    return {"Ref": name, "Arn": arn, "Name": name}, {"NAME": name, "ARN": arn}


def create_events_rule(aws, lid: str, p: dict) -> tuple[dict, dict]:
    """A rule on a bus (EventBusName, default "default") with its pattern or schedule and its targets (moto
    delivers matching PutEvents to SQS targets). Ref is the rule's name on the default bus and
    "<bus>|<rule>" on another one, as CloudFormation answers."""
    name = physical_name(lid, p, "Name")
    bus = str(p.get("EventBusName") or "default")
    if bus.startswith("arn:"):
        bus = bus.rsplit("/", 1)[-1]
    args: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": str(p.get("State") or "ENABLED")}
    if "EventPattern" in p:
        args["EventPattern"] = _json_prop(p["EventPattern"])
    if p.get("ScheduleExpression"):
        args["ScheduleExpression"] = str(p["ScheduleExpression"])
    if p.get("Description"):
        args["Description"] = str(p["Description"])
    if args["State"] not in ("ENABLED", "DISABLED"):
        args["State"] = "ENABLED"
    events = aws("events")
    arn = events.put_rule(**args)["RuleArn"]
    targets = []
    for t in p.get("Targets") or []:
        target: dict[str, Any] = {"Id": str(t["Id"]), "Arn": str(t["Arn"])}
        for k in ("Input", "InputPath"):
            if k in t:
                target[k] = _json_prop(t[k]) if k == "Input" else str(t[k])
        for k in ("SqsParameters", "DeadLetterConfig", "RetryPolicy", "InputTransformer"):
            if k in t:
                target[k] = t[k]
        targets.append(target)
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    ref = name if bus == "default" else f"{bus}|{name}"
    return {"Ref": ref, "Arn": arn}, {"NAME": name, "ARN": arn}


# Resource types the local stack creates in moto. Add a type here and it appears for every template resource.
RESOURCE_CREATORS: dict[str, Callable[[Any, str, dict], tuple[dict, dict]]] = {
    "AWS::DynamoDB::Table": create_dynamodb_table,
    "AWS::SQS::Queue": create_sqs_queue,
    "AWS::SNS::Topic": create_sns_topic,
    "AWS::SNS::Subscription": create_sns_subscription,
    "AWS::SES::EmailIdentity": create_ses_email_identity,
    "AWS::SES::ConfigurationSet": create_ses_configuration_set,
    "AWS::SES::ConfigurationSetEventDestination": create_ses_event_destination,
    "AWS::SNS::TopicPolicy": create_sns_topic_policy,
    "AWS::KMS::Key": create_kms_key,
    "AWS::KMS::Alias": create_kms_alias,
    "AWS::SSM::Parameter": create_ssm_parameter,
    "AWS::Logs::LogGroup": create_log_group,
    "AWS::Events::EventBus": create_event_bus,
    "AWS::Events::Rule": create_events_rule,
}


def creation_order(resources: dict[str, dict], ids: list[str]) -> list[str]:
    """Topological order of `ids` by their references (Ref/GetAtt/Sub/DependsOn) to each other."""
    known = set(ids)
    deps: dict[str, set[str]] = {}
    for lid in ids:
        r = resources[lid]
        d = referenced_resources(r.get("Properties") or {}, known)
        depends_on = r.get("DependsOn") or []
        d |= set([depends_on] if isinstance(depends_on, str) else depends_on) & known
        d.discard(lid)
        deps[lid] = d
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(lid: str, path: list[str]):
        if state.get(lid) == 2:
            return
        if state.get(lid) == 1:
            raise StackError("circular references between resources: " + " -> ".join(path + [lid]))
        state[lid] = 1
        for d in sorted(deps[lid]):
            visit(d, path + [lid])
        state[lid] = 2
        order.append(lid)

    for lid in ids:
        visit(lid, [])
    return order


class AwsClients:
    def __init__(self, endpoint: str, region: str, max_pool_connections: int = 10, max_attempts: int = 2):
        import boto3
        from botocore.config import Config

        self.endpoint, self.region = endpoint, region
        self._session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                              region_name=region)
        self._config = Config(retries={"max_attempts": max_attempts}, connect_timeout=5, read_timeout=30,
                              max_pool_connections=max_pool_connections)
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str):
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint, config=self._config)
        return self._clients[service]


# --------------------------------------------------------------------------------------------------------------
# Functions and routes


@dataclass
class Route:
    method: str  # "GET", ..., or "ANY"
    path: str  # "/sms/inbound", "/items/{id}", "/{proxy+}" or "$default"
    function: str  # logical id
    timeout_ms: int = INTEGRATION_TIMEOUT_MS
    segments: list[tuple[str, str]] = field(default_factory=list, repr=False)

    def __post_init__(self):
        self.method = self.method.upper()
        if self.path != "$default":
            if not self.path.startswith("/"):
                raise StackError(f"route path {self.path!r} must start with /")
            self.segments = [_segment(s) for s in self.path[1:].split("/")]
            if any(kind == "greedy" for kind, _ in self.segments[:-1]):
                raise StackError(f"route {self.path}: a greedy {{name+}} must be the last segment")

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method.upper()):
            return None
        if self.path == "$default":
            return {}
        parts = path[1:].split("/") if path.startswith("/") else None
        if parts is None:
            return None
        params: dict[str, str] = {}
        for i, (kind, value) in enumerate(self.segments):
            if kind == "greedy":
                rest = "/".join(parts[i:])
                if not rest:
                    return None
                params[value] = rest
                return params
            if i >= len(parts):
                return None
            if kind == "literal":
                if parts[i] != value:
                    return None
            elif not parts[i]:
                return None
            else:
                params[value] = parts[i]
        return params if len(parts) == len(self.segments) else None

    def specificity(self) -> tuple:
        """Lower sorts first: literal segments beat {param}, which beat {proxy+}; a method beats ANY."""
        if self.path == "$default":
            return (2,)
        greedy = 1 if self.segments and self.segments[-1][0] == "greedy" else 0
        kinds = tuple(0 if k == "literal" else 1 for k, _ in self.segments)
        return (greedy, kinds, 1 if self.method == "ANY" else 0)


def _segment(s: str) -> tuple[str, str]:
    m = re.fullmatch(r"\{([A-Za-z0-9_.-]+)(\+?)\}", s)
    if not m:
        return ("literal", s)
    return ("greedy" if m.group(2) else "param", m.group(1))


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    candidates = []
    for r in routes:
        params = r.match(method, path)
        if params is not None:
            candidates.append((r.specificity(), r, params))
    if not candidates:
        return None, {}
    candidates.sort(key=lambda c: c[0])
    return candidates[0][1], candidates[0][2]


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    binary: str
    arn: str
    timeout_s: float
    memory_mb: int
    handler: str
    log_format: str
    environment: dict[str, str]
    routes: list[Route]


def http_api_routes(logical_id: str, props: dict) -> list[Route]:
    routes = []
    for event_name, event in (props.get("Events") or {}).items():
        if (event or {}).get("Type") != "HttpApi":
            continue
        ep = event.get("Properties") or {}
        if str(ep.get("PayloadFormatVersion", "2.0")) != "2.0":
            log("stack", f"{logical_id}.{event_name}: only payload format 2.0 is emulated")
        path, method = ep.get("Path"), ep.get("Method")
        if path is None and method is None:
            path, method = "$default", "ANY"
        routes.append(Route(method=str(method or "ANY"), path=str(path or "$default"), function=logical_id,
                            timeout_ms=int(ep.get("TimeoutInMillis", INTEGRATION_TIMEOUT_MS))))
    return routes


def function_binary_name(logical_id: str, resource: dict) -> str:
    binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
    if binary:
        return str(binary)
    base = logical_id[: -len("Function")] if logical_id.endswith("Function") else logical_id
    return kebab(base)


def function_specs(template: dict, resolver: Resolver, region: str) -> list[FunctionSpec]:
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    specs = []
    for lid, res in (template.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        if res.get("Condition") and not resolver.condition(res["Condition"]):
            continue
        props = res.get("Properties") or {}

        def setting(key, default=None):
            return props.get(key, globals_fn.get(key, default))

        env: dict[str, str] = {}
        for source in (globals_fn, props):
            variables = (source.get("Environment") or {}).get("Variables") or {}
            resolved = resolver.resolve(variables)
            env.update({k: cfn_str(v) for k, v in resolved.items()})
        attrs = fallback_attrs(lid, res, region)
        logging_config = setting("LoggingConfig") or {}
        specs.append(FunctionSpec(
            logical_id=lid, name=attrs["Ref"], binary=function_binary_name(lid, res), arn=attrs["Arn"],
            timeout_s=float(resolver.resolve(setting("Timeout", 3))),
            memory_mb=int(resolver.resolve(setting("MemorySize", 128))),
            handler=str(setting("Handler", "bootstrap")),
            log_format=str(resolver.resolve(logging_config.get("LogFormat", "Text"))),
            environment=env, routes=http_api_routes(lid, props)))
    return specs


# --------------------------------------------------------------------------------------------------------------
# API Gateway HTTP API payload format 2.0: request -> event, response -> HTTP


def is_text_media_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime.startswith("text/") or mime in TEXT_MEDIA_TYPES


def parse_query(raw_query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        key, value = urllib.parse.unquote(key), urllib.parse.unquote(value)
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def request_time(now: float) -> tuple[str, int]:
    t = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    return t.strftime("%d/%b/%Y:%H:%M:%S +0000"), int(now * 1000)


def new_request_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


def new_trace_id(now: float) -> str:
    return f"Root=1-{int(now):08x}-{secrets.token_hex(12)}"


def build_event(*, method: str, target: str, headers: list[tuple[str, str]], body: bytes, route_key: str,
                path_parameters: dict[str, str] | None, source_ip: str, protocol: str = "HTTP/1.1",
                stage: str = "$default", api_id: str = "local", request_id: str | None = None,
                now: float | None = None, server_port: int = 80, scheme: str = "http",
                trace_id: str | None = None, stage_variables: dict[str, str] | None = None) -> dict:
    """An API Gateway HTTP API payload format 2.0 event for one HTTP request.

    `target` is the request-target as received (path?query); `headers` as received, in order, repeated.
    """
    now = time.time() if now is None else now
    raw_target_path, _, raw_query = target.partition("?")
    raw_path = urllib.parse.unquote(raw_target_path)  # HTTP APIs hand the path over decoded
    out_headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key in HOP_BY_HOP:
            continue
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        out_headers[key] = f"{out_headers[key]},{value}" if key in out_headers else value
    forwarded = out_headers.get("x-forwarded-for")
    out_headers["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
    out_headers["x-forwarded-port"] = str(server_port)
    out_headers["x-forwarded-proto"] = scheme
    out_headers.setdefault("x-amzn-trace-id", trace_id or new_trace_id(now))
    host = out_headers.get("host", f"{LOOPBACK}:{server_port}")
    time_text, epoch_ms = request_time(now)
    request_id = request_id or new_request_id()

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = out_headers
    query = parse_query(raw_query)
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": host,
        "domainPrefix": host.split(":", 1)[0].split(".", 1)[0],
        "http": {
            "method": method.upper(),
            "path": raw_path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": out_headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": time_text,
        "timeEpoch": epoch_ms,
    }
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    if body:
        if is_text_media_type(out_headers.get("content-type")):
            event["body"] = body.decode("utf-8", errors="replace")
            event["isBase64Encoded"] = False
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


class ResponseError(Exception):
    pass


def convert_response(payload: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """A function's payload-2.0 response as (status, headers, body), the way HTTP APIs read it.

    A JSON object with `statusCode` is the structured form; any other valid JSON is the plain-body form
    (200, content-type application/json, the JSON as body; a JSON string gives its text). Raises
    ResponseError when API Gateway would answer 500.
    """
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ResponseError(f"response is not JSON: {e}") from None
    if not (isinstance(obj, dict) and "statusCode" in obj):
        body = obj if isinstance(obj, str) else payload.decode("utf-8")
        return 200, [("content-type", "application/json")], body.encode("utf-8")
    status = obj["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ResponseError(f"invalid statusCode {status!r}")
    headers: list[tuple[str, str]] = []
    single = obj.get("headers")
    single = {} if single is None else single
    if not isinstance(single, dict):
        raise ResponseError("headers must be an object")
    for k, v in single.items():
        if v is not None:
            headers.append((str(k), cfn_str(v)))
    seen = {k.lower() for k, _ in headers}
    multi = obj.get("multiValueHeaders") or {}
    if isinstance(multi, dict):
        for k, values in multi.items():
            if str(k).lower() in seen or values is None:
                continue
            for v in values if isinstance(values, list) else [values]:
                headers.append((str(k), cfn_str(v)))
    cookies = obj.get("cookies") or []
    if isinstance(cookies, list):
        headers.extend(("set-cookie", str(c)) for c in cookies)
    body = obj.get("body")
    if body is None:
        data = b""
    elif obj.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(str(body), validate=False)
        except (binascii.Error, ValueError) as e:
            raise ResponseError(f"body is not valid base64: {e}") from None
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
    headers = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]
    return status, headers, data


def json_message(message: str) -> bytes:
    return json.dumps({"message": message}).encode()


JSON_HEADERS = [("Content-Type", "application/json")]
PROBE_HEADER = "X-Rising-Stack-Probe"


# --------------------------------------------------------------------------------------------------------------
# Child processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def proc_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, starttime


class Child:
    """A child process in its own process group, its output logged line by line with a prefix."""

    def __init__(self, prefix: str, argv: list[str], env: dict[str, str], cwd: Path | None = None,
                 line_filter: Callable[[str], bool] | None = None, on_line: Callable[[str], None] | None = None,
                 registry: "ProcessRegistry | None" = None, die_with_parent: bool = False):
        self.prefix = prefix
        self.argv = argv
        self.registry = registry
        setpriv = shutil.which("setpriv") if die_with_parent else None
        if setpriv:
            # SIGKILL when the stack dies without cleaning up. Only for children started from the main thread:
            # the signal follows the exit of the thread that started the child.
            argv = [setpriv, "--pdeathsig", "KILL", "--"] + argv
        self.proc = subprocess.Popen(argv, env=env, cwd=str(cwd) if cwd else None, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.started_at = time.monotonic()
        if registry:
            registry.add(self.proc.pid)
        self._filter = line_filter
        self._on_line = on_line
        self._pump = threading.Thread(target=self._read, name=f"log-{prefix}", daemon=True)
        self._pump.start()

    def _read(self):
        assert self.proc.stdout
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if self._on_line:
                self._on_line(line)
            if self._filter is None or self._filter(line):
                log(self.prefix, line)
        self.proc.stdout.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, grace: float = 3.0) -> None:
        if self.proc.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait()
        # the group may outlive its leader (grandchildren); make sure nothing is left
        self.kill(signal.SIGKILL)
        self._pump.join(timeout=1)
        if self.registry:
            self.registry.remove(self.proc.pid)


class ProcessRegistry:
    """Remembers the process groups of this stack in a file next to the env file, so that an `up` after a
    crashed (SIGKILLed) one can end what that one left behind."""

    def __init__(self, path: Path, env_file: Path):
        self.path = path
        self.env_file = env_file
        self._lock = threading.Lock()
        self._pids: dict[int, str] = {}
        self.claimed = False

    def claim(self) -> None:
        try:
            previous = json.loads(self.path.read_text())
        except (OSError, ValueError):
            previous = None
        if previous:
            owner = previous.get("owner") or {}
            if owner and proc_start_time(int(owner.get("pid", 0))) == owner.get("start"):
                raise StackError(f"another local stack (pid {owner['pid']}) uses {self.path.parent}; stop it first "
                                 "or pass another --env-file")
            ended = 0
            for entry in previous.get("children", []):
                pid = int(entry["pid"])
                if proc_start_time(pid) == entry.get("start"):
                    try:
                        os.killpg(pid, signal.SIGKILL)
                        ended += 1
                    except (ProcessLookupError, PermissionError):
                        pass
            if ended:
                log("stack", f"ended {ended} process group(s) left by an earlier stack that did not shut down")
        # whatever env file is there describes a stack that is gone: nobody may read it while this one starts
        try:
            self.env_file.unlink()
        except FileNotFoundError:
            pass
        self.claimed = True
        self._write()

    def add(self, pid: int) -> None:
        with self._lock:
            self._pids[pid] = proc_start_time(pid) or ""
            self._write()

    def remove(self, pid: int) -> None:
        with self._lock:
            self._pids.pop(pid, None)
            self._write()

    def _write(self) -> None:
        if not self.claimed:
            return
        data = {"owner": {"pid": os.getpid(), "start": proc_start_time(os.getpid())},
                "children": [{"pid": p, "start": s} for p, s in self._pids.items()]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(data))

    def release(self) -> None:
        if not self.claimed:
            return
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def probe(url: str, timeout: float = 1.0) -> bool:
    req = urllib.request.Request(url, headers={PROBE_HEADER: "1"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status == 204
    except (OSError, urllib.error.URLError):
        return False


def http_answers(url: str, timeout: float = 1.0) -> int | None:
    """The HTTP status of GET url, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, urllib.error.URLError):
        return None


# --------------------------------------------------------------------------------------------------------------
# Lambda Runtime API and function instances

RUNTIME_PREFIX = "/2018-06-01/runtime"


class Invocation:
    def __init__(self, event: bytes, timeout_s: float):
        self.id = str(uuid.uuid4())
        self.event = event
        self.timeout_s = timeout_s
        self.cond = threading.Condition()
        self.state = "queued"  # queued -> delivered -> done
        self.delivered_at = 0.0
        self.deadline_ms = 0
        self.outcome: str | None = None  # ok | error | timeout | crash | init-timeout
        self.payload: bytes = b""

    def deliver(self) -> None:
        with self.cond:
            self.state = "delivered"
            self.delivered_at = time.monotonic()
            self.deadline_ms = int(time.time() * 1000 + self.timeout_s * 1000)
            self.cond.notify_all()

    def undeliver(self) -> None:
        with self.cond:
            if self.state == "delivered":
                self.state = "queued"
                self.cond.notify_all()

    def finish(self, outcome: str, payload: bytes = b"") -> bool:
        with self.cond:
            if self.state == "done":
                return False
            self.state, self.outcome, self.payload = "done", outcome, payload
            self.cond.notify_all()
            return True

    def wait_for(self, states: set[str], timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.state in states, timeout)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return  # the peer went away (a killed function, a client that gave up)
        log("stack", f"error serving {client_address[0]}:{client_address[1]}: {exc!r}")


class RuntimeServer(QuietServer):

    def __init__(self, instance: "FunctionInstance"):
        super().__init__((LOOPBACK, 0), RuntimeHandler)
        self.instance = instance
        self.dead = False
        self.saw_next = False

    @property
    def port(self) -> int:
        return self.server_address[1]


def read_request_body(handler: BaseHTTPRequestHandler, limit: int) -> bytes | None:
    """The request body (Content-Length or chunked); None when it is larger than `limit`."""
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        chunks, total = [], 0
        while True:
            size_line = handler.rfile.readline(65537)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            total += size
            if total > limit:
                handler.close_connection = True
                return None
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline(65537)
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    if length > limit:
        handler.close_connection = True
        return None
    return handler.rfile.read(length) if length else b""


class RuntimeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RuntimeServer

    def log_message(self, format, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):
        if self.path != f"{RUNTIME_PREFIX}/invocation/next":
            return self._send(404, json.dumps({"errorType": "NotFound", "errorMessage": self.path}).encode())
        inst = self.server.instance
        inv = inst.next_invocation(self.server)
        if inv is None:
            self.close_connection = True
            return self._send(500, b'{"errorType":"Runtime.Stopped","errorMessage":"runtime is shutting down"}')
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inst.spec.arn,
            "Lambda-Runtime-Trace-Id": f"{new_trace_id(time.time())};Parent={secrets.token_hex(8)};Sampled=0",
        }
        try:
            self._send(200, inv.event, headers)
        except OSError:
            inst.requeue(inv)

    def do_POST(self):
        body = read_request_body(self, MAX_RESPONSE_BYTES)
        inst = self.server.instance
        m = re.fullmatch(rf"{RUNTIME_PREFIX}/invocation/([^/]+)/(response|error)", self.path)
        if m:
            inv = inst.take_current(m.group(1))
            if inv is None:
                return self._send(400, json.dumps({"errorType": "InvalidRequestID",
                                                   "errorMessage": "unknown or finished request id"}).encode())
            if body is None:
                inv.finish("error", json.dumps({"errorType": "Function.ResponseSizeTooLarge",
                                                "errorMessage": "response larger than 6 MB"}).encode())
                inst.log_error(inv, "Function.ResponseSizeTooLarge", "response larger than 6 MB")
                return self._send(413, b'{"errorType":"RequestEntityTooLarge","errorMessage":"payload too large"}')
            if m.group(2) == "response":
                inv.finish("ok", body)
            else:
                error_type, message = _error_summary(self.headers.get("Lambda-Runtime-Function-Error-Type"), body)
                inst.log_error(inv, error_type, message)
                inv.finish("error", body)
            return self._send(202, b'{"status":"OK"}')
        if self.path == f"{RUNTIME_PREFIX}/init/error":
            error_type, message = _error_summary(self.headers.get("Lambda-Runtime-Function-Error-Type"), body or b"")
            inst.init_failed(self.server, error_type, message)
            return self._send(202, b'{"status":"OK"}')
        return self._send(404, json.dumps({"errorType": "NotFound", "errorMessage": self.path}).encode())


def _error_summary(header_type: str | None, body: bytes) -> tuple[str, str]:
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        obj = {}
    if not isinstance(obj, dict):
        obj = {}
    return (str(obj.get("errorType") or header_type or "Unhandled"),
            str(obj.get("errorMessage") or "")[:500])


class FunctionInstance:
    """One execution environment: the function binary polling its own Runtime API endpoint. Restarted when
    it exits or times out."""

    def __init__(self, pool: "FunctionPool", index: int):
        self.pool = pool
        self.spec = pool.spec
        self.index = index
        self.prefix = pool.spec.binary if index == 0 else f"{pool.spec.binary}#{index + 1}"
        self.cond = threading.Condition()
        self.pending: Invocation | None = None
        self.current: Invocation | None = None
        self.server: RuntimeServer | None = None
        self.child: Child | None = None
        self.busy = False
        self.stopping = False
        self.ready = threading.Event()  # the current process has asked for work at least once
        self.exits = 0
        self.last_exit: str = ""
        self._backoff = 0.0
        self._kill_reason: str | None = None

    # lifecycle -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        with self.cond:
            if self.stopping:
                return
            self.ready.clear()
            server = RuntimeServer(self)
            self.server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                         name=f"runtime-{self.prefix}").start()
        env = self.pool.process_env(server.port, self.index)
        binary = self.pool.binary_path
        try:
            child = Child(self.prefix, [str(binary)], env, cwd=binary.parent, registry=self.pool.registry)
        except OSError as e:
            server.dead = True
            server.shutdown()
            server.server_close()
            raise StackError(f"cannot start {binary}: {e}") from None
        with self.cond:
            self.child = child
        threading.Thread(target=self._watch, args=(server, child), daemon=True, name=f"watch-{self.prefix}").start()

    def _watch(self, server: RuntimeServer, child: Child) -> None:
        rc = child.proc.wait()
        with self.cond:
            server.dead = True
            self.cond.notify_all()
            current, self.current = self.current, None
            pending = None
            if not server.saw_next and self.pending is not None:
                pending, self.pending = self.pending, None  # died during init: the waiting request fails
            reason, self._kill_reason = self._kill_reason, None
            init_crash = not server.saw_next
            stopping = self.stopping
            self.exits += 1
            self.last_exit = reason or _describe_exit(rc)
        crash = json.dumps({"errorType": "Runtime.ExitError",
                            "errorMessage": f"Runtime exited ({self.last_exit})"}).encode()
        if current is not None:
            current.finish("crash", crash)
        if pending is not None:
            pending.finish("crash", crash)
        server.shutdown()
        server.server_close()
        if child.registry:
            child.registry.remove(child.pid)
        if stopping:
            return
        # back off only when the process keeps dying before it asks for work (a crash loop)
        self._backoff = min(max(self._backoff * 2, 0.5), 10.0) if init_crash and not reason else 0.0
        if not reason:
            log(self.prefix, f"process {self.last_exit}; restarting"
                + (f" in {self._backoff:.1f}s" if self._backoff else ""))
        if self._backoff:
            deadline = time.monotonic() + self._backoff
            while time.monotonic() < deadline and not self.stopping:
                time.sleep(0.1)
        try:
            self.start()
        except StackError as e:
            log(self.prefix, str(e))

    def kill(self, reason: str) -> None:
        with self.cond:
            child = self.child
            self._kill_reason = reason
        if child:
            child.kill(signal.SIGKILL)

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            child, server = self.child, self.server
            self.cond.notify_all()
        if child:
            child.stop(grace=2.0)
        if server:
            server.dead = True
            with self.cond:
                self.cond.notify_all()

    # runtime API side -----------------------------------------------------------------------------------------
    def next_invocation(self, server: RuntimeServer) -> Invocation | None:
        with self.cond:
            if server.dead:
                return None
            server.saw_next = True
            self.ready.set()
            self.cond.wait_for(lambda: server.dead or self.pending is not None)
            if server.dead:
                return None
            inv, self.pending = self.pending, None
            self.current = inv
        inv.deliver()
        return inv

    def requeue(self, inv: Invocation) -> None:
        with self.cond:
            if self.current is inv and inv.state != "done":
                self.current = None
                self.pending = inv
                inv.undeliver()
                self.cond.notify_all()

    def take_current(self, request_id: str) -> Invocation | None:
        with self.cond:
            if self.current is not None and self.current.id == request_id:
                inv, self.current = self.current, None
                return inv
        return None

    def init_failed(self, server: RuntimeServer, error_type: str, message: str) -> None:
        log(self.prefix, f"init error: {error_type}: {message}")
        with self.cond:
            pending = self.pending if not server.saw_next else None
            if pending:
                self.pending = None
        if pending:
            pending.finish("error", json.dumps({"errorType": error_type, "errorMessage": message}).encode())
        # Lambda discards an environment whose init failed
        threading.Timer(0.2, self.kill, args=(f"init error {error_type}",)).start()

    def log_error(self, inv: Invocation, error_type: str, message: str) -> None:
        log(self.prefix, f"invocation {inv.id} failed: {error_type}: {message}")

    # gateway side ---------------------------------------------------------------------------------------------
    def invoke(self, inv: Invocation) -> Invocation:
        with self.cond:
            self.pending = inv
            self.cond.notify_all()
        # wait for the process to take the event (a cold start may be in progress)
        if not inv.wait_for({"delivered", "done"}, INIT_TIMEOUT_S + inv.timeout_s):
            with self.cond:
                if self.pending is inv:
                    self.pending = None
            if inv.finish("init-timeout"):
                log(self.prefix, "the function did not ask for work in time; restarting it")
                self.kill("init timeout")
        while inv.state != "done":
            remaining = inv.timeout_s - (time.monotonic() - inv.delivered_at)
            if inv.wait_for({"done"}, max(remaining, 0) + 0.05):
                break
            if inv.state == "queued":  # handed back after a failed delivery; wait for the next poll
                inv.wait_for({"delivered", "done"}, INIT_TIMEOUT_S)
                continue
            if inv.finish("timeout"):
                log(self.prefix, f"invocation {inv.id} timed out after {inv.timeout_s:.2f} seconds; restarting")
                with self.cond:
                    if self.current is inv:
                        self.current = None
                self.kill(f"timeout of {inv.timeout_s:g}s")
        with self.cond:
            if self.pending is inv:
                self.pending = None
            if self.current is inv:
                self.current = None
        return inv


def _describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exited with code {rc}"


class FunctionPool:
    """Up to `concurrency` instances of one function; requests wait for a free one (up to the integration
    timeout, then 503 like a throttled API)."""

    def __init__(self, spec: FunctionSpec, binary_path: Path, base_env: dict[str, str], region: str,
                 concurrency: int, registry: ProcessRegistry | None):
        self.spec = spec
        self.binary_path = binary_path
        self.base_env = base_env
        self.region = region
        self.concurrency = max(1, concurrency)
        self.registry = registry
        self.cond = threading.Condition()
        self.instances: list[FunctionInstance] = []
        self.stopping = False

    def process_env(self, runtime_port: int, index: int) -> dict[str, str]:
        today = time.strftime("%Y/%m/%d", time.gmtime())
        env = dict(self.base_env)
        env.update({
            "AWS_LAMBDA_RUNTIME_API": f"{LOOPBACK}:{runtime_port}",
            "AWS_LAMBDA_FUNCTION_NAME": self.spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{today}/[$LATEST]{secrets.token_hex(16)}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "_HANDLER": self.spec.handler,
            "LAMBDA_TASK_ROOT": str(self.binary_path.parent),
        })
        if self.spec.log_format.upper() == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        return env

    def start(self) -> FunctionInstance:
        if not self.binary_path.is_file():
            raise StackError(f"function binary {self.binary_path} for {self.spec.logical_id} not found: build it "
                             "with `cargo build --bins` (or run `stack.py up` without --no-build)")
        with self.cond:
            inst = FunctionInstance(self, len(self.instances))
            self.instances.append(inst)
        inst.start()
        return inst

    def invoke(self, event: bytes, timeout_s: float, queue_timeout_s: float) -> Invocation:
        inv = Invocation(event, timeout_s)
        deadline = time.monotonic() + queue_timeout_s
        cold = None
        with self.cond:
            while True:
                if self.stopping:
                    inv.finish("crash")
                    return inv
                free = [i for i in self.instances if not i.busy]
                if free:
                    free.sort(key=lambda i: (not i.ready.is_set(), i.index))
                    inst = free[0]
                    break
                if len(self.instances) < self.concurrency:
                    inst = cold = FunctionInstance(self, len(self.instances))
                    self.instances.append(inst)
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    inv.finish("throttled")
                    return inv
                self.cond.wait(remaining)
            inst.busy = True
        try:
            if cold is not None:
                cold.start()
            return inst.invoke(inv)
        except StackError as e:
            log(self.spec.binary, str(e))
            inv.finish("crash")
            return inv
        finally:
            with self.cond:
                inst.busy = False
                self.cond.notify()

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            instances = list(self.instances)
            self.cond.notify_all()
        threads = [threading.Thread(target=i.stop, daemon=True) for i in instances]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=5)


# --------------------------------------------------------------------------------------------------------------
# The gateway


@dataclass
class Cors:
    allow_origins: list[str]
    allow_methods: list[str]
    allow_headers: list[str]
    expose_headers: list[str]
    max_age: int | None
    allow_credentials: bool

    @classmethod
    def from_config(cls, cfg: Any) -> "Cors | None":
        if not cfg:
            return None
        if cfg is True or (isinstance(cfg, str) and as_bool(cfg)):
            return cls(["*"], ["*"], ["*"], [], None, False)
        if not isinstance(cfg, dict):
            return None

        def lst(key):
            v = cfg.get(key) or []
            return [str(x) for x in (v if isinstance(v, list) else [v])]

        max_age = cfg.get("MaxAge")
        return cls(lst("AllowOrigins"), [m.upper() for m in lst("AllowMethods")],
                   [h.lower() for h in lst("AllowHeaders")], lst("ExposeHeaders"),
                   int(max_age) if max_age is not None else None, as_bool(cfg.get("AllowCredentials", False)))

    def origin_allowed(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin in self.allow_origins

    def response_headers(self, origin: str) -> list[tuple[str, str]]:
        h = [("access-control-allow-origin", "*" if "*" in self.allow_origins and not self.allow_credentials
              else origin)]
        if self.allow_credentials:
            h.append(("access-control-allow-credentials", "true"))
        if self.expose_headers:
            h.append(("access-control-expose-headers", ",".join(self.expose_headers)))
        return h

    def preflight_headers(self, origin: str, method: str, headers: str) -> list[tuple[str, str]]:
        h = self.response_headers(origin)
        h.append(("access-control-allow-methods", "*" if "*" in self.allow_methods else ",".join(self.allow_methods)))
        if self.allow_headers:
            h.append(("access-control-allow-headers", headers if "*" in self.allow_headers and headers
                      else ",".join(self.allow_headers)))
        if self.max_age is not None:
            h.append(("access-control-max-age", str(self.max_age)))
        return h


class Gateway(QuietServer):
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, port: int):
        super().__init__((LOOPBACK, port), GatewayHandler)
        self.routes: list[Route] = []
        self.pools: dict[str, FunctionPool] = {}
        self.specs: dict[str, FunctionSpec] = {}
        self.stage = "$default"
        self.api_id = "local"
        self.cors: Cors | None = None
        self.access_log = True

    @property
    def port(self) -> int:
        return self.server_address[1]


class GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Gateway

    def log_message(self, format, *args):
        pass

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes, request_id: str) -> None:
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("apigw-requestid", request_id)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        started = time.monotonic()
        gw = self.server
        request_id = new_request_id()
        if "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
            try:
                declared = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                declared = 0
        else:
            declared = 0
        body = read_request_body(self, MAX_REQUEST_BYTES) if declared <= MAX_REQUEST_BYTES else None
        if body is None:
            self.close_connection = True
            self._reply(413, JSON_HEADERS + [("Connection", "close")], json_message("Request Entity Too Large"),
                        request_id)
            return self._access(f"{self.command} (body too large)", 413, started)
        target = self.path
        path = urllib.parse.unquote(target.partition("?")[0])
        if self.headers.get(PROBE_HEADER):  # the stack's own readiness probe, never routed
            self._reply(204, [], b"", request_id)
            return None
        route_path: str | None = path
        if gw.stage != "$default":
            prefix = "/" + gw.stage
            if path == prefix:
                route_path = "/"
            elif path.startswith(prefix + "/"):
                route_path = path[len(prefix):]
            else:
                route_path = None
        origin = self.headers.get("Origin")
        cors = gw.cors if origin and gw.cors and gw.cors.origin_allowed(origin) else None
        if (gw.cors and self.command == "OPTIONS" and origin
                and self.headers.get("Access-Control-Request-Method")):
            headers = cors.preflight_headers(origin, self.headers["Access-Control-Request-Method"],
                                             self.headers.get("Access-Control-Request-Headers", "")) if cors else []
            self._reply(204, headers, b"", request_id)
            return self._access("OPTIONS (CORS preflight)", 204, started)
        route, params = (None, {}) if route_path is None else match_route(gw.routes, self.command, route_path)
        if route is None:
            self._reply(404, JSON_HEADERS, json_message("Not Found"), request_id)
            return self._access(f"{self.command} (no route)", 404, started)
        spec = gw.specs[route.function]
        event = build_event(method=self.command, target=target, headers=list(self.headers.items()), body=body,
                            route_key=route.route_key, path_parameters=params, source_ip=self.client_address[0],
                            protocol=self.request_version, stage=gw.stage, api_id=gw.api_id,
                            request_id=request_id, server_port=gw.port)
        timeout = min(spec.timeout_s, route.timeout_ms / 1000)
        inv = gw.pools[route.function].invoke(json.dumps(event).encode(), timeout, route.timeout_ms / 1000)
        extra = cors.response_headers(origin) if cors else []
        if inv.outcome == "ok":
            try:
                status, headers, data = convert_response(inv.payload)
            except ResponseError as e:
                log(spec.binary, f"invalid response for {route.route_key}: {e}")
                status, headers, data = 500, JSON_HEADERS, json_message("Internal Server Error")
            if cors:
                headers = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
        elif inv.outcome == "timeout":
            status, headers, data = 504, JSON_HEADERS, json_message("Service Unavailable")
        elif inv.outcome == "throttled":
            status, headers, data = 503, JSON_HEADERS, json_message("Service Unavailable")
        else:
            status, headers, data = 500, JSON_HEADERS, json_message("Internal Server Error")
        self._reply(status, headers + extra, data, request_id)
        self._access(route.route_key, status, started)

    def _access(self, route_key: str, status: int, started: float) -> None:
        if self.server.access_log:
            ms = (time.monotonic() - started) * 1000
            log("gateway", f"{route_key} -> {status} ({ms:.0f} ms)")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


# --------------------------------------------------------------------------------------------------------------
# SQS event source: Lambda's event source mapping for SQS, played locally (moto's own emulation ignores
# ReportBatchItemFailures, so it cannot be used)

SQS_POLL_WAIT_S = 2  # WaitTimeSeconds of each long poll: short, so that the stack stops quickly
SQS_GATHER_INTERVAL_S = 0.1  # how often a poller asks for more messages while a batching window is open
SQS_DEFAULT_BATCH_SIZE = 10
SQS_DEFAULT_MAX_CONCURRENCY = 2  # AWS scales pollers up when ScalingConfig is absent; locally two
SQS_INVOKE_QUEUE_TIMEOUT_S = 60.0  # how long a batch waits for a free instance of its function
SQS_READY_BATCHES = 2  # batches a mapping's receivers keep received ahead of a free invoker
SQS_RECEIVERS = 5  # receivers per mapping (at most its MaximumConcurrency): Lambda starts five pollers for a queue
SQS_STOP_CHECK_S = 0.2  # how often a waiting receiver or invoker looks whether the stack is stopping
# Message system attributes of a record, in the order Lambda writes them; any other one SQS returns follows.
SQS_RECORD_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SequenceNumber", "MessageGroupId", "SenderId",
                         "MessageDeduplicationId", "ApproximateFirstReceiveTimestamp", "AWSTraceHeader")
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


@dataclass
class SqsEventSource:
    """One `Type: SQS` event of a function, resolved against the local stack."""
    function: str  # logical id of the function
    event: str  # the event's name under Events
    queue: str  # logical id of the queue
    queue_arn: str
    queue_url: str
    batch_size: int = SQS_DEFAULT_BATCH_SIZE
    batching_window_s: int = 0
    report_batch_item_failures: bool = False
    max_concurrency: int = SQS_DEFAULT_MAX_CONCURRENCY
    enabled: bool = True

    def describe(self) -> str:
        window = f", window {self.batching_window_s}s" if self.batching_window_s else ""
        report = f", {REPORT_BATCH_ITEM_FAILURES}" if self.report_batch_item_failures else ""
        return (f"batches of up to {self.batch_size}{window}, {self.max_concurrency} concurrent "
                f"invocation(s){report}")


def _int_property(props: dict, key: str, default: int, low: int, high: int, where: str) -> int:
    value = props.get(key)
    if value is None:
        return default
    try:
        number = int(cfn_str(value))
    except ValueError:
        raise StackError(f"{where}: {key} {value!r} is not an integer") from None
    if not low <= number <= high:
        raise StackError(f"{where}: {key} {number} is outside {low}..{high}")
    return number


def sqs_event_sources(template: dict, resolver: Resolver, queues: dict[str, tuple[str, str]],
                      functions: set[str] | None = None) -> list[SqsEventSource]:
    """Every `Type: SQS` event of every AWS::Serverless::Function (of `functions`, when given: the ones whose
    Condition holds), with AWS's defaults and limits. `queues` maps a queue ARN to (logical id, queue URL) of the
    queues the stack created."""
    sources = []
    for lid, res in (template.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function" or (functions is not None and lid not in functions):
            continue
        for event_name, event in ((res.get("Properties") or {}).get("Events") or {}).items():
            if (event or {}).get("Type") != "SQS":
                continue
            where = f"{lid}.Events.{event_name}"
            props = resolver.resolve(event.get("Properties") or {})
            arn = props.get("Queue")
            if not isinstance(arn, str) or arn not in queues:
                raise StackError(f"{where}: Queue {arn!r} is not a queue of the template; the local stack plays SQS "
                                 "events of its own queues only")
            queue, url = queues[arn]
            fifo = arn.endswith(".fifo")
            batch_size = _int_property(props, "BatchSize", SQS_DEFAULT_BATCH_SIZE, 1, 10 if fifo else 10_000, where)
            window = _int_property(props, "MaximumBatchingWindowInSeconds", 0, 0, 300, where)
            if batch_size > 10 and window == 0:
                raise StackError(f"{where}: a BatchSize above 10 needs MaximumBatchingWindowInSeconds of at least 1")
            types = props.get("FunctionResponseTypes") or []
            if not isinstance(types, list) or any(t != REPORT_BATCH_ITEM_FAILURES for t in types):
                raise StackError(f"{where}: FunctionResponseTypes {types!r} may only hold {REPORT_BATCH_ITEM_FAILURES}")
            scaling = props.get("ScalingConfig") or {}
            if not isinstance(scaling, dict):
                raise StackError(f"{where}: ScalingConfig must be a mapping")
            concurrency = _int_property(scaling, "MaximumConcurrency", SQS_DEFAULT_MAX_CONCURRENCY, 2, 1000, where)
            if props.get("FilterCriteria"):
                log("stack", f"{where}: FilterCriteria is not emulated: every message reaches the function")
            sources.append(SqsEventSource(
                function=lid, event=event_name, queue=queue, queue_arn=arn, queue_url=url, batch_size=batch_size,
                batching_window_s=window, report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES in types,
                max_concurrency=concurrency, enabled=as_bool(props.get("Enabled", True))))
    return sources


def _binary(value: Any) -> bytes:
    """A binary message attribute value: bytes as boto3 returns them, or base64 text."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return base64.b64decode(str(value))


def md5_of_message_attributes(attributes: dict[str, dict]) -> str:
    """SQS's MD5OfMessageAttributes of message attributes shaped as ReceiveMessage returns them (StringValue,
    BinaryValue, StringListValues, BinaryListValues, DataType): for each attribute, by name, the name, the data
    type, a transport byte (1 string, 2 binary, 3 string list, 4 binary list) and the value(s), each of the
    variable-length parts preceded by its length as 4 big-endian bytes."""
    md5 = hashlib.md5()

    def part(data: bytes) -> None:
        md5.update(len(data).to_bytes(4, "big"))
        md5.update(data)

    for name in sorted(attributes):
        value = attributes[name]
        part(name.encode("utf-8"))
        part(str(value["DataType"]).encode("utf-8"))
        if value.get("StringValue") is not None:
            md5.update(b"\x01")
            part(str(value["StringValue"]).encode("utf-8"))
        elif value.get("BinaryValue") is not None:
            md5.update(b"\x02")
            part(_binary(value["BinaryValue"]))
        elif value.get("StringListValues"):
            md5.update(b"\x03")
            for s in value["StringListValues"]:
                part(str(s).encode("utf-8"))
        elif value.get("BinaryListValues"):
            md5.update(b"\x04")
            for b in value["BinaryListValues"]:
                part(_binary(b))
    return md5.hexdigest()


def sqs_message_attributes(attributes: dict[str, dict]) -> dict[str, dict]:
    """Message attributes in the camelCase shape of Lambda's SQS records (binary values base64)."""
    out: dict[str, dict] = {}
    for name, value in attributes.items():
        v: dict[str, Any] = {}
        if value.get("StringValue") is not None:
            v["stringValue"] = value["StringValue"]
        if value.get("BinaryValue") is not None:
            v["binaryValue"] = base64.b64encode(_binary(value["BinaryValue"])).decode()
        v["stringListValues"] = [str(s) for s in value.get("StringListValues") or []]
        v["binaryListValues"] = [base64.b64encode(_binary(b)).decode() for b in value.get("BinaryListValues") or []]
        v["dataType"] = value["DataType"]
        out[name] = v
    return out


def sqs_record(message: dict, queue_arn: str, region: str) -> dict:
    """The record Lambda hands a function for one message of a (boto3) ReceiveMessage answer that asked for every
    system attribute and every message attribute."""
    body = message.get("Body", "")
    attributes = message.get("Attributes") or {}
    ordered = {k: attributes[k] for k in SQS_RECORD_ATTRIBUTES if k in attributes}
    ordered.update({k: v for k, v in attributes.items() if k not in ordered})
    message_attributes = message.get("MessageAttributes") or {}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": ordered,
        "messageAttributes": sqs_message_attributes(message_attributes),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode("utf-8")).hexdigest(),
    }
    if message_attributes:
        record["md5OfMessageAttributes"] = md5_of_message_attributes(message_attributes)
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = region
    return record


def sqs_event(messages: list[dict], queue_arn: str, region: str) -> dict:
    return {"Records": [sqs_record(m, queue_arn, region) for m in messages]}


INVOCATION_FAILURES = {"error": "function error", "timeout": "function timed out", "crash": "runtime exited",
                       "init-timeout": "function did not start in time", "throttled": "no free instance"}


def sqs_batch_failures(outcome: str | None, payload: bytes, message_ids: list[str],
                       report_batch_item_failures: bool) -> tuple[set[str], str]:
    """The messages of a batch that failed, as Lambda's SQS event source decides it, and why (for the log: no
    message contents). Failed messages stay in the queue; the others are deleted.

    A failed invocation (error, timeout, crash) fails the whole batch. A successful one succeeds it, unless the
    event source has ReportBatchItemFailures: then `{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}`
    names the failed ones; an empty or null list, `{}`, `null` or an empty response mean none failed; a response
    that is not JSON or not an object, or an entry whose itemIdentifier is missing, empty or not a message of the
    batch, fails the whole batch (AWS's documented behaviour).
    """
    everything = set(message_ids)
    if outcome != "ok":
        return everything, INVOCATION_FAILURES.get(str(outcome), str(outcome))
    if not report_batch_item_failures:
        return set(), "ok"
    text = payload.strip()
    if not text:
        return set(), "ok"
    try:
        response = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return everything, "response is not JSON: whole batch failed"
    if response is None:
        return set(), "ok"
    if not isinstance(response, dict):
        return everything, "response is not an object: whole batch failed"
    items = response.get("batchItemFailures")
    if items is None:
        return set(), "ok"
    if not isinstance(items, list):
        return everything, "batchItemFailures is not a list: whole batch failed"
    failed: set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return everything, "a batchItemFailures entry has no itemIdentifier: whole batch failed"
        if identifier not in everything:
            return everything, "an itemIdentifier is not a message of the batch: whole batch failed"
        failed.add(identifier)
    return failed, f"{len(failed)} reported failure(s)" if failed else "ok"


class SqsPoller:
    """Plays one SQS event source mapping: `max_concurrency` invokers, each taking the next batch, invoking the
    function with it through the function's pool and handing the messages that succeeded to a deleter. Failed
    messages are left alone: SQS makes them visible again after the queue's visibility timeout and moves them to the
    dead-letter queue after the RedrivePolicy's maxReceiveCount (moto does both).

    Like Lambda's pollers, receiving runs apart from the function: up to SQS_RECEIVERS receivers each gather a
    batch (a long poll, then more until the batch is full or the batching window closes), keeping up to
    SQS_READY_BATCHES of them ready, so that an instance that finishes a batch starts the next one without waiting
    for SQS, and deletes happen while the next batch runs. moto hands a message to one receive at a time
    (infra/local/moto_server.py), as SQS does, so two batches never share one. A batch waiting ready is in flight:
    its visibility timeout runs, which is why AWS asks for a visibility timeout of six times the function's
    timeout."""

    def __init__(self, source: SqsEventSource, pool: FunctionPool, sqs: Any, region: str, timeout_s: float,
                 quiet: bool = False, receiver: Any = None):
        self.source = source
        self.pool = pool
        self.sqs = sqs  # deletes
        self.receiver = receiver or sqs  # receives: without retries, so that a poller stops as soon as moto does
        self.region = region
        self.timeout_s = timeout_s
        self.quiet = quiet
        self.prefix = f"sqs {source.queue}"
        self.stopping = threading.Event()
        self._ready: queue.Queue[list[dict]] = queue.Queue(maxsize=SQS_READY_BATCHES)
        self._done: queue.Queue[tuple[list[dict], Any] | None] = queue.Queue()
        self.threads: list[threading.Thread] = []
        self._deleter: threading.Thread | None = None

    def start(self) -> None:
        name = f"sqs-{self.source.queue}"
        for i in range(min(SQS_RECEIVERS, self.source.max_concurrency)):
            self.threads.append(threading.Thread(target=self._receive_loop, daemon=True,
                                                 name=f"{name}-receiver-{i + 1}"))
        for i in range(self.source.max_concurrency):
            self.threads.append(threading.Thread(target=self._invoke_loop, daemon=True, name=f"{name}-{i + 1}"))
        self._deleter = threading.Thread(target=self._delete_loop, daemon=True, name=f"{name}-deleter")
        for t in [*self.threads, self._deleter]:
            t.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stops receiving and invoking, then deletes what finished (within `timeout`); batches received and not
        yet invoked come back after their visibility timeout."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(deadline - time.monotonic(), 0))
        if self._deleter is not None:
            self._done.put(None)
            self._deleter.join(max(deadline - time.monotonic(), 0))

    def _receive_loop(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                batch = self._receive()
                failures = 0
            except Exception as e:  # moto restarting or gone; never a message's contents
                if self.stopping.is_set():
                    return
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log(self.prefix, f"receiving failed: {type(e).__name__}; retrying")
                self.stopping.wait(min(failures, 5))
                continue
            while batch and not self.stopping.is_set():
                try:
                    self._ready.put(batch, timeout=SQS_STOP_CHECK_S)
                    break
                except queue.Full:
                    continue

    def _invoke_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                batch = self._ready.get(timeout=SQS_STOP_CHECK_S)
            except queue.Empty:
                continue
            try:
                self._done.put((batch, self._invoke(batch)))
            except Exception as e:  # a bug here must not end the poller; the batch comes back later
                log(self.prefix, f"handling a batch of {len(batch)} failed: {type(e).__name__}")
                self.stopping.wait(1)

    def _delete_loop(self) -> None:
        while True:
            item = self._done.get()
            if item is None:
                return
            try:
                self._settle(*item)
            except Exception as e:  # never a message's contents
                log(self.prefix, f"settling a batch of {len(item[0])} failed: {type(e).__name__}")

    def _receive_some(self, count: int, wait_s: int) -> list[dict]:
        return self.receiver.receive_message(
            QueueUrl=self.source.queue_url, MaxNumberOfMessages=count, WaitTimeSeconds=wait_s,
            AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages") or []

    def _receive(self) -> list[dict]:
        src = self.source
        batch = self._receive_some(min(10, src.batch_size), SQS_POLL_WAIT_S)
        if batch and src.batching_window_s:
            deadline = time.monotonic() + src.batching_window_s
            while len(batch) < src.batch_size and not self.stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                more = self._receive_some(min(10, src.batch_size - len(batch)), 0)
                if more:
                    batch.extend(more)
                else:
                    self.stopping.wait(min(SQS_GATHER_INTERVAL_S, remaining))
        return batch

    def _invoke(self, batch: list[dict]) -> Any:
        event = json.dumps(sqs_event(batch, self.source.queue_arn, self.region)).encode()
        return self.pool.invoke(event, self.timeout_s, max(SQS_INVOKE_QUEUE_TIMEOUT_S, self.timeout_s))

    def _settle(self, batch: list[dict], inv: Any) -> None:
        """Deletes the messages of an invoked batch that succeeded and logs what became of the batch."""
        src = self.source
        ids = [m["MessageId"] for m in batch]
        failed, reason = sqs_batch_failures(inv.outcome, inv.payload, ids, src.report_batch_item_failures)
        done = [m for m in batch if m["MessageId"] not in failed]
        try:
            not_deleted = self._delete(done)
        except Exception as e:
            if self.stopping.is_set():
                return
            log(self.prefix, f"deleting {len(done)} message(s) failed: {type(e).__name__}")
            return
        if self.stopping.is_set() and inv.outcome != "ok":
            return  # the function was stopped with the stack
        if self.quiet and not failed and not not_deleted:
            return
        kept = [i for i in ids if i in failed]
        line = f"{len(batch)} message(s) -> {self.pool.spec.binary}: {reason}; deleted {len(done) - not_deleted}"
        if kept:
            line += f"; left for redelivery: {', '.join(kept[:10])}" + (" ..." if len(kept) > 10 else "")
        if not_deleted:
            line += f"; {not_deleted} could not be deleted"
        log(self.prefix, line)

    def _delete(self, messages: list[dict]) -> int:
        """Deletes the messages; the number SQS refused."""
        refused = 0
        for start in range(0, len(messages), 10):
            chunk = messages[start:start + 10]
            answer = self.sqs.delete_message_batch(QueueUrl=self.source.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)])
            refused += len(answer.get("Failed") or [])
        return refused


# --------------------------------------------------------------------------------------------------------------
# DynamoDB stream event source: Lambda's event source mapping for a table's stream, played locally against moto's
# DynamoDB Streams API (moto's own emulation knows no filters, partial batch responses, retries or bisection)

STREAM_DEFAULT_BATCH_SIZE = 100
STREAM_POLL_INTERVAL_S = 0.25  # Lambda polls each shard four times a second
STREAM_IDLE_POLL_S = 0.5  # locally a little slower while the stream is idle (moto keeps every iterator it hands out)
STREAM_RETRY_PAUSE_S = 0.5  # between a failed batch and its retry
STREAM_LOCAL_MAX_RETRIES = 100  # MaximumRetryAttempts -1 retries until the record expires (24 h); locally this often
STREAM_INVOKE_QUEUE_TIMEOUT_S = 60.0  # how long a batch waits for a free instance of its function
STREAM_GET_RECORDS_LIMIT = 1000
STREAM_STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
STREAM_NOT_EMULATED = ("TumblingWindowInSeconds", "KafkaBootstrapServers", "SourceAccessConfigurations",
                       "MetricsConfig")
STREAM_RECORD_KEYS = ("eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "userIdentity", "dynamodb",
                      "eventSourceARN")
STREAM_DYNAMODB_KEYS = ("ApproximateCreationDateTime", "Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes",
                        "StreamViewType")
MAX_FILTERS = 10  # Lambda allows 5 filters per event source mapping, 10 with a quota increase

# --- EventBridge-style filter patterns, the subset Lambda's FilterCriteria supports ----------------------------

FILTER_MATCHERS = ("prefix", "suffix", "equals-ignore-case", "exists", "anything-but", "numeric", "wildcard")
NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")


class FilterPatternError(ValueError):
    pass


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_leaf(value: Any, where: str) -> None:
    if isinstance(value, (dict, list)):
        raise FilterPatternError(f"{where}: {json.dumps(value)} is not a string, number, boolean or null")


def validate_filter_pattern(pattern: Any, where: str = "pattern") -> None:
    """Raises FilterPatternError unless `pattern` is an EventBridge pattern of the subset Lambda supports: an object
    whose keys hold an object (a nested pattern) or a list of values and matchers, or `$or` with a list of
    patterns."""
    if not isinstance(pattern, dict) or not pattern:
        raise FilterPatternError(f"{where}: a pattern is a non-empty JSON object")
    for key, value in pattern.items():
        at = f"{where}.{key}"
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise FilterPatternError(f"{at}: $or takes a list of at least two patterns")
            for i, sub in enumerate(value):
                validate_filter_pattern(sub, f"{at}[{i}]")
        elif isinstance(value, dict):
            validate_filter_pattern(value, at)
        elif isinstance(value, list):
            if not value:
                raise FilterPatternError(f"{at}: an empty list matches nothing")
            for item in value:
                if isinstance(item, dict):
                    _validate_matcher(item, at)
                else:
                    _check_leaf(item, at)
        else:
            raise FilterPatternError(f"{at}: a value must be in a list ([{json.dumps(value)}]) or a nested object")


def _validate_matcher(matcher: dict, where: str) -> None:
    if len(matcher) != 1 or next(iter(matcher)) not in FILTER_MATCHERS:
        raise FilterPatternError(f"{where}: {json.dumps(matcher)} is not one of the supported matchers "
                                 f"({', '.join(FILTER_MATCHERS)})")
    kind, arg = next(iter(matcher.items()))
    if kind in ("prefix", "suffix"):
        if isinstance(arg, dict) and list(arg) == ["equals-ignore-case"] and isinstance(arg["equals-ignore-case"], str):
            return
        if not isinstance(arg, str):
            raise FilterPatternError(f"{where}: {kind} takes a string")
    elif kind in ("equals-ignore-case", "wildcard"):
        if not isinstance(arg, str):
            raise FilterPatternError(f"{where}: {kind} takes a string")
    elif kind == "exists":
        if not isinstance(arg, bool):
            raise FilterPatternError(f"{where}: exists takes true or false")
    elif kind == "anything-but":
        if isinstance(arg, dict):
            if len(arg) != 1 or next(iter(arg)) not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
                raise FilterPatternError(f"{where}: anything-but takes values, or prefix, suffix, equals-ignore-case "
                                         "or wildcard")
            inner = next(iter(arg.values()))
            values = inner if isinstance(inner, list) else [inner]
            if not values or not all(isinstance(v, str) for v in values):
                raise FilterPatternError(f"{where}: anything-but's {next(iter(arg))} takes strings")
        else:
            for v in arg if isinstance(arg, list) else [arg]:
                _check_leaf(v, where)
    elif kind == "numeric":
        if not isinstance(arg, list) or not arg or len(arg) % 2 or len(arg) > 4:
            raise FilterPatternError(f"{where}: numeric takes one or two operator/number pairs")
        for op, number in zip(arg[::2], arg[1::2]):
            if op not in NUMERIC_OPERATORS or not _is_number(number):
                raise FilterPatternError(f"{where}: numeric takes pairs of {'/'.join(NUMERIC_OPERATORS)} and a "
                                         "number")


def _wildcard(pattern: str, value: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), value, re.S) is not None


def _equal(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _text_matches(kind: str, arg: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(arg, dict):  # {"prefix": {"equals-ignore-case": ...}}
        arg, value = arg["equals-ignore-case"].casefold(), value.casefold()
    if kind == "prefix":
        return value.startswith(arg)
    if kind == "suffix":
        return value.endswith(arg)
    if kind == "equals-ignore-case":
        return value.casefold() == arg.casefold()
    return _wildcard(arg, value)


def _leaf_matches(matcher: Any, value: Any) -> bool:
    """One value of the event against one list entry of the pattern (not exists, handled by the caller)."""
    if not isinstance(matcher, dict):
        return _equal(matcher, value)
    kind, arg = next(iter(matcher.items()))
    if kind in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
        return _text_matches(kind, arg, value)
    if kind == "anything-but":
        if isinstance(arg, dict):
            inner_kind, inner = next(iter(arg.items()))
            return isinstance(value, str) and not any(_text_matches(inner_kind, x, value)
                                                      for x in (inner if isinstance(inner, list) else [inner]))
        return not any(_equal(x, value) for x in (arg if isinstance(arg, list) else [arg]))
    if kind == "numeric":
        if not _is_number(value):
            return False
        checks = {"=": value.__eq__, "<": value.__lt__, "<=": value.__le__, ">": value.__gt__, ">=": value.__ge__}
        return all(checks[op](number) is True for op, number in zip(arg[::2], arg[1::2]))
    return False


_ABSENT = object()


def filter_matches(pattern: dict, event: Any) -> bool:
    """Whether the event (a record as Lambda hands it over, as JSON data) matches the pattern: every key of the
    pattern matches (a nested object its nested pattern; a list if any value of the event's field matches any entry,
    where a list in the event matches by any of its elements), `$or` if one of its patterns matches. A field that is
    absent matches only {"exists": false}."""
    if not isinstance(event, dict):
        event = {}
    for key, expected in pattern.items():
        if key == "$or":
            if not any(filter_matches(sub, event) for sub in expected):
                return False
            continue
        value = event.get(key, _ABSENT)
        if isinstance(expected, dict):
            if isinstance(value, list):
                if not any(filter_matches(expected, v) for v in value if isinstance(v, dict)):
                    return False
            elif not filter_matches(expected, value if isinstance(value, dict) else {}):
                return False
            continue
        values = [] if value is _ABSENT else (value if isinstance(value, list) else [value])
        leaves = [v for v in values if not isinstance(v, (dict, list))]
        matched = False
        for matcher in expected:
            if isinstance(matcher, dict) and "exists" in matcher:
                matched = bool(leaves) if matcher["exists"] else value is _ABSENT
            else:
                matched = any(_leaf_matches(matcher, v) for v in leaves)
            if matched:
                break
        if not matched:
            return False
    return True


def filters_match(filters: list[dict], record: dict) -> bool:
    """Lambda's FilterCriteria: no filter keeps everything; otherwise a record is kept if one pattern matches."""
    return not filters or any(filter_matches(f, record) for f in filters)


def parse_filter_criteria(criteria: Any, where: str) -> list[dict]:
    """The patterns of a FilterCriteria ({"Filters": [{"Pattern": <JSON text or object>}, ...]})."""
    if not criteria:
        return []
    filters = criteria.get("Filters") if isinstance(criteria, dict) else None
    if not isinstance(filters, list):
        raise StackError(f"{where}: FilterCriteria needs a Filters list")
    if len(filters) > MAX_FILTERS:
        raise StackError(f"{where}: FilterCriteria has {len(filters)} filters; Lambda takes at most {MAX_FILTERS}")
    patterns = []
    for i, f in enumerate(filters):
        raw = f.get("Pattern") if isinstance(f, dict) else None
        try:
            pattern = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise StackError(f"{where}: FilterCriteria.Filters[{i}].Pattern is not JSON") from None
        try:
            validate_filter_pattern(pattern, f"FilterCriteria.Filters[{i}].Pattern")
        except FilterPatternError as e:
            raise StackError(f"{where}: {e}") from None
        patterns.append(pattern)
    return patterns


# --- the event source's settings -------------------------------------------------------------------------------


@dataclass
class StreamEventSource:
    """One `Type: DynamoDB` event of a function, resolved against the local stack."""
    function: str  # logical id of the function
    event: str  # the event's name under Events
    table: str  # logical id of the table
    stream_arn: str
    starting_position: str = "LATEST"
    batch_size: int = STREAM_DEFAULT_BATCH_SIZE
    batching_window_s: int = 0
    report_batch_item_failures: bool = False
    bisect: bool = False
    max_retries: int = -1  # -1: until the record expires (locally STREAM_LOCAL_MAX_RETRIES)
    max_record_age_s: int = -1
    filters: list[dict] = field(default_factory=list)
    on_failure: tuple[str, str, str] | None = None  # ("SQS", queue logical id, URL) or ("SNS", topic id, topic ARN)
    enabled: bool = True
    max_concurrency: int = 1  # one batch at a time per shard (ParallelizationFactor 1); moto has one shard

    @property
    def retry_limit(self) -> int:
        return STREAM_LOCAL_MAX_RETRIES if self.max_retries < 0 else self.max_retries

    def describe(self) -> str:
        parts = [f"from {self.starting_position}", f"batches of up to {self.batch_size}"]
        if self.batching_window_s:
            parts.append(f"window {self.batching_window_s}s")
        if self.filters:
            parts.append(f"{len(self.filters)} filter(s)")
        if self.report_batch_item_failures:
            parts.append(REPORT_BATCH_ITEM_FAILURES)
        if self.bisect:
            parts.append("bisect on error")
        parts.append(f"{self.max_retries} retr{'y' if self.max_retries == 1 else 'ies'}" if self.max_retries >= 0
                     else f"retries until expiry (locally {STREAM_LOCAL_MAX_RETRIES})")
        if self.max_record_age_s >= 0:
            parts.append(f"records up to {self.max_record_age_s}s old")
        parts.append(f"on failure {self.on_failure[0]} {self.on_failure[1]}" if self.on_failure
                     else "no on-failure destination")
        return ", ".join(parts)


def stream_event_sources(template: dict, resolver: Resolver, streams: dict[str, str],
                         queues: dict[str, tuple[str, str]], topics: dict[str, str] | None = None,
                         functions: set[str] | None = None) -> list[StreamEventSource]:
    """Every `Type: DynamoDB` event of every AWS::Serverless::Function (of `functions`, when given), with AWS's
    defaults and limits. `streams` maps a stream ARN to the logical id of the table the stack created; `queues` a
    queue ARN to (logical id, URL) and `topics` a topic ARN to its logical id, for the on-failure destination."""
    topics = topics or {}
    sources = []
    for lid, res in (template.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function" or (functions is not None and lid not in functions):
            continue
        for event_name, event in ((res.get("Properties") or {}).get("Events") or {}).items():
            if (event or {}).get("Type") != "DynamoDB":
                continue
            where = f"{lid}.Events.{event_name}"
            props = resolver.resolve(event.get("Properties") or {})
            arn = props.get("Stream")
            if not isinstance(arn, str) or arn not in streams:
                raise StackError(f"{where}: Stream {arn!r} is not the stream of a table of the template (one with a "
                                 "StreamSpecification); the local stack plays its own tables' streams only")
            position = props.get("StartingPosition")
            if position not in STREAM_STARTING_POSITIONS:
                raise StackError(f"{where}: StartingPosition {position!r} must be one of "
                                 f"{', '.join(STREAM_STARTING_POSITIONS)} for a DynamoDB stream")
            batch_size = _int_property(props, "BatchSize", STREAM_DEFAULT_BATCH_SIZE, 1, 10_000, where)
            window = _int_property(props, "MaximumBatchingWindowInSeconds", 0, 0, 300, where)
            retries = _int_property(props, "MaximumRetryAttempts", -1, -1, 10_000, where)
            age = _int_property(props, "MaximumRecordAgeInSeconds", -1, -1, 604_800, where)
            if 0 <= age < 60:
                raise StackError(f"{where}: MaximumRecordAgeInSeconds {age} must be -1 or at least 60")
            parallel = _int_property(props, "ParallelizationFactor", 1, 1, 10, where)
            if parallel > 1:
                log("stack", f"{where}: ParallelizationFactor {parallel} is not emulated: one batch at a time")
            types = props.get("FunctionResponseTypes") or []
            if not isinstance(types, list) or any(t != REPORT_BATCH_ITEM_FAILURES for t in types):
                raise StackError(f"{where}: FunctionResponseTypes {types!r} may only hold {REPORT_BATCH_ITEM_FAILURES}")
            for key in STREAM_NOT_EMULATED:
                if props.get(key) is not None:
                    log("stack", f"{where}: {key} is not emulated")
            on_failure = None
            destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {})
            if destination:
                kind, target = str(destination.get("Type", "")).upper(), destination.get("Destination")
                if not kind and isinstance(target, str):  # Type is optional when the ARN says it
                    kind = "SQS" if target.startswith("arn:aws:sqs:") else "SNS" if ":sns:" in target else ""
                if kind == "SQS" and target in queues:
                    on_failure = ("SQS", *queues[target])
                elif kind == "SNS" and target in topics:
                    on_failure = ("SNS", topics[target], target)
                else:
                    raise StackError(f"{where}: DestinationConfig.OnFailure {kind or '?'} {target!r} is not a queue or "
                                     "topic of the template")
            sources.append(StreamEventSource(
                function=lid, event=event_name, table=streams[arn], stream_arn=arn, starting_position=position,
                batch_size=batch_size, batching_window_s=window,
                report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES in types,
                bisect=as_bool(props.get("BisectBatchOnFunctionError", False)), max_retries=retries,
                max_record_age_s=age, filters=parse_filter_criteria(props.get("FilterCriteria"), where),
                on_failure=on_failure, enabled=as_bool(props.get("Enabled", True))))
    return sources


# --- records ---------------------------------------------------------------------------------------------------


def wire_attribute_value(value: Any) -> Any:
    """A DynamoDB attribute value as boto3 returns it (B and BS as bytes) back in its JSON wire shape (base64)."""
    if not isinstance(value, dict):
        return value
    out = {}
    for tag, v in value.items():
        if tag == "B":
            out[tag] = base64.b64encode(_binary(v)).decode()
        elif tag == "BS":
            out[tag] = [base64.b64encode(_binary(x)).decode() for x in v]
        elif tag == "M":
            out[tag] = {k: wire_attribute_value(x) for k, x in v.items()}
        elif tag == "L":
            out[tag] = [wire_attribute_value(x) for x in v]
        else:
            out[tag] = v
    return out


def _epoch_seconds(value: Any) -> int | float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return int(value.timestamp())
    if _is_number(value):
        return int(value)
    if isinstance(value, str):
        return int(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    return int(time.time())


def keep_raw_stream_records(client: Any) -> Any:
    """Has a DynamoDB Streams client answer GetRecords with its records as they came over the wire (DynamoDB
    JSON, read by `json.loads`), which is the shape Lambda hands a function, instead of through botocore's parser:
    a record's every value was a shape walk in Python, then turned back into JSON by `stream_record`. During the
    benchmark's sends that parsing was two thirds of the stack's own CPU, taken from moto on two cores. Signing,
    retries, errors and the other fields are botocore's as before. Returns the client."""
    def keep(response_dict: dict, customized_response_dict: dict, **_: Any) -> None:
        if response_dict.get("status_code") != 200:
            return  # errors are botocore's to read
        body = json.loads(response_dict["body"] or b"{}")
        customized_response_dict["Records"] = body.pop("Records", [])
        response_dict["body"] = json.dumps(body).encode()
    client.meta.events.register("before-parse.dynamodb-streams.GetRecords", keep)
    return client


def stream_record(raw: dict, stream_arn: str, region: str) -> dict:
    """The record Lambda hands a function for one record of a DynamoDB Streams GetRecords answer (boto3's, or the
    wire's through `keep_raw_stream_records`): event version 1.1, the stack's region, ApproximateCreationDateTime in
    epoch seconds, binary values in base64, and the stream's ARN as eventSourceARN (moto answers 1.0, us-east-1 and a
    datetime, and names no source)."""
    ddb = raw.get("dynamodb") or {}
    dynamodb: dict[str, Any] = {}
    for key in STREAM_DYNAMODB_KEYS:
        if key not in ddb:
            continue
        if key == "ApproximateCreationDateTime":
            dynamodb[key] = _epoch_seconds(ddb[key])
        elif key in ("Keys", "NewImage", "OldImage"):
            dynamodb[key] = {k: wire_attribute_value(v) for k, v in ddb[key].items()}
        else:
            dynamodb[key] = ddb[key]
    record: dict[str, Any] = {
        "eventID": raw.get("eventID"),
        "eventName": raw.get("eventName"),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
    }
    identity = raw.get("userIdentity")
    if identity:  # TTL deletions: {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        record["userIdentity"] = {"type": identity.get("Type", identity.get("type")),
                                  "principalId": identity.get("PrincipalId", identity.get("principalId"))}
    record["dynamodb"] = dynamodb
    record["eventSourceARN"] = stream_arn
    return record


def stream_event(records: list[dict]) -> dict:
    return {"Records": records}


def stream_sequence(record: dict) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def stream_batch_result(outcome: str | None, payload: bytes, sequence_numbers: list[str],
                        report_batch_item_failures: bool) -> tuple[int | None, bool, str]:
    """How a stream batch ended, as Lambda's DynamoDB event source decides it: (None, False, "ok") when it
    succeeded, else the index in the batch from which it is retried, whether the whole batch failed (an error or an
    invalid response, rather than reported failures), and why (for the log: no record contents).

    A failed invocation (error, timeout, crash) fails the whole batch. A successful one succeeds it, unless the
    event source has ReportBatchItemFailures: then `{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}]}`
    names failed records and the batch is retried from the lowest one (the records before it are done); an empty or
    null list, `{}`, `null` or an empty response mean none failed; a response that is not JSON or not an object, or
    an itemIdentifier that is missing, empty or not a record of the batch, fails the whole batch.
    """
    if outcome != "ok":
        return 0, True, INVOCATION_FAILURES.get(str(outcome), str(outcome))
    if not report_batch_item_failures:
        return None, False, "ok"
    text = payload.strip()
    if not text:
        return None, False, "ok"
    try:
        response = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return 0, True, "response is not JSON: whole batch failed"
    if response is None:
        return None, False, "ok"
    if not isinstance(response, dict):
        return 0, True, "response is not an object: whole batch failed"
    items = response.get("batchItemFailures")
    if items is None:
        return None, False, "ok"
    if not isinstance(items, list):
        return 0, True, "batchItemFailures is not a list: whole batch failed"
    position = {seq: i for i, seq in enumerate(sequence_numbers)}
    lowest = None
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return 0, True, "a batchItemFailures entry has no itemIdentifier: whole batch failed"
        if identifier not in position:
            return 0, True, "an itemIdentifier is not a sequence number of the batch: whole batch failed"
        lowest = position[identifier] if lowest is None else min(lowest, position[identifier])
    if lowest is None:
        return None, False, "ok"
    return lowest, False, f"{len(items)} reported failure(s), the first at {sequence_numbers[lowest]}"


def _iso_seconds(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stream_failure_record(source: StreamEventSource, function_arn: str, shard_id: str, records: list[dict],
                          condition: str, invoke_count: int, function_error: bool, request_id: str,
                          now: float | None = None) -> dict:
    """Lambda's on-failure invocation record for a discarded stream batch: where it is in the stream, never its
    records. condition: RetryAttemptsExhausted or RecordAgeExceeded."""
    now = time.time() if now is None else now
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        response["functionError"] = "Unhandled"
    times = [r["dynamodb"].get("ApproximateCreationDateTime", now) for r in records]
    return {
        "requestContext": {"requestId": request_id, "functionArn": function_arn, "condition": condition,
                           "approximateInvokeCount": invoke_count},
        "responseContext": response,
        "version": "1.0",
        "timestamp": dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
                     + f"{int(now * 1000) % 1000:03d}Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": stream_sequence(records[0]),
            "endSequenceNumber": stream_sequence(records[-1]),
            "approximateArrivalOfFirstRecord": _iso_seconds(times[0]),
            "approximateArrivalOfLastRecord": _iso_seconds(times[-1]),
            "batchSize": len(records),
            "streamArn": source.stream_arn,
        },
    }


# --- one shard's batches: retries, partial failures, bisection ---------------------------------------------------


@dataclass
class StreamSettlement:
    """What happened to a batch: `done` records at the front of the shard are finished (succeeded, or reported as
    done before the first failure); `discarded` records were given up (for the on-failure destination);
    `retry` means the shard's next batch is a retry."""
    done: int = 0
    discarded: list[dict] = field(default_factory=list)
    condition: str = ""
    retry: bool = False
    bisected: bool = False
    attempts: int = 0  # invocations that included the first failed record


class StreamShardBatches:
    """The records of one shard still to be handed to the function, in order, and Lambda's bookkeeping of their
    failures. Records are only ever taken from the front: a failed batch blocks the ones after it.

    next_batch() is the front of the shard: up to BatchSize records, or the size bisection left. settle() takes
    the invocation's result: success removes the batch; a partial failure (ReportBatchItemFailures) removes the
    records before the lowest reported one and retries from there; a whole failure retries the batch, or with
    BisectBatchOnFunctionError splits it into halves first (which costs no retry). A record that failed
    1 + MaximumRetryAttempts times (or is older than MaximumRecordAgeInSeconds) gives up its batch from that record
    on: those records are discarded and the shard moves on."""

    def __init__(self, source: StreamEventSource):
        self.source = source
        self.pending: list[dict] = []
        self.sizes: list[int] = []  # sizes of the batches bisection carved from the front of `pending`
        self.failures = 0  # failed invocations of the record at the front
        self.arrived: list[float] = []  # local arrival time of each pending record (for the batching window)

    def add(self, records: list[dict], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.pending.extend(records)
        self.arrived.extend([now] * len(records))

    def __len__(self) -> int:
        return len(self.pending)

    def next_batch(self) -> list[dict]:
        size = self.sizes[0] if self.sizes else self.source.batch_size
        return self.pending[:size]

    def ready(self, now: float | None = None) -> bool:
        """Whether the next batch should go now: it is a retry or a bisected part, it is full, or the batching
        window of its oldest record has closed."""
        if not self.pending:
            return False
        if self.failures or self.sizes or len(self.pending) >= self.source.batch_size:
            return True
        now = time.monotonic() if now is None else now
        return now - self.arrived[0] >= self.source.batching_window_s

    def _drop(self, count: int) -> list[dict]:
        dropped = self.pending[:count]
        del self.pending[:count]
        del self.arrived[:count]
        if self.sizes:
            self.sizes[0] -= count
            if self.sizes[0] <= 0:
                self.sizes.pop(0)
        return dropped

    def _expired(self, record: dict, now_epoch: float) -> bool:
        age = self.source.max_record_age_s
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        return age >= 0 and _is_number(created) and now_epoch - created > age

    def settle(self, batch: list[dict], failed_from: int | None, whole: bool = True,
               now_epoch: float | None = None) -> StreamSettlement:
        """The batch's result: None (success) or the index it is retried from; `whole` when the whole batch
        failed (an error, or an invalid response: bisected when the source bisects) rather than the function
        reporting its first record as failed (retried as it is)."""
        now_epoch = time.time() if now_epoch is None else now_epoch
        assert batch and self.pending[:len(batch)] == batch, "settle() takes the batch next_batch() gave"
        if failed_from is None:
            self._drop(len(batch))
            self.failures = 0
            return StreamSettlement(done=len(batch))
        done = 0
        if failed_from > 0:  # the records before the first reported failure are done
            self._drop(failed_from)
            done, self.failures = failed_from, 0
            batch = batch[failed_from:]
        elif self.source.bisect and len(batch) > 1 and whole:
            half = (len(batch) + 1) // 2
            if self.sizes:
                self.sizes.pop(0)
            self.sizes[:0] = [half, len(batch) - half]
            return StreamSettlement(retry=True, bisected=True, attempts=self.failures)
        self.failures += 1
        condition = ""
        if self.failures > self.source.retry_limit:
            condition = "RetryAttemptsExhausted"
        elif self._expired(batch[0], now_epoch):
            condition = "RecordAgeExceeded"
        if condition:
            attempts = self.failures
            discarded = self._drop(len(batch))
            self.failures = 0
            return StreamSettlement(done=done, discarded=discarded, condition=condition, attempts=attempts)
        return StreamSettlement(done=done, retry=True, attempts=self.failures)


# --- the poller ------------------------------------------------------------------------------------------------


class StreamPoller:
    """Plays one DynamoDB stream event source mapping on one thread: reads each shard of the stream (GetRecords from
    the source's StartingPosition on), turns the records into Lambda's, drops those no filter pattern matches,
    and hands the function one batch of a shard at a time, in order, through the function's pool (StreamShardBatches
    decides retries, bisection and what is given up). A given-up batch's on-failure record goes to the source's
    DestinationConfig.OnFailure queue or topic. The log says counts, sequence numbers and outcomes, never a
    record."""

    def __init__(self, source: StreamEventSource, pool: Any, streams: Any, aws: Any, region: str, timeout_s: float,
                 function_arn: str = "", quiet: bool = False, retry_pause_s: float = STREAM_RETRY_PAUSE_S,
                 poll_s: float = STREAM_POLL_INTERVAL_S, idle_poll_s: float = STREAM_IDLE_POLL_S):
        self.source = source
        self.pool = pool
        self.streams = streams  # a dynamodbstreams client
        self.aws = aws  # AwsClients (or a fake): "sqs"/"sns" for the on-failure destination
        self.region = region
        self.timeout_s = timeout_s
        self.function_arn = function_arn or pool.spec.arn
        self.quiet = quiet
        self.retry_pause_s = retry_pause_s
        self.poll_s = poll_s
        self.idle_poll_s = idle_poll_s
        self.prefix = f"dynamodb {source.table}"
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.iterators: dict[str, str | None] = {}  # shard id -> its next iterator (None: the shard is closed)
        self.shards: dict[str, StreamShardBatches] = {}
        self.filtered = 0  # records no filter matched, since the last log line
        self.retry_at: dict[str, float] = {}  # shard id -> monotonic time of its next retry
        self.last_read: dict[str, str] = {}  # shard id -> the last sequence number read from it

    # lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.open()
        self.thread = threading.Thread(target=self._loop, daemon=True, name=f"stream-{self.source.table}")
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def open(self) -> None:
        """Takes an iterator at the StartingPosition for every shard not yet known (at start: LATEST is then)."""
        description = self.streams.describe_stream(StreamArn=self.source.stream_arn)["StreamDescription"]
        for shard in description.get("Shards") or []:
            shard_id = shard["ShardId"]
            if shard_id in self.iterators:
                continue
            position = self.source.starting_position if not self.iterators else "TRIM_HORIZON"  # new shards: all
            self.iterators[shard_id] = self.streams.get_shard_iterator(
                StreamArn=self.source.stream_arn, ShardId=shard_id, ShardIteratorType=position)["ShardIterator"]
            self.shards[shard_id] = StreamShardBatches(self.source)

    def _loop(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                busy = self.step()
                failures = 0
            except Exception as e:  # moto restarting or gone, or a bug: never a record's contents
                if self.stopping.is_set():
                    return
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log(self.prefix, f"polling the stream failed: {type(e).__name__}; retrying")
                self.stopping.wait(min(failures, 5))
                continue
            if not busy:
                waiting = any(len(b) for b in self.shards.values())
                self.stopping.wait(self.poll_s if waiting else self.idle_poll_s)

    # one round ------------------------------------------------------------------------------------------------
    def step(self, now: float | None = None) -> bool:
        """Reads new records of every shard, then hands at most one ready batch per shard to the function; whether
        a batch was handed over (the caller polls again at once)."""
        for shard_id in list(self.iterators):
            self.read(shard_id, now)
        busy = False
        for shard_id, batches in self.shards.items():
            if self.stopping.is_set():
                break
            clock = time.monotonic() if now is None else now
            if clock < self.retry_at.get(shard_id, 0.0) or not batches.ready(clock):
                continue
            self.process(shard_id, batches)
            busy = True
        return busy

    def read(self, shard_id: str, now: float | None = None) -> int:
        """GetRecords on the shard until it has nothing new; the records that pass the filters are queued.

        Once a record of the shard was read, each round starts from a new iterator after the last sequence number
        read (as Lambda resumes from its checkpoint) instead of the NextShardIterator of the last answer. moto's
        iterators hold the shard object they were taken from, and a cancelled TransactWriteItems restores
        moto's copy of the tables, shard included: the old chain then never sees another record (a whole test
        run's events were lost that way). A new iterator is taken from the table's current shard. (The stack's moto
        now undoes a cancelled transaction in place and keeps the one shard; resuming from the checkpoint stays, as
        Lambda does it.)"""
        kept = 0
        last = self.last_read.get(shard_id)
        if last is not None and self.iterators.get(shard_id):
            self.iterators[shard_id] = self.streams.get_shard_iterator(
                StreamArn=self.source.stream_arn, ShardId=shard_id, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=last)["ShardIterator"]
        while self.iterators.get(shard_id) and not self.stopping.is_set():
            answer = self.streams.get_records(ShardIterator=self.iterators[shard_id], Limit=STREAM_GET_RECORDS_LIMIT)
            self.iterators[shard_id] = answer.get("NextShardIterator")
            raw = answer.get("Records") or []
            if not raw:
                break
            self.last_read[shard_id] = max((r["dynamodb"]["SequenceNumber"] for r in raw), key=int)
            records = [stream_record(r, self.source.stream_arn, self.region) for r in raw]
            passing = [r for r in records if filters_match(self.source.filters, r)]
            self.filtered += len(records) - len(passing)
            self.shards[shard_id].add(passing, now)
            kept += len(passing)
        return kept

    def process(self, shard_id: str, batches: StreamShardBatches) -> StreamSettlement | None:
        src = self.source
        batch = batches.next_batch()
        sequence_numbers = [stream_sequence(r) for r in batch]
        event = json.dumps(stream_event(batch)).encode()
        inv = self.pool.invoke(event, self.timeout_s, max(STREAM_INVOKE_QUEUE_TIMEOUT_S, self.timeout_s))
        if self.stopping.is_set() or getattr(self.pool, "stopping", False):
            return None  # stopped with the stack: the batch is read again from the start next time
        if inv.outcome == "throttled":  # not an invocation: Lambda retries without counting it
            log(self.prefix, f"{len(batch)} record(s) -> {self.pool.spec.binary}: no free instance; retrying")
            self.retry_at[shard_id] = time.monotonic() + self.retry_pause_s
            return None
        failed_from, whole, reason = stream_batch_result(inv.outcome, inv.payload, sequence_numbers,
                                                         src.report_batch_item_failures)
        settlement = batches.settle(batch, failed_from, whole)
        filtered, self.filtered = self.filtered, 0
        span = sequence_numbers[0] + (f"..{sequence_numbers[-1]}" if len(batch) > 1 else "")
        line = f"{len(batch)} record(s) {span} -> {self.pool.spec.binary}: {reason}"
        if filtered:
            line += f" ({filtered} filtered out before)"
        if settlement.retry:
            self.retry_at[shard_id] = time.monotonic() + (0 if settlement.bisected else self.retry_pause_s)
            if settlement.done:
                line += f"; {settlement.done} done"
            if settlement.bisected:
                line += f"; bisected into {batches.sizes[0]} + {batches.sizes[1]}"
            else:
                line += (f"; retrying from {stream_sequence(batches.pending[0])} (attempt {settlement.attempts + 1} "
                         f"of {src.retry_limit + 1})")
        elif settlement.discarded:
            self.retry_at.pop(shard_id, None)
            if settlement.done:
                line += f"; {settlement.done} done"
            line += (f"; gave up {len(settlement.discarded)} record(s) after {settlement.attempts} attempt(s) "
                     f"({settlement.condition}): " + self._send_failure(shard_id, settlement, inv))
        else:
            self.retry_at.pop(shard_id, None)
            if self.quiet:
                return settlement
        log(self.prefix, line)
        return settlement

    def _send_failure(self, shard_id: str, settlement: StreamSettlement, inv: Any) -> str:
        target = self.source.on_failure
        if target is None:
            return "no on-failure destination: skipped"
        kind, name, address = target
        record = stream_failure_record(self.source, self.function_arn, shard_id, settlement.discarded,
                                       settlement.condition, settlement.attempts,
                                       function_error=inv.outcome != "ok", request_id=getattr(inv, "id", "") or "")
        body = json.dumps(record)
        try:
            if kind == "SQS":
                self.aws("sqs").send_message(QueueUrl=address, MessageBody=body)
            else:
                self.aws("sns").publish(TopicArn=address, Message=body)
        except Exception as e:
            return f"sending its on-failure record to {kind} {name} failed ({type(e).__name__}): skipped"
        return f"on-failure record sent to {kind} {name}"


# --------------------------------------------------------------------------------------------------------------
# Lambda's asynchronous invocation: how the SNS event source, EventBridge schedules and Invoke with InvocationType
# Event hand a function its event

ASYNC_DEFAULT_RETRIES = 2  # Lambda retries an asynchronous invocation twice after a function error
ASYNC_RETRY_PAUSE_S = 1.0  # AWS waits about a minute, then two; locally a second
ASYNC_INVOKE_QUEUE_TIMEOUT_S = 60.0  # how long an event waits for a free instance of its function


@dataclass
class AsyncInvokeConfig:
    """What Lambda does after a failed asynchronous invocation of a function: up to `retries` more attempts (its
    EventInvokeConfig.MaximumRetryAttempts), then the event to its DeadLetterQueue, if it has one."""
    retries: int = ASYNC_DEFAULT_RETRIES
    dead_letter: tuple[str, str, str] | None = None  # ("SQS", queue logical id, queue URL) or ("SNS", id, topic ARN)

    def describe(self) -> str:
        return (f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}, "
                + (f"dead-letter {self.dead_letter[0]} {self.dead_letter[1]}" if self.dead_letter
                   else "no dead-letter queue"))


def async_invoke_config(lid: str, resource: dict, template: dict, resolver: Resolver, topics: dict[str, str],
                        queues: dict[str, tuple[str, str]]) -> AsyncInvokeConfig:
    """A function's DeadLetterQueue and EventInvokeConfig.MaximumRetryAttempts (its own, else Globals'). `topics` maps
    a topic ARN to the logical id of a topic the stack created, `queues` a queue ARN to (logical id, queue URL)."""
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    props = resource.get("Properties") or {}
    dead_letter = None
    dlq = resolver.resolve(props.get("DeadLetterQueue", globals_fn.get("DeadLetterQueue")) or {})
    if dlq:
        kind, target = str(dlq.get("Type", "")).upper(), dlq.get("TargetArn")
        if kind == "SQS" and target in queues:
            dead_letter = ("SQS", *queues[target])
        elif kind == "SNS" and target in topics:
            dead_letter = ("SNS", topics[target], target)
        else:
            log("stack", f"{lid}.DeadLetterQueue: {kind} {target!r} is not a queue or topic of the template; "
                         "failed events are only logged")
    invoke_config = resolver.resolve(props.get("EventInvokeConfig", globals_fn.get("EventInvokeConfig")) or {})
    retries = _int_property(invoke_config, "MaximumRetryAttempts", ASYNC_DEFAULT_RETRIES, 0, 2,
                            f"{lid}.EventInvokeConfig")
    if invoke_config.get("DestinationConfig"):
        log("stack", f"{lid}.EventInvokeConfig: DestinationConfig is not emulated")
    return AsyncInvokeConfig(retries=retries, dead_letter=dead_letter)


def async_invoke_configs(template: dict, resolver: Resolver, topics: dict[str, str],
                         queues: dict[str, tuple[str, str]], functions: set[str] | None = None
                         ) -> dict[str, AsyncInvokeConfig]:
    """async_invoke_config of every AWS::Serverless::Function (of `functions`, when given), by logical id."""
    return {lid: async_invoke_config(lid, res, template, resolver, topics, queues)
            for lid, res in (template.get("Resources") or {}).items()
            if res.get("Type") == "AWS::Serverless::Function" and (functions is None or lid in functions)}


class AsyncInvoker:
    """Lambda's asynchronous invocation of one function: an invocation, then up to `config.retries` more after a
    failure (function error, timeout, crash, no free instance) `pause_s` apart, then the event to the function's
    dead-letter queue (SQS SendMessage or SNS Publish, with Lambda's RequestID, ErrorCode and ErrorMessage
    attributes) or, without one, a log line. The log (under `prefix`) says the caller's label for the event (a
    message id, an event id) and outcomes, never the event. Setting `stopping` ends pending retries."""

    def __init__(self, pool: FunctionPool, timeout_s: float, config: AsyncInvokeConfig, aws: Any, prefix: str,
                 quiet: bool = False, pause_s: float = ASYNC_RETRY_PAUSE_S, stopping: threading.Event | None = None):
        self.pool = pool
        self.timeout_s = timeout_s
        self.config = config
        self.aws = aws  # AwsClients (or a fake): "sqs"/"sns" for the dead-letter target
        self.prefix = prefix
        self.quiet = quiet
        self.pause_s = pause_s
        self.stopping = stopping if stopping is not None else threading.Event()

    def invoke(self, event: bytes, label: str) -> str:
        """Invokes the function with the event until it succeeds or the retries are spent; the last outcome ("ok",
        or why it failed)."""
        binary = self.pool.spec.binary
        attempts = 1 + self.config.retries
        reason, inv = "not invoked", None
        for attempt in range(1, attempts + 1):
            inv = self.pool.invoke(event, self.timeout_s, max(ASYNC_INVOKE_QUEUE_TIMEOUT_S, self.timeout_s))
            if inv.outcome == "ok":
                if not self.quiet or attempt > 1:
                    log(self.prefix, f"{label} -> {binary}: ok" + (f" (attempt {attempt})" if attempt > 1 else ""))
                return "ok"
            reason = INVOCATION_FAILURES.get(str(inv.outcome), str(inv.outcome))
            if self.stopping.is_set() or self.pool.stopping:
                log(self.prefix, f"{label} -> {binary}: {reason}; the stack is stopping, dropped")
                return reason
            if attempt < attempts:
                log(self.prefix, f"{label} -> {binary}: {reason} (attempt {attempt} of {attempts}); retrying in "
                                 f"{self.pause_s:g}s")
                if self.stopping.wait(self.pause_s):
                    log(self.prefix, f"{label}: the stack is stopping, dropped")
                    return reason
        log(self.prefix, f"{label} -> {binary}: {reason} after {attempts} attempt(s); "
                         + self._dead_letter(event, inv, reason))
        return reason

    def submit(self, event: bytes, label: str) -> threading.Thread:
        """invoke() on a thread of its own, as Lambda's queue for asynchronous invocations would; the thread."""
        thread = threading.Thread(target=self._invoke_logged, args=(event, label), daemon=True,
                                  name=f"async-{self.pool.spec.binary}")
        thread.start()
        return thread

    def _invoke_logged(self, event: bytes, label: str) -> None:
        try:
            self.invoke(event, label)
        except Exception as e:  # a bug here must not pass unseen
            log(self.prefix, f"{label}: invoking {self.pool.spec.binary} failed: {type(e).__name__}: {e}")

    def _dead_letter(self, event: bytes, inv: Invocation | None, reason: str) -> str:
        target = self.config.dead_letter
        if target is None:
            return "no dead-letter queue: the event is lost"
        kind, name, address = target
        message = _error_summary(None, inv.payload)[1] if inv is not None and inv.outcome == "error" else reason
        attributes = {"RequestID": {"DataType": "String", "StringValue": inv.id if inv is not None else "-"},
                      "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                      "ErrorMessage": {"DataType": "String", "StringValue": message or reason}}
        try:
            if kind == "SQS":
                self.aws("sqs").send_message(QueueUrl=address, MessageBody=event.decode(),
                                             MessageAttributes=attributes)
            else:
                self.aws("sns").publish(TopicArn=address, Message=event.decode(), MessageAttributes=attributes)
        except Exception as e:
            return f"sending it to the dead-letter {kind} {name} failed ({type(e).__name__}): the event is lost"
        return f"sent to the dead-letter {kind} {name}"


# --------------------------------------------------------------------------------------------------------------
# Lambda's SNS event source

SNS_PATH_PREFIX = "/sns/"
SNS_DEFAULT_RETRIES = ASYNC_DEFAULT_RETRIES
SNS_RETRY_PAUSE_S = ASYNC_RETRY_PAUSE_S
SNS_INVOKE_QUEUE_TIMEOUT_S = ASYNC_INVOKE_QUEUE_TIMEOUT_S
SNS_NOTIFICATION_FIELDS = ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                           "Signature", "SigningCertURL", "UnsubscribeURL")


@dataclass
class SnsEventSource:
    """One `Type: SNS` event of a function, resolved against the local stack."""
    function: str  # logical id of the function
    event: str  # the event's name under Events
    topic: str  # logical id of the topic
    topic_arn: str
    filter_policy: Any = None  # as the template gives it (a mapping), or None
    filter_policy_scope: str | None = None
    retries: int = SNS_DEFAULT_RETRIES  # the function's EventInvokeConfig.MaximumRetryAttempts
    dead_letter: tuple[str, str, str] | None = None  # ("SQS", queue logical id, queue URL) or ("SNS", id, topic ARN)

    @property
    def path(self) -> str:
        return f"{SNS_PATH_PREFIX}{self.function}/{self.event}"

    def subscription_attributes(self) -> dict[str, str]:
        attributes = {}
        if self.filter_policy_scope:
            attributes["FilterPolicyScope"] = self.filter_policy_scope
        if self.filter_policy:
            attributes["FilterPolicy"] = _json_prop(self.filter_policy)
        return attributes

    def describe(self) -> str:
        parts = [f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}"]
        if self.filter_policy:
            parts.append(f"FilterPolicy on {self.filter_policy_scope or 'MessageAttributes'}")
        parts.append(f"dead-letter {self.dead_letter[0]} {self.dead_letter[1]}" if self.dead_letter
                     else "no dead-letter queue")
        return ", ".join(parts)

    @property
    def async_config(self) -> AsyncInvokeConfig:
        return AsyncInvokeConfig(retries=self.retries, dead_letter=self.dead_letter)


def sns_event_sources(template: dict, resolver: Resolver, topics: dict[str, str],
                      queues: dict[str, tuple[str, str]], functions: set[str] | None = None,
                      configs: dict[str, AsyncInvokeConfig] | None = None) -> list[SnsEventSource]:
    """Every `Type: SNS` event of every AWS::Serverless::Function (of `functions`, when given), with its function's
    DeadLetterQueue and EventInvokeConfig.MaximumRetryAttempts (from `configs` when given, else read here). `topics`
    maps a topic ARN to the logical id of a topic the stack created, `queues` a queue ARN to (logical id, queue
    URL)."""
    sources = []
    for lid, res in (template.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function" or (functions is not None and lid not in functions):
            continue
        props = res.get("Properties") or {}
        events = [(name, event) for name, event in (props.get("Events") or {}).items()
                  if (event or {}).get("Type") == "SNS"]
        if not events:
            continue
        config = (configs or {}).get(lid) or async_invoke_config(lid, res, template, resolver, topics, queues)
        retries, dead_letter = config.retries, config.dead_letter
        for event_name, event in events:
            where = f"{lid}.Events.{event_name}"
            ep = resolver.resolve(event.get("Properties") or {})
            arn = ep.get("Topic")
            if not isinstance(arn, str) or arn not in topics:
                raise StackError(f"{where}: Topic {arn!r} is not a topic of the template; the local stack plays SNS "
                                 "events of its own topics only")
            for unsupported in ("SqsSubscription", "RedrivePolicy", "Region"):
                if ep.get(unsupported):
                    log("stack", f"{where}: {unsupported} is not emulated: SNS invokes the function directly")
            scope = ep.get("FilterPolicyScope")
            if scope is not None and scope not in ("MessageAttributes", "MessageBody"):
                raise StackError(f"{where}: FilterPolicyScope {scope!r} is not MessageAttributes or MessageBody")
            sources.append(SnsEventSource(
                function=lid, event=event_name, topic=topics[arn], topic_arn=arn,
                filter_policy=ep.get("FilterPolicy") or None, filter_policy_scope=scope, retries=retries,
                dead_letter=dead_letter))
    return sources


def sns_message_attributes(attributes: dict[str, dict] | None) -> dict[str, dict]:
    """Message attributes as Lambda's SNS records hold them: {"name": {"Type": ..., "Value": ...}}. Takes them as
    SNS's HTTP notification has them (Type/Value) or as Publish takes them (DataType/StringValue/BinaryValue);
    binary values become base64 text."""
    out = {}
    for name, value in (attributes or {}).items():
        kind = value.get("Type", value.get("DataType"))
        if "Value" in value:
            data = value["Value"]
        elif value.get("BinaryValue") is not None:
            data = value["BinaryValue"]
        else:
            data = value.get("StringValue")
        if isinstance(data, (bytes, bytearray)):
            data = base64.b64encode(bytes(data)).decode("ascii")
        elif data is not None and not isinstance(data, str):
            data = json.dumps(data) if isinstance(data, (list, dict)) else str(data)
        out[name] = {"Type": kind, "Value": data}
    return out


def sns_event(notification: dict, subscription_arn: str) -> dict:
    """The event Lambda hands a function subscribed to a topic, from SNS's HTTP notification (what moto POSTs):
    one record, Subject null when the message has none, MessageAttributes always present."""
    sns: dict[str, Any] = {k: notification.get(k) for k in SNS_NOTIFICATION_FIELDS}
    sns["Type"] = notification.get("Type") or "Notification"
    sns["MessageAttributes"] = sns_message_attributes(notification.get("MessageAttributes"))
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn,
                         "Sns": sns}]}


class SnsDelivery:
    """Lambda's asynchronous invocation of one function for one SNS subscription (AsyncInvoker: retries, then the
    function's dead-letter queue), with the SNS event made from the notification moto posts. The log says message
    ids and outcomes, never a message."""

    def __init__(self, source: SnsEventSource, pool: FunctionPool, timeout_s: float, aws: Any = None,
                 quiet: bool = False, pause_s: float = SNS_RETRY_PAUSE_S):
        self.source = source
        self.pool = pool
        self.timeout_s = timeout_s
        self.aws = aws  # AwsClients (or a fake): "sqs"/"sns" for the dead-letter target
        self.quiet = quiet
        self.pause_s = pause_s
        self.subscription_arn = ""
        self.stopping = threading.Event()
        self.prefix = f"sns {source.topic}"
        self.invoker = AsyncInvoker(pool, timeout_s, source.async_config, aws, self.prefix, quiet=quiet,
                                    pause_s=pause_s, stopping=self.stopping)

    def deliver(self, notification: dict) -> str:
        """Invokes the function with the notification until it succeeds or the retries are spent; the last outcome
        ("ok", or why it failed)."""
        message_id = str(notification.get("MessageId") or "?")
        event = json.dumps(sns_event(notification, self.subscription_arn)).encode()
        return self.invoker.invoke(event, f"message {message_id}")


class SnsListener(QuietServer):
    """Where moto delivers the notifications of the functions' `http` subscriptions (127.0.0.1, a free port; not
    the gateway): POST <path of an SnsEventSource> with SNS's HTTP notification JSON. moto posts synchronously
    inside Publish and this answers only once the function ran (retries included), so a local Publish returns after
    the function finished; AWS answers Publish at once and invokes the function later."""

    def __init__(self, port: int = 0):
        super().__init__((LOOPBACK, port), SnsHandler)
        self.deliveries: dict[str, SnsDelivery] = {}
        self.serving = False

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                         name="sns-listener").start()
        self.serving = True

    def stop(self) -> None:
        for delivery in self.deliveries.values():
            delivery.stopping.set()
        if self.serving:
            self.shutdown()
            self.serving = False
        self.server_close()


class SnsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SnsListener

    def log_message(self, format, *args):
        pass

    def _send(self, status: int, body: bytes = b"") -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_POST(self):
        body = read_request_body(self, MAX_REQUEST_BYTES)
        delivery = self.server.deliveries.get(self.path.split("?", 1)[0])
        if delivery is None:
            return self._send(404, b"no such subscription")
        if body is None:
            return self._send(413, b"too large")
        try:
            notification = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            notification = None
        if not isinstance(notification, dict):
            return self._send(400, b"not an SNS notification")
        kind = notification.get("Type") or self.headers.get("x-amz-sns-message-type") or "Notification"
        if kind != "Notification":  # SubscriptionConfirmation, UnsubscribeConfirmation: moto confirms by itself
            return self._send(200)
        try:
            delivery.deliver(notification)
        except Exception as e:  # answer anyway: moto's Publish would fail on a dropped connection
            log(delivery.prefix, f"delivering message {notification.get('MessageId')} failed: {type(e).__name__}: {e}")
            return self._send(500, b"delivery failed")
        return self._send(200)


# --------------------------------------------------------------------------------------------------------------
# EventBridge schedules: SAM's `Type: Schedule` (an EventBridge rule) and `Type: ScheduleV2` (EventBridge Scheduler)
# events, fired locally every --schedule-period seconds

SCHEDULE_CRON_PERIOD_S = 300.0  # cron expressions are not played: with --schedule-period rate they fire this often
SCHEDULE_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
SCHEDULE_RULE_STATES = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
SCHEDULE_V2_STATES = ("ENABLED", "DISABLED")
SCHEDULE_EXAMPLES = "rate(5 minutes), rate(1 hour) or cron(0 12 * * ? *)"
SCHEDULE_NOT_EMULATED = ("DeadLetterConfig", "RetryPolicy", "FlexibleTimeWindow", "StartDate", "EndDate",
                         "ScheduleExpressionTimezone")


def parse_schedule_expression(expression: Any, where: str, at_allowed: bool = False) -> tuple[str, float | None]:
    """An EventBridge schedule expression as ("rate", seconds), ("cron", None) or, for EventBridge Scheduler
    (`at_allowed`), ("at", None). Anything EventBridge would refuse is a StackError that says why: rate's value is a
    positive integer, its unit minute, hour or day, singular for 1 and plural otherwise (rate(1 minute),
    rate(5 minutes)); cron has six fields, one of day-of-month and day-of-week being `?`."""
    examples = SCHEDULE_EXAMPLES + (" or at(2026-01-31T09:00:00)" if at_allowed else "")
    if not isinstance(expression, str) or not expression.strip():
        raise StackError(f"{where}: schedule expression {expression!r} is not a string like {examples}")
    text = expression.strip()
    m = re.fullmatch(r"rate\((.*)\)", text)
    if m:
        parts = m.group(1).split()
        if len(parts) != 2 or not re.fullmatch(r"[0-9]+", parts[0]):
            raise StackError(f"{where}: {text} is not rate(<value> <unit>) with a whole number, like {examples}")
        value, unit = int(parts[0]), parts[1]
        singular = unit[:-1] if unit.endswith("s") else unit
        if singular not in SCHEDULE_RATE_UNITS:
            raise StackError(f"{where}: {text}: the unit {unit!r} is not minute(s), hour(s) or day(s)")
        if value < 1:
            raise StackError(f"{where}: {text}: the value must be a positive integer")
        expected = singular if value == 1 else singular + "s"
        if unit != expected:
            raise StackError(f"{where}: {text}: EventBridge wants rate({value} {expected}) (a singular unit for 1, "
                             "plural otherwise)")
        return "rate", float(value * SCHEDULE_RATE_UNITS[singular])
    m = re.fullmatch(r"cron\((.*)\)", text)
    if m:
        fields = m.group(1).split()
        if len(fields) != 6:
            raise StackError(f"{where}: {text} has {len(fields)} field(s); EventBridge's cron has six (minutes hours "
                             "day-of-month month day-of-week year), like cron(0 12 * * ? *)")
        if "?" not in (fields[2], fields[4]):
            raise StackError(f"{where}: {text}: one of day-of-month and day-of-week must be ?, like cron(0 12 * * ? *)")
        return "cron", None
    m = re.fullmatch(r"at\((.*)\)", text)
    if m and at_allowed:
        try:
            dt.datetime.strptime(m.group(1).strip(), "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise StackError(f"{where}: {text} is not at(yyyy-mm-ddThh:mm:ss)") from None
        return "at", None
    raise StackError(f"{where}: {text!r} is not a schedule expression: write {examples}")


@dataclass
class ScheduleSource:
    """One `Type: Schedule` or `Type: ScheduleV2` event of a function, resolved against the local stack."""
    function: str  # logical id of the function
    event: str  # the event's name under Events
    expression: str  # as the template gives it
    kind: str  # "rate", "cron" or "at"
    rate_s: float | None = None  # the rate's period; None for cron and at
    name: str = ""  # the rule's name: the event's Name, else <function>-<event>
    enabled: bool = True  # Enabled (Schedule) and State (both)
    input: str | None = None  # the event's Input (JSON text): the payload instead of the scheduled event
    event_type: str = "Schedule"  # or "ScheduleV2"
    retries: int = ASYNC_DEFAULT_RETRIES  # the function's EventInvokeConfig.MaximumRetryAttempts
    dead_letter: tuple[str, str, str] | None = None  # the function's DeadLetterQueue, as AsyncInvokeConfig has it

    def __post_init__(self):
        self.name = self.name or f"{self.function}-{self.event}"

    @property
    def key(self) -> str:
        return f"{self.function}.{self.event}"

    @property
    def async_config(self) -> AsyncInvokeConfig:
        return AsyncInvokeConfig(retries=self.retries, dead_letter=self.dead_letter)

    def rule_arn(self, region: str, account_id: str = ACCOUNT_ID) -> str:
        return f"arn:{PARTITION}:events:{region}:{account_id}:rule/{self.name}"

    def local_period(self, setting: float | str) -> float | None:
        """Seconds between two local firings under --schedule-period `setting` (0: never, "rate": the expression's
        own rate, cron every SCHEDULE_CRON_PERIOD_S, a one-time at() never; a positive number: that); None for
        never. A disabled schedule never fires."""
        if not self.enabled or setting in (0, 0.0, None):
            return None
        if setting == "rate":
            if self.kind == "rate":
                return self.rate_s
            return SCHEDULE_CRON_PERIOD_S if self.kind == "cron" else None
        return float(setting)

    def describe(self, setting: float | str) -> str:
        """How the schedule is played locally, for the startup line."""
        if not self.enabled:
            return "disabled: never fired"
        period = self.local_period(setting)
        if period is None:
            when = ("a one-time at() schedule: not fired locally (--schedule-period rate)" if setting == "rate"
                    else "not fired automatically (--schedule-period 0)")
        elif setting == "rate" and self.kind == "cron":
            when = f"cron is not played locally: every {period:g}s instead"
        else:
            when = f"locally every {period:g}s"
        payload = "its Input" if self.input is not None else "the scheduled event"
        return f"{when}, {payload}, {self.async_config.describe()}"


def schedule_sources(template: dict, resolver: Resolver, topics: dict[str, str], queues: dict[str, tuple[str, str]],
                     functions: set[str] | None = None,
                     configs: dict[str, AsyncInvokeConfig] | None = None) -> list[ScheduleSource]:
    """Every `Type: Schedule` and `Type: ScheduleV2` event of every AWS::Serverless::Function (of `functions`, when
    given), with its function's DeadLetterQueue and EventInvokeConfig.MaximumRetryAttempts (from `configs` when
    given, else read here; `topics` and `queues` as for sns_event_sources)."""
    sources = []
    for lid, res in (template.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function" or (functions is not None and lid not in functions):
            continue
        events = [(name, event) for name, event in ((res.get("Properties") or {}).get("Events") or {}).items()
                  if (event or {}).get("Type") in ("Schedule", "ScheduleV2")]
        if not events:
            continue
        config = (configs or {}).get(lid) or async_invoke_config(lid, res, template, resolver, topics, queues)
        for event_name, event in events:
            where = f"{lid}.Events.{event_name}"
            v2 = event["Type"] == "ScheduleV2"
            ep = resolver.resolve(event.get("Properties") or {})
            if not isinstance(ep, dict):
                raise StackError(f"{where}: Properties must be a mapping")
            expression_key = "ScheduleExpression" if v2 else "Schedule"
            if ep.get(expression_key) is None:
                raise StackError(f"{where}: {expression_key} is missing (like {SCHEDULE_EXAMPLES})")
            kind, rate_s = parse_schedule_expression(ep[expression_key], where, at_allowed=v2)
            enabled = True
            if not v2 and "Enabled" in ep:
                enabled = as_bool(ep["Enabled"])
            state = ep.get("State")
            if state is not None:
                allowed = SCHEDULE_V2_STATES if v2 else SCHEDULE_RULE_STATES
                if state not in allowed:
                    raise StackError(f"{where}: State {state!r} is not one of {', '.join(allowed)}")
                enabled = enabled and state != "DISABLED"
            text = None
            if ep.get("Input") is not None:
                raw = ep["Input"]
                text = raw if isinstance(raw, str) else json.dumps(raw, separators=(",", ":"))
                try:
                    json.loads(text)
                except ValueError:
                    raise StackError(f"{where}: Input is not JSON text (EventBridge passes it to the function as "
                                     "its event)") from None
            name = ep.get("Name")
            if name is not None and (not isinstance(name, str) or not re.fullmatch(r"[\w.-]{1,64}", name)):
                raise StackError(f"{where}: Name {name!r} is not 1 to 64 letters, digits, '.', '-' or '_'")
            not_emulated = [k for k in SCHEDULE_NOT_EMULATED if ep.get(k)]
            if not_emulated:
                log("stack", f"{where}: {', '.join(not_emulated)} not emulated (EventBridge's delivery to Lambda does "
                             "not fail locally)")
            sources.append(ScheduleSource(
                function=lid, event=event_name, expression=str(ep[expression_key]).strip(), kind=kind, rate_s=rate_s,
                name=name or "", enabled=enabled, input=text, event_type=str(event["Type"]), retries=config.retries,
                dead_letter=config.dead_letter))
    return sources


def event_time(now: dt.datetime | float | None = None) -> str:
    """EventBridge's `time`: UTC, to the second, YYYY-MM-DDTHH:MM:SSZ. `now`: a datetime (naive = UTC), epoch
    seconds, or None for the current time."""
    if now is None:
        t = dt.datetime.now(dt.timezone.utc)
    elif isinstance(now, (int, float)):
        t = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    else:
        t = now.replace(tzinfo=dt.timezone.utc) if now.tzinfo is None else now.astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_event(source: ScheduleSource, region: str, now: dt.datetime | float | None = None,
                   account_id: str = ACCOUNT_ID, event_id: str | None = None) -> dict:
    """The event EventBridge hands a function when its schedule fires (the rule's scheduled event)."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": event_time(now),
        "region": region,
        "resources": [source.rule_arn(region, account_id)],
        "detail": {},
    }


def schedule_payload(source: ScheduleSource, region: str, now: dt.datetime | float | None = None,
                     account_id: str = ACCOUNT_ID) -> tuple[bytes, str]:
    """What the function receives when the schedule fires, and an id for the log: the event's Input as written when
    it has one (as EventBridge does), else the scheduled event (the id is its `id`)."""
    event_id = str(uuid.uuid4())
    if source.input is not None:
        return source.input.encode("utf-8"), event_id
    return json.dumps(schedule_event(source, region, now, account_id, event_id)).encode(), event_id


class Scheduler:
    """Plays the schedules: each enabled one fires every local_period(setting) seconds (the first one a period after
    start), on a thread of its own per firing, through an AsyncInvoker (Lambda's asynchronous invocation: retries,
    then the function's dead-letter queue). fire() fires one now (a test's chosen `now` for the event's time).
    One log line per firing's outcome (`schedule <rule name>`), never the payload."""

    def __init__(self, sources: list[ScheduleSource], pools: dict[str, Any], region: str,
                 setting: float | str = 0, aws: Any = None, quiet: bool = False,
                 pause_s: float = ASYNC_RETRY_PAUSE_S, account_id: str = ACCOUNT_ID,
                 stopping: threading.Event | None = None):
        self.sources = list(sources)
        self.region = region
        self.setting = setting
        self.account_id = account_id
        self.stopping = stopping if stopping is not None else threading.Event()
        self.invokers = {s.key: AsyncInvoker(pools[s.function], pools[s.function].spec.timeout_s, s.async_config,
                                             aws, f"schedule {s.name}", quiet=quiet, pause_s=pause_s,
                                             stopping=self.stopping)
                         for s in self.sources}
        self.fired: dict[str, int] = {s.key: 0 for s in self.sources}
        self.thread: threading.Thread | None = None

    def periods(self) -> dict[str, float]:
        """The local period of each schedule that fires automatically, by key."""
        out = {}
        for s in self.sources:
            period = s.local_period(self.setting)
            if period:
                out[s.key] = period
        return out

    def fire(self, source: ScheduleSource, now: dt.datetime | float | None = None, wait: bool = True):
        """Fires `source` once, disabled or not: the outcome ("ok" or why it failed) when `wait`, else the thread
        that delivers it."""
        payload, event_id = schedule_payload(source, self.region, now, self.account_id)
        self.fired[source.key] = self.fired.get(source.key, 0) + 1
        invoker = self.invokers[source.key]
        if wait:
            return invoker.invoke(payload, f"event {event_id}")
        return invoker.submit(payload, f"event {event_id}")

    def start(self) -> None:
        periods = self.periods()
        if not periods:
            return
        self.thread = threading.Thread(target=self._loop, args=(periods,), daemon=True, name="scheduler")
        self.thread.start()

    def _loop(self, periods: dict[str, float]) -> None:
        by_key = {s.key: s for s in self.sources}
        due = {key: time.monotonic() + period for key, period in periods.items()}
        while not self.stopping.is_set():
            key = min(due, key=due.__getitem__)
            wait = due[key] - time.monotonic()
            if wait > 0:
                self.stopping.wait(wait)
                continue
            try:
                self.fire(by_key[key], wait=False)
            except Exception as e:  # the next period tries again
                log(f"schedule {by_key[key].name}", f"firing failed: {type(e).__name__}: {e}")
            due[key] = max(due[key] + periods[key], time.monotonic())  # no burst after a pause

    def stop(self, timeout: float = 2.0) -> None:
        self.stopping.set()  # no new firing; one in flight is dropped at its next retry
        if self.thread is not None:
            self.thread.join(timeout)


def schedule_period(text: str) -> float | str:
    """--schedule-period: `rate`, or seconds (0 = never)."""
    if text.strip().lower() == "rate":
        return "rate"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds or 'rate'") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 (never), a positive number of seconds or 'rate'")
    return 0 if value == 0 else value


# --------------------------------------------------------------------------------------------------------------
# Lambda's Invoke API, locally: any function, any event (tests invoke a scheduled function with a time they choose)

LAMBDA_INVOKE_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024  # Invoke's request payload limit (6291456 bytes)
MAX_DRAINED_BYTES = 64 * 1024 * 1024  # a larger body is not read to the end before the 413: the connection closes
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


@dataclass
class InvokeTarget:
    spec: FunctionSpec
    pool: Any  # FunctionPool
    invoker: AsyncInvoker  # for InvocationType Event


class InvokeApi(QuietServer):
    """Lambda's Invoke (POST /2015-03-31/functions/{FunctionName}/invocations) for the stack's functions, on
    127.0.0.1 and a free port (not the gateway): FunctionName is the logical id, the function's name or ARN (a
    partial ARN and the qualifier $LATEST too). X-Amz-Invocation-Type RequestResponse (default) answers 200 with the
    function's payload, or with X-Amz-Function-Error: Unhandled and the error payload when it failed; Event answers
    202 at once and delivers through an AsyncInvoker (retries, then the function's dead-letter queue); DryRun 204.
    Errors have Lambda's shape ({"Type": "User", "message"}, x-amzn-ErrorType), so that AWS SDKs read them: an unknown
    function 404 ResourceNotFoundException, a body over 6 MB 413 RequestTooLargeException, a body that is not JSON
    400 InvalidRequestContentException. An empty body is the event {}."""

    def __init__(self, region: str, port: int = 0, account_id: str = ACCOUNT_ID):
        super().__init__((LOOPBACK, port), InvokeHandler)
        self.region = region
        self.account_id = account_id
        self.targets: dict[str, InvokeTarget] = {}
        self.access_log = True
        self.serving = False

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def add(self, spec: FunctionSpec, pool: Any, invoker: AsyncInvoker) -> None:
        target = InvokeTarget(spec, pool, invoker)
        for name in (spec.logical_id, spec.name, spec.arn):
            self.targets[name] = target

    def find(self, name: str, qualifier: str | None = None) -> InvokeTarget | None:
        """The function `name` designates (logical id, name, ARN or account:function:name, each with an optional
        :qualifier); None when it is not a function of the stack or the qualifier is not $LATEST."""
        base = name
        parts = name.split(":")
        if name.startswith("arn:") and len(parts) in (7, 8):
            base, qualifier = ":".join(parts[:7]), (parts[7] if len(parts) == 8 else qualifier)
        elif len(parts) in (3, 4) and parts[1] == "function":
            base = f"arn:{PARTITION}:lambda:{self.region}:{parts[0]}:function:{parts[2]}"
            qualifier = parts[3] if len(parts) == 4 else qualifier
        elif len(parts) == 2:
            base, qualifier = parts
        if qualifier not in (None, "", "$LATEST"):
            return None
        return self.targets.get(base)

    def not_found_message(self, name: str, qualifier: str | None) -> str:
        arn = name if name.startswith("arn:") else (
            f"arn:{PARTITION}:lambda:{self.region}:{self.account_id}:function:{name}")
        return f"Function not found: {arn}" + (f":{qualifier}" if qualifier and ":" not in name else "")

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                         name="invoke-api").start()
        self.serving = True

    def stop(self) -> None:
        if self.serving:
            self.shutdown()
            self.serving = False
        self.server_close()


def invocation_error_payload(inv: Invocation) -> bytes:
    """The error payload Lambda answers for a failed synchronous invocation: the function's own error, or one in
    Lambda's words for a timeout or a runtime that exited."""
    if inv.outcome == "error" and inv.payload:
        return inv.payload
    if inv.outcome == "crash" and inv.payload:
        return inv.payload
    if inv.outcome == "timeout":
        error = {"errorType": "Sandbox.Timedout",
                 "errorMessage": f"RequestId: {inv.id} Error: Task timed out after {inv.timeout_s:.2f} seconds"}
    elif inv.outcome == "init-timeout":
        error = {"errorType": "Sandbox.Timedout",
                 "errorMessage": f"RequestId: {inv.id} Error: the function did not start in time"}
    else:
        why = INVOCATION_FAILURES.get(str(inv.outcome), str(inv.outcome))
        error = {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {inv.id} Error: Runtime exited ({why})"}
    return json.dumps(error).encode()


class InvokeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: InvokeApi

    def log_message(self, format, *args):
        pass

    def _send(self, status: int, body: bytes, request_id: str, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", request_id)
        for k, v in headers or []:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _error(self, status: int, error_type: str, message: str, request_id: str, **extra: str) -> None:
        body = json.dumps({**extra, "Type": "User", "message": message}).encode()
        self._send(status, body, request_id, [("x-amzn-ErrorType", error_type)])

    def _read_body(self) -> bytes | None:
        """The body; None when it is larger than Invoke takes (read to the end, up to MAX_DRAINED_BYTES, so that the
        client reads the 413 instead of a reset connection)."""
        try:
            declared = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            declared = 0
        if MAX_INVOKE_PAYLOAD_BYTES < declared <= MAX_DRAINED_BYTES:
            remaining = declared
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            self.close_connection = True
            return None
        return read_request_body(self, MAX_INVOKE_PAYLOAD_BYTES)

    def do_POST(self):
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        split = urllib.parse.urlsplit(self.path)
        body = self._read_body()
        m = LAMBDA_INVOKE_PATH.fullmatch(split.path)
        if not m:
            self._error(404, "UnknownOperationException", "Unknown operation", request_id)
            return self._access(split.path, "", 404, started, "unknown operation")
        name = urllib.parse.unquote(m.group(1))
        qualifier = urllib.parse.parse_qs(split.query).get("Qualifier", [None])[0]
        target = self.server.find(name, qualifier)
        if target is None:
            self._error(404, "ResourceNotFoundException", self.server.not_found_message(name, qualifier), request_id)
            return self._access(name, "", 404, started, "function not found")
        label = target.spec.logical_id
        if body is None:
            self.close_connection = True
            self._error(413, "RequestTooLargeException",
                        f"Request must be smaller than {MAX_INVOKE_PAYLOAD_BYTES} bytes for the InvokeFunction "
                        "operation", request_id)
            return self._access(label, "", 413, started, "payload too large")
        kind = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if kind not in INVOCATION_TYPES:
            self._error(400, "InvalidParameterValueException",
                        f"1 validation error detected: Value '{kind}' at 'invocationType' failed to satisfy "
                        f"constraint: Member must satisfy enum value set: [{', '.join(INVOCATION_TYPES)}]",
                        request_id)
            return self._access(label, kind, 400, started, "unknown invocation type")
        if not body.strip():
            body = b"{}"
        try:
            json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            self._error(400, "InvalidRequestContentException", f"Could not parse request body into json: {e}",
                        request_id)
            return self._access(label, kind, 400, started, "body is not JSON")
        if kind == "DryRun":
            self._send(204, b"", request_id)
            return self._access(label, kind, 204, started)
        if kind == "Event":
            target.invoker.submit(body, f"event {request_id}")
            self._send(202, b"", request_id)
            return self._access(label, kind, 202, started)
        inv = target.pool.invoke(body, target.spec.timeout_s, max(ASYNC_INVOKE_QUEUE_TIMEOUT_S, target.spec.timeout_s))
        if inv.outcome == "throttled":
            self._error(429, "TooManyRequestsException", "Rate Exceeded.", request_id,
                        Reason="ReservedFunctionConcurrentInvocationLimitExceeded")
            return self._access(label, kind, 429, started, "throttled")
        headers = [("X-Amz-Executed-Version", "$LATEST")]
        if inv.outcome == "ok":
            self._send(200, inv.payload, inv.id, headers)
            return self._access(label, kind, 200, started)
        self._send(200, invocation_error_payload(inv), inv.id, headers + [("X-Amz-Function-Error", "Unhandled")])
        return self._access(label, kind, 200, started,
                            "Unhandled: " + INVOCATION_FAILURES.get(str(inv.outcome), str(inv.outcome)))

    def _not_post(self):
        request_id = str(uuid.uuid4())
        self._read_body()
        self._error(404, "UnknownOperationException", "Unknown operation", request_id)

    do_GET = do_PUT = do_DELETE = do_PATCH = _not_post

    def _access(self, function: str, kind: str, status: int, started: float, note: str = "") -> None:
        """One line per request (unless --quiet): function, invocation type, status, why; never the payload."""
        if self.server.access_log:
            ms = (time.monotonic() - started) * 1000
            log("invoke", f"{function}{' ' + kind if kind else ''} -> {status}{', ' + note if note else ''} "
                          f"({ms:.0f} ms)")


# --------------------------------------------------------------------------------------------------------------
# The stack


class Shutdown(Exception):
    pass


def _moto_line_filter(verbose: bool) -> Callable[[str], bool]:
    noise = re.compile(r'"[A-Z]+ \S+ HTTP/[\d.]+" \d{3}|^\s*\* |Press CTRL\+C|WARNING: This is a development server')
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    return (lambda line: True) if verbose else (lambda line: not noise.search(ansi.sub("", line)))


def run_seed(binary: Path, seed_file: Path, env: dict[str, str], timeout: float = 120.0) -> bool:
    """Writes the local development data in `seed_file` (gatherings, keywords) with the `seed` binary (infra/seed),
    which writes through rising-core's own stores: seeded items have the functions' shapes, names sealed by KMS.
    Skipped (False) when the binary or the file is missing; a failing seed stops the start."""
    if not binary.is_file() or not seed_file.is_file():
        log("stack", f"not seeding: {seed_file if binary.is_file() else binary} not found")
        return False
    argv = [str(binary), "--file", str(seed_file)] + (["--table", env["TABLE_NAME"]] if env.get("TABLE_NAME") else [])
    try:
        proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise StackError(f"seeding with {binary} failed: {e}") from None
    for line in (proc.stdout + proc.stderr).splitlines():
        log("seed", line)
    if proc.returncode != 0:
        raise StackError(f"seeding with {binary} failed ({_describe_exit(proc.returncode)}); see its lines above")
    return True


class Stack:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.env = dict(os.environ)
        if not sys.stderr.isatty():
            self.env.setdefault("NO_COLOR", "1")  # children's lines end up in a file or CI log
        self.region = self.env.get("AWS_REGION") or self.env.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.template_path = Path(args.template).resolve()
        self.env_file = Path(args.env_file).resolve()
        target = Path(self.env.get("CARGO_TARGET_DIR") or REPO / "target")
        target = target if target.is_absolute() else REPO / target
        self.bin_dir = Path(args.bin_dir).resolve() if args.bin_dir else target / "debug"
        self.registry = ProcessRegistry(self.env_file.with_name(self.env_file.name + ".pids"), self.env_file)
        self.children: dict[str, Child] = {}
        self.pools: list[FunctionPool] = []
        self.pollers: list[SqsPoller] = []
        self.stream_pollers: list[StreamPoller] = []
        self.sns_listener: SnsListener | None = None
        self.scheduler: Scheduler | None = None
        self.invoke_api: InvokeApi | None = None
        self.async_stopping = threading.Event()  # ends the retries of asynchronous invocations when the stack stops
        self.gateway: Gateway | None = None
        self.gateway_serving = False
        self.wrote_env = False

    # helpers ------------------------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        log("stack", message)

    def _start_child(self, name: str, argv: list[str], **kw) -> Child:
        try:
            child = Child(name, argv, kw.pop("env", self.env), registry=self.registry, die_with_parent=True, **kw)
        except OSError as e:
            raise StackError(f"cannot start {argv[0]}: {e}") from None
        self.children[name] = child
        return child

    def _wait(self, what: str, check: Callable[[], bool], child: Child | None, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if child is not None and child.poll() is not None:
                raise StackError(f"{what} exited during start ({_describe_exit(child.poll())}); see its lines above")
            time.sleep(0.1)
        raise StackError(f"{what} did not answer within {timeout:.0f}s")

    # steps --------------------------------------------------------------------------------------------------
    def build(self) -> None:
        cargo = shutil.which("cargo")
        if not cargo:
            raise StackError("cargo not found on PATH (needed to build the functions and the Twilio emulator; "
                             "or pass --no-build)")
        self.say("building: cargo build --bins")
        rc = subprocess.call([cargo, "build", "--bins"], cwd=str(REPO), stdout=sys.stderr, stderr=sys.stderr,
                             stdin=subprocess.DEVNULL)
        if rc != 0:
            raise StackError(f"cargo build failed (exit {rc})")

    def emulator_binary(self) -> Path:
        return Path(self.args.twilio_emulator) if self.args.twilio_emulator else self.bin_dir / "twilio-emulator"

    def check_binaries(self, resources: dict) -> None:
        """Fail before starting anything when a binary is missing."""
        missing = []
        if not self.env.get("TWILIO_API_BASE_URL") and not self.emulator_binary().is_file():
            missing.append((self.emulator_binary(), "cargo build -p twilio-emulator"))
        for lid, res in resources.items():
            if res.get("Type") == "AWS::Serverless::Function":
                binary = self.bin_dir / function_binary_name(lid, res)
                if not binary.is_file():
                    missing.append((binary, "cargo build --bins"))
        if missing:
            lines = "; ".join(f"{path} (build it with `{how}`)" for path, how in missing)
            raise StackError(f"missing binaries: {lines}. Run `stack.py up` without --no-build to build them"
                             + ("" if self.env.get("TWILIO_API_BASE_URL") else
                                ", or set TWILIO_API_BASE_URL to use another Twilio endpoint than the emulator"))

    def start_moto(self) -> tuple[Child, str]:
        # moto's own server with DynamoDB calls serialised (infra/local/moto_server.py says why).
        try:
            import moto.server  # noqa: F401
        except ImportError:
            raise StackError(f"moto is not installed for {sys.executable}: run infra/bootstrap.sh and use "
                             ".venv/bin/python") from None
        port = free_port()
        argv = [sys.executable, str(HERE / "moto_server.py"), "-H", LOOPBACK, "-p", str(port)]
        if not self.args.verbose:
            argv.append("--no-request-log")  # the line filter would drop each line
        child = self._start_child("moto", argv, line_filter=_moto_line_filter(self.args.verbose))
        return child, f"http://{LOOPBACK}:{port}"

    def start_emulator(self, sid: str, token: str, number: str, public_base_url: str) -> tuple[Child, str]:
        binary = self.emulator_binary()
        if not binary.is_file():
            raise StackError(f"Twilio emulator binary {binary} not found: build it with "
                             "`cargo build -p twilio-emulator` (or run `stack.py up` without --no-build), or set "
                             "TWILIO_API_BASE_URL to use another Twilio endpoint")
        port = free_port()
        argv = [str(binary), "--listen", f"{LOOPBACK}:{port}", "--account-sid", sid, "--auth-token", token,
                "--phone-number", number, "--sms-webhook-url", public_base_url.rstrip("/") + SMS_WEBHOOK_PATH,
                *EMULATOR_TEST_NUMBERS]
        child = self._start_child("twilio-emulator", argv)
        return child, f"http://{LOOPBACK}:{port}"

    def run(self, ready: Callable[[dict[str, str]], int | None] | None = None) -> int:
        template = load_template(self.template_path)
        resources = template.get("Resources") or {}
        try:
            local_defaults = json.loads(PARAMETERS_FILE.read_text())
        except FileNotFoundError:
            local_defaults = {}
        base_params = parameter_values(template, self.env, local_defaults, {})

        self.registry.claim()
        if not self.args.no_build:
            self.build()
        self.check_binaries(resources)

        # the gateway socket first: its port is part of PUBLIC_BASE_URL, which the emulator needs
        port = self.args.gateway_port
        try:
            self.gateway = Gateway(port)
        except OSError as e:
            raise StackError(f"cannot listen on {LOOPBACK}:{port} ({e.strerror}): set GATEWAY_PORT or pass "
                             "--gateway-port (0 picks a free port)") from None
        gw = self.gateway
        gw.stage = self.args.stage
        gw.access_log = not self.args.quiet
        gateway_url = f"http://{LOOPBACK}:{gw.port}"
        stage_url = gateway_url if gw.stage == "$default" else f"{gateway_url}/{gw.stage}"

        out: dict[str, str] = {}
        out["GATEWAY_URL"] = stage_url
        out["PUBLIC_BASE_URL"] = self.env.get("PUBLIC_BASE_URL") or stage_url
        out["AWS_REGION"] = self.region
        out["AWS_ACCESS_KEY_ID"] = "testing"
        out["AWS_SECRET_ACCESS_KEY"] = "testing"
        out["TWILIO_ACCOUNT_SID"] = self.env.get("TWILIO_ACCOUNT_SID") or base_params.get("TwilioAccountSid", "")
        out["TWILIO_PHONE_NUMBER"] = (self.env.get("TWILIO_PHONE_NUMBER")
                                      or base_params.get("TwilioPhoneNumber", ""))
        secret_values: dict[str, str] = {}
        for pname in secret_parameter_names(template):
            key = secret_env_name(pname)
            secret_values[key] = self.env.get(key) or LOCAL_SECRETS.get(
                key, lambda: base64.b64encode(secrets.token_bytes(32)).decode())()
        if "TWILIO_AUTH_TOKEN" not in secret_values:  # the emulator needs one even if no function reads it
            secret_values["TWILIO_AUTH_TOKEN"] = (self.env.get("TWILIO_AUTH_TOKEN")
                                                  or LOCAL_SECRETS["TWILIO_AUTH_TOKEN"]())
        out["TWILIO_AUTH_TOKEN"] = secret_values["TWILIO_AUTH_TOKEN"]
        hash_key = secret_values.get("CONTACT_HASH_KEY")
        if hash_key:
            try:
                if len(base64.b64decode(hash_key, validate=True)) < 32:
                    self.say("warning: CONTACT_HASH_KEY decodes to fewer than 32 bytes")
            except (binascii.Error, ValueError):
                raise StackError("CONTACT_HASH_KEY must be base64") from None

        # moto and the emulator start together
        moto, moto_url = self.start_moto()
        emulator = None
        if self.env.get("TWILIO_API_BASE_URL"):
            out["TWILIO_API_BASE_URL"] = self.env["TWILIO_API_BASE_URL"]
            out["TWILIO_EMULATOR_URL"] = self.env.get("TWILIO_EMULATOR_URL") or self.env["TWILIO_API_BASE_URL"]
            self.say(f"using TWILIO_API_BASE_URL={out['TWILIO_API_BASE_URL']} (no emulator started)")
        else:
            emulator, emulator_url = self.start_emulator(out["TWILIO_ACCOUNT_SID"], out["TWILIO_AUTH_TOKEN"],
                                                         out["TWILIO_PHONE_NUMBER"], out["PUBLIC_BASE_URL"])
            out["TWILIO_API_BASE_URL"] = out["TWILIO_EMULATOR_URL"] = emulator_url
        out["AWS_ENDPOINT_URL"] = moto_url
        self._wait("moto", lambda: http_answers(moto_url + "/moto-api/") is not None, moto, 30)
        if emulator:
            self._wait("twilio-emulator", lambda: http_answers(emulator_url + "/_emulator/health") == 200,
                       emulator, 30)

        # parameters, resources, secrets
        params = parameter_values(template, self.env, local_defaults,
                                  {k: out[k] for k in STACK_BOUND_PARAMETERS.values() if k in out})
        aws = AwsClients(moto_url, self.region)
        created: dict[str, dict] = {}
        resource_env: dict[str, str] = {}

        def attrs(lid: str) -> dict:
            if lid in created:
                return created[lid]
            if lid not in resources and lid != "ServerlessHttpApi" and not lid.endswith("Role"):
                raise IntrinsicError(f"unknown resource or parameter {lid}")
            return fallback_attrs(lid, resources.get(lid, {}), self.region, stage_url)

        resolver = Resolver(template, params, self.region, attrs)
        creatable = [lid for lid, r in resources.items() if r.get("Type") in RESOURCE_CREATORS
                     and (not r.get("Condition") or resolver.condition(r["Condition"]))]
        for lid in creation_order(resources, creatable):
            r = resources[lid]
            props = resolver.resolve(r.get("Properties") or {})
            try:
                a, e = RESOURCE_CREATORS[r["Type"]](aws, lid, props)
            except Exception as ex:
                raise StackError(f"creating {lid} ({r['Type']}) in moto failed: {ex}") from None
            created[lid] = a
            for suffix, value in e.items():
                resource_env[f"{upper_snake(lid)}_{suffix}"] = value
        skipped = sorted({r.get("Type", "?") for r in resources.values() if r.get("Type") not in RESOURCE_CREATORS
                          and r.get("Type") not in ("AWS::Serverless::Function", "AWS::Serverless::HttpApi")})
        self.say(f"created {len(created)} resource(s) in moto" + (f"; not emulated: {', '.join(skipped)}"
                                                                   if skipped else ""))
        ssm = aws("ssm")
        for pname in secret_parameter_names(template):
            key = secret_env_name(pname)
            ssm.put_parameter(Name=params[pname], Type="SecureString", Value=secret_values[key], Overwrite=True)
            out[upper_snake(pname)] = params[pname]
            out[key] = secret_values[key]

        # functions, and the SQS queues that invoke them
        specs = function_specs(template, resolver, self.region)
        queues = {a["Arn"]: (lid, a["QueueUrl"]) for lid, a in created.items() if "QueueUrl" in a}
        sources = sqs_event_sources(template, resolver, queues, {spec.logical_id for spec in specs})
        topics = {a["TopicArn"]: lid for lid, a in created.items() if "TopicArn" in a}
        function_ids = {spec.logical_id for spec in specs}
        async_configs = async_invoke_configs(template, resolver, topics, queues, function_ids)
        sns_sources = sns_event_sources(template, resolver, topics, queues, function_ids, async_configs)
        schedules = schedule_sources(template, resolver, topics, queues, function_ids, async_configs)
        streams = {a["StreamArn"]: lid for lid, a in created.items() if "StreamArn" in a}
        stream_sources = stream_event_sources(template, resolver, streams, queues, topics, function_ids)
        template_env: dict[str, str] = {}
        for spec in specs:
            for k, v in spec.environment.items():
                if k != "RUST_LOG":
                    template_env.setdefault(k, v)
        base_env = self.function_base_env(out)
        run_seed(self.bin_dir / "seed", HERE / "seed" / "gatherings.json", {**base_env, **template_env})
        gw.api_id = api_id_for("HttpApi" if "HttpApi" in resources else "ServerlessHttpApi")
        gw.cors = self.cors_config(template, resolver)
        for spec in specs:
            env = dict(base_env)
            env.update(spec.environment)
            for k in ("PUBLIC_BASE_URL", "TWILIO_API_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_PHONE_NUMBER"):
                env[k] = out[k]
            if self.env.get("RUST_LOG"):
                env["RUST_LOG"] = self.env["RUST_LOG"]
            pool = FunctionPool(spec, self.bin_dir / spec.binary, env, self.region,
                                self.function_concurrency(spec, [*sources, *stream_sources]), self.registry)
            self.pools.append(pool)
            gw.pools[spec.logical_id] = pool
            gw.specs[spec.logical_id] = spec
            gw.routes.extend(spec.routes)
        for route_key in _duplicates([r.route_key for r in gw.routes]):
            raise StackError(f"two functions claim the route {route_key}")
        first = [pool.start() for pool in self.pools]
        for pool, inst in zip(self.pools, first):
            self._wait(f"function {pool.spec.binary}", lambda: inst.ready.is_set() or inst.exits > 0, None,
                       self.args.ready_timeout)
            if not inst.ready.is_set():
                raise StackError(f"function {pool.spec.binary} ({pool.binary_path}) {inst.last_exit} before asking "
                                 "the Runtime API for work; see its lines above")

        threading.Thread(target=gw.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                         name="gateway").start()
        self.gateway_serving = True
        self._wait("gateway", lambda: probe(gateway_url + "/"), None, 10)
        self.start_event_sources(sources, gw, moto_url)
        self.start_stream_sources(stream_sources, gw, moto_url, aws)
        self.start_sns_subscriptions(sns_sources, gw, aws)
        out["LAMBDA_ENDPOINT_URL"] = self.start_invoke_api(gw, aws, async_configs)
        self.start_schedules(schedules, gw, aws)

        # the env file, once everything answers
        lines = dict(out)
        for k, v in sorted(resource_env.items()):
            lines.setdefault(k, v)
        for k, v in template_env.items():
            lines.setdefault(k, v)
        ordered = ["GATEWAY_URL", "PUBLIC_BASE_URL", "AWS_ENDPOINT_URL", "LAMBDA_ENDPOINT_URL", "AWS_REGION",
                   "AWS_ACCESS_KEY_ID",
                   "AWS_SECRET_ACCESS_KEY", "TWILIO_API_BASE_URL", "TWILIO_EMULATOR_URL", "TWILIO_ACCOUNT_SID",
                   "TWILIO_AUTH_TOKEN", "TWILIO_PHONE_NUMBER"]
        keys = [k for k in ordered if k in lines] + [k for k in lines if k not in ordered]
        text = "".join(f"{k}={_env_value(lines[k])}\n" for k in keys)
        atomic_write(self.env_file, "# written by infra/local/stack.py; removed when the stack stops\n" + text)
        self.wrote_env = True
        stream = sys.stderr if ready else sys.stdout
        stream.write(text)
        stream.write(f"rising local stack ready: GATEWAY_URL={lines['GATEWAY_URL']}\n")
        stream.flush()

        if ready:
            return ready({k: lines[k] for k in keys})
        return self.monitor()

    def function_concurrency(self, spec: FunctionSpec, sources: list[SqsEventSource | StreamEventSource]) -> int:
        """Instances a function may run at once: --concurrency for its HTTP routes, plus the MaximumConcurrency of
        each of its enabled SQS event sources and one for each enabled stream source (one batch at a time), so that
        every poller always finds an instance."""
        from_queues = sum(s.max_concurrency for s in sources if s.function == spec.logical_id and s.enabled)
        if not from_queues:
            return self.args.concurrency
        return from_queues + (self.args.concurrency if spec.routes else 0)

    def start_event_sources(self, sources: list[SqsEventSource], gw: Gateway, moto_url: str) -> None:
        connections = sum(s.max_concurrency for s in sources if s.enabled) + 4
        sqs = AwsClients(moto_url, self.region, max_pool_connections=connections)
        receiver = AwsClients(moto_url, self.region, max_pool_connections=connections, max_attempts=1)
        for source in sources:
            spec = gw.specs[source.function]
            if not source.enabled:
                self.say(f"SQS event {source.function}.{source.event}: {source.queue} -> {spec.binary} is disabled "
                         "(Enabled: false)")
                continue
            poller = SqsPoller(source, gw.pools[source.function], sqs("sqs"), self.region, spec.timeout_s,
                               quiet=self.args.quiet, receiver=receiver("sqs"))
            poller.start()
            self.pollers.append(poller)
            self.say(f"SQS event {source.function}.{source.event}: {source.queue} -> {spec.binary}, "
                     + source.describe())

    def start_stream_sources(self, sources: list[StreamEventSource], gw: Gateway, moto_url: str,
                             aws: AwsClients) -> None:
        """One StreamPoller per enabled DynamoDB event, reading the table's stream in moto."""
        if not sources:
            return
        streams = AwsClients(moto_url, self.region, max_pool_connections=len(sources) + 2, max_attempts=1)
        reader = keep_raw_stream_records(streams("dynamodbstreams"))
        for source in sources:
            spec = gw.specs[source.function]
            what = f"DynamoDB event {source.function}.{source.event}: {source.table} stream -> {spec.binary}"
            if not source.enabled:
                self.say(f"{what} is disabled (Enabled: false)")
                continue
            poller = StreamPoller(source, gw.pools[source.function], reader, aws, self.region,
                                  spec.timeout_s, function_arn=spec.arn, quiet=self.args.quiet)
            try:
                poller.start()
            except Exception as e:
                raise StackError(f"reading the stream of {source.table} in moto failed: {e}") from None
            self.stream_pollers.append(poller)
            self.say(f"{what}, " + source.describe())

    def start_sns_subscriptions(self, sources: list[SnsEventSource], gw: Gateway, aws: AwsClients) -> None:
        """Subscribes the SNS listener to each SNS event's topic (protocol http), once the functions run."""
        if not sources:
            return
        self.sns_listener = listener = SnsListener()
        listener.start()
        for source in sources:
            spec = gw.specs[source.function]
            delivery = SnsDelivery(source, gw.pools[source.function], spec.timeout_s, aws, quiet=self.args.quiet)
            listener.deliveries[source.path] = delivery
            try:
                delivery.subscription_arn = aws("sns").subscribe(
                    TopicArn=source.topic_arn, Protocol="http", Endpoint=listener.url + source.path,
                    Attributes=source.subscription_attributes(), ReturnSubscriptionArn=True)["SubscriptionArn"]
            except Exception as e:
                raise StackError(f"subscribing {source.function} to {source.topic} in moto failed: {e}") from None
            self.say(f"SNS event {source.function}.{source.event}: {source.topic} -> {spec.binary}, "
                     + source.describe())

    def start_invoke_api(self, gw: Gateway, aws: AwsClients, configs: dict[str, AsyncInvokeConfig]) -> str:
        """Serves Lambda's Invoke API for every function (127.0.0.1, a free port); its URL."""
        self.invoke_api = api = InvokeApi(self.region)
        api.access_log = not self.args.quiet
        for lid, pool in gw.pools.items():
            spec = gw.specs[lid]
            invoker = AsyncInvoker(pool, spec.timeout_s, configs.get(lid) or AsyncInvokeConfig(), aws, f"invoke {lid}",
                                   quiet=self.args.quiet, stopping=self.async_stopping)
            api.add(spec, pool, invoker)
        api.start()
        return api.url

    def start_schedules(self, sources: list[ScheduleSource], gw: Gateway, aws: AwsClients) -> None:
        """Plays the template's Schedule/ScheduleV2 events every --schedule-period seconds (0: never by itself)."""
        if not sources:
            return
        setting = getattr(self.args, "schedule_period", 0)
        self.scheduler = Scheduler(sources, gw.pools, self.region, setting, aws, quiet=self.args.quiet,
                                   stopping=self.async_stopping)
        for source in sources:
            binary = gw.specs[source.function].binary
            self.say(f"{source.event_type} event {source.key}: {source.expression} -> {binary}, rule {source.name}, "
                     + source.describe(setting))
        self.scheduler.start()

    def function_base_env(self, out: dict[str, str]) -> dict[str, str]:
        env = {
            "PATH": self.env.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": out["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": out["AWS_SECRET_ACCESS_KEY"],
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ENDPOINT_URL": out["AWS_ENDPOINT_URL"],
            # the function must not read a developer's ~/.aws files or wait for EC2 metadata
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            # moto serves one request at a time and sometimes answers concurrent transactions with a
            # 500; the SDK retries those. A few more attempts than AWS's default keep runs steady.
            "AWS_MAX_ATTEMPTS": "6",
        }
        for k in ("RUST_BACKTRACE", "SSL_CERT_FILE", "SSL_CERT_DIR", "NO_COLOR"):
            if self.env.get(k):
                env[k] = self.env[k]
        return env

    @staticmethod
    def cors_config(template: dict, resolver: Resolver) -> Cors | None:
        cfg = ((template.get("Globals") or {}).get("HttpApi") or {}).get("CorsConfiguration")
        for r in (template.get("Resources") or {}).values():
            if r.get("Type") == "AWS::Serverless::HttpApi" and (r.get("Properties") or {}).get("CorsConfiguration"):
                cfg = r["Properties"]["CorsConfiguration"]
        return Cors.from_config(resolver.resolve(cfg)) if cfg else None

    def monitor(self) -> int:
        while True:
            for name in ("moto", "twilio-emulator"):
                child = self.children.get(name)
                if child is not None and child.poll() is not None:
                    self.say(f"{name} {_describe_exit(child.poll())} unexpectedly; stopping the stack")
                    return 1
            time.sleep(0.25)

    def shutdown(self) -> None:
        for poller in [*self.pollers, *self.stream_pollers]:
            poller.stopping.set()  # no new batch; the ones in flight end when their functions stop
        if self.sns_listener:
            self.sns_listener.stop()  # no new notification; one in flight ends when its function stops
        if self.scheduler:
            self.scheduler.stop()  # no new firing
        self.async_stopping.set()  # no more retries of asynchronous invocations
        if self.invoke_api:
            self.invoke_api.stop()
        if self.gateway:
            if self.gateway_serving:
                self.gateway.shutdown()
            self.gateway.server_close()
        threads = [threading.Thread(target=p.stop, daemon=True)
                   for p in [*self.pollers, *self.stream_pollers, *self.pools]]
        threads += [threading.Thread(target=c.stop, daemon=True) for c in self.children.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        if self.wrote_env:
            try:
                self.env_file.unlink()
            except FileNotFoundError:
                pass
        self.registry.release()


def _duplicates(items: list[str]) -> list[str]:
    seen, dup = set(), []
    for x in items:
        if x in seen and x not in dup:
            dup.append(x)
        seen.add(x)
    return dup


def _env_value(v: str) -> str:
    """Unquoted when safe for both `set -a; . file` and Make's `include` (every value the stack writes today);
    single-quoted for a shell otherwise."""
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]*", v):
        return v
    return "'" + v.replace("'", "'\\''") + "'"


# --------------------------------------------------------------------------------------------------------------
# CLI


def parse_args(argv: list[str]) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--gateway-port", type=int, default=int(os.environ.get("GATEWAY_PORT") or 3000),
                        help="port of the local HTTP API (default: $GATEWAY_PORT or 3000; 0 picks a free port)")
    common.add_argument("--env-file", default=str(DEFAULT_ENV_FILE),
                        help="where to write KEY=VALUE lines once the stack answers (default: .local/stack.env)")
    common.add_argument("--no-build", action="store_true", help="do not run `cargo build --bins` first")
    common.add_argument("--concurrency", type=int, default=2,
                        help="most instances of one function serving HTTP requests at once (default: 2); an SQS "
                             "event source adds its ScalingConfig.MaximumConcurrency")
    common.add_argument("--template", default=str(DEFAULT_TEMPLATE), help="SAM template (default: template.yaml)")
    common.add_argument("--bin-dir", default=None,
                        help="directory of the function and emulator binaries (default: $CARGO_TARGET_DIR or "
                             "target, then /debug)")
    common.add_argument("--twilio-emulator", default=None, help="path of the Twilio emulator binary "
                        "(default: <bin-dir>/twilio-emulator)")
    common.add_argument("--stage", default="$default", help="API stage name (default: $default, no path prefix)")
    common.add_argument("--ready-timeout", type=float, default=60.0,
                        help="seconds a function may take to ask for its first event (default: 60)")
    common.add_argument("--schedule-period", type=schedule_period, default=0, metavar="SECONDS",
                        help="how often the template's Schedule/ScheduleV2 events fire: 0 (default) never by "
                             "themselves (tests fire them through LAMBDA_ENDPOINT_URL), 'rate' at the template's "
                             "own rate (cron: every 300 s), N every N seconds")
    common.add_argument("--quiet", action="store_true", help="no access log line per request")
    common.add_argument("--verbose", action="store_true", help="also show moto's request log")
    parser = argparse.ArgumentParser(prog="stack.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", parents=[common], help="start the local stack and run until interrupted")
    run = sub.add_parser("run", parents=[common], help="start the stack, run a command with its environment, stop")
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="-- command and arguments")
    args = parser.parse_args(argv)
    if args.command == "run":
        if args.cmd and args.cmd[0] == "--":
            args.cmd = args.cmd[1:]
        if not args.cmd:
            parser.error("run needs a command after --")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stack = Stack(args)
    stopping = {"now": False, "signal": None}

    def on_signal(signum, frame):
        if stopping["now"]:
            return
        stopping["now"] = True
        stopping["signal"] = signum
        raise Shutdown()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    command_child: list[subprocess.Popen] = []

    def run_command(env_lines: dict[str, str]) -> int:
        env = dict(os.environ)
        env.update(env_lines)
        env["STACK_ENV_FILE"] = str(stack.env_file)
        try:
            proc = subprocess.Popen(args.cmd, env=env, start_new_session=True)
        except OSError as e:
            raise StackError(f"cannot run {args.cmd[0]}: {e}") from None
        command_child.append(proc)
        while True:
            rc = proc.poll()
            if rc is not None:
                return rc if rc >= 0 else 128 - rc
            for name in ("moto", "twilio-emulator"):
                child = stack.children.get(name)
                if child is not None and child.poll() is not None:
                    stack.say(f"{name} {_describe_exit(child.poll())} unexpectedly; stopping the command")
                    return 1
            time.sleep(0.1)

    code = 1
    try:
        code = stack.run(run_command if args.command == "run" else None)
    except Shutdown:
        code = 0 if args.command == "up" else 128 + (stopping["signal"] or signal.SIGINT)
    except StackError as e:
        log("stack", f"error: {e}")
        code = 1
    except Exception as e:  # unexpected: show it, still clean up
        import traceback
        traceback.print_exc()
        log("stack", f"error: {e}")
        code = 1
    finally:
        stopping["now"] = True  # a second Ctrl-C must not interrupt the cleanup
        for proc in command_child:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        stack.shutdown()
        log("stack", "stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
