"""Tests of the cost-per-order model (infra/bench/cost.py): DynamoDB's item-size and
rounding rules, Lambda's 1 ms billing, and the step counts of a checkout. Pure: no
stack, no servers. Expected values are the worked examples of the DynamoDB Developer
Guide ("Item sizes and formats", "DynamoDB read and write operations") and the
on-demand pricing page."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "infra"), str(REPO / "infra" / "bench")]

import cost  # noqa: E402

KB = 1024


# --------------------------------------------------------------------------- item sizes

def test_strings_and_names_count_utf8_bytes():
    assert cost.item_size({"pk": {"S": "CART#a"}}) == 2 + 6
    # "é" is 2 bytes in UTF-8, in a name as in a value.
    assert cost.item_size({"é": {"S": "é"}}) == 4


@pytest.mark.parametrize("number, size", [
    ("0", 1),  # no significant digits
    ("7", 2),
    ("12", 2),
    ("123", 3),
    ("1000", 2),  # trailing zeroes trimmed
    ("0.001", 2),  # leading zeroes trimmed
    ("-12.5", 3),  # sign and point are not digits
    ("1796428442", 6),  # an epoch-seconds TTL
    ("12345678901234567890123456789012345678", 20),  # 38 digits, the most a number holds
])
def test_numbers_take_a_byte_per_two_significant_digits_plus_one(number, size):
    assert cost.number_size(number) == size
    assert cost.item_size({"n": {"N": number}}) == 1 + size


def test_binary_bool_null_and_sets():
    assert cost.item_size({"b": {"B": b"\x00\x01\x02"}}) == 1 + 3
    assert cost.item_size({"b": {"B": "AAEC"}}) == 1 + 3  # base64 text counts raw bytes
    assert cost.item_size({"t": {"BOOL": True}}) == 1 + 1
    assert cost.item_size({"z": {"NULL": True}}) == 1 + 1
    assert cost.item_size({"ss": {"SS": ["ab", "cde"]}}) == 2 + 5
    assert cost.item_size({"ns": {"NS": ["1", "100"]}}) == 2 + 2 + 2


def test_lists_and_maps_add_three_bytes_and_one_per_element():
    assert cost.item_size({"l": {"L": []}}) == 1 + 3
    assert cost.item_size({"m": {"M": {}}}) == 1 + 3
    # [ "ab", 7 ]: 3 + (2 + 1) + (2 + 1)
    assert cost.item_size({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 9
    # {"q": 2, "at": "x"}: 3 + (1 + 2 + 1) + (2 + 1 + 1); nested maps count the same way.
    line = {"M": {"q": {"N": "2"}, "at": {"S": "x"}}}
    assert cost.item_size({"m": line}) == 1 + 11
    assert cost.item_size({"lines": {"M": {"id": line}}}) == 5 + 3 + (2 + 11 + 1)


def test_a_cart_item_as_the_store_writes_it():
    cart = {
        "pk": {"S": "CART#db93da3c-06a0-4779-9584-07d2205d1617"},
        "lines": {"M": {"7c0092b7b6064a39b321d38578a00549": {"M": {
            "quantity": {"N": "2"}, "addedAt": {"S": "2026-11-27T23:54:02Z"}}}}},
        "updatedAt": {"S": "2026-11-27T23:54:02Z"},
        "expiresAt": {"N": "1798415642"},
    }
    pk = 2 + 41
    line = 3 + (8 + 2 + 1) + (7 + 20 + 1)
    lines = 5 + 3 + (32 + line + 1)
    assert cost.item_size(cart) == pk + lines + (9 + 20) + (9 + 6)


# --------------------------------------------------------------------------- reads

def test_reads_round_each_item_up_to_4_kb():
    assert cost.read_units([3500], "strong") == 1
    assert cost.read_units([8 * KB], "strong") == 2
    assert cost.read_units([8 * KB], "eventual") == 1
    assert cost.read_units([8 * KB], "transactional") == 4
    assert cost.read_units([10 * KB], "strong") == 3  # 10 KB rounds to 12 KB


def test_a_read_of_a_missing_item_costs_the_minimum():
    assert cost.read_units([0], "strong") == 1
    assert cost.read_units([0], "eventual") == 0.5


def test_batch_get_rounds_each_item_but_query_rounds_the_sum():
    # BatchGetItem of 1.5 KB and 6.5 KB items: 4 KB + 8 KB = 12 KB.
    assert cost.read_units([int(1.5 * KB), int(6.5 * KB)], "strong", "BatchGetItem") == 3
    # Query returning 10 items of 40.8 KB in all: 44 KB.
    assert cost.read_units([int(4.08 * KB)] * 10, "strong", "Query") == 11
    # 1500 items of 64 bytes: 96 KB.
    assert cost.read_units([64] * 1500, "strong", "Query") == 24
    assert cost.read_units([64] * 1500, "eventual", "Query") == 12


# --------------------------------------------------------------------------- writes

def test_writes_round_up_to_1_kb_and_transactions_count_double():
    assert cost.write_units(None, 500) == 1
    assert cost.write_units(None, int(1.6 * KB)) == 2
    assert cost.write_units(None, 1025) == 2
    assert cost.write_units(None, 3 * KB, transactional=True) == 6  # the pricing page's example


def test_updates_and_replacing_puts_are_charged_on_the_larger_item():
    assert cost.write_units(900, 1100) == 2
    assert cost.write_units(1100, 900) == 2
    assert cost.write_units(824, 824, transactional=True) == 2


def test_a_delete_is_charged_on_the_deleted_item():
    assert cost.write_units(2 * KB + 1, None) == 3


def test_a_failed_condition_still_consumes_write_units():
    assert cost.write_units(None, 5 * KB, condition_failed=True) == 1  # no item: one unit
    assert cost.write_units(2 * KB, 5 * KB, condition_failed=True) == 2  # the existing item


def test_each_gsi_the_item_is_in_is_written_too():
    assert cost.write_units(None, 1500, gsis=2) == 2 + 2 * 2
    assert cost.write_units(None, 1500, transactional=True, gsis=1) == 4 + 2


def test_tables_written_at_checkout_have_no_gsis_in_the_template():
    import provision

    template = provision.store_template(REPO / "template.yaml")
    for logical, gsis in cost.GSIS.items():
        declared = template["Resources"][logical]["Properties"].get("GlobalSecondaryIndexes", [])
        assert len(declared) == gsis, logical
        assert all(g["Projection"]["ProjectionType"] == "ALL" for g in declared)


# --------------------------------------------------------------------------- the model

def _items(lines: int = 2) -> cost.Items:
    """A small synthetic order, laid out as the stores write it."""
    book_ids = [f"{i:032x}" for i in range(1, lines + 1)]
    at = "2026-01-01T00:00:00Z"
    event = lambda kind: {  # noqa: E731
        "pk": {"S": "CUSTOMER#c"}, "sk": {"S": f"EVENT#o#{kind}"}, "expiresAt": {"N": "1796428442"},
        "event": {"S": json.dumps({"type": kind, "correlationId": "corr", "data": {"x": "y" * 1000}})},
    }
    order = {"pk": {"S": "CUSTOMER#c"}, "sk": {"S": "ORDER#o"}, "correlationId": {"S": "corr"},
             "order": {"M": {"status": {"S": "CONFIRMED"}}}, "version": {"N": "2"}}
    stock = [{"pk": {"S": f"STOCK#{b}"}, "available": {"N": "23"}} for b in book_ids]
    sent = {"pk": {"S": "SENT#o#CONFIRMED#email"}, "state": {"S": "SENT"}, "sentAt": {"S": at}}
    return cost.Items(
        cart={"pk": {"S": "CART#c"}, "lines": {"M": {b: {"M": {"quantity": {"N": "1"}, "addedAt": {"S": at}}}
                                                      for b in book_ids}}},
        books=[{"pk": {"S": f"BOOK#{b}"}, "sk": {"S": "BOOK"}, "title": {"S": "t" * 400}} for b in book_ids],
        idempotency={"pk": {"S": "CUSTOMER#c"}, "sk": {"S": "IDEMPOTENCY#k"}, "orderId": {"S": "o"}},
        order_placed=order, order=order, events=[event("OrderPlaced"), event("OrderConfirmed")],
        stock_before=stock, stock_after=stock,
        reservation={"pk": {"S": "RESERVATION#o"}, "orderId": {"S": "o"}, "customerId": {"S": "c"},
                     "at": {"S": at}},
        sent_claims=[{"pk": sent["pk"], "state": {"S": "SENDING"}}], sent=[sent],
    )


def test_a_two_line_checkout_counts_every_request():
    checkout = cost.model_checkout(_items(2))
    memory = {f: 128 for f in cost.DEFAULT_DURATIONS_MS}
    result = cost.price(checkout, {f: 10.0 for f in memory}, memory)
    t = result["totals"]
    # cart and catalog-read per PUT (2) and view (1); checkout: order-api, cart ×2,
    # catalog-read ×2; order-publisher ×2, three consumers, one poll.
    assert t["lambda_requests"] == 2 * 2 + 2 + 5 + 2 + 3 + 1 == 17
    assert t["api_requests"] == 2 + 1 + 1 + 1
    # Three messages: each a SendMessage, a ReceiveMessage and a delete at one per batch.
    assert t["sqs_requests"] == 9
    assert t["emails"] == 1
    # Outbox items over 1 KB cost 2 units each, doubled by the transaction.
    outbox = [r for r in result["dynamodb"] if r["category"] == "outbox"]
    assert [r["wru"] for r in outbox] == [4, 4]
    json.dumps(result)  # bench.py saves it as JSON
    text = cost.markdown(result)
    assert "per 1 million orders" in text and "| **total** |" in text


def test_fuller_batches_share_receives_deletes_and_invocations():
    assumptions = {**cost.ASSUMPTIONS, "sqs_messages_per_batch": 10, "stream_records_per_batch": 10}
    checkout = cost.model_checkout(_items(2), assumptions)
    memory = {f: 128 for f in cost.DEFAULT_DURATIONS_MS}
    t = cost.price(checkout, {}, memory)["totals"]
    assert t["sqs_requests"] == pytest.approx(3 + 3 * 0.2)
    assert t["lambda_requests"] == pytest.approx(12 + 5 * 0.1)


def test_lambda_bills_duration_rounded_up_to_the_millisecond():
    step = cost.Step("one call", invocations=[cost.Invocation("cart", "GET /v1/cart")])
    result = cost.price([step], {"cart": 1.2}, {"cart": 128})
    assert result["steps"][0]["invocations"][0]["billed_ms"] == 2
    assert result["totals"]["gb_ms"] == pytest.approx(0.125 * 2)
    # A route-specific duration wins over the function's.
    result = cost.price([step], {"cart GET /v1/cart": 3.0, "cart": 50.0}, {"cart": 1024})
    assert result["totals"]["gb_ms"] == pytest.approx(3.0)
    per_million = result["dollars_per_million_orders"]
    assert per_million["Lambda requests"] == pytest.approx(0.20)
    assert per_million["Lambda duration (arm64)"] == pytest.approx(3 / 1000 * 0.0000133334 * 1e6)


def test_order_writes_pay_for_the_unsettled_index_and_other_items_do_not():
    checkout = cost.model_checkout(_items(2))
    writes = [op for step in checkout.steps for op in step.ops
              if isinstance(op, cost.Write) and op.table == "OrdersTable"]
    indexed = {op.what for op in writes if op.gsis is None}
    assert indexed == {"put order (PENDING, payment PENDING)", "put order (PENDING, AUTHORIZED)",
                       "put order (CONFIRMED)"}
    unindexed = [op for op in writes if op.gsis == 0]
    assert {op.category for op in unindexed} == {"order write", "outbox", "rate limit"}
    order = next(op for op in writes if op.what == "put order (CONFIRMED)")
    assert order.wru == cost.write_units(order.before, order.after, transactional=True, gsis=1)


# --------------------------------------------------------------------------- counted, not modelled

COUNTED = REPO / "tests" / "infra" / "cost-counted.json"  # one real checkout, counted (bench.counted_checkout)


def _recorded():
    return json.loads(COUNTED.read_text())


def test_the_model_agrees_with_a_counted_checkout():
    recorded = _recorded()
    counted = cost.counted(recorded["recorded"], recorded["memory_mb"])
    model = cost.price(cost.model_checkout(cost.Items(**recorded["items"])), counted["mean_duration_ms"],
                       recorded["memory_mb"])
    check = cost.cross_check(counted, model)
    assert {k for k, v in check.items() if not v["agree"]} == set(), check


def test_every_step_of_the_checkout_is_counted_and_priced():
    counted = cost.counted(_recorded()["recorded"], _recorded()["memory_mb"])
    steps = {row["step"] for row in counted["steps"]}
    assert {"place the order", "relay the outbox", "reserve stock", "confirm the order",
            "notify the shopper"} <= steps
    assert counted["totals"]["unattributed_log_bytes"] == 0
    shares = counted["per_million_orders"]["shares"]
    assert set(shares) >= {"lambda", "dynamodb", "sqs", "ses", "logs", "api_gateway"}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert counted["prices"]["as_of"] and counted["prices"]["source"].startswith("https://")


def test_the_section_prints_numbers_from_the_results_only():
    counted = cost.counted(_recorded()["recorded"], _recorded()["memory_mb"])
    counted.update(order_id="an-order", model_cross_check={})
    text = cost.section({"cost_counted": counted})
    assert f"{counted['per_million_orders']['total_usd']:,.2f}" in text
    assert str(counted["totals"]["log_bytes"]) in text
