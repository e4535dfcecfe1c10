#!/usr/bin/env python3
"""Print an order's whole journey from the spans a local stack stored (`make trace ORDER=<id>`).

Reads .local/<stack>/spans.jsonl (written by infra/otlp_receiver.py), finds the traces
with a span naming the order (`order.id`), and prints each as a waterfall: every
function's request or message, each queue hop with the time the message waited in its
queue, each AWS and Stripe call, with offsets, durations and status.

  infra/trace.py 0190d8a4-…                  # the dev stack
  infra/trace.py 0190d8a4-… --stack test     # .local/test/spans.jsonl
  infra/trace.py 0190d8a4-… --spans FILE
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAR_WIDTH = 32


def load(path: Path) -> list[dict]:
    with path.open() as file:
        return [json.loads(line) for line in file if line.strip()]


def order_traces(spans: list[dict], order_id: str) -> dict[str, list[dict]]:
    """trace id -> its spans, for every trace in which a span names the order; oldest first."""
    ids = {s["traceId"] for s in spans if s["attributes"].get("order.id") == order_id}
    traces: dict[str, list[dict]] = defaultdict(list)
    for span in spans:
        if span["traceId"] in ids:
            traces[span["traceId"]].append(span)
    return dict(sorted(traces.items(), key=lambda t: min(s["startNs"] for s in t[1])))


def roots_and_children(spans: list[dict]) -> tuple[list[dict], dict[str, list[dict]]]:
    """The spans whose parent is not in the trace (one, when the trace is whole), and each span's children."""
    ids = {s["spanId"] for s in spans}
    children: dict[str, list[dict]] = defaultdict(list)
    roots = []
    for span in sorted(spans, key=lambda s: s["startNs"]):
        if span["parentSpanId"] in ids:
            children[span["parentSpanId"]].append(span)
        else:
            roots.append(span)
    return roots, children


def label(span: dict) -> str:
    attributes = span["attributes"]
    name = span["name"]
    if "rpc.service" in attributes:
        name = f"{attributes['rpc.service']}.{attributes.get('rpc.method', '?')}"
    if span["kind"] == "consumer" and "messaging.wait_ms" in attributes:
        hop = "the stream" if span["service"] == "order-publisher" else "the queue"
        name += f"  (waited {attributes['messaging.wait_ms']} ms in {hop})"
    return name


def status(span: dict) -> str:
    code = span["attributes"].get("http.response.status_code")
    if span["status"] == "error":
        return f"ERROR {code}" if code else "ERROR"
    return str(code) if code else "ok"


def waterfall(spans: list[dict]) -> list[str]:
    roots, children = roots_and_children(spans)
    start = min(s["startNs"] for s in spans)
    total = max(max(s["endNs"] for s in spans) - start, 1)
    services = sorted({s["namespace"] for s in spans if s["namespace"]})
    lines = [f"trace {spans[0]['traceId']}: {total / 1e6:.1f} ms, {len(spans)} spans, "
             f"services: {', '.join(services)}" + ("" if len(roots) == 1 else f"  ({len(roots)} roots: not connected)"),
             f"{'start':>9} {'took':>9}  {'status':<9} {'function':<20} span"]

    def walk(span: dict, depth: int) -> None:
        offset, took = span["startNs"] - start, span["endNs"] - span["startNs"]
        left = round(offset / total * BAR_WIDTH)
        width = max(1, round(took / total * BAR_WIDTH))
        bar = " " * left + "█" * min(width, BAR_WIDTH - left) + " " * max(0, BAR_WIDTH - left - width)
        lines.append(f"{offset / 1e6:>7.1f}ms {took / 1e6:>7.1f}ms  {status(span):<9} {span['service']:<20} "
                     f"|{bar}| {'  ' * depth}{label(span)}")
        for child in children.get(span["spanId"], []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("order", help="the order id")
    parser.add_argument("--stack", default="dev", help="the local stack's name (default dev)")
    parser.add_argument("--spans", type=Path, help="a spans.jsonl file (default .local/<stack>/spans.jsonl)")
    args = parser.parse_args()
    path = args.spans or ROOT / ".local" / args.stack / "spans.jsonl"
    if not path.exists():
        print(f"no spans at {path}: is the {args.stack} stack up (make dev / make up)?", file=sys.stderr)
        return 1
    traces = order_traces(load(path), args.order)
    if not traces:
        print(f"no span names order {args.order} in {path}", file=sys.stderr)
        return 1
    for spans in traces.values():
        print("\n".join(waterfall(spans)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
