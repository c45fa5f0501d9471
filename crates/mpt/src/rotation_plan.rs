//! A rotation's state ([`RotationPlan`]), saved between its steps: ids, phase and times, never a
//! secret. The steps themselves are in `rotation.rs`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::token::CreatedToken;

/// Where a rotation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RotationPhase {
    /// Nothing made yet.
    Planned,
    /// The replacement exists; the old token is still Active.
    Created,
    /// A call made with the replacement's secret succeeded.
    Verified,
    /// The old token is Disabled.
    Retired,
    /// The old token is deleted.
    Finished,
}

/// A rotation's state: ids, phase and when each phase completed. Never holds a secret.
///
/// How the rotation knows its own replacement: names are not unique and clocks differ, so
/// neither is trusted. Before anything is made, the plan records the ids of every token that
/// already has the old token's account and name (`knownIds`, the old token's included); the
/// replacement is always a token outside that set. [`RotationPlan::start_saving`] saves the
/// plan, with that set, `createSent` and the hash of a random marker (`markerHashes`), before it
/// sends the create, whose description carries the marker itself: a run that crashed after the
/// create resumes without making a second replacement, and adopts only the token that carries a
/// marker of the plan's (a token of the same name made by anyone else does not, and the saved
/// plan holds no marker to copy). [`RotationPlan::verify`] puts the replacement's intended
/// description back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RotationPlan {
    /// The token being replaced.
    pub old_id: String,
    /// Its account (the replacement's too).
    pub account_id: String,
    /// Its name (the replacement's too).
    pub name: String,
    /// The replacement, once made.
    pub new_id: Option<String>,
    /// Where the rotation is.
    pub phase: RotationPhase,
    /// When the plan was made, by the clock of the machine that made it (informative: a
    /// machine's clock may be off the platform's; see `recorded_at`).
    pub planned_at: DateTime<Utc>,
    /// The platform's time (the `Date` of its answer to the listing that recorded `knownIds`)
    /// before anything was made: the replacement cannot have been created before it, by the
    /// platform's own clock. `None` when the platform sent no `Date`, and in plans saved before
    /// this field existed.
    #[serde(default)]
    pub recorded_at: Option<DateTime<Utc>>,
    /// The ids of the tokens with this account and name that existed before anything was made
    /// (the old token's included), sorted. The replacement is never one of them.
    #[serde(default)]
    pub known_ids: Vec<String>,
    /// Whether a create may have been sent (set, and saved, before sending it): a `start` that
    /// finds it set is a resumed one, and looks for what the earlier run made.
    #[serde(default)]
    pub create_sent: bool,
    /// The SHA-256 (hex, see [`marker_hash`](crate::marker_hash)) of each random marker a
    /// create of this plan carried in the replacement's description (see
    /// [`new_marker`](crate::new_marker)), the latest last: added, and saved, before each
    /// create is sent, so that a resumed `start` adopts only a token that carries one of them.
    /// The marker itself is never saved: whoever reads the plan cannot make a token carry it.
    /// Empty before a create is sent, and in plans saved before marker hashes existed (a
    /// resumed `start` of one adopts nothing; a `marker` saved by an unreleased version in its
    /// place is ignored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marker_hashes: Vec<String>,
    /// When the replacement was made.
    pub created_at: Option<DateTime<Utc>>,
    /// When its secret was verified.
    pub verified_at: Option<DateTime<Utc>>,
    /// When the old token was disabled.
    pub retired_at: Option<DateTime<Utc>>,
    /// When the old token was deleted.
    pub finished_at: Option<DateTime<Utc>>,
}

/// When [`RotationPlan::retire`] may disable the old token: once its `lastAccessAt` has not
/// moved for `period` (checked every `poll`), giving up after `max_wait`
/// ([`Error::StillInUse`](crate::Error::StillInUse)).
///
/// `lastAccessAt` is approximate: the platform moves it when a session of the token is
/// refreshed, not on every call. The check compares exact values, so the tolerance is the
/// platform's refresh interval: choose a `period` longer than it, or a service still on the old
/// secret may look quiet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quiet {
    /// How long `lastAccessAt` must stay put.
    pub period: Duration,
    /// How often to look.
    pub poll: Duration,
    /// How long to wait at most.
    pub max_wait: Duration,
}

/// A rotation started by [`Client::rotate`](crate::Client::rotate): the plan, and the replacement with its secret
/// (the only time the SDK hands it over: store it before anything else).
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The plan (save it to resume after a crash).
    pub plan: RotationPlan,
    /// The replacement, with its secret.
    pub new: CreatedToken,
}
