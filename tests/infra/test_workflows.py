"""The pipelines in .github/workflows/, read as GitHub reads them: every service has its
own, none waits on or can cancel another's, each deploy touches only its own stack, and
AWS is reached through OIDC alone. (`make workflow-lint` checks syntax and security.)"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
sys.path.insert(0, str(ROOT / "infra"))
import affected  # noqa: E402

SERVICES = sorted(affected.SERVICE_TESTS)
REUSABLE = "./.github/workflows/service.yml"
INPUT = "${{ inputs.service }}"
STAGES = ("dev", "prod")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true


def all_workflows() -> dict[str, dict]:
    return {path.name: load(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def deploy_jobs(workflow: dict) -> dict[str, dict]:
    return {name: job for name, job in workflow["jobs"].items()
            if any("sam deploy" in step.get("run", "") for step in job.get("steps", []))}


def deployed(job: dict) -> tuple[str, str]:
    """(stack name, template file) of a deploy job, as its `sam deploy` step names them."""
    run = next(step["run"] for step in job["steps"] if "sam deploy" in step.get("run", ""))
    assert run.count("sam deploy") == 1 and '--stack-name "$STACK"' in run, run
    template = re.search(r"--template-file (\S+)", run).group(1)
    return job["env"]["STACK"], template


def build_template(workflow: dict) -> str:
    """The template service.yml's build job builds (the artifact both deploys take)."""
    run = next(step["run"] for step in workflow["jobs"]["build"]["steps"] if "sam build" in step.get("run", ""))
    return re.search(r'--template-file "?([^"\s]+)"?', run).group(1)


def test_every_service_has_a_pipeline_calling_the_shared_one_for_itself():
    for service in SERVICES:
        jobs = load(f"{service}.yml")["jobs"]
        assert [job["uses"] for job in jobs.values()] == [REUSABLE], service
        assert [job["with"]["service"] for job in jobs.values()] == [service]
    assert (WORKFLOWS / "platform.yml").is_file()


def test_no_job_waits_on_another_pipeline():
    for name, workflow in all_workflows().items():
        assert "workflow_run" not in triggers(workflow), name  # would chain one pipeline to another
        for job_name, job in workflow["jobs"].items():
            needs = job.get("needs", [])
            for needed in [needs] if isinstance(needs, str) else needs:
                assert needed in workflow["jobs"], f"{name}: {job_name} needs {needed}"


def test_a_failing_job_cancels_nothing_else():
    for name, workflow in all_workflows().items():
        assert not (workflow.get("concurrency") or {}).get("cancel-in-progress"), name
        for job_name, job in workflow["jobs"].items():
            if "matrix" in job.get("strategy", {}):
                assert job["strategy"].get("fail-fast") is False, f"{name}: {job_name}"
        for job_name, job in deploy_jobs(workflow).items():
            assert job["concurrency"]["cancel-in-progress"] is False, f"{name}: {job_name}"


def expected_deploys(service: str, template: str) -> set[tuple[str, str, str]]:
    return {(stage, f"bookish-{service}-{stage}", template) for stage in STAGES}


def deploys(workflow: dict, service: str) -> set[tuple[str, str, str]]:
    """(environment, stack, template) of each deploy job, for `service` if it is reusable."""
    found = set()
    for job in deploy_jobs(workflow).values():
        stack, template = deployed(job)
        stage = job["env"]["STAGE"]
        assert job["environment"] == stage and stack.endswith(f"-{stage}")
        found.add((job["environment"], stack.replace(INPUT, service), template))
    return found


def test_each_deploy_targets_only_its_own_stack():
    service_yml = load("service.yml")
    # Both stages deploy the one artifact the build job made from the service's own template.
    assert build_template(service_yml) == "functions/$SERVICE/template.yaml"
    assert service_yml["jobs"]["build"]["env"]["SERVICE"] == INPUT
    for job in deploy_jobs(service_yml).values():
        downloads = [step["with"]["name"] for step in job["steps"] if "download-artifact" in step.get("uses", "")]
        assert downloads == [f"{INPUT}-build"]
    for service in SERVICES:
        assert deploys(service_yml, service) == expected_deploys(service, "sam-build/template.yaml")
    assert deploys(load("platform.yml"), "platform") == expected_deploys("platform", "platform/template.yaml")
    for service in SERVICES:  # the callers deploy nothing themselves
        assert deploy_jobs(load(f"{service}.yml")) == {}


def test_prod_waits_for_dev_and_its_environment_approval():
    for name in ("service.yml", "platform.yml"):
        jobs = load(name)["jobs"]
        assert jobs["deploy-prod"]["needs"] == "deploy-dev" and jobs["deploy-prod"]["environment"] == "prod"
        assert "refs/heads/main" in jobs["deploy-dev"]["if"]


def test_aws_is_reached_through_oidc_only():
    for name, workflow in all_workflows().items():
        text = (WORKFLOWS / name).read_text()
        for key in ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                    "aws-session-token", "secrets."):
            assert key not in text, f"{name} names {key}"
        assert workflow["permissions"] == {}, name  # each job asks for what it needs
        for job_name, job in deploy_jobs(workflow).items():
            assert job["permissions"]["id-token"] == "write", f"{name}: {job_name}"
            credentials = [step["with"] for step in job["steps"]
                           if "configure-aws-credentials" in step.get("uses", "")]
            assert len(credentials) == 1 and "role-to-assume" in credentials[0], f"{name}: {job_name}"
    for service in SERVICES:  # a called workflow gets no more than its caller grants
        (job,) = load(f"{service}.yml")["jobs"].values()
        assert job["permissions"] == {"contents": "read", "id-token": "write"}


def test_concurrency_groups_name_the_service_and_the_stage():
    groups = {}
    for name, workflow in all_workflows().items():
        assert "concurrency" not in workflow, name  # one per deploy job, not one per run
        for job_name, job in workflow["jobs"].items():
            if "concurrency" in job:
                groups[(name, job_name)] = job["concurrency"]["group"]
    for (name, job_name), group in groups.items():
        stage = load(name)["jobs"][job_name]["env"]["STAGE"]
        service = INPUT if name == "service.yml" else name.removesuffix(".yml")
        assert service in group and stage in group, f"{name}: {job_name}: {group}"
    assert {(name, job) for name, job in groups} == {
        (name, job) for name in ("service.yml", "platform.yml") for job in ("deploy-dev", "deploy-prod")}


def test_path_filters_select_the_service_and_what_it_shares():
    for service in SERVICES:
        on = triggers(load(f"{service}.yml"))
        assert on["push"]["branches"] == ["main"]
        for event in ("push", "pull_request"):
            paths = on[event]["paths"]
            for needed in (f"functions/{service}/**", "functions/shared/**", "platform/**", "contracts/**",
                           "Cargo.toml", "Cargo.lock", f".github/workflows/{service}.yml",
                           ".github/workflows/service.yml"):
                assert needed in paths, f"{service} {event}: {needed}"
            others = [path for path in paths if path.startswith("functions/")
                      and path not in (f"functions/{service}/**", "functions/shared/**")]
            assert others == [], f"{service} {event}"


def test_actions_are_pinned_by_commit_and_checkout_keeps_no_token():
    for name, workflow in all_workflows().items():
        text = (WORKFLOWS / name).read_text()
        for line in re.findall(r"uses: (\S+.*)", text):
            if line.startswith("./"):
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v[\d.]+", line), f"{name}: {line}"
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, name
