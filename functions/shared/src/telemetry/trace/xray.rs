//! X-Ray segment documents from finished spans, sent to the X-Ray daemon over UDP.
//!
//! What opentelemetry-aws's `XrayExporter` (default translator, no subsegment nesting)
//! sent, without its regular expressions: regex, regex-automata, regex-syntax and
//! aho-corasick were ~570 KiB of every function's code (issue #11's zip-size budget).
//! - A server span is a segment; any other span is an independent subsegment
//!   (`"type": "subsegment"`, with `trace_id` and `parent_id`). One document per span,
//!   one UDP datagram per document: X-Ray joins them by id.
//! - `name`: `peer.service`, `aws.service`, `rpc.service` of an AWS SDK call, `db.service`,
//!   the function's name for a server span, else the span's name; characters X-Ray
//!   refuses are dropped (they dropped the whole span).
//! - `fault`/`error`/`throttle` from the status code and the span status, `cause` from
//!   `exception` events; `http` and `aws` from the semantic-convention attributes.
//! - Annotations (searchable): `order.id` and `annotation.*` attributes. Metadata: every
//!   other span attribute no field above took, under the `default` namespace as X-Ray's
//!   own SDKs write it (they dropped those attributes unless asked to keep them).

use std::borrow::Cow;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, ToSocketAddrs, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{KeyValue, SpanId, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use serde_json::{json, Map, Value as Json};

/// Precedes every document in a datagram: the daemon's protocol.
const HEADER: &[u8] = b"{\"format\":\"json\",\"version\":1}\n";
/// The largest UDP payload over IPv4; the daemon reads datagrams of up to 64 KB.
const MAX_DATAGRAM: usize = 65_507;
/// X-Ray's limits on a name, an annotation value and the annotations of one document.
const MAX_NAME_CHARS: usize = 200;
const MAX_ANNOTATION_CHARS: usize = 1000;
const MAX_ANNOTATIONS: usize = 50;
/// Attributes indexed as annotations without the `annotation.` prefix: what on-call
/// searches traces by.
const INDEXED: &[&str] = &["order.id"];
/// What goes when a document outgrows a datagram, least useful first.
const SHED_WHEN_TOO_LARGE: &[&str] = &["metadata", "cause", "annotations", "http", "aws"];

/// Sends each finished span to the X-Ray daemon as a segment or subsegment document.
#[derive(Debug)]
pub struct XrayDaemonExporter {
    socket: UdpSocket,
    /// `service.name` of the tracer provider's resource: the name of a server span.
    service_name: String,
}

impl XrayDaemonExporter {
    /// An exporter sending to `address` (`host:port`, as `AWS_XRAY_DAEMON_ADDRESS` gives it).
    pub fn connect(address: &str) -> io::Result<Self> {
        let daemon = address.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("no address for the X-Ray daemon in {address:?}"))
        })?;
        let socket = match daemon {
            std::net::SocketAddr::V4(_) => UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?,
            std::net::SocketAddr::V6(_) => UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))?,
        };
        // A send must never hold up the invocation; a full socket buffer loses the segment.
        socket.set_nonblocking(true)?;
        socket.connect(daemon)?;
        Ok(Self { socket, service_name: String::new() })
    }
}

impl SpanExporter for XrayDaemonExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut failures = Vec::new();
        for span in &batch {
            let sent = datagram(document(span, &self.service_name)).and_then(|datagram| {
                self.socket.send(&datagram).map(drop).map_err(|err| format!("cannot send to the X-Ray daemon: {err}"))
            });
            if let Err(failure) = sent {
                failures.push(failure);
            }
        }
        match failures.first() {
            None => Ok(()),
            Some(first) => Err(OTelSdkError::InternalFailure(format!(
                "{} of {} spans not exported; first: {first}",
                failures.len(),
                batch.len()
            ))),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        let service_name = resource.get(&opentelemetry::Key::from_static_str("service.name"));
        self.service_name = service_name.map(|name| name.as_str().into_owned()).unwrap_or_default();
    }
}

/// The daemon's header and `document`, shedding parts of it until the datagram fits.
fn datagram(mut document: Map<String, Json>) -> Result<Vec<u8>, String> {
    let mut shed = SHED_WHEN_TOO_LARGE.iter();
    loop {
        let mut datagram = HEADER.to_vec();
        serde_json::to_writer(&mut datagram, &document).map_err(|err| err.to_string())?;
        if datagram.len() <= MAX_DATAGRAM {
            return Ok(datagram);
        }
        let Some(field) = shed.next() else {
            return Err(format!("a segment document of {} bytes does not fit in a datagram", datagram.len()));
        };
        document.remove(*field);
    }
}

/// The X-Ray document for one span.
pub(super) fn document(span: &SpanData, service_name: &str) -> Map<String, Json> {
    let attributes = Attributes(&span.attributes);
    let server = span.span_kind == SpanKind::Server;
    let parent = (span.parent_span_id != SpanId::INVALID).then(|| span.parent_span_id.to_string());
    let aws_api = attributes.text("rpc.system").as_deref() == Some("aws-api");

    let name = sanitized_name(
        &attributes
            .text("peer.service")
            .or_else(|| attributes.text("aws.service"))
            .or_else(|| attributes.text("rpc.service").filter(|_| aws_api))
            .or_else(|| attributes.text("db.service"))
            .or_else(|| (server && !service_name.is_empty()).then_some(Cow::Borrowed(service_name)))
            .unwrap_or(Cow::Borrowed(&span.name)),
    );
    let mut document = Map::new();
    // A span without a parent is a segment too: a subsegment must name its parent.
    if !server && parent.is_some() {
        document.insert("type".into(), json!("subsegment"));
    }
    document.insert("name".into(), json!(name));
    document.insert("id".into(), json!(span.span_context.span_id().to_string()));
    document.insert("trace_id".into(), json!(xray_trace_id(&span.span_context.trace_id().to_string())));
    document.insert("start_time".into(), json!(seconds(span.start_time)));
    document.insert("end_time".into(), json!(seconds(span.end_time)));
    if let Some(parent) = parent {
        document.insert("parent_id".into(), json!(parent));
    }
    if !server {
        if aws_api || attributes.text("aws.service").is_some_and(|service| !service.is_empty()) {
            document.insert("namespace".into(), json!("aws"));
        } else if span.span_kind == SpanKind::Client {
            document.insert("namespace".into(), json!("remote"));
        }
    }
    insert_unless_empty(&mut document, "http", http(&attributes, server));
    insert_unless_empty(&mut document, "aws", aws(&attributes, server));
    error_details(&mut document, span, &attributes);
    let (annotations, metadata) = annotations_and_metadata(&attributes);
    insert_unless_empty(&mut document, "annotations", annotations);
    if !metadata.is_empty() {
        document.insert("metadata".into(), json!({ "default": metadata }));
    }
    document
}

/// `name` with only what X-Ray accepts in a name (letters, numbers, spaces and
/// `_ . : / % & # = + \ - @`), at most 200 characters; `unnamed` when nothing is left.
pub(super) fn sanitized_name(name: &str) -> String {
    let sanitized: String = name.chars().filter(|&c| allowed_in_name(c)).take(MAX_NAME_CHARS).collect();
    if sanitized.is_empty() {
        "unnamed".to_owned()
    } else {
        sanitized
    }
}

fn allowed_in_name(c: char) -> bool {
    // Unicode separators (`\p{Z}`) are the whitespace characters that are not control codes.
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/%&#=+\\-@".contains(c)
}

/// An annotation key: letters, digits and `_`, anything else replaced by `_`.
fn annotation_key(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// `1-{8 hex digits: the epoch seconds}-{24 hex digits}` from OpenTelemetry's 32 hex digits.
fn xray_trace_id(hex: &str) -> String {
    format!("1-{}-{}", &hex[..8], &hex[8..])
}

fn seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

fn insert_unless_empty(document: &mut Map<String, Json>, field: &str, value: Map<String, Json>) {
    if !value.is_empty() {
        document.insert(field.into(), Json::Object(value));
    }
}

fn http(attributes: &Attributes<'_>, server: bool) -> Map<String, Json> {
    let mut request = Map::new();
    if let Some(method) = attributes.text("http.request.method").or_else(|| attributes.text("http.method")) {
        request.insert("method".into(), json!(method));
    }
    if let Some(url) = url(attributes, server) {
        request.insert("url".into(), json!(url));
    }
    if let Some(agent) = attributes.text("user_agent.original") {
        request.insert("user_agent".into(), json!(agent));
    }
    if let Some(client) = attributes.text("client.address") {
        request.insert("client_ip".into(), json!(client));
        if server {
            request.insert("x_forwarded_for".into(), json!(true));
        }
    }
    let mut response = Map::new();
    if let Some(status) = status_code(attributes) {
        response.insert("status".into(), json!(status));
    }
    let mut http = Map::new();
    insert_unless_empty(&mut http, "request", request);
    insert_unless_empty(&mut http, "response", response);
    http
}

/// `url.full`, or one put together from its parts when the span names a host.
fn url(attributes: &Attributes<'_>, server: bool) -> Option<String> {
    if let Some(full) = attributes.text("url.full").or_else(|| attributes.text("http.url")) {
        return Some(full.into_owned());
    }
    let (address, port) = if server { ("server.address", "server.port") } else { ("client.address", "client.port") };
    let host = attributes.text("url.domain").or_else(|| attributes.text(address))?;
    let port = attributes.integer("url.port").or_else(|| attributes.integer(port));
    let scheme =
        attributes.text("url.scheme").unwrap_or(Cow::Borrowed(if port == Some(443) { "https" } else { "http" }));
    let port = match (scheme.as_ref(), port) {
        ("http", Some(80)) | ("https", Some(443)) | (_, None) => String::new(),
        (_, Some(port)) => format!(":{port}"),
    };
    let path = attributes.text("url.path").map(|path| slash_led(&path, '/')).unwrap_or_default();
    let query = attributes.text("url.query").map(|query| slash_led(&query, '?')).unwrap_or_default();
    Some(format!("{scheme}://{host}{port}{path}{query}"))
}

fn slash_led(part: &str, lead: char) -> String {
    if part.starts_with(lead) {
        part.to_owned()
    } else {
        format!("{lead}{part}")
    }
}

fn status_code(attributes: &Attributes<'_>) -> Option<i64> {
    attributes.integer("http.response.status_code").or_else(|| attributes.integer("http.status_code"))
}

fn aws(attributes: &Attributes<'_>, server: bool) -> Map<String, Json> {
    let mut aws = Map::new();
    if let Some(account) = attributes.text("cloud.account.id") {
        aws.insert("account_id".into(), json!(account));
    }
    if !server {
        let fields: [(&str, &[&str]); 5] = [
            ("operation", &["aws.operation", "rpc.method"]),
            ("region", &["aws.region", "cloud.region"]),
            ("request_id", &["aws.request_id"]),
            ("queue_url", &["aws.sqs.queue.url", "aws.queue.url"]),
            ("table_name", &["aws.table.name"]),
        ];
        for (field, keys) in fields {
            if let Some(value) = keys.iter().find_map(|key| attributes.text(key)) {
                aws.insert(field.into(), json!(value));
            }
        }
        if let Some(Value::Array(opentelemetry::Array::String(tables))) = attributes.get("aws.dynamodb.table_names") {
            let tables: Vec<&str> = tables.iter().map(|table| table.as_str()).collect();
            if let Some(first) = tables.first() {
                aws.insert("table_name".into(), json!(first));
                aws.insert("table_names".into(), json!(tables));
            }
        }
    }
    aws.insert("xray".into(), json!({ "sdk": "opentelemetry for rust" }));
    aws
}

/// `fault` (5xx, or a span in error without a status code), `error` (4xx), `throttle`
/// (429) and the `cause`'s exceptions, when the span is in error or recorded one.
fn error_details(document: &mut Map<String, Json>, span: &SpanData, attributes: &Attributes<'_>) {
    let in_error = matches!(span.status, Status::Error { .. });
    let exceptions: Vec<Json> = span
        .events
        .iter()
        .enumerate()
        .filter(|(_, event)| event.name == "exception")
        .map(|(index, event)| exception(span, index, &event.attributes))
        .collect();
    if !in_error && exceptions.is_empty() {
        return;
    }
    let flags: &[&str] = match status_code(attributes) {
        Some(429) => &["throttle", "error"],
        Some(400..=499) => &["error"],
        Some(500..=599) => &["fault"],
        _ if in_error => &["fault"],
        _ => &[],
    };
    for flag in flags {
        document.insert((*flag).into(), json!(true));
    }
    // X-Ray refuses a cause on a document with none of the three flags.
    if !flags.is_empty() && !exceptions.is_empty() {
        document.insert("cause".into(), json!({ "exceptions": exceptions }));
    }
}

fn exception(span: &SpanData, index: usize, attributes: &[KeyValue]) -> Json {
    let attributes = Attributes(attributes);
    // Unique within the trace without a random number generator: the span's id, varied.
    let id = u64::from_be_bytes(span.span_context.span_id().to_bytes()) ^ (index as u64 + 1);
    let mut exception = Map::new();
    exception.insert("id".into(), json!(format!("{id:016x}")));
    let message = attributes.text("exception.message").or_else(|| match &span.status {
        Status::Error { description } if !description.is_empty() => Some(Cow::Borrowed(description.as_ref())),
        _ => None,
    });
    if let Some(message) = message {
        exception.insert("message".into(), json!(message));
    }
    if let Some(kind) = attributes.text("exception.type") {
        exception.insert("type".into(), json!(kind));
    }
    if matches!(span.span_kind, SpanKind::Client | SpanKind::Producer) {
        exception.insert("remote".into(), json!(true));
    }
    Json::Object(exception)
}

/// Keys the document's own fields take; everything else becomes metadata.
const MAPPED: &[&str] = &[
    "peer.service",
    "aws.service",
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "db.service",
    "http.request.method",
    "http.method",
    "http.response.status_code",
    "http.status_code",
    "url.full",
    "http.url",
    "url.scheme",
    "url.domain",
    "url.port",
    "url.path",
    "url.query",
    "server.address",
    "server.port",
    "client.address",
    "client.port",
    "user_agent.original",
    "cloud.account.id",
    "aws.operation",
    "aws.region",
    "cloud.region",
    "aws.request_id",
    "aws.sqs.queue.url",
    "aws.queue.url",
    "aws.table.name",
    "aws.dynamodb.table_names",
];

fn annotations_and_metadata(attributes: &Attributes<'_>) -> (Map<String, Json>, Map<String, Json>) {
    let mut annotations = Map::new();
    let mut metadata = Map::new();
    for KeyValue { key, value, .. } in attributes.0 {
        let key = key.as_str();
        if MAPPED.contains(&key) {
            continue;
        }
        let (indexed, key) = match (key.strip_prefix("annotation."), key.strip_prefix("metadata.")) {
            (Some(key), _) => (true, key),
            (_, Some(key)) => (false, key),
            _ => (INDEXED.contains(&key), key),
        };
        // What cannot be an annotation (too many, an array, too long) is kept as metadata.
        let annotation = match value {
            Value::String(text) if text.as_str().chars().count() <= MAX_ANNOTATION_CHARS => Some(json!(text.as_str())),
            Value::Bool(flag) => Some(json!(flag)),
            Value::I64(number) => Some(json!(number)),
            Value::F64(number) => Some(json!(number)),
            _ => None,
        };
        match annotation {
            Some(annotation) if indexed && annotations.len() < MAX_ANNOTATIONS => {
                annotations.insert(annotation_key(key), annotation);
            }
            _ => {
                metadata.insert(key.to_owned(), json_value(value));
            }
        }
    }
    (annotations, metadata)
}

fn json_value(value: &Value) -> Json {
    use opentelemetry::Array;
    match value {
        Value::Bool(flag) => json!(flag),
        Value::I64(number) => json!(number),
        Value::F64(number) => json!(number),
        Value::String(text) => json!(text.as_str()),
        Value::Array(Array::Bool(flags)) => json!(flags),
        Value::Array(Array::I64(numbers)) => json!(numbers),
        Value::Array(Array::F64(numbers)) => json!(numbers),
        Value::Array(Array::String(texts)) => json!(texts.iter().map(|text| text.as_str()).collect::<Vec<_>>()),
        other => json!(other.to_string()),
    }
}

/// A span's attributes, looked up by key: a span has a handful, a scan is enough.
struct Attributes<'a>(&'a [KeyValue]);

impl<'a> Attributes<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.iter().find(|attribute| attribute.key.as_str() == key).map(|attribute| &attribute.value)
    }

    fn text(&self, key: &str) -> Option<Cow<'a, str>> {
        match self.get(key)? {
            Value::String(text) => Some(Cow::Borrowed(text.as_str())),
            _ => None,
        }
    }

    fn integer(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::I64(number) => Some(*number),
            Value::String(text) => text.as_str().trim().parse().ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry::trace::{SpanContext, TraceFlags, TraceId, TraceState};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    const TRACE_ID: &str = "5759e988bd862e3fe1be46a994272793";

    fn span(kind: SpanKind, name: &'static str, parent: Option<u64>, attributes: Vec<KeyValue>) -> SpanData {
        let start = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from_hex(TRACE_ID).unwrap(),
                SpanId::from(0x53995c3f42cd8ad8),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: parent.map(SpanId::from).unwrap_or(SpanId::INVALID),
            parent_span_is_remote: false,
            span_kind: kind,
            name: name.into(),
            start_time: start,
            end_time: start + Duration::from_millis(500),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::default(),
        }
    }

    #[test]
    fn a_server_span_is_a_segment_named_after_the_function() {
        let mut request = span(
            SpanKind::Server,
            "GET /v1/books/{id}",
            Some(0x1122334455667788),
            vec![
                KeyValue::new("http.route", "GET /v1/books/{id}"),
                KeyValue::new("http.response.status_code", 503),
                KeyValue::new("order.id", "o-1"),
                KeyValue::new("correlation_id", "c-1"),
            ],
        );
        request.status = Status::error("");

        let document = Json::Object(document(&request, "catalog-read"));

        assert_eq!(
            document,
            json!({
                "name": "catalog-read",
                "id": "53995c3f42cd8ad8",
                "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
                "parent_id": "1122334455667788",
                "start_time": 1_700_000_000.25,
                "end_time": 1_700_000_000.75,
                "http": { "response": { "status": 503 } },
                "aws": { "xray": { "sdk": "opentelemetry for rust" } },
                "fault": true,
                "annotations": { "order_id": "o-1" },
                "metadata": { "default": { "http.route": "GET /v1/books/{id}", "correlation_id": "c-1" } },
            })
        );
    }

    #[test]
    fn an_aws_sdk_call_is_a_subsegment_in_the_aws_namespace() {
        let call = span(
            SpanKind::Internal,
            "invoke",
            Some(0x1122334455667788),
            vec![
                KeyValue::new("rpc.system", "aws-api"),
                KeyValue::new("rpc.service", "DynamoDB"),
                KeyValue::new("rpc.method", "GetItem"),
            ],
        );

        let document = Json::Object(document(&call, "catalog-read"));

        assert_eq!(
            document,
            json!({
                "type": "subsegment",
                "name": "DynamoDB",
                "id": "53995c3f42cd8ad8",
                "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
                "parent_id": "1122334455667788",
                "start_time": 1_700_000_000.25,
                "end_time": 1_700_000_000.75,
                "namespace": "aws",
                "aws": { "operation": "GetItem", "xray": { "sdk": "opentelemetry for rust" } },
            })
        );
    }

    #[test]
    fn a_failed_remote_call_is_a_remote_subsegment_with_its_exception() {
        let mut call = span(
            SpanKind::Client,
            "Stripe POST /v1/payment_intents",
            Some(1),
            vec![KeyValue::new("peer.service", "stripe"), KeyValue::new("http.response.status_code", 402)],
        );
        call.status = Status::error("card declined");
        call.events.events.push(opentelemetry::trace::Event::new(
            "exception",
            call.start_time,
            vec![KeyValue::new("exception.message", "card declined")],
            0,
        ));

        let document = document(&call, "order-api");

        assert_eq!(document["type"], "subsegment");
        assert_eq!(document["name"], "stripe");
        assert_eq!(document["namespace"], "remote");
        assert_eq!(document["error"], true);
        assert!(!document.contains_key("fault"));
        assert_eq!(
            document["cause"],
            json!({ "exceptions": [{ "id": "53995c3f42cd8ad9", "message": "card declined", "remote": true }] })
        );
    }

    #[test]
    fn a_span_without_a_parent_is_a_segment_even_when_not_a_server_span() {
        let document = document(&span(SpanKind::Consumer, "relay", None, vec![]), "order-publisher");

        assert!(!document.contains_key("type"));
        assert!(!document.contains_key("parent_id"));
        assert_eq!(document["name"], "relay");
    }

    #[test]
    fn names_keep_only_what_xray_accepts() {
        assert_eq!(sanitized_name("GET /v1/books/{id}"), "GET /v1/books/id");
        assert_eq!(sanitized_name("orders-queue publish OrderPlaced"), "orders-queue publish OrderPlaced");
        assert_eq!(sanitized_name("a_b.c:d/e%f&g#h=i+j\\k-l@m"), "a_b.c:d/e%f&g#h=i+j\\k-l@m");
        // Letters and digits of any script stay; symbols such as № go.
        assert_eq!(sanitized_name("café 配置 ٣№"), "café 配置 ٣");
        assert_eq!(sanitized_name("tab\tnew\nline|pipe;*?[]{}<>$!^~`'\""), "tabnewlinepipe");
        assert_eq!(sanitized_name("no\u{a0}break"), "no\u{a0}break");
        assert_eq!(sanitized_name("<>"), "unnamed");
        assert_eq!(sanitized_name(&"é".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn annotation_keys_are_letters_digits_and_underscores() {
        let call = span(
            SpanKind::Internal,
            "work",
            Some(1),
            vec![KeyValue::new("annotation.user-id", "u-1"), KeyValue::new("metadata.note", "kept")],
        );

        let document = document(&call, "cart");

        assert_eq!(document["annotations"], json!({ "user_id": "u-1" }));
        assert_eq!(document["metadata"], json!({ "default": { "note": "kept" } }));
    }

    #[test]
    fn a_document_too_large_for_a_datagram_sheds_its_metadata() {
        let big = span(SpanKind::Internal, "work", Some(1), vec![KeyValue::new("payload", "x".repeat(70_000))]);

        let datagram = datagram(document(&big, "cart")).unwrap();

        assert!(datagram.len() <= MAX_DATAGRAM);
        let sent: Json = serde_json::from_slice(&datagram[HEADER.len()..]).unwrap();
        assert_eq!(sent["name"], "work");
        assert!(sent.get("metadata").is_none());
    }

    #[tokio::test]
    async fn exported_spans_reach_the_daemon_as_header_and_document() {
        let daemon = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let mut exporter = XrayDaemonExporter::connect(&daemon.local_addr().unwrap().to_string()).unwrap();
        exporter.set_resource(&Resource::builder_empty().with_service_name("cart").build());

        let request = span(SpanKind::Server, "request", None, vec![KeyValue::new("order.id", "o-7")]);
        exporter.export(vec![request]).await.unwrap();

        let mut received = [0; MAX_DATAGRAM];
        let length = daemon.recv(&mut received).unwrap();
        let (header, document) = received[..length].split_at(HEADER.len());
        assert_eq!(header, b"{\"format\":\"json\",\"version\":1}\n");
        let document: Json = serde_json::from_slice(document).unwrap();
        assert_eq!(document["name"], "cart");
        assert_eq!(document["id"], "53995c3f42cd8ad8");
        assert_eq!(document["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(document["annotations"], json!({ "order_id": "o-7" }));
    }
}
