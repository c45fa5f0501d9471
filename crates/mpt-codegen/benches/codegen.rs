//! Time of the merge + generate step (the library call, not cargo) on the repository's fragments
//! and on 50, 200 and 800 synthetic ones, to show how it scales. Prints a Markdown table; asserts
//! no timing.

use std::path::Path;
use std::time::{Duration, Instant};

use mpt_codegen::amend::Amendments;
use mpt_codegen::fragment::{Fragment, load_dir};
use mpt_codegen::generate::generate;
use mpt_codegen::merge::merge;
use serde_json::json;

fn median_time(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm up
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// One fragment per operation, in the published style: a path of its own, a schema of its own,
/// and the shared ProblemDetails (deduplicated by the merge).
fn synthetic(i: usize) -> Fragment {
    let doc = json!({
        "openapi": "3.0.1",
        "info": {"title": "Synthetic", "version": format!("5.0.{i}")},
        "paths": {format!("/public/v1/things{i}/{{id}}"): {"get": {
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/Thing{i}")}}}},
                "404": {"description": "Not Found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
            }
        }}},
        "components": {"schemas": {
            format!("Thing{i}"): {"type": "object", "additionalProperties": false, "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "revision": {"type": "integer", "format": "int32"},
                "state": {"type": "string", "enum": ["On", "Off"]}, "at": {"type": "string", "format": "date-time", "nullable": true}
            }},
            "ProblemDetails": {"type": "object", "properties": {"title": {"type": "string", "nullable": true}, "status": {"type": "integer", "format": "int32", "nullable": true}}, "additionalProperties": {}}
        }}
    });
    Fragment::parse(format!("thing-{i}.json"), &doc.to_string()).unwrap()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The tokens unit's amendments, as `regen` takes them for `openapi/fragments` (those of a
    // module name operations no fragment here defines).
    let amendments = Amendments::read(&root.join("openapi/amendments.json"))
        .unwrap()
        .for_module(None);
    let fragments = load_dir(&root.join("openapi/fragments")).unwrap();
    let mut rows = vec![];
    let real = median_time(10, || {
        let merged = merge(&fragments, &amendments).unwrap();
        generate(&merged, &amendments).unwrap();
    });
    rows.push((
        format!("our {} fragments", fragments.len()),
        fragments.len(),
        real,
    ));

    let mut rules = amendments.clone();
    // The patches and generator settings name the real API's schemas; the rules stay.
    rules.patches.clear();
    rules.generator.replacements.clear();
    for n in [50, 200, 800] {
        let set: Vec<Fragment> = (0..n).map(synthetic).collect();
        let t = median_time(if n > 200 { 3 } else { 5 }, || {
            let merged = merge(&set, &rules).unwrap();
            generate(&merged, &rules).unwrap();
        });
        rows.push((format!("{n} synthetic fragments"), n, t));
    }

    // The API change report of a 3,000-operation spec against a copy with a change in every
    // tenth schema (a property removed from the answer, a bound narrowed).
    let merged = merge(&(0..3000).map(synthetic).collect::<Vec<_>>(), &rules)
        .unwrap()
        .doc;
    let mut mutated = merged.clone();
    for i in (0..3000).step_by(10) {
        let thing = &mut mutated["components"]["schemas"][format!("Thing{i}")]["properties"];
        thing.as_object_mut().unwrap().remove("name");
        thing["id"]["maxLength"] = json!(8);
    }
    let tolerance = mpt_codegen::diff::Tolerance::of(&amendments);
    let mut changes = 0;
    let diff_time = median_time(3, || {
        changes = mpt_codegen::diff::compare(&merged, &mutated, tolerance)
            .changes
            .len();
    });

    let base = rows[1].2.as_secs_f64() / rows[1].1 as f64;
    let mut table = String::from(
        "| codegen: merge + generate | time | per fragment | vs 50 fragments, per fragment |\n| --- | --- | --- | --- |\n",
    );
    for (what, n, t) in &rows {
        let per = t.as_secs_f64() / *n as f64;
        table.push_str(&format!(
            "| {what} | {:.1} ms | {:.2} ms | {:.2}× |\n",
            t.as_secs_f64() * 1e3,
            per * 1e3,
            per / base
        ));
    }
    table.push_str(&format!(
        "\n| diff: API change report | time | changes found |\n| --- | --- | --- |\n| 3,000 operations vs a copy with 600 changes | {:.0} ms | {changes} |\n",
        diff_time.as_secs_f64() * 1e3
    ));
    let _ = std::fs::create_dir_all(root.join("target/bench"));
    let _ = std::fs::write(root.join("target/bench/codegen.md"), &table);
    // `cargo xtask bench` prints one table of every bench; run alone, this one prints its own.
    if std::env::var_os("MPT_BENCH_FROM_XTASK").is_none() {
        println!("{table}");
    }
}
