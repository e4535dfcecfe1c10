//! How checkout reads and empties the shopper's cart: through the cart service's own
//! function (a private invoke of `GET`/`DELETE /v1/cart` on the shopper's behalf), never
//! its table.

use async_trait::async_trait;
use bookish_shared::auth::Claims;
use bookish_shared::invoke::{HttpCall, HttpFunction};
use serde::Deserialize;

/// The shopper a call is made for, with what the cart needs to recognise them.
pub struct Caller {
    pub claims: Claims,
    /// The shopper's own `Authorization` header, forwarded for the local stack, where
    /// the cart verifies tokens itself.
    pub authorization: Option<String>,
    pub correlation_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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
    async fn clear(&self, caller: &Caller) -> Result<(), CartUnavailable>;
}

pub struct LambdaCart {
    function: HttpFunction,
}

impl LambdaCart {
    /// `CART_FUNCTION` names the cart's function.
    pub async fn from_env() -> Result<Self, bookish_shared::config::MissingEnv> {
        Ok(Self { function: HttpFunction::from_env("CART_FUNCTION").await? })
    }

    async fn call(&self, method: &'static str, caller: &Caller) -> Result<String, CartUnavailable> {
        let call = HttpCall::new(method, "/v1/cart", "/v1/cart", &caller.correlation_id)
            .on_behalf_of(&caller.claims, caller.authorization.as_deref());
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
        let body = self.call("GET", caller).await?;
        let cart: CartView = serde_json::from_str(&body).map_err(|e| CartUnavailable(e.to_string()))?;
        Ok(cart.items)
    }

    async fn clear(&self, caller: &Caller) -> Result<(), CartUnavailable> {
        self.call("DELETE", caller).await.map(drop)
    }
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

    async fn clear(&self, _caller: &Caller) -> Result<(), CartUnavailable> {
        self.lines.lock().unwrap().clear();
        Ok(())
    }
}
