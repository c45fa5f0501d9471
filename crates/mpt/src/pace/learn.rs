//! What an answer says of the limit, learned into its pace's state.

use super::*;

/// How many refusals stating no remainder in a row, none served between them, make one under a
/// stated limit hold every send for the wait it asks (fewer: its own request's, a lock on one
/// token or loss on the way; a lockout refuses everything).
const BARE_RUN: u8 = 3;

impl Pacer {
    /// Learns from an answer's signal, come at `now`; `sent`: how its request was sent.
    pub(super) fn learn_at(
        &self,
        s: &mut State,
        signal: &Signal,
        cap: Duration,
        sent: Sent,
        now: Instant,
    ) {
        lately::count_try(s, sent.repeats.is_some(), signal.throttled);
        if signal.throttled
            && signal.states_no_count()
            && signal.asked_wait().is_none_or(|a| a <= cap)
            && lately::own_refusal(s, sent.repeats, now)
        {
            // One request's own refusal, not the limit's: its call waits what it asks.
            return;
        }
        let bare = noise::gave_up_again(s, signal);
        let fixed = skew::correct(s, bare.as_deref().unwrap_or(signal), sent.at, now).or(bare);
        let signal = fixed.as_deref().unwrap_or(signal);
        s.loss = self.mode == Pacing::Adaptive && noise::tally(s, signal.throttled, now);
        s.refills.note(signal, now);
        // A run of refusals stating no remainder, none served between them (every fifth token
        // locked 1-2 s under a stated 200 a second: each lock's `Retry-After: 2` or `3` held the
        // job, and 600 of 1,000 ids failed past the 2 min budget where a naive loop took 34 s;
        // tester round 36).
        let no_count = signal.states_no_count();
        s.bare_run = if signal.throttled && no_count {
            s.bare_run.saturating_add(1)
        } else {
            0
        };
        let stated = s.stated.is_some() || signal.quotas().next().is_some();
        let aimd = !stated && self.mode == Pacing::Adaptive;
        // A refusal a concurrency limiter's ceiling explains: no cut, no hold.
        let crowded = aimd && s.flight.learn(signal.throttled, sent.level);
        if signal.throttled {
            s.credit = 0;
            // A lockout under AIMD (`aimd::holds`; no concurrency limiter's refusal): every
            // send is held, for the wait asked however short, or a backoff when none is asked.
            let locked_out =
                aimd && !crowded && aimd::holds(s, sent.generation, signal.asked_wait());
            if let Some(after) = signal.asked_wait().filter(|a| !a.is_zero()) {
                if after > cap {
                    let until = now + after;
                    if s.locked.is_none_or(|(l, ..)| l < until) {
                        s.locked = Some((until, after, signal.asked, stated::lock_cause(signal)));
                    }
                    return;
                }
                // A window's count spent (not a bucket's: it refills) renews at its reset.
                let refills = s.refills.of(signal.remaining_of);
                let renews = stated::spent_window(signal, refills, stated::inferred(s, now));
                let asks = if aimd { locked_out } else { after > ROUNDING };
                if locked_out {
                    // An HTTP date names a whole second: a lockout's end cut to it is up to a
                    // second later (a probe sent at the date extended the lockout again).
                    let dated = matches!(signal.asked, Some(AskedWait::Until(_)));
                    let asked = after + Duration::from_secs(u64::from(dated));
                    let until = aimd::lockout_hold(s, now, Some(asked), cap);
                    hold(s, until, WaitCause::Asked);
                } else if asks || renews || (!stated && self.mode != Pacing::Adaptive) {
                    // One stating no remainder under a stated limit (not the stated count's:
                    // a lock on one token, loss on the way, or a limiter in front refusing
                    // everything) holds once it makes [`BARE_RUN`] in a row, none served between
                    // them: its own request waits what it asks.
                    if !(stated && no_count && !renews && s.bare_run < BARE_RUN) {
                        let until = skew::until(s, signal, now, after);
                        hold(s, until, WaitCause::Asked);
                    }
                }
            } else if locked_out {
                let until = aimd::lockout_hold(s, now, None, cap);
                hold(s, until, WaitCause::Refusing);
            }
        }
        if skew::note(s, signal) {
            hold(s, now + skew::PROBE_AFTER, WaitCause::Refusing);
        }
        if self.mode != Pacing::Adaptive {
            return;
        }
        if self.learn_stated(s, signal, now, cap, sent) || crowded {
            return;
        }
        aimd::learn_tallied(s, signal.throttled, now, sent.generation);
    }
}
