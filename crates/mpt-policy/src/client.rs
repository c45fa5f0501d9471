//! The entry point on the facade's client: [`PolicyClient`] (plan and apply) for [`mpt::Client`].

use std::future::Future;

use chrono::{DateTime, Utc};
use mpt::Client;

use crate::apply::{ApplyError, ApplyOptions, ApplyReport};
use crate::plan::Plan;
use crate::policy::Policy;

/// Tokens as code on a [`mpt::Client`]: bring this trait into scope to plan and apply. Both
/// futures are `Send`: a service can `tokio::spawn` an apply on a multi-threaded runtime.
pub trait PolicyClient {
    /// Reads each account of `policy` once (a streamed listing, no secrets) and returns what
    /// would bring it to its policy. Changes nothing. Ages (`rotate_after`, idle, Disabled
    /// since) are judged at the platform's time, the `Date` of the listing's answer, against
    /// the platform's timestamps: a client whose clock is off plans the same (the client's
    /// clock only when an answer has no `Date`). `Plan::made_at` is that time. It does not read
    /// the state store: add its pending work with [`Plan::include_pending`] before saving a
    /// plan for an apply to approve (an apply refuses pending work a saved plan did not show).
    fn plan(&self, policy: &Policy) -> impl Future<Output = Result<Plan, mpt::Error>> + Send;

    /// [`PolicyClient::plan`] with the hygiene rules judged at `now` (ages come from the
    /// server's timestamps).
    fn plan_at(
        &self,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Plan, mpt::Error>> + Send;

    /// Brings the accounts of `policy` to it, and says what was done: see [`apply`](crate::apply) (the
    /// module) for the promises.
    fn apply(
        &self,
        policy: &Policy,
        plan: Option<&Plan>,
        options: &ApplyOptions,
    ) -> impl Future<Output = Result<ApplyReport, ApplyError>> + Send;
}

impl PolicyClient for Client {
    fn plan(&self, policy: &Policy) -> impl Future<Output = Result<Plan, mpt::Error>> + Send {
        crate::plan::plan_judged(self, policy, None)
    }

    fn plan_at(
        &self,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Plan, mpt::Error>> + Send {
        crate::plan::plan_judged(self, policy, Some(now))
    }

    fn apply(
        &self,
        policy: &Policy,
        plan: Option<&Plan>,
        options: &ApplyOptions,
    ) -> impl Future<Output = Result<ApplyReport, ApplyError>> + Send {
        crate::apply::apply(self, policy, plan, options)
    }
}
