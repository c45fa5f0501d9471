//! `cargo xtask regen [--check]`: the whole pipeline, and writing or checking its outputs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::amend::Amendments;
use crate::error::{Error, Result};
use crate::fragment::load_dir;
use crate::generate::generate_with;
pub use crate::merge::to_pretty_json;
use crate::merge::{Merged, merge};

/// Where the pipeline reads and writes, relative to the repository root.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Directory of the per-endpoint fragments.
    pub fragments: PathBuf,
    /// The amendments file.
    pub amendments: PathBuf,
    /// The merged spec.
    pub merged: PathBuf,
    /// The generated client source.
    pub generated: PathBuf,
    /// Where each platform module's merged spec goes (`marketplace-<module>.json`).
    pub merged_dir: PathBuf,
    /// Where each platform module's generated code goes (`<module>.rs`).
    pub modules_src: PathBuf,
    /// The generated client's crate (`crates/mpt-api`): its `Cargo.toml` declares a feature per
    /// module and its `src/lib.rs` a `mod` per module ([`check_wiring`]).
    pub api_crate: PathBuf,
}

/// One namespace of the pipeline: the API tokens pages (`module: None`) or one platform module,
/// each merged and generated on its own.
#[derive(Debug, Clone)]
pub struct Unit {
    /// The platform module, or `None` for the API tokens pages.
    pub module: Option<String>,
    /// Its fragments.
    pub fragments: PathBuf,
    /// Its merged spec.
    pub merged: PathBuf,
    /// Its generated code.
    pub generated: PathBuf,
}

impl Unit {
    /// The module's name, or `api-tokens`.
    pub fn name(&self) -> &str {
        self.module.as_deref().unwrap_or("api-tokens")
    }
}

/// The platform modules with fragments: each subdirectory of `fragments`, sorted. A name must
/// be lower-case letters, digits and `-` (it names a Rust module and a cargo feature).
pub fn module_dirs(fragments: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fragments).map_err(Error::io(fragments))? {
        let entry = entry.map_err(Error::io(fragments))?;
        if !entry.file_type().map_err(Error::io(entry.path()))?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(Error::invalid(
                entry.path(),
                "",
                "a module directory's name must be lower-case letters, digits and `-`",
            ));
        }
        out.push(name);
    }
    out.sort();
    Ok(out)
}

impl Layout {
    /// This repository's layout, under `root`.
    pub fn of_repo(root: &Path) -> Layout {
        Layout {
            fragments: root.join("openapi/fragments"),
            amendments: root.join("openapi/amendments.json"),
            merged: root.join("openapi/marketplace-api-tokens.json"),
            generated: root.join("crates/mpt-api/src/generated.rs"),
            merged_dir: root.join("openapi"),
            modules_src: root.join("crates/mpt-api/src/modules"),
            api_crate: root.join("crates/mpt-api"),
        }
    }

    /// Every namespace: the API tokens pages first, then each module directory.
    pub fn units(&self) -> Result<Vec<Unit>> {
        let mut units = vec![Unit {
            module: None,
            fragments: self.fragments.clone(),
            merged: self.merged.clone(),
            generated: self.generated.clone(),
        }];
        for module in module_dirs(&self.fragments)? {
            units.push(Unit {
                fragments: self.fragments.join(&module),
                merged: self.merged_dir.join(format!("marketplace-{module}.json")),
                generated: self
                    .modules_src
                    .join(format!("{}.rs", module.replace('-', "_"))),
                module: Some(module),
            });
        }
        Ok(units)
    }
}

/// Checks that every platform module with fragments is compiled: `crates/mpt-api/Cargo.toml`
/// declares its feature and lists it in `full` (which `--verify` and CI build), and
/// `src/lib.rs` declares its `mod` behind that feature. A module regen would generate but
/// nothing compiles is an error naming exactly what to add (the lines are hand-written: each
/// module's doc comment says what it holds).
pub fn check_wiring(api_crate: &Path, modules: &[String]) -> Result<()> {
    let manifest_path = api_crate.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path).map_err(Error::io(&manifest_path))?;
    let manifest: toml::Table = toml::from_str(&manifest)
        .map_err(|e| Error::invalid(&manifest_path, "", format!("not TOML: {e}")))?;
    let features = manifest.get("features").and_then(toml::Value::as_table);
    let full: Vec<&str> = features
        .and_then(|f| f.get("full"))
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(toml::Value::as_str).collect())
        .unwrap_or_default();
    let lib_path = api_crate.join("src/lib.rs");
    let lib = std::fs::read_to_string(&lib_path).map_err(Error::io(&lib_path))?;
    let mut missing = Vec::new();
    for module in modules {
        let rust = module.replace('-', "_");
        if features.is_none_or(|f| !f.contains_key(module)) {
            missing.push(format!(
                "{}: the feature `{module} = []` under [features]",
                manifest_path.display()
            ));
        }
        if !full.contains(&module.as_str()) {
            missing.push(format!(
                "{}: \"{module}\" in the `full` feature",
                manifest_path.display()
            ));
        }
        let wired = lib.contains(&format!("#[cfg(feature = \"{module}\")]"))
            && lib.contains(&format!("#[path = \"modules/{rust}.rs\"]"))
            && lib.contains(&format!("pub mod {rust};"));
        if !wired {
            missing.push(format!(
                "{}: `/// The platform's **{module}** module ...` then `#[cfg(feature = \"{module}\")]`, \
                 `#[allow(missing_docs, clippy::all, rustdoc::all)]`, `#[rustfmt::skip]`, \
                 `#[path = \"modules/{rust}.rs\"]`, `pub mod {rust};`",
                lib_path.display()
            ));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        api_crate,
        "",
        format!(
            "a platform module with fragments would be generated but never compiled; add:\n  {}",
            missing.join("\n  ")
        ),
    ))
}

/// One file the pipeline produces.
#[derive(Debug, Clone)]
pub struct Output {
    /// Where it goes.
    pub path: PathBuf,
    /// What it should hold.
    pub contents: String,
}

/// What writing did to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Did not exist before.
    New,
    /// Existed with other content and was replaced.
    Changed,
    /// Already held this content; not touched.
    Unchanged,
}

impl fmt::Display for FileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileStatus::New => "new",
            FileStatus::Changed => "changed",
            FileStatus::Unchanged => "unchanged",
        })
    }
}

/// Runs the pipeline in memory: load, merge, amend, generate. Writes nothing. The merged spec
/// returned is the API tokens pages'.
pub fn build(layout: &Layout) -> Result<(Merged, Vec<Output>)> {
    let built = build_all(layout)?;
    Ok((built.root, built.outputs))
}

/// What the whole pipeline produced.
#[derive(Debug)]
pub struct Built {
    /// The API tokens pages' merged spec.
    pub root: Merged,
    /// Every file, two per unit (merged spec, generated code).
    pub outputs: Vec<Output>,
    /// Per unit: its name, its operation count and what each generator pass touched.
    pub units: Vec<UnitReport>,
}

/// What regen did with one unit.
#[derive(Debug, Clone)]
pub struct UnitReport {
    /// `api-tokens` or the module.
    pub name: String,
    /// Operations in its merged spec.
    pub operations: usize,
    /// Each pass that touched something, with the operations it touched.
    pub passes: Vec<(String, usize)>,
    /// Operations left out of the generated client, each with why.
    pub left_out: Vec<String>,
}

/// Runs the pipeline over every unit, in memory.
pub fn build_all(layout: &Layout) -> Result<Built> {
    let amendments = Amendments::read(&layout.amendments)?;
    let mut outputs = Vec::new();
    let mut reports = Vec::new();
    let mut root = None;
    let mut reads = BTreeMap::new();
    for unit in layout.units()? {
        let amendments = amendments.for_module(unit.module.as_deref());
        let fragments = load_dir(&unit.fragments)?;
        let merged = merge(&fragments, &amendments)?;
        // An operation the generator fails on fails regen, naming it: nothing is left out.
        let generated = generate_with(&merged, &amendments, false)?;
        crate::passes::check_read_shapes(&mut reads, unit.name(), &merged.doc, &generated.code)
            .map_err(|m| Error::invalid(&layout.amendments, "/operationIds/moduleOverrides", m))?;
        outputs.push(Output {
            path: unit.merged.clone(),
            contents: merged.to_pretty_json(),
        });
        outputs.push(Output {
            path: unit.generated.clone(),
            contents: generated.code,
        });
        reports.push(UnitReport {
            name: unit.name().to_string(),
            operations: merged.origins.len(),
            passes: generated.passes,
            left_out: generated.left_out,
        });
        if unit.module.is_none() {
            root = Some(merged);
        }
    }
    let root = root.ok_or_else(|| Error::invalid(&layout.fragments, "", "no fragments"))?;
    Ok(Built {
        root,
        outputs,
        units: reports,
    })
}

/// Writes every output whose content changed, as one transaction: either every changed file
/// gets its new content or none does. Each new content is first written to a sibling temporary
/// file; only when all are written are they renamed over their targets, and if a rename fails,
/// the files already replaced get their old content back. No temporary file is left behind.
pub fn write(outputs: &[Output]) -> Result<Vec<(PathBuf, FileStatus)>> {
    let planned: Vec<(&Output, Option<String>, FileStatus)> = outputs
        .iter()
        .map(|out| {
            let old = std::fs::read_to_string(&out.path).ok();
            let status = match &old {
                Some(old) if *old == out.contents => FileStatus::Unchanged,
                Some(_) => FileStatus::Changed,
                None => FileStatus::New,
            };
            (out, old, status)
        })
        .collect();
    let changed: Vec<&(&Output, Option<String>, FileStatus)> = planned
        .iter()
        .filter(|(_, _, status)| *status != FileStatus::Unchanged)
        .collect();
    // Phase 1: every temporary file, or none.
    let mut temps: Vec<PathBuf> = Vec::new();
    for (out, _, _) in &changed {
        match write_temp(&out.path, &out.contents) {
            Ok(tmp) => temps.push(tmp),
            Err(e) => {
                remove_all(&temps);
                return Err(e);
            }
        }
    }
    // Phase 2: rename each over its target; undo the ones done if one fails.
    for (i, ((out, _, _), tmp)) in changed.iter().zip(&temps).enumerate() {
        if let Err(source) = std::fs::rename(tmp, &out.path) {
            remove_all(&temps[i..]);
            for (done, old, _) in &changed[..i] {
                match old {
                    Some(old) => {
                        let _ = write_atomically(&done.path, old);
                    }
                    None => {
                        let _ = std::fs::remove_file(&done.path);
                    }
                }
            }
            return Err(Error::Io {
                path: out.path.clone(),
                source,
            });
        }
    }
    Ok(planned
        .into_iter()
        .map(|(out, _, status)| (out.path.clone(), status))
        .collect())
}

fn remove_all(paths: &[PathBuf]) {
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}

/// A checked-in file that differs from what the pipeline produces.
#[derive(Debug, Clone)]
pub struct Stale {
    /// The file.
    pub path: PathBuf,
    /// A short unified diff from the checked-in content to the expected one.
    pub diff: String,
}

/// Most diff lines shown per stale file.
pub const DIFF_LINES: usize = 80;

/// Compares each output with what is on disk; writes nothing.
pub fn check(outputs: &[Output]) -> Vec<Stale> {
    outputs
        .iter()
        .filter_map(|out| {
            let old = std::fs::read_to_string(&out.path).unwrap_or_default();
            (old != out.contents).then(|| Stale {
                path: out.path.clone(),
                diff: short_diff(&out.path, &old, &out.contents),
            })
        })
        .collect()
}

/// A unified diff of `old` → `new`, cut after [`DIFF_LINES`] lines.
pub fn short_diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    let diff = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(
            &format!("{name} (checked in)"),
            &format!("{name} (regenerated)"),
        )
        .to_string();
    let total = diff.lines().count();
    if total <= DIFF_LINES {
        return diff;
    }
    let mut cut: String = diff.lines().take(DIFF_LINES).collect::<Vec<_>>().join("\n");
    cut.push_str(&format!("\n... {} more diff lines\n", total - DIFF_LINES));
    cut
}

/// Writes `contents` to a sibling temporary file, then renames it over `path`, so a reader never
/// sees half a file. On failure no temporary file is left behind.
pub fn write_atomically(path: &Path, contents: &str) -> Result<()> {
    let tmp = write_temp(path, contents)?;
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Writes `contents` next to `path` as `<name>.regen-tmp` and returns that path; on failure the
/// temporary file is removed.
fn write_temp(path: &Path, contents: &str) -> Result<PathBuf> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".regen-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents).map_err(|source| {
        if tmp.is_file() {
            let _ = std::fs::remove_file(&tmp);
        }
        Error::Io {
            path: tmp.clone(),
            source,
        }
    })?;
    Ok(tmp)
}
