//! What an `ensure_*` call did, and how the server answers a no-op transition.

use crate::token::Token;

impl From<Outcome> for Token {
    /// The token, in its wanted state.
    fn from(outcome: Outcome) -> Token {
        outcome.into_token()
    }
}

/// What an `ensure_*` call did. The token is in the wanted state in every case (otherwise the
/// call fails with [`Error::UnexpectedState`](crate::Error::UnexpectedState)).
///
/// `ensure_*` reads the token first (bulk calls read up to 100 with one list request), and the
/// rule is evidence, never a guess:
///
/// * `Unchanged`: the token was read in the wanted state (nothing was sent), or the platform
///   refused this call's change as a no-op (another caller got there first) with every earlier
///   attempt of it provably undone (a connection never made, a `408` or `425`);
/// * `Changed`: the platform answered this call's change with 2xx on a platform that refuses
///   no-ops (the documented behaviour, [`NoopTransitions::Refused`]) and the token's revision
///   moved since it was read. A 2xx whose body was cut off counts (the token is read back);
/// * `Unconfirmed`: the token is in the wanted state but the answers cannot tell who put it
///   there: an earlier attempt's answer was lost, or was a `429` or `503` (a gateway may answer
///   so after the platform did the work: no proof that it did nothing), and the retry was
///   refused as a no-op, every answer was lost (the token was read back), the revision did not
///   move, or the server answers no-ops with 200 ([`NoopTransitions::Accepted`]), where a 200
///   cannot tell this call's change from a concurrent one's.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// This call changed the token's state.
    Changed(Token),
    /// The token already was in the wanted state.
    Unchanged(Token),
    /// The token is in the wanted state, and this call may or may not be the one that put it
    /// there (a server that answers no-ops with 200, and concurrent calls).
    Unconfirmed(Token),
}

/// How the server answers a transition the token is already past (enabling an Active token,
/// disabling a Disabled one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoopTransitions {
    /// It refuses it (400): the platform's documented behaviour. A 200 then means the call
    /// changed the state.
    #[default]
    Refused,
    /// It answers 200 and changes nothing (as `mpt-mock --noop-transitions accepted` does).
    /// `ensure_*` by id then reads the state first, and reports a 200 as
    /// [`Outcome::Unconfirmed`].
    Accepted,
}

impl Outcome {
    /// The token, in its wanted state.
    pub fn token(&self) -> &Token {
        match self {
            Outcome::Changed(t) | Outcome::Unchanged(t) | Outcome::Unconfirmed(t) => t,
        }
    }

    /// Whether this call changed it.
    pub fn changed(&self) -> bool {
        matches!(self, Outcome::Changed(_))
    }

    /// The token, in its wanted state.
    pub fn into_token(self) -> Token {
        match self {
            Outcome::Changed(t) | Outcome::Unchanged(t) | Outcome::Unconfirmed(t) => t,
        }
    }
}
