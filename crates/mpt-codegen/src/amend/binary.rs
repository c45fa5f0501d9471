//! `binaryAnswers`: answers whose media types other than `application/json` carry a file's
//! bytes (a download), which a published spec declares with the JSON answer's schema.
//!
//! In the merged spec each such media type gets the schema of a byte string (`type: string,
//! format: binary`), and `application/json` keeps its own (what the endpoint answers when JSON
//! is asked for). In the generator's copy the answer loses `application/json`: progenitor then
//! generates a `ByteStream` answer and sends no `Accept: application/json` of its own (reqwest's
//! `*/*` asks for the file), and the answer tables say `Bytes`, so the facade's hook layer takes
//! any body as it came instead of reading a file as a JSON document cut short.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Amendments, parse_operation_key};
use crate::error::{Error, Result, escape_token};

/// One answer that is a download.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BinaryAnswer {
    /// The platform module it belongs to (`openapi/fragments/<module>/`); absent: the API
    /// tokens pages of `openapi/fragments/`.
    #[serde(default)]
    pub module: Option<String>,
    /// `"METHOD /path"`, as the fragment spells the path.
    pub operation: String,
    /// The answer's status code, as the spec writes it (`"200"`).
    pub status: String,
    /// Why.
    pub reason: String,
    /// Its place in the file's list (kept when [`Amendments::for_module`] leaves out the other
    /// modules' entries), for errors.
    #[serde(skip)]
    pub index: usize,
}

/// Whether `media` is the JSON answer (`application/json`, parameters allowed): the only media
/// type progenitor decodes into a type, and the one the platform answers metadata for. A file
/// whose own type ends in `+json` is still a file.
fn is_json(media: &str) -> bool {
    let essence = media.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The schema of a file's bytes.
fn byte_string() -> Value {
    json!({"type": "string", "format": "binary"})
}

impl Amendments {
    /// The pointer of entry `entry`'s `field`, for errors.
    fn binary_pointer(entry: &BinaryAnswer, field: &str) -> String {
        format!("/binaryAnswers/{}/{field}", entry.index)
    }

    /// Checks each entry's reason and operation key; numbers them.
    pub(super) fn check_binary_answers(&mut self) -> Result<()> {
        for (index, entry) in self.binary_answers.iter_mut().enumerate() {
            entry.index = index;
        }
        for entry in &self.binary_answers {
            if entry.reason.trim().is_empty() {
                return Err(Error::invalid(
                    &self.path,
                    Self::binary_pointer(entry, "reason"),
                    "every amendment needs a non-empty `reason`",
                ));
            }
            if parse_operation_key(&entry.operation).is_none() {
                return Err(Error::invalid(
                    &self.path,
                    Self::binary_pointer(entry, "operation"),
                    "expected `\"METHOD /path\"`",
                ));
            }
        }
        Ok(())
    }

    /// The media types (`content`) of entry `entry`'s answer in `doc`, or an error naming what
    /// is missing: an entry that matches nothing would silently leave the answer a document.
    fn binary_content<'a>(
        &self,
        entry: &BinaryAnswer,
        doc: &'a mut Value,
    ) -> Result<&'a mut serde_json::Map<String, Value>> {
        let (method, route) = parse_operation_key(&entry.operation).unwrap_or_default();
        let pointer = format!(
            "/paths/{}/{method}/responses/{}/content",
            escape_token(&route),
            escape_token(&entry.status)
        );
        let operation = format!("/paths/{}/{method}", escape_token(&route));
        let problem = match doc.pointer(&pointer) {
            Some(Value::Object(content)) if content.keys().any(|m| !is_json(m)) => None,
            Some(Value::Object(_)) => Some(format!(
                "{} answers {} with JSON only: no media type says what the file's bytes are",
                entry.operation, entry.status
            )),
            _ if doc.pointer(&operation).is_none() => Some(format!(
                "no fragment defines the operation {}",
                entry.operation
            )),
            _ => None,
        };
        match (problem, doc.pointer_mut(&pointer)) {
            (None, Some(Value::Object(content))) => Ok(content),
            (problem, _) => Err(Error::invalid(
                &self.path,
                Self::binary_pointer(entry, "operation"),
                problem.unwrap_or_else(|| {
                    format!(
                        "{} has no answer {} with a body",
                        entry.operation, entry.status
                    )
                }),
            )),
        }
    }

    /// In the merged spec: every media type of each entry's answer but `application/json` is
    /// a byte string.
    pub(super) fn apply_binary_answers(&self, doc: &mut Value) -> Result<()> {
        for entry in &self.binary_answers {
            for (media, body) in self.binary_content(entry, doc)? {
                if !is_json(media)
                    && let Some(body) = body.as_object_mut()
                {
                    body.insert("schema".into(), byte_string());
                }
            }
        }
        Ok(())
    }

    /// In the generator's copy: each entry's answer without `application/json`, so that the
    /// generated call answers a byte stream. The number of operations it touched.
    pub fn binary_answers_pass(&self, doc: &mut Value) -> Result<usize> {
        let mut touched = 0;
        for entry in &self.binary_answers {
            let content = self.binary_content(entry, doc)?;
            let before = content.len();
            content.retain(|media, _| !is_json(media));
            touched += usize::from(content.len() != before);
        }
        Ok(touched)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};

    use crate::amend::Amendments;

    const ROUTE: &str = "/v1/files/{id}";

    /// Amendments whose one `binaryAnswers` entry is `entry` (merged over a valid one).
    fn amendments(entry: Value) -> crate::error::Result<Amendments> {
        let mut base = json!({
            "module": "files",
            "operation": format!("GET {ROUTE}"),
            "status": "200",
            "reason": "the file's own media types carry its bytes"
        });
        for (k, v) in entry.as_object().into_iter().flatten() {
            base[k] = v.clone();
        }
        let text = json!({
            "operationIds": {"reason": "r", "rule": "rest-resource"},
            "requestMediaTypes": {"reason": "r", "keep": ["application/json"]},
            "tolerantReading": {"reason": "r", "allowUnknownFields": true, "openEnums": true},
            "binaryAnswers": [base]
        });
        Amendments::parse(Path::new("amendments.json"), &text.to_string())
    }

    /// An operation answering metadata as JSON and the file in two media types, both declared
    /// with the metadata's schema (as the platform's notifications attachment is).
    fn doc() -> Value {
        let meta = json!({"schema": {"$ref": "#/components/schemas/File"}});
        json!({"paths": {ROUTE: {"get": {"responses": {
            "200": {"content": {
                "application/json": meta.clone(),
                "application/pdf": meta.clone(),
                "application/ld+json": meta
            }},
            "301": {"description": "to the download"}
        }}}}})
    }

    #[test]
    fn the_merged_spec_says_bytes_and_the_generator_gets_only_them() {
        let a = amendments(json!({})).unwrap();
        let mut merged = doc();
        a.apply_binary_answers(&mut merged).unwrap();
        let content = &merged["paths"][ROUTE]["get"]["responses"]["200"]["content"];
        let bytes = json!({"type": "string", "format": "binary"});
        assert_eq!(content["application/pdf"]["schema"], bytes);
        // A file whose own type is JSON-like is still the file.
        assert_eq!(content["application/ld+json"]["schema"], bytes);
        // What the endpoint answers when JSON is asked for stays the metadata.
        assert_eq!(
            content["application/json"]["schema"]["$ref"],
            "#/components/schemas/File"
        );
        let mut copy = merged.clone();
        assert_eq!(a.binary_answers_pass(&mut copy).unwrap(), 1);
        let content = copy["paths"][ROUTE]["get"]["responses"]["200"]["content"]
            .as_object()
            .unwrap();
        let mut kept: Vec<&String> = content.keys().collect();
        kept.sort();
        assert_eq!(kept, ["application/ld+json", "application/pdf"]);
    }

    #[test]
    fn an_entry_that_matches_nothing_or_says_nothing_is_refused_with_its_pointer() {
        let refused = |entry: Value| {
            let err = match amendments(entry) {
                Err(e) => e,
                Ok(a) => a.apply_binary_answers(&mut doc()).unwrap_err(),
            };
            err.to_string()
        };
        for (entry, pointer, words) in [
            (json!({"reason": " "}), "/binaryAnswers/0/reason", "reason"),
            (
                json!({"operation": "FETCH /x"}),
                "/binaryAnswers/0/operation",
                "METHOD",
            ),
            (
                json!({"operation": "GET /v1/nothing"}),
                "/binaryAnswers/0/operation",
                "no fragment defines the operation GET /v1/nothing",
            ),
            (
                json!({"status": "201"}),
                "/binaryAnswers/0/operation",
                "has no answer 201 with a body",
            ),
            (
                json!({"status": "301"}),
                "/binaryAnswers/0/operation",
                "has no answer 301",
            ),
        ] {
            let err = refused(entry.clone());
            assert!(err.contains(pointer), "{entry}: {err}");
            assert!(err.contains(words), "{entry}: {err}");
            assert!(err.contains("amendments.json"), "{entry}: {err}");
        }
        // An answer in JSON only has no media type to say what the bytes are.
        let a = amendments(json!({})).unwrap();
        let mut json_only = doc();
        let content = &mut json_only["paths"][ROUTE]["get"]["responses"]["200"]["content"];
        let content = content.as_object_mut().unwrap();
        content.retain(|m, _| m == "application/json");
        let err = a.apply_binary_answers(&mut json_only).unwrap_err();
        assert!(err.to_string().contains("JSON only"), "{err}");
    }
}
