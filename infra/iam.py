#!/usr/bin/env python3
"""Who may touch what: every function's IAM permissions, read from the SAM-transformed
templates of every stack (the roles CloudFormation will create, SAM's additions included).

  infra/iam.py            print the table (function -> actions -> resources)
  infra/iam.py --readme   rewrite that table in README.md, between its markers

tests/infra/test_iam.py checks the rules (no managed policy but basic execution, no
Resource "*" but the listed exceptions) and that README.md shows the current table.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import provision  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- iam-table:start -->", "<!-- iam-table:end -->"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
# SAM adds it to the roles it generates when a function has Tracing: Active.
XRAY_WRITE_ONLY = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
XRAY_WRITE_ONLY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                           "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"]


def transformed() -> dict:
    return provision.store_template(ROOT / "template.yaml", transformed=True)


def function_roles(template: dict) -> dict[str, str]:
    """Function logical id -> the logical id of its role."""
    roles = {}
    for name, res in template["Resources"].items():
        if res["Type"] == "AWS::Lambda::Function":
            role = res["Properties"]["Role"]
            roles[name] = role["Fn::GetAtt"][0] if isinstance(role, dict) else role
    return roles


def managed_policies(role: dict) -> list[str]:
    arns = []
    for arn in role["Properties"].get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and "Fn::Sub" in arn:
            arn = arn["Fn::Sub"].replace("${AWS::Partition}", "aws")
        arns.append(arn)
    return arns


def statements(role: dict) -> list[dict]:
    found = []
    for policy in role["Properties"].get("Policies", []):
        found += policy["PolicyDocument"]["Statement"]
    return found


as_list = provision.as_list


def show(resource) -> str:
    """A resource as a reader of the template would write it; another stack's, by the SSM
    parameter it is found through (ssm:/bookish/<stage>/...)."""
    text = shown(resource)
    return re.sub(r"\{\{resolve:ssm:(.*?)\}\}", r"ssm:\1", text).replace("${Stage}", "<stage>")


def shown(resource) -> str:
    if isinstance(resource, str):
        return resource
    if "Fn::GetAtt" in resource:
        att = resource["Fn::GetAtt"]
        return f"{att[0]}.{att[1]}" if isinstance(att, list) else att
    if "Fn::Sub" in resource:
        text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
        for prefix in ("arn:${AWS::Partition}:", "arn:aws:"):
            text = text.replace(prefix, "")
        return text.replace(":${AWS::Region}:${AWS::AccountId}:", ":").replace("${AWS::Partition}", "aws")
    if "Ref" in resource:
        return resource["Ref"]
    return str(resource)


def table(template: dict) -> str:
    binaries = provision.function_binaries(provision.store_template(ROOT / "template.yaml"))
    rows = ["| function | effect | actions | resources |", "|---|---|---|---|"]
    for function, role_name in sorted(function_roles(template).items()):
        role = template["Resources"][role_name]
        name = f"`{binaries.get(function, function)}`"
        for statement in statements(role):
            actions = ", ".join(f"`{a}`" for a in as_list(statement["Action"]))
            resources = ", ".join(f"`{show(r)}`" for r in as_list(statement["Resource"]))
            effect = statement.get("Effect", "Allow")
            rows.append(f"| {name} | {effect} | {actions} | {resources} |")
        managed = managed_policies(role)
        extra = [p.rsplit("/", 1)[1] for p in managed if p not in (BASIC_EXECUTION, XRAY_WRITE_ONLY)]
        rows.append(f"| {name} | Allow | `logs:CreateLogGroup`, `logs:CreateLogStream`, `logs:PutLogEvents` "
                    f"(managed `AWSLambdaBasicExecutionRole`{''.join(', ' + e for e in extra)}) | `*` |")
        if XRAY_WRITE_ONLY in managed:
            actions = ", ".join(f"`{a}`" for a in XRAY_WRITE_ONLY_ACTIONS)
            rows.append(f"| {name} | Allow | {actions} (managed `AWSXrayWriteOnlyAccess`, "
                        "which SAM adds for `Tracing: Active`) | `*` |")
    return "\n".join(rows)


def readme_with(text: str, new_table: str) -> str:
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{new_table}\n{END}{after}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readme", action="store_true", help="rewrite the table in README.md")
    args = parser.parse_args()
    current = table(transformed())
    if args.readme:
        README.write_text(readme_with(README.read_text(), current))
    else:
        print(current)
    return 0


if __name__ == "__main__":
    sys.exit(main())
