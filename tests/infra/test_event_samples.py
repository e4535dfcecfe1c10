"""The sample events under events/ (for `cargo lambda invoke` and the README) are what the
producers really send: every SQS message body in them keeps its contract in contracts/events/."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "contracts" / "events"
# Messages that break their contract on purpose: the consumers' tests feed them to prove a
# poison message fails alone (functions/*/tests/consumer.rs).
DELIBERATELY_MALFORMED = {
    "ca0c83bc-8a4c-5879-a0ef-9a2523885a0d": "inventory: an OrderPlaced with a line of 0 copies",
    "11111111-2222-4333-8444-555555555504": "notification: an OrderConfirmed whose data is not an order",
}


def message_bodies():
    for sample in sorted((ROOT / "events").glob("**/*.json")):
        for record in json.loads(sample.read_text()).get("Records", []):
            if "body" not in record:
                continue  # a stream record: the outbox item, not a message
            try:
                body = json.loads(record["body"])
            except json.JSONDecodeError:
                continue  # a deliberately malformed message
            message_id = record.get("messageId", "?")
            if isinstance(body, dict) and "type" in body and "version" in body \
                    and message_id not in DELIBERATELY_MALFORMED:
                yield pytest.param(body, id=f"{sample.relative_to(ROOT / 'events')}:{message_id}")


@pytest.mark.parametrize("body", message_bodies())
def test_sample_messages_keep_their_contract(body):
    schema_path = SCHEMAS / f"{body['type']}.v{body['version']}.schema.json"
    assert schema_path.exists(), f"no contract for {body['type']} v{body['version']}"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(body, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
