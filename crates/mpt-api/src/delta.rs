//! The update body, by hand (see the `UpdateApiTokenDto` replacement in
//! `openapi/amendments.json`): the generated type would skip a `None`, so a delta could never
//! send the `null` that clears a description or icon.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::types::ModuleDto;

/// The body of an update: only the members that are set are sent. For `description` and `icon`,
/// `None` leaves the value alone and `Some(None)` sends `null`, which clears it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenDelta {
    /// A new name (non-empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description, or `Some(None)` to clear it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "present",
        deserialize_with = "nullable"
    )]
    pub description: Option<Option<String>>,
    /// A new icon path, or `Some(None)` to clear it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "present",
        deserialize_with = "nullable"
    )]
    pub icon: Option<Option<String>>,
    /// The modules, replacing the current ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules: Option<Vec<ModuleDto>>,
}

impl TokenDelta {
    /// Whether nothing is set (sending it would change nothing).
    pub fn is_empty(&self) -> bool {
        *self == TokenDelta::default()
    }
}

impl PartialEq for ModuleDto {
    fn eq(&self, other: &Self) -> bool {
        *self.id == *other.id
    }
}

/// Serializes a present member: its value, or `null`.
fn present<S: Serializer>(value: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(inner) => inner.serialize(s),
        None => s.serialize_none(),
    }
}

/// A present member is `Some`, even when it is `null`.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::TokenDelta;

    #[test]
    fn absent_and_null_stay_apart() {
        let delta = TokenDelta {
            description: Some(None),
            icon: Some(Some("/i.png".into())),
            ..TokenDelta::default()
        };
        let json = serde_json::to_string(&delta).unwrap();
        assert_eq!(json, r#"{"description":null,"icon":"/i.png"}"#);
        let back: TokenDelta = serde_json::from_str(&json).unwrap();
        assert_eq!(back, delta);
        assert_eq!(serde_json::to_string(&TokenDelta::default()).unwrap(), "{}");
        assert!(TokenDelta::default().is_empty());
    }
}
