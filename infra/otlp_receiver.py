#!/usr/bin/env python3
"""The local stack's trace receiver: OTLP/HTTP in (protobuf, `POST /v1/traces`), one JSON
line per span out, appended to a file that `make trace` (infra/trace.py) and the tests read.

No OpenTelemetry Collector build is on PyPI or npm, and the functions only need the one
OTLP/HTTP endpoint, so this decodes `ExportTraceServiceRequest` with the OpenTelemetry
project's own generated messages (PyPI `opentelemetry-proto`) and writes each span as:

  {"traceId", "spanId", "parentSpanId", "name", "kind", "startNs", "endNs",
   "status": "ok"|"error"|"unset", "statusMessage", "service", "namespace",
   "attributes": {...}, "events": [{"name", "timeNs", "attributes"}]}

  infra/otlp_receiver.py -H 127.0.0.1 -p 4318 --out .local/dev/spans.jsonl
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

KINDS = {Span.SPAN_KIND_INTERNAL: "internal", Span.SPAN_KIND_SERVER: "server", Span.SPAN_KIND_CLIENT: "client",
         Span.SPAN_KIND_PRODUCER: "producer", Span.SPAN_KIND_CONSUMER: "consumer"}
STATUSES = {Status.STATUS_CODE_OK: "ok", Status.STATUS_CODE_ERROR: "error"}


def value(any_value):
    """An OTLP AnyValue as plain JSON."""
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return attributes(any_value.kvlist_value.values)
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, kind) if kind else None


def attributes(key_values) -> dict:
    return {kv.key: value(kv.value) for kv in key_values}


def spans(request: ExportTraceServiceRequest):
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "traceId": span.trace_id.hex(),
                    "spanId": span.span_id.hex(),
                    "parentSpanId": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": KINDS.get(span.kind, "unspecified"),
                    "startNs": span.start_time_unix_nano,
                    "endNs": span.end_time_unix_nano,
                    "status": STATUSES.get(span.status.code, "unset"),
                    "statusMessage": span.status.message,
                    "service": resource.get("service.name", ""),
                    "namespace": resource.get("service.namespace", ""),
                    "attributes": attributes(span.attributes),
                    "events": [{"name": e.name, "timeNs": e.time_unix_nano, "attributes": attributes(e.attributes)}
                               for e in span.events],
                }


def handler_for(out: Path):
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the name http.server calls)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/v1/traces":
                return self.answer(404, b"")
            if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/x-protobuf":
                return self.answer(415, b"")
            request = ExportTraceServiceRequest()
            try:
                request.ParseFromString(body)
            except DecodeError:
                return self.answer(400, b"")
            lines = "".join(json.dumps(span, separators=(",", ":")) + "\n" for span in spans(request))
            with lock, out.open("a") as file:
                file.write(lines)
            self.answer(200, ExportTraceServiceResponse().SerializeToString())

        def answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
            pass  # a line per export would drown the log

    return Receiver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4318)
    parser.add_argument("--out", type=Path, required=True, help="JSON lines file the spans are appended to")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(args.out))
    print(f"OTLP/HTTP receiver on http://{args.host}:{args.port}/v1/traces -> {args.out}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
