"""Bench mode for moto: DynamoDB's ConsumedCapacity as DynamoDB bills it.

A request that asks for `ReturnConsumedCapacity` gets it from moto, but as constants
(moto 5.2, moto/dynamodb/responses.py: PutItem, Query, Scan, DeleteItem 1.0; GetItem,
UpdateItem 0.5; BatchGetItem one per key; BatchWriteItem 1.0 per table; TransactGetItems
2 per item found; TransactWriteItems an empty list), whatever the items' sizes. This
WSGI layer replaces them with the units computed from the items themselves, by the
rules of cost.py (DynamoDB Developer Guide: 4 KB read units, 1 KB write units, the
larger of the item before and after, transactions twice, a failed condition still
charged, every GSI the item is in written too): it reads each item the request names
from moto's own tables just before and just after moto serves it. It must run inside
moto_server's one-DynamoDB-request-at-a-time turn, so nothing changes in between.

One departure from AWS, for counting's sake: a write refused by its condition (or a
cancelled transaction) is billed by DynamoDB but its error carries no ConsumedCapacity;
here the error body carries it too, so the caller can count what AWS would bill.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable

import cost

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def _backends():
    from moto.dynamodb.models import dynamodb_backends

    for regions in dynamodb_backends.values():
        for region, backend in list(regions.items()):
            if region != "global":
                yield backend


def _table(name: str):
    for backend in _backends():
        if name in backend.tables:
            return backend.tables[name]
    return None


def _key_of(table, item: dict) -> dict:
    key = {table.hash_key_attr: item[table.hash_key_attr]}
    if table.range_key_attr:
        key[table.range_key_attr] = item[table.range_key_attr]
    return key


def _item(table_name: str, key: dict) -> dict | None:
    """The item under `key` as DynamoDB JSON, or None."""
    for backend in _backends():
        if table_name in backend.tables:
            found = backend.get_item(table_name, key)
            return found.to_json()["Attributes"] if found else None
    return None


def _gsis_holding(table_name: str, *items: dict | None) -> int:
    """GSIs of the table any of the items is in (it has every key attribute of the index)."""
    table = _table(table_name)
    if table is None:
        return 0
    return sum(1 for index in table.global_indexes
               if any(item and all(a in item for a in index.schema_key_attrs) for item in items))


def _size(item: dict | None) -> int | None:
    return None if item is None else cost.item_size(item)


class _Write:
    """One item a write touches: where, and how (PutItem / UpdateItem / DeleteItem / ConditionCheck)."""

    def __init__(self, table: str, key: dict, kind: str, transactional: bool) -> None:
        self.table, self.key, self.kind, self.transactional = table, key, kind, transactional
        self.before = _item(table, key)
        self.after: dict | None = None

    def read_after(self) -> None:
        self.after = _item(self.table, self.key)

    def units(self, failed: bool) -> tuple[float, float]:
        """(read units, write units)."""
        if self.kind == "ConditionCheck":
            if cost.CONDITION_CHECK_BILLED_AS == "write":
                return 0.0, float(2 * max(1, math.ceil((_size(self.before) or 0) / cost.WRITE_UNIT)))
            return cost.read_units([_size(self.before) or 0], "transactional"), 0.0
        gsis = 0 if failed else _gsis_holding(self.table, self.before, self.after)
        return 0.0, float(cost.write_units(_size(self.before), None if failed else _size(self.after),
                                           self.transactional, failed, gsis))


def _writes(operation: str, request: dict) -> list[_Write]:
    def key(table: str, action: dict) -> dict:
        if "Key" in action:
            return action["Key"]
        return _key_of(_table(table), action["Item"])

    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        table = request["TableName"]
        return [_Write(table, key(table, request), operation, False)]
    if operation == "TransactWriteItems":
        out = []
        for entry in request["TransactItems"]:
            (kind, action), = entry.items()
            kind = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}.get(kind, kind)
            out.append(_Write(action["TableName"], key(action["TableName"], action), kind, True))
        return out
    if operation == "BatchWriteItem":
        return [_Write(table, key(table, request_.get("PutRequest") or request_["DeleteRequest"]),
                       "PutItem" if "PutRequest" in request_ else "DeleteItem", False)
                for table, requests in request["RequestItems"].items() for request_ in requests]
    return []


def _reads(operation: str, request: dict, response: dict) -> list[tuple[str, float]]:
    """(table, read units) of a read."""
    def consistency(r: dict) -> str:
        return "strong" if r.get("ConsistentRead") else "eventual"

    if operation == "GetItem":
        table = request["TableName"]
        return [(table, cost.read_units([_size(_item(table, request["Key"])) or 0], consistency(request)))]
    if operation == "BatchGetItem":
        return [(table, cost.read_units([_size(_item(table, k)) or 0 for k in spec["Keys"]], consistency(spec)))
                for table, spec in request["RequestItems"].items()]
    if operation == "TransactGetItems":
        gets = [entry["Get"] for entry in request["TransactItems"]]
        return [(g["TableName"], cost.read_units([_size(_item(g["TableName"], g["Key"])) or 0], "transactional"))
                for g in gets]
    if operation in ("Query", "Scan"):
        table_name = request["TableName"]
        table = _table(table_name)
        # Billed on the whole items read (a projection or filter does not lower it).
        sizes = [_size(_item(table_name, _key_of(table, i))) or 0 for i in response.get("Items", [])]
        return [(table_name, cost.read_units(sizes, consistency(request), "Query"))]
    return []


def _capacity(per_table: dict[str, list[float]]) -> list[dict]:
    return [{"TableName": t, "CapacityUnits": r + w, "ReadCapacityUnits": r, "WriteCapacityUnits": w}
            for t, (r, w) in per_table.items()]


def billed_capacity(app: WsgiApp) -> WsgiApp:
    """`app` (moto), with ConsumedCapacity computed from item sizes for the requests that ask."""

    def serve(environ: dict, start_response: Callable) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return app(environ, start_response)
        if request.get("ReturnConsumedCapacity", "NONE") == "NONE":
            return app(environ, start_response)
        operation = target.split(".", 1)[1]
        try:
            writes = _writes(operation, request)
        except (KeyError, TypeError, AttributeError):
            writes = []  # a malformed request: moto answers it
        answer: dict = {}

        def remember(status, headers, exc_info=None):
            answer.update(status=status, headers=headers, exc_info=exc_info)

        raw = b"".join(app(environ, remember))
        failed = not answer["status"].startswith("200")
        try:
            response = json.loads(raw or b"{}")
            per_table: dict[str, list[float]] = {}
            for write in writes:
                write.read_after()
                r, w = write.units(failed)
                units = per_table.setdefault(write.table, [0.0, 0.0])
                units[0] += r
                units[1] += w
            if not failed:
                for table, r in _reads(operation, request, response):
                    per_table.setdefault(table, [0.0, 0.0])[0] += r
            if per_table:
                tables = _capacity(per_table)
                single = operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan")
                response["ConsumedCapacity"] = tables[0] if single else tables
                raw = json.dumps(response).encode()
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # moto's answer, as it was
        headers = [(k, v) for k, v in answer["headers"] if k.lower() != "content-length"]
        start_response(answer["status"], headers + [("Content-Length", str(len(raw)))], answer["exc_info"])
        return [raw]

    return serve
