"""Operability, read from template.yaml: every function's logs are kept for a while, every
alarm tells a person what happened and reaches AlarmTopic, every function, table, the
API and the outbox stream are covered, and the dashboard is valid JSON that names only
metrics the functions emit (the metric contract below)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
import provision  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
import metric_contract  # noqa: E402

# metric -> the dimension sets it is emitted with (tests/metric_contract.py).
CONTRACT = {name: {frozenset(dims) for dims in sets} for name, (_, sets, _) in metric_contract.CONTRACT.items()}
# Who emits the business metrics the alarms rely on (the contract's "emitted by").
EMITTED_BY = {"OrdersPlaced": "order-api", "OrdersConfirmed": "order-stock-events"}


@pytest.fixture(scope="module")
def template():
    return provision.store_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def resources(template):
    return template["Resources"]


def of_type(resources, rtype):
    return {k: v for k, v in resources.items() if v["Type"] == rtype}


@pytest.fixture(scope="module")
def functions(resources):
    return of_type(resources, "AWS::Serverless::Function")


@pytest.fixture(scope="module")
def alarms(resources):
    return of_type(resources, "AWS::CloudWatch::Alarm")


@pytest.fixture(scope="module")
def service_of():
    """Binary -> service: functions/<service>/src/bin/<binary>.rs."""
    return {path.stem: path.parts[-4] for path in (ROOT / "functions").glob("*/src/bin/*.rs")}


def metric_queries(alarm: dict) -> list[dict]:
    """An alarm's metrics as [{namespace, name, dims, stat}], single-metric or metric math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [{"namespace": props["Namespace"], "name": props["MetricName"],
                 "dims": {d["Name"]: d["Value"] for d in props.get("Dimensions", [])},
                 "stat": props.get("Statistic") or props.get("ExtendedStatistic")}]
    found = []
    for query in props["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            found.append({"namespace": metric["Namespace"], "name": metric["MetricName"],
                          "dims": {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
                          "stat": query["MetricStat"]["Stat"]})
    return found


def timeout_ms(template: dict, function: dict) -> int:
    globals_ = template.get("Globals", {}).get("Function", {})
    return int(function["Properties"].get("Timeout", globals_.get("Timeout", 3))) * 1000


def test_every_function_has_a_log_group_with_retention(resources, functions):
    for name, function in functions.items():
        group = function["Properties"].get("LoggingConfig", {}).get("LogGroup", {})
        assert isinstance(group, dict) and "Ref" in group, f"{name}: no LoggingConfig.LogGroup"
        log_group = resources[group["Ref"]]
        assert log_group["Type"] == "AWS::Logs::LogGroup", name
        assert int(log_group["Properties"].get("RetentionInDays", 0)) > 0, f"{name}: logs kept forever"


# The platform's alarms name the topic; a service's find it through the platform's SSM parameter.
ALARM_TOPIC_IN_PLATFORM = [{"Ref": "AlarmTopic"}]
ALARM_TOPIC_FROM_A_SERVICE = [{"Fn::Sub": "{{resolve:ssm:/bookish/${Stage}/platform/alarm-topic-arn}}"}]


def test_every_alarm_explains_itself_and_notifies_the_topic(alarms):
    assert alarms
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        description = props.get("AlarmDescription", "")
        # CloudWatch's limit is 1024 characters; a sentence of what happened at least.
        assert 40 <= len(description) <= 1024, f"{name}: {description!r}"
        assert props.get("AlarmActions") in (ALARM_TOPIC_IN_PLATFORM, ALARM_TOPIC_FROM_A_SERVICE), name
        assert props.get("TreatMissingData") in {"notBreaching", "breaching", "ignore", "missing"}, name


def test_metric_math_alarms_return_one_series_from_at_most_ten_metrics(alarms):
    for name, alarm in alarms.items():
        queries = alarm["Properties"].get("Metrics")
        if queries is None:
            continue
        returned = [q for q in queries if q.get("ReturnData", True)]
        assert len(returned) == 1 and "Expression" in returned[0], name
        assert sum(1 for q in queries if "MetricStat" in q) <= 10, name


def test_every_function_has_error_throttle_and_duration_alarms(template, functions, alarms):
    covered: dict[tuple[str, str], list[dict]] = {}
    for alarm in alarms.values():
        for query in metric_queries(alarm):
            function = query["dims"].get("FunctionName")
            if query["namespace"] == "AWS/Lambda" and isinstance(function, dict):
                covered.setdefault((function.get("Ref"), query["name"]), []).append(alarm["Properties"])
    for name, function in functions.items():
        assert (name, "Errors") in covered, f"{name}: no Errors alarm"
        assert (name, "Throttles") in covered, f"{name}: no Throttles alarm"
        durations = covered.get((name, "Duration"), [])
        assert durations, f"{name}: no Duration alarm"
        # "Near the timeout": 80% of it, so the alarm tracks a changed Timeout.
        assert [d["Threshold"] for d in durations] == [timeout_ms(template, function) * 0.8], name


def stream_consumer(functions: dict, table: str) -> str:
    for name, function in functions.items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "DynamoDB" and event["Properties"]["Stream"] == {"Fn::GetAtt": [table, "StreamArn"]}:
                return name
    raise AssertionError(f"nothing consumes {table}'s stream")


def test_the_orders_stream_consumer_lag_is_alarmed(functions, alarms):
    consumer = stream_consumer(functions, "OrdersTable")
    lag = [q for a in alarms.values() for q in metric_queries(a)
           if q["name"] == "IteratorAge" and q["dims"].get("FunctionName") == {"Ref": consumer}]
    assert [q["stat"] for q in lag] == ["Maximum"]


def test_every_table_and_index_has_a_throttle_alarm(resources, alarms):
    watched = set()
    for alarm in alarms.values():
        for query in metric_queries(alarm):
            if query["namespace"] == "AWS/DynamoDB":
                table = query["dims"]["TableName"]["Ref"]
                watched.add((table, query["dims"].get("GlobalSecondaryIndexName"), query["name"]))
    for table, res in of_type(resources, "AWS::DynamoDB::Table").items():
        indexes = [None] + [i["IndexName"] for i in res["Properties"].get("GlobalSecondaryIndexes", [])]
        for index in indexes:
            for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
                assert (table, index, metric) in watched, (table, index, metric)


def test_the_api_5xx_rate_and_p99_latency_are_alarmed(alarms):
    stage = {"ApiId": {"Ref": "HttpApi"}, "Stage": "$default"}
    rate = [a for a in alarms.values()
            if {(q["name"], q["stat"]) for q in metric_queries(a) if q["dims"] == stage} == {("5xx", "Sum"),
                                                                                          ("Count", "Sum")}]
    assert len(rate) == 1
    latency = [a for a in alarms.values()
               if [(q["name"], q["stat"], q["dims"]) for q in metric_queries(a)] == [("Latency", "p99", stage)]]
    assert len(latency) == 1


def test_the_business_alarm_follows_the_contract(alarms, service_of):
    business = {name: alarm for name, alarm in alarms.items()
                if any(q["namespace"] == "Bookish" for q in metric_queries(alarm))}
    assert list(business) == ["OrdersNotConfirmedAlarm"]
    alarm = business["OrdersNotConfirmedAlarm"]["Properties"]
    queries = {q["name"]: q for q in metric_queries(business["OrdersNotConfirmedAlarm"])}
    assert set(queries) == {"OrdersPlaced", "OrdersConfirmed"}
    for metric, query in queries.items():
        binary = EMITTED_BY[metric]
        assert query["dims"] == {"service": service_of[binary], "function": binary}, metric
        assert frozenset(query["dims"]) in CONTRACT[metric]
        assert query["stat"] == "Sum"
    periods = {q["MetricStat"]["Period"] for q in alarm["Metrics"] if "MetricStat" in q}
    assert periods == {900}, "placed but none confirmed *in 15 minutes*"


# --- The dashboard ------------------------------------------------------------------

PSEUDO = {"AWS::Region": "us-east-1", "AWS::StackName": "bookish", "AWS::AccountId": "123456789012",
          "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "Stage": "dev"}


def substituted(sub, resources: dict) -> str:
    """Fn::Sub text with every ${...} replaced by a stand-in, after checking it names something."""
    text = sub if isinstance(sub, str) else sub[0]

    def stand_in(match):
        name = match.group(1)
        if name in PSEUDO:
            return PSEUDO[name]
        assert name.split(".")[0] in resources, f"the dashboard refers to {name}, which is not in the template"
        return f"physical-{name.replace('.', '-')}"

    return re.sub(r"\$\{([^!}][^}]*)\}", stand_in, text)


@pytest.fixture(scope="module")
def dashboard(resources):
    boards = of_type(resources, "AWS::CloudWatch::Dashboard")
    assert len(boards) == 1
    body = next(iter(boards.values()))["Properties"]["DashboardBody"]
    return json.loads(substituted(body["Fn::Sub"], resources))


def dashboard_metrics(dashboard: dict) -> tuple[list[list], list[str]]:
    """Metric arrays ([namespace, name, dim, value, ..., {options}?]) and SEARCH expressions."""
    arrays, expressions = [], []
    for widget in dashboard["widgets"]:
        for metric in widget.get("properties", {}).get("metrics", []):
            if isinstance(metric[0], dict):
                expressions.append(metric[0]["expression"])
            else:
                arrays.append([m for m in metric if not isinstance(m, dict)])
    return arrays, expressions


def test_the_dashboard_is_valid_and_laid_out_on_the_grid(dashboard):
    assert dashboard["widgets"]
    for widget in dashboard["widgets"]:
        assert widget["x"] + widget["width"] <= 24, widget
        if widget["type"] == "metric":
            assert widget["properties"]["metrics"] and widget["properties"]["region"] == "us-east-1"


def test_every_bookish_metric_on_the_dashboard_is_in_the_contract(dashboard, service_of):
    arrays, expressions = dashboard_metrics(dashboard)
    named = 0
    for namespace, name, *dims in arrays:
        if namespace != "Bookish":
            continue
        named += 1
        dims = dict(zip(dims[::2], dims[1::2]))
        assert name in CONTRACT, name
        assert frozenset(dims) in CONTRACT[name], (name, dims)
        assert service_of[dims["function"]] == dims["service"], (name, dims)
    for expression in expressions:
        schema = re.search(r"\{([^}]*)\}", expression).group(1).split(",")
        if schema[0] != "Bookish":
            continue
        named += 1
        name = re.search(r'MetricName="([^"]+)"', expression).group(1)
        assert name in CONTRACT and frozenset(schema[1:]) in CONTRACT[name], expression
    assert named, "the dashboard shows no Bookish metric"


def test_the_dashboard_shows_what_the_issue_asks_for(dashboard, functions, resources, service_of):
    arrays, expressions = dashboard_metrics(dashboard)
    shown = {(a[0], a[1], a[3]) for a in arrays}
    # The dashboard lives in the platform's stack: it names the services' functions and queues
    # by their physical names, which the service templates fix (bookish-<stage>-...).
    for name, function in functions.items():
        binary = function["Metadata"]["BuildProperties"]["Binary"]
        assert ("AWS/Lambda", "Duration", physical_name(function["Properties"]["FunctionName"])) in shown, name
        assert any(a[:2] == ["Bookish", "ColdStart"] and binary in a for a in arrays), binary
    for funnel in ("OrdersPlaced", "OrdersConfirmed", "OrdersCancelled"):
        assert any(a[:2] == ["Bookish", funnel] for a in arrays), funnel
    assert any('MetricName="OrdersRejected"' in e for e in expressions)
    for name, queue in of_type(resources, "AWS::SQS::Queue").items():
        queue_name = physical_name(queue["Properties"]["QueueName"])
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue_name) in shown, name
    per_route = {re.search(r'MetricName="([^"]+)"', e).group(1) for e in expressions
                 if "{AWS/ApiGateway,ApiId,Method,Resource,Stage}" in e}
    assert per_route == {"Count", "4xx", "5xx", "Latency"}


def physical_name(value) -> str:
    return substituted(value["Fn::Sub"], {})


def test_per_route_api_metrics_are_on(resources):
    settings = resources["HttpApiStage"]["Properties"]["DefaultRouteSettings"]
    assert settings.get("DetailedMetricsEnabled") is True
