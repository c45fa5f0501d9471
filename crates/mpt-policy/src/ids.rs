//! The platform's id shapes, checked wherever an id is read from a file (a policy, a saved plan,
//! a state record), so that no id read back ever becomes a path or reaches a request unchecked.

/// The kind of id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    /// `ACC-1234-5678`.
    Account,
    /// `TKN-1234-5678`.
    Token,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::Account => "ACC",
            IdKind::Token => "TKN",
        }
    }
}

/// Whether `id` has the platform's shape for `kind`: the prefix (`ACC` or `TKN`), then one to
/// four groups of one to eight digits, each after a `-` (`ACC-1234-5678`, `TKN-0001-2345-6789`).
pub(crate) fn is_id(kind: IdKind, id: &str) -> bool {
    let Some(rest) = id.strip_prefix(kind.prefix()) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    let groups: Vec<&str> = rest.split('-').collect();
    (1..=4).contains(&groups.len())
        && groups
            .iter()
            .all(|g| (1..=8).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()))
}

/// An id read from a file that is not of the platform's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown:?} is not a{article} id: `{prefix}-` and groups of digits, like {example}")]
pub(crate) struct IdError {
    /// The id, redacted (a secret pasted there is not shown).
    shown: String,
    article: &'static str,
    prefix: &'static str,
    example: &'static str,
}

/// [`is_id`], or why not, quoting the id (shown redacted: a secret pasted here is not shown).
pub(crate) fn check_id(kind: IdKind, id: &str) -> Result<(), IdError> {
    if is_id(kind, id) {
        return Ok(());
    }
    let (article, example) = match kind {
        IdKind::Account => ("n account", "ACC-1234-5678"),
        IdKind::Token => (" token", "TKN-1234-5678"),
    };
    Err(IdError {
        shown: mpt::redact(id),
        article,
        prefix: kind.prefix(),
        example,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_platforms_shape_and_nothing_else() {
        for ok in ["ACC-1234-5678", "ACC-0000-0001", "ACC-1", "ACC-1-2-3-4"] {
            assert!(is_id(IdKind::Account, ok), "{ok}");
        }
        for bad in [
            "",
            "ACC",
            "ACC-",
            "ACC--1",
            "ACC-1-",
            "ACC-1-2-3-4-5",
            "acc-1234",
            "TKN-1234-5678",
            "../../outside/x",
            "ACC-1234/..",
            "ACC-12\u{0}34",
            "ACC-123456789",
            " ACC-1234",
        ] {
            assert!(!is_id(IdKind::Account, bad), "{bad:?}");
        }
        assert!(is_id(IdKind::Token, "TKN-2340-3557"));
        let why = check_id(IdKind::Token, "idt:TKN-1:sekrit")
            .unwrap_err()
            .to_string();
        assert!(
            !why.contains("sekrit") && why.contains("TKN-1234-5678"),
            "{why}"
        );
    }
}
