"""infra/api_compat.py (run by `make lint`) stops a breaking change to the public API that
keeps its major version, and lets compatible changes and major bumps through."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
import api_compat  # noqa: E402

SPEC = yaml.safe_load((api_compat.ROOT / api_compat.SPEC).read_text())


def text(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False)


def with_version(spec: dict, version: str) -> dict:
    spec = copy.deepcopy(spec)
    spec["info"]["version"] = version
    return spec


def without_book_author(spec: dict) -> dict:
    """Clients read `author` off every book: dropping it breaks them."""
    spec = copy.deepcopy(spec)
    book = spec["components"]["schemas"]["Book"]
    del book["properties"]["author"]
    book["required"].remove("author")
    return spec


@pytest.fixture(scope="module", autouse=True)
def optic_installed():
    assert api_compat.OPTIC.exists(), "run `make lint` (it installs infra/lint/node_modules)"


def test_the_spec_is_compatible_with_itself():
    assert api_compat.check(text(SPEC), text(SPEC)) is None


def test_a_breaking_change_without_a_major_bump_fails():
    problem = api_compat.check(text(SPEC), text(without_book_author(SPEC)))
    assert problem is not None
    assert "author" in problem and "bump info.version" in problem


def test_a_breaking_change_with_a_major_bump_passes():
    major = api_compat.major(SPEC)
    head = with_version(without_book_author(SPEC), f"{major + 1}.0.0")
    assert api_compat.check(text(SPEC), text(head)) is None


def test_a_new_response_field_is_compatible():
    head = copy.deepcopy(SPEC)
    head["components"]["schemas"]["Book"]["properties"]["subtitle"] = {"type": "string", "maxLength": 300}
    assert api_compat.check(text(SPEC), text(head)) is None
