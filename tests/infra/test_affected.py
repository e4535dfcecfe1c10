"""infra/affected.py decides which services a change reaches; pipelines and
`make test SERVICE=` trust it, so its rules are pinned here on the real workspace graph."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
import affected  # noqa: E402

SERVICES = ["cart", "catalog", "inventory", "notification", "order"]


@pytest.fixture(scope="module")
def ws():
    return affected.workspace()


def test_the_workspace_has_the_five_services(ws):
    assert list(ws.services) == SERVICES


@pytest.mark.parametrize("paths, expected", [
    (["functions/cart/src/service.rs"], ["cart"]),
    (["functions/order/tests/saga.rs", "functions/order/Cargo.toml"], ["order"]),
    (["functions/cart/src/lib.rs", "functions/catalog/src/lib.rs"], ["cart", "catalog"]),
    (["functions/shared/src/auth.rs"], SERVICES),
    (["README.md"], []),
    (["docs/storefront.png", "functions/order/README.md", "LICENSE"], []),
    (["infra/bench/report.py"], []),
    (["storefront/app.js"], []),
    (["Cargo.lock"], SERVICES),
    (["template.yaml"], SERVICES),
    (["infra/stack.py"], SERVICES),
    (["README.md", "functions/inventory/src/store.rs"], ["inventory"]),
    ([], []),
])
def test_paths_select_services(ws, paths, expected):
    assert affected.affected(paths, ws) == expected


def test_a_crate_reaches_the_services_that_depend_on_it():
    # A made-up graph: a new `pricing` library used by order only selects order.
    ws = affected.Workspace(
        folders={"bookish-shared": "functions/shared", "pricing": "functions/pricing",
                 "order": "functions/order", "cart": "functions/cart"},
        deps={"bookish-shared": set(), "pricing": {"bookish-shared"}, "order": {"pricing", "bookish-shared"},
              "cart": {"bookish-shared"}},
        services=("cart", "order"))
    assert affected.affected(["functions/pricing/src/lib.rs"], ws) == ["order"]
    assert affected.affected(["functions/shared/src/lib.rs"], ws) == ["cart", "order"]


@pytest.mark.parametrize("service, crates", [
    ("cart", ["bookish-shared", "cart"]),
    ("catalog", ["bookish-shared", "catalog"]),
    # the consumers and producers of events check them with bookish-contracts (a dev-dependency)
    ("inventory", ["bookish-contracts", "bookish-shared", "inventory"]),
    ("notification", ["bookish-contracts", "bookish-shared", "notification"]),
    ("order", ["bookish-contracts", "bookish-shared", "order"]),
])
def test_make_test_service_tests_the_crates_it_builds_on(ws, service, crates):
    assert affected.crates_to_test(service, ws) == crates


@pytest.mark.parametrize("service", SERVICES)
def test_make_test_service_runs_its_black_box_tests_and_the_shared_ones(service):
    paths = affected.tests_to_run(service)
    assert {f"tests/{name}" for name in affected.SERVICE_TESTS[service]} <= set(paths)
    assert "tests/infra/" in paths and not any(path.startswith("tests/browser") for path in paths)


def test_every_black_box_test_file_belongs_to_a_service_or_is_shared():
    assert sorted(affected.SERVICE_TESTS) == SERVICES
    files = {path.name for path in (ROOT / "tests").glob("test_*.py")}
    owned = {name for names in affected.SERVICE_TESTS.values() for name in names}
    shared = set(affected.SHARED_TESTS)
    assert files - owned - shared == set(), "map it in infra/affected.py SERVICE_TESTS or SHARED_TESTS"
    for name in owned | shared:
        assert (ROOT / "tests" / name).exists(), name
    assert not owned & shared
