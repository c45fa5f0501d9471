//! The evidence a resumed rotation needs before it acts: its record's claims checked against the
//! policy, and its replacement as the platform shows it now. A record read back is a claim; only
//! what is read from the platform now lets it disable or delete the old token.

use chrono::{DateTime, TimeDelta, Utc};
use mpt::Error;
use mpt::Token;
use mpt::TokenStatus;
use mpt::{RotationPhase, RotationPlan};
use mpt_api::TokenSecret;

use crate::policy::{Policy, Wanted};
use crate::state::{
    BY_RECORDED_AT, PLATFORM_CLOCK_SLACK, RecordError, check_declared, check_ids, check_owner,
};
use mpt::Client;

mod created;
pub(crate) use created::{CreatedNow, created_now};

/// How much earlier than an old record's time (`plannedAt`, the clock of the machine that
/// planned the rotation, in records without `recordedAt`) the platform may say its replacement
/// was made: two clocks differ a little. Records with `recordedAt` (the platform's own time)
/// need no slack.
pub(crate) const RECORD_CLOCK_SLACK: TimeDelta = TimeDelta::minutes(5);

/// That a replacement the platform says was made at `made` can be the record's: made no
/// earlier than the record. A record's time is its `recordedAt`, the platform's time before
/// anything was made (the platform's clock against the platform's clock, whatever the
/// runner's clock says; [`PLATFORM_CLOCK_SLACK`] for its servers). A record without one (written before `recordedAt` existed, or when
/// the platform sent no `Date`) is judged by its `plannedAt` less [`RECORD_CLOCK_SLACK`], as
/// such records always were.
pub(crate) fn made_after_record(
    plan: &RotationPlan,
    role: &'static str,
    id: &str,
    made: DateTime<Utc>,
) -> Result<(), RecordError> {
    let (by, recorded) = match plan.recorded_at {
        Some(at) => (BY_RECORDED_AT, at - PLATFORM_CLOCK_SLACK),
        None => (
            "its plannedAt less 5 minutes (the planning machine's clock; the record has no recordedAt)",
            plan.planned_at - RECORD_CLOCK_SLACK,
        ),
    };
    if made >= recorded {
        return Ok(());
    }
    Err(RecordError::MadeBefore {
        role,
        id: id.to_string(),
        made,
        by,
        recorded,
    })
}

/// The replacement a resumed rotation's record names, as the platform shows it now: the token
/// (with its audit) and its secret, which was seen to work.
pub(crate) struct Replacement {
    /// The token, read now.
    pub token: Token,
    /// Its secret, read from the platform (never from a store).
    pub secret: TokenSecret,
}

/// A rotation's record, checked against the policy and the platform before it is resumed:
/// ids of the platform's shape, an unpinned entry of the policy for its account and name (not
/// declared absent),
/// the old token among its `knownIds` (as every record an apply writes has it), an old token
/// of that account and name, no replacement among the ids known before, and, for a create that
/// may have been sent, no token outside `knownIds` but the one that carries its marker
/// ([`crate::marked::landed`]).
/// Returns the old token as read now (`None`: gone).
pub(crate) async fn check_rotation(
    client: &Client,
    policy: &Policy,
    plan: &RotationPlan,
    late: &[String],
) -> Result<Option<Token>, RecordError> {
    check_ids(
        &plan.account_id,
        std::iter::once(&plan.old_id)
            .chain(&plan.new_id)
            .chain(&plan.known_ids),
    )?;
    check_declared(policy, &plan.account_id, &plan.name, Some(&plan.old_id))?;
    if let Some(declared) = policy.declared(&plan.account_id, &plan.name, Some(&plan.old_id)) {
        if declared.id.is_some() {
            return Err(RecordError::Pinned {
                id: plan.old_id.clone(),
            });
        }
        // A name declared absent is not resumed (its tokens are the plan's to delete): a
        // record of it reaches this check only when its ids are not of the platform's shape.
        // One declared Disabled is: its rotation is finished (never started: see
        // `rotation_wanted`), then its replacement disabled.
        if declared.status == Wanted::Absent {
            return Err(RecordError::NotRotatable {
                name: plan.name.clone(),
                status: declared.status,
            });
        }
    }
    if !plan.known_ids.contains(&plan.old_id) {
        return Err(RecordError::OldNotKnown {
            id: plan.old_id.clone(),
        });
    }
    let old = match client
        .get_with_select(plan.old_id.as_str(), ["+audit"])
        .await
    {
        Ok(old) => {
            check_owner("its old token ", &old, &plan.account_id, &plan.name)?;
            Some(old).filter(|t| t.status() != TokenStatus::Deleted)
        }
        Err(Error::NotFound(_)) => None,
        Err(source) => {
            return Err(RecordError::Unreadable {
                role: "its old token ",
                id: plan.old_id.clone(),
                source: Box::new(source),
            });
        }
    };
    if let Some(old) = &old {
        check_old_status(plan, old)?;
    }
    if plan.phase == RotationPhase::Planned && plan.create_sent {
        // Tokens outside `knownIds` since its create may have been sent: only the one that
        // carries its marker can be its replacement (see `crate::marked`).
        crate::marked::made_by_record(
            client,
            (&plan.account_id, &plan.name, &plan.known_ids),
            (&plan.marker_hashes, late),
            "rotation",
        )
        .await
        .map_err(|source| RecordError::Unreadable {
            role: "the tokens named like its old token, ",
            id: plan.name.clone(),
            source: Box::new(source),
        })??;
    }
    check_the_one(client, plan, late).await?;
    if let Some(new_id) = &plan.new_id
        && (plan.known_ids.contains(new_id) || *new_id == plan.old_id)
    {
        return Err(known_before(new_id));
    }
    handed_over(policy, plan)?;
    Ok(old)
}

/// Whether the policy rotates a rotation record's old token now (`old`, as read now; judged at
/// `at`, the plan's time): a record that has made nothing yet (phase `planned`) is no reason to
/// rotate, and starts one only when the policy would.
pub(crate) fn rotation_wanted(
    policy: &Policy,
    plan: &RotationPlan,
    old: Option<&Token>,
    at: DateTime<Utc>,
) -> bool {
    let declared = policy.declared(&plan.account_id, &plan.name, Some(&plan.old_id));
    match (declared, old) {
        (Some(declared), Some(old)) => crate::plan::rotation_due(declared, old, at),
        _ => false,
    }
}

/// Whether the policy declares a rotation record's entry Disabled: the rotation it began is
/// then finished (only with `--allow-destroy`: the policy does not rotate the token) and its
/// replacement disabled last, as a Disabled entry's created token is once its secret is
/// handed over. Plan and apply ask this one function.
pub(crate) fn declared_disabled(policy: &Policy, plan: &RotationPlan) -> bool {
    policy
        .declared(&plan.account_id, &plan.name, Some(&plan.old_id))
        .is_some_and(|d| d.status == Wanted::Disabled)
}

/// Whether resuming a rotation record past its start (`created`, `verified`, `retired`) would
/// retire and delete its old token (`old`, as read now; judged at `at`) on the record's word
/// alone: the policy's rotation rule does not cover it (declared Active with a `rotate_after`
/// its age has passed, whatever its status now: a rotation past its start has retired it), and
/// the token is still there to retire or delete. That needs `--allow-destroy` (a same-named
/// token made by hand, named in a planted record as the replacement of a token declared
/// `rotate_after = "never"`, cost the managed token). Other phases: `false` (a record at
/// `planned` is judged by [`rotation_wanted`]; a finished one only removes itself).
pub(crate) fn retires_on_word(
    policy: &Policy,
    plan: &RotationPlan,
    old: Option<&Token>,
    at: DateTime<Utc>,
) -> bool {
    if !matches!(
        plan.phase,
        RotationPhase::Created | RotationPhase::Verified | RotationPhase::Retired
    ) {
        return false;
    }
    let Some(old) = old else {
        return false;
    };
    let declared = policy.declared(&plan.account_id, &plan.name, Some(&plan.old_id));
    !declared.is_some_and(|declared| {
        declared.status == crate::policy::Wanted::Active
            && declared
                .hygiene
                .rotate_after
                .zip(old.created_at())
                .is_some_and(|(limit, made)| at - made > limit)
    })
}

/// How many tokens of a rotation record's account and name outside its `knownIds` there are
/// now: what its create may have made (0 when the record says no create was sent).
pub(crate) async fn made_since(
    client: &Client,
    plan: &RotationPlan,
    late: &[String],
) -> Result<Vec<String>, Error> {
    if !plan.create_sent {
        return Ok(Vec::new());
    }
    let found = client
        .made_excluding(&plan.account_id, &plan.name, &plan.known_ids)
        .await?;
    let found = crate::marked::without_late(found, late, &plan.marker_hashes);
    Ok(found.iter().map(|t| t.id().to_string()).collect())
}

/// That the old token (read now, live) is in the status the record's phase leaves it in:
/// Active before it is retired (the token the plan would rotate), Disabled once retired (one
/// enabled again since is not deleted), gone once finished. At `verified`, Disabled too: the
/// retire's disable landed, but the apply that sent it stopped before it saved `retired` (an
/// interrupt while the disable was slow, a kill within its round trip); the resumed retire
/// finds the token Disabled and sends nothing, and the finish deletes it, as the rotation
/// would have.
fn check_old_status(plan: &RotationPlan, old: &Token) -> Result<(), RecordError> {
    let (ok, wanted) = match plan.phase {
        RotationPhase::Finished => {
            return Err(RecordError::OldStillLive {
                id: plan.old_id.clone(),
                status: old.status(),
            });
        }
        RotationPhase::Retired => (old.status() == TokenStatus::Disabled, "Disabled"),
        RotationPhase::Verified => (
            matches!(old.status(), TokenStatus::Active | TokenStatus::Disabled),
            "Active (or Disabled by its retire)",
        ),
        _ => (old.status() == TokenStatus::Active, "Active"),
    };
    if ok {
        return Ok(());
    }
    Err(RecordError::OldStatus {
        id: plan.old_id.clone(),
        phase: plan.phase,
        status: old.status(),
        wanted,
    })
}

/// That the record's old token is the one live token of its account and name the plan would
/// rotate: no other live token has the name, but for its replacement (and, before a sent
/// create is confirmed, tokens outside `knownIds`, which its resumed start judges).
async fn check_the_one(
    client: &Client,
    plan: &RotationPlan,
    late: &[String],
) -> Result<(), RecordError> {
    let unconfirmed = plan.phase == RotationPhase::Planned && plan.create_sent;
    // Once the record names its replacement, no late landing is what it made.
    let hashes = match &plan.new_id {
        Some(_) => &[][..],
        None => &plan.marker_hashes[..],
    };
    let live = crate::marked::live_ids(client, (&plan.account_id, &plan.name), late, hashes)
        .await
        .map_err(|source| RecordError::Unreadable {
            role: "the tokens named like its old token, ",
            id: plan.name.clone(),
            source: Box::new(source),
        })?;
    let others: Vec<String> = live
        .into_iter()
        .filter(|id| *id != plan.old_id && Some(id) != plan.new_id.as_ref())
        .filter(|id| !unconfirmed || plan.known_ids.contains(id))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    Err(RecordError::NotTheOne {
        id: plan.old_id.clone(),
        name: plan.name.clone(),
        others,
    })
}

fn known_before(id: &str) -> RecordError {
    RecordError::KnownBefore {
        role: "its replacement ",
        id: id.to_string(),
        what: "rotation",
    }
}

/// The replacement `plan` names, as the platform shows it now: a live, Active token of the
/// record's account and name, not the old token, not among `knownIds`, made no earlier than
/// the record (see [`made_after_record`]), whose secret works (the call
/// [`RotationPlan::verify`] makes). Anything less is why the record is refused.
/// It must also be newer than the old token (`old`, as read now), when that is still there.
pub(crate) async fn replacement_now(
    client: &Client,
    plan: &RotationPlan,
    old: Option<&Token>,
) -> Result<Replacement, RecordError> {
    const ROLE: &str = "its replacement ";
    let Some(id) = plan.new_id.clone() else {
        return Err(RecordError::NoReplacement { phase: plan.phase });
    };
    if id == plan.old_id || plan.known_ids.contains(&id) {
        return Err(known_before(&id));
    }
    let token = match client
        .get_with_select(id.as_str(), ["+audit", "+token"])
        .await
    {
        Ok(token) => token,
        Err(Error::NotFound(_)) => return Err(RecordError::Missing { role: ROLE, id }),
        Err(source) => {
            return Err(RecordError::Unreadable {
                role: ROLE,
                id,
                source: Box::new(source),
            });
        }
    };
    check_owner(ROLE, &token, &plan.account_id, &plan.name)?;
    if token.status() != TokenStatus::Active {
        return Err(RecordError::NotActive {
            id,
            status: token.status(),
        });
    }
    let Some(made) = token.created_at() else {
        return Err(RecordError::NoCreationTime { role: ROLE, id });
    };
    made_after_record(plan, ROLE, &id, made)?;
    if let Some(old_made) = old.and_then(Token::created_at)
        && made < old_made
    {
        return Err(RecordError::OlderThanOld {
            id,
            old: plan.old_id.clone(),
            made,
            old_made,
        });
    }
    // Before its secret is used to check it: a hand-made token never edited is not tried.
    created::as_made(&plan.marker_hashes, &token, false)?;
    let Some(secret) = token.secret().cloned() else {
        return Err(RecordError::NoSecret { id });
    };
    // The call `verify` makes, on a copy: the record's phase is not the evidence. Without its
    // marker hashes, the copy only reads (the description is put back by the real `verify`).
    let mut probe = plan.clone();
    probe.phase = RotationPhase::Created;
    probe.marker_hashes = Vec::new();
    if let Err(source) = probe.verify(client, &secret).await {
        return Err(RecordError::SecretFails {
            id,
            source: Box::new(source),
        });
    }
    Ok(Replacement { token, secret })
}

/// A rotation record past its hand-over (`verified`, `retired`), its entry's secret a file:
/// a file holding another token's secret than its replacement's (the old token's, say) proves
/// the hand-over the record claims never happened ([`RecordError::NotHandedOver`]). A file
/// gone or holding something else proves nothing; a command's hand-over cannot be read back.
fn handed_over(policy: &Policy, plan: &RotationPlan) -> Result<(), RecordError> {
    if !matches!(plan.phase, RotationPhase::Verified | RotationPhase::Retired) {
        return Ok(());
    }
    let (Some(new_id), Some(sink)) = (
        plan.new_id.as_deref(),
        policy
            .declared(&plan.account_id, &plan.name, Some(&plan.old_id))
            .and_then(|d| d.secret.as_ref()),
    ) else {
        return Ok(());
    };
    let Some((path, held)) = sink.held() else {
        return Ok(());
    };
    // Only a file holding another token's secret proves the hand-over did not happen; one
    // removed or rewritten since says nothing of it.
    match held {
        Some(owner) if owner != new_id => Err(RecordError::NotHandedOver {
            id: new_id.to_string(),
            path: path.display().to_string(),
            holds: format!("the secret of {owner}"),
        }),
        _ => Ok(()),
    }
}

/// The one token a rotation record's create made (`token`, found now outside its `knownIds`),
/// when its old token is gone, the token Disabled, and the entry declared Disabled: the name is
/// already as the policy declares it, and only the secret is left to hand over. It must be made
/// no earlier than the record, and come with its secret, which is handed over unverified (a
/// Disabled token's secret cannot make a call). Plan and apply judge by this one function.
pub(crate) fn disabled_replacement(
    plan: &RotationPlan,
    token: &Token,
) -> Result<TokenSecret, RecordError> {
    const ROLE: &str = "its replacement ";
    let id = token.id().to_string();
    check_owner(ROLE, token, &plan.account_id, &plan.name)?;
    if id == plan.old_id || plan.known_ids.contains(&id) {
        return Err(known_before(&id));
    }
    let Some(made) = token.created_at() else {
        return Err(RecordError::NoCreationTime { role: ROLE, id });
    };
    made_after_record(plan, ROLE, &id, made)?;
    token.secret().cloned().ok_or(RecordError::NoSecret { id })
}

/// The recorded replacement of a record at `created`, read now with its secret, when it is
/// to be handed over as [`disabled_replacement`] says (see [`is_disabled_replacement`]);
/// `None` otherwise (or when it cannot be read: the recorded replacement's own checks then say
/// why).
pub(crate) async fn recorded_disabled(
    client: &Client,
    policy: &Policy,
    plan: &RotationPlan,
) -> Option<Token> {
    let id = plan.new_id.as_deref()?;
    let token = client
        .get_with_select(id, ["+audit", "+token"])
        .await
        .ok()?;
    is_disabled_replacement(policy, plan, &token).then_some(token)
}

/// Whether `token`, the one a rotation record's create made, is to be handed over as
/// [`disabled_replacement`] says: Disabled, of an entry declared Disabled.
pub(crate) fn is_disabled_replacement(policy: &Policy, plan: &RotationPlan, token: &Token) -> bool {
    token.status() == TokenStatus::Disabled && declared_disabled(policy, plan)
}

/// A record at `created` whose recorded replacement was deleted since (by hand: nothing of the
/// rotation was retired, its secret never verified): the rotation starts again, as a record at
/// `planned` whose create made nothing that is left, the deleted replacement among its
/// `knownIds` (never adopted). `None`: the record stands as it is (another phase, a replacement
/// not Deleted, or one that cannot be read: its own checks then say why).
pub(crate) async fn restarted(client: &Client, plan: &RotationPlan) -> Option<RotationPlan> {
    let id = plan
        .new_id
        .as_deref()
        .filter(|_| plan.phase == RotationPhase::Created)?;
    let token = client.get(id).await.ok()?;
    let ours = check_owner("its replacement ", &token, &plan.account_id, &plan.name).is_ok();
    if !ours || token.status() != TokenStatus::Deleted {
        return None;
    }
    let mut again = plan.clone();
    again.known_ids.push(id.to_string());
    again.known_ids.sort();
    again.known_ids.dedup();
    again.new_id = None;
    again.phase = RotationPhase::Planned;
    again.created_at = None;
    Some(again)
}
