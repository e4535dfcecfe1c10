"""Helpers and fixtures for the checkout tests (orders, inventory, the event
pipeline): stock, carts, checkouts, bounded waits for the asynchronous order
flow, moto's sent mail and SMS, the SQS queues of stack.json, and direct
invocations of the event consumers through the local Lambda invoke API.

Registered as a pytest plugin by conftest.py (``pytest_plugins``), so its
fixtures are available to every test module.

Orders settle asynchronously (orders stream -> order-publisher -> queues ->
consumers, driven by infra/driver.py), so tests WAIT for a state with a
bounded poll (``wait_for``, 90 s by default) and fail with the last state seen.
That is a bound on eventual consistency, never an assertion on speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from support import assert_problem, tag

WAIT_SECONDS = float(os.environ.get("BOOKISH_WAIT_SECONDS", "90"))

ORDERS = "/v1/orders"
FINAL = {"CONFIRMED", "REJECTED", "CANCELLED"}
SETTLED = {"CONFIRMED", "REJECTED"}
# Payment states of an order that still holds the shopper's money (or has not asked yet).
MONEY_HELD = {"PENDING", "AUTHORIZED", "CAPTURED"}


def order_path(order_id: str) -> str:
    return f"{ORDERS}/{order_id}"


def stock_path(book_id: str) -> str:
    return f"/v1/inventory/{book_id}"


# --------------------------------------------------------------------------- waiting

class Timeout(AssertionError):
    pass


def wait_for(probe: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS,
             interval: float = 0.5) -> Any:
    """Calls probe() until it returns something truthy and returns that.
    probe may return (ok, last_state) to have last_state reported on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        got = probe()
        if isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], bool):
            ok, last = got
            if ok:
                return last
        elif got:
            return got
        else:
            last = got
        if time.monotonic() >= deadline:
            raise Timeout(f"waited {timeout:.0f} s for {what}; last state: {json.dumps(last, default=str)[:3000]}")
        time.sleep(interval)


# --------------------------------------------------------------------------- bodies

def address(**overrides) -> dict:
    body = {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London",
            "postalCode": "SW1Y 4JH", "country": "GB"}
    body.update(overrides)
    return body


APPROVED_CARD = "pm_card_visa"
# Stripe declines it; localstripe does not know it (404), which the adapter reads as a decline too.
DECLINED_CARD = "pm_card_chargeDeclined"


def checkout_body(payment_method: str = APPROVED_CARD, **address_overrides) -> dict:
    return {"shippingAddress": address(**address_overrides), "payment": {"paymentMethod": payment_method}}


def unique_phone() -> str:
    """A unique E.164 number in the +1 555 fictional range."""
    return "+1555" + str(uuid.uuid4().int % 10**7).zfill(7)


def decimal(amount: int) -> str:
    """Minor units as the decimal a human reads (USD: 2468 -> "24.68")."""
    return f"{amount // 100}.{amount % 100:02d}"


# --------------------------------------------------------------------------- the shop

class Shop:
    """Order, cart and stock calls through the validating `api` client."""

    def __init__(self, api, admin_token: str):
        self.api, self.admin_token = api, admin_token

    # -- stock ------------------------------------------------------------------
    def set_stock(self, book_id: str, available: int) -> dict:
        """Sets the stock outright, conditional on the version just read (If-Match)."""
        current = self.api.get(stock_path(book_id))
        assert current.status_code == 200, f"GET stock {book_id}: {current.status_code} {current.text}"
        r = self.api.put(stock_path(book_id), json={"available": available}, token=self.admin_token,
                         headers={"If-Match": current.headers["ETag"]})
        assert r.status_code == 200, f"PUT stock {book_id}={available}: {r.status_code} {r.text}"
        body = r.json()
        assert (body["bookId"], body["available"]) == (book_id, available), r.text
        return body

    def stock(self, book_id: str) -> int:
        r = self.api.get(stock_path(book_id))
        assert r.status_code == 200, f"GET stock {book_id}: {r.status_code} {r.text}"
        assert r.json()["bookId"] == book_id, r.text
        return r.json()["available"]

    def wait_stock(self, book_id: str, expected: int, why: str) -> None:
        def probe():
            n = self.stock(book_id)
            return n == expected, {"bookId": book_id, "available": n, "expected": expected}

        wait_for(probe, f"stock of {book_id} to be {expected} ({why})")

    # -- cart -------------------------------------------------------------------
    def fill_cart(self, shopper, lines: dict[str, int], api=None) -> dict:
        api = api or self.api
        cart = None
        for book_id, quantity in lines.items():
            r = api.put(f"/v1/cart/items/{book_id}", json={"quantity": quantity}, token=shopper.id_token)
            assert r.status_code == 200, f"PUT cart item {book_id}: {r.status_code} {r.text}"
            cart = r.json()
        return cart

    def cart(self, shopper) -> dict:
        r = self.api.get("/v1/cart", token=shopper.id_token)
        assert r.status_code == 200, r.text
        return r.json()

    # -- orders -----------------------------------------------------------------
    def checkout(self, shopper, body: dict | None = None, key: str | None = "new",
                 api=None, token: str | None = None, headers: dict | None = None) -> requests.Response:
        """POST /v1/orders. key "new" = a fresh Idempotency-Key; None = no header."""
        h = dict(headers or {})
        if key == "new":
            key = str(uuid.uuid4())
        if key is not None:
            h["Idempotency-Key"] = key
        return (api or self.api).post(ORDERS, json=checkout_body() if body is None else body,
                                      token=token or shopper.id_token, headers=h)

    def place(self, shopper, lines: dict[str, int], body: dict | None = None, key: str | None = "new",
              api=None) -> dict:
        """Fills the cart and checks it out; returns the 201 order."""
        self.fill_cart(shopper, lines, api=api)
        r = self.checkout(shopper, body, key=key, api=api)
        assert r.status_code == 201, f"checkout: {r.status_code} {r.text}"
        return r.json()

    def get(self, shopper, order_id: str, api=None) -> dict:
        r = (api or self.api).get(order_path(order_id), token=shopper.id_token)
        assert r.status_code == 200, f"GET order {order_id}: {r.status_code} {r.text}"
        return r.json()

    def wait_status(self, shopper, order_id: str, statuses=SETTLED, timeout: float = WAIT_SECONDS,
                    api=None, money_settled: bool = True) -> dict:
        """Polls GET /v1/orders/{id} until its status is one of `statuses`.

        money_settled: a REJECTED or CANCELLED order is written first and its hold
        voided (or its capture refunded) right after, in a second write; wait for
        that one too, so callers never see the moment in between."""
        statuses = {statuses} if isinstance(statuses, str) else set(statuses)

        def probe():
            order = self.get(shopper, order_id, api=api)
            owed = order["status"] in ("REJECTED", "CANCELLED") and order["paymentStatus"] in MONEY_HELD
            return order["status"] in statuses and not (money_settled and owed), order

        what = f"order {order_id} to become {'/'.join(sorted(statuses))}"
        return wait_for(probe, what + (" with its money settled" if money_settled else ""), timeout)

    def cancel(self, shopper, order_id: str, api=None) -> requests.Response:
        return (api or self.api).post(f"{order_path(order_id)}/cancel", token=shopper.id_token)

    def list(self, shopper, **params) -> dict:
        r = self.api.get(ORDERS, token=shopper.id_token, params=params or None)
        assert r.status_code == 200, f"GET /v1/orders: {r.status_code} {r.text}"
        return r.json()

    def list_all(self, shopper, limit: int = 100) -> list[dict]:
        items, cursor = [], None
        for _ in range(1000):
            params = {"limit": limit}
            if cursor:
                params["cursor"] = cursor
            page = self.list(shopper, **params)
            items.extend(page["items"])
            cursor = page["nextCursor"]
            if cursor is None:
                return items
        raise AssertionError("order paging does not terminate")


@pytest.fixture(scope="session")
def shop(api, admin_token) -> Shop:
    return Shop(api, admin_token)


@pytest.fixture
def stocked_book(make_book, shop):
    """stocked_book(available, **book overrides) -> book: a new book with its stock set."""

    def make(available: int, **overrides) -> dict:
        book = make_book(**overrides)
        shop.set_stock(book["id"], available)
        return book

    return make


# --------------------------------------------------------------------------- AWS (moto)

def _client(stack: dict, service: str):
    import boto3

    return boto3.client(
        service, endpoint_url=stack["awsEndpoint"], region_name=stack["region"],
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )


class Outbox:
    """What moto's SES and SNS sent (GET /moto-api/data.json), and the
    notification service's sent log (SentTable, `SENT#<orderId>#<status>#<channel>`).

    data.json lists every model instance moto ever created but DynamoDB's (which
    infra/moto_server.py does not keep), so it grows with the run. Tests therefore
    WAIT on the cheap sent log (the email is
    out before its record says SENT), record what mail they expect with
    `expect_*`, and the expectations are checked against one data.json fetch
    at the end of the test module (`verify`, run by the `mail` fixture), each
    failure naming the test that expected it."""

    def __init__(self, endpoint: str, tables: "Tables"):
        self.endpoint = endpoint.rstrip("/")
        self.tables = tables
        self.expected: list[tuple[str, Callable[[dict], list[str]]]] = []

    # -- moto -------------------------------------------------------------------
    def data(self) -> dict:
        r = requests.get(self.endpoint + "/moto-api/data.json", timeout=600)
        assert r.status_code == 200, r.text[:500]
        return r.json()

    def emails(self, order_id: str, data: dict) -> list[dict]:
        """Sent emails whose subject names the order."""
        return [m for m in data.get("ses", {}).get("Message", []) if order_id in (m.get("subject") or "")]

    def sms(self, data: dict, phone: str | None = None, text: str | None = None) -> list[dict]:
        return [m for m in data.get("sns", {}).get("SMS", [])
                if (phone is None or m.get("phone_number") == phone)
                and (text is None or text in (m.get("message") or ""))]

    # -- the sent log -------------------------------------------------------------
    def sent_record(self, order_id: str, status: str, channel: str = "email") -> dict | None:
        r = self.tables.ddb.get_item(TableName=self.tables.name("SentTable"),
                                     Key={"pk": {"S": f"SENT#{order_id}#{status}#{channel}"}}, ConsistentRead=True)
        item = r.get("Item")
        return {k: next(iter(v.values())) for k, v in item.items()} if item else None

    def wait_sent(self, order_id: str, status: str, channel: str = "email") -> dict:
        """Waits until the notification service has sent this (order, status, channel)."""

        def probe():
            record = self.sent_record(order_id, status, channel)
            return bool(record and record.get("state") == "SENT"), record

        return wait_for(probe, f"the {status} {channel} for order {order_id} to be sent")

    # -- expectations, checked at the end of the module -----------------------------
    def _expect(self, check: Callable[[dict], list[str]]) -> None:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]
        self.expected.append((test, check))

    def expect_email(self, order: dict, status: str, to: str, words: tuple[str, ...] = ()) -> None:
        """Exactly one email announcing `status` for the order, to `to` only,
        whose body names the order id, each line's title, the total and the
        status (and `words`, e.g. the reason)."""
        order = json.loads(json.dumps(order))

        def check(data: dict) -> list[str]:
            found = [e for e in self.emails(order["id"], data) if about(e, status)]
            if len(found) != 1:
                return [f"{len(found)} {status} emails for order {order['id']} (expected exactly 1): "
                        f"{[(e.get('subject'), recipients(e)) for e in found]}"]
            email, text = found[0], email_text(found[0])
            problems = []
            if recipients(email) != [to]:
                problems.append(f"{status} email for {order['id']} went to {recipients(email)}, not [{to}]")
            wanted = [order["id"], decimal(order["total"]["amount"]), *(l["title"] for l in order["lines"]), *words]
            missing = [w for w in wanted if w.lower() not in text.lower()]
            if missing:
                problems.append(f"{status} email for {order['id']} does not mention {missing}: {text[:1500]!r}")
            if not body_mentions(email, status):
                problems.append(f"{status} email for {order['id']}: the body does not state the status: {text[:1500]!r}")
            return problems

        self._expect(check)

    def expect_email_count(self, order_id: str, count: int) -> None:
        """Exactly `count` emails name the order, whatever their status."""

        def check(data: dict) -> list[str]:
            found = self.emails(order_id, data)
            if len(found) != count:
                return [f"{len(found)} emails name order {order_id} (expected {count}): "
                        f"{[e.get('subject') for e in found]}"]
            return []

        self._expect(check)

    def expect_sms(self, phone: str, order_id: str, count: int = 1) -> None:
        """Exactly `count` SMS to the (test-unique) phone number, each naming the order."""

        def check(data: dict) -> list[str]:
            to_phone = self.sms(data, phone=phone)
            naming = [m for m in to_phone if order_id in (m.get("message") or "")]
            if len(to_phone) != count or len(naming) != count:
                return [f"{len(to_phone)} SMS to {phone}, {len(naming)} naming order {order_id} "
                        f"(expected {count}): {[m.get('message') for m in to_phone]}"]
            return []

        self._expect(check)

    def expect_no_sms(self, order_id: str) -> None:
        def check(data: dict) -> list[str]:
            found = self.sms(data, text=order_id)
            return [f"SMS naming order {order_id} although it has no phone: {found}"] if found else []

        self._expect(check)

    def verify(self) -> None:
        """Checks every recorded expectation against one data.json fetch."""
        if not self.expected:
            return
        expected, self.expected = self.expected, []
        data = self.data()
        failures = [f"{test}: {problem}" for test, check in expected for problem in check(data)]
        assert not failures, "mail and SMS sent (moto data.json) differ from what the tests expect:\n" + \
            "\n".join(failures)


@pytest.fixture(scope="session")
def outbox(stack, tables) -> Outbox:
    return Outbox(stack["awsEndpoint"], tables)


@pytest.fixture(scope="module")
def mail(outbox):
    """The outbox, whose recorded expectations are checked (one data.json fetch)
    when the module's tests are done."""
    yield outbox
    outbox.verify()


def recipients(email: dict) -> list[str]:
    d = email.get("destinations")
    if isinstance(d, dict):
        return [a for v in d.values() for a in (v or [])]
    return list(d or [])


STATUS_WORDS = {
    "CONFIRMED": re.compile(r"confirm", re.I),
    "CANCELLED": re.compile(r"cancel", re.I),
    "REJECTED": re.compile(r"reject|not accepted|not be (accepted|placed)|declin|out of stock", re.I),
}


def about(email: dict, status: str) -> bool:
    """Whether an email's subject announces this status."""
    return STATUS_WORDS[status].search(email.get("subject") or "") is not None


def body_mentions(email: dict, status: str) -> bool:
    """Whether an email's body states this status."""
    return STATUS_WORDS[status].search(email_text(email).split("\n", 1)[-1]) is not None


def email_text(email: dict) -> str:
    """Subject and body with HTML tags dropped and entities of the usual kind decoded."""
    import html

    body = re.sub(r"<[^>]+>", " ", email.get("body") or "")
    return html.unescape(f"{email.get('subject') or ''}\n{body}")


class Queues:
    """The SQS queues of stack.json (`queues`: logical id -> {url, arn, dlq, dlqUrl, ...})."""

    MAIN = ("InventoryQueue", "OrderStockQueue", "NotificationQueue")

    def __init__(self, stack: dict):
        self.stack = stack
        self.info: dict = stack.get("queues") or {}
        self.sqs = _client(stack, "sqs")

    def require(self, *names: str) -> None:
        missing = [n for n in names if n not in self.info]
        if missing:
            pytest.fail(f"stack.json has no queue(s) {missing} (queues: {sorted(self.info)}): "
                        "the stack does not provision the checkout queues", pytrace=False)

    def url(self, name: str) -> str:
        self.require(name)
        return self.info[name]["url"]

    def arn(self, name: str) -> str:
        self.require(name)
        return self.info[name]["arn"]

    def dlq_url(self, name: str) -> str:
        self.require(name)
        q = self.info[name]
        assert q.get("dlqUrl"), f"queue {name} has no DLQ in stack.json: {q}"
        return q["dlqUrl"]

    def depth(self, name: str) -> dict:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.url(name),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return {"visible": int(attrs["ApproximateNumberOfMessages"]),
                "inFlight": int(attrs["ApproximateNumberOfMessagesNotVisible"])}

    def wait_drained(self, *names: str) -> None:
        """Waits, queue after queue (in pipeline order), until each holds no message,
        visible or in flight: everything sent to it has been handled and deleted.
        A consumer publishes downstream before its own message is deleted, so
        draining the queues in pipeline order means the whole chain has run."""
        for name in names or self.MAIN:
            def probe(name=name):
                d = self.depth(name)
                return d["visible"] == 0 and d["inFlight"] == 0, {name: d}

            wait_for(probe, f"queue {name} to drain")

    def attribute(self, name: str, attribute: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=self.url(name), AttributeNames=[attribute])[
            "Attributes"][attribute]

    def set_attribute(self, name: str, attribute: str, value: str) -> None:
        self.sqs.set_queue_attributes(QueueUrl=self.url(name), Attributes={attribute: value})

    def find_in_dlq(self, name: str, body: str) -> dict | None:
        """Looks through the queue's DLQ for a message with this body (without hiding
        the other messages: visibility 0); deletes it when found and returns it."""
        url = self.dlq_url(name)
        for _ in range(20):
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                           AttributeNames=["All"], MessageAttributeNames=["All"])
            messages = got.get("Messages", [])
            for m in messages:
                if m["Body"] == body:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                    return m
            if not messages:
                return None
        return None


@pytest.fixture(scope="session")
def queues(stack) -> Queues:
    return Queues(stack)


class Tables:
    """The physical DynamoDB tables of stack.json: read to find the outbox events an
    order wrote (the exact messages to redeliver) and an order's stored item; written
    only by the settler tests, to leave behind what a crashed checkout would."""

    def __init__(self, stack: dict):
        self.names: dict = stack.get("tables") or {}
        self.ddb = _client(stack, "dynamodb")

    def name(self, logical: str) -> str:
        if logical not in self.names:
            pytest.fail(f"stack.json has no table {logical} (tables: {sorted(self.names)})", pytrace=False)
        return self.names[logical]

    def outbox_items(self, customer_sub: str, order_id: str) -> list[dict]:
        """The order's outbox items (raw DynamoDB JSON), in sequence order."""
        r = self.ddb.query(
            TableName=self.name("OrdersTable"),
            KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
            ExpressionAttributeValues={":pk": {"S": f"CUSTOMER#{customer_sub}"}, ":sk": {"S": f"EVENT#{order_id}#"}},
            ConsistentRead=True,
        )
        return sorted(r["Items"], key=lambda i: i["sk"]["S"])

    def order_item(self, customer_sub: str, order_id: str) -> dict:
        """The order's stored item (raw DynamoDB JSON): pk, sk, order, customer, ..."""
        r = self.ddb.get_item(TableName=self.name("OrdersTable"),
                              Key={"pk": {"S": f"CUSTOMER#{customer_sub}"}, "sk": {"S": f"ORDER#{order_id}"}},
                              ConsistentRead=True)
        assert "Item" in r, f"order {order_id} of {customer_sub} is not in the orders table"
        return r["Item"]

    def put_order_item(self, item: dict) -> None:
        """Writes an order item that must not exist yet (raw DynamoDB JSON)."""
        self.ddb.put_item(TableName=self.name("OrdersTable"), Item=item,
                          ConditionExpression="attribute_not_exists(pk)")

    def outbox_event(self, customer_sub: str, order_id: str, event_type: str) -> tuple[dict, dict]:
        """(raw item, parsed envelope) of the order's outbox event of this type."""
        for item in self.outbox_items(customer_sub, order_id):
            envelope = json.loads(item["event"]["S"])
            if envelope["type"] == event_type:
                return item, envelope
        raise AssertionError(f"order {order_id} has no {event_type} outbox event")


@pytest.fixture(scope="session")
def tables(stack) -> Tables:
    return Tables(stack)


# --------------------------------------------------------------------------- direct invokes

class Consumers:
    """Invokes event consumers directly through the local Lambda invoke API
    (POST <apiUrl>/2015-03-31/functions/<binary>/invocations), with the exact
    events Lambda's SQS and DynamoDB-stream mappings deliver."""

    def __init__(self, api_url: str, stack: dict, queues: Queues):
        self.api_url, self.stack, self.queues = api_url, stack, queues

    def invoke(self, function: str, event: dict) -> dict:
        r = requests.post(f"{self.api_url}/2015-03-31/functions/{function}/invocations", json=event,
                          timeout=600)
        assert r.status_code == 200, f"invoke {function}: {r.status_code} {r.text[:1000]}"
        assert not r.headers.get("X-Amz-Function-Error"), f"{function} failed: {r.text[:1000]}"
        out = r.json() if r.content else {}
        assert not (isinstance(out, dict) and "errorType" in out), f"{function} failed: {out}"
        return out or {}

    def sqs_record(self, queue: str, body: str, message_id: str | None = None, receive_count: int = 1) -> dict:
        message_id = message_id or str(uuid.uuid4())
        now_ms = str(int(time.time() * 1000))
        try:
            envelope = json.loads(body)
            kind = envelope.get("type", "Unknown") if isinstance(envelope, dict) else "Unknown"
            correlation = envelope.get("correlationId", "test") if isinstance(envelope, dict) else "test"
        except ValueError:
            kind, correlation = "Unknown", "test"
        import hashlib

        return {
            "messageId": message_id,
            "receiptHandle": f"AQEB{message_id}==",
            "body": body,
            "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": now_ms,
                           "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": now_ms},
            "messageAttributes": {
                "type": {"stringValue": kind, "stringListValues": [], "binaryListValues": [], "dataType": "String"},
                "correlationId": {"stringValue": correlation, "stringListValues": [], "binaryListValues": [],
                                  "dataType": "String"},
            },
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queues.arn(queue),
            "awsRegion": self.stack["region"],
        }

    def sqs_batch(self, queue: str, bodies: list[str]) -> dict:
        return {"Records": [self.sqs_record(queue, b) for b in bodies]}

    def failures(self, response: dict) -> list[str]:
        return [f.get("itemIdentifier") for f in (response or {}).get("batchItemFailures") or []]

    def stream_record(self, item: dict, sequence: str) -> dict:
        keys = {"pk": item["pk"], "sk": item["sk"]}
        return {
            "eventID": uuid.uuid4().hex,
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.stack["region"],
            "dynamodb": {
                "ApproximateCreationDateTime": int(time.time()),
                "Keys": keys,
                "NewImage": item,
                "SequenceNumber": sequence,
                "SizeBytes": len(json.dumps(item)),
                "StreamViewType": "NEW_IMAGE",
            },
            "eventSourceARN": f"arn:aws:dynamodb:{self.stack['region']}:123456789012:table/"
                              f"{(self.stack.get('tables') or {}).get('OrdersTable', 'OrdersTable')}/stream/2026-01-01T00:00:00.000",
        }


@pytest.fixture(scope="session")
def consumers(api_url, stack, queues) -> Consumers:
    return Consumers(api_url, stack, queues)


# --------------------------------------------------------------------------- Stripe (localstripe)

class Stripe:
    """The payment provider's side: localstripe (stack.json `stripeEndpoint`), read
    and written with any test secret key as HTTP Basic user, as Stripe's API is.

    localstripe keeps PaymentIntents (`metadata.order_id` names the order the
    service asked the hold for; `status` requires_capture / succeeded /
    canceled; `charges.data[].captured`) and Refunds. It does not honour
    Idempotency-Key (every POST makes a new object), so counting the intents of
    an order counts the holds the service asked for."""

    AUTH = ("sk_test_bookish_tests", "")

    def __init__(self, stack: dict):
        self.stack = stack
        endpoint = stack.get("stripeEndpoint")
        if not endpoint:
            pytest.fail("stack.json has no stripeEndpoint: the stack runs no localstripe", pytrace=False)
        self.endpoint = endpoint.rstrip("/")

    def request(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, self.endpoint + path, auth=self.AUTH, timeout=30, **kw)

    def _ok(self, r: requests.Response, what: str) -> dict:
        assert r.status_code == 200, f"localstripe {what}: {r.status_code} {r.text[:500]}"
        return r.json()

    # -- reading ---------------------------------------------------------------------
    def intents(self) -> list[dict]:
        """Every PaymentIntent localstripe holds (paged with starting_after)."""
        items: list[dict] = []
        params: dict = {"limit": 100}
        for _ in range(10_000):
            page = self._ok(self.request("GET", "/v1/payment_intents", params=params), "list payment intents")
            items.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return items
            params["starting_after"] = page["data"][-1]["id"]
        raise AssertionError("localstripe's payment intent paging does not terminate")

    def intents_for(self, order_id: str) -> list[dict]:
        """The PaymentIntents whose metadata names this order."""
        return [i for i in self.intents() if (i.get("metadata") or {}).get("order_id") == order_id]

    def intent(self, intent_id: str) -> dict:
        return self._ok(self.request("GET", f"/v1/payment_intents/{intent_id}"), f"GET intent {intent_id}")

    def refunds(self, intent_id: str) -> list[dict]:
        """The refunds of the intent's charge (GET /v1/refunds?payment_intent=)."""
        items: list[dict] = []
        params: dict = {"payment_intent": intent_id, "limit": 100}
        for _ in range(1000):
            page = self._ok(self.request("GET", "/v1/refunds", params=params), f"list refunds of {intent_id}")
            items.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return items
            params["starting_after"] = page["data"][-1]["id"]
        raise AssertionError("localstripe's refund paging does not terminate")

    @staticmethod
    def charges(intent: dict) -> list[dict]:
        return list(((intent.get("charges") or {}).get("data")) or [])

    @classmethod
    def captured(cls, intent: dict) -> bool:
        """Whether any money was taken: the intent succeeded or one of its charges is captured."""
        return intent.get("status") == "succeeded" or any(c.get("captured") for c in cls.charges(intent))

    @staticmethod
    def summary(intents: list[dict]) -> list[dict]:
        """What a failure message needs to know about intents."""
        return [{"id": i.get("id"), "status": i.get("status"), "amount": i.get("amount"),
                 "currency": i.get("currency"), "metadata": i.get("metadata"),
                 "captured": [c.get("captured") for c in Stripe.charges(i)]} for i in intents]

    # -- writing (what a crashed service would have left behind) -----------------------
    def hold(self, order_id: str, amount: int, currency: str, payment_method: str = "pm_card_visa") -> dict:
        """A confirmed manual-capture PaymentIntent for the order (`requires_capture`),
        exactly as the order service's authorize step asks for one."""
        form = {"amount": str(amount), "currency": currency.lower(), "capture_method": "manual",
                "confirm": "true", "payment_method": payment_method, "payment_method_types[]": "card",
                "metadata[order_id]": order_id}
        intent = self._ok(self.request("POST", "/v1/payment_intents", data=form), f"hold for {order_id}")
        assert intent["status"] == "requires_capture", intent
        return intent

    # -- the process -------------------------------------------------------------------
    def pid(self) -> int:
        """localstripe's pid, from the pid file stack.py writes beside stack.json
        (.local/<name>/localstripe.pid; the dev stack also copies its stack.json to
        .local/stack.json). Checked to be localstripe on this stack's port."""
        from urllib.parse import urlparse

        base = _stack_file().parent
        candidates = [base / "localstripe.pid", base / "dev" / "localstripe.pid"]
        port = str(urlparse(self.endpoint).port)
        for pidfile in candidates:
            try:
                pid = int(pidfile.read_text().strip())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, ValueError):
                continue
            if "localstripe" in cmdline and port in cmdline.split():
                return pid
        pytest.fail(f"no localstripe pid file for port {port} in {[str(c) for c in candidates]}", pytrace=False)

    @contextlib.contextmanager
    def stopped(self):
        """localstripe frozen (SIGSTOP) for the block, resumed (SIGCONT) whatever happens.
        The kernel still accepts connections meanwhile: callers see a provider that
        takes requests and never answers."""
        pid = self.pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            yield pid
        finally:
            os.kill(pid, signal.SIGCONT)


def _stack_file() -> Path:
    from support import REPO

    return Path(os.environ.get("BOOKISH_STACK") or REPO / ".local" / "stack.json")


@pytest.fixture(scope="session")
def stripe(stack) -> Stripe:
    return Stripe(stack)


# --------------------------------------------------------------------------- many shoppers

def in_parallel(fn: Callable, args: list, workers: int | None = None) -> list:
    """fn(arg) for every arg at once (one thread each); results in arg order,
    exceptions re-raised."""
    with ThreadPoolExecutor(max_workers=workers or len(args)) as pool:
        return list(pool.map(fn, args))


def assert_no_order_for(shop: Shop, shopper) -> None:
    assert shop.list_all(shopper) == [], "a rejected checkout stored an order"


__all__ = [
    "ORDERS", "FINAL", "SETTLED", "MONEY_HELD", "Shop", "Outbox", "Queues", "Tables", "Consumers", "Stripe", "Timeout",
    "wait_for", "address", "checkout_body", "APPROVED_CARD", "DECLINED_CARD", "unique_phone", "decimal", "about", "body_mentions", "email_text",
    "recipients",
    "order_path", "stock_path", "in_parallel", "assert_no_order_for", "assert_problem", "tag",
]
