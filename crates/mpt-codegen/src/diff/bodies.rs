//! What goes in and out of an operation: request bodies, media types (their parameters and
//! case ignored), responses and their headers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::flat::{is_required, resolve, word};
use super::model::{Direction, JSON, Level, Place};
use super::ops::Operation;
use super::walk::Walk;
use crate::error::escape_token;

/// The note on a change to a request media type the SDK never sends.
const UNSENT: &str = "the SDK sends request bodies as application/json only (requestMediaTypes): it never sends this one";

/// The note on a change that breaks the generated Rust types, not the wire.
const RUST_TYPE: &str = "SDK semver: the generated Rust type of the body changes (typed ↔ raw), so callers' code breaks";

impl Walk<'_> {
    pub(super) fn request_body(&mut self, old: &Operation<'_>, new: &Operation<'_>) {
        fn body<'d>(doc: &'d Value, op: &Operation<'d>) -> Option<(&'d Value, String)> {
            op.op
                .get("requestBody")
                .map(|b| resolve(doc, b, format!("{}/requestBody", op.pointer)))
        }
        match (body(self.old, old), body(self.new, new)) {
            (None, None) => {}
            (None, Some((b, at))) => {
                let required = is_required(b);
                self.push(
                    if required {
                        "request-body-required-added"
                    } else {
                        "request-body-optional-added"
                    },
                    if required {
                        Level::Breaking
                    } else {
                        Level::NonBreaking
                    },
                    format!("{} request body added", word(required)),
                    None,
                    Some(&at),
                );
            }
            (Some((_, at)), None) => self.push(
                "request-body-removed",
                Level::Breaking,
                "request body removed".into(),
                Some(&at),
                None,
            ),
            (Some((ob, oat)), Some((nb, nat))) => {
                let (was, is) = (is_required(ob), is_required(nb));
                if was != is {
                    self.push(
                        if is {
                            "request-body-became-required"
                        } else {
                            "request-body-became-optional"
                        },
                        if is {
                            Level::Breaking
                        } else {
                            Level::NonBreaking
                        },
                        format!("request body became {}", word(is)),
                        Some(&format!("{oat}/required")),
                        Some(&format!("{nat}/required")),
                    );
                }
                self.content(ob, &oat, nb, &nat, Direction::Request, "request body");
            }
        }
    }

    /// Media types and their schemas.
    pub(super) fn content(
        &mut self,
        old: &Value,
        old_at: &str,
        new: &Value,
        new_at: &str,
        direction: Direction,
        what: &str,
    ) {
        let empty = serde_json::Map::new();
        let olds = old
            .get("content")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let news = new
            .get("content")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        // `application/json; charset=utf-8` is `application/json`: parameters and case do not
        // make another media type.
        let key = |media: &str| {
            media
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        };
        let news_by_key: BTreeMap<String, (&String, &Value)> =
            news.iter().map(|(m, v)| (key(m), (m, v))).collect();
        let olds_keys: BTreeSet<String> = olds.keys().map(|m| key(m)).collect();
        for (media, o) in olds {
            let oat = format!("{old_at}/content/{}", escape_token(media));
            let unsent = direction == Direction::Request
                && self.tolerance.json_requests_only
                && key(media) != JSON;
            match news_by_key.get(&key(media)).map(|(m, n)| (*m, *n)) {
                None => {
                    self.push(
                        direction.pick("request-media-type-removed", "response-media-type-removed"),
                        if unsent {
                            Level::NonBreaking
                        } else {
                            Level::Breaking
                        },
                        format!("{what}: media type `{media}` removed"),
                        Some(&oat),
                        None,
                    );
                    if unsent {
                        self.note(UNSENT);
                    }
                }
                Some((new_media, n)) => {
                    let nat = format!("{new_at}/content/{}", escape_token(new_media));
                    if unsent {
                        // Judged once, where it is sent: an unsent media type that says what the
                        // JSON one says on both sides adds nothing.
                        let json = |c: &serde_json::Map<String, Value>| {
                            c.iter()
                                .find(|(m, _)| key(m) == JSON)
                                .and_then(|(_, v)| v.get("schema").cloned())
                        };
                        let echoes = o.get("schema").cloned() == json(olds)
                            && n.get("schema").cloned() == json(news);
                        if o.get("schema") != n.get("schema") && !echoes {
                            self.push(
                                "request-unsent-media-type-changed",
                                Level::NonBreaking,
                                format!("{what}: the schema of media type `{media}` changed"),
                                Some(&oat),
                                Some(&nat),
                            );
                            self.note(UNSENT);
                        }
                        continue;
                    }
                    self.media_schema(o, (&oat, &nat), n, direction, what, media);
                }
            }
        }
        for media in news.keys().filter(|m| !olds_keys.contains(&key(m))) {
            self.push(
                direction.pick("request-media-type-added", "response-media-type-added"),
                Level::NonBreaking,
                format!("{what}: media type `{media}` added"),
                None,
                Some(&format!("{new_at}/content/{}", escape_token(media))),
            );
        }
    }

    /// The schemas of one media type on both sides. A schema added where there was none
    /// constrains a request (any body was accepted), one removed frees a response (any body
    /// may come); either way the generated Rust type of the body changes (typed ↔ raw), which
    /// breaks callers' code even where the wire does not.
    fn media_schema(
        &mut self,
        o: &Value,
        (oat, nat): (&str, &str),
        n: &Value,
        direction: Direction,
        what: &str,
        media: &str,
    ) {
        match (o.get("schema"), n.get("schema")) {
            (Some(os), Some(ns)) => self.schema(
                os,
                format!("{oat}/schema"),
                ns,
                format!("{nat}/schema"),
                direction,
                what,
            ),
            (None, None) => {}
            (None, Some(_)) => self.push(
                direction.pick(
                    "request-media-type-schema-added",
                    "response-media-type-schema-added",
                ),
                Level::Breaking,
                format!("{what}: media type `{media}` now has a schema (it had none)"),
                Some(oat),
                Some(&format!("{nat}/schema")),
            ),
            (Some(_), None) => self.push(
                direction.pick(
                    "request-media-type-schema-removed",
                    "response-media-type-schema-removed",
                ),
                Level::Breaking,
                format!("{what}: media type `{media}` no longer has a schema"),
                Some(&format!("{oat}/schema")),
                Some(nat),
            ),
        }
        let typed_only = matches!(
            (
                direction,
                o.get("schema").is_some(),
                n.get("schema").is_some()
            ),
            (Direction::Request, true, false) | (Direction::Response, false, true)
        );
        if typed_only {
            self.note(RUST_TYPE);
        }
    }

    pub(super) fn responses(&mut self, old: &Operation<'_>, new: &Operation<'_>) {
        let empty = serde_json::Map::new();
        let olds = old
            .op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let news = new
            .op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let success = |code: &str| code.starts_with('2');
        for (code, o) in olds {
            let (o, oat) = resolve(
                self.old,
                o,
                format!("{}/responses/{}", old.pointer, escape_token(code)),
            );
            match news.get(code) {
                None if success(code) => self.push(
                    "response-success-status-removed",
                    Level::Breaking,
                    format!("success response {code} removed"),
                    Some(&oat),
                    None,
                ),
                None => self.push(
                    "response-error-status-removed",
                    Level::NonBreaking,
                    format!("error response {code} removed"),
                    Some(&oat),
                    None,
                ),
                Some(n) => {
                    let (n, nat) = resolve(
                        self.new,
                        n,
                        format!("{}/responses/{}", new.pointer, escape_token(code)),
                    );
                    self.content(
                        o,
                        &oat,
                        n,
                        &nat,
                        Direction::Response,
                        &format!("response {code}"),
                    );
                    self.place = Place::ResponseHeader;
                    self.headers(o, &oat, n, &nat, code);
                    self.place = Place::ResponseBody;
                }
            }
        }
        for code in news.keys().filter(|c| !olds.contains_key(*c)) {
            let at = format!("{}/responses/{}", new.pointer, escape_token(code));
            if success(code) {
                self.push(
                    "response-success-status-added",
                    Level::PotentiallyBreaking,
                    format!("success response {code} added (clients may not expect it)"),
                    None,
                    Some(&at),
                );
            } else {
                self.push(
                    "response-error-status-added",
                    Level::NonBreaking,
                    format!("error response {code} added"),
                    None,
                    Some(&at),
                );
            }
        }
    }

    /// A response's headers (names case-insensitive): the client reads them, so one removed
    /// breaks when it was required (else it may), one added does not.
    pub(super) fn headers(
        &mut self,
        old: &Value,
        old_at: &str,
        new: &Value,
        new_at: &str,
        code: &str,
    ) {
        fn headers_of<'d>(
            doc: &'d Value,
            response: &'d Value,
            at: &str,
        ) -> BTreeMap<String, (&'d Value, String)> {
            response
                .get("headers")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(name, h)| {
                    let (h, at) = resolve(doc, h, format!("{at}/headers/{}", escape_token(name)));
                    (name.to_ascii_lowercase(), (h, at))
                })
                .collect()
        }
        let olds = headers_of(self.old, old, old_at);
        let news = headers_of(self.new, new, new_at);
        for (name, (oh, oat)) in &olds {
            match news.get(name) {
                None => {
                    let required = is_required(oh);
                    self.push(
                        if required {
                            "response-required-header-removed"
                        } else {
                            "response-optional-header-removed"
                        },
                        if required {
                            Level::Breaking
                        } else {
                            Level::PotentiallyBreaking
                        },
                        format!(
                            "response {code}: {} header `{name}` removed",
                            word(required)
                        ),
                        Some(oat),
                        None,
                    );
                }
                Some((nh, nat)) => {
                    if is_required(oh) && !is_required(nh) {
                        self.push(
                            "response-header-became-optional",
                            Level::Breaking,
                            format!("response {code}: header `{name}` became optional"),
                            Some(oat),
                            Some(nat),
                        );
                    }
                    if let (Some(os), Some(ns)) = (oh.get("schema"), nh.get("schema")) {
                        self.schema(
                            os,
                            format!("{oat}/schema"),
                            ns,
                            format!("{nat}/schema"),
                            Direction::Response,
                            &format!("response {code} header `{name}`"),
                        );
                    }
                }
            }
        }
        for (name, (_, nat)) in news.iter().filter(|(k, _)| !olds.contains_key(*k)) {
            self.push(
                "response-header-added",
                Level::NonBreaking,
                format!("response {code}: header `{name}` added"),
                None,
                Some(nat),
            );
        }
    }
}
