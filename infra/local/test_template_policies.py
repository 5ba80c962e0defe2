"""Who may do what, read from template.yaml: the people in the table oppose a government, so which code can
open their names and contact details is decided here, in one reviewed list, not by accident.

- `kms:Decrypt` (opening sealed contact details and names) goes only to the functions in DECRYPT_ALLOWED.
- `kms:GenerateDataKey` (sealing them) goes only to the functions in GENERATE_DATA_KEY_ALLOWED.
- Every statement of every function names specific resources: no `Resource: "*"`, no `NotResource`,
  no `NotAction`.

A grant is any Allow statement whose Action (wildcards included: `kms:*`, `kms:Decrypt*`, `*`) covers the
action. Statements are read from each function's `Policies` (inline statements and SAM policy templates,
expanded from SAM's own definitions) and from any IAM role or policy resource in the template. Managed
policies cannot be checked from here, so functions may not use them.

    .venv/bin/python -m unittest discover -s infra/local
"""
from __future__ import annotations

import fnmatch
import unittest
from pathlib import Path
from typing import Any, Iterator

from samcli.yamlhelper import yaml_parse
from samtranslator.policy_template_processor.processor import PolicyTemplatesProcessor

# Functions that may open sealed contact details and names. Adding one is a privacy decision: review it.
# SmsInboundFunction: writes the RSVP confirmation with the person's and the host's first names.
# SendWorkerFunction: opens the recipient's address and the message to send it; seals nothing.
# HostFunction: shows a host their own attendees' first names and their own gathering's private address.
# SchedulerFunction: writes a reminder with the person's first name, email address (To:) and, from the day
# before, the gathering's private address.
DECRYPT_ALLOWED: set[str] = {"SmsInboundFunction", "SendWorkerFunction", "HostFunction", "SchedulerFunction"}
# Functions that may seal contact details and names (they store them, and need not read them back).
# RegisterFunction: seals what people type into the web form (and the confirmations it queues).
# HostFunction: seals the host's email and first name, and private addresses.
# SchedulerFunction: seals the reminders it writes to the outbox.
GENERATE_DATA_KEY_ALLOWED: set[str] = {"SmsInboundFunction", "RegisterFunction", "HostFunction", "SchedulerFunction"}

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
IAM_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def as_list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def sam_policy_templates() -> dict[str, Any]:
    return PolicyTemplatesProcessor.get_default_policy_templates_json()["Templates"]


def statements_of_document(document: Any) -> list[dict]:
    return as_list(document.get("Statement")) if isinstance(document, dict) else []


def function_statements(props: dict, templates: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, statement) for each statement of a SAM function's Policies; a string or unknown entry is
    yielded as is, for the caller to refuse."""
    for i, policy in enumerate(as_list(props.get("Policies"))):
        where = f"Policies[{i}]"
        if isinstance(policy, dict) and "Statement" in policy:
            for j, st in enumerate(as_list(policy["Statement"])):
                yield f"{where}.Statement[{j}]", st
        elif isinstance(policy, dict) and len(policy) == 1 and next(iter(policy)) in templates:
            name = next(iter(policy))
            for j, st in enumerate(statements_of_document(templates[name]["Definition"])):
                yield f"{where} ({name}).Statement[{j}]", st
        else:
            yield where, policy


def iam_resource_statements(props: dict) -> Iterator[tuple[str, Any]]:
    for j, st in enumerate(statements_of_document(props.get("PolicyDocument"))):
        yield f"PolicyDocument.Statement[{j}]", st
    for i, policy in enumerate(as_list(props.get("Policies"))):
        doc = policy.get("PolicyDocument") if isinstance(policy, dict) else None
        for j, st in enumerate(statements_of_document(doc)):
            yield f"Policies[{i}].PolicyDocument.Statement[{j}]", st


def grants(statement: dict, action: str) -> bool:
    """Whether an Allow statement's Action covers `action` (IAM actions are case-insensitive)."""
    if statement.get("Effect") != "Allow":
        return False
    wanted = action.lower()
    for pattern in as_list(statement.get("Action")):
        if isinstance(pattern, str) and fnmatch.fnmatchcase(wanted, pattern.lower()):
            return True
    return False


class Grants:
    """Every statement that gives a function (or an IAM resource) permissions, from the template."""

    def __init__(self, template: dict):
        self.template = template
        templates = sam_policy_templates()
        self.statements: list[tuple[str, str, Any]] = []  # (grantee, where, statement)
        self.functions: list[str] = []
        self.refused: list[str] = []
        for lid, r in (template.get("Resources") or {}).items():
            rtype, props = r.get("Type"), r.get("Properties") or {}
            if rtype in FUNCTION_TYPES:
                self.functions.append(lid)
                if "Role" in props:
                    self.refused.append(f"{lid}: uses its own Role; give it Policies instead (or extend this test)")
                for where, st in function_statements(props, templates):
                    if isinstance(st, dict) and "Effect" in st:
                        self.statements.append((lid, where, st))
                    else:
                        self.refused.append(f"{lid} {where}: {st!r} is a managed policy or unknown template; "
                                            "only inline statements and SAM policy templates can be checked")
            elif rtype in IAM_TYPES:
                for arn in as_list(props.get("ManagedPolicyArns")):
                    self.refused.append(f"{lid}: managed policy {arn!r} cannot be checked")
                for where, st in iam_resource_statements(props):
                    self.statements.append((lid, where, st))

    def grantees(self, action: str) -> set[str]:
        return {who for who, _, st in self.statements if grants(st, action)}


class GrantsTest(unittest.TestCase):
    """The checker itself, on small templates."""

    def grants_of(self, policies: list) -> Grants:
        return Grants({"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"Policies": policies}}}})

    def test_wildcard_actions_count_as_grants(self):
        for action in ("kms:*", "kms:Decrypt*", "KMS:decrypt", "*", ["s3:GetObject", "kms:De*"]):
            g = self.grants_of([{"Statement": [{"Effect": "Allow", "Action": action, "Resource": "arn:k"}]}])
            self.assertEqual(g.grantees("kms:Decrypt"), {"F"}, action)

    def test_deny_and_other_actions_are_not_grants(self):
        g = self.grants_of([{"Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "arn:k"},
                                           {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "arn:k"}]}])
        self.assertEqual(g.grantees("kms:Decrypt"), set())

    def test_sam_policy_templates_are_expanded(self):
        g = self.grants_of([{"KMSDecryptPolicy": {"KeyId": "k"}}])
        self.assertEqual(g.grantees("kms:Decrypt"), {"F"})

    def test_managed_policies_and_own_roles_are_refused(self):
        self.assertTrue(self.grants_of(["AdministratorAccess"]).refused)
        g = Grants({"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"Role": "arn:r"}}}})
        self.assertTrue(g.refused)

    def test_iam_roles_in_the_template_are_read(self):
        g = Grants({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{
            "PolicyName": "p", "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:k"}]}}]}}}})
        self.assertEqual(g.grantees("kms:Decrypt"), {"R"})


class TemplatePoliciesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.grants = Grants(yaml_parse(TEMPLATE.read_text()))

    def test_the_template_has_functions_to_check(self):
        self.assertIn("SmsInboundFunction", self.grants.functions)

    def test_every_grant_can_be_checked(self):
        self.assertEqual(self.grants.refused, [])

    def test_only_allowlisted_functions_may_decrypt(self):
        for action in ("kms:Decrypt", "kms:ReEncryptFrom"):
            extra = self.grants.grantees(action) - DECRYPT_ALLOWED
            self.assertEqual(extra, set(), f"{action} is granted outside DECRYPT_ALLOWED")

    def test_only_allowlisted_functions_may_generate_data_keys(self):
        for action in ("kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"):
            extra = self.grants.grantees(action) - GENERATE_DATA_KEY_ALLOWED
            self.assertEqual(extra, set(), f"{action} is granted outside GENERATE_DATA_KEY_ALLOWED")

    def test_every_statement_names_specific_resources(self):
        for who, where, st in self.grants.statements:
            with self.subTest(grantee=who, statement=where):
                self.assertNotIn("NotResource", st)
                self.assertNotIn("NotAction", st)
                self.assertIn("Resource", st)
                for resource in as_list(st["Resource"]):
                    self.assertNotEqual(resource, "*", f"{who} {where} applies to every resource")

    def test_allowlisted_functions_exist(self):
        missing = (DECRYPT_ALLOWED | GENERATE_DATA_KEY_ALLOWED) - set(self.grants.functions)
        self.assertEqual(missing, set(), "the allowlists name functions the template no longer has")


if __name__ == "__main__":
    unittest.main()
