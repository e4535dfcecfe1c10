//! The lines `bookish_shared::metrics` writes, read back as CloudWatch would. A test file
//! of its own: the metrics recorder is global to the process.

use std::collections::BTreeMap;
use std::time::Duration;

use bookish_shared::metrics::{self, Dependency};
use bookish_shared::money::{Currency, Money};
use serde_json::Value;

/// (dimension names, metric name) -> (unit, value) of every metric in the lines.
fn read(lines: &[u8]) -> BTreeMap<(Vec<String>, String), (Option<String>, Value)> {
    let mut metrics = BTreeMap::new();
    for line in std::str::from_utf8(lines).unwrap().lines() {
        let doc: Value = serde_json::from_str(line).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Bookish");
        assert_eq!((doc["service"].as_str(), doc["function"].as_str()), (Some("order"), Some("order-api")));
        let sets = directive["Dimensions"].as_array().unwrap();
        assert_eq!(sets.len(), 1, "{line}");
        let dimensions: Vec<String> = sets[0].as_array().unwrap().iter().map(|d| d.as_str().unwrap().into()).collect();
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap().to_owned();
            let unit = metric.get("Unit").map(|u| u.as_str().unwrap().to_owned());
            metrics.insert((dimensions.clone(), name.clone()), (unit, doc[&name].clone()));
        }
    }
    metrics
}

fn key(dimensions: &[&str], name: &str) -> (Vec<String>, String) {
    (dimensions.iter().map(|d| d.to_string()).collect(), name.to_owned())
}

#[tokio::test(flavor = "current_thread")]
async fn each_metric_has_the_contracts_dimensions_and_unit() {
    metrics::init("order", "order-api");
    metrics::request("POST /v1/orders", 201, Duration::from_millis(12));
    metrics::order_placed();
    metrics::order_confirmed(&Money::new(2968, Currency::parse("USD").unwrap()));
    metrics::order_rejected("OUT_OF_STOCK");
    metrics::timed(Dependency::Stripe, async {}).await;
    let mut lines = Vec::new();
    metrics::flush_to(&mut lines).unwrap();
    let got = read(&lines);

    let plain = ["service", "function"];
    let count = Some("Count".to_owned());
    assert_eq!(got[&key(&plain, "ColdStart")], (count.clone(), 1.into()));
    assert_eq!(got[&key(&plain, "Requests")], (count.clone(), 1.into()));
    assert_eq!(got[&key(&plain, "OrdersPlaced")], (count.clone(), 1.into()));
    assert_eq!(got[&key(&plain, "OrdersConfirmed")], (count.clone(), 1.into()));
    assert_eq!(got[&key(&["service", "function", "reason"], "OrdersRejected")], (count.clone(), 1.into()));
    assert_eq!(got[&key(&["service", "function", "currency"], "Revenue")], (None, 2968.into()));
    let by_route = ["service", "function", "route", "statusClass"];
    assert_eq!(got[&key(&by_route, "Requests")], (count, 1.into()));
    let (unit, latency) = &got[&key(&by_route, "RequestLatency")];
    assert_eq!((unit.as_deref(), latency.as_array().map(Vec::len)), (Some("Milliseconds"), Some(1)));
    assert_eq!(got[&key(&plain, "RequestLatency")].0.as_deref(), Some("Milliseconds"));
    assert_eq!(
        got[&key(&["service", "function", "dependency"], "DependencyLatency")].0.as_deref(),
        Some("Milliseconds")
    );
    assert_eq!(got.len(), 10, "{got:?}");

    // What was written is not written again: the cold start is counted once.
    metrics::batch(3, 0);
    let mut lines = Vec::new();
    metrics::flush_to(&mut lines).unwrap();
    let got = read(&lines);
    assert_eq!(got.keys().map(|(_, name)| name.as_str()).collect::<Vec<_>>(), ["BatchSize"], "{got:?}");
}
