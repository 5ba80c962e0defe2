"""Tests of infra/local/stack.py: intrinsics, routes, payload-2.0 events and responses, the Lambda Runtime API
(with a fake function in Python) and the gateway in process.

    .venv/bin/python -m unittest discover -s infra/local
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stack  # noqa: E402
from fakes import write_fakes  # noqa: E402
from stack import (  # noqa: E402
    Cors, FunctionPool, FunctionSpec, Gateway, IntrinsicError, Resolver, ResponseError, Route, StackError,
    build_event, convert_response, creation_order, fallback_attrs, function_binary_name, http_api_routes,
    is_text_media_type, match_route, parameter_values, referenced_resources, upper_snake,
)


if not os.environ.get("STACK_TEST_VERBOSE"):
    stack.log = lambda prefix, message: None  # the fake functions' lines; STACK_TEST_VERBOSE=1 shows them


def reference_events_dir() -> Path | None:
    """The shared AWS reference events (a copy of shared/ sits beside the repository in CI)."""
    for base in (stack.REPO.parent / "shared", Path("/work/shared")):
        d = base / "reference" / "aws-events"
        if d.is_dir():
            return d
    return None


def load_reference(name: str) -> dict:
    d = reference_events_dir()
    if d is None or not (d / name).exists():
        raise unittest.SkipTest(f"reference event {name} not available")
    return json.loads((d / name).read_text())


TEMPLATE = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "dev"},
        "TwilioAuthTokenParameter": {"Type": "String", "Default": "/rising/twilio-auth-token"},
    },
    "Mappings": {"Sizes": {"dev": {"Memory": 256}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
    },
    "Resources": {
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}, "maxReceiveCount": 5}}},
        "DeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {}},
        "HttpApi": {"Type": "AWS::Serverless::HttpApi", "Properties": {}},
    },
}

ATTRS = {
    "Table": {"Ref": "rising-local-Table", "Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/rising-local-Table"},
    "Queue": {"Ref": "http://127.0.0.1:5000/123456789012/rising-local-Queue",
              "Arn": "arn:aws:sqs:us-east-1:123456789012:rising-local-Queue", "QueueName": "rising-local-Queue"},
    "DeadLetters": {"Ref": "http://127.0.0.1:5000/123456789012/rising-local-DeadLetters",
                    "Arn": "arn:aws:sqs:us-east-1:123456789012:rising-local-DeadLetters"},
    "Topic": {"Ref": "arn:aws:sns:us-east-1:123456789012:rising-local-Topic"},
}


def make_resolver(params=None, template=TEMPLATE) -> Resolver:
    params = {"Env": "dev", "TwilioAuthTokenParameter": "/rising/twilio-auth-token", **(params or {})}

    def attrs(lid):
        if lid in ATTRS:
            return ATTRS[lid]
        if lid in template["Resources"]:
            return fallback_attrs(lid, template["Resources"][lid], "us-east-1", "http://127.0.0.1:3000")
        raise IntrinsicError(lid)

    return Resolver(template, params, "us-east-1", attrs)


class NamesTest(unittest.TestCase):
    def test_upper_snake(self):
        self.assertEqual(upper_snake("RisingTable"), "RISING_TABLE")
        self.assertEqual(upper_snake("SmsInboundDLQ"), "SMS_INBOUND_DLQ")
        self.assertEqual(upper_snake("KMSKey"), "KMS_KEY")
        self.assertEqual(upper_snake("ContactHashKeyParameter"), "CONTACT_HASH_KEY_PARAMETER")
        self.assertEqual(stack.secret_env_name("ContactHashKeyParameter"), "CONTACT_HASH_KEY")
        self.assertEqual(stack.secret_env_name("TwilioAuthTokenParameter"), "TWILIO_AUTH_TOKEN")

    def test_binary_name(self):
        self.assertEqual(function_binary_name("X", {"Metadata": {"BuildProperties": {"Binary": "sms-inbound"}}}),
                         "sms-inbound")
        self.assertEqual(function_binary_name("InviteWorkerFunction", {}), "invite-worker")
        self.assertEqual(function_binary_name("EmailEvents", {}), "email-events")

    def test_env_values_are_safe_unquoted(self):
        for v in ("http://127.0.0.1:3000", "+15550100000", "Ju7dRB1pD+/x=", "/rising/contact-hash-key"):
            self.assertEqual(stack._env_value(v), v)
        self.assertEqual(stack._env_value("a b"), "'a b'")
        self.assertEqual(stack._env_value("it's"), "'it'\\''s'")


class ResolverTest(unittest.TestCase):
    def test_ref_parameters_pseudo_and_resources(self):
        r = make_resolver()
        self.assertEqual(r.resolve({"Ref": "Env"}), "dev")
        self.assertEqual(r.resolve({"Ref": "AWS::Region"}), "us-east-1")
        self.assertEqual(r.resolve({"Ref": "AWS::AccountId"}), "123456789012")
        self.assertEqual(r.resolve({"Ref": "Table"}), "rising-local-Table")
        # Ref of a queue is its URL, of a topic its ARN, like CloudFormation
        self.assertTrue(r.resolve({"Ref": "Queue"}).startswith("http://"))
        self.assertTrue(r.resolve({"Ref": "Topic"}).startswith("arn:aws:sns:"))
        self.assertEqual(r.resolve({"Ref": "Fn"}), "rising-local-Fn")
        self.assertRegex(r.resolve({"Ref": "HttpApi"}), r"^[0-9a-f]{10}$")
        with self.assertRaises(IntrinsicError):
            r.resolve({"Ref": "Nope"})

    def test_get_att_both_forms(self):
        r = make_resolver()
        self.assertEqual(r.resolve({"Fn::GetAtt": ["Table", "Arn"]}), ATTRS["Table"]["Arn"])
        self.assertEqual(r.resolve({"Fn::GetAtt": "Queue.QueueName"}), "rising-local-Queue")
        self.assertEqual(r.resolve({"Fn::GetAtt": "Fn.Arn"}),
                         "arn:aws:lambda:us-east-1:123456789012:function:rising-local-Fn")
        with self.assertRaises(IntrinsicError):
            r.resolve({"Fn::GetAtt": ["Table", "NoSuchAttribute"]})

    def test_sub(self):
        r = make_resolver()
        self.assertEqual(
            r.resolve({"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
                                  "${TwilioAuthTokenParameter}"}),
            "arn:aws:ssm:us-east-1:123456789012:parameter/rising/twilio-auth-token")
        self.assertEqual(r.resolve({"Fn::Sub": "${Table}|${Table.Arn}|${!Literal}|${AWS::URLSuffix}"}),
                         f"rising-local-Table|{ATTRS['Table']['Arn']}|${{Literal}}|amazonaws.com")
        self.assertEqual(r.resolve({"Fn::Sub": ["${X}-${Env}", {"X": {"Ref": "Table"}}]}), "rising-local-Table-dev")
        self.assertEqual(r.resolve({"Fn::Sub": "/aws/lambda/${Fn}"}), "/aws/lambda/rising-local-Fn")

    def test_conditions_if_and_no_value(self):
        r = make_resolver()
        self.assertFalse(r.condition("IsProd"))
        self.assertTrue(r.condition("IsDev"))
        variables = {"A": {"Fn::If": ["IsProd", "p", "d"]}, "B": {"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]},
                     "C": {"Fn::If": ["IsDev", {"Fn::Equals": ["a", "a"]}, "no"]}}
        self.assertEqual(r.resolve(variables), {"A": "d", "C": True})
        prod = make_resolver({"Env": "prod"})
        self.assertEqual(prod.resolve(variables)["B"], "x")

    def test_join_select_split_find_in_map(self):
        r = make_resolver()
        self.assertEqual(r.resolve({"Fn::Join": [",", ["a", {"Ref": "Env"}, 3]]}), "a,dev,3")
        self.assertEqual(r.resolve({"Fn::Select": [1, ["a", "b", "c"]]}), "b")
        self.assertEqual(r.resolve({"Fn::Select": ["0", {"Fn::Split": ["/", {"Ref": "TwilioAuthTokenParameter"}]}]}),
                         "")
        self.assertEqual(r.resolve({"Fn::Select": [2, {"Fn::Split": [":", {"Fn::GetAtt": "Table.Arn"}]}]}),
                         "dynamodb")
        self.assertEqual(r.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}), 256)
        with self.assertRaises(IntrinsicError):
            r.resolve({"Fn::ImportValue": "x"})

    def test_real_template_globals_and_policies(self):
        template = stack.load_template(stack.DEFAULT_TEMPLATE)
        params = parameter_values(template, {}, json.loads(stack.PARAMETERS_FILE.read_text()),
                                  {"PUBLIC_BASE_URL": "http://127.0.0.1:3000",
                                   "TWILIO_API_BASE_URL": "http://127.0.0.1:4000"})
        resources = template["Resources"]
        created = {lid: {"Ref": f"rising-local-{lid}", "Arn": f"arn:aws:x:::{lid}"}
                   for lid, res in resources.items() if res["Type"] in stack.RESOURCE_CREATORS}
        r = Resolver(template, params, "us-east-1",
                     lambda lid: created.get(lid) or fallback_attrs(lid, resources[lid], "us-east-1"))
        specs = stack.function_specs(template, r, "us-east-1")
        by_id = {s.logical_id: s for s in specs}
        sms = by_id["SmsInboundFunction"]
        self.assertEqual(sms.binary, "sms-inbound")
        self.assertEqual(sms.timeout_s, 10)
        self.assertEqual(sms.memory_mb, 256)
        self.assertEqual(sms.log_format, "JSON")
        self.assertEqual(sms.environment["TABLE_NAME"], created["RisingTable"]["Ref"])
        self.assertEqual(sms.environment["PUBLIC_BASE_URL"], "http://127.0.0.1:3000")
        self.assertEqual(sms.environment["TWILIO_API_BASE_URL"], "http://127.0.0.1:4000")
        self.assertEqual(sms.environment["CONTACT_HASH_KEY_PARAMETER"], "/rising/contact-hash-key")
        self.assertRegex(sms.environment["TWILIO_ACCOUNT_SID"], r"^AC[0-9a-f]{32}$")
        self.assertEqual([r.route_key for r in sms.routes], ["POST /sms/inbound"])
        policy = r.resolve(resources["SmsInboundFunction"]["Properties"]["Policies"])
        by_sid = {st["Sid"]: st for st in policy[0]["Statement"]}
        self.assertIn("arn:aws:ssm:us-east-1:123456789012:parameter/rising/contact-hash-key",
                      by_sid["ReadSecrets"]["Resource"])


class ParametersTest(unittest.TestCase):
    TEMPLATE = {"Parameters": {
        "Sid": {"Type": "String", "AllowedPattern": "^AC[0-9a-f]{32}$"},
        "WithDefault": {"Type": "String", "Default": "d"},
        "Days": {"Type": "Number", "Default": 30, "AllowedValues": [1, 30]},
        "PublicBaseUrl": {"Type": "String", "Default": ""},
    }}

    def test_precedence(self):
        local = {"Sid": "AC" + "0" * 32, "WithDefault": "from-json"}
        v = parameter_values(self.TEMPLATE, {}, local, {})
        self.assertEqual(v, {"Sid": "AC" + "0" * 32, "WithDefault": "d", "Days": "30", "PublicBaseUrl": ""})
        v = parameter_values(self.TEMPLATE, {"WithDefault": "env", "Days": "1"}, local,
                             {"PUBLIC_BASE_URL": "http://127.0.0.1:1"})
        self.assertEqual((v["WithDefault"], v["Days"], v["PublicBaseUrl"]), ("env", "1", "http://127.0.0.1:1"))

    def test_validation(self):
        with self.assertRaisesRegex(StackError, "AllowedPattern"):
            parameter_values(self.TEMPLATE, {"Sid": "nope"}, {}, {})
        with self.assertRaisesRegex(StackError, "one of"):
            parameter_values(self.TEMPLATE, {"Sid": "AC" + "0" * 32, "Days": "2"}, {}, {})
        with self.assertRaisesRegex(StackError, "no Default"):
            parameter_values(self.TEMPLATE, {}, {}, {})

    def test_local_defaults_match_the_template(self):
        template = stack.load_template(stack.DEFAULT_TEMPLATE)
        parameter_values(template, {}, json.loads(stack.PARAMETERS_FILE.read_text()), {})
        self.assertEqual(stack.secret_parameter_names(template),
                         ["TwilioAuthTokenParameter", "ContactHashKeyParameter", "EmailLinkKeyParameter",
                          "SessionKeyParameter", "OrganizerEmailsParameter"])
        # Locally the organizer list is one known address (the tests sign in with it), not random bytes.
        self.assertEqual(stack.LOCAL_SECRETS["ORGANIZER_EMAILS"](), "organizer@rising.test")


class OrderTest(unittest.TestCase):
    def test_dead_letter_queue_first(self):
        known = set(TEMPLATE["Resources"])
        self.assertEqual(referenced_resources(TEMPLATE["Resources"]["Queue"]["Properties"], known), {"DeadLetters"})
        order = creation_order(TEMPLATE["Resources"], ["Queue", "DeadLetters", "Table"])
        self.assertLess(order.index("DeadLetters"), order.index("Queue"))
        self.assertEqual(referenced_resources({"Fn::Sub": ["${A}${B.Arn}${!C}${AWS::Region}", {"A": "x"}]},
                                              {"A", "B", "C"}), {"B"})

    def test_cycle(self):
        resources = {"A": {"Properties": {"X": {"Ref": "B"}}}, "B": {"DependsOn": "A"}}
        with self.assertRaisesRegex(StackError, "circular"):
            creation_order(resources, ["A", "B"])


class RouteTest(unittest.TestCase):
    ROUTES = [
        Route("POST", "/sms/inbound", "Sms"),
        Route("GET", "/gatherings/{id}", "Get"),
        Route("GET", "/gatherings/near", "Near"),
        Route("ANY", "/gatherings/{id}", "AnyGathering"),
        Route("ANY", "/static/{proxy+}", "Static"),
        Route("GET", "/{proxy+}", "Catch"),
    ]

    def m(self, method, path, routes=None):
        route, params = match_route(routes or self.ROUTES, method, path)
        return (route.function if route else None), params

    def test_exact_param_and_greedy(self):
        self.assertEqual(self.m("POST", "/sms/inbound"), ("Sms", {}))
        self.assertEqual(self.m("GET", "/gatherings/g-123"), ("Get", {"id": "g-123"}))
        self.assertEqual(self.m("GET", "/gatherings/near"), ("Near", {}))  # literal beats {id}
        self.assertEqual(self.m("DELETE", "/gatherings/g-1"), ("AnyGathering", {"id": "g-1"}))  # method, then ANY
        self.assertEqual(self.m("PUT", "/static/css/site.css"), ("Static", {"proxy": "css/site.css"}))
        self.assertEqual(self.m("GET", "/static/a"), ("Static", {"proxy": "a"}))  # /static/... beats /{proxy+}
        self.assertEqual(self.m("GET", "/other/deep/path"), ("Catch", {"proxy": "other/deep/path"}))

    def test_no_match(self):
        routes = self.ROUTES[:-1]  # without the GET /{proxy+} catch-all
        self.assertEqual(self.m("GET", "/sms/inbound", routes), (None, {}))  # wrong method
        self.assertEqual(self.m("POST", "/sms/inbound/", routes), (None, {}))  # trailing slash: another path
        self.assertEqual(self.m("POST", "/static/", routes), (None, {}))  # greedy needs one character
        self.assertEqual(self.m("GET", "/gatherings/", routes), (None, {}))  # {id} needs one character
        self.assertEqual(self.m("POST", "/gatherings/a/b", routes), (None, {}))
        self.assertEqual(self.m("GET", "/sms/inbound"), ("Catch", {"proxy": "sms/inbound"}))
        self.assertEqual(self.m("GET", "/gatherings/"), ("Catch", {"proxy": "gatherings/"}))

    def test_default_route_is_last(self):
        routes = [Route("ANY", "$default", "Default"), Route("GET", "/x", "X")]
        self.assertEqual(self.m("GET", "/x", routes), ("X", {}))
        self.assertEqual(self.m("PATCH", "/y", routes), ("Default", {}))
        self.assertEqual(routes[0].route_key, "$default")
        self.assertEqual(Route("any", "/a/{proxy+}", "F").route_key, "ANY /a/{proxy+}")

    def test_routes_from_events(self):
        props = {"Events": {
            "A": {"Type": "HttpApi", "Properties": {"Path": "/a/{id}", "Method": "get", "TimeoutInMillis": 5000}},
            "B": {"Type": "HttpApi"},
            "C": {"Type": "SQS", "Properties": {}}}}
        routes = http_api_routes("F", props)
        self.assertEqual([(r.route_key, r.timeout_ms) for r in routes], [("GET /a/{id}", 5000), ("$default", 30000)])


class EventTest(unittest.TestCase):
    NOW = 1587481701.067

    def event(self, **kw):
        args = dict(method="GET", target="/", headers=[("Host", "api.example.com")], body=b"", route_key="$default",
                    path_parameters=None, source_ip="1.2.3.4", api_id="aaaaaaaaaa", request_id="LV7fzho-PHcEJPw=",
                    now=self.NOW, server_port=443, scheme="https", trace_id="Root=1-5e9f0c65-1de4d666d4dd26aced652b6c")
        args.update(kw)
        return build_event(**args)

    def test_matches_the_reference_event_without_authorizer(self):
        ref = load_reference("example-apigw-v2-request-no-authorizer.json")
        ref_host = ref["headers"]["host"]
        event = self.event(headers=[("Host", ref_host), ("User-Agent", "curl/7.58.0"), ("Accept", "*/*"),
                                    ("Content-Length", "0")])
        # everything but the mTLS client certificate, which only exists with mutual TLS
        expected = json.loads(json.dumps(ref))
        expected["requestContext"].pop("authentication")
        self.assertEqual(event, expected)

    def test_multi_value_reference_shapes(self):
        ref = load_reference("example-apigw-v2-request-multi-value-parameters.json")
        event = self.event(
            method="POST", target="/my/hello/world?" + ref["rawQueryString"],
            headers=[("Header2", "value1"), ("Cookie", "cookie1; cookie2"), ("header2", "value2"),
                     ("Content-Type", "application/json")],
            body=ref["body"].encode(), route_key="ANY /my/{proxy+}", path_parameters={"proxy": "hello/world"})
        self.assertEqual(event["rawQueryString"], ref["rawQueryString"])
        self.assertEqual(event["queryStringParameters"], ref["queryStringParameters"])
        self.assertEqual(event["cookies"], ref["cookies"])
        self.assertEqual(event["headers"]["header2"], ref["headers"]["Header2"])  # names lower-cased
        self.assertNotIn("cookie", event["headers"])
        self.assertEqual(event["pathParameters"], ref["pathParameters"])
        self.assertEqual((event["body"], event["isBase64Encoded"]), (ref["body"], False))
        self.assertEqual(set(event) - {"stageVariables"}, set(ref) - {"stageVariables"})
        self.assertEqual(set(event["requestContext"]), set(ref["requestContext"]) - {"authorizer", "authentication"})
        self.assertEqual(event["routeKey"], "ANY /my/{proxy+}")
        self.assertEqual(event["requestContext"]["routeKey"], "ANY /my/{proxy+}")

    def test_raw_path_and_query(self):
        event = self.event(target="/a%20b/%E2%9C%93?x=%2B1%20555&flag&x=2&empty=", route_key="GET /{proxy+}")
        self.assertEqual(event["rawPath"], "/a b/\u2713")  # HTTP APIs decode the path
        self.assertEqual(event["requestContext"]["http"]["path"], "/a b/\u2713")
        self.assertEqual(event["rawQueryString"], "x=%2B1%20555&flag&x=2&empty=")  # exactly as received
        self.assertEqual(event["queryStringParameters"], {"x": "+1 555,2", "flag": "", "empty": ""})

    def test_headers(self):
        event = self.event(headers=[("Host", "h:3000"), ("X-A", "1"), ("x-a", "2"), ("Connection", "keep-alive"),
                                    ("X-Forwarded-For", "9.9.9.9"), ("Transfer-Encoding", "chunked")],
                           server_port=3000, scheme="http")
        h = event["headers"]
        self.assertEqual(h["x-a"], "1,2")
        self.assertNotIn("connection", h)
        self.assertNotIn("transfer-encoding", h)
        self.assertEqual(h["x-forwarded-for"], "9.9.9.9, 1.2.3.4")
        self.assertEqual((h["x-forwarded-port"], h["x-forwarded-proto"]), ("3000", "http"))
        self.assertEqual(event["requestContext"]["domainName"], "h:3000")
        self.assertEqual(event["requestContext"]["domainPrefix"], "h")
        self.assertNotIn("cookies", event)

    def test_time_and_ids(self):
        event = self.event(request_id=None, trace_id=None)
        ctx = event["requestContext"]
        self.assertEqual(ctx["time"], "21/Apr/2020:15:08:21 +0000")
        self.assertEqual(ctx["timeEpoch"], 1587481701067)
        self.assertRegex(ctx["requestId"], r"^[A-Za-z0-9_-]{15}=$")
        self.assertRegex(event["headers"]["x-amzn-trace-id"], r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$")

    def test_base64_decision(self):
        def body_of(content_type, body=b"From=%2B15551234567&Body=JOIN"):
            headers = [("Content-Type", content_type)] if content_type else []
            e = self.event(method="POST", headers=headers, body=body)
            return e.get("body"), e["isBase64Encoded"]

        raw = b"From=%2B15551234567&Body=JOIN"
        encoded = base64.b64encode(raw).decode()
        self.assertEqual(body_of("application/json"), (raw.decode(), False))
        self.assertEqual(body_of("text/plain; charset=utf-8"), (raw.decode(), False))
        self.assertEqual(body_of("application/xml"), (raw.decode(), False))
        # like API Gateway HTTP APIs: form posts (Twilio's webhooks) and unknown types arrive base64-encoded
        self.assertEqual(body_of("application/x-www-form-urlencoded"), (encoded, True))
        self.assertEqual(body_of("application/octet-stream"), (encoded, True))
        self.assertEqual(body_of(None), (encoded, True))
        self.assertEqual(body_of("application/json", b""), (None, False))
        self.assertTrue(is_text_media_type("TEXT/HTML"))
        self.assertFalse(is_text_media_type("multipart/form-data; boundary=x"))


class ResponseTest(unittest.TestCase):
    def conv(self, obj):
        return convert_response(json.dumps(obj).encode())

    def test_structured(self):
        status, headers, body = self.conv({
            "statusCode": 200, "headers": {"content-type": "text/xml", "x-n": 1, "x-b": True},
            "cookies": ["a=1; Path=/", "b=2"], "body": "<Response/>", "isBase64Encoded": False})
        self.assertEqual(status, 200)
        self.assertEqual(headers, [("content-type", "text/xml"), ("x-n", "1"), ("x-b", "true"),
                                   ("set-cookie", "a=1; Path=/"), ("set-cookie", "b=2")])
        self.assertEqual(body, b"<Response/>")

    def test_lambda_http_shape_does_not_duplicate_headers(self):
        # lambda_http fills both headers and multiValueHeaders with the same map
        status, headers, body = self.conv({
            "statusCode": 302, "headers": {"location": "/x"}, "multiValueHeaders": {"location": ["/x"],
                                                                                   "vary": ["a", "b"]},
            "isBase64Encoded": False, "cookies": []})
        self.assertEqual((status, headers, body), (302, [("location", "/x"), ("vary", "a"), ("vary", "b")], b""))

    def test_base64_body_and_hop_by_hop(self):
        status, headers, body = self.conv({"statusCode": 200, "body": "AAEC/w==", "isBase64Encoded": True,
                                           "headers": {"Content-Length": "99", "Connection": "close"}})
        self.assertEqual((status, headers, body), (200, [], b"\x00\x01\x02\xff"))

    def test_plain_body_inference(self):
        self.assertEqual(self.conv({"hello": "world"}),
                         (200, [("content-type", "application/json")], b'{"hello": "world"}'))
        self.assertEqual(self.conv("Hello from Lambda!"),
                         (200, [("content-type", "application/json")], b"Hello from Lambda!"))
        self.assertEqual(self.conv([1, 2])[2], b"[1, 2]")

    def test_invalid(self):
        for bad in ({"statusCode": "200"}, {"statusCode": 99}, {"statusCode": True}, {"statusCode": 200,
                                                                                       "headers": []}):
            with self.assertRaises(ResponseError, msg=bad):
                self.conv(bad)
        with self.assertRaises(ResponseError):
            convert_response(b"not json")

    def test_cors(self):
        cors = Cors.from_config({"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET", "POST"],
                                 "AllowHeaders": ["Content-Type"], "MaxAge": 600})
        self.assertTrue(cors.origin_allowed("https://a.example"))
        self.assertFalse(cors.origin_allowed("https://b.example"))
        pre = dict(cors.preflight_headers("https://a.example", "POST", "content-type"))
        self.assertEqual(pre["access-control-allow-origin"], "https://a.example")
        self.assertEqual(pre["access-control-allow-methods"], "GET,POST")
        self.assertEqual(pre["access-control-max-age"], "600")


# ------------------------------------------------------------------------------------------------------------
# Runtime API and gateway with a fake function


def fake_spec(timeout_s=2.0, routes=None) -> FunctionSpec:
    return FunctionSpec(logical_id="FakeFunction", name="rising-local-FakeFunction", binary="fake-function",
                        arn="arn:aws:lambda:us-east-1:123456789012:function:rising-local-FakeFunction",
                        timeout_s=timeout_s, memory_mb=128, handler="bootstrap", log_format="JSON",
                        environment={"TABLE_NAME": "t"},
                        routes=routes or [Route("ANY", "/{proxy+}", "FakeFunction")])


class RuntimeApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.bin_dir = write_fakes(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def pool(self, concurrency=1, timeout_s=2.0):
        pool = FunctionPool(fake_spec(timeout_s), self.bin_dir / "fake-function",
                            {"PATH": "/usr/bin:/bin", "TABLE_NAME": "t"}, "us-east-1", concurrency, None)
        self.addCleanup(pool.stop)
        inst = pool.start()
        self.assertTrue(inst.ready.wait(20), "the fake function did not poll /next")
        return pool

    @staticmethod
    def event(action, **query):
        query = {"do": action, **query}
        return json.dumps({"rawPath": "/x", "queryStringParameters": query}).encode()

    def test_response_headers_and_environment(self):
        pool = self.pool()
        before = time.time() * 1000
        inv = pool.invoke(self.event("echo"), 2.0, 30)
        self.assertEqual(inv.outcome, "ok")
        body = json.loads(json.loads(inv.payload)["body"])
        rt = body["runtime"]
        self.assertEqual(rt["Lambda-Runtime-Aws-Request-Id"], inv.id)
        self.assertAlmostEqual(int(rt["Lambda-Runtime-Deadline-Ms"]), before + 2000, delta=1500)
        self.assertEqual(rt["Lambda-Runtime-Invoked-Function-Arn"], pool.spec.arn)
        self.assertTrue(rt["Lambda-Runtime-Trace-Id"].startswith("Root=1-"))
        env = body["env"]
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_NAME"], "rising-local-FakeFunction")
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST")
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128")
        self.assertEqual(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/rising-local-FakeFunction")
        self.assertRegex(env["AWS_LAMBDA_LOG_STREAM_NAME"], r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")
        self.assertRegex(env["AWS_LAMBDA_RUNTIME_API"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual(env["AWS_LAMBDA_LOG_FORMAT"], "JSON")
        self.assertEqual(env["TABLE_NAME"], "t")

    def test_error_crash_timeout_and_recovery(self):
        pool = self.pool(timeout_s=1.0)
        inv = pool.invoke(self.event("error"), 1.0, 30)
        self.assertEqual(inv.outcome, "error")
        self.assertEqual(json.loads(inv.payload)["errorType"], "FakeError")
        pid = json.loads(json.loads(pool.invoke(self.event("echo"), 1.0, 30).payload)["body"])["pid"]

        self.assertEqual(pool.invoke(self.event("crash"), 1.0, 30).outcome, "crash")
        inv = pool.invoke(self.event("echo"), 1.0, 30)  # waits for the restarted process (a cold start)
        self.assertEqual(inv.outcome, "ok")
        pid2 = json.loads(json.loads(inv.payload)["body"])["pid"]
        self.assertNotEqual(pid, pid2)

        started = time.monotonic()
        self.assertEqual(pool.invoke(self.event("sleep", s="30"), 1.0, 30).outcome, "timeout")
        self.assertLess(time.monotonic() - started, 3)
        inv = pool.invoke(self.event("echo"), 1.0, 30)
        self.assertEqual(inv.outcome, "ok")
        self.assertNotEqual(json.loads(json.loads(inv.payload)["body"])["pid"], pid2)

    def test_concurrency(self):
        pool = self.pool(concurrency=2, timeout_s=5.0)
        results = []

        def call():
            results.append(pool.invoke(self.event("sleep", s="1"), 5.0, 30).outcome)

        started = time.monotonic()
        threads = [threading.Thread(target=call) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, ["ok", "ok"])
        self.assertLess(time.monotonic() - started, 1.9)  # both ran at once (the second one a cold start)
        self.assertEqual(len(pool.instances), 2)

    def test_queue_then_throttle(self):
        pool = self.pool(concurrency=1, timeout_s=5.0)
        first = threading.Thread(target=pool.invoke, args=(self.event("sleep", s="1.5"), 5.0, 30))
        first.start()
        time.sleep(0.2)
        self.assertEqual(pool.invoke(self.event("echo"), 5.0, 0.3).outcome, "throttled")
        self.assertEqual(pool.invoke(self.event("echo"), 5.0, 10).outcome, "ok")  # queued behind the first
        first.join()

    def test_init_error(self):
        marker = self.bin_dir / "init-error"
        marker.write_text("")
        self.addCleanup(marker.unlink)
        pool = FunctionPool(fake_spec(), self.bin_dir / "fake-function", {"PATH": "/usr/bin:/bin"}, "us-east-1",
                            1, None)
        self.addCleanup(pool.stop)
        inst = pool.start()
        deadline = time.monotonic() + 10
        while inst.exits == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(inst.ready.is_set())
        self.assertGreaterEqual(inst.exits, 1)

    def test_missing_binary(self):
        pool = FunctionPool(fake_spec(), self.bin_dir / "nope", {}, "us-east-1", 1, None)
        with self.assertRaisesRegex(StackError, "cargo build"):
            pool.start()


class GatewayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        bin_dir = write_fakes(cls.tmp.name)
        spec = fake_spec(timeout_s=1.0, routes=[Route("ANY", "/api/{proxy+}", "FakeFunction"),
                                                Route("POST", "/sms/inbound", "FakeFunction")])
        cls.pool = FunctionPool(spec, bin_dir / "fake-function", {"PATH": "/usr/bin:/bin"}, "us-east-1", 2, None)
        cls.pool.start().ready.wait(20)
        cls.gw = Gateway(0)
        cls.gw.access_log = False
        cls.gw.routes = spec.routes
        cls.gw.pools = {"FakeFunction": cls.pool}
        cls.gw.specs = {"FakeFunction": spec}
        cls.gw.cors = Cors.from_config({"AllowOrigins": ["https://embed.example"], "AllowMethods": ["POST"],
                                        "AllowHeaders": ["content-type"]})
        threading.Thread(target=cls.gw.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.shutdown()
        cls.gw.server_close()
        cls.pool.stop()
        cls.tmp.cleanup()

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.port, timeout=20)
        self.addCleanup(conn.close)
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read()

    def test_not_found(self):
        status, headers, body = self.request("GET", "/nope")
        self.assertEqual((status, json.loads(body)), (404, {"message": "Not Found"}))
        self.assertIn(("Content-Type", "application/json"), headers)
        self.assertEqual(self.request("GET", "/sms/inbound")[0], 404)

    def test_round_trip(self):
        status, headers, body = self.request(
            "POST", "/api/v1/items?b=2&a=1&a=3", body=b"From=%2B1555&Body=hi",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "s=1; t=2"})
        self.assertEqual(status, 201)
        self.assertEqual([v for k, v in headers if k.lower() == "set-cookie"], ["a=1; Path=/", "b=2"])
        self.assertTrue(any(k == "apigw-requestid" for k, _ in headers))
        event = json.loads(body)["event"]
        self.assertEqual(event["routeKey"], "ANY /api/{proxy+}")
        self.assertEqual(event["rawPath"], "/api/v1/items")
        self.assertEqual(event["rawQueryString"], "b=2&a=1&a=3")
        self.assertEqual(event["queryStringParameters"], {"b": "2", "a": "1,3"})
        self.assertEqual(event["pathParameters"], {"proxy": "v1/items"})
        self.assertEqual(event["cookies"], ["s=1", "t=2"])
        self.assertTrue(event["isBase64Encoded"])
        self.assertEqual(base64.b64decode(event["body"]), b"From=%2B1555&Body=hi")
        self.assertEqual(event["requestContext"]["http"]["method"], "POST")
        self.assertEqual(event["requestContext"]["stage"], "$default")
        self.assertEqual(event["headers"]["host"], f"127.0.0.1:{self.gw.port}")

    def test_errors(self):
        status, _, body = self.request("POST", "/api/x?do=error")
        self.assertEqual((status, json.loads(body)), (500, {"message": "Internal Server Error"}))
        status, _, body = self.request("POST", "/api/x?do=sleep&s=10")
        self.assertEqual((status, json.loads(body)), (504, {"message": "Service Unavailable"}))
        self.assertEqual(self.request("POST", "/api/x?do=crash")[0], 500)
        self.assertEqual(self.request("GET", "/api/x?do=plain")[2], b'{"hello": "world"}')
        self.assertEqual(self.request("GET", "/api/x?do=b64")[2], b"\x00\x01\x02\xff")

    def test_payload_too_large(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.port, timeout=20)
        self.addCleanup(conn.close)
        conn.putrequest("POST", "/api/big")
        conn.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
        conn.endheaders()
        r = conn.getresponse()
        self.assertEqual((r.status, json.loads(r.read())), (413, {"message": "Request Entity Too Large"}))

    def test_stage_prefix(self):
        self.gw.stage = "dev"
        self.addCleanup(setattr, self.gw, "stage", "$default")
        status, _, body = self.request("GET", "/dev/api/x?do=echo")
        event = json.loads(body)["event"]
        self.assertEqual((status, event["rawPath"], event["requestContext"]["stage"]), (201, "/dev/api/x", "dev"))
        self.assertEqual(event["pathParameters"], {"proxy": "x"})
        self.assertEqual(self.request("GET", "/api/x")[0], 404)

    def test_head_and_cors(self):
        status, headers, body = self.request("HEAD", "/api/x")
        self.assertEqual((status, body), (201, b""))
        status, headers, _ = self.request("OPTIONS", "/sms/inbound", headers={
            "Origin": "https://embed.example", "Access-Control-Request-Method": "POST"})
        self.assertEqual(status, 204)
        self.assertIn(("access-control-allow-origin", "https://embed.example"), headers)
        status, headers, _ = self.request("POST", "/api/x", headers={"Origin": "https://embed.example"})
        self.assertIn(("access-control-allow-origin", "https://embed.example"), headers)
        status, headers, _ = self.request("POST", "/api/x", headers={"Origin": "https://evil.example"})
        self.assertFalse([k for k, _ in headers if k.startswith("access-control")])


class SeedTest(unittest.TestCase):
    """stack.run_seed: the local data is written by the `seed` binary with the functions' environment."""

    def fake_seed(self, directory: Path, exit_code: int = 0) -> Path:
        binary = directory / "seed"
        binary.write_text(f"""#!{sys.executable}
import json, os, sys
json.dump({{"argv": sys.argv[1:], "table": os.environ.get("TABLE_NAME"),
           "key": os.environ.get("CONTACT_DATA_KEY_ID")}}, open(os.path.join(os.path.dirname(__file__), "ran"), "w"))
print("seeded gathering MAPLE5")
sys.exit({exit_code})
""")
        binary.chmod(0o755)
        return binary

    def test_the_seed_binary_runs_with_the_table_the_key_and_the_file(self):
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            binary, seed_file = self.fake_seed(d), d / "gatherings.json"
            seed_file.write_text("{}")
            env = {"PATH": os.environ.get("PATH", ""), "TABLE_NAME": "rising-local-RisingTable",
                   "CONTACT_DATA_KEY_ID": "key-1"}
            self.assertTrue(stack.run_seed(binary, seed_file, env))
            ran = json.loads((d / "ran").read_text())
            self.assertEqual(ran["argv"], ["--file", str(seed_file), "--table", "rising-local-RisingTable"])
            self.assertEqual((ran["table"], ran["key"]), ("rising-local-RisingTable", "key-1"))

    def test_seeding_is_skipped_without_the_binary_or_the_file(self):
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            self.assertFalse(stack.run_seed(d / "seed", d / "gatherings.json", {}))
            self.assertFalse(stack.run_seed(self.fake_seed(d), d / "gatherings.json", {}))
            self.assertFalse((d / "ran").exists())

    def test_a_failing_seed_stops_the_start(self):
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            binary, seed_file = self.fake_seed(d, exit_code=3), d / "gatherings.json"
            seed_file.write_text("{}")
            with self.assertRaisesRegex(StackError, "exited with code 3"):
                stack.run_seed(binary, seed_file, {"PATH": os.environ.get("PATH", "")})


if __name__ == "__main__":
    unittest.main()
