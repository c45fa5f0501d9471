//! Sending a `multipart/form-data` body to the operations that take only a form (uploads of
//! documents, media, attachments): their generated call takes the raw body, and sends it as
//! `multipart/form-data` with [`BOUNDARY`] (`generator.multipartBodies` in
//! `openapi/amendments.json`). [`Form`] encodes the parts with that boundary:
//!
//! ```
//! let body = mpt_api::multipart::Form::new()
//!     .text("document", r#"{"name": "Terms"}"#)
//!     .file("file", "terms.pdf", "application/pdf", b"%PDF-1.7 ...".to_vec())
//!     .encode()?;
//! // e.g. client.create_product_document().product_id("PRD-1").body(body).send().await?
//! # Ok::<(), mpt_api::multipart::FormError>(())
//! ```

use std::fmt;

/// The boundary the generated multipart calls announce in their `Content-Type`.
pub const BOUNDARY: &str = "mpt-form-boundary-7e3f9a1c5b2d4e6f";

/// A form to send to a multipart operation.
#[derive(Debug, Clone, Default)]
pub struct Form {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
struct Part {
    name: String,
    file: Option<(String, String)>,
    body: Vec<u8>,
}

/// Why a form cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// A part's content holds the boundary line, which would end the part early.
    BoundaryInContent {
        /// The part's field name.
        part: String,
    },
    /// A field name, file name or content type holds a quote, a line break or a control
    /// character, which cannot be written in a part's header.
    BadHeaderValue {
        /// The part's field name.
        part: String,
    },
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::BoundaryInContent { part } => {
                write!(
                    f,
                    "form part {part:?} holds the multipart boundary {BOUNDARY}"
                )
            }
            FormError::BadHeaderValue { part } => write!(
                f,
                "form part {part:?}: a name, file name or content type holds a quote or a control character"
            ),
        }
    }
}

impl std::error::Error for FormError {}

impl Form {
    /// An empty form.
    pub fn new() -> Form {
        Form::default()
    }

    /// Adds a text field.
    pub fn text(mut self, name: impl Into<String>, value: impl Into<String>) -> Form {
        self.parts.push(Part {
            name: name.into(),
            file: None,
            body: value.into().into_bytes(),
        });
        self
    }

    /// Adds a file field: its file name, content type and bytes.
    pub fn file(
        mut self,
        name: impl Into<String>,
        file_name: impl Into<String>,
        content_type: impl Into<String>,
        bytes: Vec<u8>,
    ) -> Form {
        self.parts.push(Part {
            name: name.into(),
            file: Some((file_name.into(), content_type.into())),
            body: bytes,
        });
        self
    }

    /// The encoded body (RFC 7578), to hand to the generated call's `body`.
    pub fn encode(&self) -> Result<Vec<u8>, FormError> {
        let delimiter = format!("\r\n--{BOUNDARY}");
        let mut out = Vec::new();
        for part in &self.parts {
            let bad = |s: &str| s.chars().any(|c| c == '"' || c.is_control());
            let file_bad = part.file.as_ref().is_some_and(|(f, t)| bad(f) || bad(t));
            if bad(&part.name) || file_bad {
                return Err(FormError::BadHeaderValue {
                    part: part.name.clone(),
                });
            }
            if contains(&part.body, delimiter.as_bytes()) {
                return Err(FormError::BoundaryInContent {
                    part: part.name.clone(),
                });
            }
            out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            let disposition = match &part.file {
                Some((file, kind)) => format!(
                    "Content-Disposition: form-data; name=\"{}\"; filename=\"{file}\"\r\nContent-Type: {kind}\r\n\r\n",
                    part.name
                ),
                None => format!(
                    "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                    part.name
                ),
            };
            out.extend_from_slice(disposition.as_bytes());
            out.extend_from_slice(&part.body);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        Ok(out)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_form_calls_announce_this_boundary() {
        let generated = include_str!("modules/catalog.rs");
        let announced = format!("multipart/form-data; boundary={BOUNDARY}");
        assert!(generated.contains(&announced));
        assert!(!generated.contains("multipart/form-data; boundary=\""));
    }

    #[test]
    fn a_form_is_encoded_with_the_boundary_and_refuses_what_would_break_it() {
        let body = Form::new()
            .text("document", "{}")
            .file("file", "a.txt", "text/plain", b"hello".to_vec())
            .encode()
            .unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{BOUNDARY}\r\n")), "{text}");
        assert!(text.contains(
            "name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        ));
        assert!(text.ends_with(&format!("--{BOUNDARY}--\r\n")));
        let sneaky = Form::new().text("x", format!("a\r\n--{BOUNDARY}--"));
        assert_eq!(
            sneaky.encode(),
            Err(FormError::BoundaryInContent { part: "x".into() })
        );
        let quoted = Form::new().text("x\"y", "v");
        assert!(matches!(
            quoted.encode(),
            Err(FormError::BadHeaderValue { .. })
        ));
    }
}
