//! What a record's create made, judged by its marker: the one token outside the record's
//! `knownIds` whose description carries a marker whose hash the record saved before the create
//! was sent (see [`mpt::marked_description`], [`mpt::marker_hash`]). A token of the same account
//! and name made by anyone else does not carry it (the record holds only the hash: reading the
//! store yields no marker to copy), and is never adopted. Plan and apply judge by this one function.

use mpt::{Client, Filter, Token, TokenStatus, carries_marker};

use crate::state::RecordError;

/// The live tokens of `account` and `name` outside `known`, read now (with their audit and
/// secrets), judged by `hashes` ([`landed`]). `Err(Err)`: they could not be read.
pub(crate) async fn made_by_record(
    client: &Client,
    (account, name, known): (&str, &str, &[String]),
    (hashes, late): (&[String], &[String]),
    what: &'static str,
) -> Result<Result<Option<Token>, RecordError>, mpt::Error> {
    let found = client.made_excluding(account, name, known).await?;
    let found = without_late(found, late, hashes);
    Ok(landed(found, (account, name), hashes, what))
}

/// `found` (live tokens of a record's name outside its `knownIds`) without the late landings
/// among them ([`crate::plan::is_late`] by `late`, the markers of the name given up on): those
/// are the plan's to delete, before the record is resumed, and are neither what the record made
/// nor a twin of it (a late landing beside a pending rotation had its record refused: tester
/// round 18). But when no other token carries one of the record's own markers (`hashes`), a
/// late landing that carries one is what the record made (a rotation's earlier create, given
/// up on when it created again, landing when the later one never did): kept, and adopted.
pub(crate) fn without_late(found: Vec<Token>, late: &[String], hashes: &[String]) -> Vec<Token> {
    if late.is_empty() {
        return found;
    }
    let all = found.clone();
    let (landings, rest): (Vec<Token>, Vec<Token>) = found
        .into_iter()
        .partition(|t| crate::plan::is_late(t, &all, late));
    let ours = |t: &Token| carries_marker(t.description(), hashes);
    if rest.iter().any(ours) {
        return rest;
    }
    rest.into_iter()
        .chain(landings.into_iter().filter(|t| ours(t)))
        .collect()
}

/// The ids of the live (Active or Disabled) tokens of `account` and `name`, as the platform
/// lists them now, but for late landings of creates given up on (`late`): those are the plan's
/// to delete, not other tokens of the name (see [`without_late`], which keeps one
/// carrying a marker of `hashes`: what a record's create made).
pub(crate) async fn live_ids(
    client: &Client,
    (account, name): (&str, &str),
    late: &[String],
    hashes: &[String],
) -> Result<Vec<String>, mpt::Error> {
    let live = client
        .list()
        .filter(Filter::account(account).and(Filter::name(name)))
        .collect()
        .await?;
    Ok(without_late(live, late, hashes)
        .iter()
        .filter(|t| matches!(t.status(), TokenStatus::Active | TokenStatus::Disabled))
        .map(|t| t.id().to_string())
        .collect())
}

/// [`made_by_record`] for a create record, read beside the state `store`: a token that is a
/// late landing of a create of the name given up on before this record (see
/// [`crate::plan::is_late`]) is neither its token nor a twin: left to the plan's delete.
pub(crate) async fn made_by_create(
    client: &Client,
    store: &dyn crate::state::Store,
    (account, name, known): (&str, &str, &[String]),
    hashes: &[String],
) -> Result<Result<Option<Token>, RecordError>, mpt::Error> {
    let mut found = client.made_excluding(account, name, known).await?;
    let mut late = crate::state::given_up(store, account, name).await;
    // Its own markers are never taken as given up.
    late.retain(|h| !hashes.contains(h));
    if !late.is_empty() {
        // Judged among every token of the account, Deleted ones included (as the plan judges it).
        let all = crate::plan::account_tokens(client, account).await?;
        found.retain(|t| !crate::plan::is_late(t, &all, &late));
    }
    Ok(landed(found, (account, name), hashes, "create"))
}

/// Judges `found` (the live tokens of the record's `account` and `name` outside its
/// `knownIds`): none, `Ok(None)` (its create made nothing); the one that carries a marker whose
/// hash is in `hashes` (the record's `markerHashes`), alone, `Ok(Some)`. Refused: any token without the marker ([`RecordError::NotMadeByRecord`]),
/// several with it ([`RecordError::SeveralMarked`]), and any token at all when the record has
/// no marker hash (written by an older version: [`RecordError::NoMarker`]). `what`: `create` or
/// `rotation`, for the words.
pub(crate) fn landed(
    mut found: Vec<Token>,
    (account, name): (&str, &str),
    hashes: &[String],
    what: &'static str,
) -> Result<Option<Token>, RecordError> {
    if found.is_empty() {
        return Ok(None);
    }
    if hashes.is_empty() {
        return Err(RecordError::NoMarker {
            tokens: described(found.iter()),
        });
    }
    let (marked, unmarked): (Vec<&Token>, Vec<&Token>) = found
        .iter()
        .partition(|t| carries_marker(t.description(), hashes));
    if !unmarked.is_empty() {
        return Err(RecordError::NotMadeByRecord {
            tokens: described(unmarked.into_iter()),
            account: account.to_string(),
            name: name.to_string(),
            what,
            marked: marked.iter().map(|t| t.id().to_string()).collect(),
        });
    }
    if marked.len() > 1 {
        return Err(RecordError::SeveralMarked {
            ids: marked.iter().map(|t| t.id().to_string()).collect(),
        });
    }
    Ok(found.pop())
}

/// Each token with who made it and when, as the platform says: what an administrator checks.
fn described<'a>(tokens: impl Iterator<Item = &'a Token>) -> String {
    tokens
        .map(|t| {
            format!(
                "{} (made {} by {})",
                t.id(),
                t.created_at()
                    .map_or_else(|| "at an unknown time".to_string(), |at| at.to_rfc3339()),
                t.created_by().unwrap_or("an unknown user")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
