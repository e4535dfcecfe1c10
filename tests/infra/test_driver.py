"""Tests of the local event source mapping driver (infra/driver.py) and of what
infra/provision.py derives from template.yaml for it.

They need no running stack: each test module starts its own in-process moto
server, provisions the real template.yaml into it, and stands in for
`cargo lambda watch` with a tiny HTTP server that answers the Lambda Invoke API
as the test says. So they pin down the driver's Lambda semantics (event shapes,
partial batch failures, redrive to the DLQ, stream checkpoints, bisection,
the OnFailure destination, filters) without building any Rust.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
sys.path.insert(0, str(INFRA))

import driver  # noqa: E402
import provision  # noqa: E402

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def stack(moto_endpoint):
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"))
    return provision.provision(INFRA.parent / "template.yaml", moto_endpoint)


@pytest.fixture
def aws(moto_endpoint):
    def make(service):
        return boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return make


class FakeLambda:
    """The Lambda Invoke API of `cargo lambda watch`, answering as `respond` says."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.respond = lambda binary, payload: (200, {})
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                binary = self.path.split("/functions/")[1].split("/")[0]
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.calls.append((binary, payload))
                status, body = fake.respond(binary, payload)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def records(self, binary: str) -> list[dict]:
        return [r for b, p in self.calls if b == binary for r in p["Records"]]


@pytest.fixture
def fake_lambda():
    fake = FakeLambda()
    yield fake
    fake.server.shutdown()


@pytest.fixture
def run_poller(stack, fake_lambda, monkeypatch):
    """Start the poller of one mapping (by source) against the fake Lambda; stopped after the test."""
    monkeypatch.setattr(driver, "SQS_WAIT_SECONDS", 1)
    monkeypatch.setattr(driver, "RETRY_DELAYS", (0.05,))
    monkeypatch.setattr(driver, "STREAM_IDLE_SECONDS", 0.05)
    monkeypatch.setattr(driver, "STREAM_IDLE_MAX_SECONDS", 0.05)
    stops = []

    def start(source: str, **overrides):
        mapping = {**next(m for m in stack.event_source_mappings if m["source"] == source), **overrides}
        stop = threading.Event()
        cls = driver.SqsPoller if mapping["kind"] == "sqs" else driver.StreamPoller
        poller = cls(mapping, driver.make_clients(stack.endpoint, REGION), driver.Invoker(fake_lambda.url),
                     REGION, stop)
        poller.start()
        assert poller.started_ok.wait(10)
        stops.append((stop, poller))
        return mapping

    yield start
    for stop, poller in stops:
        stop.set()
    for stop, poller in stops:
        poller.join(timeout=5)


def drain(sqs, url: str) -> list[dict]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                  MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"])
        if not got.get("Messages"):
            return out
        out += got["Messages"]
        for m in got["Messages"]:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


# --------------------------------------------------------------------------- provisioning

def test_mappings_come_from_the_template(stack):
    by_source = {m["source"]: m for m in stack.event_source_mappings}
    assert {m["binary"] for m in by_source.values()} == {
        "inventory-events", "notification-events", "order-stock-events", "order-publisher", "order-settler"}
    settler = by_source["OrderSettlerFunctionEvery5Minutes"]
    assert (settler["kind"], settler["binary"], settler["expression"], settler["intervalSeconds"]) == (
        "schedule", "order-settler", "rate(5 minutes)", 300)
    for queue, binary in [("InventoryQueue", "inventory-events"), ("OrderStockQueue", "order-stock-events"),
                          ("NotificationQueue", "notification-events")]:
        m = by_source[queue]
        assert (m["kind"], m["binary"], m["batchSize"]) == ("sqs", binary, 10)
        assert m["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert m["queueUrl"] == stack.queues[queue]["url"].replace("https://", "http://")
        assert m["maxReceiveCount"] == 3 and m["visibilityTimeout"] == 60
        assert m["dlq"] == queue.replace("Queue", "DLQ")
    outbox = by_source["OrdersTable"]
    assert outbox["kind"] == "dynamodb" and outbox["binary"] == "order-publisher"
    assert outbox["sourceArn"] == stack.streams["OrdersTable"]["arn"]
    assert outbox["maximumRetryAttempts"] == 3 and outbox["bisectBatchOnFunctionError"] is True
    assert outbox["onFailure"]["queue"] == "PublisherDLQ"
    assert outbox["filters"] == [{"eventName": ["INSERT"],
                                  "dynamodb": {"NewImage": {"sk": {"S": [{"prefix": "EVENT#"}]}}}}]


def test_queues_tables_and_sender(stack, aws):
    sqs, ddb, ses = aws("sqs"), aws("dynamodb"), aws("sesv2")
    for dlq in ("InventoryDLQ", "OrderStockDLQ", "NotificationDLQ", "PublisherDLQ"):
        attrs = sqs.get_queue_attributes(QueueUrl=stack.queues[dlq]["url"], AttributeNames=["All"])["Attributes"]
        assert attrs["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    assert stack.streams["OrdersTable"]["viewType"] == "NEW_IMAGE"
    tables = stack.physical("AWS::DynamoDB::Table")
    for table in ("OrdersTable", "SentTable"):
        ttl = ddb.describe_time_to_live(TableName=tables[table])["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
    env = stack.function_env
    assert env["INVENTORY_QUEUE_URL"] == stack.queues["InventoryQueue"]["url"]
    assert env["ORDER_STOCK_QUEUE_URL"].startswith(stack.endpoint)
    # SenderEmail has no default (a deployer must choose it); locally provision.LOCAL_PARAMETERS does.
    assert env["SENDER_EMAIL"] == provision.LOCAL_PARAMETERS["SenderEmail"] == "orders@bookish.local"
    assert "{orderId}" in env["SUBJECT_CONFIRMED"]
    assert (env["CART_FUNCTION"], env["CATALOG_FUNCTION"]) == ("cart", "catalog-read")
    identities = [i["IdentityName"] for i in ses.list_email_identities()["EmailIdentities"]]
    assert "orders@bookish.local" in identities


# --------------------------------------------------------------------------- filters and responses

@pytest.mark.parametrize("event,expected", [
    ({"eventName": "INSERT", "dynamodb": {"NewImage": {"sk": {"S": "EVENT#1#0000000001"}}}}, True),
    ({"eventName": "MODIFY", "dynamodb": {"NewImage": {"sk": {"S": "EVENT#1#0000000001"}}}}, False),
    ({"eventName": "INSERT", "dynamodb": {"NewImage": {"sk": {"S": "ORDER#1"}}}}, False),
    ({"eventName": "INSERT", "dynamodb": {"NewImage": {"sk": {"N": "1"}}}}, False),
    ({"eventName": "INSERT", "dynamodb": {}}, False),
    ({"eventName": "REMOVE", "dynamodb": {"Keys": {}}}, False),
])
def test_outbox_filter(event, expected):
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"sk": {"S": [{"prefix": "EVENT#"}]}}}}
    assert driver.passes([pattern], event) is expected


def test_filter_rules():
    assert driver.passes([], {"anything": 1})
    assert driver.matches({"a": [{"suffix": ".png"}]}, {"a": "x.png"})
    assert driver.matches({"a": [{"anything-but": ["x", "y"]}]}, {"a": "z"})
    assert not driver.matches({"a": [{"anything-but": "x"}]}, {"a": "x"})
    assert driver.matches({"a": [{"exists": False}]}, {})
    assert not driver.matches({"a": [{"exists": True}]}, {})
    assert driver.matches({"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 5})
    assert not driver.matches({"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 6})
    assert driver.matches({"a": ["x", "y"]}, {"a": ["q", "y"]})  # any element of an array value
    assert driver.matches({"a": [None]}, {"a": None})
    assert driver.matches({"t": [{"equals-ignore-case": "orderplaced"}]}, {"t": "OrderPlaced"})
    # OR across patterns
    assert driver.passes([{"a": ["1"]}, {"b": ["2"]}], {"b": "2"})
    # SQS bodies that are JSON are matched as objects
    view = driver.sqs_filter_view({"body": json.dumps({"type": "OrderPlaced"})})
    assert driver.matches({"body": {"type": ["OrderPlaced"]}}, view)


@pytest.mark.parametrize("status,headers,body,failed", [
    (200, {}, b'{"batchItemFailures": []}', set()),
    (200, {}, b'{}', set()),
    (200, {}, b'null', set()),
    (200, {}, b'', set()),
    (200, {}, b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', {"b"}),
    (200, {}, b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}', None),  # not in the batch
    (200, {}, b'{"batchItemFailures": [{"itemIdentifier": ""}]}', None),
    (200, {}, b'{"batchItemFailures": [{}]}', None),
    (200, {}, b'not json', None),
    (200, {"x-amz-function-error": "Unhandled"}, b'{"errorMessage": "boom"}', None),
    (200, {}, b'{"errorType": "Panic", "errorMessage": "boom"}', None),
    (500, {}, b'{"errorType": "Panic", "errorMessage": "boom"}', None),
    (None, {}, b'', None),
])
def test_interpret(status, headers, body, failed):
    outcome = driver.interpret(status, headers, body, "refused", ["a", "b"], report_failures=True)
    assert outcome.failed == failed


def test_without_report_batch_item_failures_the_body_is_ignored():
    body = b'{"batchItemFailures": [{"itemIdentifier": "b"}]}'
    assert driver.interpret(200, {}, body, "", ["a", "b"], report_failures=False).ok


# --------------------------------------------------------------------------- SQS

def test_sqs_event_partial_failure_and_redrive(stack, aws, fake_lambda, run_poller):
    sqs = aws("sqs")
    queue = stack.queues["InventoryQueue"]
    sqs.set_queue_attributes(QueueUrl=queue["url"], Attributes={"VisibilityTimeout": "1"})
    try:
        def respond(binary, payload):
            bad = [r["messageId"] for r in payload["Records"] if r["body"] == "poison"]
            return 200, {"batchItemFailures": [{"itemIdentifier": i} for i in bad]}

        fake_lambda.respond = respond
        mapping = run_poller("InventoryQueue")
        sqs.send_message(QueueUrl=queue["url"], MessageBody='{"n": 1}',
                         MessageAttributes={"type": {"DataType": "String", "StringValue": "OrderPlaced"}})
        sqs.send_message(QueueUrl=queue["url"], MessageBody="poison")
        sqs.send_message(QueueUrl=queue["url"], MessageBody='{"n": 2}')

        dead = wait_until(lambda: drain(sqs, queue["dlqUrl"]), timeout=30)
        assert [m["Body"] for m in dead] == ["poison"]

        records = fake_lambda.records("inventory-events")
        poison = [r for r in records if r["body"] == "poison"]
        assert [r["attributes"]["ApproximateReceiveCount"] for r in poison] == ["1", "2", "3"]
        good = [r for r in records if r["body"] != "poison"]
        assert sorted(r["body"] for r in good) == ['{"n": 1}', '{"n": 2}']  # each once: deleted after success
        first = next(r for r in good if r["body"] == '{"n": 1}')
        assert set(first) >= {"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                              "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"}
        assert first["eventSource"] == "aws:sqs"
        assert first["eventSourceARN"] == mapping["sourceArn"] == queue["arn"]
        assert first["awsRegion"] == REGION
        assert first["messageAttributes"]["type"] == {
            "stringValue": "OrderPlaced", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
        assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(first["attributes"])
        assert sqs.get_queue_attributes(QueueUrl=queue["url"], AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessagesNotVisible"] == "0"
    finally:
        sqs.set_queue_attributes(QueueUrl=queue["url"], Attributes={"VisibilityTimeout": "60"})


def test_sqs_visibility_change_applies_to_the_poll_in_flight(stack, aws, fake_lambda, run_poller, monkeypatch):
    """moto fixes a poll's visibility timeout when the poll starts; the driver still gives
    messages the queue's VisibilityTimeout as it is when they are delivered."""
    monkeypatch.setattr(driver, "SQS_WAIT_SECONDS", 5)
    sqs = aws("sqs")
    queue = stack.queues["OrderStockQueue"]
    fake_lambda.respond = lambda binary, payload: (
        200, {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in payload["Records"]]})
    run_poller("OrderStockQueue")  # reads VisibilityTimeout 60 and starts a 5 s poll
    time.sleep(0.5)
    sqs.set_queue_attributes(QueueUrl=queue["url"], Attributes={"VisibilityTimeout": "1"})
    try:
        sqs.send_message(QueueUrl=queue["url"], MessageBody="never handled")
        dead = wait_until(lambda: drain(sqs, queue["dlqUrl"]), timeout=15)
        assert [m["Body"] for m in dead] == ["never handled"]
        assert len(fake_lambda.calls) == 3
    finally:
        sqs.set_queue_attributes(QueueUrl=queue["url"], Attributes={"VisibilityTimeout": "60"})


def test_sqs_function_error_fails_the_whole_batch(stack, aws, fake_lambda, run_poller):
    sqs = aws("sqs")
    queue = stack.queues["NotificationQueue"]
    sqs.set_queue_attributes(QueueUrl=queue["url"], Attributes={"VisibilityTimeout": "1"})
    try:
        answers = iter([(500, {"errorType": "Panic", "errorMessage": "boom"}),
                        (200, {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]})])
        fake_lambda.respond = lambda binary, payload: next(answers, (200, {}))
        run_poller("NotificationQueue")
        sqs.send_message(QueueUrl=queue["url"], MessageBody="a")

        wait_until(lambda: len(fake_lambda.calls) >= 3, timeout=20)
        counts = [r["attributes"]["ApproximateReceiveCount"] for r in fake_lambda.records("notification-events")]
        assert counts[:3] == ["1", "2", "3"]  # failed twice as a whole, then done
        time.sleep(1.5)
        assert len(fake_lambda.calls) == 3
        assert drain(sqs, queue["dlqUrl"]) == []
    finally:
        sqs.set_queue_attributes(QueueUrl=queue["url"], Attributes={"VisibilityTimeout": "60"})


# --------------------------------------------------------------------------- DynamoDB stream

def put_outbox(ddb, table: str, n: int, sk_prefix: str = "EVENT#") -> None:
    ddb.put_item(TableName=table, Item={"pk": {"S": "CUSTOMER#c1"}, "sk": {"S": f"{sk_prefix}o1#{n:010}"},
                                        "event": {"S": json.dumps({"n": n})}, "expiresAt": {"N": "2000000000"}})


def test_stream_filter_checkpoint_bisect_and_on_failure(stack, aws, fake_lambda, run_poller):
    ddb, sqs = aws("dynamodb"), aws("sqs")
    table = stack.physical("AWS::DynamoDB::Table")["OrdersTable"]
    drain(sqs, stack.queues["PublisherDLQ"]["url"])

    def number(record):
        return json.loads(record["dynamodb"]["NewImage"]["event"]["S"])["n"]

    def respond(binary, payload):
        numbers = [number(r) for r in payload["Records"]]
        if 3 in numbers:  # fails the record after it was handed over once, then succeeds
            seen = sum(1 for r in fake_lambda.records(binary) if number(r) == 3)
            if seen == 1:
                seq = next(r["dynamodb"]["SequenceNumber"] for r in payload["Records"] if number(r) == 3)
                return 200, {"batchItemFailures": [{"itemIdentifier": seq}]}
        if 13 in numbers:  # a poison record: the function crashes on any batch holding it
            return 500, {"errorType": "Panic", "errorMessage": "poison"}
        return 200, {"batchItemFailures": []}

    fake_lambda.respond = respond
    # Existing records before the mapping starts are read too (StartingPosition TRIM_HORIZON).
    put_outbox(ddb, table, 1)
    ddb.put_item(TableName=table, Item={"pk": {"S": "CUSTOMER#c1"}, "sk": {"S": "ORDER#o1"}})  # filtered out
    mapping = run_poller("OrdersTable")
    for n in range(2, 16):
        put_outbox(ddb, table, n)
    ddb.update_item(TableName=table, Key={"pk": {"S": "CUSTOMER#c1"}, "sk": {"S": "EVENT#o1#0000000002"}},
                    UpdateExpression="SET x = :x", ExpressionAttributeValues={":x": {"S": "y"}})  # MODIFY: filtered

    failures = wait_until(lambda: drain(sqs, mapping["onFailure"]["url"]), timeout=30)
    wait_until(lambda: 15 in [number(r) for r in fake_lambda.records("order-publisher")])
    time.sleep(0.5)

    records = fake_lambda.records("order-publisher")
    assert all(r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"]["sk"]["S"].startswith("EVENT#")
               for r in records)
    handled = [number(r) for r in records]
    # every good record reached the function, 1 and 2 exactly once (before the failure point)
    assert set(handled) == set(range(1, 16))
    assert handled.count(1) == 1 and handled.count(2) == 1
    # the partial failure at 3 re-delivered from 3 on (3 twice), not the records before it
    assert handled.count(3) == 2

    # 13 was bisected down to itself, retried 3 times, then sent to PublisherDLQ
    assert len(failures) == 1
    info = json.loads(failures[0]["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["requestContext"]["approximateInvokeCount"] == 4
    assert info["responseContext"]["functionError"] == "Unhandled"
    batch = info["DDBStreamBatchInfo"]
    assert batch["batchSize"] == 1 and batch["streamArn"] == mapping["sourceArn"]
    poison = [r for r in records if number(r) == 13]
    assert {r["dynamodb"]["SequenceNumber"] for r in poison} == {batch["startSequenceNumber"]}
    assert handled.count(14) >= 1 and handled.count(15) >= 1  # the shard moved on

    first = records[0]
    assert first["eventSource"] == "aws:dynamodb" and first["eventVersion"] == "1.1"
    assert first["eventSourceARN"] == mapping["sourceArn"] and first["awsRegion"] == REGION
    assert set(first["dynamodb"]) >= {"ApproximateCreationDateTime", "Keys", "NewImage", "SequenceNumber",
                                      "SizeBytes", "StreamViewType"}
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], (int, float))
    assert all(len(p["Records"]) <= mapping["batchSize"] for b, p in fake_lambda.calls)


def test_stream_records_after_a_cancelled_transaction_still_arrive(stack, aws, fake_lambda, run_poller):
    """moto puts back a copy of the table when a transaction on it is cancelled (an order's
    guard failing, e.g. a concurrent duplicate checkout); the outbox written after it must
    still reach order-publisher."""
    ddb = aws("dynamodb")
    table = stack.physical("AWS::DynamoDB::Table")["OrdersTable"]
    fake_lambda.respond = lambda binary, payload: (200, {"batchItemFailures": []})

    def number(record):
        return json.loads(record["dynamodb"]["NewImage"]["event"]["S"])["n"]

    run_poller("OrdersTable")
    put_outbox(ddb, table, 101, sk_prefix="EVENT#cancelled-")
    wait_until(lambda: 101 in [number(r) for r in fake_lambda.records("order-publisher")])

    guarded = {"Put": {"TableName": table, "ConditionExpression": "attribute_not_exists(pk)",
                       "Item": {"pk": {"S": "CUSTOMER#c1"}, "sk": {"S": "EVENT#cancelled-o1#0000000101"}}}}
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[guarded])

    put_outbox(ddb, table, 102, sk_prefix="EVENT#cancelled-")
    wait_until(lambda: 102 in [number(r) for r in fake_lambda.records("order-publisher")])
    assert [number(r) for r in fake_lambda.records("order-publisher")].count(101) == 1
