"""One stack per service: the top-level template only nests the platform's and the
services' templates, and the stacks find each other through SSM parameters that a stack
created earlier writes, never through exports, so each deploys alone."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
import provision  # noqa: E402

PARTS = provision.store(ROOT / "template.yaml")
# A reference's name as written, ${Stage} and all: {{resolve:ssm:/bookish/${Stage}/catalog/...}}
READ = re.compile(r"\{\{resolve:ssm:(/bookish/\$\{Stage\}/[^}]+?)\}\}")


def owner(part: provision.Part) -> str:
    return part.path.parent.name  # functions/<service>/template.yaml, platform/template.yaml


def written(part: provision.Part) -> set[str]:
    names = set()
    for res in part.template["Resources"].values():
        if res["Type"] == "AWS::SSM::Parameter":
            name = res["Properties"]["Name"]
            names.add(name["Fn::Sub"] if isinstance(name, dict) else name)
    return names


def read(part: provision.Part) -> set[str]:
    return set(READ.findall(json.dumps(part.template)))


def test_the_top_level_only_nests_the_platform_and_every_service():
    top = provision.load_template(ROOT / "template.yaml")
    assert {r["Type"] for r in top["Resources"].values()} == {"AWS::Serverless::Application"}
    nested = {p.path.relative_to(ROOT).as_posix() for p in PARTS}
    services = {p.relative_to(ROOT).as_posix() for p in (ROOT / "functions").glob("*/template.yaml")}
    assert services and nested == services | {"platform/template.yaml"}
    assert PARTS[0].name == "Platform", "every service reads the platform's parameters"


def test_no_stack_exports_or_imports():
    for part in PARTS:
        text = json.dumps(part.template)
        assert "Fn::ImportValue" not in text, part.name
        assert all("Export" not in o for o in part.template.get("Outputs", {}).values()), part.name


def test_each_stack_writes_only_under_its_own_name():
    for part in PARTS:
        for name in written(part):
            assert name.startswith(f"/bookish/${{Stage}}/{owner(part)}/"), (part.name, name)


@pytest.mark.parametrize("index", range(len(PARTS)), ids=[p.name for p in PARTS])
def test_every_parameter_a_stack_reads_is_written_by_a_stack_deployed_before_it(index):
    before = set().union(*(written(p) for p in PARTS[:index]))
    part = PARTS[index]
    missing = read(part) - before
    assert not missing, f"{part.name} reads {sorted(missing)}, which no earlier stack writes"


def test_every_parameter_written_is_read_by_some_stack():
    reads = set().union(*(read(p) for p in PARTS))
    for part in PARTS:
        assert written(part) <= reads, (part.name, sorted(written(part) - reads))


def test_every_function_has_a_stage_scoped_name_the_dashboard_can_use():
    for part in PARTS:
        for logical, res in part.template["Resources"].items():
            if res["Type"] == "AWS::Serverless::Function":
                binary = res["Metadata"]["BuildProperties"]["Binary"]
                assert res["Properties"]["FunctionName"] == {"Fn::Sub": f"bookish-${{Stage}}-{binary}"}, logical
