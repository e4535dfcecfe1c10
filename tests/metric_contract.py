"""Bookish's metric contract (namespace Bookish, EMF), as functions/shared/src/metrics.rs
emits it: which function may emit each metric, in which unit and with which dimension sets.
tests/test_metrics.py checks the lines the functions write against it, and
tests/infra/test_operations.py checks the template's alarms and dashboard name only it."""

SERVICES = {
    "catalog-read": "catalog", "catalog-admin": "catalog", "cart": "cart",
    "order-api": "order", "order-publisher": "order", "order-settler": "order", "order-stock-events": "order",
    "inventory-api": "inventory", "inventory-events": "inventory", "notification-events": "notification",
}
HTTP = {"catalog-read", "catalog-admin", "cart", "order-api", "inventory-api"}
CONSUMERS = {"order-publisher", "order-stock-events", "inventory-events", "notification-events"}
ORDER = {f for f, s in SERVICES.items() if s == "order"}
BASE = ("service", "function")

# name -> (unit, allowed dimension sets, functions that may emit it)
CONTRACT = {
    "ColdStart": ("Count", {BASE}, set(SERVICES)),
    "Requests": ("Count", {BASE, BASE + ("route", "statusClass")}, HTTP),
    "RequestLatency": ("Milliseconds", {BASE, BASE + ("route", "statusClass")}, HTTP),
    "BatchSize": ("Count", {BASE}, CONSUMERS),
    "BatchFailures": ("Count", {BASE}, CONSUMERS),
    "DependencyLatency": ("Milliseconds", {BASE + ("dependency",)}, ORDER | {"notification-events"}),
    "OrdersPlaced": ("Count", {BASE}, ORDER),
    "OrdersConfirmed": ("Count", {BASE}, ORDER),
    "OrdersRejected": ("Count", {BASE + ("reason",)}, ORDER),
    "OrdersCancelled": ("Count", {BASE}, ORDER),
    "Revenue": (None, {BASE + ("currency",)}, ORDER),
    "StockReserved": ("Count", {BASE}, {"inventory-events"}),
    "StockRejected": ("Count", {BASE}, {"inventory-events"}),
    "EmailsSent": ("Count", {BASE}, {"notification-events"}),
    "SmsSent": ("Count", {BASE}, {"notification-events"}),
}
# Bounded values of the extra dimensions: nothing per order, user or book.
DIMENSION_VALUES = {
    "statusClass": {"1xx", "2xx", "3xx", "4xx", "5xx"},
    "dependency": {"stripe", "ses", "sns"},
    "reason": {"OUT_OF_STOCK", "PAYMENT_DECLINED", "PAYMENT_FAILED", "TIMED_OUT"},
}
