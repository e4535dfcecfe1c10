//! The sample events in `events/`, compiled into the binary so it runs from anywhere.
//!
//! They are sent as compact JSON: the Runtime API hands a function its event without the
//! indentation the files have for people.

use serde_json::Value;

/// The sample event `events/<$path>`, e.g. `fixture!("catalog/get-book.json")`.
macro_rules! fixture {
    ($path:literal) => {
        $crate::fixtures::Fixture::parse(
            $path,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/", $path)),
        )
    };
}
pub(crate) use fixture;

/// A sample event, to send as it is or with a header changed.
#[derive(Clone)]
pub struct Fixture {
    path: &'static str,
    json: Value,
}

impl Fixture {
    pub fn parse(path: &'static str, text: &str) -> Self {
        let json = serde_json::from_str(text).unwrap_or_else(|err| panic!("events/{path} is not JSON: {err}"));
        Self { path, json }
    }

    /// Sets an HTTP request header of an API Gateway event.
    pub fn set_header(&mut self, name: &str, value: &str) {
        let Some(headers) = self.json.get_mut("headers").and_then(Value::as_object_mut) else {
            panic!("events/{} has no headers object", self.path);
        };
        headers.insert(name.to_owned(), Value::String(value.to_owned()));
    }

    /// Replaces the request body of an API Gateway event.
    pub fn set_body(&mut self, body: &Value) {
        self.json["body"] = Value::String(body.to_string());
    }

    /// The event as the Runtime API would deliver it.
    pub fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.json).expect("JSON values serialize")
    }

    /// The request body of an API Gateway event, parsed.
    pub fn body<T: serde::de::DeserializeOwned>(&self) -> T {
        let body =
            self.json.get("body").and_then(Value::as_str).unwrap_or_else(|| panic!("events/{} has no body", self.path));
        serde_json::from_str(body)
            .unwrap_or_else(|err| panic!("the body of events/{} does not parse: {err}", self.path))
    }
}
