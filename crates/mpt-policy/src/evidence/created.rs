//! A create record's token (`newId`), read now and judged: what the record's create made, or
//! not (plan and apply judge by these functions alike).

use mpt::{Client, Error, Token, TokenStatus};

use crate::state::{CreateRecord, RecordError};

/// The token a create record names (`newId`), as the platform shows it now.
pub(crate) enum CreatedNow {
    /// Live and Active, of the record's account and name, made after it: its secret may be
    /// handed over.
    Made(Token),
    /// Deleted since (by someone else): nothing is left to hand over.
    Gone,
    /// It could not be read (the next apply reads it again).
    Unreadable(Error),
}

/// Reads the token `id` a create record names, and judges it: of the record's account and
/// name, not known before it, made after it ([`CreateRecord::may_have_made`]), and Active (a
/// token its create made is Active until its secret is handed over: a Disabled entry's token is
/// disabled only after). A token that does not exist is refused ([`RecordError::Missing`]): the
/// platform keeps what is deleted, so the record's create never made it (or the caller cannot
/// see it). Nor another live token of its name outside its `knownIds` (late landings aside, read
/// from `store`). Plan and apply judge by this one function.
pub(crate) async fn created_now(
    client: &Client,
    store: &dyn crate::state::Store,
    record: &CreateRecord,
    id: &str,
) -> Result<CreatedNow, RecordError> {
    let token = match client.get_with_select(id, ["+audit", "+token"]).await {
        Ok(token) => token,
        Err(Error::NotFound(_)) => {
            return Err(RecordError::Missing {
                role: "its token ",
                id: id.to_string(),
            });
        }
        Err(e) => return Ok(CreatedNow::Unreadable(e)),
    };
    record.may_have_made(&token)?;
    if token.status() == TokenStatus::Active {
        as_made(&record.marker_hashes, &token, true)?;
        // The one token of its name the record did not know: another live one beside it (a
        // forged record named one of two hand-made tokens, the name `ambiguous`, and had it
        // taken: tester round 25, F2) leaves which one its create made untold.
        // A late landing of a create given up on is the plan's to delete, not a token beside it.
        let late = crate::state::given_up(store, &record.account_id, &record.name).await;
        let owner = (record.account_id.as_str(), record.name.as_str());
        let others: Vec<String> = match crate::marked::live_ids(client, owner, &late, &[]).await {
            Ok(live) => live
                .into_iter()
                .filter(|other| other != id && !record.known_ids.contains(other))
                .collect(),
            Err(e) => return Ok(CreatedNow::Unreadable(e)),
        };
        if !others.is_empty() {
            return Err(RecordError::NotTheOnlyNew {
                id: id.to_string(),
                name: record.name.clone(),
                others,
            });
        }
    }
    match token.status() {
        TokenStatus::Deleted => Ok(CreatedNow::Gone),
        TokenStatus::Active => Ok(CreatedNow::Made(token)),
        status => Err(RecordError::MadeNotActive {
            id: id.to_string(),
            status,
        }),
    }
}

/// Whether the token a record names as what its create made (`token`, Active) is as this
/// tool's create leaves it: still carrying one of the record's markers (`hashes`), or, the
/// marker taken out, edited since it was made (a second revision: the description put back),
/// and, for a create record (`unused`), its secret never used (`lastAccessAt` unset: a create's
/// secret is used by nobody until it is handed over; a rotation's replacement is used by its
/// own verification). A record is a claim: one naming a token someone holds (used), or one made
/// by hand and never edited, is refused ([`RecordError::NotAsMade`]), never handed over nor
/// acted on (tester round 24, S1; round 25, F1: a rotation record at `created` naming a hand
/// token had its secret handed over and the managed token deleted). A create's token handed
/// over whose record could not be removed (interrupted), used since, is refused the same way:
/// nothing tells it from a forged record's.
pub(crate) fn as_made(hashes: &[String], token: &Token, unused: bool) -> Result<(), RecordError> {
    if mpt::carries_marker(token.description(), hashes) {
        return Ok(());
    }
    let why = match (token.last_access_at(), token.revision()) {
        (Some(used), _) if unused => format!(
            "carries none of its markers and its secret was used ({}): someone holds it",
            used.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        (_, Some(revision)) if revision <= 1 => {
            "carries none of its markers and was never edited since it was made".to_string()
        }
        _ => return Ok(()),
    };
    Err(RecordError::NotAsMade {
        id: token.id().to_string(),
        why,
    })
}
