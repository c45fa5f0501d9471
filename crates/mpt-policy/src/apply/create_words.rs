//! The words of a create's outcomes that say what is known of it: an answer lost when the
//! interrupt came, a record refused, a refusal after this run's own create lost its answer (its
//! lock proven first), a create given up on.

use super::{ActionOutcome, Applied, Applying};
use crate::state::{Key, RecordError};
use mpt::Error;

impl Applying<'_> {
    /// The outcome of this run's create of `key`'s record whose answer was lost (`source`: why)
    /// when the interrupt came before the apply adopted what it made: unknown, never "not
    /// attempted" (the create was sent); the record is kept, and the next apply adopts the token
    /// that carries its marker, or creates when none does.
    pub(super) fn create_unknown(
        &self,
        key: &Key,
        source: &dyn std::fmt::Display,
    ) -> ActionOutcome {
        ActionOutcome::new(
            Applied::OutcomeUnknown,
            format!(
                "outcome unknown: this run sent the create and its answer was lost ({source}); interrupted, the apply adopted nothing: the record is kept in {} (the create sent): the next apply adopts the token carrying its marker (or creates one, if none does)",
                self.state.describe(key)
            ),
        )
    }

    /// A record read back that fails a check: reported, left in place, nothing sent for it.
    pub(super) fn refused(&self, key: &Key, why: &RecordError) -> ActionOutcome {
        ActionOutcome::new(
            Applied::Refused,
            format!(
                "{}: refused: {why}; the record is left in place and nothing was sent for it ({})",
                self.state.describe(key),
                why.advice()
            ),
        )
    }

    /// [`Applying::refused_own`], while the lock of `account` is still proven. Lost since (a
    /// session ended while this apply was frozen, say), another apply may hold the record now,
    /// adopt what the create made and remove the record: the row says so, not that the record
    /// is kept (tester round 21, N5: `refused ... the record is kept` for a token the other apply
    /// had adopted). Interrupted: an outcome unknown ([`Applying::create_unknown`]).
    pub(super) async fn refused_own_if_held(
        &self,
        key: &Key,
        account: &str,
        why: &RecordError,
    ) -> ActionOutcome {
        let Some(stopped) = self.fenced(account).await else {
            return self.refused_own(key, why);
        };
        if self.client.cancelled() {
            return self.create_unknown(key, &format!("then: {why}"));
        }
        let lost = self.lost().unwrap_or(stopped.detail);
        ActionOutcome::failed(format!(
            "this run sent the create and its answer was lost; then the account's lock could not be proven ({lost}): another apply may hold its record now and adopt what it made, so none is adopted or counted as created here, and no secret is handed over; the next apply checks the record (if still kept) in {}",
            self.state.describe(key)
        ))
    }

    /// A refusal after this run's own create lost its answer: the create was sent (and may
    /// have made one of the tokens named), so the words are not [`Applying::refused`]'s.
    fn refused_own(&self, key: &Key, why: &RecordError) -> ActionOutcome {
        ActionOutcome::new(
            Applied::Refused,
            format!(
                "refused: this run sent the create and its answer was lost; then: {why}; which token it made cannot be told, so none is adopted or counted as created, and no secret is handed over; the record is kept in {} (once the tokens not wanted are removed, the next apply adopts the one left carrying the marker)",
                self.state.describe(key)
            ),
        )
    }
}

/// The row of a create whose answer was lost (`e`) and that no token carrying its marker shows
/// yet: given up, its marker kept as that of a create that may still land.
pub(super) fn given_up_words(what: &str, e: &Error) -> String {
    let cause = match e {
        Error::CreateUnconfirmed { source, .. } => source.to_string(),
        e => e.to_string(),
    };
    format!(
        "{what} may have reached the platform, but its answer was lost ({cause}); no token carrying its marker is on the platform yet: it is given up on, its marker kept as that of a create that may still land (should it land, the next apply deletes it: nobody holds its secret)"
    )
}
