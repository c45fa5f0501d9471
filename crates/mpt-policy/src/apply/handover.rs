//! The hand-over of a new secret (a create's, or a rotation's replacement) to its entry's
//! sink: only once the account's lock is proven right before it, and only for a token whose
//! description no longer carries its create's marker (its callers put it back first).

use mpt::Token;
use mpt_api::TokenSecret;

use super::Applying;
use crate::policy::TokenPolicy;

/// A secret not handed over: no copy of it is kept anywhere.
#[derive(Debug, thiserror::Error)]
pub(super) enum NotHandedOver {
    /// Its sink did not take it.
    #[error(
        "the secret sink failed ({0}); no copy of the secret is kept: the next apply reads it from the platform and hands it over again"
    )]
    Sink(#[from] crate::sink::SinkError),
    /// The account's lock could not be proven right before the sink: another apply may own
    /// the name by now (it gave this one's record up and made its own token), so the secret is
    /// handed to no one.
    #[error(
        "its secret is not handed over: the account's lock could not be proven right before the sink ran ({0}); the next apply finds the token by its record and hands its secret over, or, should another apply have taken the name over since, by its marker and deletes it (nobody holds its secret)"
    )]
    Unproven(String),
    /// Its record could not be saved with its id, so its description still carries the
    /// create's marker: a token handed over never does (a marker's carrier is one whose secret
    /// nobody holds).
    #[error(
        "its secret is not handed over: its id could not be saved in its record ({0}), and its description still carries the create's marker; the next apply finds it by that marker, puts the description back and hands its secret over"
    )]
    Unsaved(String),
    /// Its create was sent more than once (a send answered `429` or `503`, then sent again),
    /// and the marker such a send carries could not be kept as that of a create given up on
    /// ([`crate::state::remember_late`]): should it land later, it would not be known as this
    /// tool's own. Its record is kept, its description still carrying the marker.
    #[error(
        "its secret is not handed over: an earlier send of its create, answered 429 or 503, may still land carrying its marker, and that marker could not be kept as one given up on ({0}); its record is kept: the next apply finds it by that marker and hands its secret over"
    )]
    LateUnkept(String),
}

impl Applying<'_> {
    /// Hands a new secret to the entry's sink, once the lock of `account` is proven right
    /// before it (a sink is a change as any other: an apply that lost its lock may have had
    /// its record given up by another, which made the name's token anew). `Ok`: where it went;
    /// `Err`: why not (the caller's record stays, and the next apply reads the secret from the
    /// platform and hands it over again). Without a sink, the secret stays with the platform
    /// only. The caller has put the token's description back first: a token handed over
    /// never carries a create's marker.
    pub(super) async fn hand_over(
        &self,
        account: &str,
        declared: Option<&TokenPolicy>,
        token: &Token,
        secret: &TokenSecret,
        replaces: Option<&str>,
    ) -> Result<String, NotHandedOver> {
        let Some(sink) = declared.and_then(|d| d.secret.as_ref()) else {
            return Ok("no sink (the policy declares none: read it from the platform)".into());
        };
        self.proven(account)
            .await
            .map_err(NotHandedOver::Unproven)?;
        Ok(sink.deliver(token, secret, replaces).await?)
    }
}
