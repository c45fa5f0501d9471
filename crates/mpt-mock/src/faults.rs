//! Fault injection: what the mock does wrong, on purpose, for reliability tests.

use std::time::Duration;

/// The seven operations, for counters and for aiming faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `GET /public/v1/accounts/api-tokens`
    List,
    /// `GET /public/v1/accounts/api-tokens/{id}`
    Get,
    /// `POST /public/v1/accounts/api-tokens`
    Create,
    /// `PUT /public/v1/accounts/api-tokens/{id}`
    Update,
    /// `DELETE /public/v1/accounts/api-tokens/{id}`
    Delete,
    /// `POST /public/v1/accounts/api-tokens/{id}/enable`
    Enable,
    /// `POST /public/v1/accounts/api-tokens/{id}/disable`
    Disable,
}

impl Operation {
    /// Every operation, in counter order.
    pub const ALL: [Operation; 7] = [
        Operation::List,
        Operation::Get,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
        Operation::Enable,
        Operation::Disable,
    ];

    /// The operationId in the merged spec.
    pub fn operation_id(self) -> &'static str {
        match self {
            Operation::List => "list_api_tokens",
            Operation::Get => "get_api_token",
            Operation::Create => "create_api_token",
            Operation::Update => "update_api_token",
            Operation::Delete => "delete_api_token",
            Operation::Enable => "enable_api_token",
            Operation::Disable => "disable_api_token",
        }
    }

    pub(crate) fn index(self) -> usize {
        Operation::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// One kind of misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 Too Many Requests with `Retry-After` (whole seconds, rounded up) and problem details;
    /// the request is not processed.
    RateLimited {
        /// What `Retry-After` says.
        retry_after: Duration,
    },
    /// This status (e.g. 500, 502, 503, 504) with problem details; the request is not processed.
    Status(u16),
    /// This status with an HTML error page (`text/html`), as a proxy in front of the platform
    /// would send; the request is not processed.
    HtmlPage(u16),
    /// The request **is processed**, then the connection is closed without an answer: the
    /// client cannot know whether its create or delete happened.
    DropAfterProcessing,
    /// The request **is processed**, then answered with this status (e.g. 502, 504) and problem
    /// details instead of the platform's answer, as a gateway that lost that answer would.
    StatusAfterProcessing(u16),
    /// The request is processed and answered 200 with a body cut off mid-JSON.
    MalformedJson,
    /// The request is held, unanswered, until [`MockServer::release_held`](crate::MockServer::release_held)
    /// (or the server stops), then processed and answered as usual: "one slow request".
    /// [`MockServer::held`](crate::MockServer::held) counts the requests held now.
    Hold,
    /// The request is held until the server has received `requests` more requests (of any
    /// operation), then processed and answered; if they have not come within `at_most`, it is
    /// answered `504` unprocessed. Shows whether a client sends more while one request is slow,
    /// by counts, not by timings.
    Held {
        /// How many requests must arrive after it before it is processed.
        requests: u64,
        /// The bound on the hold.
        at_most: Duration,
    },
}

impl Fault {
    /// Whether the request is carried out before the fault shows.
    pub fn processes_request(&self) -> bool {
        matches!(
            self,
            Fault::DropAfterProcessing | Fault::StatusAfterProcessing(_) | Fault::MalformedJson
        )
    }
}

/// "Every `every`-th request (of these operations) gets `fault`."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// 1 = every request, 2 = every second one, ...
    pub every: u64,
    /// What happens.
    pub fault: Fault,
    /// The operations it counts and hits; `None` = all.
    pub only: Option<Vec<Operation>>,
    /// How many times it fires at most; `None` = without end.
    pub times: Option<u64>,
    /// The one token it counts and hits (requests about other tokens, and lists and creates,
    /// pass); `None` = all.
    pub token: Option<String>,
}

impl FaultRule {
    /// Every `every`-th request of any operation gets `fault`.
    pub fn every(every: u64, fault: Fault) -> FaultRule {
        FaultRule {
            every: every.max(1),
            fault,
            only: None,
            times: None,
            token: None,
        }
    }

    /// The first request only (of the operations it is limited to): "drop the answer of the
    /// first disable" is `FaultRule::once(Fault::DropAfterProcessing).only([Operation::Disable])`.
    pub fn once(fault: Fault) -> FaultRule {
        FaultRule::first(1, fault)
    }

    /// The first `n` requests.
    pub fn first(n: u64, fault: Fault) -> FaultRule {
        FaultRule {
            times: Some(n),
            ..FaultRule::every(1, fault)
        }
    }

    /// Fires at most `n` times.
    pub fn times(mut self, n: u64) -> FaultRule {
        self.times = Some(n);
        self
    }

    /// Restricts the rule to these operations.
    pub fn only(mut self, operations: impl IntoIterator<Item = Operation>) -> FaultRule {
        self.only = Some(operations.into_iter().collect());
        self
    }

    /// Only requests about this token: "drop the answer of the first disable of TKN-1" is
    /// `FaultRule::once(Fault::DropAfterProcessing).only([Operation::Disable]).for_token("TKN-1")`.
    pub fn for_token(mut self, id: impl Into<String>) -> FaultRule {
        self.token = Some(id.into());
        self
    }

    fn applies_to(&self, op: Operation, token: Option<&str>) -> bool {
        self.only.as_ref().is_none_or(|ops| ops.contains(&op))
            && self.token.as_deref().is_none_or(|t| token == Some(t))
    }
}

/// All faults of a server. The default injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Added before every API request is handled.
    pub latency: Duration,
    /// Rules, checked in order; the first that fires wins (every rule still counts).
    pub rules: Vec<FaultRule>,
    /// Add fields the spec does not declare (`href`, `x-mock-extra`) to every object answered.
    pub unknown_fields: bool,
    /// Answer enum values the spec does not list: account `type` `Development`, account `status`
    /// `Frozen`.
    pub unknown_enum_values: bool,
}

/// A fault rule that cannot work: named by its index in [`Faults::rules`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFault {
    /// The rule's index in [`Faults::rules`].
    pub rule: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for InvalidFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fault rule {}: {}", self.rule, self.reason)
    }
}

impl std::error::Error for InvalidFault {}

impl Faults {
    /// Checks every rule: `every` at least 1, statuses of [`Fault::Status`],
    /// [`Fault::StatusAfterProcessing`] and [`Fault::HtmlPage`] from 100 to 599. [`MockServerBuilder::start`](crate::MockServerBuilder::start)
    /// and [`MockServer::set_faults`](crate::MockServer::set_faults) refuse faults that fail it.
    pub fn validate(&self) -> Result<(), InvalidFault> {
        for (rule, r) in self.rules.iter().enumerate() {
            let invalid = |reason: String| Err(InvalidFault { rule, reason });
            if r.every == 0 {
                return invalid("`every` is 0; 1 is every request, 2 every second one".into());
            }
            if let Fault::Status(code) | Fault::StatusAfterProcessing(code) | Fault::HtmlPage(code) =
                r.fault
                && !(100..=599).contains(&code)
            {
                return invalid(format!("{code} is not an HTTP status (100 to 599)"));
            }
        }
        Ok(())
    }

    /// No faults.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Adds a rule.
    pub fn with(mut self, rule: FaultRule) -> Faults {
        self.rules.push(rule);
        self
    }

    /// Sets the added latency.
    pub fn with_latency(mut self, latency: Duration) -> Faults {
        self.latency = latency;
        self
    }
}

/// Faults plus their per-rule counters.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    pub(crate) faults: Faults,
    counters: Vec<u64>,
    /// How many times each rule has fired.
    fired: Vec<u64>,
}

impl FaultState {
    pub(crate) fn new(faults: Faults) -> FaultState {
        let counters = vec![0; faults.rules.len()];
        let fired = vec![0; faults.rules.len()];
        FaultState {
            faults,
            counters,
            fired,
        }
    }

    /// Counts this request against every rule and returns the fault that fires, if any.
    pub(crate) fn next(&mut self, op: Operation, token: Option<&str>) -> Option<Fault> {
        let mut fired = None;
        for ((rule, count), done) in self
            .faults
            .rules
            .iter()
            .zip(self.counters.iter_mut())
            .zip(self.fired.iter_mut())
        {
            if rule.applies_to(op, token) {
                *count += 1;
                let spent = rule.times.is_some_and(|t| *done >= t);
                // `every` is validated; a 0 that slipped through never fires.
                let due = count.checked_rem(rule.every) == Some(0);
                if fired.is_none() && !spent && due {
                    *done += 1;
                    fired = Some(rule.fault.clone());
                }
            }
        }
        fired
    }
}
