//! `cargo xtask import`: pulling the OpenAPI fragment out of a published docs page.
//!
//! Each docs page (Markdown) embeds one OpenAPI document, in a fenced code block or as a bare
//! line; a bare `.json` fragment is taken as it is. The fragment is written, pretty-printed but otherwise as published, to
//! `openapi/fragments/<operation-id>.json`, named by the amendments' operationId rule.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::amend::{Amendments, is_identifier};
use crate::diff::{Report, Tolerance, compare};
use crate::error::{Error, Result, read_input};
use crate::fragment::{Fragment, check_openapi_30, load_dir};
use crate::generate::generate;
use crate::merge::{check_refs, merge};
use crate::regen::{FileStatus, Output, to_pretty_json, write};

/// Finds the one OpenAPI document embedded in a docs page (or the page is the bare document).
pub fn extract(page: &Path, text: &str) -> Result<Value> {
    if let Ok(doc) = serde_json::from_str::<Value>(text)
        && doc.get("openapi").is_some()
    {
        return crate::oas31::read_as_30(page, doc);
    }
    let mut candidates: Vec<(usize, String)> = Vec::new(); // (1-based first line, text)
    let mut block: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            match block.take() {
                Some(done) => candidates.push(done),
                None => block = Some((i + 2, String::new())),
            }
        } else if let Some((_, body)) = block.as_mut() {
            body.push_str(line);
            body.push('\n');
        } else if trimmed.starts_with('{') && trimmed.contains("\"openapi\"") {
            candidates.push((i + 1, line.to_string()));
        }
    }
    let mut found = Vec::new();
    for (first_line, body) in candidates {
        let trimmed = body.trim_start();
        if !(trimmed.starts_with('{') && trimmed.contains("\"openapi\"")) {
            continue;
        }
        match serde_json::from_str::<Value>(&body) {
            Ok(doc) if doc.get("openapi").is_some() => found.push((first_line, doc)),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::Import {
                    path: page.to_path_buf(),
                    message: format!(
                        "line {}, column {}: the embedded OpenAPI document is not valid JSON (cut off?): {e}",
                        first_line + e.line() - 1,
                        e.column()
                    ),
                });
            }
        }
    }
    match found.len() {
        1 => crate::oas31::read_as_30(page, found.remove(0).1),
        0 => Err(Error::Import {
            path: page.to_path_buf(),
            message: "no embedded OpenAPI document found (expected one JSON object with an `openapi` member)".into(),
        }),
        n => Err(Error::Import {
            path: page.to_path_buf(),
            message: format!(
                "{n} embedded OpenAPI documents found (at lines {}); expected exactly one",
                found.iter().map(|(l, _)| l.to_string()).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

/// The file name a fragment is stored under: its operationId with `-` for `_`, plus `.json`.
/// The operationId must be an identifier, so the name can never leave the fragments directory.
pub fn fragment_file_name(page: &Path, doc: &Value, amendments: &Amendments) -> Result<String> {
    check_openapi_30(page, doc)?;
    let fragment = Fragment {
        path: page.to_path_buf(),
        doc: doc.clone(),
    };
    let operations = fragment.operations();
    let [(method, route)] = operations.as_slice() else {
        return Err(Error::Import {
            path: page.to_path_buf(),
            message: format!(
                "the embedded document has {} operations; a docs page publishes exactly one",
                operations.len()
            ),
        });
    };
    let id = amendments
        .operation_id(method, route)
        .ok_or_else(|| Error::Import {
            path: page.to_path_buf(),
            message: format!(
                "{} {route}: the operationId rule gives no name; add an override to {}",
                method.to_ascii_uppercase(),
                amendments.path.display()
            ),
        })?;
    if !is_identifier(&id) {
        return Err(Error::Import {
            path: page.to_path_buf(),
            message: format!(
                "{} {route}: the operationId {id:?} is not an identifier (ASCII letters, digits, `_`), so it cannot name a fragment file",
                method.to_ascii_uppercase()
            ),
        });
    }
    Ok(format!("{}.json", id.replace('_', "-")))
}

/// Imports each page into `fragments_dir`, as one transaction. Every page is read and checked,
/// and the whole fragment set with the imported ones is merged and generated in memory the way
/// `regen` does, before anything is written; so a bad page leaves the directory untouched.
///
/// A page whose file name matches an existing fragment of a *different* operation is refused
/// unless `force` is set: it would silently replace another endpoint.
pub fn import_pages(
    pages: &[PathBuf],
    fragments_dir: &Path,
    amendments: &Amendments,
    force: bool,
) -> Result<Vec<Imported>> {
    let mut planned: Vec<(PathBuf, Fragment)> = Vec::new(); // (page, fragment at its target)
    for page in pages {
        let text = read_input(page)?;
        let doc = extract(page, &text)?;
        let target = fragments_dir.join(fragment_file_name(page, &doc, amendments)?);
        check_refs(page, &doc)?;
        if let Some((other, _)) = planned.iter().find(|(_, f)| f.path == target) {
            return Err(Error::Import {
                path: page.clone(),
                message: format!(
                    "publishes the same operation as {} (both would be {})",
                    other.display(),
                    target.display()
                ),
            });
        }
        let fragment = Fragment { path: target, doc };
        if target_exists(&fragment.path) {
            let existing = Fragment::read(&fragment.path)?;
            if existing.operations() != fragment.operations() && !force {
                return Err(Error::Import {
                    path: page.clone(),
                    message: format!(
                        "would replace {}, which defines {} and not {}; pass --force to replace it anyway",
                        fragment.path.display(),
                        describe(&existing.operations()),
                        describe(&fragment.operations())
                    ),
                });
            }
        }
        planned.push((page.clone(), fragment));
    }
    // Validate as regen does: the whole set, with the imported fragments in place.
    let mut set: Vec<Fragment> = load_dir(fragments_dir)?
        .into_iter()
        .filter(|f| !planned.iter().any(|(_, p)| p.path == f.path))
        .collect();
    set.extend(planned.iter().map(|(_, f)| f.clone()));
    set.sort_by(|a, b| a.path.cmp(&b.path));
    let pages_named = || {
        planned
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    merge(&set, amendments)
        .and_then(|merged| generate(&merged, amendments))
        .map_err(|e| Error::Import {
            path: PathBuf::from(pages_named()),
            message: format!("with this import, `regen` would fail: {e}"),
        })?;
    let tolerance = Tolerance::of(amendments);
    let changes: Vec<Option<Report>> = planned
        .iter()
        .map(|(_, f)| {
            let old = Fragment::read(&f.path).ok()?;
            Some(compare(&old.doc, &f.doc, tolerance))
        })
        .collect();
    let outputs: Vec<Output> = planned
        .iter()
        .map(|(_, f)| Output {
            path: f.path.clone(),
            contents: to_pretty_json(&f.doc),
        })
        .collect();
    Ok(write(&outputs)?
        .into_iter()
        .zip(changes)
        .map(|((path, status), changes)| Imported {
            path,
            status,
            changes,
        })
        .collect())
}

/// What importing did to one fragment.
#[derive(Debug)]
pub struct Imported {
    /// The fragment file.
    pub path: PathBuf,
    /// Whether it is new, changed or unchanged.
    pub status: FileStatus,
    /// The API changes against the fragment it replaced, if there was one.
    pub changes: Option<Report>,
}

fn target_exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

fn describe(operations: &[(String, String)]) -> String {
    operations
        .iter()
        .map(|(m, r)| format!("{} {r}", m.to_ascii_uppercase()))
        .collect::<Vec<_>>()
        .join(", ")
}
