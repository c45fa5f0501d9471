//! Paces per stated policy: each policy the platform states is paced by its own state, and a
//! request is paced by the policy that the last answer to its kind of request (its operation)
//! stated.
//!
//! A policy is identified by its name when the draft 08+ `RateLimit-Policy` names it
//! (`"list";q=2;w=1`), else by its quota and window (`2;w=1`). The policy an answer stands for
//! is the one that paces (the slowest whose window is at most the cap), else its first. Two
//! kinds whose answers state the same policy share one state (a global limit stated on every
//! endpoint is one count, never doubled); kinds stating different ones are paced apart. A kind
//! that states a policy no other kind holds, where its state was unnamed or its alone, keeps
//! its state: the policy's limit changed (a global limit that drops is seen by one kind first;
//! a kind still stating the old limit parts at its next answer); so does a kind whose
//! stated limit is unsteady (it changes on every answer: its quotas name nothing). A kind not answered
//! yet, or whose answers state nothing, is paced by the one state of everything unstated; the
//! first policy stated takes that state over (with its requests in flight), and a fresh one
//! stands for the unstated from then on. Once a policy is stated, a kind not answered yet sends
//! one request first, alone of its kind, and the others of its kind wait for its answer (which
//! tells the policy they are under: a global one is not overspent by a new kind's burst).

use std::collections::{HashMap, HashSet, VecDeque};

/// The hash of the maps keyed by operation id: fixed (the ids are the generated code's
/// constants, nothing an attacker chooses) and fast (SipHash cost about 100 instructions at each
/// of the three lookups a request makes).
type Fast = foldhash::fast::FixedState;
use std::time::{Duration, Instant};

use super::aimd::Cut;
use super::flight::Flight;
use super::noise;
use super::served::SLICES;
pub(super) use super::steady::Steady;
use crate::ratelimit::{AskedWait, Quota, Signal, WaitCause};

/// The most states kept: beyond, a kind stating a new policy keeps the state it has.
const MOST: usize = 64;

/// What identifies a stated policy.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Key {
    /// Its draft 08+ name.
    Named(Box<str>),
    /// Its quota and window (the bits of each number).
    Quota(u64, Option<u64>),
}

/// The policy an answer stands for: the one that paces (the slowest whose window is at most
/// `cap`), else the first stated; `None` when it states none.
pub(super) fn key_of(signal: &Signal, cap: Duration) -> Option<Key> {
    let cap = cap.as_secs_f64();
    let pacing = signal
        .quotas
        .iter()
        .enumerate()
        .filter_map(|(i, q)| Some((i, q.as_ref()?)))
        .filter_map(|(i, q)| Some((i, q.limit / q.window.filter(|w| *w <= cap)?)))
        .reduce(|a, b| if b.1 < a.1 { b } else { a })
        .map(|(i, _)| i);
    let i = pacing.or_else(|| signal.quotas.iter().position(Option::is_some))?;
    let quota = signal.quotas[i]?;
    Some(match &signal.names[i] {
        Some(name) => Key::Named(name.clone()),
        None => Key::Quota(quota.limit.to_bits(), quota.window.map(f64::to_bits)),
    })
}

/// One state and the policy it paces (`None`: everything unstated).
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) key: Option<Key>,
    pub(super) state: State,
}

/// Every state, and which one each kind of request is paced by.
#[derive(Debug)]
pub(super) struct Paces {
    pub(super) entries: Vec<Entry>,
    kinds: HashMap<&'static str, usize, Fast>,
    /// The state of everything unstated.
    default: usize,
    /// The kinds not answered yet whose first request is out.
    firsts: HashSet<&'static str, Fast>,
}

impl Paces {
    pub(super) fn new() -> Paces {
        Paces {
            entries: vec![Entry {
                key: None,
                state: State::fresh(),
            }],
            kinds: HashMap::default(),
            default: 0,
            firsts: HashSet::default(),
        }
    }

    /// For a request of `kind`: `None` when it goes as any other (its kind was answered, or
    /// nothing is stated yet); `Some(true)` when it goes first, alone of its kind, to learn the
    /// policy it is under; `Some(false)` when it waits for that one's answer.
    pub(super) fn first(&self, kind: &str) -> Option<bool> {
        if self.kinds.contains_key(kind) || self.entries.iter().all(|e| e.key.is_none()) {
            return None;
        }
        Some(!self.firsts.contains(kind))
    }

    /// A first request of `kind` is out (or reserved).
    pub(super) fn mark(&mut self, kind: &'static str) {
        self.firsts.insert(kind);
    }

    /// The first request of `kind` was answered, or dropped; whether one was out.
    pub(super) fn unmark(&mut self, kind: &str) -> bool {
        self.firsts.remove(kind)
    }

    /// The state a request of `kind` is paced by.
    pub(super) fn index(&self, kind: &str) -> usize {
        self.kinds.get(kind).copied().unwrap_or(self.default)
    }

    /// The state requests of `kind` are paced by now.
    #[cfg(test)]
    pub(super) fn of(&mut self, kind: &str) -> &mut State {
        let index = self.index(kind);
        self.state(index)
    }

    /// The state at `index`.
    pub(super) fn state(&mut self, index: usize) -> &mut State {
        &mut self.entries[index].state
    }

    /// The state an answer to `kind` stating `key` (at `now`) is learned by; from now on,
    /// `kind` is paced by it. A kind whose stated limit is unsteady keeps its state.
    pub(super) fn learner(&mut self, kind: &'static str, key: Option<Key>, now: Instant) -> usize {
        let mine = self.kinds.get(kind).copied();
        let Some(key) = key else {
            if mine.is_none() && self.first(kind).is_some() {
                // Answered, stating nothing while others state policies: the unstated pace.
                self.kinds.insert(kind, self.default);
            }
            return mine.unwrap_or(self.default);
        };
        if let Some(j) = mine
            && self.entries[j].state.steady.unsteady(now)
        {
            // Its stated limit changes on every answer: a quota so stated names no policy.
            return j;
        }
        if let Some(j) = self
            .entries
            .iter()
            .position(|e| e.key.as_ref() == Some(&key))
        {
            self.kinds.insert(kind, j);
            return j;
        }
        let unnamed = |key: Option<&Key>| matches!(key, Some(Key::Quota(..)));
        if let Some(j) = mine
            && ((unnamed(Some(&key)) && unnamed(self.entries[j].key.as_ref()))
                || !self.kinds.iter().any(|(k, i)| *i == j && *k != kind))
        {
            // The policy this kind was paced by, stated anew (unnamed, or this kind's alone):
            // its limit changed (a kind still stating the old one parts when it is answered).
            self.entries[j].key = Some(key);
            return j;
        }
        if self.entries.len() >= MOST {
            return mine.unwrap_or(self.default);
        }
        let fresh = Entry {
            key: None,
            state: State::fresh(),
        };
        let j = if self.entries.iter().all(|e| e.key.is_none()) {
            // The first policy stated takes the pace so far over (its requests in flight).
            let j = self.default;
            self.entries[j].key = Some(key);
            self.entries.push(fresh);
            self.default = self.entries.len() - 1;
            j
        } else {
            self.entries.push(Entry {
                key: Some(key),
                ..fresh
            });
            self.entries.len() - 1
        };
        self.kinds.insert(kind, j);
        j
    }
}

#[derive(Debug)]
pub(super) struct State {
    /// Requests a second the platform states (before headroom and share); `None` too while
    /// the stated limit is unsteady.
    pub(super) stated: Option<f64>,
    /// How often the stated rate changed lately: one that changes on every answer is not
    /// followed.
    pub(super) steady: Steady,
    /// When an answer last stated the rate: one no answer has restated for a while is forgotten
    /// (the platform stopped stating it).
    pub(super) stated_at: Instant,
    /// The window inferred for a limit whose window is not stated, in seconds (0: none), and
    /// when it was last set.
    pub(super) guessed: (f64, Instant),
    /// The last time an epoch reset stated, in epoch seconds of the clock that stated it (0:
    /// none yet): the next one's step from it is the window (`stated::window`).
    pub(super) last_epoch: f64,
    /// The window inferred from the steps between epoch resets (`stated::window`), and
    /// when it was last seen (0: none).
    pub(super) stepped: (f64, Instant),
    /// The last refusal refuted its stated reset (`skew::refuted`), none served since: a
    /// request sent alone now is the pacer's poll (`Slot::polls`).
    pub(super) refuted: bool,
    /// The last refusal said a count is spent until a stated reset (nothing remaining, no
    /// `Retry-After`): its renewal after a long hold is not a quota a second (`aimd`).
    pub(super) count_spent: bool,
    /// The platform said nothing remains of a quota (a remainder of 0, not a refusal) until a
    /// reset beyond the cap: every send is refused until then, or until an answer says
    /// something remains (the reset as stated, for messages).
    pub(super) spent: Option<(Instant, Option<Quota>, Option<AskedWait>)>,
    /// An answer said nothing remains of a quota until a reset beyond the cap, not yet
    /// confirmed: a claim, not an ask. Sends wait for the requests in flight, then one goes
    /// alone (a probe); only its answer saying so again (or refusing it) ends the sends.
    pub(super) doubt: Option<(Instant, Option<Quota>)>,
    /// What may still be sent against a stated remainder that is not renewed within a
    /// rounding (a long quota's, or a window's longer than [`ROUNDING`](super::ROUNDING)): the smallest of the
    /// remainders stated since one was sent alone, each less the requests in flight when it
    /// came, less those sent since (answers overtake each other: none may raise it). At 0,
    /// sends wait for an answer; with nothing in flight, one goes alone, and its answer
    /// restates it as it is.
    pub(super) allowance: Option<u32>,
    /// Refusals until then answer requests sent before the stated rate dropped: they do not
    /// cut the share.
    pub(super) dropped_until: Option<Instant>,
    /// This client's share of the stated rate, in `[MIN_SHARE, 1]`.
    pub(super) share: f64,
    /// Requests a second learned by AIMD (nothing stated).
    pub(super) learned: Option<f64>,
    /// The AIMD rate at the last refusal.
    pub(super) ceiling: Option<f64>,
    /// The most the platform served in a second (AIMD's scale: what it adds back a second).
    pub(super) peak: f64,
    /// The most the platform served over a half second lately (in requests a second), and
    /// when (`lately`).
    pub(super) lately: super::lately::Lately,
    /// What the platform served (answers not throttled) over the last second, per tenth of a
    /// second, and the slice the newest count is in (counted from `first`).
    pub(super) served: ([u32; SLICES], u64),
    /// What the platform refused over the last second, per slice (the slices of `served`).
    pub(super) refused: [u32; SLICES],
    /// The answer learned from is a refusal taken as loss on the way (`noise::tally`).
    pub(super) loss: bool,
    /// The loss level learned (the share of answers refused on the way whatever the pace,
    /// `noise`), 0 when none is.
    pub(super) noise: f64,
    /// The open trial of AIMD's last cut, or of a stated share's (`noise`).
    pub(super) trial: Option<noise::Trial>,
    /// A trial saw the refusals stop at the lower pace (a limit, `noise`).
    pub(super) stopped: bool,
    /// A trial said loss once, none said limit since: what was before its cut,
    /// restored only when the next trial says loss again (`noise::note`).
    pub(super) loss_once: Option<noise::Before>,
    /// The first answer AIMD learned from.
    pub(super) first: Option<Instant>,
    /// AIMD's last cut: when, the generation it started, what the last second had served then,
    /// and the pace it set.
    pub(super) cut: Cut,
    /// A request sent at the pace of the last cut was served since: the platform serves again.
    pub(super) resolved: bool,
    /// A refusal lasted until a window renewed: the limit is a window, its quota known.
    pub(super) windowed: bool,
    /// That quota was counted over less than a second of answers, learned then, and not
    /// confirmed yet (`lately::window_quota`).
    pub(super) provisional: Option<Instant>,
    /// A limit taken for a window refused past its renewal (a lockout that one hold of a
    /// rounding ended looked like one): a hold no longer tells a window (`aimd::served_again`).
    pub(super) window_refuted: bool,
    /// The last hold of a lockout (AIMD's refusals continuing at the halved pace, none served),
    /// and how many there were in a row: it grows at each refusal after a hold, cleared once
    /// one is served (`aimd::lockout_hold`).
    pub(super) backoff: Duration,
    pub(super) lockouts: u32,
    /// The limiter locks out (a refusal went on past a window's renewal with every send held,
    /// none served): the hold that ended its last lockout (`aimd::served_again`). From then on
    /// each refusal holds every send at once (`aimd::holds`).
    pub(super) locks: Option<Duration>,
    /// The stated quota the pace follows (requests per window, in seconds), and the send
    /// times of this client within its window, oldest first (at most `stated::sends::LOG_MOST`).
    pub(super) quota: Option<(f64, f64)>,
    pub(super) log: std::collections::VecDeque<Instant>,
    /// Which stated quotas refill (buckets) rather than renew (windows), by their resets.
    pub(super) refills: super::bucket::Refills,
    /// A fixed window's renewals as seen (`renewal`).
    pub(super) renewals: super::renewal::Renewals,
    /// Other callers' sends within the stated window (`others`).
    pub(super) others: super::others::Others,
    /// The platform's remainder said it forgot sends the log counted within its window: it
    /// refills (a bucket), and the log is not kept (`stated::logged`).
    pub(super) forgets: bool,
    /// Answers in a row whose remainder said so (`bucket::trust_remainder`).
    pub(super) forgetting: u8,
    /// An answer was learned from: until then sends are logged for the quota it may state.
    pub(super) heard: bool,
    /// Until then the log holds no send: the remainders stated are not one count's
    /// (`bucket::note_room`).
    pub(super) roomy_until: Option<Instant>,
    /// The last answers' remainders, and when their requests were planned to go (at most
    /// [`bucket::LEFTS_KEPT`]).
    pub(super) lefts: VecDeque<(Instant, u64)>,
    /// A send beyond the quota was refused while the log held none (lifted, `bucket::note_room`,
    /// or off for a bucket that seemed to forget sends, `forgets`): it never lifts again.
    pub(super) room_refuted: bool,
    /// What the pacer holds of the stated limit: followed, or refuted by what is served
    /// (`stated::claim`).
    pub(super) claim: super::stated::claim::Claim,
    /// The room the last served answer stated: its remainder less the requests in flight then.
    pub(super) room: u32,
    /// The most any served answer stated remains of the stated quota, and that quota (reset when
    /// it changes): how deep the bucket is, as far as this client has seen (`stated`).
    pub(super) depth: (Option<f64>, u64),
    /// The earliest time of the next spaced send.
    pub(super) next: Option<Instant>,
    /// When the last send went (`slot::departs`).
    pub(super) departed: Option<Instant>,
    /// How far the times this policy states (epoch resets) lie ahead of the renewals observed
    /// (`skew`): each is read that much sooner.
    pub(super) lead: Duration,
    /// The longest hold on a stated time before one request checks it (`skew`): doubled at
    /// each check refused.
    pub(super) probe_after: Duration,
    /// A hold on a stated time cut short: from when sends check it, and when it said the count
    /// renews (as read).
    pub(super) checking: Option<(Instant, Instant)>,
    /// Sends are held until then (a `Retry-After`, or a reset with nothing remaining).
    pub(super) held_until: Option<Instant>,
    /// What the hold is: a wait asked for, or a quota said to be spent until its reset.
    pub(super) held_for: WaitCause,
    /// Refusals stating no remainder in a row, none served between them (`learn::BARE_RUN`).
    pub(super) bare_run: u8,
    /// A `Retry-After` beyond the cap, and until when: every send is refused until then (with
    /// the wait as the server stated it, and what it is, for the refusal's message).
    pub(super) locked: Option<(Instant, Duration, Option<AskedWait>, WaitCause)>,
    /// Sends in the current one-second window, for the rate observed before the first `429`.
    pub(super) window: (Instant, u32),
    /// How many of the last answers in a row were a gateway's `502` or `504`.
    pub(super) gave_up: u8,
    /// The last time a throttled answer cut the rate: those of one burst are one cut.
    pub(super) last_cut: Option<Instant>,
    /// Bumped when the pace is cut: slots reserved at the old pace are taken again.
    pub(super) generation: u32,
    /// Requests sent and not answered yet (not those still waiting for their send time: they
    /// are neither spending the platform's remainder nor about to be counted in it).
    pub(super) in_flight: u32,
    /// Requests that may go without spacing: what the platform said is left (at most its
    /// limit), less those in flight.
    pub(super) credit: u32,
    /// The remainder may be spent as a burst: until a refusal under a stated rate (not one
    /// answering the old pace of a drop). A sliding log keeps a burst for its whole window, so
    /// the pace after it is refused; a bucket alone is never refused at the pace.
    pub(super) bursts: bool,
    /// The requests in flight a concurrency limiter allows, as learned (nothing stated).
    pub(super) flight: Flight,
    /// Since when sends wait for an answer to restate a spent remainder, none coming (or when
    /// the gate last let one go alone): after [`super::stated::STALLED`], one goes alone.
    pub(super) awaited: Option<Instant>,
}

impl State {
    /// The pace was cut (or restored): slots reserved at the old pace are taken again, from
    /// `next` on, none within an interval at the new pace of the last send (`slot::after_last`).
    pub(super) fn repace(&mut self, next: Instant) {
        self.generation = self.generation.wrapping_add(1);
        self.next = Some(super::slot::after_last(self).map_or(next, |at| at.max(next)));
    }

    /// A state that has learned nothing yet.
    pub(super) fn fresh() -> State {
        let now = Instant::now();
        State {
            stated: None,
            steady: Steady::new(now),
            stated_at: now,
            guessed: (0.0, now),
            last_epoch: 0.0,
            stepped: (0.0, now),
            refuted: false,
            count_spent: false,
            spent: None,
            doubt: None,
            allowance: None,
            dropped_until: None,
            share: 1.0,
            learned: None,
            ceiling: None,
            peak: 0.0,
            lately: super::lately::Lately::default(),
            served: ([0; SLICES], 0),
            refused: [0; SLICES],
            loss: false,
            noise: 0.0,
            trial: None,
            stopped: false,
            loss_once: None,
            first: None,
            cut: Cut {
                at: now,
                generation: 0,
                served: 0,
                rate: 0.0,
                answers: (0, 0),
                served_since: 0,
                unpaced: false,
                window: u32::MAX,
            },
            resolved: true,
            windowed: false,
            provisional: None,
            window_refuted: false,
            backoff: Duration::ZERO,
            lockouts: 0,
            locks: None,
            quota: None,
            log: VecDeque::new(),
            forgets: false,
            forgetting: 0,
            heard: false,
            refills: super::bucket::Refills::default(),
            renewals: super::renewal::Renewals::default(),
            others: super::others::Others::default(),
            roomy_until: None,
            lefts: VecDeque::new(),
            room_refuted: false,
            claim: super::stated::claim::Claim::Trusted,
            room: 0,
            depth: (None, 0),
            next: None,
            departed: None,
            lead: Duration::ZERO,
            probe_after: super::skew::PROBE_AFTER,
            checking: None,
            held_until: None,
            held_for: WaitCause::Asked,
            bare_run: 0,
            locked: None,
            window: (now, 0),
            gave_up: 0,
            last_cut: None,
            generation: 0,
            in_flight: 0,
            credit: 0,
            bursts: true,
            flight: Flight::new(),
            awaited: None,
        }
    }
}
