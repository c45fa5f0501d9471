//! Merging fragments into one OpenAPI document.
//!
//! Rules:
//! * paths are united; one method on one path in two fragments is an error naming both files;
//! * components (schemas, responses, parameters, ...) defined identically in several fragments
//!   are kept once; defined differently, the amendments' `schemaWinners` must name the winning
//!   fragment, else the error names the component, both files and the first differing pointer;
//! * `info.version` is the newest fragment version (compared number by number),
//!   `info.x-versions` lists every version the fragments come from and
//!   `info.x-fragment-versions` records each fragment's own version;
//! * every local `$ref` must resolve, in each fragment and in the amended result;
//! * output key order is the fragments' own order, except that paths, response status codes and
//!   components are sorted, so the result is byte-identical on every run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::amend::Amendments;
use crate::error::{Error, Result, escape_token};
use crate::fragment::{Fragment, METHODS};

mod refs;

pub use refs::{check_cycles, check_refs};

/// The merged, amended document and where each operation came from.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The amended OpenAPI 3.0.x document.
    pub doc: Value,
    /// The same document, parsed.
    pub spec: openapiv3::OpenAPI,
    /// `(method, route)` → the fragment that defined it.
    pub origins: BTreeMap<(String, String), PathBuf>,
    /// `kind/name` of each component (e.g. `schemas/ApiToken`) → the fragments whose definition
    /// was kept.
    pub component_origins: BTreeMap<String, Vec<PathBuf>>,
}

impl Merged {
    /// The document as written to disk: pretty JSON with a trailing newline.
    pub fn to_pretty_json(&self) -> String {
        to_pretty_json(&self.doc)
    }
}

/// Merges `fragments` (already in a stable order) and applies `amendments`.
pub fn merge(fragments: &[Fragment], amendments: &Amendments) -> Result<Merged> {
    let files: Vec<String> = fragments.iter().map(|f| file_name(&f.path)).collect();
    amendments.check_patch_targets(&files)?;
    let mut gathered = Gathered::default();
    for fragment in fragments {
        let file = file_name(&fragment.path);
        let mut doc = fragment.doc.clone();
        amendments.apply_patches(&file, &mut doc)?;
        crate::fragment::check_openapi_30(&fragment.path, &doc)?;
        check_refs(&fragment.path, &doc)?;
        gathered.info(&file, &doc);
        gathered.lists(&doc);
        gathered.paths(&fragment.path, &doc)?;
        gathered.components(&fragment.path, &doc)?;
    }
    amendments.check_schema_winners(|component, fragment| {
        let (kind, name) = component.split_once('/')?;
        let candidate = gathered.components.get(kind)?.get(name)?;
        Some(
            candidate
                .variants
                .iter()
                .any(|(_, defining)| defining.iter().any(|f| file_name(f) == fragment)),
        )
    })?;
    let (components, component_origins) =
        resolve_components(std::mem::take(&mut gathered.components), amendments)?;
    let origins = std::mem::take(&mut gathered.origins);
    let mut doc = gathered.document(components);
    let spec = finish(&mut doc, amendments, &component_origins)?;
    Ok(Merged {
        doc,
        spec,
        origins,
        component_origins,
    })
}

/// What the fragments hold, gathered one fragment at a time.
#[derive(Default)]
struct Gathered {
    paths: Map<String, Value>,
    /// `(method, route)` → the fragment that defined it.
    origins: BTreeMap<(String, String), PathBuf>,
    /// components kind → name → (definition, fragments defining it so)
    components: BTreeMap<String, BTreeMap<String, Candidate>>,
    tags: Vec<Value>,
    servers: Vec<Value>,
    versions: Map<String, Value>,
    newest: Option<(Vec<u64>, String)>,
    title: Option<Value>,
    openapi_version: Option<Value>,
}

impl Gathered {
    /// The OpenAPI version and title (the first fragment's), and each fragment's version.
    fn info(&mut self, file: &str, doc: &Value) {
        self.openapi_version
            .get_or_insert_with(|| doc["openapi"].clone());
        let Some(info) = doc.get("info") else { return };
        self.title
            .get_or_insert_with(|| info.get("title").cloned().unwrap_or(Value::Null));
        if let Some(v) = info.get("version").and_then(Value::as_str) {
            self.versions
                .insert(file.to_string(), Value::String(v.to_string()));
            let key = version_key(v);
            if self.newest.as_ref().is_none_or(|(k, _)| key > *k) {
                self.newest = Some((key, v.to_string()));
            }
        }
    }

    /// Servers and tags, each once.
    fn lists(&mut self, doc: &Value) {
        for list in [("servers", &mut self.servers), ("tags", &mut self.tags)] {
            if let Some(items) = doc.get(list.0).and_then(Value::as_array) {
                for item in items {
                    if !list.1.contains(item) {
                        list.1.push(item.clone());
                    }
                }
            }
        }
    }

    /// The fragment's path items: each operation defined by one fragment only; path-level
    /// members the same wherever they are given.
    fn paths(&mut self, fragment: &Path, doc: &Value) -> Result<()> {
        let doc_paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for (route, item) in doc_paths {
            let Some(item) = item.as_object() else {
                return Err(Error::invalid(
                    fragment,
                    format!("/paths/{}", escape_token(&route)),
                    "a path item must be an object",
                ));
            };
            let merged_item = self
                .paths
                .entry(route.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("path items are objects");
            for (key, value) in item {
                if METHODS.contains(&key.as_str()) {
                    let origin = (key.clone(), route.clone());
                    if let Some(first) = self.origins.get(&origin) {
                        return Err(Error::DuplicateOperation {
                            method: key.to_ascii_uppercase(),
                            route,
                            first: first.clone(),
                            second: fragment.to_path_buf(),
                        });
                    }
                    self.origins.insert(origin, fragment.to_path_buf());
                    merged_item.insert(key.clone(), value.clone());
                    continue;
                }
                match merged_item.get(key) {
                    None => {
                        merged_item.insert(key.clone(), value.clone());
                    }
                    Some(existing) if existing == value => {}
                    Some(_) => {
                        return Err(Error::invalid(
                            fragment,
                            format!("/paths/{}/{}", escape_token(&route), escape_token(key)),
                            "this path-level member differs from another fragment's",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The fragment's components, each definition with the fragments that define it so.
    fn components(&mut self, fragment: &Path, doc: &Value) -> Result<()> {
        let Some(comps) = doc.get("components").and_then(Value::as_object) else {
            return Ok(());
        };
        for (kind, members) in comps {
            let Some(members) = members.as_object() else {
                return Err(Error::invalid(
                    fragment,
                    format!("/components/{}", escape_token(kind)),
                    "expected an object",
                ));
            };
            let slot = self.components.entry(kind.clone()).or_default();
            for (name, def) in members {
                slot.entry(name.clone()).or_default().add(def, fragment);
            }
        }
        Ok(())
    }

    /// The merged document, before the amendments' rules.
    fn document(self, components: Map<String, Value>) -> Value {
        let mut info = Map::new();
        info.insert("title".into(), self.title.unwrap_or(Value::Null));
        info.insert(
            "version".into(),
            Value::String(self.newest.map(|(_, v)| v).unwrap_or_else(|| "0".into())),
        );
        // Every version the fragments come from, oldest first: what the spec holds.
        let mut held: Vec<&str> = self.versions.values().filter_map(Value::as_str).collect();
        held.sort_by_key(|v| version_key(v));
        held.dedup();
        let held: Vec<Value> = held.into_iter().map(|v| Value::String(v.into())).collect();
        info.insert("x-versions".into(), Value::Array(held));
        info.insert("x-fragment-versions".into(), Value::Object(self.versions));
        let mut doc = Map::new();
        doc.insert(
            "openapi".into(),
            self.openapi_version
                .unwrap_or_else(|| Value::String("3.0.1".into())),
        );
        doc.insert("info".into(), Value::Object(info));
        if !self.servers.is_empty() {
            doc.insert("servers".into(), Value::Array(self.servers));
        }
        if !self.tags.is_empty() {
            doc.insert("tags".into(), Value::Array(self.tags));
        }
        doc.insert("paths".into(), Value::Object(sorted(self.paths)));
        doc.insert("components".into(), Value::Object(components));
        Value::Object(doc)
    }
}

/// `kind/name` of each component → the fragments whose definition was kept.
type ComponentOrigins = BTreeMap<String, Vec<PathBuf>>;

/// Each component resolved to one definition (the amendments decide between differing ones),
/// with the fragments whose definition was kept.
fn resolve_components(
    components: BTreeMap<String, BTreeMap<String, Candidate>>,
    amendments: &Amendments,
) -> Result<(Map<String, Value>, ComponentOrigins)> {
    let mut merged = Map::new();
    let mut origins = BTreeMap::new();
    for (kind, members) in components {
        let mut out = Map::new();
        for (name, candidate) in members {
            let (def, files) = candidate.resolve(&kind, &name, amendments)?;
            origins.insert(format!("{kind}/{name}"), files);
            out.insert(name, def);
        }
        merged.insert(kind, Value::Object(out));
    }
    Ok((merged, origins))
}

/// The amendments' rules applied to the merged document, its order made stable again, and the
/// result checked: references, cycles, replacements, and OpenAPI 3.0 itself.
fn finish(
    doc: &mut Value,
    amendments: &Amendments,
    component_origins: &BTreeMap<String, Vec<PathBuf>>,
) -> Result<openapiv3::OpenAPI> {
    amendments.apply_rules(doc)?;
    // Patches may have added responses and components: keep status codes and component names
    // sorted.
    crate::amend::for_each_operation(doc, |_, _, op| {
        if let Some(Value::Object(responses)) = op.get_mut("responses") {
            *responses = sorted(std::mem::take(responses));
        }
    });
    if let Some(comps) = doc.get_mut("components").and_then(Value::as_object_mut) {
        for members in comps.values_mut() {
            if let Value::Object(m) = members {
                *m = sorted(std::mem::take(m));
            }
        }
    }
    check_refs(&amendments.path, doc)?;
    check_cycles(doc, |schema| {
        component_origins
            .get(&format!("schemas/{schema}"))
            .and_then(|files| files.first())
            .map_or(amendments.path.as_path(), PathBuf::as_path)
    })?;
    amendments.check_replacements(doc)?;
    serde_json::from_value(doc.clone()).map_err(|e| {
        Error::invalid(
            &amendments.path,
            "",
            format!("the merged, amended document is not valid OpenAPI 3.0: {e}"),
        )
    })
}

/// The file name of a fragment, the key amendments use to name it.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn sorted(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<_> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

/// `"5.0.5521-gb6ada4dc"` → `[5, 0, 5521]`: numbers compared in order, the rest ignored.
pub fn version_key(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .take_while(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The definitions seen for one component name.
#[derive(Default)]
struct Candidate {
    /// Distinct definitions, each with the fragments that gave it.
    variants: Vec<(Value, Vec<PathBuf>)>,
}

impl Candidate {
    fn add(&mut self, def: &Value, from: &Path) {
        match self.variants.iter_mut().find(|(v, _)| v == def) {
            Some((_, files)) => files.push(from.to_path_buf()),
            None => self.variants.push((def.clone(), vec![from.to_path_buf()])),
        }
    }

    /// The definition kept, with the fragments that gave it.
    fn resolve(
        mut self,
        kind: &str,
        name: &str,
        amendments: &Amendments,
    ) -> Result<(Value, Vec<PathBuf>)> {
        if self.variants.len() == 1 {
            return Ok(self.variants.remove(0));
        }
        let component = format!("{kind}/{name}");
        if let Some(winner) = amendments
            .schema_winners
            .iter()
            .find(|w| w.component == component)
        {
            return self
                .variants
                .into_iter()
                .find(|(_, files)| files.iter().any(|f| file_name(f) == winner.fragment))
                .ok_or_else(|| {
                    Error::invalid(
                        &amendments.path,
                        "/schemaWinners",
                        format!(
                            "{component}: fragment {:?} does not define this component",
                            winner.fragment
                        ),
                    )
                });
        }
        let (first, first_files) = &self.variants[0];
        let (second, second_files) = &self.variants[1];
        let base = format!("/components/{}/{}", escape_token(kind), escape_token(name));
        Err(Error::ComponentConflict {
            name: component,
            first: first_files[0].clone(),
            second: second_files[0].clone(),
            pointer: first_difference(first, second, base),
        })
    }
}

/// The JSON pointer of the first place where `a` and `b` differ (`at` when they differ as a whole).
pub fn first_difference(a: &Value, b: &Value, at: String) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let here = format!("{at}/{}", escape_token(k));
                match y.get(k) {
                    Some(vb) if vb == va => {}
                    Some(vb) => return first_difference(va, vb, here),
                    None => return here,
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{at}/{}", escape_token(k)))
                .unwrap_or(at)
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if va != vb {
                    return first_difference(va, vb, format!("{at}/{i}"));
                }
            }
            format!("{at}/{}", x.len().min(y.len()))
        }
        _ => at,
    }
}

/// Pretty JSON with a trailing newline: the one format of every JSON file we write.
pub fn to_pretty_json(value: &Value) -> String {
    let mut text =
        serde_json::to_string_pretty(value).expect("serializing a serde_json::Value cannot fail");
    text.push('\n');
    text
}
