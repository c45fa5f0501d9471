//! The oasdiff rule id (`checker/rules.go`) that corresponds to each of our rules, so a team
//! moving from oasdiff keeps its ignore lists; and the ignore file (`--ignore FILE`), in
//! oasdiff's format: one line per accepted change, naming its operation and its rule.

use super::model::{Change, Place, Report};

/// Our rule at a place → oasdiff's rule id: one line per row, `rule place id`, where the place
/// is `*` (any: the rule occurs at one place only) or the [`Place`] it is found at
/// (`parameter`, `request-body`, `request-property`, `response-body`, `response-property`,
/// `response-header`, `operation`). A change at a request or response body's top that has no
/// row of its own takes the property row (oasdiff's body rules are fewer). A rule with no row
/// at its place has no oasdiff id.
const IDS: &str = "\
operation-removed                      *                 api-removed-without-deprecation
operation-removed-after-deprecation    *                 api-removed-with-deprecation
operation-removed-before-sunset        *                 api-removed-before-sunset
operation-method-or-path-changed       *                 api-path-removed-without-deprecation
operation-moved-after-deprecation      *                 api-path-removed-with-deprecation
operation-added                        *                 endpoint-added
operation-id-changed                   *                 api-operation-id-updated
operation-deprecated                   *                 endpoint-deprecated
operation-deprecated-with-sunset       *                 endpoint-deprecated-with-sunset
operation-reactivated                  *                 endpoint-reactivated
stability-decreased                    *                 api-stability-decreased
stability-increased                    *                 api-stability-increased
stability-level-invalid                *                 api-invalid-stability-level
request-property-stability-decreased   *                 request-property-stability-decreased
request-property-stability-increased   *                 request-property-stability-increased
response-property-stability-decreased  *                 response-property-stability-decreased
response-property-stability-increased  *                 response-property-stability-increased
parameter-deprecated                   *                 request-parameter-deprecated
parameter-reactivated                  *                 request-parameter-reactivated
request-property-deprecated            *                 request-property-deprecated
request-property-reactivated           *                 request-property-reactivated
response-property-deprecated           *                 response-property-deprecated
response-property-reactivated          *                 response-property-reactivated
parameter-removed                      *                 request-parameter-removed
parameter-renamed                      *                 request-parameter-removed
parameter-required-added               *                 new-required-request-parameter
parameter-optional-added               *                 new-optional-request-parameter
parameter-became-required              *                 request-parameter-became-required
parameter-became-optional              *                 request-parameter-became-optional
request-property-removed               *                 request-property-removed
response-property-removed              *                 response-property-removed
request-required-property-added        *                 new-required-request-property
request-optional-property-added        *                 new-optional-request-property
response-property-added                *                 response-property-added
request-property-became-required       *                 request-property-became-required
request-property-became-optional       *                 request-property-became-optional
response-property-became-required      *                 response-property-became-required
response-property-became-optional      *                 response-property-became-optional
response-enum-value-added              *                 response-property-enum-value-added
response-enum-value-removed            *                 response-property-enum-value-removed
response-pattern-changed               *                 response-property-pattern-changed
became-read-or-write-only              *                 request-property-became-read-only
request-body-required-added            *                 added-required-request-body
request-body-optional-added            *                 added-optional-request-body
request-body-removed                   *                 request-body-removed
request-body-became-required           *                 request-body-became-required
request-body-became-optional           *                 request-body-became-optional
response-success-status-added          *                 response-success-status-added
response-success-status-removed        *                 response-success-status-removed
response-error-status-added            *                 response-non-success-status-added
response-error-status-removed          *                 response-non-success-status-removed
request-media-type-added               *                 request-body-media-type-added
request-media-type-removed             *                 request-body-media-type-removed
response-media-type-added              *                 response-media-type-added
response-media-type-removed            *                 response-media-type-removed
request-media-type-schema-added        *                 request-body-media-type-schema-added
request-media-type-schema-removed      *                 request-body-media-type-schema-removed
response-media-type-schema-added       *                 response-body-media-type-schema-added
response-media-type-schema-removed     *                 response-body-media-type-schema-removed
response-required-header-removed       *                 required-response-header-removed
response-optional-header-removed       *                 optional-response-header-removed
response-header-became-optional        *                 response-header-became-optional
response-header-added                  *                 response-header-added
security-requirement-added             *                 api-security-added
security-requirement-removed           *                 api-security-removed
security-alternative-removed           *                 api-security-removed
security-alternative-tightened         *                 api-security-scope-added
security-alternative-added             *                 api-security-added
security-scope-added                   *                 api-security-scope-added
security-scope-removed                 *                 api-security-scope-removed
security-scheme-removed                *                 api-security-component-removed
security-scheme-added                  *                 api-security-component-added
security-scheme-changed                *                 api-security-component-type-updated
sunset-unparseable                     operation         api-deprecated-sunset-parse
sunset-moved-earlier                   operation         api-sunset-date-changed-too-small
sunset-moved-earlier                   parameter         request-parameter-sunset-date-changed-too-small
sunset-deleted                         operation         api-sunset-deleted
sunset-deleted                         parameter         request-parameter-sunset-deleted
sunset-missing                         operation         api-deprecated-sunset-missing
sunset-missing                         parameter         request-parameter-deprecated-sunset-missing
sunset-too-soon                        operation         api-sunset-date-too-small
sunset-too-soon                        parameter         request-parameter-sunset-date-too-small
type-changed                           parameter         request-parameter-type-changed
type-changed                           request-body      request-body-type-changed
type-changed                           request-property  request-property-type-changed
type-changed                           response-body     response-body-type-changed
type-changed                           response-property response-property-type-changed
format-changed                         parameter         request-parameter-type-changed
format-changed                         request-body      request-body-type-changed
format-changed                         request-property  request-property-type-changed
format-changed                         response-body     response-body-type-changed
format-changed                         response-property response-property-type-changed
request-format-widened                 parameter         request-parameter-type-generalized
request-format-widened                 request-property  request-property-type-generalized
nullable-added                         parameter         request-parameter-became-nullable
nullable-added                         request-property  request-property-became-nullable
nullable-added                         response-body     response-body-became-nullable
nullable-added                         response-property response-property-became-nullable
nullable-removed                       request-body      request-body-became-not-nullable
nullable-removed                       request-property  request-property-became-not-nullable
request-enum-value-added               parameter         request-parameter-enum-value-added
request-enum-value-added               request-property  request-property-enum-value-added
request-enum-value-removed             parameter         request-parameter-enum-value-removed
request-enum-value-removed             request-body      request-body-enum-value-removed
request-enum-value-removed             request-property  request-property-enum-value-removed
request-extensible-enum-value-removed  parameter         request-parameter-x-extensible-enum-value-removed
request-extensible-enum-value-removed  request-property  request-property-x-extensible-enum-value-removed
request-property-became-enum           parameter         request-parameter-became-enum
request-property-became-enum           request-property  request-property-became-enum
request-max-length-narrowed            parameter         request-parameter-max-length-decreased
request-max-length-narrowed            request-property  request-property-max-length-decreased
response-max-length-narrowed           response-property response-property-max-length-decreased
request-max-length-widened             parameter         request-parameter-max-length-increased
request-max-length-widened             request-property  request-property-max-length-increased
response-max-length-widened            response-property response-property-max-length-increased
request-min-length-narrowed            parameter         request-parameter-min-length-increased
request-min-length-narrowed            request-property  request-property-min-length-increased
response-min-length-narrowed           response-property response-property-min-length-increased
request-min-length-widened             parameter         request-parameter-min-length-decreased
request-min-length-widened             request-property  request-property-min-length-decreased
response-min-length-widened            response-property response-property-min-length-decreased
request-minimum-narrowed               parameter         request-parameter-min-increased
request-minimum-narrowed               request-property  request-property-min-increased
response-minimum-narrowed              response-property response-property-min-increased
request-minimum-widened                parameter         request-parameter-min-decreased
request-minimum-widened                request-property  request-property-min-decreased
response-minimum-widened               response-property response-property-min-decreased
request-maximum-narrowed               parameter         request-parameter-max-decreased
request-maximum-narrowed               request-property  request-property-max-decreased
response-maximum-narrowed              response-property response-property-max-decreased
request-maximum-widened                parameter         request-parameter-max-increased
request-maximum-widened                request-property  request-property-max-increased
response-maximum-widened               response-property response-property-max-increased
request-min-items-narrowed             parameter         request-parameter-min-items-increased
request-min-items-narrowed             request-property  request-property-min-items-increased
response-min-items-narrowed            response-property response-property-min-items-increased
request-min-items-widened              parameter         request-parameter-min-items-decreased
request-min-items-widened              request-property  request-property-min-items-decreased
response-min-items-widened             response-property response-property-min-items-decreased
request-max-items-narrowed             parameter         request-parameter-max-items-decreased
request-max-items-narrowed             request-property  request-property-max-items-decreased
response-max-items-narrowed            response-property response-property-max-items-decreased
request-max-items-widened              parameter         request-parameter-max-items-increased
request-max-items-widened              request-property  request-property-max-items-increased
response-max-items-widened             response-property response-property-max-items-increased
request-pattern-added-or-changed       parameter         request-parameter-pattern-changed
request-pattern-added-or-changed       request-property  request-property-pattern-changed
request-pattern-removed                parameter         request-parameter-pattern-removed
request-pattern-removed                request-property  request-property-pattern-removed
default-changed                        parameter         request-parameter-default-value-changed
default-changed                        request-property  request-property-default-value-changed
default-changed                        response-property response-property-default-value-changed
request-branch-added                   request-body      request-body-one-of-added
request-branch-added                   request-property  request-property-one-of-added
request-branch-removed                 request-body      request-body-one-of-removed
request-branch-removed                 request-property  request-property-one-of-removed
discriminator-changed                  request-body      request-body-discriminator-property-name-changed
discriminator-changed                  request-property  request-property-discriminator-property-name-changed
discriminator-added                    request-body      request-body-discriminator-added
discriminator-added                    request-property  request-property-discriminator-added
discriminator-removed                  request-body      request-body-discriminator-removed
discriminator-removed                  request-property  request-property-discriminator-removed
discriminator-mapping-changed          request-body      request-body-discriminator-mapping-changed
discriminator-mapping-changed          request-property  request-property-discriminator-mapping-changed
request-discriminator-mapping-added    request-body      request-body-discriminator-mapping-added
request-discriminator-mapping-added    request-property  request-property-discriminator-mapping-added
request-discriminator-mapping-removed  request-body      request-body-discriminator-mapping-deleted
request-discriminator-mapping-removed  request-property  request-property-discriminator-mapping-deleted
response-branch-added                  response-body     response-body-one-of-added
response-branch-added                  response-property response-property-one-of-added
response-branch-removed                response-body     response-body-one-of-removed
response-branch-removed                response-property response-property-one-of-removed
discriminator-changed                  response-body     response-body-discriminator-property-name-changed
discriminator-changed                  response-property response-property-discriminator-property-name-changed
discriminator-added                    response-body     response-body-discriminator-added
discriminator-added                    response-property response-property-discriminator-added
discriminator-removed                  response-body     response-body-discriminator-removed
discriminator-removed                  response-property response-property-discriminator-removed
discriminator-mapping-changed          response-body     response-body-discriminator-mapping-changed
discriminator-mapping-changed          response-property response-property-discriminator-mapping-changed
response-discriminator-mapping-added   response-body     response-body-discriminator-mapping-added
response-discriminator-mapping-added   response-property response-property-discriminator-mapping-added
response-discriminator-mapping-removed response-body     response-body-discriminator-mapping-deleted
response-discriminator-mapping-removed response-property response-property-discriminator-mapping-deleted
";

/// The word for `place` in [`IDS`].
fn place_word(place: Place) -> &'static str {
    match place {
        Place::Operation => "operation",
        Place::Parameter => "parameter",
        Place::RequestBody => "request-body",
        Place::RequestProperty => "request-property",
        Place::ResponseBody => "response-body",
        Place::ResponseProperty => "response-property",
        Place::ResponseHeader => "response-header",
        Place::Components => "components",
    }
}

/// The rows of [`IDS`]: `(rule, place, id)`.
fn rows() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    IDS.lines().filter_map(|line| {
        let mut words = line.split_whitespace();
        Some((words.next()?, words.next()?, words.next()?))
    })
}

/// The oasdiff rule id of our `rule` found at `place`, if one corresponds.
pub fn oasdiff_id(rule: &str, place: Place) -> Option<&'static str> {
    let find = |place: &str| {
        rows()
            .find(|(r, p, _)| *r == rule && *p == place)
            .map(|(_, _, id)| id)
    };
    let fallback = match place {
        Place::RequestBody => Some(Place::RequestProperty),
        Place::ResponseBody => Some(Place::ResponseProperty),
        _ => None,
    };
    find(place_word(place))
        .or_else(|| fallback.and_then(|p| find(place_word(p))))
        .or_else(|| find("*"))
}

/// Whether `line` of an ignore file accepts `change`: it names (any case, anywhere in the line)
/// one of the change's operations as `METHOD /path` (for a move, the new or the old one), and
/// its rule id, ours or oasdiff's, as a
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
    let rule = named(change.rule) || change.oasdiff_id().is_some_and(named);
    // A move is named by its new operation, or by the old one (where oasdiff reports a removal).
    let operation = change
        .operations
        .iter()
        .chain(&change.moved_from)
        .any(|op| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_a_known_place_once() {
        let places = [
            "*",
            "operation",
            "parameter",
            "request-body",
            "request-property",
            "response-body",
            "response-property",
            "response-header",
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (rule, place, id) in rows() {
            assert!(places.contains(&place), "{rule}: {place}");
            assert!(seen.insert((rule, place)), "{rule} at {place} twice");
            assert!(!id.is_empty());
        }
        assert_eq!(rows().count(), IDS.lines().count());
    }
}
