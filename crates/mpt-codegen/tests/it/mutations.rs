//! A bounded mutation test of the pipeline: the real fragments, mutated at random (seeded, so a
//! failure is reproducible), must never make merge or generate panic. Each run ends either in a
//! spec that generates, or in an error naming the file involved and the pointer, line or
//! operation. `MPT_MUTATION_ROUNDS` runs more rounds (default 300, about a second).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use mpt_codegen::Error;
use mpt_codegen::amend::Amendments;
use mpt_codegen::fragment::{Fragment, load_dir};
use mpt_codegen::generate::generate;
use mpt_codegen::merge::merge;
use serde_json::{Value, json};

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// Every JSON pointer in `value`.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(obj) => {
            for (k, v) in obj {
                pointers(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn random_value(rng: &mut fastrand::Rng, schema_names: &[String]) -> Value {
    match rng.u8(0..12) {
        0 => Value::Null,
        1 => json!(rng.i64(-5..5)),
        2 => json!("x"),
        3 => json!([]),
        4 => json!({}),
        5 => json!(true),
        6 => {
            let types = [
                "string", "integer", "object", "array", "number", "boolean", "nope",
            ];
            json!({ "type": types[rng.usize(..types.len())] })
        }
        7 => {
            json!({"$ref": format!("#/components/schemas/{}", schema_names[rng.usize(..schema_names.len())])})
        }
        8 => json!({"$ref": "#/components/schemas/Nowhere"}),
        9 => json!({"type": "string", "enum": [1, "a", null]}),
        10 => {
            json!({"type": "object", "required": ["a"], "properties": {"a": {"$ref": "#/components/schemas/ApiToken"}}})
        }
        _ => {
            json!({"allOf": [{"$ref": format!("#/components/schemas/{}", schema_names[rng.usize(..schema_names.len())])}]})
        }
    }
}

/// One mutation: at `target`, remove, rename or replace the member.
#[derive(Clone)]
struct Mutation {
    target: String,
    action: u8,
    replacement: Value,
}

fn pick(doc: &Value, rng: &mut fastrand::Rng, schema_names: &[String]) -> Mutation {
    let mut all = Vec::new();
    pointers(doc, String::new(), &mut all);
    Mutation {
        target: all[rng.usize(..all.len())].clone(),
        action: rng.u8(0..4),
        replacement: random_value(rng, schema_names),
    }
}

fn apply(doc: &mut Value, m: &Mutation) {
    let Some(i) = m.target.rfind('/') else { return };
    let (parent, last) = (&m.target[..i], &m.target[i + 1..]);
    let key = last.replace("~1", "/").replace("~0", "~");
    let Some(parent) = doc.pointer_mut(parent) else {
        return;
    };
    match (parent, m.action) {
        (Value::Object(obj), 0) => {
            obj.remove(&key);
        }
        (Value::Object(obj), 1) => {
            if let Some(v) = obj.remove(&key) {
                obj.insert(format!("{key}x"), v);
            }
        }
        (Value::Array(items), 0) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        (parent, _) => {
            if let Some(slot) = parent.pointer_mut(&format!("/{last}")) {
                *slot = m.replacement.clone();
            }
        }
    }
}

#[test]
fn randomly_mutated_fragments_never_panic_and_errors_name_the_place() {
    let rounds: usize = std::env::var("MPT_MUTATION_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(300);
    let amendments = Amendments::read(&repo("openapi/amendments.json"))
        .unwrap()
        .for_module(None);
    let fragments = load_dir(&repo("openapi/fragments")).unwrap();
    let schema_names: Vec<String> = fragments
        .iter()
        .filter_map(|f| {
            f.doc
                .pointer("/components/schemas")
                .and_then(Value::as_object)
        })
        .flat_map(|s| s.keys().cloned())
        .collect();
    let mut rng = fastrand::Rng::with_seed(0x5eed_2026);
    let (mut generated, mut refused) = (0, 0);
    for round in 0..rounds {
        let mut set: Vec<Fragment> = fragments.clone();
        let victim = rng.usize(..set.len());
        for _ in 0..rng.usize(1..4) {
            let m = pick(&set[victim].doc, &mut rng, &schema_names);
            // A shared component is mutated in every fragment that has it, half the time, so
            // that mutations reach the generator and not only the conflict check.
            let shared = m.target.starts_with("/components/") && rng.bool();
            for (i, fragment) in set.iter_mut().enumerate() {
                if i == victim || (shared && fragment.doc.pointer(&m.target).is_some()) {
                    apply(&mut fragment.doc, &m);
                }
            }
        }
        let file = set[victim].path.clone();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            // Through the text, as regen reads it.
            for fragment in set.iter_mut() {
                let text = serde_json::to_string_pretty(&fragment.doc).unwrap();
                *fragment = Fragment::parse(&fragment.path, &text)?;
            }
            let merged = merge(&set, &amendments)?;
            generate(&merged, &amendments)
        }));
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        match outcome {
            Err(_) => panic!("round {round}: merge or generate panicked on a mutation of {name}"),
            Ok(Ok(_)) => generated += 1,
            Ok(Err(e)) => {
                refused += 1;
                let text = e.to_string();
                let names_a_file = text.contains(".json");
                let names_a_place = match &e {
                    Error::Invalid { .. } | Error::DanglingRef { .. } => {
                        text.contains(": /") || text.contains(".json: ")
                    }
                    Error::Json { line, .. } => *line > 0,
                    Error::Generate { operation, .. } => !operation.is_empty(),
                    _ => true,
                };
                assert!(
                    names_a_file && names_a_place,
                    "round {round} ({name}): {text}"
                );
            }
        }
    }
    assert!(generated + refused == rounds);
    println!("{rounds} rounds: {generated} generated, {refused} refused with a clear error");
}
