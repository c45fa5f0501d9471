//! The marker a create carries until it is known to be ours: a random nonce, saved in the
//! record (a [`RotationPlan`]'s `marker`, the policy's create record) before the create is
//! sent, and sent in the token's description as a tag:
//!
//! ```text
//! <the intended description> [mpt: being made, marker 0123456789abcdef0123456789abcdef]
//! ```
//!
//! A run that stopped before it saved what its create made finds the token again by that tag,
//! read from the platform now: a token of the same account and name made by anyone else does
//! not carry it. Once the token is ours (the create answered, or the tag found), the intended
//! description is put back ([`Client::restore_description`]).

use crate::client::Client;
use crate::error::Error;
use crate::request::{MAX_DESCRIPTION_CHARS, TokenUpdate};
use crate::rotation_plan::RotationPlan;
use crate::token::{CreatedToken, Token};

/// The tag's words before the marker.
const TAG_START: &str = "[mpt: being made, marker ";

/// A new marker: 32 hexadecimal digits (128 bits) from `fastrand`'s generator, which std seeds
/// from the operating system's randomness. Not a secret: it only tells a create's token from
/// others of its name.
pub fn new_marker() -> String {
    let mut rng = fastrand::Rng::new();
    format!("{:016x}{:016x}", rng.u64(..), rng.u64(..))
}

/// The tag alone: `[mpt: being made, marker <marker>]`.
fn tag(marker: &str) -> String {
    format!("{TAG_START}{marker}]")
}

/// The description a create sends: `intended` followed by a space and the marker's tag (the tag
/// alone when there is no intended description). An intended description too long to take the
/// tag within [`MAX_DESCRIPTION_CHARS`] is cut to make room; [`Client::restore_description`]
/// puts back the whole one when its caller knows it.
pub fn marked_description(intended: Option<&str>, marker: &str) -> String {
    let tag = tag(marker);
    match intended.filter(|d| !d.is_empty()) {
        None => tag,
        Some(d) => {
            let room = MAX_DESCRIPTION_CHARS.saturating_sub(tag.chars().count() + 1);
            let kept: String = d.chars().take(room).collect();
            format!("{kept} {tag}")
        }
    }
}

/// Whether `description` carries `marker`'s tag, exactly as [`marked_description`] writes it.
pub fn carries_marker(description: Option<&str>, marker: &str) -> bool {
    unmarked_description(description, marker).is_some()
}

/// `description` without `marker`'s tag (`Some(None)`: the tag was all of it); `None` when it
/// does not carry the tag.
pub fn unmarked_description<'a>(
    description: Option<&'a str>,
    marker: &str,
) -> Option<Option<&'a str>> {
    let description = description?;
    let tag = tag(marker);
    if description == tag {
        return Some(None);
    }
    let kept = description.strip_suffix(tag.as_str())?.strip_suffix(' ')?;
    Some(Some(kept))
}

impl Client {
    /// Puts back the intended description of `token` (read now) while it carries `marker`'s
    /// tag: `intended` when the caller knows it (`Some(None)`: no description), else the
    /// description without the tag. Nothing is sent when it does not carry the tag (restored
    /// already). An update whose answer was lost is judged by reading the token again, never
    /// guessed. Returns the token as it is now.
    pub async fn restore_description(
        &self,
        token: &Token,
        marker: &str,
        intended: Option<Option<&str>>,
    ) -> Result<Token, Error> {
        let Some(unmarked) = unmarked_description(token.description(), marker) else {
            return Ok(token.clone());
        };
        let intended = intended.unwrap_or(unmarked).filter(|d| !d.is_empty());
        let update = match intended {
            Some(d) => TokenUpdate::new().description(d),
            None => TokenUpdate::new().clear_description(),
        };
        match self.update(token.id(), &update).await {
            Ok(now) => Ok(now),
            // The answer lost: the token read again says whether the restore landed.
            Err(e) if e.may_have_reached_server() => match self.get(token.id()).await {
                Ok(now) if !carries_marker(now.description(), marker) => Ok(now),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

impl RotationPlan {
    /// The replacement an earlier run of this plan made, if one is on the platform: the one
    /// token with this account and name outside the record whose description carries the
    /// plan's marker (Active, with its secret). `None` when no token outside the record has
    /// the name (the earlier create made nothing: create). A token without the marker is never
    /// adopted: any such token, several with the marker, or a plan saved without a marker (by
    /// a version before markers) that finds one, is [`Error::CreateUnconfirmed`] whose source
    /// is [`Error::NotMadeByPlan`], and nothing is adopted.
    pub(crate) async fn made_by_earlier_run(
        &self,
        client: &Client,
    ) -> Result<Option<CreatedToken>, Error> {
        let mut found = client
            .made_excluding(&self.account_id, &self.name, &self.known_ids)
            .await?;
        if found.is_empty() {
            return Ok(None);
        }
        let marked: Vec<usize> = match &self.marker {
            Some(m) => (0..found.len())
                .filter(|&i| carries_marker(found[i].description(), m))
                .collect(),
            None => Vec::new(),
        };
        if let [i] = marked[..]
            && found.len() == 1
            && found[i].status() == crate::status::TokenStatus::Active
            && let Some(secret) = found[i].secret().cloned()
        {
            let token = found.remove(i);
            return Ok(Some(CreatedToken { token, secret }));
        }
        let source = Error::NotMadeByPlan {
            old_id: self.old_id.clone(),
            unmarked: found
                .iter()
                .filter(|t| {
                    !self
                        .marker
                        .as_ref()
                        .is_some_and(|m| carries_marker(t.description(), m))
                })
                .map(|t| t.id().to_string())
                .collect(),
            marked: marked.iter().map(|&i| found[i].id().to_string()).collect(),
            has_marker: self.marker.is_some(),
        };
        Err(Error::CreateUnconfirmed {
            account_id: self.account_id.clone(),
            name: self.name.clone(),
            candidates: found,
            lookup: None,
            source: Box::new(source),
        })
    }

    /// Puts back the intended description of the replacement `new` (read now) while it carries
    /// this plan's marker ([`Client::restore_description`], the intended description being the
    /// one without the tag). Nothing is sent without a marker, or when `new` does not carry
    /// it. [`RotationPlan::verify`] does it before it moves the plan past `Created`; call it
    /// sooner once the plan is saved at `Created` (never before: a plan saved at `Planned`
    /// finds its replacement by the tag). A restore that failed, or a run that stopped before
    /// it, is done by the next `verify`.
    pub async fn restore_description(&self, client: &Client, new: &Token) -> Result<(), Error> {
        match &self.marker {
            Some(m) => client.restore_description(new, m, None).await.map(|_| ()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_is_parsed_exactly() {
        let m = new_marker();
        assert_eq!(m.len(), 32);
        assert_ne!(m, new_marker());
        let d = marked_description(Some("CI bot"), &m);
        assert_eq!(d, format!("CI bot [mpt: being made, marker {m}]"));
        assert_eq!(unmarked_description(Some(&d), &m), Some(Some("CI bot")));
        assert_eq!(
            unmarked_description(Some(&marked_description(None, &m)), &m),
            Some(None)
        );
        assert!(!carries_marker(Some("CI bot"), &m));
        assert!(!carries_marker(Some(&d), &new_marker()));
        assert!(!carries_marker(Some(&format!("{d}.")), &m));
        let long = "d".repeat(MAX_DESCRIPTION_CHARS);
        let cut = marked_description(Some(&long), &m);
        assert_eq!(cut.chars().count(), MAX_DESCRIPTION_CHARS);
        assert!(carries_marker(Some(&cut), &m));
    }
}
