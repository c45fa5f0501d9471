//! Reading what `import` is handed: a docs page (Markdown with the embedded document), a module
//! file or a whole spec, and the fragments already in a directory.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::checks::{join_base_path, no_duplicate_keys};
use crate::error::{Error, Result, read_input};
use crate::fragment::{Fragment, check_openapi_30, load_dir};
use crate::merge::check_refs;
use crate::split::module_of;

/// Reads one source handed to `import` (a docs page, a module file or a whole spec) into the
/// OpenAPI document it holds, checked to be OpenAPI 3.0.x with resolving `$ref`s. The one place
/// a source is read: a normalization (e.g. of OpenAPI 3.1) goes here.
pub fn read_document(source: &Path) -> Result<Value> {
    let text = read_input(source)?;
    let doc = crate::oas31::read_as_30(source, extract(source, &text)?)?;
    check_openapi_30(source, &doc)?;
    check_refs(source, &doc)?;
    Ok(join_base_path(doc))
}

/// Finds the one OpenAPI document embedded in a docs page (or the page is the bare document).
pub fn extract(page: &Path, text: &str) -> Result<Value> {
    if let Ok(doc) = serde_json::from_str::<Value>(text)
        && doc.get("openapi").is_some()
    {
        no_duplicate_keys(page, text)?;
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
            Ok(doc) if doc.get("openapi").is_some() => {
                no_duplicate_keys(page, &body)?;
                found.push((first_line, doc))
            }
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

/// The `*.json` fragments of `dir` (none when it does not exist).
fn read_fragments(dir: &Path) -> Result<Vec<Fragment>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let any = std::fs::read_dir(dir)
        .map_err(Error::io(dir))?
        .filter_map(|e| e.ok())
        .any(|e| e.path().extension().is_some_and(|x| x == "json"));
    if any { load_dir(dir) } else { Ok(Vec::new()) }
}

/// The fragment directories of the repository: the API tokens pages (`None`) and each module's.
pub(super) struct Existing {
    /// `None` or the module → its fragments.
    pub(super) dirs: BTreeMap<Option<String>, Vec<Fragment>>,
}

impl Existing {
    pub(super) fn read(fragments_dir: &Path) -> Result<Existing> {
        let mut dirs = BTreeMap::new();
        dirs.insert(None, read_fragments(fragments_dir)?);
        for module in crate::regen::module_dirs(fragments_dir)? {
            let fragments = read_fragments(&fragments_dir.join(&module))?;
            dirs.insert(Some(module), fragments);
        }
        Ok(Existing { dirs })
    }

    /// The directory of a new page's operation: the one holding the operations that share the
    /// most leading path segments with it (`/accounts/api-tokens/{id}/rotate` joins the API
    /// tokens pages); with none in common, its module's directory if there is one, else the API
    /// tokens pages.
    pub(super) fn beside_siblings(&self, route: &str) -> Option<String> {
        let segments = |r: &str| r.split('/').map(str::to_string).collect::<Vec<_>>();
        let mine = segments(route);
        let shared = |other: &str| {
            mine.iter()
                .zip(segments(other))
                .take_while(|(a, b)| **a == *b)
                .count()
        };
        // Below `/public/vN/<module>`, a shared prefix says something.
        let floor = 4;
        let best = self
            .dirs
            .iter()
            .flat_map(|(dir, fragments)| {
                fragments
                    .iter()
                    .flat_map(Fragment::operations)
                    .map(move |(_, r)| (shared(&r), dir))
            })
            .filter(|(n, _)| *n > floor)
            .max_by_key(|(n, dir)| (*n, dir.is_none()));
        match best {
            Some((_, dir)) => dir.clone(),
            None => module_of(route).filter(|m| self.dirs.contains_key(&Some(m.clone()))),
        }
    }

    /// Where the operation's fragment is: its directory and file.
    pub(super) fn find(&self, op: &(String, String)) -> Option<(Option<String>, &Fragment)> {
        self.dirs.iter().find_map(|(dir, fragments)| {
            fragments
                .iter()
                .find(|f| f.operations().contains(op))
                .map(|f| (dir.clone(), f))
        })
    }
}
