//! The marker a create carries until it is known to be ours: a random nonce (128 bits from the
//! operating system), sent in the token's description as a tag:
//!
//! ```text
//! <the intended description> [mpt: being made, marker 0123456789abcdef0123456789abcdef]
//! ```
//!
//! The record (a [`RotationPlan`]'s `markerHashes`, the policy's create record) keeps only the
//! SHA-256 of each marker ([`marker_hash`]), saved before the create is sent: the marker itself
//! lives in the running process and in the description the create sends, nowhere else. So
//! whoever reads the saved state (a plan file, a state directory, a database dump) learns no
//! marker: a token made by hand under the name cannot carry one until our create has landed,
//! and a copy made after that makes two tokens carry it (refused, never adopted).
//!
//! A run that stopped before it saved what its create made finds the token again by that tag,
//! read from the platform now: the marker found in a description is hashed and compared with the
//! record's. Once the token is ours (the create answered, or the tag found), the intended
//! description is put back ([`Client::restore_description`]).

use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::error::Error;
use crate::request::{MAX_DESCRIPTION_CHARS, TokenUpdate};
use crate::rotation_plan::RotationPlan;
use crate::token::{CreatedToken, Token};

/// The tag's words before the marker.
const TAG_START: &str = "[mpt: being made, marker ";

/// A new marker: 32 hexadecimal digits, 128 bits from the operating system's random source
/// (`getrandom`, a CSPRNG). It is never saved: only its [`marker_hash`] is.
///
/// # Errors
///
/// [`Error::Config`] when the operating system has no random source to read (`getrandom`
/// fails): no marker can be made, none is faked, and nothing should be created.
pub fn new_marker() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::Config(format!(
            "the operating system's random source failed ({e}): no create marker can be made, so nothing is created"
        ))
    })?;
    Ok(hex(&bytes))
}

/// The SHA-256 of `marker`, in lowercase hexadecimal: what a record keeps of it.
pub fn marker_hash(marker: &str) -> String {
    hex(&Sha256::digest(marker.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The tag alone: `[mpt: being made, marker <marker>]`.
fn tag(marker: &str) -> String {
    format!("{TAG_START}{marker}]")
}

/// Whether `c` joins the character before it (a combining mark, a zero-width joiner, a
/// variation selector, an emoji skin-tone modifier): a cut never falls just before one. The
/// common blocks only, not the whole Unicode general category `M`: kept simple.
fn joins_previous(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}' | '\u{0483}'..='\u{0489}' | '\u{0591}'..='\u{05BD}'
        | '\u{0610}'..='\u{061A}' | '\u{064B}'..='\u{065F}' | '\u{0900}'..='\u{0903}'
        | '\u{093A}'..='\u{094F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
        | '\u{200C}'..='\u{200D}' | '\u{20D0}'..='\u{20FF}' | '\u{3099}'..='\u{309A}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FE20}'..='\u{FE2F}' | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0020}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}')
}

/// `d` cut to at most `room` characters, on a character boundary and never just before a
/// character that joins the one before it ([`joins_previous`]: an accent is not split off its
/// letter; the letter goes too).
fn cut(d: &str, room: usize) -> &str {
    let mut ends = d.char_indices().map(|(i, _)| i).chain([d.len()]);
    let Some(mut end) = ends.nth(room) else {
        return d;
    };
    while end > 0 && d[end..].chars().next().is_some_and(joins_previous) {
        end = d[..end].char_indices().next_back().map_or(0, |(i, _)| i);
    }
    &d[..end]
}

/// The description a create sends: `intended` followed by a space and the marker's tag (the tag
/// alone when there is no intended description). An intended description too long to take the
/// tag within [`MAX_DESCRIPTION_CHARS`] is cut to make room (on a character boundary, never
/// splitting a combining mark off its letter): the restore puts back the whole intended
/// description, never the cut one ([`Client::restore_description`] with `intended`).
pub fn marked_description(intended: Option<&str>, marker: &str) -> String {
    let tag = tag(marker);
    match intended.filter(|d| !d.is_empty()) {
        None => tag,
        Some(d) => {
            let room = MAX_DESCRIPTION_CHARS.saturating_sub(tag.chars().count() + 1);
            format!("{} {tag}", cut(d, room))
        }
    }
}

/// The marker in `description`'s tag, and the description without it (`None`: the tag was all
/// of it), when it ends with a tag exactly as [`marked_description`] writes it.
fn split_tag(description: &str) -> Option<(&str, Option<&str>)> {
    let start = description.rfind(TAG_START)?;
    let marker = description[start + TAG_START.len()..].strip_suffix(']')?;
    if marker.len() != 32
        || !marker
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    match &description[..start] {
        "" => Some((marker, None)),
        kept => Some((marker, Some(kept.strip_suffix(' ')?))),
    }
}

/// The marker in `description`'s tag, if it ends with one as [`marked_description`] writes it.
pub(crate) fn marker_of(description: Option<&str>) -> Option<&str> {
    split_tag(description?).map(|(marker, _)| marker)
}

/// Whether `description` carries the tag of a marker whose [`marker_hash`] is one of `hashes`
/// (a record's `markerHashes`): the marker it shows is hashed and compared.
pub fn carries_marker(description: Option<&str>, hashes: &[String]) -> bool {
    unmarked_description(description, hashes).is_some()
}

/// Whether `text` (a description, a name) names, anywhere and in any case, a marker whose
/// [`marker_hash`] is one of `hashes`: its 32 hex digits in order, whatever stands between
/// or around them (the text's other characters are skipped). Looser than [`carries_marker`],
/// for evidence that a marker is not this tool's alone: a tag an administrator rewrote
/// (upper-cased, its brackets dropped, split by dashes or spaces, quoted in other words)
/// still names the marker, so a token carrying its exact tag is then not its only carrier.
/// (A marker encoded, in base64 say, is not read.)
pub fn mentions_marker(text: Option<&str>, hashes: &[String]) -> bool {
    let Some(text) = text else {
        return false;
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    digits.windows(32).any(|marker| {
        std::str::from_utf8(marker).is_ok_and(|marker| hashes.contains(&marker_hash(marker)))
    })
}

/// `description` without the tag of a marker whose [`marker_hash`] is one of `hashes`
/// (`Some(None)`: the tag was all of it); `None` when it does not carry such a tag.
pub fn unmarked_description<'a>(
    description: Option<&'a str>,
    hashes: &[String],
) -> Option<Option<&'a str>> {
    let (marker, kept) = split_tag(description?)?;
    let hash = marker_hash(marker);
    hashes.contains(&hash).then_some(kept)
}

impl Client {
    /// Puts back the intended description of `token` (read now) while it carries the tag of a
    /// marker whose hash is one of `hashes`: `intended` when the caller knows it (`Some(None)`:
    /// no description), else the description without the tag (which may have been cut to make
    /// room for the tag: pass `intended` whenever it is known). Nothing is sent when it does not
    /// carry such a tag (restored already). An update whose answer was lost is judged by
    /// reading the token again, never guessed. Returns the token as it is now.
    pub async fn restore_description(
        &self,
        token: &Token,
        hashes: &[String],
        intended: Option<Option<&str>>,
    ) -> Result<Token, Error> {
        let Some(unmarked) = unmarked_description(token.description(), hashes) else {
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
                Ok(now) if !carries_marker(now.description(), hashes) => Ok(now),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

impl RotationPlan {
    /// The replacement an earlier run of this plan made, if one is on the platform: the one
    /// token with this account and name outside the record whose description carries the tag
    /// of a marker whose hash the plan keeps (Active, with its secret). `None` when no token
    /// outside the record has the name (the earlier create made nothing: create). A token
    /// without the marker is never adopted: any such token, several with it, or a plan saved
    /// without marker hashes (by a version before them) that finds one, is
    /// [`Error::CreateUnconfirmed`] whose source is [`Error::NotMadeByPlan`], and nothing is
    /// adopted.
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
        let ours = |t: &Token| carries_marker(t.description(), &self.marker_hashes);
        let marked: Vec<usize> = (0..found.len()).filter(|&i| ours(&found[i])).collect();
        if let [i] = marked[..]
            && found.len() == 1
            && found[i].status() == crate::status::TokenStatus::Active
            && let Some(secret) = found[i].secret().cloned()
        {
            let token = found.remove(i);
            return Ok(Some(CreatedToken {
                token,
                secret,
                other_sends: 0,
            }));
        }
        let source = Error::NotMadeByPlan {
            old_id: self.old_id.clone(),
            unmarked: found
                .iter()
                .filter(|t| !ours(t))
                .map(|t| t.id().to_string())
                .collect(),
            marked: marked.iter().map(|&i| found[i].id().to_string()).collect(),
            has_marker: !self.marker_hashes.is_empty(),
        };
        Err(Error::CreateUnconfirmed {
            account_id: self.account_id.clone(),
            name: self.name.clone(),
            candidates: found,
            lookup: None,
            source: Box::new(source),
            other_sends: 0,
        })
    }

    /// Puts back the intended description of the replacement `new` (read now) while it carries
    /// the tag of one of this plan's markers ([`Client::restore_description`]): the old
    /// token's description, read now (the create's may have been cut to make room for the
    /// tag), or, once the old token is gone (or of another account or name), the replacement's
    /// without the tag. Nothing is sent when `new` carries no tag of the plan's.
    /// [`RotationPlan::verify`] does it before it moves the plan past `Created`; call it sooner
    /// once the plan is saved at `Created` (never before: a plan saved at `Planned` finds its
    /// replacement by the tag). A restore that failed, or a run that stopped before it, is done
    /// by the next `verify`.
    pub async fn restore_description(&self, client: &Client, new: &Token) -> Result<(), Error> {
        self.restored(client, new).await.map(|_| ())
    }

    /// [`RotationPlan::restore_description`], returning the replacement as it is now (the
    /// update's answer, or `new` itself when it carries no tag): no read after it is needed to
    /// show it.
    pub async fn restored(&self, client: &Client, new: &Token) -> Result<Token, Error> {
        if !carries_marker(new.description(), &self.marker_hashes) {
            return Ok(new.clone());
        }
        // The old token's description, unless it is gone or no longer the plan's (another
        // account or name: `retire` refuses it; the restore then keeps the replacement's own).
        let old = match client.get(self.old_id.as_str()).await {
            Ok(old)
                if old.status() != crate::status::TokenStatus::Deleted
                    && self.check_old(&old).is_ok() =>
            {
                Some(old)
            }
            Ok(_) | Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let intended = old.as_ref().map(|o| o.description());
        client
            .restore_description(new, &self.marker_hashes, intended)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A marker is named however its tag was rewritten; another marker, or one cut short, is not.
    #[test]
    fn a_marker_is_named_in_any_case_and_any_words() {
        let m = new_marker().unwrap();
        let h = [marker_hash(&m)];
        for d in [
            marked_description(Some("ci"), &m),
            format!("[mpt: being made, marker {}]", m.to_ascii_uppercase()),
            format!("marker {m}"),
            format!("parked by ops (was {m}); do not use"),
            format!("ff{m}00"),
            format!("{}-{}-{}", &m[..8], &m[8..20], &m[20..]),
            m.chars().map(|c| format!("{c} ")).collect::<String>(),
        ] {
            assert!(mentions_marker(Some(&d), &h), "{d}");
        }
        let other = new_marker().unwrap();
        for d in [
            format!("marker {other}"),
            format!("marker {}", &m[..31]),
            String::new(),
        ] {
            assert!(!mentions_marker(Some(&d), &h), "{d}");
        }
        assert!(!mentions_marker(None, &h));
    }

    #[test]
    fn the_tag_is_parsed_exactly_and_judged_by_the_hash() {
        let m = new_marker().unwrap();
        assert_eq!(m.len(), 32);
        assert_ne!(m, new_marker().unwrap());
        let h = vec![marker_hash(&m)];
        assert_eq!(h[0].len(), 64);
        let d = marked_description(Some("CI bot"), &m);
        assert_eq!(d, format!("CI bot [mpt: being made, marker {m}]"));
        assert_eq!(unmarked_description(Some(&d), &h), Some(Some("CI bot")));
        assert_eq!(
            unmarked_description(Some(&marked_description(None, &m)), &h),
            Some(None)
        );
        assert!(!carries_marker(Some("CI bot"), &h));
        assert!(!carries_marker(
            Some(&d),
            &[marker_hash(&new_marker().unwrap())]
        ));
        assert!(!carries_marker(Some(&d), &[]));
        assert!(!carries_marker(Some(&format!("{d}.")), &h));
        // The hash in place of the marker (what a reader of the record could copy) is no tag.
        assert!(!carries_marker(
            Some(&format!("[mpt: being made, marker {}]", h[0])),
            &h
        ));
        let long = "d".repeat(MAX_DESCRIPTION_CHARS);
        let cut = marked_description(Some(&long), &m);
        assert_eq!(cut.chars().count(), MAX_DESCRIPTION_CHARS);
        assert!(carries_marker(Some(&cut), &h));
    }

    #[test]
    fn a_cut_never_splits_a_combining_mark_off_its_letter() {
        let m = new_marker().unwrap();
        let tag_room = MAX_DESCRIPTION_CHARS - tag(&m).chars().count() - 1;
        // The letter `e` is the last char that fits; its accent (U+0301) would be the first cut.
        let d = format!("{}e\u{301}xyz", "a".repeat(tag_room - 1));
        let marked = marked_description(Some(&d), &m);
        let kept = unmarked_description(Some(&marked), &[marker_hash(&m)])
            .flatten()
            .unwrap_or_default();
        assert_eq!(kept, "a".repeat(tag_room - 1));
        let multi = "é".repeat(MAX_DESCRIPTION_CHARS);
        assert!(marked_description(Some(&multi), &m).chars().count() <= MAX_DESCRIPTION_CHARS);
    }
}
