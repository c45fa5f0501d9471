//! The `$ref` checks of a merged (or any) document: every local pointer resolves, and no schema
//! reaches itself through required, non-nullable steps only (a type no value can inhabit).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result, escape_token};

/// Checks that every `$ref` in `doc` is a local pointer that resolves.
pub fn check_refs(path: &Path, doc: &Value) -> Result<()> {
    fn walk(path: &Path, root: &Value, value: &Value, at: &mut String) -> Result<()> {
        match value {
            Value::Object(obj) => {
                for (k, v) in obj {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&escape_token(k));
                    if k == "$ref" {
                        if let Value::String(r) = v {
                            let resolves = r
                                .strip_prefix('#')
                                .is_some_and(|pointer| root.pointer(pointer).is_some());
                            if !resolves {
                                return Err(Error::DanglingRef {
                                    path: path.to_path_buf(),
                                    pointer: at.clone(),
                                    reference: r.clone(),
                                });
                            }
                        }
                    } else {
                        walk(path, root, v, at)?;
                    }
                    at.truncate(len);
                }
                Ok(())
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let len = at.len();
                    at.push_str(&format!("/{i}"));
                    walk(path, root, v, at)?;
                    at.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    walk(path, doc, doc, &mut String::new())
}

/// A `$ref` from one schema to another: the schema it points to, the pointer of the `$ref`
/// member, and whether every value of the referring schema must hold one (the reference sits
/// behind required, non-nullable properties and `allOf`s only).
struct SchemaEdge {
    to: String,
    pointer: String,
    /// Every step to it is required (and not nullable).
    required: bool,
    /// It lies below a property, an array's items or a map's values: decoding it reads a
    /// nested value. An edge that does not (a root `$ref`, `allOf`, `oneOf`, `anyOf` branches)
    /// decodes the same JSON value again.
    nested: bool,
}

/// The `$ref` edges of `value` (at pointer `at`): `required` and `nested` as seen so far.
fn schema_edges(value: &Value, required: bool, nested: bool, at: &str, out: &mut Vec<SchemaEdge>) {
    let Some(obj) = value.as_object() else { return };
    let required = required && obj.get("nullable") != Some(&Value::Bool(true));
    if let Some(Value::String(r)) = obj.get("$ref") {
        if let Some(name) = r.strip_prefix("#/components/schemas/") {
            out.push(SchemaEdge {
                to: name.replace("~1", "/").replace("~0", "~"),
                pointer: format!("{at}/$ref"),
                required,
                nested,
            });
        }
        return;
    }
    let needed: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, prop) in props {
            let here = format!("{at}/properties/{}", escape_token(name));
            let required = required && needed.contains(&name.as_str());
            schema_edges(prop, required, true, &here, out);
        }
    }
    for (key, each_required) in [("allOf", true), ("oneOf", false), ("anyOf", false)] {
        if let Some(Value::Array(items)) = obj.get(key) {
            // One branch of a oneOf/anyOf must hold, so with a single branch it is required too.
            let branch_required = required && (each_required || items.len() == 1);
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}/{key}/{i}");
                schema_edges(item, branch_required, nested, &here, out);
            }
        }
    }
    // An empty array or map is a finite value: references below these never force recursion.
    for key in ["items", "additionalProperties"] {
        if let Some(child) = obj.get(key) {
            schema_edges(child, false, true, &format!("{at}/{key}"), out);
        }
    }
}

/// Refuses the `$ref` cycles among component schemas whose types could never be built or
/// decoded, naming the fragment that defined the first schema and every pointer of the cycle:
///
/// * a cycle where every step is required: no finite value satisfies it;
/// * a cycle where no step reads a nested value (only root `$ref`s and `allOf`, `oneOf` or
///   `anyOf` branches, nullable or not): the generated types include each other at the same
///   level, so decoding any value would recurse without end.
///
/// A cycle through an optional or nullable property, an array or a map is fine (the generator
/// boxes it). `origin(schema)` is the file named in the error.
pub fn check_cycles<'a>(doc: &Value, origin: impl Fn(&str) -> &'a Path) -> Result<()> {
    let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    let mut all: BTreeMap<&str, Vec<SchemaEdge>> = BTreeMap::new();
    for (name, schema) in schemas {
        let mut edges = Vec::new();
        let at = format!("/components/schemas/{}", escape_token(name));
        schema_edges(schema, true, false, &at, &mut edges);
        all.insert(name, edges);
    }
    type Keep = fn(&SchemaEdge) -> bool;
    let checks: [(Keep, &str); 2] = [
        (
            |e| e.required,
            "form a $ref cycle in which every step is required, so no finite value exists; make one step optional or nullable",
        ),
        (
            |e| !e.nested,
            "include each other without a property, array or map between them (allOf, oneOf, anyOf or a plain $ref; nullable does not help), so decoding any value would never end; put one step under a property",
        ),
    ];
    for (keep, why) in checks {
        let graph: BTreeMap<&str, Vec<&SchemaEdge>> = all
            .iter()
            .map(|(name, edges)| (*name, edges.iter().filter(|e| keep(e)).collect()))
            .collect();
        if let Some((names, pointers)) = find_cycle(&graph) {
            return Err(Error::invalid(
                origin(names[0]),
                pointers[0],
                format!(
                    "the schemas {} {why} (through {})",
                    names.join(" -> ") + " -> " + names[0],
                    pointers.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// A cycle in `graph`, as its schemas and the pointers of its edges, if there is one.
fn find_cycle<'g>(
    graph: &BTreeMap<&'g str, Vec<&'g SchemaEdge>>,
) -> Option<(Vec<&'g str>, Vec<&'g str>)> {
    // Depth-first search; a back edge closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = graph.keys().map(|k| (*k, Mark::New)).collect();
    for start in graph.keys().copied() {
        if marks[start] != Mark::New {
            continue;
        }
        // (schema, index of the next edge to follow), and the pointers of the edges taken.
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        let mut taken: Vec<&str> = Vec::new();
        marks.insert(start, Mark::Open);
        while let Some((node, next)) = stack.last().copied() {
            let edges = &graph[node];
            if next == edges.len() {
                marks.insert(node, Mark::Done);
                stack.pop();
                taken.pop();
                continue;
            }
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            let edge = edges[next];
            match marks.get(edge.to.as_str()).copied() {
                Some(Mark::New) => {
                    let to = graph.get_key_value(edge.to.as_str()).map(|(k, _)| *k);
                    if let Some(to) = to {
                        marks.insert(to, Mark::Open);
                        stack.push((to, 0));
                        taken.push(&edge.pointer);
                    }
                }
                Some(Mark::Open) => {
                    let first = stack.iter().position(|(n, _)| *n == edge.to).unwrap_or(0);
                    let mut pointers: Vec<&str> = taken[first..].to_vec();
                    pointers.push(&edge.pointer);
                    let names: Vec<&str> = stack[first..].iter().map(|(n, _)| *n).collect();
                    return Some((names, pointers));
                }
                _ => {}
            }
        }
    }
    None
}
