//! How checkout reads and empties the shopper's cart: through the cart service's own
//! function (a private invoke of `GET`/`DELETE /v1/cart` on the shopper's behalf), never
//! its table.

use async_trait::async_trait;
use bookish_shared::auth::Claims;
use bookish_shared::invoke::{HttpCall, HttpFunction};
use serde::{Deserialize, Serialize};

/// The shopper a call is made for, with what the cart needs to recognise them.
pub struct Caller {
    pub claims: Claims,
    /// The shopper's own `Authorization` header, forwarded: the cart verifies it.
    pub authorization: Option<String>,
    pub correlation_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CartLine {
    pub book_id: String,
    pub quantity: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("the cart could not be read: {0}")]
pub struct CartUnavailable(pub String);

#[async_trait]
pub trait Cart: Send + Sync {
    async fn lines(&self, caller: &Caller) -> Result<Vec<CartLine>, CartUnavailable>;
    /// Removes these lines, each only if it still holds exactly that quantity.
    async fn remove_ordered(&self, caller: &Caller, lines: &[CartLine]) -> Result<(), CartUnavailable>;
}

pub struct LambdaCart {
    function: HttpFunction,
}

impl LambdaCart {
    /// `CART_FUNCTION` names the cart's function.
    pub fn from_env(aws: &bookish_shared::aws::SdkConfig) -> Result<Self, bookish_shared::config::MissingEnv> {
        Ok(Self { function: HttpFunction::from_env(aws, "CART_FUNCTION")? })
    }

    async fn call(&self, call: HttpCall) -> Result<String, CartUnavailable> {
        let response = self.function.call(call).await.map_err(|e| CartUnavailable(e.to_string()))?;
        if !(200..300).contains(&response.status) {
            return Err(CartUnavailable(format!("the cart answered {}: {}", response.status, response.body)));
        }
        Ok(response.body)
    }
}

#[derive(Deserialize)]
struct CartView {
    items: Vec<CartLine>,
}

#[async_trait]
impl Cart for LambdaCart {
    async fn lines(&self, caller: &Caller) -> Result<Vec<CartLine>, CartUnavailable> {
        let body = self.call(lines_call(caller)).await?;
        let cart: CartView = serde_json::from_str(&body).map_err(|e| CartUnavailable(e.to_string()))?;
        Ok(cart.items)
    }

    async fn remove_ordered(&self, caller: &Caller, lines: &[CartLine]) -> Result<(), CartUnavailable> {
        self.call(remove_ordered_call(caller, lines)).await.map(drop)
    }
}

// The requests checkout makes of the cart. The cart's tests replay the records of them in
// `events/cart/checkout-*.json` (`functions/cart/tests/api.rs`).

/// `GET /v1/cart` on the shopper's behalf.
fn lines_call(caller: &Caller) -> HttpCall {
    HttpCall::new("GET", "/v1/cart", "/v1/cart", &caller.correlation_id).on_behalf_of(authorization(caller))
}

/// The cart function's contract: `DELETE /v1/cart` with `{"lines": [...]}` removes each
/// listed line only while it still holds that quantity.
fn remove_ordered_call(caller: &Caller, lines: &[CartLine]) -> HttpCall {
    HttpCall::new("DELETE", "/v1/cart", "/v1/cart", &caller.correlation_id)
        .json_body(&serde_json::json!({ "lines": lines }))
        .on_behalf_of(authorization(caller))
}

fn authorization(caller: &Caller) -> &str {
    caller.authorization.as_deref().unwrap_or_default()
}

/// A cart held in memory, for tests.
#[derive(Default)]
pub struct MemoryCart {
    pub lines: std::sync::Mutex<Vec<CartLine>>,
}

#[async_trait]
impl Cart for MemoryCart {
    async fn lines(&self, _caller: &Caller) -> Result<Vec<CartLine>, CartUnavailable> {
        Ok(self.lines.lock().unwrap().clone())
    }

    async fn remove_ordered(&self, _caller: &Caller, ordered: &[CartLine]) -> Result<(), CartUnavailable> {
        self.lines.lock().unwrap().retain(|line| !ordered.contains(line));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(name: &str) -> serde_json::Value {
        let path = format!("{}/../../events/cart/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
    }

    fn caller() -> Caller {
        let claims =
            Claims { subject: "9b1d3c2e-shopper".into(), username: None, email: None, phone: None, groups: Vec::new() };
        Caller {
            claims,
            authorization: Some("Bearer sample-id-token".into()),
            correlation_id: "checkout-7f3a9c".into(),
        }
    }

    /// Update the records and the cart's tests together.
    #[test]
    fn checkout_sends_the_requests_the_cart_tests_replay() {
        assert_eq!(lines_call(&caller()).event(), recorded("checkout-reads-cart.json"));
        let ordered = [
            CartLine { book_id: "0123456789abcdef".into(), quantity: 2 },
            CartLine { book_id: "gatsby".into(), quantity: 1 },
        ];
        assert_eq!(remove_ordered_call(&caller(), &ordered).event(), recorded("checkout-removes-ordered-lines.json"));
    }
}
