//! Duplicate object keys in a JSON document: `serde_json` keeps the last of them silently, so a
//! spec with two `/queries/{id}` path items or two `get`s of one path would lose one unseen.
//! Checked at read time for `import`, naming the JSON pointer of the repeated key.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::escape_token;

/// The JSON pointer of the first key an object of `text` repeats (`/paths/~1a/get`), if any.
/// `text` that is not JSON has none (parsing reports that).
pub fn duplicate_key(text: &str) -> Option<String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut found = None;
    let _ = Walk {
        at: String::new(),
        found: &mut found,
    }
    .deserialize(&mut de);
    found
}

struct Walk<'a> {
    at: String,
    found: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let next = Walk {
                at: format!("{}/{i}", self.at),
                found: &mut *self.found,
            };
            if seq.next_element_seed(next)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let at = format!("{}/{}", self.at, escape_token(&key));
            if !seen.insert(key) && self.found.is_none() {
                *self.found = Some(at.clone());
            }
            if self.found.is_some() {
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value_seed(Walk {
                    at,
                    found: &mut *self.found,
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::duplicate_key;

    #[test]
    fn the_first_repeated_key_is_named_by_its_pointer() {
        assert_eq!(duplicate_key(r#"{"a": 1, "b": [{"c": 1}]}"#), None);
        assert_eq!(
            duplicate_key(r#"{"paths": {"/q/{id}": {"get": 1, "get": 2}}}"#).as_deref(),
            Some("/paths/~1q~1{id}/get")
        );
        assert_eq!(
            duplicate_key(r#"{"paths": {"/a": {}, "/b": [], "/a": {}}}"#).as_deref(),
            Some("/paths/~1a")
        );
    }
}
