//! `cargo xtask import`: one fragment per operation, out of a published docs page, a module
//! file or a whole OpenAPI document.
//!
//! A docs page (Markdown) embeds one OpenAPI document, in a fenced code block or as a bare line;
//! a `.json` file is taken as it is. A document of one operation is written, pretty-printed but
//! otherwise as published, where that operation's fragment already is, else beside the
//! operations sharing the most of its path (the API tokens pages or a module's directory). A document of several operations (a module file,
//! a whole spec) is split: each operation, with the components it reaches, becomes
//! `openapi/fragments/<module>/<operation-id>.json`, the module read from its path
//! (`/public/v1/<module>/...`). Files are named by the amendments' operationId rule over the
//! whole set of the directory, so no two operations share a name. Each operation is reported
//! new, changed, unchanged or refused (with the reason); an operation whose fragment is one of
//! the API tokens pages stays on that page.

use std::path::{Path, PathBuf};

use serde_json::Value;

use std::collections::{BTreeMap, BTreeSet};

use crate::amend::{Amendments, is_identifier};
use crate::diff::{Report, Tolerance, compare};
use crate::error::{Error, Result};
use crate::fragment::{Fragment, operations};
use crate::generate::generate;
use crate::merge::merge;
use crate::regen::{FileStatus, Output, to_pretty_json, write};

pub use crate::split::{module_of, split_document};

mod checks;
mod read;

use read::Existing;
pub use read::{extract, read_document};
mod unique;

use checks::{no_equivalent_paths, not_modules, undeclared_path_parameter};

/// What importing did to one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportStatus {
    /// A fragment was written where none defined the operation.
    New,
    /// The operation's fragment was replaced.
    Changed,
    /// The operation's fragment already held this.
    Unchanged,
    /// Nothing was written for it, for this reason.
    Refused(String),
    /// Its fragment is in a module directory the imported whole spec or module file covers, but
    /// the source no longer has it: kept, and reported (`--prune` removes it).
    Missing,
    /// As [`ImportStatus::Missing`], and its fragment was deleted (`--prune`).
    Removed,
}

impl std::fmt::Display for ImportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImportStatus::New => "new",
            ImportStatus::Changed => "changed",
            ImportStatus::Unchanged => "unchanged",
            ImportStatus::Refused(_) => "refused",
            ImportStatus::Missing => "missing from this spec",
            ImportStatus::Removed => "removed",
        })
    }
}

/// What importing did to one operation.
#[derive(Debug)]
pub struct Imported {
    /// `(method, path template)`.
    pub operation: (String, String),
    /// The fragment file written (or, when refused, the one that keeps the operation, if any).
    pub path: PathBuf,
    /// New, changed, unchanged or refused.
    pub status: ImportStatus,
    /// The API changes against the fragment it replaced, if there was one.
    pub changes: Option<Report>,
}

/// One operation on its way in.
struct Incoming {
    source: PathBuf,
    operation: (String, String),
    doc: Value,
    /// Its source held this operation alone (a docs page).
    page: bool,
}

/// Reads every source and splits it into operations (a source of one operation stays whole).
fn gather(sources: &[PathBuf]) -> Result<Vec<Incoming>> {
    let mut incoming: Vec<Incoming> = Vec::new();
    for source in sources {
        let doc = read_document(source)?;
        no_equivalent_paths(source, &doc)?;
        let ops = operations(&doc);
        let parts = match ops.len() {
            0 => {
                return Err(Error::Import {
                    path: source.clone(),
                    message: "the document defines no operation".into(),
                });
            }
            1 => vec![(ops[0].clone(), doc)],
            _ => split_document(&doc),
        };
        let page = parts.len() == 1;
        for (operation, doc) in parts {
            if let Some(message) = undeclared_path_parameter(&doc, &operation) {
                return Err(Error::Import {
                    path: source.clone(),
                    message,
                });
            }
            if let Some(other) = incoming.iter().find(|i| i.operation == operation) {
                return Err(Error::Import {
                    path: source.clone(),
                    message: format!(
                        "publishes {} as {} does",
                        describe(std::slice::from_ref(&operation)),
                        other.source.display()
                    ),
                });
            }
            incoming.push(Incoming {
                source: source.clone(),
                operation,
                doc,
                page,
            });
        }
    }
    Ok(incoming)
}

/// Imports every operation of `sources` (docs pages, module files, whole specs) into
/// `fragments_dir`, as one transaction. Every source is read and checked, and each fragment
/// directory it touches is merged with the imported fragments in place (and, for the API tokens
/// pages, generated) the way `regen` does, before anything is written; so a bad source leaves
/// the directory untouched. Operations that cannot be imported are reported as refused.
///
/// A new fragment whose file name is an existing fragment's of a *different* operation is
/// refused unless `force` is set: it would silently replace another endpoint.
pub fn import_pages(
    sources: &[PathBuf],
    fragments_dir: &Path,
    amendments: &Amendments,
    force: bool,
) -> Result<Vec<Imported>> {
    import_sources(sources, fragments_dir, amendments, force, false)
}

/// [`import_pages`], also reporting the operations a whole spec or module file no longer has:
/// each fragment of a module directory the source covers (one of whose operations it publishes)
/// whose operation no source publishes is `missing from this spec` and kept, or, with `prune`,
/// deleted and reported `removed`. A docs page covers nothing (it publishes one operation), and
/// the API tokens pages are never pruned.
pub fn import_sources(
    sources: &[PathBuf],
    fragments_dir: &Path,
    amendments: &Amendments,
    force: bool,
    prune: bool,
) -> Result<Vec<Imported>> {
    let existing = Existing::read(fragments_dir)?;
    let incoming = gather(sources)?;
    let published: BTreeSet<(String, String)> =
        incoming.iter().map(|i| i.operation.clone()).collect();
    let covered: BTreeSet<String> = incoming
        .iter()
        .filter(|i| !i.page)
        .filter_map(|i| module_of(&i.operation.1))
        .collect();
    let mut gone: Vec<Imported> = Vec::new();
    for module in &covered {
        let fragments = existing
            .dirs
            .get(&Some(module.clone()))
            .into_iter()
            .flatten();
        for fragment in fragments {
            let ops = fragment.operations();
            if !ops.is_empty() && ops.iter().all(|op| !published.contains(op)) {
                gone.extend(ops.into_iter().map(|operation| Imported {
                    operation,
                    path: fragment.path.clone(),
                    status: if prune {
                        ImportStatus::Removed
                    } else {
                        ImportStatus::Missing
                    },
                    changes: None,
                }));
            }
        }
    }
    let resources = not_modules(&existing, &incoming);
    let mut done = import_incoming(
        &existing,
        incoming,
        fragments_dir,
        amendments,
        force,
        &resources,
    )?;
    if prune {
        let paths: BTreeSet<&PathBuf> = gone.iter().map(|g| &g.path).collect();
        for path in paths {
            std::fs::remove_file(path).map_err(Error::io(path))?;
        }
    }
    done.extend(gone);
    Ok(done)
}

fn import_incoming(
    existing: &Existing,
    incoming: Vec<Incoming>,
    fragments_dir: &Path,
    amendments: &Amendments,
    force: bool,
    resources: &BTreeSet<String>,
) -> Result<Vec<Imported>> {
    let mut refused: Vec<Imported> = Vec::new();
    let mut by_dir: BTreeMap<Option<String>, Vec<(Incoming, Option<PathBuf>)>> = BTreeMap::new();
    for inc in incoming {
        let placed = match module_of(&inc.operation.1)
            .filter(|m| !inc.page && resources.contains(m))
        {
            Some(m) => Err((
                format!(
                    "its path names no platform module: `{m}` is a resource, not a module (a path continues it with a parameter or ends there); the 4.0 paths are /public/vN/<module>/<resource>"
                ),
                inc.source.clone(),
            )),
            None => place(existing, &inc),
        };
        match placed {
            Ok((dir, file)) => by_dir.entry(dir).or_default().push((inc, file)),
            Err((reason, path)) => refused.push(Imported {
                operation: inc.operation,
                path,
                status: ImportStatus::Refused(reason),
                changes: None,
            }),
        }
    }
    let mut planned: Vec<(Incoming, Fragment)> = Vec::new();
    for (dir, items) in by_dir {
        let dir_path = match &dir {
            Some(m) => fragments_dir.join(m),
            None => fragments_dir.to_path_buf(),
        };
        let module_amendments = amendments.for_module(dir.as_deref());
        let old = existing.dirs.get(&dir).cloned().unwrap_or_default();
        let fragments = name_files(&dir_path, &old, items, &module_amendments, force)?;
        check_like_regen(&old, &fragments, &module_amendments)?;
        planned.extend(fragments);
    }
    write_planned(planned, refused, Tolerance::of(amendments))
}

/// Where an operation goes: the directory (`None`: the API tokens pages) and, when a fragment
/// already defines it, that file. `Err` refuses it, with the reason and the file that keeps it.
fn place(
    existing: &Existing,
    inc: &Incoming,
) -> std::result::Result<(Option<String>, Option<PathBuf>), (String, PathBuf)> {
    match existing.find(&inc.operation) {
        Some((None, page)) if !inc.page => Err((
            format!(
                "kept on its docs page {} ({}); import that page to change it",
                page.path.display(),
                page.version().unwrap_or("no version")
            ),
            page.path.clone(),
        )),
        Some((dir, fragment)) => Ok((dir, Some(fragment.path.clone()))),
        None if inc.page => Ok((existing.beside_siblings(&inc.operation.1), None)),
        None => match module_of(&inc.operation.1) {
            Some(module) => Ok((Some(module), None)),
            None => Err((
                "its path names no platform module (/public/vN/<module>/...)".into(),
                inc.source.clone(),
            )),
        },
    }
}

/// Gives each incoming operation its file in `dir`: its existing fragment, else the name the
/// rule gives it among every operation of the directory.
fn name_files(
    dir: &Path,
    old: &[Fragment],
    items: Vec<(Incoming, Option<PathBuf>)>,
    amendments: &Amendments,
    force: bool,
) -> Result<Vec<(Incoming, Fragment)>> {
    let mut set: BTreeSet<(String, String)> = old.iter().flat_map(Fragment::operations).collect();
    set.extend(items.iter().map(|(i, _)| i.operation.clone()));
    let mut published = BTreeMap::new();
    for doc in old
        .iter()
        .map(|f| &f.doc)
        .chain(items.iter().map(|(i, _)| &i.doc))
    {
        crate::amend::for_each_operation(&mut doc.clone(), |m, r, op| {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                published.insert((m.to_string(), r.to_string()), id.to_string());
            }
        });
    }
    let set: Vec<(String, String)> = set.into_iter().collect();
    let ids = amendments.operation_ids(&set, &published);
    let mut out: Vec<(Incoming, Fragment)> = Vec::new();
    for (inc, file) in items {
        let target = match file {
            Some(file) => file,
            None => dir.join(file_name_for(&inc, ids.get(&inc.operation), amendments)?),
        };
        if let Some((other, _)) = out.iter().find(|(_, f)| f.path == target) {
            return Err(Error::Import {
                path: inc.source.clone(),
                message: format!(
                    "{} and {} would both be {}",
                    describe(std::slice::from_ref(&inc.operation)),
                    describe(std::slice::from_ref(&other.operation)),
                    target.display()
                ),
            });
        }
        if let Some(existing) = old.iter().find(|f| f.path == target)
            && !existing.operations().contains(&inc.operation)
            && !force
        {
            return Err(Error::Import {
                path: inc.source.clone(),
                message: format!(
                    "would replace {}, which defines {} and not {}; pass --force to replace it anyway",
                    target.display(),
                    describe(&existing.operations()),
                    describe(std::slice::from_ref(&inc.operation))
                ),
            });
        }
        let fragment = Fragment {
            path: target,
            doc: inc.doc.clone(),
        };
        out.push((inc, fragment));
    }
    Ok(out)
}

/// `<operation-id>.json`, with `-` for `_`; the id must be an identifier, so the name can never
/// leave the fragments directory.
fn file_name_for(inc: &Incoming, id: Option<&String>, amendments: &Amendments) -> Result<String> {
    let (method, route) = &inc.operation;
    let id = id.ok_or_else(|| Error::Import {
        path: inc.source.clone(),
        message: format!(
            "{} {route}: the operationId rule gives no name; add an override to {}",
            method.to_ascii_uppercase(),
            amendments.path.display()
        ),
    })?;
    if !is_identifier(id) {
        return Err(Error::Import {
            path: inc.source.clone(),
            message: format!(
                "{} {route}: the operationId {id:?} is not an identifier (ASCII letters, digits, `_`), so it cannot name a fragment file",
                method.to_ascii_uppercase()
            ),
        });
    }
    Ok(format!("{}.json", id.replace('_', "-")))
}

/// Merges the directory's fragments with the imported ones in place and generates them, as
/// `regen` would.
fn check_like_regen(
    old: &[Fragment],
    planned: &[(Incoming, Fragment)],
    amendments: &Amendments,
) -> Result<()> {
    let mut set: Vec<Fragment> = old
        .iter()
        .filter(|f| !planned.iter().any(|(_, p)| p.path == f.path))
        .cloned()
        .collect();
    set.extend(planned.iter().map(|(_, f)| f.clone()));
    set.sort_by(|a, b| a.path.cmp(&b.path));
    let sources: BTreeSet<String> = planned
        .iter()
        .map(|(i, _)| i.source.display().to_string())
        .collect();
    let checked =
        merge(&set, amendments).and_then(|merged| generate(&merged, amendments).map(|_| ()));
    checked.map_err(|e| Error::Import {
        path: PathBuf::from(sources.into_iter().collect::<Vec<_>>().join(", ")),
        message: format!("with this import, `regen` would fail: {e}"),
    })
}

fn write_planned(
    planned: Vec<(Incoming, Fragment)>,
    refused: Vec<Imported>,
    tolerance: Tolerance,
) -> Result<Vec<Imported>> {
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
    let mut done: Vec<Imported> = write(&outputs)?
        .into_iter()
        .zip(changes)
        .zip(planned)
        .map(|(((path, status), changes), (inc, _))| Imported {
            operation: inc.operation,
            path,
            status: match status {
                FileStatus::New => ImportStatus::New,
                FileStatus::Changed => ImportStatus::Changed,
                FileStatus::Unchanged => ImportStatus::Unchanged,
            },
            changes,
        })
        .collect();
    done.extend(refused);
    Ok(done)
}

fn describe(operations: &[(String, String)]) -> String {
    operations
        .iter()
        .map(|(m, r)| format!("{} {r}", m.to_ascii_uppercase()))
        .collect::<Vec<_>>()
        .join(", ")
}
