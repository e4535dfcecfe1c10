"""The CloudWatch Embedded Metric Format lines the functions write, read from the
stack's function log (`cargo lambda watch` keeps every function's stdout in
.local/<name>/watch.log, as CloudWatch Logs keeps a function's log group).

Real requests (catalog reads, a checkout that gets CONFIRMED, a declined card, a
cancellation) produce the lines; each line is checked against the EMF
specification (tests/emf_schema.json, plus the cross-references JSON Schema
cannot express: dimensions are string members of the root, metrics are numbers
or at most 100 numbers) and against Bookish's metric contract
(functions/shared/src/metrics.rs): namespace, names, units, dimension sets, and
which function may emit what. Ids are properties, never dimensions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from metric_contract import CONTRACT, DIMENSION_VALUES, SERVICES
from shop import DECLINED_CARD, SETTLED, checkout_body, wait_for

SCHEMA = json.loads((Path(__file__).parent / "emf_schema.json").read_text())


class FunctionLog:
    """The functions' output since the test began."""

    def __init__(self, path: Path):
        self.path = path
        self.start = path.stat().st_size

    def documents(self) -> list[dict]:
        with self.path.open("rb") as f:
            f.seek(self.start)
            text = f.read().decode("utf-8", errors="replace")
        docs = []
        for line in text.splitlines():
            if '"_aws"' not in line:
                continue
            # A line that mentions _aws but is not one whole JSON object is a torn write.
            doc = json.loads(line)
            if isinstance(doc, dict) and "_aws" in doc:
                docs.append(doc)
        return docs


@pytest.fixture
def function_log(stack) -> FunctionLog:
    stack_file = Path(os.environ.get("BOOKISH_STACK") or Path(__file__).parent.parent / ".local" / "stack.json")
    path = stack_file.parent / "watch.log"
    assert path.exists(), f"no function log at {path}"
    return FunctionLog(path)


def check_document(doc: dict) -> list[tuple[str, tuple[str, ...], dict]]:
    """Validates one document; returns (metric, dimension set, dimension values) for each metric in it."""
    jsonschema.validate(doc, SCHEMA)
    function = doc.get("function")
    assert function in SERVICES and doc.get("service") == SERVICES[function], doc
    seen = []
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        assert directive["Namespace"] == "Bookish", doc
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                value = doc.get(name)
                assert isinstance(value, str) and value.strip() and len(value) <= 1024 and value.isascii(), (name, doc)
                assert value in DIMENSION_VALUES.get(name, {value}), (name, doc)
            if "route" in dimension_set:
                method, _, path = doc["route"].partition(" ")
                assert method.isupper() and path.startswith("/v1/"), doc
        for metric in directive["Metrics"]:
            name = metric["Name"]
            assert name in CONTRACT, f"{name} is not in the metric contract: {doc}"
            unit, dimension_sets, emitters = CONTRACT[name]
            assert metric.get("Unit", "None") == (unit or "None"), doc
            assert function in emitters, f"{function} emits {name}: {doc}"
            value = doc[name]
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 100, doc
            assert all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in values), doc
            for dimension_set in directive["Dimensions"]:
                assert tuple(dimension_set) in dimension_sets, (name, dimension_set, doc)
                seen.append((name, tuple(dimension_set), {d: doc[d] for d in dimension_set}))
    return seen


def test_metrics_of_a_checkout_follow_the_spec_and_the_contract(
        api, shop, new_shopper, stocked_book, mail, function_log):
    assert api.get("/v1/books?limit=5").status_code == 200
    shopper = new_shopper()
    book = stocked_book(5, price={"amount": 1500, "currency": "USD"})
    placed = shop.place(shopper, {book["id"]: 2})
    confirmed = shop.wait_status(shopper, placed["id"], SETTLED)
    assert confirmed["status"] == "CONFIRMED", confirmed
    mail.wait_sent(placed["id"], "CONFIRMED")
    assert shop.cancel(shopper, placed["id"]).status_code == 200
    shop.fill_cart(shopper, {book["id"]: 1})
    declined = shop.checkout(shopper, checkout_body(DECLINED_CARD))
    assert declined.json()["reason"] == "PAYMENT_DECLINED", declined.text

    def has(found, name, function, **dimensions):
        return any(n == name and d["function"] == function and all(d.get(k) == v for k, v in dimensions.items())
                   for n, _, d in found)

    expected = [
        ("Requests", "catalog-read", {"route": "GET /v1/books", "statusClass": "2xx"}),
        ("RequestLatency", "catalog-read", {"route": "GET /v1/books", "statusClass": "2xx"}),
        ("Requests", "catalog-read", {}),
        ("Requests", "order-api", {"route": "POST /v1/orders", "statusClass": "2xx"}),
        ("DependencyLatency", "order-api", {"dependency": "stripe"}),
        ("OrdersPlaced", "order-api", {}),
        ("BatchSize", "order-publisher", {}),
        ("StockReserved", "inventory-events", {}),
        ("BatchSize", "inventory-events", {}),
        ("OrdersConfirmed", "order-stock-events", {}),
        ("Revenue", "order-stock-events", {"currency": "USD"}),
        ("DependencyLatency", "order-stock-events", {"dependency": "stripe"}),
        ("EmailsSent", "notification-events", {}),
        ("DependencyLatency", "notification-events", {"dependency": "ses"}),
        ("OrdersCancelled", "order-api", {}),
        ("OrdersRejected", "order-api", {"reason": "PAYMENT_DECLINED"}),
    ]

    def probe():
        found = [m for doc in function_log.documents() for m in check_document(doc)]
        missing = [e for e in expected if not has(found, e[0], e[1], **e[2])]
        return not missing, {"missing": missing}

    # The consumers write their lines when their invocation ends, a moment after its effect shows.
    wait_for(probe, "the metrics of the checkout in the function log")

    docs = function_log.documents()
    revenue = [doc["Revenue"] for doc in docs if "Revenue" in doc and doc["currency"] == "USD"]
    assert max(revenue) >= 2 * 1500, revenue
    # Ids stay out of the dimensions; the request id is a property.
    assert all(doc.get("requestId") for doc in docs), docs
    for doc in docs:
        assert placed["id"] not in json.dumps(doc), doc
