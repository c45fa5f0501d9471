//! A token's lifecycle: its states and the actions between them.

use std::fmt;
use std::str::FromStr;

/// A token's lifecycle state. The platform may add states: they arrive as `Unknown`, so the
/// enum needs no `#[non_exhaustive]` (a `match` with an `Unknown(_)` arm covers every future
/// state).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenStatus {
    /// Usable: its secret authenticates.
    Active,
    /// Kept, but its secret is refused until it is enabled again.
    Disabled,
    /// Gone for good.
    Deleted,
    /// A state this SDK does not know (kept as sent; empty if the answer had none).
    Unknown(String),
}

impl TokenStatus {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            TokenStatus::Active => "Active",
            TokenStatus::Disabled => "Disabled",
            TokenStatus::Deleted => "Deleted",
            TokenStatus::Unknown(s) => s,
        }
    }

    /// The actions the lifecycle allows from this state (New → Active; Active ⇄ Disabled;
    /// Active or Disabled → Deleted). Empty for `Deleted` and for unknown states.
    pub fn available_actions(&self) -> &'static [Action] {
        match self {
            TokenStatus::Active => &[Action::Update, Action::Disable, Action::Delete],
            TokenStatus::Disabled => &[Action::Update, Action::Enable, Action::Delete],
            TokenStatus::Deleted | TokenStatus::Unknown(_) => &[],
        }
    }

    /// Whether the state is one this SDK knows (so transitions can be checked locally).
    pub fn is_known(&self) -> bool {
        !matches!(self, TokenStatus::Unknown(_))
    }
}

impl FromStr for TokenStatus {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "Active" => TokenStatus::Active,
            "Disabled" => TokenStatus::Disabled,
            "Deleted" => TokenStatus::Deleted,
            other => TokenStatus::Unknown(other.to_string()),
        })
    }
}

impl fmt::Display for TokenStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenStatus::Unknown(s) if s.is_empty() => f.write_str("(no status)"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// What can be done to a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Change name, description, icon or modules.
    Update,
    /// Disabled → Active.
    Enable,
    /// Active → Disabled.
    Disable,
    /// Active or Disabled → Deleted.
    Delete,
}

impl Action {
    /// The state the action leads to (`Update` keeps the state: `None`).
    pub fn target(self) -> Option<TokenStatus> {
        match self {
            Action::Enable => Some(TokenStatus::Active),
            Action::Disable => Some(TokenStatus::Disabled),
            Action::Delete => Some(TokenStatus::Deleted),
            Action::Update => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Update => "update",
            Action::Enable => "enable",
            Action::Disable => "disable",
            Action::Delete => "delete",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_allows_what_the_docs_say() {
        assert_eq!(
            TokenStatus::Active.available_actions(),
            [Action::Update, Action::Disable, Action::Delete]
        );
        assert_eq!(
            TokenStatus::Disabled.available_actions(),
            [Action::Update, Action::Enable, Action::Delete]
        );
        assert!(TokenStatus::Deleted.available_actions().is_empty());
        assert_eq!(
            "Suspended".parse::<TokenStatus>().unwrap(),
            TokenStatus::Unknown("Suspended".into())
        );
    }
}
