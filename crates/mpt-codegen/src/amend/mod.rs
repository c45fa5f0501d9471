//! Our declared fixes to the published fragments.
//!
//! Amendments are data (`openapi/amendments.json`), never code edits to a fragment. Each entry
//! carries a one-line `reason`; one that belongs to a platform module says its `module`:
//!
//! * **rules** applied to the whole merged document: `operationIds` (a naming rule with
//!   per-operation overrides), `requestMediaTypes`, `tolerantReading`, `simplifyRefWrappers`;
//! * **`binaryAnswers`**: answers that are downloads, declared with a JSON answer's schema
//!   (`binary`);
//! * **patches**: RFC 6902 patches to one fragment (`"target": "<file>"`) or the merged document;
//! * **merge and generator settings**: `schemaWinners`, `generator.*` (`crate::limits`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result, escape_token, parse_json, read_input};

mod binary;
mod ids;
mod rewrite;

pub use binary::BinaryAnswer;
pub use rewrite::{for_each_operation, is_identifier, parse_operation_key, rest_resource_id};
use rewrite::{open_enum, simplify_ref_wrapper, walk_mut};

/// The parsed amendments file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Amendments {
    /// Free text for readers of the file.
    #[serde(rename = "$comment", default)]
    pub comment: Option<String>,
    /// How operations without an `operationId` get one.
    pub operation_ids: OperationIds,
    /// Which request body media types survive.
    pub request_media_types: RequestMediaTypes,
    /// Rules that make every generated response type accept what real servers send.
    pub tolerant_reading: TolerantReading,
    /// Replace `{"allOf": [{"$ref": X}]}` wrappers by a plain `$ref` where no sibling needs them.
    pub simplify_ref_wrappers: Option<Rule>,
    /// Which fragment's definition wins when two fragments define one component differently.
    #[serde(default)]
    pub schema_winners: Vec<SchemaWinner>,
    /// Answers whose media types other than `application/json` carry a file's bytes.
    #[serde(default)]
    pub binary_answers: Vec<BinaryAnswer>,
    /// RFC 6902 patches, applied in order.
    #[serde(default)]
    pub patches: Vec<PatchEntry>,
    /// Settings handed to the code generator.
    #[serde(default)]
    pub generator: GeneratorAmendments,
    /// Where the amendments were read from (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
}

/// A rule that is either on or absent, with its reason.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Why we apply it.
    pub reason: String,
}

/// Naming of operations.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperationIds {
    /// Why we name operations.
    pub reason: String,
    /// The naming rule for operations the overrides do not name.
    pub rule: OperationIdRule,
    /// `"METHOD /path"` → operationId; wins over the rule and over a published operationId.
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
    /// The same, for the operations of each platform module (`openapi/fragments/<module>/`).
    #[serde(default)]
    pub module_overrides: BTreeMap<String, BTreeMap<String, String>>,
}

/// The naming rules we know.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum OperationIdRule {
    /// `GET /things` → `list_things`, `POST /things` → `create_thing`, `GET|PUT|PATCH|DELETE
    /// /things/{id}` → `get_thing`/`update_thing`/`update_thing`/`delete_thing`,
    /// `POST /things/{id}/act` → `act_thing`. Hyphens become underscores.
    #[serde(rename = "rest-resource")]
    RestResource,
}

/// Which request body media types to keep.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestMediaTypes {
    /// Why.
    pub reason: String,
    /// Media types kept, in preference order; an operation left with none is an error.
    pub keep: Vec<String>,
}

/// Tolerant reading rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TolerantReading {
    /// Why.
    pub reason: String,
    /// Drop every `additionalProperties: false` (it makes the generator reject unknown fields).
    pub allow_unknown_fields: bool,
    /// Turn every string `enum` into a plain string, keeping the values in `x-known-values` and
    /// the description (the generator makes closed Rust enums that reject new values).
    pub open_enums: bool,
}

/// Declares which fragment's definition of a component wins.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchemaWinner {
    /// The platform module it belongs to (`openapi/fragments/<module>/`); absent: the API
    /// tokens pages of `openapi/fragments/`.
    #[serde(default)]
    pub module: Option<String>,
    /// Component path below `components`, e.g. `schemas/ApiToken`.
    pub component: String,
    /// File name of the fragment whose definition wins.
    pub fragment: String,
    /// Why.
    pub reason: String,
}

/// One RFC 6902 patch with its target and reason.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchEntry {
    /// The platform module it belongs to (`openapi/fragments/<module>/`); absent: the API
    /// tokens pages of `openapi/fragments/`.
    #[serde(default)]
    pub module: Option<String>,
    /// `"merged"`, or the file name of one fragment (patched before the merge).
    pub target: String,
    /// Why.
    pub reason: String,
    /// The RFC 6902 operations.
    pub patch: json_patch::Patch,
}

/// Generator settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratorAmendments {
    /// Schemas generated as a hand-written Rust type instead.
    #[serde(default)]
    pub replacements: Vec<Replacement>,
    /// The generated client carries this hand-written type and must implement progenitor's
    /// `ClientHooks` for it (progenitor's `with_inner_type` and `HooksMode::Expected`).
    pub hooks: Option<Hooks>,
    /// Leave string `pattern`s out of the document handed to the generator (they stay in the
    /// merged spec, for contract tools): typify turns each into a `regress`-checked newtype.
    pub drop_patterns: Option<Rule>,
    /// Leave out the constant `api-version` header progenitor adds to every request (a header
    /// map built per request; progenitor has no setting for it): removed from the generated
    /// code by a pass over its syntax tree, in operations that send no other header.
    pub drop_version_header: Option<Rule>,
    /// Leave body-less error answers out when typed ones stand beside them (see
    /// [`crate::limits::untyped_error_answers`]).
    pub untyped_error_answers: Option<Rule>,
    /// Send multipart-only request bodies as a raw, encoded form (see
    /// [`crate::limits::multipart_bodies`]); the merged spec keeps `multipart/form-data`.
    pub multipart_bodies: Option<Rule>,
    /// Generate `format: uuid` as a string (see [`crate::limits::uuid_as_string`]).
    pub uuid_as_string: Option<Rule>,
    /// Title inline schemas whose generated name is a component's (see
    /// [`crate::limits::type_name_collisions`]).
    pub type_name_collisions: Option<Rule>,
}

/// The generated client's hook type.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hooks {
    /// Rust path of the client's inner type, as seen from the generated module; the crate
    /// implements `ClientHooks<ThatType>` for the generated `Client` by hand.
    pub inner_type: String,
    /// Why.
    pub reason: String,
}

/// A schema replaced by a hand-written type.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Replacement {
    /// The platform module it belongs to (`openapi/fragments/<module>/`); absent: the API
    /// tokens pages of `openapi/fragments/`.
    #[serde(default)]
    pub module: Option<String>,
    /// Name under `components/schemas`.
    pub schema: String,
    /// Rust path of the type, as seen from the generated module.
    pub rust_type: String,
    /// Traits the type implements beyond Clone/Debug/Serialize/Deserialize that the generator
    /// may rely on: any of `Default`, `Display`, `FromStr`, `FromStringIrrefutable`.
    #[serde(default)]
    pub impls: Vec<String>,
    /// Why.
    pub reason: String,
}

/// The target name of patches applied to the merged document.
pub const MERGED: &str = "merged";

impl Amendments {
    /// Reads and checks the amendments file.
    pub fn read(path: &Path) -> Result<Amendments> {
        let text = read_input(path)?;
        Amendments::parse(path, &text)
    }

    /// Parses and checks amendments; `path` is used in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Amendments> {
        let mut amendments: Amendments = parse_json(path, text)?;
        amendments.path = path.to_path_buf();
        amendments.check()?;
        amendments.check_binary_answers()?;
        Ok(amendments)
    }

    /// Every rule's reason, with its pointer.
    fn rule_reasons(&self) -> Vec<(&'static str, &String)> {
        let mut reasons = vec![
            ("/operationIds/reason", &self.operation_ids.reason),
            (
                "/requestMediaTypes/reason",
                &self.request_media_types.reason,
            ),
            ("/tolerantReading/reason", &self.tolerant_reading.reason),
        ];
        if let Some(rule) = &self.simplify_ref_wrappers {
            reasons.push(("/simplifyRefWrappers/reason", &rule.reason));
        }
        if let Some(hooks) = &self.generator.hooks {
            reasons.push(("/generator/hooks/reason", &hooks.reason));
        }
        if let Some(rule) = &self.generator.drop_patterns {
            reasons.push(("/generator/dropPatterns/reason", &rule.reason));
        }
        for (pointer, rule) in [
            (
                "/generator/dropVersionHeader/reason",
                &self.generator.drop_version_header,
            ),
            (
                "/generator/untypedErrorAnswers/reason",
                &self.generator.untyped_error_answers,
            ),
            (
                "/generator/multipartBodies/reason",
                &self.generator.multipart_bodies,
            ),
            (
                "/generator/uuidAsString/reason",
                &self.generator.uuid_as_string,
            ),
            (
                "/generator/typeNameCollisions/reason",
                &self.generator.type_name_collisions,
            ),
        ] {
            if let Some(rule) = rule {
                reasons.push((pointer, &rule.reason));
            }
        }
        reasons
    }

    fn check(&self) -> Result<()> {
        let blank = |pointer: &str| {
            Error::invalid(
                &self.path,
                pointer,
                "every amendment needs a non-empty `reason`",
            )
        };
        if let Some(hooks) = &self.generator.hooks
            && syn::parse_str::<syn::Path>(&hooks.inner_type).is_err()
        {
            return Err(Error::invalid(
                &self.path,
                "/generator/hooks/innerType",
                format!("{:?} is not a Rust type path", hooks.inner_type),
            ));
        }
        for (pointer, reason) in self.rule_reasons() {
            if reason.trim().is_empty() {
                return Err(blank(pointer));
            }
        }
        for (i, w) in self.schema_winners.iter().enumerate() {
            if w.reason.trim().is_empty() {
                return Err(blank(&format!("/schemaWinners/{i}/reason")));
            }
        }
        for (i, p) in self.patches.iter().enumerate() {
            if p.reason.trim().is_empty() {
                return Err(blank(&format!("/patches/{i}/reason")));
            }
        }
        for (i, r) in self.generator.replacements.iter().enumerate() {
            if r.reason.trim().is_empty() {
                return Err(blank(&format!("/generator/replacements/{i}/reason")));
            }
            for imp in &r.impls {
                if imp.parse::<progenitor::TypeImpl>().is_err() {
                    return Err(Error::invalid(
                        &self.path,
                        format!("/generator/replacements/{i}/impls"),
                        format!(
                            "unknown impl {imp:?}; expected Default, Display, FromStr or FromStringIrrefutable"
                        ),
                    ));
                }
            }
        }
        if self.request_media_types.keep.is_empty() {
            return Err(Error::invalid(
                &self.path,
                "/requestMediaTypes/keep",
                "keep at least one media type",
            ));
        }
        let module_overrides = self
            .operation_ids
            .module_overrides
            .values()
            .flat_map(|m| m.iter());
        for (key, id) in self.operation_ids.overrides.iter().chain(module_overrides) {
            if parse_operation_key(key).is_none() || !is_identifier(id) {
                return Err(Error::invalid(
                    &self.path,
                    format!("/operationIds/overrides/{}", escape_token(key)),
                    "expected `\"METHOD /path\": \"operation_id\"`, the id made of ASCII letters, digits and `_`",
                ));
            }
        }
        Ok(())
    }

    /// Every patch must aim at `merged` or at one of these fragment file names: a patch aimed
    /// at a misspelled fragment would otherwise be silently skipped.
    pub fn check_patch_targets(&self, fragment_files: &[String]) -> Result<()> {
        for (index, entry) in self.patches.iter().enumerate() {
            if entry.target != MERGED && !fragment_files.contains(&entry.target) {
                return Err(Error::Amendment {
                    path: self.path.clone(),
                    index,
                    reason: entry.reason.clone(),
                    message: format!(
                        "/patches/{index}/target: no fragment is named {:?} (the fragments are {}; or use \"merged\")",
                        entry.target,
                        fragment_files.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// Every `schemaWinners` entry must name a component that exists and a fragment that
    /// defines it. `defines(component, fragment)` is `None` for an unknown component, else
    /// whether that fragment defines it.
    pub fn check_schema_winners(&self, defines: impl Fn(&str, &str) -> Option<bool>) -> Result<()> {
        for (i, w) in self.schema_winners.iter().enumerate() {
            let problem = match defines(&w.component, &w.fragment) {
                None => format!(
                    "component {:?} is not defined by any fragment (expected `kind/name`, e.g. `schemas/ApiToken`)",
                    w.component
                ),
                Some(false) => format!(
                    "fragment {:?} does not define component {:?}",
                    w.fragment, w.component
                ),
                Some(true) => continue,
            };
            return Err(Error::invalid(
                &self.path,
                format!("/schemaWinners/{i}"),
                problem,
            ));
        }
        Ok(())
    }

    /// Every generator replacement must name a schema of the merged document: a misspelled one
    /// would silently generate the default type (for the secret, a plain `String` whose `Debug`
    /// prints it).
    pub fn check_replacements(&self, merged: &Value) -> Result<()> {
        for (i, r) in self.generator.replacements.iter().enumerate() {
            let pointer = format!("/components/schemas/{}", escape_token(&r.schema));
            if merged.pointer(&pointer).is_none() {
                return Err(Error::invalid(
                    &self.path,
                    format!("/generator/replacements/{i}/schema"),
                    format!(
                        "the merged document has no schema {:?} to replace with {}",
                        r.schema, r.rust_type
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The patches aimed at the fragment with this file name, with their index in the file.
    pub fn patches_for<'a>(
        &'a self,
        target: &'a str,
    ) -> impl Iterator<Item = (usize, &'a PatchEntry)> + 'a {
        self.patches
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.target == target)
    }

    /// Applies the patches aimed at `target` to `doc`.
    pub fn apply_patches(&self, target: &str, doc: &mut Value) -> Result<()> {
        for (index, entry) in self.patches_for(target) {
            json_patch::patch(doc, &entry.patch).map_err(|e| Error::Amendment {
                path: self.path.clone(),
                index,
                reason: entry.reason.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// Applies every whole-document rule and the `merged` patches, in a fixed order: media types
    /// (request bodies, then binary answers), operationIds, patches, tolerant reading, wrapper
    /// simplification.
    pub fn apply_rules(&self, doc: &mut Value) -> Result<()> {
        self.apply_media_types(doc)?;
        self.apply_binary_answers(doc)?;
        self.apply_operation_ids(doc)?;
        self.apply_patches(MERGED, doc)?;
        if self.tolerant_reading.allow_unknown_fields {
            walk_mut(doc, &mut |obj| {
                if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
                    obj.remove("additionalProperties");
                }
            });
        }
        if self.tolerant_reading.open_enums {
            walk_mut(doc, &mut open_enum);
        }
        if self.simplify_ref_wrappers.is_some() {
            walk_mut(doc, &mut simplify_ref_wrapper);
        }
        Ok(())
    }

    fn apply_media_types(&self, doc: &mut Value) -> Result<()> {
        let keep = &self.request_media_types.keep;
        let multipart = self.generator.multipart_bodies.is_some();
        let mut failure = None;
        for_each_operation(doc, |method, route, op| {
            let Some(content) = op
                .get_mut("requestBody")
                .and_then(|b| b.get_mut("content"))
                .and_then(Value::as_object_mut)
            else {
                return;
            };
            let multipart_only = multipart && content.keys().all(|m| m == "multipart/form-data");
            if !multipart_only {
                content.retain(|media, _| keep.contains(media));
            }
            if content.is_empty() && failure.is_none() {
                failure = Some(format!(
                    "{} {route}: no request body media type left after keeping {keep:?}",
                    method.to_ascii_uppercase()
                ));
            }
        });
        match failure {
            Some(message) => Err(Error::invalid(
                &self.path,
                "/requestMediaTypes/keep",
                message,
            )),
            None => Ok(()),
        }
    }
}
