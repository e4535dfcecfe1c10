//! A stand-in DynamoDB endpoint on loopback, so a case can run a function's DynamoDB adapter
//! over a real `aws_sdk_dynamodb::Client`: request building, JSON serialization, request
//! signing, the HTTP/1.1 exchange and response parsing all happen on the measured thread,
//! while the stub answers on threads of its own (their CPU time is not the handler's).
//!
//! It answers as DynamoDB does (`application/x-amz-json-1.0` bodies, `x-amzn-RequestId`,
//! `Date`, kept-alive connections) with whatever the case's reply for the operation (the
//! `X-Amz-Target` after the dot) makes of the request. An operation without a reply gets a
//! `ValidationException`, so a handler that calls something unexpected fails its case.
//! DynamoDB also sends `x-amz-crc32`; the Rust SDK does not check it, so it is left out.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_smithy_types::date_time::{DateTime, Format};
use serde_json::{json, Value};

/// What the stub answers an operation with, given the request's JSON; `Err` is a request
/// the stub does not model, answered as a `ValidationException`.
type Reply = Box<dyn Fn(&Value) -> Result<Value, String> + Send>;
type Replies = Arc<Mutex<HashMap<String, Reply>>>;

/// DynamoDB's request ids are 52 upper-case letters and digits.
const REQUEST_ID: &str = "BENCHSTUBREQUESTIDBENCHSTUBREQUESTIDBENCHSTUBREQUESTI";

pub struct StubDynamo {
    endpoint: String,
    replies: Replies,
}

impl StubDynamo {
    /// Listens on a free loopback port, answering on threads of its own.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("a bound address"));
        let replies = Replies::default();
        let shared = replies.clone();
        std::thread::Builder::new()
            .name("stub-dynamodb".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let (stream, replies) = (stream.expect("an accepted connection"), shared.clone());
                    // One thread per connection: the SDK keeps one open per case.
                    std::thread::spawn(move || serve(stream, &replies));
                }
            })
            .expect("a thread for the stub");
        Self { endpoint, replies }
    }

    /// From now on, answers `operation` (e.g. `GetItem`) with `reply(request)`.
    pub fn answer(&self, operation: &str, reply: impl Fn(&Value) -> Result<Value, String> + Send + 'static) {
        self.replies.lock().expect("replies lock").insert(operation.to_owned(), Box::new(reply));
    }

    /// Answers TransactWriteItems as a success and keeps the items they put: a case seeds
    /// its table by running its adapter's own writes, then answers reads from these.
    pub fn record_puts(&self) -> Arc<Mutex<Vec<Value>>> {
        let items = Arc::new(Mutex::new(Vec::new()));
        let recorded = items.clone();
        self.answer("TransactWriteItems", move |request| {
            let puts = request["TransactItems"].as_array().into_iter().flatten().filter_map(|i| i["Put"].get("Item"));
            recorded.lock().expect("recorded lock").extend(puts.cloned());
            Ok(json!({}))
        });
        items
    }

    /// A client configured as a function's is in Lambda (static credentials with a session
    /// token, a region, the SDK's default HTTP client), but for its endpoint: the stub.
    pub async fn client(&self) -> aws_sdk_dynamodb::Client {
        let credentials = Credentials::new(
            "ASIABENCHSTUBEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYBENCHSTUBKEY",
            Some("IQoJb3JpZ2luX2VjEBenchStubSessionToken".into()),
            None,
            "bench",
        );
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials)
            .endpoint_url(&self.endpoint)
            .load()
            .await;
        aws_sdk_dynamodb::Client::new(&config)
    }
}

/// Answers the requests of one connection until the client closes it.
fn serve(stream: TcpStream, replies: &Replies) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone().expect("a connection to read"));
    let mut writer = stream;
    let mut head = Vec::new();
    loop {
        head.clear();
        let request = match read_request(&mut reader, &mut head) {
            Ok(Some(request)) => request,
            Ok(None) | Err(_) => return,
        };
        let (status, body) = answer(replies, &request);
        let response = format!(
            "HTTP/1.1 {status}\r\nServer: Server\r\nDate: {date}\r\nContent-Type: application/x-amz-json-1.0\r\n\
             Content-Length: {length}\r\nConnection: keep-alive\r\nx-amzn-RequestId: {REQUEST_ID}\r\n\r\n",
            date = DateTime::from(SystemTime::now()).fmt(Format::HttpDate).expect("now is a valid HTTP date"),
            length = body.len(),
        );
        if writer.write_all(response.as_bytes()).and_then(|()| writer.write_all(&body)).is_err() {
            return;
        }
    }
}

/// A request's operation (`X-Amz-Target` after the dot) and body.
struct Request {
    operation: String,
    body: Vec<u8>,
}

/// The next request on the connection, or `None` once the client has closed it.
fn read_request(reader: &mut impl BufRead, head: &mut Vec<u8>) -> io::Result<Option<Request>> {
    while !head.ends_with(b"\r\n\r\n") {
        if reader.read_until(b'\n', head)? == 0 {
            return Ok(None);
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed.parse(head).map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
    let header = |name: &str| {
        parsed.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| String::from_utf8_lossy(h.value))
    };
    let length: usize = header("content-length").and_then(|len| len.parse().ok()).unwrap_or(0);
    let operation = header("x-amz-target").and_then(|t| t.split_once('.').map(|(_, op)| op.to_owned()));
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Request { operation: operation.unwrap_or_default(), body }))
}

fn answer(replies: &Replies, request: &Request) -> (&'static str, Vec<u8>) {
    let replies = replies.lock().expect("replies lock");
    let reply = replies.get(&request.operation);
    let answered = match (reply, serde_json::from_slice::<Value>(&request.body)) {
        (Some(reply), Ok(json)) => reply(&json),
        (None, _) => Err(format!("the stub has no answer to {:?}", request.operation)),
        (_, Err(err)) => Err(format!("the request is not JSON: {err}")),
    };
    match answered {
        Ok(json) => ("200 OK", json.to_string().into_bytes()),
        Err(message) => {
            let problem = json!({ "__type": "com.amazon.coral.validate#ValidationException", "message": message });
            ("400 Bad Request", problem.to_string().into_bytes())
        }
    }
}

/// What DynamoDB answers a GetItem over `items`: the one with the request's key, if any.
pub fn get_item(items: &[Value], request: &Value) -> Result<Value, String> {
    let key = request["Key"].as_object().ok_or("a GetItem without a Key")?;
    let found = items.iter().find(|item| key.iter().all(|(name, value)| &item[name] == value));
    Ok(found.map_or_else(|| json!({}), |item| json!({ "Item": item })))
}

/// What DynamoDB answers a Query whose key condition selects `matching` (in key order):
/// at most `Limit` of them and, when it stopped at the `Limit`, the last one's key (`keys`:
/// the table's and the index's key attributes).
pub fn query_page(matching: &[Value], request: &Value, keys: &[&str]) -> Value {
    let limit = request["Limit"].as_u64().and_then(|limit| usize::try_from(limit).ok());
    let items = &matching[..limit.unwrap_or(usize::MAX).min(matching.len())];
    let mut page = json!({ "Items": items, "Count": items.len(), "ScannedCount": items.len() });
    if let (true, Some(last)) = (limit == Some(items.len()), items.last()) {
        let key: serde_json::Map<String, Value> = keys.iter().map(|k| ((*k).to_owned(), last[*k].clone())).collect();
        page["LastEvaluatedKey"] = Value::Object(key);
    }
    page
}
