//! `cargo xtask import`: pulling the OpenAPI fragment out of a published docs page.
//!
//! Each docs page (Markdown) embeds one OpenAPI document, in a fenced code block or as a bare
//! line; a bare `.json` fragment is taken as it is. The fragment is written, pretty-printed but otherwise as published, to
//! `openapi/fragments/<operation-id>.json`, named by the amendments' operationId rule.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::amend::Amendments;
use crate::error::{Error, Result};
use crate::fragment::{Fragment, check_openapi_30};
use crate::regen::{FileStatus, to_pretty_json, write_if_changed};

/// Finds the one OpenAPI document embedded in a docs page (or the page is the bare document).
pub fn extract(page: &Path, text: &str) -> Result<Value> {
    if let Ok(doc) = serde_json::from_str::<Value>(text)
        && doc.get("openapi").is_some()
    {
        return Ok(doc);
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
        1 => Ok(found.remove(0).1),
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
    Ok(format!("{}.json", id.replace('_', "-")))
}

/// Imports each page into `fragments_dir`. Every page is read and checked before anything is
/// written, so a bad page leaves the directory untouched.
pub fn import_pages(
    pages: &[PathBuf],
    fragments_dir: &Path,
    amendments: &Amendments,
) -> Result<Vec<(PathBuf, FileStatus)>> {
    let mut planned: Vec<(PathBuf, PathBuf, String)> = Vec::new(); // (page, target, text)
    for page in pages {
        let text = std::fs::read_to_string(page).map_err(Error::io(page))?;
        let doc = extract(page, &text)?;
        let target = fragments_dir.join(fragment_file_name(page, &doc, amendments)?);
        if let Some((other, _, _)) = planned.iter().find(|(_, t, _)| *t == target) {
            return Err(Error::Import {
                path: page.clone(),
                message: format!(
                    "publishes the same operation as {} (both would be {})",
                    other.display(),
                    target.display()
                ),
            });
        }
        planned.push((page.clone(), target, to_pretty_json(&doc)));
    }
    planned
        .into_iter()
        .map(|(_, target, text)| {
            let status = write_if_changed(&target, &text)?;
            Ok((target, status))
        })
        .collect()
}
