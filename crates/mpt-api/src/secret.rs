//! The token secret type the generator uses for `ApiToken.token` (see the `ApiTokenSecret`
//! replacement in `openapi/amendments.json`).

use secrecy::{ExposeSecret, SecretString};

/// A Marketplace API token secret (`idt:TKN-dddd-dddd:<opaque>`).
///
/// `Debug` prints `TokenSecret([REDACTED])` and there is no `Display`: the value only leaves
/// through [`TokenSecret::expose_secret`] or serialization (which the wire format needs). The
/// memory is zeroed on drop.
#[derive(Clone)]
pub struct TokenSecret(SecretString);

impl TokenSecret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        TokenSecret(SecretString::from(value.into()))
    }

    /// The secret itself, for an `Authorization` header or a vault. Never log it.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The token id embedded in the secret (its second `:`-separated field), if it has the
    /// documented shape. The id is not secret.
    pub fn token_id(&self) -> Option<&str> {
        let mut parts = self.expose_secret().splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(id), Some(_)) if id.starts_with("TKN-") => Some(id),
            _ => None,
        }
    }
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSecret([REDACTED])")
    }
}

impl From<String> for TokenSecret {
    fn from(value: String) -> Self {
        TokenSecret::new(value)
    }
}

impl From<&str> for TokenSecret {
    fn from(value: &str) -> Self {
        TokenSecret::new(value)
    }
}

impl serde::Serialize for TokenSecret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose_secret())
    }
}

impl<'de> serde::Deserialize<'de> for TokenSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(TokenSecret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::TokenSecret;

    #[test]
    fn debug_is_redacted_and_the_id_is_readable() {
        let secret = TokenSecret::new("idt:TKN-1234-5678:s3cr3t-value");
        assert_eq!(format!("{secret:?}"), "TokenSecret([REDACTED])");
        assert_eq!(secret.token_id(), Some("TKN-1234-5678"));
        assert_eq!(TokenSecret::new("CODE").token_id(), None);
    }

    #[test]
    fn serde_round_trips_the_value() {
        let secret: TokenSecret = serde_json::from_str("\"idt:TKN-1:x\"").unwrap();
        assert_eq!(secret.expose_secret(), "idt:TKN-1:x");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"idt:TKN-1:x\"");
    }
}
