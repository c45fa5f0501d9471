//! Loading the per-endpoint fragments from `openapi/fragments/`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result, parse_json, read_input};

/// The HTTP methods an OpenAPI path item may hold, in the order we print them.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One per-endpoint OpenAPI document, as published (or as we authored it).
#[derive(Debug, Clone)]
pub struct Fragment {
    /// Where it was read from; used in every error about it.
    pub path: PathBuf,
    /// The document.
    pub doc: Value,
}

impl Fragment {
    /// Parses and checks one fragment: valid JSON, OpenAPI 3.0.x, with a `paths` object.
    pub fn parse(path: impl Into<PathBuf>, text: &str) -> Result<Fragment> {
        let path = path.into();
        let doc: Value = parse_json(&path, text)?;
        check_openapi_30(&path, &doc)?;
        Ok(Fragment { path, doc })
    }

    /// Reads and checks one fragment file.
    pub fn read(path: &Path) -> Result<Fragment> {
        let text = read_input(path)?;
        Fragment::parse(path, &text)
    }

    /// The operations this fragment defines, as `(method, path template)`.
    pub fn operations(&self) -> Vec<(String, String)> {
        operations(&self.doc)
    }

    /// The `info.version` the fragment declares, if any.
    pub fn version(&self) -> Option<&str> {
        self.doc.pointer("/info/version").and_then(Value::as_str)
    }
}

/// Lists the operations of a document as `(method, path template)`, in document order.
pub fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (route, item) in paths {
            for method in METHODS {
                if item.get(method).is_some() {
                    out.push((method.to_string(), route.clone()));
                }
            }
        }
    }
    out
}

/// Checks that `doc` declares OpenAPI 3.0.x and has a `paths` object.
pub fn check_openapi_30(path: &Path, doc: &Value) -> Result<()> {
    let Some(root) = doc.as_object() else {
        return Err(Error::invalid(
            path,
            "",
            "the document is not a JSON object",
        ));
    };
    match root.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0.") => {}
        Some(v) => {
            return Err(Error::invalid(
                path,
                "/openapi",
                format!("OpenAPI {v} is not supported; expected 3.0.x"),
            ));
        }
        None => {
            return Err(Error::invalid(
                path,
                "/openapi",
                "missing `openapi` version string; expected an OpenAPI 3.0.x document",
            ));
        }
    }
    match root.get("paths") {
        Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(Error::invalid(path, "/paths", "`paths` is not an object")),
        None => Err(Error::invalid(path, "/paths", "missing `paths`")),
    }
}

/// Reads every `*.json` file of `dir`, sorted by file name so the merge is deterministic.
pub fn load_dir(dir: &Path) -> Result<Vec<Fragment>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::invalid(
            dir,
            "",
            "no *.json fragments in this directory",
        ));
    }
    files.iter().map(|p| Fragment::read(p)).collect()
}
