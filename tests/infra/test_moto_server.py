"""infra/moto_server.py: moto as the local stack runs it. What it adds to moto: DynamoDB
model objects are not kept for /moto-api/data.json (each transaction copies its tables,
and moto kept every copy), while SES's, which the tests read there, still are."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, str(ROOT / "infra" / "moto_server.py"), "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/moto-api/data.json", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "moto_server.py did not start"
                time.sleep(0.3)
        yield url
    finally:
        server.kill()
        server.wait()


def client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_transactions_leave_no_copies_and_sent_mail_is_listed(endpoint):
    ddb = client("dynamodb", endpoint)
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    for i in range(20):
        ddb.put_item(TableName="t", Item={"pk": {"S": f"item-{i}"}})
    for i in range(20):
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": f"tx-{i}"}}}}])
    assert ddb.scan(TableName="t", Select="COUNT")["Count"] == 40

    ses = client("sesv2", endpoint)
    ses.create_email_identity(EmailIdentity="shop@example.com")
    ses.send_email(FromEmailAddress="shop@example.com", Destination={"ToAddresses": ["reader@example.com"]},
                   Content={"Simple": {"Subject": {"Data": "Order 1 confirmed"}, "Body": {"Text": {"Data": "Thanks"}}}})

    data = requests.get(f"{endpoint}/moto-api/data.json", timeout=30).json()
    assert not any(data.get("dynamodb", {}).values())
    assert [m["subject"] for m in data["ses"]["Message"]] == ["Order 1 confirmed"]
