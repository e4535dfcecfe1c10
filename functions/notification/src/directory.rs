//! The port that finds a shopper's verified contacts on their account, with its Cognito
//! adapter and an in-memory one for tests. Needed when the order carries no address or
//! phone number: it was placed with an access token (which, unlike an ID token, carries
//! no `email` claim), or the token's contacts were not verified.
//!
//! Only verified contacts are ever returned: an address or number the shopper has not
//! proved is theirs could be anyone's, and the store must not mail or text third parties.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::error::DisplayErrorContext;

/// What an account holds that the store may write to: each only when verified.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contacts {
    /// `email`, only when `email_verified` is `true`.
    pub email: Option<String>,
    /// `phone_number`, only when `phone_number_verified` is `true`.
    pub phone: Option<String>,
}

impl Contacts {
    /// The verified contacts among an account's attributes (Cognito's names and values).
    pub fn from_attributes<'a>(attributes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let attributes: HashMap<&str, &str> = attributes.into_iter().collect();
        let verified = |value: &str, flag: &str| {
            Some(value)
                .filter(|_| attributes.get(flag).is_some_and(|v| v.eq_ignore_ascii_case("true")))
                .and_then(|value| attributes.get(value))
                .map(|value| value.trim())
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        Self { email: verified("email", "email_verified"), phone: verified("phone_number", "phone_number_verified") }
    }
}

#[async_trait]
pub trait Directory: Send + Sync {
    /// The verified contacts on the account of the user signed in as `username`; `None`
    /// when there is no such user.
    async fn contacts(&self, username: &str) -> Result<Option<Contacts>, DirectoryError>;
}

/// The directory could not be asked: worth a retry.
#[derive(Clone, Debug, thiserror::Error)]
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
    async fn contacts(&self, username: &str) -> Result<Option<Contacts>, DirectoryError> {
        let result = self.client.admin_get_user().user_pool_id(&self.user_pool_id).username(username).send().await;
        match result {
            Ok(user) => Ok(Some(Contacts::from_attributes(
                user.user_attributes().iter().filter_map(|a| Some((a.name(), a.value()?))),
            ))),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_user_not_found_exception()) => Ok(None),
            Err(err) => Err(DirectoryError(DisplayErrorContext(&err).to_string())),
        }
    }
}

/// Username -> the account's attributes (Cognito's names: `email`, `email_verified`,
/// `phone_number`, `phone_number_verified`), for tests.
#[derive(Default)]
pub struct MemoryDirectory {
    pub accounts: Mutex<HashMap<String, HashMap<String, String>>>,
    /// When set, every lookup fails, to test what happens then.
    pub failing: AtomicBool,
    lookups: AtomicUsize,
}

impl MemoryDirectory {
    /// A directory holding one account with these attributes.
    pub fn with(username: &str, attributes: &[(&str, &str)]) -> Self {
        let directory = Self::default();
        directory.add(username, attributes);
        directory
    }

    pub fn add(&self, username: &str, attributes: &[(&str, &str)]) {
        let attributes = attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.accounts.lock().unwrap().insert(username.to_owned(), attributes);
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// How often the directory was asked, failed lookups included.
    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Directory for MemoryDirectory {
    async fn contacts(&self, username: &str) -> Result<Option<Contacts>, DirectoryError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(DirectoryError("failing on purpose".into()));
        }
        let accounts = self.accounts.lock().unwrap();
        Ok(accounts
            .get(username)
            .map(|attributes| Contacts::from_attributes(attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_verified_contacts_are_kept() {
        let all = [
            ("email", "ada@example.com"),
            ("email_verified", "true"),
            ("phone_number", "+15555550100"),
            ("phone_number_verified", "true"),
        ];
        let verified = Contacts { email: Some("ada@example.com".into()), phone: Some("+15555550100".into()) };
        assert_eq!(Contacts::from_attributes(all), verified);
        let unverified = [
            ("email", "ada@example.com"),
            ("email_verified", "false"),
            ("phone_number", "+15555550100"),
            ("phone_number_verified", "false"),
        ];
        assert_eq!(Contacts::from_attributes(unverified), Contacts::default());
        let unsaid = [("email", "ada@example.com"), ("phone_number", "+15555550100")];
        assert_eq!(Contacts::from_attributes(unsaid), Contacts::default());
        let phone_only =
            [("email", "ada@example.com"), ("phone_number", "+15555550100"), ("phone_number_verified", "true")];
        assert_eq!(Contacts::from_attributes(phone_only), Contacts { email: None, phone: Some("+15555550100".into()) });
        assert_eq!(Contacts::from_attributes([("email_verified", "true")]), Contacts::default());
    }
}
