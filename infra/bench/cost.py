#!/usr/bin/env python3
"""Cost per order: what one checkout costs in AWS, priced from the real items it writes.

The model lists every billable request one order causes, step by step, from the code
(the Rust adapters and the template), sizes each DynamoDB item from the real items of
a completed order in the local stack, applies DynamoDB's documented rounding rules,
and prices the lot at us-east-1 on-demand list prices:

  collect_items(endpoint, stack, order_id, customer)  the real items of one order
  model_checkout(items)                               every request, step by step
  price(steps, durations_ms, memory_mb)               units and dollars per 1M orders
  markdown(result)                                    the BENCHMARKS.md section
  run(described, checkout, durations_ms)              all of the above, for bench.py

By hand, against a running stack (durations are made up unless given):

  .venv/bin/python infra/bench/cost.py --stack .local/dev/stack.json --order-id <id>

Everything the model assumes is data at the top of this module (ASSUMPTIONS, PRICES,
the DynamoDB unit sizes); the markdown repeats it next to the numbers.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import math
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------
# Assumptions: the checkout journey this prices (one order, everything going right)
# --------------------------------------------------------------------------

#: Books in the cart, one `PUT /v1/cart/items/{bookId}` each (bench.py adds this many).
CART_LINES = 2

ASSUMPTIONS = {
    "cart_lines": CART_LINES,  # replaced by the real order's line count when one is measured
    "cart_views": 1,  # GET /v1/cart once before checking out
    "order_polls": 1,  # GET /v1/orders/{id} once, after it is CONFIRMED
    "outcome": "CONFIRMED",  # card approved (Stripe test card pm_card_visa), every line in stock
    "emails": 1,  # OrderConfirmed emailed: the ID token carries the shopper's email
    "sms": 0,  # the bench's shopper has no verified phone number
    # Lambda's SQS event source mapping (BatchSize 10 in template.yaml) receives up to
    # 10 messages per ReceiveMessage and deletes a batch's successes with one
    # DeleteMessageBatch. Under light traffic each batch holds one message: 1 receive and
    # 1 delete per message (the worst case); at full batches it is 0.1 of each.
    "sqs_messages_per_batch": 1,
    # Same for the orders stream mapping (BatchSize 10): one outbox record per invocation.
    "stream_records_per_batch": 1,
    # Durations are warm invocations; a cold start's init is billed too but amortised
    # over the many orders a warm environment serves, so it is left out.
    "warm": True,
}

#: Not counted: shared or fixed costs that do not scale with orders, or are not AWS list prices.
NOT_COUNTED = [
    "free tiers (every price is the first paid tier)",
    "cold-start init duration (warm invocations only)",
    "empty SQS receives of the idle event-source pollers (a fixed monthly cost per queue, not per order)",
    "DynamoDB storage, PITR backups and stream reads (GetRecords by a Lambda trigger is free)",
    "TTL deletes (free), CloudWatch Logs ingestion, data transfer out, Cognito sign-ins",
    "Stripe's fees (paid to Stripe per charge, not to AWS)",
]

# --------------------------------------------------------------------------
# Prices: us-east-1, on-demand list prices, first paid tier, USD
# --------------------------------------------------------------------------

PRICES = {
    # AWS Lambda pricing page (aws.amazon.com/lambda/pricing), Arm, first 7.5 billion GB-s
    # a month: $0.0000133334 per GB-s; requests $0.20 per 1M, both architectures. Duration
    # is rounded up to the next 1 ms. Read via the stored pricing page and two guides
    # quoting it (2024-2025).
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm": 0.0000133334,
    # DynamoDB on-demand pricing (aws.amazon.com/dynamodb/pricing/on-demand), Standard table
    # class, after the 50% on-demand throughput price cut effective 2024-11-01:
    # $0.625 per 1M write request units, $0.125 per 1M read request units.
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    # SQS pricing (aws.amazon.com/sqs/pricing), standard queue, first 100 billion requests a
    # month: $0.40 per 1M requests; every 64 KB chunk of a payload is billed as one request
    # (guides of March and June 2026 quoting the page).
    "sqs_request": 0.40 / 1e6,
    # API Gateway pricing (aws.amazon.com/api-gateway/pricing), HTTP APIs, first 300 million a
    # month: $1.00 per 1M requests, metered in 512 KB increments.
    "http_api_request": 1.00 / 1e6,
    # SES pricing (aws.amazon.com/ses/pricing), outbound email: $0.10 per 1,000 emails
    # (no attachments, so no per-GB charge).
    "ses_email": 0.10 / 1000,
}
PRICES_AS_OF = "us-east-1 list prices as published 2025-2026; DynamoDB after its 2024-11-01 on-demand cut"

# --------------------------------------------------------------------------
# DynamoDB units
# --------------------------------------------------------------------------
# Developer Guide, "Item sizes and formats" (CapacityUnitCalculations) and "DynamoDB read
# and write operations" (read-write-operations; ProvisionedThroughput in the older guide):
#  - reads in 4 KB units: strongly consistent 1 per unit, eventually consistent 0.5,
#    transactional 2; BatchGetItem rounds each item, Query rounds the sum; reading an item
#    that does not exist still costs one unit (0.5 eventually consistent);
#  - writes in 1 KB units, transactional 2; PutItem replacing an item and UpdateItem are
#    charged on the larger of the before and after item, DeleteItem on the deleted item; a
#    conditional write whose condition fails still consumes: the existing item's size, or
#    one unit when there is no item;
#  - "Capacity management for transactions" (transaction-apis): every item of a transaction
#    is read or written twice (prepare, commit);
#  - a write also writes every GSI the item is projected into (charged as a standard write
#    of the projected item on the index).
READ_UNIT = 4096
WRITE_UNIT = 1024
READ_MULTIPLIER = {"strong": 1.0, "eventual": 0.5, "transactional": 2.0}
# A ConditionCheck inside TransactWriteItems (no checkout step uses one) is modelled as a
# transactional read, as the task specified. The guide does not say; one published
# measurement against real DynamoDB (paritysuite/dynamodb-conformance PR #67, 2026) saw it
# reported as 2 write units instead. Change to "write" to price it that way.
CONDITION_CHECK_BILLED_AS = "read"
# GSIs per table (projection ALL), checked against template.yaml by tests/infra/test_cost.py.
# Checkout never writes BooksTable. OrdersTable's one index (`unsettled`) is sparse: an
# order item is in it while it owes the saga a step, so a write that puts an order in, or
# takes it out, is charged for it (Write.gsis); idempotency and outbox items never are.
GSIS = {"CartsTable": 0, "OrdersTable": 1, "StockTable": 0, "SentTable": 0, "BooksTable": 2}

SQS_CHUNK = 64 * 1024
HTTP_API_CHUNK = 512 * 1024


def value_size(value: dict) -> int:
    """Bytes of one typed attribute value ({"S": ...}, {"N": ...}, {"M": {...}}, ...), without its name."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        return number_size(v)
    if kind == "B":
        return len(_raw_bytes(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in v)
    if kind == "NS":
        return sum(number_size(n) for n in v)
    if kind == "BS":
        return sum(len(_raw_bytes(b)) for b in v)
    if kind == "L":
        # 3 bytes for the list, plus each element and 1 byte per element.
        return 3 + sum(value_size(e) + 1 for e in v)
    if kind == "M":
        # 3 bytes for the map, plus each element (name + value) and 1 byte per element.
        return 3 + sum(len(name.encode("utf-8")) + value_size(e) + 1 for name, e in v.items())
    raise ValueError(f"not a DynamoDB attribute value: {value!r}")


def number_size(text: str) -> int:
    """About 1 byte per two significant digits, plus 1 (leading and trailing zeroes trimmed)."""
    digits = str(text).strip().lstrip("+-").lower()
    if "e" in digits:  # scientific notation: only the mantissa's digits are significant
        digits = digits.split("e", 1)[0]
    digits = digits.replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1


def _raw_bytes(value) -> bytes:
    # boto3's client hands binary back as bytes; JSON dumps of items carry base64 text.
    return value if isinstance(value, (bytes, bytearray)) else base64.b64decode(value)


def item_size(item: dict) -> int:
    """DynamoDB item size in bytes of a low-level item: each attribute's UTF-8 name plus its value."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def read_units(sizes: list[int], consistency: str, api: str = "GetItem") -> float:
    """Read request units of one read. `sizes` holds each item read (0 = not found)."""
    if api == "Query":
        units = max(1, math.ceil(sum(sizes) / READ_UNIT))
    else:  # GetItem, BatchGetItem, TransactGetItems, ConditionCheck: each item on its own
        units = sum(max(1, math.ceil(size / READ_UNIT)) for size in sizes)
    return units * READ_MULTIPLIER[consistency]


def write_units(before: int | None, after: int | None, transactional: bool = False,
                condition_failed: bool = False, gsis: int = 0) -> int:
    """Write request units of one write of an item `before` bytes (None: absent) that becomes
    `after` bytes (None: deleted)."""
    if condition_failed:
        size = before or 0  # nothing changes: the existing item, or 1 unit if there is none
        gsis = 0
    else:
        size = max(before or 0, after or 0)
    units = max(1, math.ceil(size / WRITE_UNIT))
    total = units * (2 if transactional else 1)
    return total + gsis * units


# --------------------------------------------------------------------------
# The checkout, step by step
# --------------------------------------------------------------------------

@dataclass
class Read:
    api: str  # GetItem | BatchGetItem | Query | TransactGetItems | ConditionCheck
    table: str  # logical id in template.yaml
    what: str
    sizes: list[int]  # bytes of each item read; 0 = not found
    consistency: str  # strong | eventual | transactional
    by: str  # the function making the call
    category: str

    @property
    def rru(self) -> float:
        if self.api == "ConditionCheck" and CONDITION_CHECK_BILLED_AS == "write":
            return 0.0
        return read_units(self.sizes, self.consistency, self.api)

    @property
    def wru(self) -> float:
        if self.api == "ConditionCheck" and CONDITION_CHECK_BILLED_AS == "write":
            return float(sum(2 * max(1, math.ceil(s / WRITE_UNIT)) for s in self.sizes))
        return 0.0


@dataclass
class Write:
    api: str  # PutItem | UpdateItem | DeleteItem | TransactWriteItems (one action each)
    table: str
    what: str
    before: int | None
    after: int | None
    by: str
    category: str
    transactional: bool = False
    condition_failed: bool = False
    gsis: int | None = None  # indexes this write touches; None: every index of the table

    @property
    def rru(self) -> float:
        return 0.0

    @property
    def wru(self) -> float:
        gsis = GSIS.get(self.table, 0) if self.gsis is None else self.gsis
        return float(write_units(self.before, self.after, self.transactional, self.condition_failed, gsis))


@dataclass
class Invocation:
    function: str  # binary name, as in template.yaml (BuildProperties.Binary)
    route: str  # what it serves; durations may be given per "function route" or per function
    count: float = 1.0

    @property
    def key(self) -> str:
        return f"{self.function} {self.route}"


@dataclass
class SqsRequest:
    api: str  # SendMessage | ReceiveMessage | DeleteMessage(Batch)
    queue: str
    by: str
    count: float  # requests per order (a receive shared by a batch counts its share)
    payload: int = 0  # bytes, for the 64 KB chunk rule


@dataclass
class Step:
    name: str
    ops: list = field(default_factory=list)  # Read | Write
    invocations: list[Invocation] = field(default_factory=list)
    sqs: list[SqsRequest] = field(default_factory=list)
    api_requests: int = 0
    emails: int = 0
    sms: int = 0


@dataclass
class Checkout:
    steps: list[Step]
    assumptions: dict
    items: dict  # name -> {"bytes": n, "source": how it was obtained}


@dataclass
class Items:
    """The items of one order, typed (boto3 client style), and where each came from."""
    cart: dict  # the cart as checkout read it (before it was emptied)
    books: list[dict]  # one per line, in the cart's order
    idempotency: dict
    order_placed: dict  # the order as first written (PENDING)
    order: dict  # as it ends (CONFIRMED)
    events: list[dict]  # outbox items, in sequence order
    stock_before: list[dict]
    stock_after: list[dict]
    reservation: dict
    sent_claims: list[dict]  # the sent-log claim (SENDING) per channel
    sent: list[dict]  # the same, marked SENT
    sources: dict = field(default_factory=dict)  # item name -> "read" | "reconstructed: how"


def _s(value: dict, *path: str):
    for key in path:
        value = value[key]
    return value


def _cart_prefix(cart: dict, lines: int) -> dict:
    """The cart as it was after its first `lines` additions (the store lists lines by addedAt, id)."""
    entries = sorted(cart["lines"]["M"].items(), key=lambda kv: (kv[1]["M"]["addedAt"]["S"], kv[0]))
    smaller = copy.deepcopy(cart)
    smaller["lines"] = {"M": dict(entries[:lines])}
    return smaller


def _sqs_message_size(body: str, kind: str, correlation_id: str) -> int:
    """Body plus the two String attributes shared::sqs sets (name, type and value count)."""
    attributes = {"type": kind, "correlationId": correlation_id}
    return len(body.encode()) + sum(len(k) + len("String") + len(v.encode()) for k, v in attributes.items())


def _chunks(size: int, chunk: int) -> int:
    return max(1, math.ceil(size / chunk))


def model_checkout(items: Items, assumptions: dict | None = None) -> Checkout:
    """Every billable request of one order, in the order they happen, sized from `items`.

    Read from the code: cart (functions/cart/src/{service,store/dynamodb}.rs), catalog
    (catalog/src/store/dynamodb.rs get_many: one BatchGetItem, eventually consistent),
    order (order/src/{service,store/dynamodb}.rs, cart_client.rs, publisher.rs), inventory
    (inventory/src/{service,store/dynamodb}.rs), notification (notification/src/service.rs,
    sent_log/dynamodb.rs), shared invoke.rs / catalog_client.rs / sqs.rs.
    """
    a = dict(ASSUMPTIONS if assumptions is None else assumptions)
    lines = len(items.books)
    a["cart_lines"] = lines
    fill = a["sqs_messages_per_batch"]
    stream_fill = a["stream_records_per_batch"]
    book_sizes = [item_size(b) for b in items.books]
    cart_sizes = [item_size(_cart_prefix(items.cart, k)) for k in range(1, lines + 1)]
    cart = cart_sizes[-1]
    order_v1, order_v2 = item_size(items.order_placed), item_size(items.order)
    steps: list[Step] = []

    # 1. Add each book: cart reads the cart, prices it (catalog-read, one BatchGetItem of
    #    the cart's books plus the new one), then tries its conditional UpdateItems in
    #    turn (set_line): change an existing line, add a line, else (no cart) read again
    #    and create the cart. A failed condition still consumes a write unit.
    for k in range(1, lines + 1):
        step = Step(f"add book {k} to the cart", api_requests=1)
        step.invocations += [Invocation("cart", "PUT /v1/cart/items/{bookId}"),
                             Invocation("catalog-read", "GET /v1/books?ids= (invoked)")]
        prev = cart_sizes[k - 2] if k > 1 else 0
        step.ops.append(Read("GetItem", "CartsTable", "cart" if k > 1 else "cart (none yet)", [prev],
                             "strong", "cart", "cart read"))
        step.ops.append(Read("BatchGetItem", "BooksTable", f"{k} book{'s' * (k > 1)}", book_sizes[:k],
                             "eventual", "catalog-read", "pricing"))
        if k == 1:
            step.ops += [
                Write("UpdateItem", "CartsTable", "change line: condition fails (no cart)", None, None,
                      "cart", "cart write", condition_failed=True),
                Write("UpdateItem", "CartsTable", "add line: condition fails (no cart)", None, None,
                      "cart", "cart write", condition_failed=True),
                Read("GetItem", "CartsTable", "cart (still none)", [0], "strong", "cart", "cart read"),
                Write("UpdateItem", "CartsTable", "create cart with line 1", None, cart_sizes[0],
                      "cart", "cart write"),
            ]
        else:
            step.ops += [
                Write("UpdateItem", "CartsTable", "change line: condition fails (new book)", prev, None,
                      "cart", "cart write", condition_failed=True),
                Write("UpdateItem", "CartsTable", f"add line {k}", prev, cart_sizes[k - 1], "cart", "cart write"),
            ]
        steps.append(step)

    # 2. View the cart: one GetItem and one catalog lookup.
    for _ in range(a["cart_views"]):
        step = Step("view the cart", api_requests=1)
        step.invocations += [Invocation("cart", "GET /v1/cart"),
                             Invocation("catalog-read", "GET /v1/books?ids= (invoked)")]
        step.ops += [Read("GetItem", "CartsTable", "cart", [cart], "strong", "cart", "cart read"),
                     Read("BatchGetItem", "BooksTable", f"{lines} books", book_sizes, "eventual",
                          "catalog-read", "pricing")]
        steps.append(step)

    # 3. Place the order (order-api place_order): idempotency lookup (a miss), the cart
    #    through the cart function (which prices it through catalog-read), prices again
    #    through catalog-read, the transactional outbox write, then DELETE /v1/cart.
    placed_event, confirmed_event = items.events[0], items.events[1]
    empty_cart = item_size(_cart_prefix(items.cart, 0))
    slot = item_size(_checkout_slot(items.order))
    step = Step("place the order", api_requests=1)
    step.invocations += [Invocation("order-api", "POST /v1/orders"),
                         Invocation("cart", "GET /v1/cart (invoked)"),
                         Invocation("catalog-read", "GET /v1/books?ids= (invoked)", 2),
                         Invocation("cart", "DELETE /v1/cart (invoked)")]
    step.ops += [
        Read("GetItem", "OrdersTable", "idempotency record (none yet)", [0], "strong", "order-api", "idempotency"),
        # Checkouts per shopper per minute (take_checkout_slot): ADD to this minute's counter.
        Write("UpdateItem", "OrdersTable", "take a checkout slot", None, slot, "order-api", "rate limit", gsis=0),
        Read("GetItem", "CartsTable", "cart", [cart], "strong", "cart", "cart read"),
        Read("BatchGetItem", "BooksTable", f"{lines} books (cart view)", book_sizes, "eventual", "catalog-read",
             "pricing"),
        Read("BatchGetItem", "BooksTable", f"{lines} books (order prices)", book_sizes, "eventual",
             "catalog-read", "pricing"),
        # The order is recorded before the card is touched (payment PENDING), then the
        # authorization (a Stripe call: not an AWS cost) is recorded with OrderPlaced.
        Write("TransactWriteItems", "OrdersTable", "put idempotency record", None, item_size(items.idempotency),
              "order-api", "order write", transactional=True, gsis=0),
        Write("TransactWriteItems", "OrdersTable", "put order (PENDING, payment PENDING)", None, order_v1,
              "order-api", "order write", transactional=True),
        Write("TransactWriteItems", "OrdersTable", "put order (PENDING, AUTHORIZED)", order_v1, order_v1,
              "order-api", "order write", transactional=True),
        Write("TransactWriteItems", "OrdersTable", "put outbox OrderPlaced", None, item_size(placed_event),
              "order-api", "outbox", transactional=True, gsis=0),
        # Emptying the cart (cart remove_lines): read it, remove the ordered lines in one
        # conditional UpdateItem, then delete the cart left empty.
        Read("GetItem", "CartsTable", "cart (to empty it)", [cart], "strong", "cart", "cart read"),
        Write("UpdateItem", "CartsTable", "remove the ordered lines", cart, empty_cart, "cart", "cart write"),
        Write("DeleteItem", "CartsTable", "delete the empty cart", empty_cart, None, "cart", "cart write"),
    ]
    steps.append(step)

    def relay(event: dict, queue: str, name: str) -> Step:
        # The stream hands the outbox INSERT to order-publisher (GetRecords by a Lambda
        # trigger is free; the filter keeps other records from invoking it), which sends it.
        body = event["event"]["S"]
        head = json.loads(body)
        size = _sqs_message_size(body, head["type"], head["correlationId"])
        s = Step(name)
        s.invocations.append(Invocation("order-publisher", "orders stream", 1 / stream_fill))
        s.sqs.append(SqsRequest("SendMessage", queue, "order-publisher", _chunks(size, SQS_CHUNK), size))
        return s

    def consume(step: Step, queue: str, function: str, size: int) -> None:
        # Lambda's event source mapping: one ReceiveMessage and one DeleteMessageBatch per
        # batch, shared by the batch's messages; one invocation per batch.
        step.invocations.append(Invocation(function, queue, 1 / fill))
        per_batch = _chunks(size * fill, SQS_CHUNK) / fill
        step.sqs += [SqsRequest("ReceiveMessage", queue, "Lambda (event source mapping)", per_batch, size),
                     SqsRequest("DeleteMessage(Batch)", queue, "Lambda (event source mapping)", 1 / fill)]

    # 4. OrderPlaced -> InventoryQueue.
    placed_size = _sqs_message_size(placed_event["event"]["S"], "OrderPlaced",
                                    json.loads(placed_event["event"]["S"])["correlationId"])
    steps.append(relay(placed_event, "InventoryQueue", "relay OrderPlaced"))

    # 5. inventory-events reserves every line in one transaction (Update per stock item,
    #    guarded by available >= q, plus the reservation Put) and answers StockReserved.
    step = Step("reserve stock")
    consume(step, "InventoryQueue", "inventory-events", placed_size)
    for i, (before, after) in enumerate(zip(items.stock_before, items.stock_after), 1):
        step.ops.append(Write("TransactWriteItems", "StockTable", f"update stock of book {i}", item_size(before),
                              item_size(after), "inventory-events", "reservation", transactional=True))
    step.ops.append(Write("TransactWriteItems", "StockTable", "put reservation", None, item_size(items.reservation),
                          "inventory-events", "reservation", transactional=True))
    reserved = _stock_reserved_body(items)
    reserved_size = _sqs_message_size(reserved, "StockReserved", _s(items.order, "correlationId", "S"))
    step.sqs.append(SqsRequest("SendMessage", "OrderStockQueue", "inventory-events",
                               _chunks(reserved_size, SQS_CHUNK), reserved_size))
    steps.append(step)

    # 6. order-stock-events: reads the order, captures (a Stripe call), and writes the
    #    CONFIRMED order (Put guarded by version; it leaves the `unsettled` index) with its
    #    OrderConfirmed outbox event.
    step = Step("confirm the order")
    consume(step, "OrderStockQueue", "order-stock-events", reserved_size)
    step.ops += [
        Read("GetItem", "OrdersTable", "order (PENDING)", [order_v1], "strong", "order-stock-events",
             "status updates"),
        Write("TransactWriteItems", "OrdersTable", "put order (CONFIRMED)", order_v1, order_v2,
              "order-stock-events", "status updates", transactional=True),
        Write("TransactWriteItems", "OrdersTable", "put outbox OrderConfirmed", None, item_size(confirmed_event),
              "order-stock-events", "outbox", transactional=True, gsis=0),
    ]
    steps.append(step)

    # 7. OrderConfirmed -> NotificationQueue.
    confirmed_size = _sqs_message_size(confirmed_event["event"]["S"], "OrderConfirmed",
                                       json.loads(confirmed_event["event"]["S"])["correlationId"])
    steps.append(relay(confirmed_event, "NotificationQueue", "relay OrderConfirmed"))

    # 8. notification-events: per channel, claim (conditional PutItem of a new item), send,
    #    mark sent (UpdateItem).
    step = Step("notify the shopper", emails=a["emails"], sms=a["sms"])
    consume(step, "NotificationQueue", "notification-events", confirmed_size)
    for claim, sent in zip(items.sent_claims, items.sent):
        channel = _s(sent, "pk", "S").rsplit("#", 1)[-1]
        step.ops += [
            Write("PutItem", "SentTable", f"claim {channel}", None, item_size(claim), "notification-events",
                  "notification log"),
            Write("UpdateItem", "SentTable", f"mark {channel} sent", item_size(claim), item_size(sent),
                  "notification-events", "notification log"),
        ]
    steps.append(step)

    # 9. The shopper polls the order.
    for _ in range(a["order_polls"]):
        step = Step("poll the order", api_requests=1)
        step.invocations.append(Invocation("order-api", "GET /v1/orders/{id}"))
        step.ops.append(Read("GetItem", "OrdersTable", "order (CONFIRMED)", [order_v2], "strong", "order-api",
                             "order read"))
        steps.append(step)

    sizes = {
        "cart": cart, **{f"book {i}": s for i, s in enumerate(book_sizes, 1)},
        "idempotency record": item_size(items.idempotency), "order (PENDING)": order_v1,
        "order (CONFIRMED)": order_v2, "outbox OrderPlaced": item_size(placed_event),
        "outbox OrderConfirmed": item_size(confirmed_event),
        **{f"stock {i} (before/after)": f"{item_size(b)}/{item_size(x)}"
           for i, (b, x) in enumerate(zip(items.stock_before, items.stock_after), 1)},
        "reservation": item_size(items.reservation),
        **{f"sent log {_s(s, 'pk', 'S').rsplit('#', 1)[-1]} (claim/sent)": f"{item_size(c)}/{item_size(s)}"
           for c, s in zip(items.sent_claims, items.sent)},
        "OrderPlaced message": placed_size, "StockReserved message": reserved_size,
        "OrderConfirmed message": confirmed_size,
    }
    a["sources"] = dict(items.sources)
    return Checkout(steps, a, {name: {"bytes": size, "source": items.sources.get(_source_key(name), "read")}
                               for name, size in sizes.items()})


def _checkout_slot(order: dict) -> dict:
    """The order store's per-minute checkout counter as order-api leaves it after one checkout."""
    # Its window is the minute, as long as any (yyyy-mm-ddThh:mm); expiresAt, epoch seconds, has ten digits.
    return {"pk": order["pk"], "sk": {"S": "CHECKOUTS#yyyy-mm-ddThh:mm"}, "checkouts": {"N": "1"},
            "expiresAt": {"N": "1800000000"}}


def _source_key(name: str) -> str:
    for key in ("cart", "order (PENDING)", "stock", "sent log", "StockReserved message"):
        if name.startswith(key):
            return key
    return name


def _stock_reserved_body(items: Items) -> str:
    """The StockReserved envelope inventory-events sends (shared::events::Envelope, camelCase)."""
    return json.dumps({
        "eventId": "00000000-0000-0000-0000-000000000000",
        "type": "StockReserved",
        "version": 1,
        "occurredAt": _s(items.reservation, "at", "S"),
        "correlationId": _s(items.order, "correlationId", "S"),
        "data": {"orderId": _s(items.reservation, "orderId", "S"),
                 "customerId": _s(items.reservation, "customerId", "S")},
    }, separators=(",", ":"))


# --------------------------------------------------------------------------
# Reading the real items of one order from the local stack
# --------------------------------------------------------------------------

def collect_items(endpoint: str, stack: dict, order_id: str, customer: str, cart_item: dict | None = None) -> Items:
    """The items of one completed (CONFIRMED) order, read from moto at `endpoint`.

    `stack` is `.local/<name>/stack.json` (tables: logical id -> physical name);
    `customer` is the shopper's `sub`. Items that the order itself changed are
    reconstructed from what it left, and `Items.sources` says so:
      - the cart, emptied by checkout: pass `cart_item` (read before POST /v1/orders);
        otherwise rebuilt from the order's lines with the store's layout
        ({lines: {bookId: {quantity, addedAt}}, updatedAt, expiresAt});
      - the PENDING order: the CONFIRMED one with status, paymentStatus, updatedAt, version
        set back;
      - stock before the reservation: `available` plus the quantity reserved;
      - the sent-log claim: the SENT record without sentAt and messageId, state SENDING.
    """
    import boto3  # bench-only dependency; the size rules above need none

    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    tables = stack["tables"]
    pk = {"S": f"CUSTOMER#{customer}"}

    def get(table: str, key: dict) -> dict:
        item = ddb.get_item(TableName=tables[table], Key=key, ConsistentRead=True).get("Item")
        if item is None:
            raise LookupError(f"{table}: no item {key}")
        return item

    def query(prefix: str) -> list[dict]:
        out, start = [], None
        while True:
            kwargs = {"ExclusiveStartKey": start} if start else {}
            page = ddb.query(TableName=tables["OrdersTable"], KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
                             ExpressionAttributeValues={":pk": pk, ":p": {"S": prefix}}, ConsistentRead=True, **kwargs)
            out += page["Items"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return out

    sources: dict[str, str] = {}
    order = get("OrdersTable", {"pk": pk, "sk": {"S": f"ORDER#{order_id}"}})
    status = _s(order, "order", "M", "status", "S")
    if status != "CONFIRMED":
        raise ValueError(f"order {order_id} is {status}: the model prices a confirmed order")
    body = order["order"]["M"]
    lines = body["lines"]["L"]
    book_ids = [_s(line, "M", "bookId", "S") for line in lines]
    quantities = [int(_s(line, "M", "quantity", "N")) for line in lines]
    created = _s(body, "createdAt", "S")

    placed = copy.deepcopy(order)
    placed["order"]["M"].update(status={"S": "PENDING"}, paymentStatus={"S": "AUTHORIZED"},
                                updatedAt={"S": created})
    placed["version"] = {"N": "1"}
    sources["order (PENDING)"] = "the CONFIRMED one with status, paymentStatus, updatedAt and version set back"

    idempotency = [i for i in query("IDEMPOTENCY#") if _s(i, "orderId", "S") == order_id]
    if not idempotency:
        raise LookupError(f"no idempotency record names order {order_id}")
    events = sorted(query(f"EVENT#{order_id}#"), key=lambda i: i["sk"]["S"])
    kinds = [json.loads(e["event"]["S"])["type"] for e in events]
    if kinds[:2] != ["OrderPlaced", "OrderConfirmed"]:
        raise ValueError(f"order {order_id} has outbox events {kinds}, expected OrderPlaced, OrderConfirmed")

    books = [get("BooksTable", {"pk": {"S": f"BOOK#{b}"}, "sk": {"S": "BOOK"}}) for b in book_ids]
    stock_after = [get("StockTable", {"pk": {"S": f"STOCK#{b}"}}) for b in book_ids]
    stock_before = copy.deepcopy(stock_after)
    for item, quantity in zip(stock_before, quantities):
        item["available"] = {"N": str(int(item["available"]["N"]) + quantity)}
    sources["stock"] = "before the reservation: available plus the quantity reserved"
    reservation = get("StockTable", {"pk": {"S": f"RESERVATION#{order_id}"}})

    # Texts go to an account's verified number only; the bench's shopper has none.
    channels = ["email"]
    sent = [get("SentTable", {"pk": {"S": f"SENT#{order_id}#CONFIRMED#{c}"}}) for c in channels]
    claims = []
    for record in sent:
        claim = {k: v for k, v in copy.deepcopy(record).items() if k not in ("sentAt", "messageId")}
        claim["state"] = {"S": "SENDING"}
        claims.append(claim)
    sources["sent log"] = "the claim: the SENT record as SENDING, without sentAt and messageId"

    if cart_item is None:
        expires = int(Decimal(_s(events[0], "expiresAt", "N"))) - 7 * 86400 + 30 * 86400
        cart_item = {
            "pk": {"S": f"CART#{customer}"},
            "lines": {"M": {b: {"M": {"quantity": {"N": str(q)}, "addedAt": {"S": created}}}
                            for b, q in zip(book_ids, quantities)}},
            "updatedAt": {"S": created},
            "expiresAt": {"N": str(expires)},
        }
        sources["cart"] = "rebuilt from the order's lines in the cart's layout (checkout deletes the cart)"
    else:
        sources["cart"] = "read before checkout (which deletes it)"
    sources["StockReserved message"] = "rebuilt as inventory-events sends it (SQS keeps no copy)"
    return Items(cart=cart_item, books=books, idempotency=idempotency[0], order_placed=placed, order=order,
                 events=events, stock_before=stock_before, stock_after=stock_after, reservation=reservation,
                 sent_claims=claims, sent=sent, sources=sources)


# --------------------------------------------------------------------------
# Pricing
# --------------------------------------------------------------------------

#: Made-up warm durations (ms) for a hand run with none measured.
DEFAULT_DURATIONS_MS = {
    "cart": 15.0, "catalog-read": 8.0, "order-api": 40.0, "order-publisher": 10.0,
    "inventory-events": 15.0, "order-stock-events": 15.0, "notification-events": 25.0,
}


def memory_sizes(template_path: Path = ROOT / "template.yaml") -> dict[str, int]:
    """Binary name -> MemorySize (MB) of each function: its own, else Globals.Function's."""
    sys.path.insert(0, str(ROOT / "infra"))
    import provision

    template = provision.store_template(template_path)  # each function with its stack's Globals
    default = 128  # Lambda's own
    binaries = provision.function_binaries(template)
    return {binary: int(template["Resources"][logical].get("Properties", {}).get("MemorySize", default))
            for logical, binary in binaries.items()}


def price(steps, durations_ms: dict[str, float], memory_mb: dict[str, int]) -> dict:
    """Units and dollars per order and per 1 million orders, step by step.

    `steps` is model_checkout's Checkout (or a plain list of Step). `durations_ms` maps a
    function's binary name (or "function route", as Invocation.key) to its duration per
    invocation; a missing one falls back to DEFAULT_DURATIONS_MS and is listed in
    `durations_assumed`. `memory_mb` maps binary names to MemorySize.
    """
    checkout = steps if isinstance(steps, Checkout) else Checkout(list(steps), dict(ASSUMPTIONS), {})
    assumed: set[str] = set()

    def duration(inv: Invocation) -> float:
        for key in (inv.key, inv.function):
            if key in durations_ms:
                return float(durations_ms[key])
        assumed.add(inv.function)
        return DEFAULT_DURATIONS_MS[inv.function]

    rows, dynamo_rows = [], []
    for step in checkout.steps:
        invocations = []
        for inv in step.invocations:
            ms = duration(inv)
            billed = math.ceil(ms)  # Lambda bills duration rounded up to the next 1 ms
            gb_ms = memory_mb[inv.function] / 1024 * billed * inv.count
            invocations.append({"function": inv.function, "route": inv.route, "count": inv.count,
                                "duration_ms": ms, "billed_ms": billed, "memory_mb": memory_mb[inv.function],
                                "gb_ms": gb_ms})
        for op in step.ops:
            row = {"step": step.name, "category": op.category, "by": op.by, "api": op.api, "table": op.table,
                   "what": op.what, "rru": op.rru, "wru": op.wru}
            if isinstance(op, Read):
                row.update(bytes=op.sizes, mode=op.consistency)
            else:
                row.update(bytes=[op.before, op.after], mode="transactional" if op.transactional else "standard",
                           condition_failed=op.condition_failed)
            dynamo_rows.append(row)
        rows.append({
            "step": step.name,
            "rru": sum(op.rru for op in step.ops), "wru": sum(op.wru for op in step.ops),
            "invocations": invocations,
            "lambda_requests": sum(i["count"] for i in invocations),
            "gb_ms": sum(i["gb_ms"] for i in invocations),
            "sqs": [asdict(r) for r in step.sqs], "sqs_requests": sum(r.count for r in step.sqs),
            "api_requests": step.api_requests, "emails": step.emails, "sms": step.sms,
        })

    total = {k: sum(r[k] for r in rows) for k in ("rru", "wru", "lambda_requests", "gb_ms", "sqs_requests",
                                                  "api_requests", "emails", "sms")}
    per_order = {
        "Lambda requests": total["lambda_requests"] * PRICES["lambda_request"],
        "Lambda duration (arm64)": total["gb_ms"] / 1000 * PRICES["lambda_gb_second_arm"],
        "DynamoDB reads": total["rru"] * PRICES["dynamodb_rru"],
        "DynamoDB writes": total["wru"] * PRICES["dynamodb_wru"],
        "SQS": total["sqs_requests"] * PRICES["sqs_request"],
        "API Gateway (HTTP API)": total["api_requests"] * PRICES["http_api_request"],
        "SES email": total["emails"] * PRICES["ses_email"],
    }
    usage = {
        "Lambda requests": f"{_num(total['lambda_requests'])} invocations",
        "Lambda duration (arm64)": f"{_num(total['gb_ms'])} GB-ms",
        "DynamoDB reads": f"{_num(total['rru'])} RRU",
        "DynamoDB writes": f"{_num(total['wru'])} WRU",
        "SQS": f"{_num(total['sqs_requests'])} requests",
        "API Gateway (HTTP API)": f"{total['api_requests']} requests",
        "SES email": f"{total['emails']} email{'s' * (total['emails'] != 1)}",
    }
    per_million = {k: v * 1e6 for k, v in per_order.items()}
    return {
        "steps": rows,
        "dynamodb": dynamo_rows,
        "totals": total,
        "usage": usage,
        "dollars_per_million_orders": per_million,
        "dollars_per_million_orders_total": sum(per_million.values()),
        "durations_assumed": sorted(assumed),
        "memory_mb": {f: memory_mb[f] for f in sorted({i["function"] for r in rows for i in r["invocations"]})},
        "prices": dict(PRICES),
        "prices_as_of": PRICES_AS_OF,
        "assumptions": checkout.assumptions,
        "items": checkout.items,
        "not_counted": list(NOT_COUNTED),
        "condition_check_billed_as": CONDITION_CHECK_BILLED_AS,
    }


def _num(x: float) -> str:
    """Without trailing zeros; formatted in one go, so that the number is printed as given
    (tests/infra/test_bench_report.py traces every number the report prints)."""
    if abs(x - round(x)) < 1e-9:
        return f"{round(x):.0f}"
    return f"{round(x, 2):g}" if abs(x) >= 0.1 else f"{x:.3g}"


def _money(x: float) -> str:
    return f"${x:,.2f}" if x >= 0.995 else f"${x:.3f}"


# --------------------------------------------------------------------------
# BENCHMARKS.md section
# --------------------------------------------------------------------------

def _durations_note(result: dict) -> str:
    assumed = result["durations_assumed"]
    if not assumed:
        return "measured (warm)."
    if set(assumed) >= set(result["memory_mb"]):
        return "made up (none measured; see DEFAULT_DURATIONS_MS)."
    return f"measured (warm), except {', '.join(assumed)} (made up)."


def markdown(result: dict) -> str:
    a = result["assumptions"]
    out = []
    total = result["dollars_per_million_orders_total"]
    out.append(f"**{_money(total)} per 1 million orders** at us-east-1 on-demand list prices: a "
               f"{a['cart_lines']}-line cart built one book at a time, viewed {a['cart_views']}×, checked out, "
               f"polled {a['order_polls']}× until {a['outcome']}, one confirmation email. Item sizes are the real "
               f"items of one order placed through the local stack; durations are "
               + _durations_note(result))
    out.append("")

    out.append("#### DynamoDB request units, step by step")
    out.append("")
    out.append("| step | by | request | table: item | bytes | read/write | RRU | WRU |")
    out.append("|---|---|---|---|---:|---|---:|---:|")
    for r in result["dynamodb"]:
        sizes = r["bytes"]
        if r["mode"] in ("strong", "eventual") or (r["mode"] == "transactional" and r["api"] in
                                                    ("TransactGetItems", "ConditionCheck")):
            shown = " + ".join(str(s) if s else "none" for s in sizes)
        else:
            before, after = sizes
            shown = ("none" if before is None else str(before)) + " → " + ("none" if after is None else str(after))
            if r.get("condition_failed"):
                shown += " (condition fails)"
        mode = {"strong": "strongly consistent", "eventual": "eventually consistent"}.get(r["mode"], r["mode"])
        out.append(f"| {r['step']} | {r['by']} | {r['api']} | {r['table']}: {r['what']} | {shown} | {mode} | "
                   f"{_num(r['rru']) if r['rru'] else ''} | {_num(r['wru']) if r['wru'] else ''} |")
    t = result["totals"]
    out.append(f"| **total** | | | | | | **{_num(t['rru'])}** | **{_num(t['wru'])}** |")
    out.append("")
    by_category: dict[str, list[float]] = {}
    for r in result["dynamodb"]:
        c = by_category.setdefault(r["category"], [0.0, 0.0])
        c[0] += r["rru"]
        c[1] += r["wru"]
    out.append("By purpose: " + "; ".join(
        f"{name} {_num(rru)} RRU / {_num(wru)} WRU" for name, (rru, wru) in by_category.items()) + ".")
    out.append("")

    out.append("#### Invocations and messages, step by step")
    out.append("")
    out.append("| step | Lambda invocations (billed ms × MB) | GB-ms | SQS requests | API requests |")
    out.append("|---|---|---:|---:|---:|")
    for r in result["steps"]:
        invs = ", ".join(
            (f"{_num(i['count'])}× " if i["count"] != 1 else "") + f"{i['function']} ({i['billed_ms']} ms × "
            f"{i['memory_mb']} MB)" for i in r["invocations"])
        sqs = ", ".join(f"{_num(q['count'])} {q['api']} {q['queue']}" for q in r["sqs"])
        out.append(f"| {r['step']} | {invs} | {_num(r['gb_ms'])} | {sqs or ''} | {r['api_requests'] or ''} |")
    out.append(f"| **total** | **{_num(t['lambda_requests'])} invocations** | **{_num(t['gb_ms'])}** | "
               f"**{_num(t['sqs_requests'])}** | **{t['api_requests']}** |")
    out.append("")

    out.append("#### Dollars per 1 million orders, by service")
    out.append("")
    out.append("| service | per order | $ per 1M orders |")
    out.append("|---|---|---:|")
    for name, dollars in result["dollars_per_million_orders"].items():
        out.append(f"| {name} | {result['usage'][name]} | {_money(dollars)} |")
    out.append(f"| **total** | | **{_money(total)}** |")
    out.append("")

    p = result["prices"]
    out.append(
        f"Prices used ({result['prices_as_of']}): Lambda arm64 ${p['lambda_request'] * 1e6:.2f} per 1M requests "
        f"and ${p['lambda_gb_second_arm']:.10f} per GB-s (duration rounded up to 1 ms); DynamoDB on-demand "
        f"${p['dynamodb_wru'] * 1e6:.3f} per 1M WRU and ${p['dynamodb_rru'] * 1e6:.3f} per 1M RRU; SQS standard "
        f"${p['sqs_request'] * 1e6:.2f} per 1M requests (per 64 KB chunk); API Gateway HTTP API "
        f"${p['http_api_request'] * 1e6:.2f} per 1M requests (per 512 KB); SES ${p['ses_email'] * 1000:.2f} per "
        f"1,000 emails. Not counted: {'; '.join(result['not_counted'])}.")
    out.append("")
    out.append("Assumptions and rules:")
    out.append("")
    fill, sfill = a["sqs_messages_per_batch"], a["stream_records_per_batch"]
    bullets = [
        f"{a['cart_lines']} books, one `PUT /v1/cart/items/{{bookId}}` each; {a['cart_views']} `GET /v1/cart`; "
        f"`POST /v1/orders`; {a['order_polls']} `GET /v1/orders/{{id}}`. Card approved, stock available, "
        f"{a['emails']} email, {a['sms']} SMS (no verified phone number).",
        "Who calls whom: cart prices through catalog-read (a direct Lambda invoke, billed as a request and "
        "its duration); order-api reads and empties the cart through the cart function and prices through "
        "catalog-read. A synchronous caller's billed duration includes the wait.",
        f"Queues: {fill} message per SQS batch and {sfill} record per stream batch (light traffic; the "
        "template's BatchSize is 10). Per message: its SendMessage, plus its batch's share of Lambda's "
        "ReceiveMessage and delete; one invocation per batch. Fuller batches divide the receive, "
        "delete and invocation counts.",
        "DynamoDB: reads in 4 KB units (strongly consistent 1, eventually consistent 0.5, transactional 2; a "
        "miss costs the minimum; BatchGetItem rounds each item, Query the sum); writes in 1 KB units, "
        "transactional ×2, charged on the larger of the item before and after; a failed condition still "
        "costs (the existing item, or 1 unit); each GSI the item is in is written too (none at checkout); "
        f"a ConditionCheck is billed as a transactional {result['condition_check_billed_as']} (none at "
        "checkout). Item sizes: UTF-8 names and strings, numbers ≈ 1 byte per 2 significant digits + 1, "
        "lists and maps 3 bytes + 1 byte per element.",
        "Item sizes (bytes): " + "; ".join(f"{name} {v['bytes']}" for name, v in result["items"].items()) + ".",
        "Where sizes come from: the order's items as the local stack holds them after it, except " + "; ".join(
            f"{k}: {v}" for k, v in a.get("sources", {}).items()) + ".",
        "Memory sizes from template.yaml: " + ", ".join(f"{k} {v} MB" for k, v in sorted(result["memory_mb"].items()))
        + ".",
    ]
    out += [f"- {b}" for b in bullets]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# For bench.py, and by hand
# --------------------------------------------------------------------------

def token_subject(token: str) -> str:
    """The `sub` claim of a JWT (not verified: it is our own shopper's token)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def run(described: dict, checkout: dict, durations_ms: dict[str, float], memory_mb: dict[str, int] | None = None,
        cart_item: dict | None = None) -> dict:
    """bench.py's entry: price the order `checkout` placed ({"order": <API order>, "token": <IdToken>}).

    `described` is stack.json; `durations_ms` maps binary names to warm durations.
    """
    order_id = checkout["order"]["id"]
    customer = token_subject(checkout["token"])
    items = collect_items(described["awsEndpoint"], described, order_id, customer, cart_item)
    result = price(model_checkout(items), durations_ms, memory_mb or memory_sizes())
    result["order_id"] = order_id
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", type=Path, default=ROOT / ".local" / "dev" / "stack.json")
    parser.add_argument("--order-id", required=True)
    parser.add_argument("--customer", help="the shopper's sub (default: the seeded shopper's, by signing in)")
    parser.add_argument("--cart-json", type=Path, help="the cart item (typed JSON) as read before checkout")
    parser.add_argument("--durations", type=Path, help="JSON {binary or 'binary route': ms}; default made up")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of markdown")
    args = parser.parse_args()
    described = json.loads(args.stack.read_text())
    customer = args.customer
    if customer is None:
        sys.path.insert(0, str(ROOT / "infra"))
        import provision

        shopper = described["users"]["shopper"]
        token = provision.sign_in(described["awsEndpoint"], described["userPoolClientId"], shopper["email"],
                                  shopper["password"])["IdToken"]
        customer = token_subject(token)
    cart_item = json.loads(args.cart_json.read_text()) if args.cart_json else None
    durations = json.loads(args.durations.read_text()) if args.durations else {}
    items = collect_items(described["awsEndpoint"], described, args.order_id, customer, cart_item)
    result = price(model_checkout(items), durations, memory_sizes())
    result["order_id"] = args.order_id
    print(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --------------------------------------------------------------------------
# Counted, not modelled: one real checkout with every AWS call tallied
# --------------------------------------------------------------------------
# With BOOKISH_COUNT_AWS_CALLS=1 in their environment the functions log one line per AWS
# call ("message":"aws call": service, operation, request/response bytes, the read and
# write units DynamoDB reports; shared::aws::counting), and moto reports DynamoDB's
# units as DynamoDB bills them (infra/bench/capacity.py). A Counter marks the bench's
# requests in watch.log and spans.jsonl; counted() adds up every step from them.

COUNT_ENV = "BOOKISH_COUNT_AWS_CALLS"

#: us-east-1 list prices, first paid tier, USD; `as_of` is the day they were read.
PRICE_TABLE = {
    "as_of": "2026-11-30",
    "region": "us-east-1",
    "source": "https://aws.amazon.com/pricing/",
    "sources": {
        "lambda": "https://aws.amazon.com/lambda/pricing/",
        "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        "sqs": "https://aws.amazon.com/sqs/pricing/",
        "api_gateway": "https://aws.amazon.com/api-gateway/pricing/",
        "ses": "https://aws.amazon.com/ses/pricing/",
        "sns": "https://aws.amazon.com/sns/pricing/",
        "logs": "https://aws.amazon.com/cloudwatch/pricing/",
    },
    "lambda_request": PRICES["lambda_request"],
    "lambda_gb_second_arm": PRICES["lambda_gb_second_arm"],
    "dynamodb_rru": PRICES["dynamodb_rru"],
    "dynamodb_wru": PRICES["dynamodb_wru"],
    "sqs_request": PRICES["sqs_request"],
    "http_api_request": PRICES["http_api_request"],
    "ses_email": PRICES["ses_email"],
    # SNS: $0.50 per 1M publishes; an SMS is priced per destination country on top (the
    # bench's shopper has no verified number, so none is sent).
    "sns_publish": 0.50 / 1e6,
    # CloudWatch Logs: Lambda's logs are "vended logs" since 2025-05-01, first tier $0.50
    # per GB ingested (the standard class's flat rate before).
    "logs_gb": 0.50,
}

#: Calls the functions make that AWS bills per request, and how (service -> price key).
PER_REQUEST = {"SQS": "sqs_request", "SNS": "sns_publish"}
#: What each asynchronous function's invocations are called as a step.
ASYNC_STEPS = {
    "order-publisher": "relay the outbox",
    "inventory-events": "reserve stock",
    "order-stock-events": "confirm the order",
    "notification-events": "notify the shopper",
    "order-settler": "settle orders (scheduled)",
}
#: Lambda's event source mapping polls the queue for the consumer: per batch one
#: ReceiveMessage and one DeleteMessageBatch, requests AWS bills to the account. Locally
#: infra/driver.py plays the mapping, so they are counted per consumer invocation.
QUEUE_CONSUMERS = ("inventory-events", "order-stock-events", "notification-events")
GB = 1024 ** 3


class Counter:
    """Marks one checkout's requests in the stack's watch.log and spans.jsonl."""

    def __init__(self, stack_dir: Path) -> None:
        self.watch_log = stack_dir / "watch.log"
        self.spans = stack_dir / "spans.jsonl"
        self.steps: list[dict] = []  # {"step", "from", "to" (log offsets), "start_ns", "end_ns"}
        self.api_requests = 0
        self.start = self._offset()
        self.start_ns = time.time_ns()
        self.end = self.start
        self.end_ns = self.start_ns

    def _offset(self) -> int:
        return self.watch_log.stat().st_size if self.watch_log.exists() else 0

    def settle(self, quiet_s: float = 1.5, limit_s: float = 60) -> None:
        """Until watch.log has not grown for `quiet_s` (a synchronous request's last lines,
        the metrics flushed after it, are written just after its answer)."""
        deadline = time.monotonic() + limit_s
        size, since = self._offset(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self._offset()
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return

    def emails_sent(self) -> int:
        return sum(1 for line in self._lines(0, self._offset())
                   if line.get("message") == "aws call" and line.get("operation") == "SendEmail")

    def wait_for_emails(self, count: int, limit_s: float = 120) -> None:
        """Until `count` emails have gone out since the stack started (the checkout's last step)."""
        deadline = time.monotonic() + limit_s
        while self.emails_sent() < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"no confirmation email after {limit_s} s: see {self.watch_log}")
            time.sleep(0.5)
        self.settle()

    def begin(self) -> None:
        """Starts counting: everything the functions log from here belongs to the checkout."""
        self.settle()
        self.start, self.start_ns = self._offset(), time.time_ns()

    @contextmanager
    def step(self, name: str):
        """One request of the bench's: the synchronous functions' lines until it settles are its."""
        start, start_ns = self._offset(), time.time_ns()
        yield
        self.settle()
        self.api_requests += 1
        self.steps.append({"step": name, "from": start, "to": self._offset(), "start_ns": start_ns,
                           "end_ns": time.time_ns()})

    def finish(self) -> None:
        self.settle()
        self.end, self.end_ns = self._offset(), time.time_ns()

    def _lines(self, start: int, end: int) -> list[dict]:
        """The JSON lines between two offsets, each with its offset (`_at`) and size (`_bytes`)."""
        with self.watch_log.open("rb") as f:
            f.seek(start)
            text = f.read(end - start)
        out, at = [], start
        for raw in text.splitlines(keepends=True):
            if raw.startswith(b"{"):
                try:
                    out.append({**json.loads(raw), "_at": at, "_bytes": len(raw.rstrip(b"\n"))})
                except ValueError:
                    pass
            at += len(raw)
        return out

    def recorded(self) -> dict:
        """What the checkout wrote: its log lines and its invocation spans, and the requests' windows."""
        spans = []
        if self.spans.exists():
            for raw in self.spans.read_text(errors="replace").splitlines():
                span = json.loads(raw)
                if self.start_ns <= span["startNs"] <= self.end_ns:
                    spans.append(span)
        return {"steps": self.steps, "api_requests": self.api_requests, "lines": self._lines(self.start, self.end),
                "spans": spans}


def _attributor(spans: list[dict]):
    """line -> the binary that wrote it. The functions' lines name no function (but the
    metrics' and the counting's); their span does: a route, a queue, an invocation id,
    each of which the exported spans tie to one function."""
    owner: dict[str, str] = {}
    for span in spans:
        attributes = span.get("attributes", {})
        for key in ("http.route", "messaging.destination.name", "faas.invocation_id", "request_id"):
            if key in attributes:
                owner[str(attributes[key])] = span["service"]
    def function_of(line: dict) -> str | None:
        if isinstance(line.get("function"), str):
            return line["function"]
        span = line.get("span") or {}
        for key in ("http.route", "messaging.destination.name", "request_id", "requestId", "message_id"):
            if str(span.get(key)) in owner:
                return owner[str(span[key])]
        return None
    return function_of


def _call_rows(calls: dict) -> list[dict]:
    return [{"service": service, "operation": operation, **{k: (round(v, 6) if isinstance(v, float) else v)
                                                            for k, v in c.items()}}
            for (service, operation), c in calls.items()]


def counted(recorded: dict, memory_mb: dict[str, int], prices: dict | None = None) -> dict:
    """The checkout step by step from what it did (Counter.recorded()), priced.

    Synchronous functions (behind the API, or invoked by another) belong to the request
    whose window they ran in; each asynchronous one is a step of its own."""
    prices = dict(PRICE_TABLE if prices is None else prices)
    function_of = _attributor(recorded["spans"])
    windows = recorded["steps"]
    steps: dict[str, dict] = {w["step"]: {"step": w["step"], "functions": set(), "calls": {}, "log_bytes": 0,
                                          "invocations": 0, "duration_ms": 0.0, "gb_ms": 0.0}
                              for w in windows}
    unattributed = 0

    def step_of(function: str, at: int | None = None, ns: int | None = None) -> dict | None:
        if function in ASYNC_STEPS:
            name = ASYNC_STEPS[function]
        else:
            name = next((w["step"] for w in windows
                         if (at is not None and w["from"] <= at < w["to"])
                         or (ns is not None and w["start_ns"] <= ns <= w["end_ns"])), None)
            if name is None:
                return None
        return steps.setdefault(name, {"step": name, "functions": set(), "calls": {}, "log_bytes": 0,
                                       "invocations": 0, "duration_ms": 0.0, "gb_ms": 0.0})

    for line in recorded["lines"]:
        function = function_of(line)
        step = step_of(function, at=line["_at"]) if function else None
        if step is None:
            unattributed += line["_bytes"]
            continue
        step["functions"].add(function)
        if line.get("message") != "aws call":
            step["log_bytes"] += line["_bytes"]  # the counting lines are the bench's own: not billed
            continue
        call = step["calls"].setdefault((line["service"], line["operation"]), {
            "count": 0, "request_bytes": 0, "response_bytes": 0, "read_units": 0.0, "write_units": 0.0})
        call["count"] += 1
        call["request_bytes"] += line.get("request_bytes", 0)
        call["response_bytes"] += line.get("response_bytes", 0)
        call["read_units"] += line.get("read_units", 0.0)
        call["write_units"] += line.get("write_units", 0.0)

    durations: dict[str, list[float]] = {}
    for span in recorded["spans"]:
        attributes = span.get("attributes", {})
        if attributes.get("faas.name") != span["name"]:
            continue  # not an invocation's own span
        step = step_of(span["name"], ns=span["startNs"])
        if step is None:
            continue
        ms = (span["endNs"] - span["startNs"]) / 1e6
        step["functions"].add(span["name"])
        step["invocations"] += 1
        step["duration_ms"] += ms
        durations.setdefault(span["name"], []).append(ms)
        step["gb_ms"] += math.ceil(ms) * memory_mb.get(span["name"], 128) / 1024  # billed per 1 ms, rounded up

    for step in steps.values():
        # Lambda's pollers receive and delete each batch: requests billed to the account.
        polled = sum(1 for s in recorded["spans"] if s["name"] in QUEUE_CONSUMERS and s["name"] in step["functions"]
                     and s.get("attributes", {}).get("faas.name") == s["name"])
        for operation in ("ReceiveMessage", "DeleteMessageBatch") if polled else ():
            step["calls"][("SQS", f"{operation} (event source mapping)")] = {
                "count": polled, "request_bytes": 0, "response_bytes": 0, "read_units": 0.0, "write_units": 0.0}

    rows = []
    for step in steps.values():
        rows.append({"step": step["step"], "functions": sorted(step["functions"]), "calls": _call_rows(step["calls"]),
                     "log_bytes": step["log_bytes"], "invocations": step["invocations"],
                     "duration_ms": round(step["duration_ms"], 3), "gb_ms": round(step["gb_ms"], 3)})
    api_requests = recorded["api_requests"]
    totals = _totals(rows, api_requests)
    dollars = {
        "lambda": totals["lambda_requests"] * prices["lambda_request"]
        + totals["gb_ms"] / 1000 * prices["lambda_gb_second_arm"],
        "dynamodb": totals["read_units"] * prices["dynamodb_rru"] + totals["write_units"] * prices["dynamodb_wru"],
        "sqs": totals["sqs_requests"] * prices["sqs_request"],
        "api_gateway": api_requests * prices["http_api_request"],
        "ses": totals["emails"] * prices["ses_email"],
        "sns": totals["sns_publishes"] * prices["sns_publish"],
        "logs": totals["log_bytes"] / GB * prices["logs_gb"],
    }
    total = sum(dollars.values())
    return {
        "steps": rows,
        "totals": {**totals, "unattributed_log_bytes": unattributed},
        "prices": prices,
        "per_million_orders": {"total_usd": total * 1e6,
                               "by_service_usd": {k: v * 1e6 for k, v in dollars.items()},
                               "shares": {k: (v / total if total else 0.0) for k, v in dollars.items()}},
        "memory_mb": {f: memory_mb.get(f, 128) for f in sorted({f for r in rows for f in r["functions"]})},
        "mean_duration_ms": {f: sum(ms) / len(ms) for f, ms in sorted(durations.items())},
        "not_counted": [
            "Lambda's own START/END/REPORT log lines (the local runtime writes none)",
            "Lambda Invoke between functions: billed as the callee's request and duration, counted there",
            "Cognito and SSM reads (no per-request price: Cognito bills monthly active users; standard "
            "parameters are free)",
            "Stripe's fees, free tiers, storage, data transfer, the idle pollers' empty receives",
        ],
    }


def _totals(rows: list[dict], api_requests: int) -> dict:
    calls = [c for r in rows for c in r["calls"]]

    def count(service: str, operation: str | None = None) -> int:
        return sum(c["count"] for c in calls if c["service"] == service
                   and (operation is None or c["operation"] == operation))

    return {
        "read_units": round(sum(c["read_units"] for c in calls if c["service"] == "DynamoDB"), 6),
        "write_units": round(sum(c["write_units"] for c in calls if c["service"] == "DynamoDB"), 6),
        "dynamodb_requests": count("DynamoDB"),
        "sqs_requests": count("SQS"),
        "sqs_sends": count("SQS", "SendMessage"),
        "emails": count("SESv2", "SendEmail"),
        "sns_publishes": count("SNS", "Publish"),
        "lambda_requests": sum(r["invocations"] for r in rows),
        "gb_ms": round(sum(r["gb_ms"] for r in rows), 3),
        "log_bytes": sum(r["log_bytes"] for r in rows),
        "api_requests": api_requests,
    }


def cross_check(counted_result: dict, model_result: dict) -> dict:
    """The model (price(model_checkout(items), ...)) beside the count: the quantities both know."""
    t, m = counted_result["totals"], model_result["totals"]
    pairs = {
        "read_units": (t["read_units"], m["rru"]),
        "write_units": (t["write_units"], m["wru"]),
        "sqs_sends": (t["sqs_sends"], sum(q["count"] for s in model_result["steps"] for q in s["sqs"]
                                          if q["api"] == "SendMessage")),
        "sqs_requests": (t["sqs_requests"], m["sqs_requests"]),
        "lambda_requests": (t["lambda_requests"], m["lambda_requests"]),
        "api_requests": (t["api_requests"], m["api_requests"]),
        "emails": (t["emails"], m["emails"]),
    }
    return {k: {"counted": c, "model": mv, "agree": abs(c - mv) < 1e-9} for k, (c, mv) in pairs.items()}


SERVICE_NAMES = {"lambda": "Lambda (requests and arm64 duration)", "dynamodb": "DynamoDB (on-demand units)",
                 "sqs": "SQS (requests)", "api_gateway": "API Gateway (HTTP API requests)", "ses": "SES (email)",
                 "sns": "SNS (publishes)", "logs": "CloudWatch Logs (ingestion)"}


def _cell(x: float) -> str:
    return _num(x) if x else ""


def section(results: dict) -> str:
    """BENCHMARKS.md's counted cost section, from results["cost_counted"]: every number in
    it is one of results' (formatted), none typed here."""
    c = results["cost_counted"]
    p, per_million, t = c["prices"], c["per_million_orders"], c["totals"]
    out = [f"Counted from one real checkout (order `{c['order_id']}`) through the local stack, every AWS call "
           f"the functions made tallied as it happened (`BOOKISH_COUNT_AWS_CALLS`; DynamoDB's units as DynamoDB "
           f"bills them, from the items' sizes: moto reports constants, `infra/bench/capacity.py`): "
           f"**{_money(per_million['total_usd'])} per million orders** at {p['region']} list prices read on "
           f"{p['as_of']} ({p['source']}).", ""]

    out += ["| step | functions | invocations | Lambda ms | read units | write units | SQS requests | "
            "emails | log bytes |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in c["steps"]:
        def total(key: str, service: str | None = None, operation: str | None = None) -> float:
            return sum(x[key] for x in r["calls"] if (service is None or x["service"] == service)
                       and (operation is None or x["operation"] == operation))
        out.append(f"| {r['step']} | {', '.join(r['functions'])} | {r['invocations']} | "
                   f"{_num(round(r['duration_ms'], 1))} | {_cell(total('read_units'))} | "
                   f"{_cell(total('write_units'))} | {_cell(total('count', 'SQS'))} | "
                   f"{_cell(total('count', 'SESv2', 'SendEmail'))} | {r['log_bytes']} |")
    out.append(f"| **total** | | **{t['lambda_requests']}** | | **{_num(t['read_units'])}** | "
               f"**{_num(t['write_units'])}** | **{t['sqs_requests']}** | **{t['emails']}** | **{t['log_bytes']}** |")
    out.append("")

    out += ["| service | $ per million orders | share |", "|---|---:|---:|"]
    for key, dollars in sorted(per_million["by_service_usd"].items(), key=lambda kv: -kv[1]):
        out.append(f"| {SERVICE_NAMES.get(key, key)} | {_money(dollars)} | "
                   f"{per_million['shares'][key] * 100:.1f}% |")
    out.append(f"| **total** | **{_money(per_million['total_usd'])}** | |")
    out.append("")

    out += ["<details><summary>Every AWS call, step by step</summary>", "",
            "| step | service | operation | calls | request bytes | response bytes | read units | write units |",
            "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in c["steps"]:
        for x in r["calls"]:
            out.append(f"| {r['step']} | {x['service']} | {x['operation']} | {x['count']} | {x['request_bytes']} | "
                       f"{x['response_bytes']} | {_cell(x['read_units'])} | {_cell(x['write_units'])} |")
    out += ["", "</details>", ""]

    check = c["model_cross_check"]
    out += ["The model (`cost.py`'s step-by-step reading of the code, sized from the same order's items) is kept "
            "as a cross-check; `tests/infra/test_cost.py` asserts the two agree on a recorded count:", "",
            "| quantity | counted | model | |", "|---|---:|---:|---|"]
    for name, v in check.items():
        out.append(f"| {name.replace('_', ' ')} | {_num(v['counted'])} | {_num(v['model'])} | "
                   f"{'agree' if v['agree'] else '**differ**'} |")
    out.append("")
    out.append("Prices (" + p["region"] + ", first paid tier, read " + p["as_of"] + "): " + "; ".join(
        f"{name} {url}" for name, url in p["sources"].items()) + ". Not counted: " + "; ".join(c["not_counted"])
        + ".")
    return "\n".join(out) + "\n"
