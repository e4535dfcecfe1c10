//! The port that finds a shopper's email address on their account, with its Cognito
//! adapter and an in-memory one for tests. Needed when the order was placed with an access
//! token, which (unlike an ID token) carries no `email` claim.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::error::DisplayErrorContext;

#[async_trait]
pub trait Directory: Send + Sync {
    /// The email address on the account of the user signed in as `username`; `None` when
    /// there is no such user, or they have no address.
    async fn email(&self, username: &str) -> Result<Option<String>, DirectoryError>;
}

/// The directory could not be asked: worth a retry.
#[derive(Debug, thiserror::Error)]
#[error("could not look the shopper up: {0}")]
pub struct DirectoryError(pub String);

/// Cognito `AdminGetUser` on the store's user pool.
pub struct CognitoDirectory {
    client: aws_sdk_cognitoidentityprovider::Client,
    user_pool_id: String,
}

impl CognitoDirectory {
    pub fn new(client: aws_sdk_cognitoidentityprovider::Client, user_pool_id: String) -> Self {
        Self { client, user_pool_id }
    }
}

#[async_trait]
impl Directory for CognitoDirectory {
    async fn email(&self, username: &str) -> Result<Option<String>, DirectoryError> {
        let result = self.client.admin_get_user().user_pool_id(&self.user_pool_id).username(username).send().await;
        match result {
            Ok(user) => Ok(user
                .user_attributes()
                .iter()
                .find(|a| a.name() == "email")
                .and_then(|a| a.value())
                .map(str::to_owned)),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_user_not_found_exception()) => Ok(None),
            Err(err) => Err(DirectoryError(DisplayErrorContext(&err).to_string())),
        }
    }
}

/// Username -> email, for tests.
#[derive(Default)]
pub struct MemoryDirectory {
    pub emails: Mutex<HashMap<String, String>>,
    /// When set, every lookup fails, to test what happens then.
    pub failing: AtomicBool,
}

impl MemoryDirectory {
    pub fn with(username: &str, email: &str) -> Self {
        let directory = Self::default();
        directory.emails.lock().unwrap().insert(username.to_owned(), email.to_owned());
        directory
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl Directory for MemoryDirectory {
    async fn email(&self, username: &str) -> Result<Option<String>, DirectoryError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(DirectoryError("failing on purpose".into()));
        }
        Ok(self.emails.lock().unwrap().get(username).cloned())
    }
}
