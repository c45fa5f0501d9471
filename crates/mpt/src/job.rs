//! What the calls of one bulk job share besides the client: one total wait budget for the
//! platform's throttling, and the cancel flag. Read by the hook layer from the call's state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::{Either, select};

use crate::pace::{Pacer, Refused, Slot};
use crate::ratelimit::Signal;
use crate::retry::Ending;

mod breaker;
mod budget;
mod sleep;
pub(crate) use breaker::Breaker;
pub(crate) use budget::{CallBudget, Charge, WaitBudget};

/// A flag that stops bulk work: once [`Cancel::cancel`] is called, a bulk call of a client made
/// with [`Client::with_cancel`](crate::Client::with_cancel) sends nothing more, lets the changes
/// already in flight finish, gives up the reads in flight (they change nothing), and reports
/// every id it did not attempt as [`Error::Cancelled`](crate::Error::Cancelled). Cheap to clone;
/// every clone is the same flag (set it from a signal handler, say).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<Flag>);

/// The flag, and the tasks waiting for it.
#[derive(Debug, Default)]
struct Flag {
    set: AtomicBool,
    woken: tokio::sync::Notify,
}

impl Cancel {
    /// A flag not yet set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Sets it: no new request is started by the bulk calls watching it.
    pub fn cancel(&self) {
        self.0.set.store(true, Ordering::SeqCst);
        self.0.woken.notify_waiters();
    }

    /// Whether it is set.
    pub fn is_cancelled(&self) -> bool {
        self.0.set.load(Ordering::SeqCst)
    }

    /// Ends once it is set.
    pub(crate) async fn set(&self) {
        loop {
            let woken = self.0.woken.notified();
            if self.is_cancelled() {
                return;
            }
            woken.await;
        }
    }
}

/// One bulk item's change under way: its id, and whether its change was handed to the
/// transport (from then on it may happen, whatever becomes of its answer). One allocation
/// for both: the id is not copied for the window that waits for it.
#[derive(Debug)]
pub(crate) struct Ticket {
    /// The id the change is for.
    pub(crate) id: String,
    /// Set once a request of the change other than a read is handed to the transport.
    pub(crate) sent: AtomicBool,
}

impl Ticket {
    /// A change for `id`, nothing sent yet.
    pub(crate) fn new(id: String) -> Arc<Ticket> {
        Arc::new(Ticket {
            id,
            sent: AtomicBool::new(false),
        })
    }

    /// Whether a request of it other than a read was handed to the transport.
    pub(crate) fn sent(&self) -> bool {
        self.sent.load(Ordering::SeqCst)
    }

    /// The id, taken back once the change's work is over (copied if it is still shared).
    pub(crate) fn into_id(ticket: Arc<Ticket>) -> String {
        Arc::try_unwrap(ticket).map_or_else(|shared| shared.id.clone(), |t| t.id)
    }
}

tokio::task_local! {
    /// The bulk item worked in this task (see [`noting_changes`]).
    static CHANGE_SENT: Arc<Ticket>;
}

/// Runs `work` (one bulk item's), noting in `ticket` whether a change of it was handed to the
/// transport.
pub(crate) fn noting_changes<F: Future>(
    ticket: Arc<Ticket>,
    work: F,
) -> impl Future<Output = F::Output> {
    CHANGE_SENT.scope(ticket, work)
}

/// A change is handed to the transport now (see [`noting_changes`]).
pub(crate) fn change_sent() {
    let _ = CHANGE_SENT.try_with(|ticket| ticket.sent.store(true, Ordering::SeqCst));
}

/// How often a wait checks the cancel flag (it is a flag, not a notification).
pub(super) const CANCEL_POLL: Duration = Duration::from_millis(50);

/// The job a call belongs to, if any.
#[derive(Default)]
pub(crate) struct Job {
    /// Nothing more is sent once it is set.
    pub(crate) cancel: Option<Cancel>,
    /// The job's total throttling wait budget.
    pub(crate) budget: Option<Arc<WaitBudget>>,
    /// Proved right before every change is sent ([`crate::Client::with_guard`]).
    pub(crate) guard: Option<crate::guard::Shared>,
}

/// What waiting for a send slot ended with.
pub(crate) enum Acquired<'p> {
    /// A slot, and how long it took.
    Slot(Slot<'p>, Duration),
    /// The wait is over its cap or the budget.
    Refused(Refused),
    /// The job was cancelled meanwhile.
    Cancelled,
}

impl Job {
    /// Whether the job was cancelled.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(Cancel::is_cancelled)
    }

    /// The refusal of every send once the job's budget has run out, or its requests went
    /// unanswered ([`Breaker`]).
    pub(crate) fn refusal(&self) -> Option<Refused> {
        if let Some(b) = &self.budget
            && let Some(requests) = b.breaker.tripped()
        {
            return Some(Refused {
                wait: Duration::ZERO,
                cap: b.breaker.timeout,
                asked: None,
                cause: crate::ratelimit::WaitCause::Unanswered { requests },
            });
        }
        let budget = self.budget.as_ref().filter(|b| b.out())?;
        budget.ran_out().map(|(wait, stated)| Refused {
            wait,
            cap: budget.total,
            asked: stated.then_some(crate::ratelimit::AskedWait::Seconds(wait.as_secs_f64())),
            cause: if budget.over_refusing.load(Ordering::SeqCst) {
                crate::ratelimit::WaitCause::Refusing
            } else {
                crate::ratelimit::WaitCause::Asked
            },
        })
    }

    /// The pacer's refusal as the caller should read it: a wait over the cap stands; a wait
    /// longer than what is left of a budget names the whole budget (the job's, which is then
    /// spent: nothing more is sent for it, or the call's `max_wait`), not the few milliseconds
    /// left.
    pub(crate) fn budget_refusal(
        &self,
        refused: Refused,
        cap: Duration,
        call_left: Duration,
        call_total: Duration,
    ) -> Refused {
        let unanswered = matches!(
            refused.cause,
            crate::ratelimit::WaitCause::Unanswered { .. }
        );
        if refused.cap >= cap || unanswered {
            return refused;
        }
        match &self.budget {
            Some(b) if b.room() < call_left => {
                // Spent on refusals that asked for no wait: said so, not as the pace's wait (a
                // hold the platform asked for is a wait asked).
                let asked = refused.cause == crate::ratelimit::WaitCause::Asked;
                if let Some(refusing) = b.refusing_for().filter(|_| !asked) {
                    b.run_out_refusing(refusing);
                    return Refused {
                        wait: refusing,
                        cap: b.total,
                        asked: None,
                        cause: crate::ratelimit::WaitCause::Refusing,
                    };
                }
                b.run_out(refused.wait, refused.asked.is_some());
                Refused {
                    cap: b.total,
                    ..refused
                }
            }
            _ => Refused {
                cap: call_total,
                ..refused
            },
        }
    }

    /// Whether a resend may wait `delay` (`None`: no): a throttled wait is spent from the job's
    /// budget (the charge, given back in part when the job was not held: [`Job::waited`]); once
    /// that is out, the answer stands and nothing more is sent for the job.
    pub(crate) fn may_wait(
        &self,
        throttled: bool,
        delay: Duration,
        asked: Option<Duration>,
    ) -> Option<Option<Charge>> {
        match &self.budget {
            Some(b) if throttled => b.spend(delay, asked).map(Some),
            _ => Some(None),
        }
    }

    /// A wait charged to the job's budget held the job until `woke` (the platform served again
    /// then): the part after it is given back.
    pub(crate) fn waited(&self, charge: Charge, woke: tokio::time::Instant) {
        if let Some(b) = &self.budget {
            b.refund(charge, woke);
        }
    }

    /// Notes an answer (what it says of the rate limit) against the job's budget; whether it
    /// was throttled.
    pub(crate) fn answered(&self, signal: Option<&Signal>) -> bool {
        let throttled = signal.is_some_and(|s| s.throttled);
        if signal.is_some()
            && let Some(b) = &self.budget
        {
            b.answered(throttled, signal.and_then(Signal::asked_wait));
        }
        throttled
    }

    /// `budget`, or less if the job has less left.
    pub(crate) fn bound(&self, budget: Duration) -> Duration {
        self.budget
            .as_ref()
            .map_or(budget, |b| budget.min(b.room()))
    }

    /// A send slot, given up at once if the job is cancelled or its budget runs out while it
    /// waits, or once the call's run of refusals has taken what is left of its own budget.
    pub(crate) async fn acquire<'p>(
        &self,
        pacer: &'p Pacer,
        kind: &'static str,
        cap: Duration,
        call: &CallBudget,
    ) -> Acquired<'p> {
        let budget = self.bound(call.left());
        let acquire = self.acquire_within(pacer, kind, cap, budget);
        if call.refused.is_none() {
            return acquire.await;
        }
        // A run of refusals: the wait for a slot (the pace's queue too) is its wall time.
        match tokio::time::timeout(call.left(), Box::pin(acquire)).await {
            Ok(taken) => taken,
            Err(_) => call.spent().map_or(Acquired::Cancelled, Acquired::Refused),
        }
    }

    /// A send slot within `budget`, given up at once if the job is cancelled or its budget runs
    /// out while it waits (or has when it is taken: nothing is sent then).
    async fn acquire_within<'p>(
        &self,
        pacer: &'p Pacer,
        kind: &'static str,
        cap: Duration,
        budget: Duration,
    ) -> Acquired<'p> {
        let taken = if self.cancel.is_none() && self.budget.is_none() {
            pacer.acquire(kind, cap, budget).await
        } else {
            let acquire = std::pin::pin!(pacer.acquire(kind, cap, budget));
            let stopped = std::pin::pin!(self.until_stopped());
            match select(acquire, stopped).await {
                Either::Left((taken, _)) => taken,
                Either::Right(((), _)) => {
                    return match self.refusal() {
                        Some(refused) if !self.cancelled() => Acquired::Refused(refused),
                        _ => Acquired::Cancelled,
                    };
                }
            }
        };
        match taken {
            Ok((slot, waited)) => match self.refusal() {
                // The slot is given back unsent as it drops.
                Some(refused) => Acquired::Refused(refused),
                None => Acquired::Slot(slot, waited),
            },
            Err(refused) => Acquired::Refused(refused),
        }
    }

    /// Sends `request`. A read (`GET`) of a job that is cancelled before its answer comes is
    /// given up (`Err`, with its URL): it changes nothing, and an id for which only reads went is not
    /// attempted, never "in flight" (a gateway that never answers held every such id until the
    /// grace after an interrupt was over, then reported it `outcome-unknown`). A change in
    /// flight is waited for: it may happen (so noted, for the bulk item it is of).
    pub(crate) async fn send(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        read: bool,
    ) -> Result<reqwest::Result<reqwest::Response>, reqwest::Url> {
        if !read {
            change_sent();
        }
        match &self.cancel {
            Some(cancel) if read => {
                let url = request.url().clone();
                let sent = std::pin::pin!(client.execute(request));
                match select(sent, std::pin::pin!(cancel.set())).await {
                    Either::Left((answer, _)) => Ok(answer),
                    Either::Right(_) => Err(url),
                }
            }
            _ => Ok(client.execute(request).await),
        }
    }

    /// Notes how an attempt ended, for the job's breaker.
    pub(crate) fn attempted(
        &self,
        result: reqwest::Result<reqwest::Response>,
    ) -> reqwest::Result<reqwest::Response> {
        if let Some(b) = &self.budget {
            b.breaker.attempt(&result);
        }
        result
    }
}

impl Job {
    /// Ends once the job is cancelled or its budget has run out (a run of refusals going on
    /// reached it: [`WaitBudget::out`]).
    async fn until_stopped(&self) {
        let stopped = |b: &Arc<WaitBudget>| b.out() || b.breaker.tripped().is_some();
        while !self.cancelled() && !self.budget.as_ref().is_some_and(stopped) {
            tokio::time::sleep(CANCEL_POLL).await;
        }
    }
}

/// Why nothing was sent: a wait over the cap, or one longer than what is left of the budget
/// (`cap` is then the whole budget). A wait the server stated (`asked`) is named as it asked it
/// (beyond the clamp every computation uses, as it said it); without one, `wait` is the time left
/// before a send (of a wait the platform asked for earlier, or of the pace), and said so.
pub(crate) fn not_attempted(
    wait: Duration,
    cap: Duration,
    asked: Option<&crate::ratelimit::AskedWait>,
    cause: crate::ratelimit::WaitCause,
) -> String {
    if let crate::ratelimit::WaitCause::Unanswered { requests } = cause {
        return format!(
            "not attempted: the platform answered none of the last {requests} requests of this job within the {} timeout; nothing more is sent for it",
            crate::ratelimit::human(cap)
        );
    }
    let (in_words, cap_shown) = distinct(wait, cap);
    let shown = crate::ratelimit::AskedWait::shown(in_words, asked);
    if cause == crate::ratelimit::WaitCause::Refusing
        && let Some(what) = cause.not_asked(&shown)
    {
        return format!(
            "not attempted: {what}; the next send would go past what is left of the {cap_shown} wait budget"
        );
    }
    if let Some(what) = cause.not_asked(&shown) {
        let over = if wait > cap {
            "over the"
        } else {
            "longer than what is left of the"
        };
        let of = if wait > cap { "cap" } else { "wait budget" };
        return format!("not attempted: {what}; {over} {cap_shown} {of}");
    }
    match asked {
        Some(_) if wait > cap => {
            format!("not attempted: the platform asks to wait {shown}; over the {cap_shown} cap")
        }
        Some(_) => format!(
            "not attempted: the platform asks to wait {shown}, longer than what is left of the {cap_shown} wait budget"
        ),
        None if wait > cap => format!(
            "not attempted: the next send is {shown} away (what is left of the platform's last wait), longer than the {cap_shown} it may wait"
        ),
        None => format!(
            "not attempted: the next send is {shown} away (what is left of the platform's last wait), longer than what is left of the {cap_shown} wait budget"
        ),
    }
}

/// `wait` and `cap` in words (rounded up to the second from a second on), or, where those would
/// read the same though they differ, in the fewest decimals that tell them apart (14.9999 s of a
/// 15 s budget): never "1 s away; over the 1 s cap" for a wait of 1.97 s, nor "0 ms" over "0 ms".
pub(crate) fn distinct(wait: Duration, cap: Duration) -> (String, String) {
    let human = crate::ratelimit::human;
    let (w, c) = (human(wait), human(cap));
    if w != c || wait == cap {
        return (w, c);
    }
    let exact = |d: Duration, places: usize| {
        let text = format!("{:.*}", places, d.as_secs_f64());
        format!("{} s", text.trim_end_matches('0').trim_end_matches('.'))
    };
    let places = (1..9)
        .find(|p| exact(wait, *p) != exact(cap, *p))
        .unwrap_or(9);
    (exact(wait, places), exact(cap, places))
}

/// What an attempt says of the rate limit: its answer's signal, or, for a connection closed or
/// reset before an answer came ([`crate::transport::closed_early`]), a refusal with no wait asked:
/// a gateway or limiter shedding load closes connections instead of answering `429`. A body
/// cut off after a status was read (`cut`) says nothing: the platform served it.
pub(crate) fn signal_of(result: &reqwest::Result<reqwest::Response>, cut: bool) -> Option<Signal> {
    match result {
        Ok(response) => Some(Signal::read(response.status(), response.headers())),
        Err(e) if !cut && crate::transport::closed_early(e) => Some(Signal {
            throttled: true,
            ..Signal::default()
        }),
        Err(_) => None,
    }
}

/// Logs a resend (the transport's error redacted: it quotes the URL).
pub(crate) fn retrying(
    result: &reqwest::Result<reqwest::Response>,
    delay: Duration,
    redactor: &crate::redact::Redactor,
) {
    match result {
        Ok(r) => tracing::warn!(
            status = r.status().as_u16(),
            retry_in_ms = delay.as_millis() as u64,
            "retrying"
        ),
        Err(e) => tracing::warn!(
            error = redactor.redact(&e.to_string()),
            retry_in_ms = delay.as_millis() as u64,
            "retrying"
        ),
    }
}

/// How an attempt ended, as the retry decision sees it: a throttling 403 (nothing remaining, or
/// a wait asked for: GitHub's primary and secondary limits), or a 503 asking to wait (its
/// `Retry-After` readable or not), is a 429; a bare 503 stays a 503 (refused before any work, but only what may be repeated is re-sent); a
/// `2xx` that is not the platform's (`foreign`: a gateway's page) is [`Ending::Foreign`].
pub(crate) fn ending_of(
    signal: Option<&Signal>,
    result: &reqwest::Result<reqwest::Response>,
    cut: bool,
    foreign: bool,
) -> Ending {
    match signal {
        _ if foreign => Ending::Foreign,
        _ if cut => Ending::Lost,
        Some(s)
            if s.throttled
                && result.as_ref().is_ok_and(|r| match r.status().as_u16() {
                    403 => true,
                    503 => r.headers().contains_key(reqwest::header::RETRY_AFTER),
                    _ => false,
                }) =>
        {
            Ending::Answered(429)
        }
        _ => Ending::of(result),
    }
}

#[cfg(test)]
mod tests;
