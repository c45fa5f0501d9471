//! The words of [`Error::NotMadeByPlan`](super::Error::NotMadeByPlan) and of
//! [`Error::CreateUnconfirmed`](super::Error::CreateUnconfirmed).

use super::Error;
use crate::token::Token;

/// The words of `Error::NotMadeByPlan`.
pub(super) fn describe_not_made(
    old_id: &str,
    unmarked: &[String],
    marked: &[String],
    has_marker: bool,
) -> String {
    let list = |ids: &[String]| ids.join(", ");
    if !has_marker {
        return format!(
            "the rotation plan of {old_id} has no create marker hash (saved by an older version; a plan that kept the marker itself, which whoever read it could copy, counts as one without), and {} appeared with its account and name since it was recorded: made by its create or by someone else, it cannot tell; none is adopted (check each: its created_by and creation time; then remove the plan)",
            list(unmarked)
        );
    }
    let mut words = Vec::new();
    if !unmarked.is_empty() {
        words.push(format!(
            "{} has the plan's account and name but its description does not carry the plan's marker: not made by the rotation of {old_id}, never adopted",
            list(unmarked)
        ));
    }
    match marked.len() {
        0 => words.push(
            "nothing carries the marker: the earlier create never landed, and none is made while another token has the name".into(),
        ),
        1 => words.push(format!(
            "{} carries the marker, but it is not taken while another token has the name",
            list(marked)
        )),
        _ => words.push(format!(
            "{} all carry a marker of the plan (one create is sent per marker: a copy of ours, or a late create beside a later one): none is adopted",
            list(marked)
        )),
    }
    words.join("; ")
}

/// What a lost create's refused sends before it may still do, in words (nothing for none).
pub(super) fn describe_other_sends(other_sends: u32) -> String {
    match other_sends {
        0 => String::new(),
        1 => "; an earlier send of it was refused (429 or 503) and sent again: a gateway may still forward it, as a second token of this name".into(),
        n => format!("; {n} earlier sends of it were refused (429 or 503) and sent again: a gateway may still forward them, as more tokens of this name"),
    }
}

/// A lost create's candidates (or the failed look for them), in words.
pub(super) fn describe_candidates(candidates: &[Token], lookup: Option<&Error>) -> String {
    match (candidates, lookup) {
        (_, Some(e)) => {
            format!("looking for what it made failed too ({e}): list the account's tokens by name")
        }
        ([], None) => "no token it could have made is on the platform: nothing was made".into(),
        (found, None) => format!(
            "made since the call began (none existed before it): {}; one is very likely this call's, but check who made each before deleting any",
            found.iter().map(Token::id).collect::<Vec<_>>().join(", ")
        ),
    }
}
