"""Least privilege, read from the roles CloudFormation will really create (template.yaml
after the SAM transform): each function has a role of its own, no managed policy but basic
execution (and X-Ray's write-only one on the roles SAM generates), and no statement on
Resource "*" except the few AWS leaves no choice about.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
import iam  # noqa: E402

# (role, Sid) -> why Resource "*" is unavoidable there.
WILDCARD_EXCEPTIONS = {
    ("NotificationEventsRole", "TextShoppers"):
        "sns:Publish to a phone number has no resource ARN; NoTopics denies every topic",
    ("OrderPublisherRole", "ListStreams"):
        "dynamodb:ListStreams supports no resource-level permission; reading needs the stream ARN",
    **{(role, "WriteTraces"): "X-Ray's Put* actions support no resource-level permission"
       for role in ("InventoryEventsRole", "NotificationEventsRole", "OrderPublisherRole", "OrderStockEventsRole")},
}


@pytest.fixture(scope="module")
def template():
    return iam.transformed()


@pytest.fixture(scope="module")
def roles(template):
    return {fn: template["Resources"][role] for fn, role in iam.function_roles(template).items()}


def test_every_function_has_a_role_of_its_own(template, roles):
    by_role = list(iam.function_roles(template).values())
    assert len(by_role) == len(set(by_role)), by_role
    assert len(roles) == sum(1 for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")


def test_no_managed_policy_but_basic_execution_and_xray_writes(template, roles):
    for function, role in roles.items():
        # Tracing: Active makes SAM add X-Ray's write-only policy to each role it generates.
        generated = {"Key": "lambda:createdBy", "Value": "SAM"} in role["Properties"].get("Tags", [])
        expected = [iam.BASIC_EXECUTION, iam.XRAY_WRITE_ONLY] if generated else [iam.BASIC_EXECUTION]
        assert iam.managed_policies(role) == expected, function


def test_every_function_may_write_traces(template, roles):
    for function, role in roles.items():
        inline = [s for s in iam.statements(role) if s["Effect"] == "Allow"
                  and {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= set(iam.as_list(s["Action"]))]
        assert iam.XRAY_WRITE_ONLY in iam.managed_policies(role) or inline, function


def test_no_wildcard_resource_but_the_justified_ones(template, roles):
    role_of = iam.function_roles(template)
    seen = set()
    for function, role in roles.items():
        for statement in iam.statements(role):
            for resource in iam.as_list(statement["Resource"]):
                if resource == "*":
                    key = (role_of[function], statement.get("Sid"))
                    assert key in WILDCARD_EXCEPTIONS, f"{function}: {statement}"
                    seen.add(key)
    assert seen == set(WILDCARD_EXCEPTIONS), "an exception is listed that the template no longer needs"


def test_sms_never_reaches_a_topic(roles):
    statements = iam.statements(roles["NotificationEventsFunction"])
    denied = [s for s in statements if s["Effect"] == "Deny" and s["Action"] == "sns:Publish"]
    assert [iam.show(s["Resource"]) for s in denied] == ["sns:*:*:*"]
    for function, role in roles.items():
        if function != "NotificationEventsFunction":
            assert not any("sns" in str(s["Action"]) for s in iam.statements(role)), function


def test_consumers_read_only_their_own_queue_or_stream(roles):
    own = {"InventoryEventsFunction": "InventoryQueue.Arn", "NotificationEventsFunction": "NotificationQueue.Arn",
           "OrderStockEventsFunction": "ssm:/bookish/<stage>/inventory/order-stock-queue-arn", "OrderPublisherFunction": "OrdersTable.StreamArn"}
    for function, source in own.items():
        reads = [s for s in iam.statements(roles[function])
                 if any(a in ("sqs:ReceiveMessage", "dynamodb:GetRecords") for a in iam.as_list(s["Action"]))]
        assert [iam.show(r) for s in reads for r in iam.as_list(s["Resource"])] == [source], function


def test_readme_shows_the_current_table(template):
    text = iam.README.read_text()
    assert iam.START in text and iam.END in text, "README.md lost its IAM table markers"
    assert iam.readme_with(text, iam.table(template)) == text, (
        "README.md's IAM table is stale: run .venv/bin/python infra/iam.py --readme")
