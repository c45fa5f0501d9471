//! The data of a report: levels, the tolerance they are judged with, changes, and which side
//! of the exchange a schema describes.

use std::collections::BTreeSet;
use std::fmt;

use crate::amend::Amendments;

/// The one request media type the SDK sends when `requestMediaTypes` keeps JSON only.
pub(super) const JSON: &str = "application/json";

/// How much a change can break the SDK's users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Clients built for the old spec fail against the new one (or no longer compile).
    Breaking,
    /// Clients may fail, depending on what they send or how they handle the answer.
    PotentiallyBreaking,
    /// Old clients keep working.
    NonBreaking,
}

impl Level {
    /// `breaking`, `potentially-breaking` or `non-breaking`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Breaking => "breaking",
            Level::PotentiallyBreaking => "potentially-breaking",
            Level::NonBreaking => "non-breaking",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How tolerantly the generated types read answers (from the amendments' `tolerantReading`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    /// Unknown fields in an answer are ignored (no `deny_unknown_fields`).
    pub unknown_fields: bool,
    /// String enums are open: an unknown value decodes.
    pub open_enums: bool,
    /// `pattern`s are left out of the generated types (`generator.dropPatterns`).
    pub patterns_dropped: bool,
    /// Request bodies are sent as `application/json` only (`requestMediaTypes.keep` is
    /// `["application/json"]`): what other request media types say is never sent.
    pub json_requests_only: bool,
    /// The sunset grace period, in days, a deprecation must give (oasdiff's
    /// `--deprecation-days-stable`): with a positive value, an operation or parameter deprecated
    /// without an `x-sunset`, or with one sooner than this many days from today, breaks; 0: a
    /// sunset is optional.
    pub deprecation_days: u32,
}

impl Tolerance {
    /// The tolerance our amendments give the generated types.
    pub fn of(amendments: &Amendments) -> Tolerance {
        Tolerance {
            unknown_fields: amendments.tolerant_reading.allow_unknown_fields,
            open_enums: amendments.tolerant_reading.open_enums,
            patterns_dropped: amendments.generator.drop_patterns.is_some(),
            json_requests_only: amendments.request_media_types.keep == [JSON.to_string()],
            deprecation_days: 0,
        }
    }

    /// A client that rejects unknown fields and enum values (oasdiff's default view).
    pub fn strict() -> Tolerance {
        Tolerance {
            unknown_fields: false,
            open_enums: false,
            patterns_dropped: false,
            json_requests_only: false,
            deprecation_days: 0,
        }
    }
}

/// One change between the two documents.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The rule that found it, e.g. `response-enum-value-added`.
    pub rule: &'static str,
    /// How much it can break.
    pub level: Level,
    /// The operations it affects, as `METHOD /path` (of the new document when it has it); a
    /// change to a shared schema is listed once, with every operation that uses it.
    pub operations: Vec<String>,
    /// What changed, in a sentence.
    pub message: String,
    /// JSON pointer of the place in the old document, if it has one.
    pub old: Option<String>,
    /// JSON pointer of the place in the new document, if it has one.
    pub new: Option<String>,
    /// Why the level is what it is for this SDK, when an amendment decided it.
    pub note: Option<String>,
    /// How the change reads in the other operations it touches, when it reads differently
    /// there (`METHOD /path: message`): a shared schema is reached at other places.
    pub also: Vec<String>,
    /// Where in the exchange the change is (its oasdiff id depends on it).
    pub place: Place,
    /// For an operation that moved: the operation it was (`METHOD /old/path`), where oasdiff
    /// reports a removal.
    pub moved_from: Option<String>,
}

impl Change {
    /// The oasdiff rule id (`checker/rules.go`) of this change: of its rule at its place.
    pub fn oasdiff_id(&self) -> Option<&'static str> {
        super::oasdiff_id(self.rule, self.place)
    }
}

/// Where in the exchange a change is: oasdiff names the same rule apart by it
/// (`request-parameter-type-changed`, `request-property-type-changed`,
/// `response-body-type-changed`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    /// The operation itself: its existence, id, deprecation, sunset, stability, security.
    Operation,
    /// A parameter (path, query, header, cookie) or its schema.
    Parameter,
    /// The request body's schema at its top.
    RequestBody,
    /// A property inside the request body (at any depth).
    RequestProperty,
    /// A response body's schema at its top, or the response itself (status, media type).
    ResponseBody,
    /// A property inside a response body (at any depth).
    ResponseProperty,
    /// A response header or its schema.
    ResponseHeader,
    /// The document's security schemes.
    Components,
}

impl Place {
    /// The place of a property of a schema at `self`.
    pub(super) fn inside(self) -> Place {
        match self {
            Place::RequestBody => Place::RequestProperty,
            Place::ResponseBody => Place::ResponseProperty,
            other => other,
        }
    }
}

/// A keyword outside the model the rules read, added, removed or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotJudged {
    /// Its JSON pointer (in the new document, or the old one when it was removed).
    pub pointer: String,
    /// The keyword (the pointer's last token).
    pub keyword: String,
    /// `added`, `removed` or `changed`; `too deep to compare` for schemas nested past the
    /// depth bound (256 schemas, or 4096 `$ref`s in a row).
    pub how: &'static str,
}

impl NotJudged {
    pub(super) fn at(pointer: &str, how: &'static str) -> NotJudged {
        let keyword = pointer.rsplit('/').next().unwrap_or("");
        NotJudged {
            pointer: pointer.to_string(),
            keyword: keyword.replace("~1", "/").replace("~0", "~"),
            how,
        }
    }
}

/// Every change between two documents.
#[derive(Debug, Clone)]
pub struct Report {
    /// `info.version` of the old document.
    pub old_version: String,
    /// `info.version` of the new document.
    pub new_version: String,
    /// The tolerance the levels were judged with.
    pub tolerance: Tolerance,
    /// The changes, by operation, then in document order.
    pub changes: Vec<Change>,
    /// Keywords no rule reads (OpenAPI 3.1's `prefixItems`, `webhooks`, …) that differ between
    /// the sides: not judged, and said so.
    pub not_judged: Vec<NotJudged>,
    /// The component schemas the facade's public API exposes ([`facade_exposure`](super::facade_exposure)); `None`:
    /// not known, so every schema counts as exposed.
    pub facade_exposes: Option<BTreeSet<String>>,
}

/// Which side of the exchange a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Direction {
    /// What the client sends.
    Request,
    /// What the client reads.
    Response,
}

impl Direction {
    /// `request` for a request, `response` for a response: a rule's name or level by direction.
    pub(super) fn pick<T>(self, request: T, response: T) -> T {
        match self {
            Direction::Request => request,
            Direction::Response => response,
        }
    }
}
