//! The oasdiff rule id (`checker/rules.go`) that corresponds to each of our rules, so a team
//! moving from oasdiff keeps its ignore lists; and the ignore file (`--ignore FILE`), in
//! oasdiff's format: one line per accepted change, naming its operation and its rule.

use super::model::{Change, Report};

/// Our rule → oasdiff's closest rule id (by direction where ours has none).
const IDS: &[(&str, &str)] = &[
    ("operation-removed", "api-removed-without-deprecation"),
    (
        "operation-removed-after-deprecation",
        "api-removed-with-deprecation",
    ),
    (
        "operation-removed-before-sunset",
        "api-removed-before-sunset",
    ),
    (
        "operation-method-or-path-changed",
        "api-path-removed-without-deprecation",
    ),
    ("operation-added", "endpoint-added"),
    ("operation-id-changed", "api-operation-id-updated"),
    ("operation-deprecated", "endpoint-deprecated"),
    ("operation-reactivated", "endpoint-reactivated"),
    ("sunset-unparseable", "api-deprecated-sunset-parse"),
    ("sunset-moved-earlier", "api-sunset-date-changed-too-small"),
    ("sunset-deleted", "api-sunset-deleted"),
    ("sunset-missing", "api-deprecated-sunset-missing"),
    ("sunset-too-soon", "api-sunset-date-too-small"),
    ("stability-decreased", "api-stability-decreased"),
    ("stability-increased", "api-stability-increased"),
    ("stability-level-invalid", "api-invalid-stability-level"),
    (
        "request-property-stability-decreased",
        "request-property-stability-decreased",
    ),
    (
        "request-property-stability-increased",
        "request-property-stability-increased",
    ),
    (
        "response-property-stability-decreased",
        "response-property-stability-decreased",
    ),
    (
        "response-property-stability-increased",
        "response-property-stability-increased",
    ),
    ("parameter-deprecated", "request-parameter-deprecated"),
    ("parameter-reactivated", "request-parameter-reactivated"),
    ("request-property-deprecated", "request-property-deprecated"),
    (
        "request-property-reactivated",
        "request-property-reactivated",
    ),
    (
        "response-property-deprecated",
        "response-property-deprecated",
    ),
    (
        "response-property-reactivated",
        "response-property-reactivated",
    ),
    ("parameter-removed", "request-parameter-removed"),
    ("parameter-renamed", "request-parameter-removed"),
    ("parameter-required-added", "new-required-request-parameter"),
    ("parameter-optional-added", "new-optional-request-parameter"),
    (
        "parameter-became-required",
        "request-parameter-became-required",
    ),
    (
        "parameter-became-optional",
        "request-parameter-became-optional",
    ),
    ("type-changed", "request-property-type-changed"),
    ("format-changed", "request-property-type-changed"),
    (
        "request-format-widened",
        "request-parameter-type-generalized",
    ),
    ("nullable-added", "response-property-became-nullable"),
    ("nullable-removed", "request-property-became-not-nullable"),
    ("request-property-removed", "request-property-removed"),
    ("response-property-removed", "response-property-removed"),
    (
        "request-required-property-added",
        "new-required-request-property",
    ),
    (
        "request-optional-property-added",
        "new-optional-request-property",
    ),
    ("response-property-added", "response-property-added"),
    (
        "request-property-became-required",
        "request-property-became-required",
    ),
    (
        "request-property-became-optional",
        "request-property-became-optional",
    ),
    (
        "response-property-became-required",
        "response-property-became-required",
    ),
    (
        "response-property-became-optional",
        "response-property-became-optional",
    ),
    (
        "request-enum-value-added",
        "request-property-enum-value-added",
    ),
    (
        "request-enum-value-removed",
        "request-property-enum-value-removed",
    ),
    (
        "response-enum-value-added",
        "response-property-enum-value-added",
    ),
    (
        "response-enum-value-removed",
        "response-property-enum-value-removed",
    ),
    (
        "request-property-became-enum",
        "request-property-became-enum",
    ),
    (
        "request-max-length-narrowed",
        "request-property-max-length-decreased",
    ),
    (
        "request-min-length-narrowed",
        "request-property-min-length-increased",
    ),
    (
        "response-max-length-widened",
        "response-property-max-length-increased",
    ),
    (
        "response-min-length-widened",
        "response-property-min-length-decreased",
    ),
    ("request-minimum-narrowed", "request-property-min-increased"),
    ("request-maximum-narrowed", "request-property-max-decreased"),
    (
        "response-minimum-widened",
        "response-property-min-decreased",
    ),
    (
        "response-maximum-widened",
        "response-property-max-increased",
    ),
    (
        "request-min-items-narrowed",
        "request-property-min-items-increased",
    ),
    (
        "request-max-items-narrowed",
        "request-property-max-items-decreased",
    ),
    (
        "response-min-items-widened",
        "response-property-min-items-decreased",
    ),
    (
        "response-max-items-widened",
        "response-property-max-items-increased",
    ),
    (
        "request-pattern-added-or-changed",
        "request-property-pattern-changed",
    ),
    (
        "request-pattern-removed",
        "request-property-pattern-removed",
    ),
    (
        "response-pattern-changed",
        "response-property-pattern-changed",
    ),
    ("default-changed", "request-property-default-value-changed"),
    (
        "became-read-or-write-only",
        "request-property-became-read-only",
    ),
    ("request-branch-added", "request-body-one-of-added"),
    ("request-branch-removed", "request-body-one-of-removed"),
    ("response-branch-added", "response-body-one-of-added"),
    ("response-branch-removed", "response-body-one-of-removed"),
    (
        "discriminator-changed",
        "request-body-discriminator-property-name-changed",
    ),
    ("discriminator-added", "request-body-discriminator-added"),
    (
        "discriminator-removed",
        "request-body-discriminator-removed",
    ),
    (
        "discriminator-mapping-changed",
        "request-body-discriminator-mapping-changed",
    ),
    (
        "request-discriminator-mapping-added",
        "request-body-discriminator-mapping-added",
    ),
    (
        "request-discriminator-mapping-removed",
        "request-body-discriminator-mapping-deleted",
    ),
    (
        "response-discriminator-mapping-added",
        "response-body-discriminator-mapping-added",
    ),
    (
        "response-discriminator-mapping-removed",
        "response-body-discriminator-mapping-deleted",
    ),
    ("request-body-required-added", "added-required-request-body"),
    ("request-body-optional-added", "added-optional-request-body"),
    ("request-body-removed", "request-body-removed"),
    (
        "request-body-became-required",
        "request-body-became-required",
    ),
    (
        "request-body-became-optional",
        "request-body-became-optional",
    ),
    (
        "response-success-status-added",
        "response-success-status-added",
    ),
    (
        "response-success-status-removed",
        "response-success-status-removed",
    ),
    (
        "response-error-status-added",
        "response-non-success-status-added",
    ),
    (
        "response-error-status-removed",
        "response-non-success-status-removed",
    ),
    ("request-media-type-added", "request-body-media-type-added"),
    (
        "request-media-type-removed",
        "request-body-media-type-removed",
    ),
    ("response-media-type-added", "response-media-type-added"),
    ("response-media-type-removed", "response-media-type-removed"),
    (
        "request-media-type-schema-added",
        "request-body-media-type-schema-added",
    ),
    (
        "request-media-type-schema-removed",
        "request-body-media-type-schema-removed",
    ),
    (
        "response-media-type-schema-added",
        "response-body-media-type-schema-added",
    ),
    (
        "response-media-type-schema-removed",
        "response-body-media-type-schema-removed",
    ),
    (
        "response-required-header-removed",
        "required-response-header-removed",
    ),
    (
        "response-optional-header-removed",
        "optional-response-header-removed",
    ),
    (
        "response-header-became-optional",
        "response-header-became-optional",
    ),
    ("response-header-added", "response-header-added"),
    ("security-requirement-added", "api-security-added"),
    ("security-requirement-removed", "api-security-removed"),
    ("security-alternative-removed", "api-security-removed"),
    ("security-alternative-tightened", "api-security-scope-added"),
    ("security-alternative-added", "api-security-added"),
    ("security-scope-added", "api-security-scope-added"),
    ("security-scope-removed", "api-security-scope-removed"),
    ("security-scheme-removed", "api-security-component-removed"),
    ("security-scheme-added", "api-security-component-added"),
    (
        "security-scheme-changed",
        "api-security-component-type-updated",
    ),
];

/// The oasdiff rule id closest to our `rule`, if one corresponds.
pub fn oasdiff_id(rule: &str) -> Option<&'static str> {
    IDS.iter()
        .find(|(ours, _)| *ours == rule)
        .map(|(_, id)| *id)
}

/// Whether `line` of an ignore file accepts `change`: it names (any case, anywhere in the line)
/// one of the change's operations as `METHOD /path`, and its rule id, ours or oasdiff's, as a
/// word. Blank lines and lines starting with `#` accept nothing.
fn accepts(line: &str, change: &Change) -> bool {
    let line = line.trim().to_ascii_lowercase();
    if line.is_empty() || line.starts_with('#') {
        return false;
    }
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '`' | '"' | '\''))
        .filter(|w| !w.is_empty())
        .collect();
    let named = |id: &str| words.contains(&id);
    let rule = named(change.rule) || oasdiff_id(change.rule).is_some_and(named);
    let operation = change.operations.iter().any(|op| {
        let op = op.to_ascii_lowercase();
        let (method, path) = op.split_once(' ').unwrap_or(("", &op));
        words
            .windows(2)
            .any(|pair| pair[0] == method && pair[1] == path)
    });
    rule && operation
}

impl Report {
    /// The report without the changes an ignore file (oasdiff's format, by rule id and
    /// operation) accepts, and how many it took out.
    pub fn without_ignored(mut self, ignore: &str) -> (Report, usize) {
        let before = self.changes.len();
        self.changes
            .retain(|c| !ignore.lines().any(|line| accepts(line, c)));
        let removed = before - self.changes.len();
        (self, removed)
    }
}
