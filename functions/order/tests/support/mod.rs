//! What the order test crates share: `FakePayments`, a payment provider that keeps its
//! promises the way Stripe does, and a sample `StoredOrder`. Each test crate uses a part.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bookish_shared::money::{Currency, Money};
use order::order::{Customer, Order, PaymentStatus, ShippingAddress, Status, StoredOrder};
use order::payments::{Authorization, Capture, PaymentError, PaymentGateway, Void};

/// The approved test payment method (Stripe's magic `pm_card_visa`).
pub const VISA: &str = "pm_card_visa";
/// The declined one (Stripe's `pm_card_chargeDeclined`).
pub const DECLINED: &str = "pm_card_chargeDeclined";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Authorize,
    Capture,
    Void,
    Refund,
}

/// Where one hold stands at the fake provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldState {
    Held,
    Captured,
    Voided,
    Refunded,
    /// The capture failed (the authorization expired): the hold is gone, nothing was taken.
    Expired,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub id: String,
    pub order_id: String,
    pub payment_method: String,
    pub amount: Money,
    pub state: HoldState,
}

/// A payment provider in memory that behaves like Stripe where the saga depends on it:
/// - the first answer to an idempotency key is kept and given again for that key, with
///   no second effect (a key reused with other parameters is an error, as Stripe's 400
///   `idempotency_error` is to the adapter);
/// - `pm_card_visa` is approved, `pm_card_chargeDeclined` declined, any other payment
///   method is unknown (declined, as the adapter reports Stripe's `resource_missing`);
/// - capturing a captured hold answers `Captured`, voiding a voided one `Voided`, voiding
///   a captured one `AlreadyCaptured`, refunding a refunded one succeeds; refunding a hold
///   that was never captured fails (Stripe: cancel it instead).
///
/// Tests can make the next calls of a verb fail before they reach the provider
/// (`fail_next`), make them take effect and then lose the answer (`lose_next`), or make
/// every capture fail (`fail_captures`). `calls` counts every call of a verb, `effects`
/// only those that changed something at the provider.
#[derive(Default)]
pub struct FakePayments {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    holds: Vec<Hold>,
    /// (verb, idempotency key) → the request's parameters and the answer first given.
    answers: HashMap<(Verb, String), (String, Answer)>,
    fail_next: HashMap<Verb, usize>,
    lose_next: HashMap<Verb, usize>,
    fail_captures: bool,
    calls: HashMap<Verb, usize>,
    effects: HashMap<Verb, usize>,
}

#[derive(Clone, Debug)]
enum Answer {
    Authorization(Authorization),
    Capture(Capture),
    Void(Void),
    Refunded,
    Refused(String),
}

impl FakePayments {
    /// The next `n` calls of `verb` fail as if the provider were down: nothing happens.
    pub fn fail_next(&self, verb: Verb, n: usize) {
        *self.state.lock().unwrap().fail_next.entry(verb).or_default() += n;
    }

    /// The next `n` calls of `verb` take effect, but their answer is lost on the way back
    /// (the caller sees the provider as unavailable).
    pub fn lose_next(&self, verb: Verb, n: usize) {
        *self.state.lock().unwrap().lose_next.entry(verb).or_default() += n;
    }

    /// Every capture from now on fails (the authorization expired), moving no money.
    pub fn fail_captures(&self) {
        self.state.lock().unwrap().fail_captures = true;
    }

    /// How many times `verb` was called, retries included.
    pub fn calls(&self, verb: Verb) -> usize {
        self.state.lock().unwrap().calls.get(&verb).copied().unwrap_or(0)
    }

    /// How many times `verb` changed something at the provider: holds made, captures
    /// taken, holds released, refunds given.
    pub fn effects(&self, verb: Verb) -> usize {
        self.state.lock().unwrap().effects.get(&verb).copied().unwrap_or(0)
    }

    /// Every hold made so far, oldest first.
    pub fn holds(&self) -> Vec<Hold> {
        self.state.lock().unwrap().holds.clone()
    }

    /// The holds made for one order.
    pub fn holds_for(&self, order_id: &str) -> Vec<Hold> {
        self.holds().into_iter().filter(|hold| hold.order_id == order_id).collect()
    }

    /// Runs one call: counts it, fails it if told to, answers a repeated key with its first
    /// answer, else lets `act` take effect and keeps its answer for the key.
    fn call(
        &self,
        verb: Verb,
        key: &str,
        params: String,
        act: impl FnOnce(&mut State) -> Answer,
    ) -> Result<Answer, PaymentError> {
        let mut state = self.state.lock().unwrap();
        *state.calls.entry(verb).or_default() += 1;
        if take_one(&mut state.fail_next, verb) {
            return Err(PaymentError::Unavailable(format!("fake provider down ({verb:?})")));
        }
        let answer = match state.answers.get(&(verb, key.to_owned())) {
            Some((first, _)) if *first != params => {
                return Err(PaymentError::Unavailable(format!("idempotency_error: key {key} reused with {params}")));
            }
            Some((_, answer)) => answer.clone(),
            None => {
                let answer = act(&mut state);
                state.answers.insert((verb, key.to_owned()), (params, answer.clone()));
                answer
            }
        };
        if take_one(&mut state.lose_next, verb) {
            return Err(PaymentError::Unavailable(format!("fake provider answer lost ({verb:?})")));
        }
        match answer {
            Answer::Refused(reason) => Err(PaymentError::Unavailable(reason)),
            answer => Ok(answer),
        }
    }
}

fn take_one(counts: &mut HashMap<Verb, usize>, verb: Verb) -> bool {
    match counts.get_mut(&verb) {
        Some(n) if *n > 0 => {
            *n -= 1;
            true
        }
        _ => false,
    }
}

impl State {
    fn effect(&mut self, verb: Verb) {
        *self.effects.entry(verb).or_default() += 1;
    }

    fn hold(&mut self, id: &str) -> Option<&mut Hold> {
        self.holds.iter_mut().find(|hold| hold.id == id)
    }
}

#[async_trait]
impl PaymentGateway for FakePayments {
    async fn authorize(
        &self,
        payment_method: &str,
        amount: &Money,
        order_id: &str,
        idempotency_key: &str,
    ) -> Result<Authorization, PaymentError> {
        let params = format!("{payment_method} {} {} {order_id}", amount.amount, amount.currency.as_str());
        let answer = self.call(Verb::Authorize, idempotency_key, params, |state| match payment_method {
            VISA => {
                let id = format!("pi_fake_{}", state.holds.len() + 1);
                state.holds.push(Hold {
                    id: id.clone(),
                    order_id: order_id.to_owned(),
                    payment_method: payment_method.to_owned(),
                    amount: amount.clone(),
                    state: HoldState::Held,
                });
                state.effect(Verb::Authorize);
                Answer::Authorization(Authorization::Approved { authorization_id: id })
            }
            DECLINED => Answer::Authorization(Authorization::Declined { reason: "card_declined".into() }),
            other => Answer::Authorization(Authorization::Declined {
                reason: format!("resource_missing: No such PaymentMethod: '{other}'"),
            }),
        })?;
        match answer {
            Answer::Authorization(authorization) => Ok(authorization),
            other => panic!("authorize answered {other:?}"),
        }
    }

    async fn capture(&self, authorization_id: &str, idempotency_key: &str) -> Result<Capture, PaymentError> {
        let answer = self.call(Verb::Capture, idempotency_key, authorization_id.to_owned(), |state| {
            let fail = state.fail_captures;
            let Some(hold) = state.hold(authorization_id) else {
                return Answer::Refused(format!("no such payment intent {authorization_id}"));
            };
            match hold.state {
                HoldState::Held if fail => {
                    hold.state = HoldState::Expired;
                    Answer::Capture(Capture::Failed { reason: "the authorization expired".into() })
                }
                HoldState::Held => {
                    hold.state = HoldState::Captured;
                    state.effect(Verb::Capture);
                    Answer::Capture(Capture::Captured)
                }
                HoldState::Captured | HoldState::Refunded => Answer::Capture(Capture::Captured),
                HoldState::Voided | HoldState::Expired => {
                    Answer::Capture(Capture::Failed { reason: "payment intent is canceled".into() })
                }
            }
        })?;
        match answer {
            Answer::Capture(capture) => Ok(capture),
            other => panic!("capture answered {other:?}"),
        }
    }

    async fn void(&self, authorization_id: &str, idempotency_key: &str) -> Result<Void, PaymentError> {
        let answer = self.call(Verb::Void, idempotency_key, authorization_id.to_owned(), |state| {
            let Some(hold) = state.hold(authorization_id) else {
                return Answer::Refused(format!("no such payment intent {authorization_id}"));
            };
            match hold.state {
                HoldState::Held => {
                    hold.state = HoldState::Voided;
                    state.effect(Verb::Void);
                    Answer::Void(Void::Voided)
                }
                HoldState::Voided | HoldState::Expired => Answer::Void(Void::Voided),
                HoldState::Captured | HoldState::Refunded => Answer::Void(Void::AlreadyCaptured),
            }
        })?;
        match answer {
            Answer::Void(void) => Ok(void),
            other => panic!("void answered {other:?}"),
        }
    }

    async fn refund(&self, authorization_id: &str, idempotency_key: &str) -> Result<(), PaymentError> {
        let answer = self.call(Verb::Refund, idempotency_key, authorization_id.to_owned(), |state| {
            let Some(hold) = state.hold(authorization_id) else {
                return Answer::Refused(format!("no such payment intent {authorization_id}"));
            };
            match hold.state {
                HoldState::Captured => {
                    hold.state = HoldState::Refunded;
                    state.effect(Verb::Refund);
                    Answer::Refunded
                }
                // Stripe's charge_already_refunded, which the adapter treats as done.
                HoldState::Refunded => Answer::Refunded,
                state => Answer::Refused(format!("cannot refund a payment that is {state:?}")),
            }
        })?;
        match answer {
            Answer::Refunded => Ok(()),
            other => panic!("refund answered {other:?}"),
        }
    }
}

/// A pending order of `customer`, authorized, last changed at `updated_at`.
pub fn stored_order(customer: &str, updated_at: &str) -> StoredOrder {
    StoredOrder {
        order: Order {
            id: uuid::Uuid::now_v7().to_string(),
            status: Status::Pending,
            reason: None,
            lines: vec![],
            total: Money::new(999, Currency::parse("USD").unwrap()),
            shipping_address: ShippingAddress {
                name: "Ada".into(),
                line1: "1 Main St".into(),
                line2: None,
                city: "Springfield".into(),
                postal_code: "12345".into(),
                country: "US".into(),
            },
            payment_status: PaymentStatus::Authorized,
            created_at: updated_at.into(),
            updated_at: updated_at.into(),
            refunded_at: None,
        },
        customer: Customer {
            sub: customer.into(),
            email: Some("ada@example.com".into()),
            username: Some("ada".into()),
            phone: None,
        },
        authorization_id: Some("auth_1".into()),
        payment_method: Some(VISA.into()),
        correlation_id: "c-1".into(),
        version: 1,
    }
}
