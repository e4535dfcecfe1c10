"""infra/affected.py decides which services a change reaches; pipelines and
`make test SERVICE=` trust it, so its rules are pinned here on the real workspace graph."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))
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
