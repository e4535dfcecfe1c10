#!/usr/bin/env python3
"""Local Lambda event source mappings: feed SQS queues and DynamoDB streams to the functions.

In AWS, Lambda's event source mappings poll each queue and stream and invoke the
consumer function with batches. Locally nothing does that (moto stores messages and
stream records; `cargo lambda watch` runs the functions), so this process plays the
mappings, invoking every function through watch's Lambda Invoke API
(`POST <lambdaUrl>/2015-03-31/functions/<binary>/invocations`), the way Lambda would.
No consumer is called any other way.

The mappings come from stack.json (`eventSourceMappings`), which infra/provision.py
derives from the AWS::Lambda::EventSourceMapping resources of the SAM-transformed
template.yaml: the queue or stream, the function (and its binary, from the function's
Metadata.BuildProperties.Binary), BatchSize, FunctionResponseTypes, FilterCriteria,
StartingPosition, MaximumRetryAttempts, BisectBatchOnFunctionError and
DestinationConfig.OnFailure. Add an SQS or DynamoDB event to a function in
template.yaml and it is driven here on the next `make dev`; there is no other list.

SQS mappings (one thread each), as Lambda does them:
- long-poll ReceiveMessage (up to BatchSize messages, all system and message
  attributes, the queue's own VisibilityTimeout as it is when the messages are
  delivered: change it at run time, e.g. to test redrive quickly, and the next
  delivery follows) and invoke the function with the
  exact Lambda SQS event (`{"Records": [{"messageId", "receiptHandle", "body",
  "attributes", "messageAttributes", "md5OfBody", "eventSource": "aws:sqs",
  "eventSourceARN", "awsRegion"}]}`);
- with ReportBatchItemFailures, `{"batchItemFailures": [{"itemIdentifier": <messageId>}]}`
  in the response marks those messages failed; an identifier that is empty or not
  in the batch fails the whole batch, as in AWS;
- a function error (non-2xx answer, X-Amz-Function-Error, an `errorType` body, a body
  that is not JSON, no answer) fails the whole batch;
- successful messages are deleted (DeleteMessageBatch); failed ones are left alone,
  so they come back when their visibility timeout expires, and the queue's
  RedrivePolicy moves them to the DLQ on the receive after maxReceiveCount (moto
  does this as SQS does);
- messages that no FilterCriteria pattern matches are deleted without an invocation.

DynamoDB stream mappings (one thread each, every shard of the stream):
- DescribeStream, GetShardIterator at StartingPosition (TRIM_HORIZON or LATEST) for
  the shards there at start (TRIM_HORIZON for shards that appear later), then
  GetRecords following NextShardIterator; a closed shard is finished, new shards
  are picked up;
- FilterCriteria (the EventBridge-pattern subset below) drops records before
  batching; matching records go out in batches of up to BatchSize as the exact
  Lambda stream event (`{"Records": [{"eventID", "eventName", "eventVersion": "1.1",
  "eventSource": "aws:dynamodb", "awsRegion", "dynamodb": {...}, "eventSourceARN"}]}`);
- batchItemFailures (itemIdentifier = SequenceNumber) checkpoint before the first
  failed record: the records before it are done, the rest are retried; a function
  error retries the whole batch, or with BisectBatchOnFunctionError splits it in two
  (a split does not count as a retry);
- after MaximumRetryAttempts retries (or when a record is older than
  MaximumRecordAgeInSeconds) the batch's metadata goes to the OnFailure SQS
  destination (the invocation record Lambda sends, with DDBStreamBatchInfo) and the
  shard moves on.

Schedule events (an EventBridge rule with `rate(...)`, from a function's `Schedule`
event in template.yaml; one thread each): every interval, invoke the function with the
"Scheduled Event" EventBridge sends (`{"version": "0", "id", "detail-type": "Scheduled
Event", "source": "aws.events", "account", "time", "region", "resources": [<rule arn>],
"detail": {}}`). `--schedule-every SECONDS` shortens the interval (the test stack fires
every few seconds instead of every five minutes).

Filter patterns: nested objects, lists of alternatives, literal values (strings,
numbers, null), and {"prefix"}, {"suffix"}, {"equals-ignore-case"},
{"anything-but"}, {"exists"}, {"numeric"}. SQS bodies that are JSON are matched as
objects (`"body": {...}`), as Lambda does.

Every invocation is logged as one line (function, source, records, failures,
duration, outcome). One bad response, one failed AWS call, one odd record never
stops the driver: the error is logged and polling goes on.

Before polling, each consumer function is invoked once with an empty batch
(`{"Records": []}`): watch builds a function on its first invocation, and that can
take minutes. The warm-up carries no records, so nothing reaches a consumer by a
path AWS would not take. Mappings whose function binary is not in the workspace
yet are skipped with a warning. When polling has started, the driver writes
`--ready` (JSON: the mappings it drives and the ones it skipped); infra/stack.py
waits for that file.

Differences from AWS, on purpose or by necessity:
- one poller per mapping (Lambda scales SQS pollers out; stream shards are read one
  batch at a time per shard, ParallelizationFactor 1);
- the invocation timeout is generous (watch may be rebuilding the function); an
  invocation slower than the function's Timeout is logged as one AWS would have cut
  off, not failed;
- no MaximumBatchingWindowInSeconds, TumblingWindowInSeconds or ScalingConfig;
- moto keeps stream records forever (AWS: 24 hours) and in one never-closing shard;
- an idle shard is re-positioned from its checkpoint at each poll: after a cancelled
  transaction moto's earlier iterators read a stale copy of the table's stream.

Run by infra/stack.py (dev, up and test): infra/driver.py --stack .local/dev/stack.json
--ready .local/dev/driver.ready, logging to .local/<name>/driver.log.
`--dump-events DIR` (stack.py passes it on) also writes every event sent to a function
to DIR, e.g. to refresh the samples in events/.
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime as dt
import json
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"

# Long poll length, as Lambda's pollers use; moto answers a waiting poll as soon as a
# message arrives.
SQS_WAIT_SECONDS = 20
# GetRecords interval on an idle stream: from the first, doubling up to the second while
# nothing comes (Lambda polls about 4 times a second; moto keeps every shard iterator it
# hands out, so fewer idle calls also keep its memory flat).
STREAM_IDLE_SECONDS = 0.25
STREAM_IDLE_MAX_SECONDS = 1.0
SHARD_REFRESH_SECONDS = 30  # DescribeStream interval, to find new shards
WARM_UP_SECONDS = 15 * 60  # a first debug build of a function takes minutes on 2 cores
# watch rebuilds a function when its sources change (a minute or two); a call a rebuild
# killed never answers, so give up after this and let the batch be redelivered.
INVOKE_SECONDS = 5 * 60
ERROR_BACKOFF = (1, 2, 5, 10)  # seconds between attempts after an AWS call failed
RETRY_DELAYS = (1, 2, 3, 5)  # seconds before stream batch retry 1, 2, 3, 4+ (Lambda backs off too)


# --------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------

_log_lock = threading.Lock()


def log(msg: str) -> None:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    with _log_lock:
        print(f"{now} {msg}", flush=True)


# --------------------------------------------------------------------------
# Filter criteria (the EventBridge pattern subset Lambda filters use)
# --------------------------------------------------------------------------

_MISSING = object()


def _numeric(rule: list, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    ops = {"<": float.__lt__, "<=": float.__le__, "=": float.__eq__, ">": float.__gt__, ">=": float.__ge__}
    for i in range(0, len(rule) - 1, 2):
        op, bound = rule[i], rule[i + 1]
        if op not in ops or not ops[op](float(value), float(bound)):
            return False
    return True


def _matches_one(condition: Any, value: Any) -> bool:
    """One alternative of a pattern list against one (scalar) value."""
    if isinstance(condition, dict):
        if "exists" in condition:
            return (value is not _MISSING) == bool(condition["exists"])
        if value is _MISSING:
            return False
        if "prefix" in condition:
            return isinstance(value, str) and value.startswith(condition["prefix"])
        if "suffix" in condition:
            return isinstance(value, str) and value.endswith(condition["suffix"])
        if "equals-ignore-case" in condition:
            return isinstance(value, str) and value.lower() == str(condition["equals-ignore-case"]).lower()
        if "anything-but" in condition:
            excluded = condition["anything-but"]
            if isinstance(excluded, dict):  # {"anything-but": {"prefix": "x"}}
                return not _matches_one(excluded, value)
            excluded = excluded if isinstance(excluded, list) else [excluded]
            return value not in excluded
        if "numeric" in condition:
            return _numeric(condition["numeric"], value)
        raise ValueError(f"unsupported filter rule {condition}")
    if value is _MISSING:
        return False
    if isinstance(condition, bool) or isinstance(value, bool):
        return condition is value
    if isinstance(condition, (int, float)) and isinstance(value, (int, float)):
        return float(condition) == float(value)
    return condition == value


def matches(pattern: dict, event: Any) -> bool:
    """True if event matches the filter pattern (every key of the pattern must match)."""
    if not isinstance(event, dict):
        return False
    for key, rule in pattern.items():
        value = event.get(key, _MISSING)
        if isinstance(rule, dict):
            if not matches(rule, value if isinstance(value, dict) else {}):
                return False
        elif isinstance(rule, list):
            values = value if isinstance(value, list) else [value]
            if not values:
                values = [_MISSING]
            if not any(_matches_one(c, v) for c in rule for v in values):
                return False
        else:
            raise ValueError(f"filter pattern value for {key!r} must be an object or a list")
    return True


def passes(filters: list[dict], event: dict) -> bool:
    """No filters: everything passes; else any one pattern must match (OR)."""
    return not filters or any(matches(p, event) for p in filters)


# --------------------------------------------------------------------------
# Event building (the payloads Lambda sends)
# --------------------------------------------------------------------------

def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def sqs_record(message: dict, mapping: dict, region: str) -> dict:
    """One Lambda SQS event record from a boto3 ReceiveMessage message."""
    attributes = {}
    for name, attr in message.get("MessageAttributes", {}).items():
        converted = {
            "stringListValues": attr.get("StringListValues", []),
            "binaryListValues": [_b64(b) for b in attr.get("BinaryListValues", [])],
            "dataType": attr["DataType"],
        }
        if "StringValue" in attr:
            converted["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            converted["binaryValue"] = _b64(attr["BinaryValue"])
        attributes[name] = converted
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": mapping["sourceArn"],
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def sqs_filter_view(record: dict) -> dict:
    """What SQS filter patterns see: the record, with a JSON body as an object."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        body = record["body"]
    return {**record, "body": body}


def _plain(value: Any) -> Any:
    """boto3 stream record values back to their wire JSON form (bytes -> base64, datetime -> epoch)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return _b64(bytes(value))
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    return value


def stream_record(record: dict, mapping: dict, region: str) -> dict:
    """One Lambda DynamoDB stream event record from a boto3 GetRecords record."""
    out = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": _plain(record["dynamodb"]),
        "eventSourceARN": mapping["sourceArn"],
    }
    if "userIdentity" in record:  # TTL deletions
        out["userIdentity"] = _plain(record["userIdentity"])
    return out


# --------------------------------------------------------------------------
# Invoking through cargo lambda watch
# --------------------------------------------------------------------------

@dataclass
class Outcome:
    """What one invocation did to its batch."""

    failed: set[str] | None  # None: the whole batch failed; else the failed item ids
    status: int | None = None
    error: str = ""  # why the whole batch failed, or the function error
    function_error: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed is not None and not self.failed


def invoke_raw(api_url: str, binary: str, payload: dict, timeout: float) -> tuple[int | None, dict, bytes, str]:
    """POST the Invoke API; returns (status or None, headers, body, transport error)."""
    url = f"{api_url}/2015-03-31/functions/{binary}/invocations"
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read(), ""
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read(), ""
    except Exception as err:  # connection refused, reset, timeout, ...
        return None, {}, b"", f"{type(err).__name__}: {err}"


def interpret(status: int | None, headers: dict, body: bytes, transport_error: str,
              item_ids: list[str], report_failures: bool) -> Outcome:
    """Lambda's reading of a batch invocation's result (see the module docstring)."""
    if status is None:
        return Outcome(None, None, f"no answer ({transport_error})", function_error=True)
    text = body.decode(errors="replace")
    if not 200 <= status < 300:
        return Outcome(None, status, f"HTTP {status}: {text[:300]}", function_error=True)
    if headers.get("x-amz-function-error"):
        return Outcome(None, status, f"{headers['x-amz-function-error']}: {text[:300]}", function_error=True)
    try:
        result = json.loads(text) if text.strip() else None
    except ValueError:
        return Outcome(None, status, f"response is not JSON: {text[:300]}", function_error=True)
    if isinstance(result, dict) and "errorType" in result and "errorMessage" in result:
        return Outcome(None, status, f"{result['errorType']}: {result['errorMessage']}", function_error=True)
    if not report_failures or not isinstance(result, dict):
        return Outcome(set(), status)
    failures = result.get("batchItemFailures")
    if not failures:  # null, missing or []: the whole batch succeeded
        return Outcome(set(), status)
    if not isinstance(failures, list):
        return Outcome(None, status, f"batchItemFailures is not a list: {text[:300]}")
    failed: set[str] = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not item or item not in item_ids:
            return Outcome(None, status, f"invalid itemIdentifier {item!r}: the whole batch fails")
        failed.add(item)
    return Outcome(failed, status)


class Invoker:
    def __init__(self, api_url: str, dump_dir: Path | None = None):
        self.api_url = api_url.rstrip("/")
        self.dump_dir = dump_dir
        self.dumped = 0
        self.lock = threading.Lock()

    def invoke(self, mapping: dict, payload: dict, item_ids: list[str]) -> Outcome:
        if self.dump_dir is not None:
            with self.lock:
                self.dumped += 1
                path = self.dump_dir / f"{self.dumped:05}-{mapping['binary']}.json"
            path.write_text(json.dumps(payload, indent=2) + "\n")
        start = time.monotonic()
        status, headers, body, err = invoke_raw(self.api_url, mapping["binary"], payload, INVOKE_SECONDS)
        outcome = interpret(status, headers, body, err, item_ids,
                            "ReportBatchItemFailures" in mapping.get("functionResponseTypes", []))
        outcome.seconds = time.monotonic() - start
        return outcome


def describe_outcome(mapping: dict, source: str, records: int, outcome: Outcome, extra: str = "") -> str:
    if outcome.ok:
        result = "ok"
    elif outcome.failed is None:
        result = f"batch failed ({outcome.error})"
    else:
        result = f"{len(outcome.failed)} failed [{', '.join(sorted(outcome.failed))}]"
    slow = ""
    if outcome.seconds > mapping.get("functionTimeout", 1e9):
        slow = f" (longer than the function's {mapping['functionTimeout']} s Timeout: AWS would have cut it off)"
    return (f"invoke {mapping['binary']} <- {source} records={records} {result} "
            f"{outcome.seconds * 1000:.0f}ms{slow}{extra}")


# --------------------------------------------------------------------------
# Pollers
# --------------------------------------------------------------------------

class Poller(threading.Thread):
    def __init__(self, mapping: dict, clients, invoker: Invoker, region: str, stop: threading.Event):
        super().__init__(name=mapping["name"], daemon=True)
        self.mapping = mapping
        self.clients = clients
        self.invoker = invoker
        self.region = region
        self.stop_event = stop
        self.started_ok = threading.Event()  # set once the poller is in position
        self.errors = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.setup()
                self.started_ok.set()
                while not self.stop_event.is_set():
                    self.poll_once()
                    self.errors = 0
            except Exception as err:  # never die: log, back off, start over from the checkpoint
                self.errors += 1
                wait = ERROR_BACKOFF[min(self.errors, len(ERROR_BACKOFF)) - 1]
                log(f"ERROR {self.name}: {type(err).__name__}: {err} (retrying in {wait} s)\n"
                    + "".join(traceback.format_exception(err)[-3:]).rstrip())
                self.stop_event.wait(wait)

    def setup(self) -> None:
        pass

    def poll_once(self) -> None:
        raise NotImplementedError


class SqsPoller(Poller):
    """One SQS event source mapping."""

    visibility = 30

    def queue_visibility(self) -> int:
        attrs = self.clients("sqs").get_queue_attributes(QueueUrl=self.mapping["queueUrl"],
                                                         AttributeNames=["VisibilityTimeout"])
        return int(attrs["Attributes"]["VisibilityTimeout"])

    def setup(self) -> None:
        self.visibility = self.queue_visibility()

    def poll_once(self) -> None:
        m = self.mapping
        sqs = self.clients("sqs")
        messages: list[dict] = []
        wait = SQS_WAIT_SECONDS
        while len(messages) < m["batchSize"]:
            got = sqs.receive_message(
                QueueUrl=m["queueUrl"],
                MaxNumberOfMessages=min(10, m["batchSize"] - len(messages)),
                WaitTimeSeconds=wait,
                VisibilityTimeout=self.visibility,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages += got
            if len(got) < 10 or self.stop_event.is_set():
                break
            wait = 0  # a full receive: top the batch up with what is already there
        if not messages:
            return
        self.follow_visibility(messages)
        records = [sqs_record(msg, m, self.region) for msg in messages]
        matching = [r for r in records if passes(m["filters"], sqs_filter_view(r))]
        dropped = [r for r in records if r not in matching]
        if dropped:
            self.delete(dropped)
            log(f"filter {m['binary']} <- {m['source']}: {len(dropped)} message(s) matched no pattern, deleted")
        if not matching:
            return
        ids = [r["messageId"] for r in matching]
        outcome = self.invoker.invoke(m, {"Records": matching}, ids)
        failed = set(ids) if outcome.failed is None else outcome.failed
        done = [r for r in matching if r["messageId"] not in failed]
        if done:
            self.delete(done)
        log(describe_outcome(m, m["source"], len(matching), outcome, self.redrive_note(matching, failed)))

    def follow_visibility(self, messages: list[dict]) -> None:
        """Messages get the queue's VisibilityTimeout as it is when they are delivered.

        moto fixes a receive's visibility timeout when the (long) poll starts, so a
        SetQueueAttributes made during a poll (a test shortening the timeout, say)
        would otherwise miss the messages that poll returns.
        """
        current = self.queue_visibility()
        if current == self.visibility:
            return
        sqs = self.clients("sqs")
        for i in range(0, len(messages), 10):
            sqs.change_message_visibility_batch(QueueUrl=self.mapping["queueUrl"], Entries=[
                {"Id": str(n), "ReceiptHandle": msg["ReceiptHandle"], "VisibilityTimeout": current}
                for n, msg in enumerate(messages[i:i + 10])])
        log(f"{self.name}: {self.mapping['source']} VisibilityTimeout is now {current} s (was {self.visibility} s)")
        self.visibility = current

    def redrive_note(self, records: list[dict], failed: set[str]) -> str:
        limit = self.mapping.get("maxReceiveCount")
        if not failed or not limit:
            return ""
        last = [r["messageId"] for r in records if r["messageId"] in failed
                and int(r["attributes"].get("ApproximateReceiveCount", "0")) >= limit]
        return f"; received {limit} times, to the DLQ on the next receive: {', '.join(last)}" if last else ""

    def delete(self, records: list[dict]) -> None:
        sqs = self.clients("sqs")
        for i in range(0, len(records), 10):
            chunk = records[i:i + 10]
            result = sqs.delete_message_batch(
                QueueUrl=self.mapping["queueUrl"],
                Entries=[{"Id": str(n), "ReceiptHandle": r["receiptHandle"]} for n, r in enumerate(chunk)],
            )
            for failure in result.get("Failed", []):
                log(f"WARNING {self.name}: could not delete message {chunk[int(failure['Id'])]['messageId']}: "
                    f"{failure.get('Code')} {failure.get('Message', '')}")


class SchedulePoller(Poller):
    """One Schedule event (an EventBridge rule with rate(...)): invoke the function with a
    "Scheduled Event" every interval, as EventBridge does (async invoke: nothing is retried
    here; the next tick is the retry). `every` caps the interval so tests need not wait
    for a five-minute rate."""

    def __init__(self, *args, every: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        interval = float(self.mapping["intervalSeconds"])
        self.interval = min(interval, every) if every else interval

    def poll_once(self) -> None:
        if self.stop_event.wait(self.interval):
            return
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        payload = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                   "source": "aws.events", "account": self.mapping["sourceArn"].split(":")[4], "time": now,
                   "region": self.region, "resources": [self.mapping["sourceArn"]], "detail": {}}
        outcome = self.invoker.invoke(self.mapping, payload, [])
        log(describe_outcome(self.mapping, self.mapping["source"], 0, outcome))


@dataclass
class Shard:
    shard_id: str
    parent: str | None
    iterator: str | None = None
    checkpoint: str | None = None  # SequenceNumber of the last record done
    buffer: collections.deque = field(default_factory=collections.deque)
    closed: bool = False  # no NextShardIterator: nothing more will come
    start: str = "TRIM_HORIZON"


class StreamPoller(Poller):
    """One DynamoDB stream event source mapping (all shards of the stream)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shards: dict[str, Shard] = {}
        self.last_refresh = 0.0
        self.known_at_start: bool = False
        self.idle = STREAM_IDLE_SECONDS

    def setup(self) -> None:
        # After an error, buffered records are dropped: reading resumes after the checkpoint.
        for shard in self.shards.values():
            shard.buffer.clear()
            shard.iterator = None
        self.refresh_shards()

    def refresh_shards(self) -> None:
        streams = self.clients("dynamodbstreams")
        description = streams.describe_stream(StreamArn=self.mapping["sourceArn"])["StreamDescription"]
        for s in description.get("Shards", []):
            if s["ShardId"] not in self.shards:
                # Shards there when the mapping starts begin at StartingPosition; later
                # ones (children of split or rotated shards) from their beginning.
                start = self.mapping["startingPosition"] if not self.known_at_start else "TRIM_HORIZON"
                self.shards[s["ShardId"]] = Shard(s["ShardId"], s.get("ParentShardId"), start=start)
                log(f"{self.name}: reading shard {s['ShardId']} from {start}")
        self.known_at_start = True
        self.last_refresh = time.monotonic()

    def position(self, shard: Shard) -> str:
        streams = self.clients("dynamodbstreams")
        args = {"StreamArn": self.mapping["sourceArn"], "ShardId": shard.shard_id}
        if shard.checkpoint is not None:
            args.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=shard.checkpoint)
        else:
            args.update(ShardIteratorType=shard.start)
        return streams.get_shard_iterator(**args)["ShardIterator"]

    def fill(self, shard: Shard) -> None:
        """Read the next records of the shard into its buffer (filtered)."""
        if shard.iterator is None:
            shard.iterator = self.position(shard)
        streams = self.clients("dynamodbstreams")
        try:
            got = streams.get_records(ShardIterator=shard.iterator, Limit=1000)
        except streams.exceptions.ExpiredIteratorException:
            shard.iterator = self.position(shard)
            return
        records = got.get("Records", [])
        shard.iterator = got.get("NextShardIterator")
        if shard.iterator is None:
            shard.closed = True
        elif not records and (shard.checkpoint is not None or shard.start == "TRIM_HORIZON"):
            # moto answers a cancelled transaction by putting back a copy of the table, and
            # the iterators handed out before it read the old copy's stream for ever: with
            # nothing to read, position afresh next time (never from LATEST: that would skip).
            shard.iterator = None
        for raw in records:
            record = stream_record(raw, self.mapping, self.region)
            if passes(self.mapping["filters"], record):
                shard.buffer.append(record)
            elif not shard.buffer:  # filtered out with nothing pending before it: done
                shard.checkpoint = record["dynamodb"]["SequenceNumber"]

    def poll_once(self) -> None:
        if time.monotonic() - self.last_refresh > SHARD_REFRESH_SECONDS:
            self.refresh_shards()
        worked = False
        for shard in list(self.shards.values()):
            parent = self.shards.get(shard.parent) if shard.parent else None
            if parent is not None and not (parent.closed and not parent.buffer):
                continue  # a parent's records go first, as Lambda does
            if shard.closed and not shard.buffer:
                continue
            if not shard.buffer:
                self.fill(shard)
            if shard.buffer:
                batch = [shard.buffer.popleft() for _ in range(min(len(shard.buffer), self.mapping["batchSize"]))]
                self.process(shard, batch)
                shard.checkpoint = batch[-1]["dynamodb"]["SequenceNumber"]
                worked = True
        if worked:
            self.idle = STREAM_IDLE_SECONDS
        else:
            self.stop_event.wait(self.idle)
            self.idle = min(self.idle * 2, max(STREAM_IDLE_MAX_SECONDS, STREAM_IDLE_SECONDS))

    def process(self, shard: Shard, records: list[dict]) -> None:
        """Invoke with retries, bisection and the OnFailure destination, as Lambda does."""
        m = self.mapping
        limit = m.get("maximumRetryAttempts", -1)
        max_age = m.get("maximumRecordAgeInSeconds", -1)
        work = collections.deque([(records, 0)])  # (batch, retries so far)
        while work:
            if self.stop_event.is_set():
                return
            batch, retries = work.popleft()
            if max_age != -1:
                oldest = min(r["dynamodb"].get("ApproximateCreationDateTime", time.time()) for r in batch)
                if time.time() - oldest > max_age:
                    self.discard(shard, batch, retries, "RecordAgeExceeded", None)
                    continue
            ids = [r["dynamodb"]["SequenceNumber"] for r in batch]
            outcome = self.invoker.invoke(m, {"Records": batch}, ids)
            attempt = f" (retry {retries})" if retries else ""
            log(describe_outcome(m, f"{m['source']} stream {shard.shard_id}", len(batch), outcome, attempt))
            if outcome.ok:
                continue
            if outcome.failed is not None:  # partial: checkpoint before the first failed record
                first = min(ids.index(i) for i in outcome.failed)
                rest = batch[first:]
            elif m.get("bisectBatchOnFunctionError") and len(batch) > 1:
                half = len(batch) // 2
                work.appendleft((batch[half:], retries))
                work.appendleft((batch[:half], retries))
                log(f"{self.name}: function error, bisecting the batch ({half} + {len(batch) - half})")
                continue
            else:
                rest = batch
            if limit != -1 and retries >= limit:
                self.discard(shard, rest, retries, "RetryAttemptsExhausted", outcome)
                continue
            self.stop_event.wait(RETRY_DELAYS[min(retries, len(RETRY_DELAYS) - 1)])
            work.appendleft((rest, retries + 1))

    def discard(self, shard: Shard, batch: list[dict], retries: int, condition: str,
                outcome: Outcome | None) -> None:
        """Give up on these records: their metadata to the OnFailure destination, if any."""
        m = self.mapping
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]

        def arrival(record: dict) -> str:
            when = record.get("ApproximateCreationDateTime", time.time())
            return dt.datetime.fromtimestamp(when, dt.timezone.utc).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z")

        response = {"statusCode": outcome.status if outcome and outcome.status else 200,
                    "executedVersion": "$LATEST"}
        if outcome is not None and outcome.function_error:
            response["functionError"] = "Unhandled"
        failure = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{m['binary']}",
                "condition": condition,
                "approximateInvokeCount": retries + 1,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival(first),
                "approximateArrivalOfLastRecord": arrival(last),
                "batchSize": len(batch),
                "streamArn": m["sourceArn"],
            },
        }
        destination = m.get("onFailure")
        seqs = f"{first['SequenceNumber']}..{last['SequenceNumber']}"
        if destination is None:
            log(f"DISCARDED {m['binary']} <- {m['source']}: {len(batch)} record(s) {seqs} ({condition}); "
                "no OnFailure destination")
            return
        self.clients("sqs").send_message(QueueUrl=destination["url"], MessageBody=json.dumps(failure))
        log(f"ON-FAILURE {m['binary']} <- {m['source']}: {len(batch)} record(s) {seqs} ({condition}) "
            f"-> {destination['queue']}")


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def workspace_binaries() -> set[str] | None:
    """Binary targets of the cargo workspace (None if cargo cannot tell)."""
    try:
        out = subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120, check=True).stdout
    except (OSError, subprocess.SubprocessError) as err:
        log(f"WARNING: cargo metadata failed ({err}); assuming every mapped binary exists")
        return None
    return {t["name"] for p in json.loads(out)["packages"] for t in p["targets"] if "bin" in t["kind"]}


def make_clients(endpoint: str, region: str):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name=region)
    config = Config(read_timeout=SQS_WAIT_SECONDS + 40, retries={"max_attempts": 2, "mode": "standard"})
    cache: dict[tuple[int, str], Any] = {}
    lock = threading.Lock()

    def clients(service: str):
        # boto3 clients are thread-safe, but one per thread and service keeps long polls apart.
        key = (threading.get_ident(), service)
        with lock:
            if key not in cache:
                cache[key] = session.client(service, endpoint_url=endpoint, config=config)
            return cache[key]

    return clients


def warm_up(api_url: str, binaries: list[str], stop: threading.Event) -> None:
    for binary in binaries:
        if stop.is_set():
            return
        start = time.monotonic()
        log(f"warming up {binary} (watch builds it on its first invocation)")
        status, headers, body, err = invoke_raw(api_url.rstrip("/"), binary, {"Records": []}, WARM_UP_SECONDS)
        took = time.monotonic() - start
        if status is None:
            log(f"WARNING: warm-up of {binary} got no answer after {took:.0f} s: {err}")
        elif status >= 300 or headers.get("x-amz-function-error"):
            log(f"WARNING: warm-up of {binary}: HTTP {status} {body[:200].decode(errors='replace')} ({took:.0f} s)")
        else:
            log(f"{binary} is up ({took:.1f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", type=Path, required=True, help="stack.json written by infra/stack.py")
    parser.add_argument("--ready", type=Path, help="file to write once every mapping is polling")
    parser.add_argument("--no-warm-up", action="store_true", help="skip the empty-batch warm-up invocations")
    parser.add_argument("--dump-events", type=Path, metavar="DIR",
                        help="also write every event sent to a function to DIR/<n>-<binary>.json")
    parser.add_argument("--schedule-every", type=float, metavar="SECONDS",
                        help="fire Schedule events at least this often (tests: seconds, not the template's minutes)")
    args = parser.parse_args()

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    stack = json.loads(args.stack.read_text())
    region, api_url = stack["region"], stack.get("lambdaUrl", stack["apiUrl"])
    mappings = stack.get("eventSourceMappings", [])
    available = workspace_binaries()
    active, skipped = [], []
    for m in mappings:
        if available is not None and m["binary"] not in available:
            skipped.append({**m, "reason": f"binary {m['binary']} is not in the workspace yet"})
            log(f"WARNING: skipping {m['name']} ({m['source']} -> {m['binary']}): "
                f"binary {m['binary']} is not in the workspace yet")
        elif not m.get("enabled", True):
            skipped.append({**m, "reason": "Enabled: false in template.yaml"})
            log(f"skipping {m['name']}: disabled in template.yaml")
        else:
            active.append(m)

    if not args.no_warm_up:
        warm_up(api_url, sorted({m["binary"] for m in active}), stop)
    clients = make_clients(stack["awsEndpoint"], region)
    if args.dump_events:
        args.dump_events.mkdir(parents=True, exist_ok=True)
    invoker = Invoker(api_url, args.dump_events)
    pollers: list[Poller] = []
    for m in active:
        if m["kind"] == "schedule":
            poller = SchedulePoller(m, clients, invoker, region, stop, every=args.schedule_every)
        else:
            poller = (SqsPoller if m["kind"] == "sqs" else StreamPoller)(m, clients, invoker, region, stop)
        poller.start()
        pollers.append(poller)
        log(f"driving {m['name']}: {m['kind']} {m['source']} -> {m['binary']} "
            f"(batch {m['batchSize']}, {', '.join(m['functionResponseTypes']) or 'whole-batch responses'}"
            f"{', ' + str(len(m['filters'])) + ' filter pattern(s)' if m['filters'] else ''})")
    # Stream pollers are "in position" once they have their shards (the starting point is fixed then).
    for poller in pollers:
        while not poller.started_ok.wait(0.5):
            if stop.is_set():
                return 0
    if args.ready:
        summary = {
            "mappings": [{k: m[k] for k in ("name", "kind", "source", "binary")} for m in active],
            "skipped": [{k: m[k] for k in ("name", "kind", "source", "binary", "reason")} for m in skipped],
        }
        args.ready.write_text(json.dumps(summary, indent=2) + "\n")
    log(f"ready: {len(active)} mapping(s) polling, {len(skipped)} skipped")
    while not stop.wait(1):
        pass
    log("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
