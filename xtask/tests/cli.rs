//! The xtask binary, run for real against a temporary copy of the repository's inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A temporary repository holding copies of openapi/ and the generated file.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("openapi/fragments")).unwrap();
    std::fs::create_dir_all(root.join("crates/mpt-api/src")).unwrap();
    for entry in std::fs::read_dir(repo().join("openapi/fragments")).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue; // the platform modules' directories: the API tokens pages suffice here
        }
        std::fs::copy(
            &path,
            root.join("openapi/fragments")
                .join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    std::fs::create_dir_all(root.join("crates/mpt")).unwrap();
    for file in [
        "openapi/amendments.json",
        "openapi/marketplace-api-tokens.json",
        "crates/mpt-api/src/generated.rs",
        "crates/mpt-api/src/lib.rs",
        "crates/mpt-api/Cargo.toml",
        "crates/mpt/Cargo.toml",
    ] {
        std::fs::copy(repo().join(file), root.join(file)).unwrap();
    }
    dir
}

fn xtask(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_passes_on_the_checked_in_files_and_regen_reports_unchanged() {
    let dir = scratch();
    let out = xtask(dir.path(), &["regen", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = xtask(dir.path(), &["regen"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("unchanged openapi/marketplace-api-tokens.json"),
        "{stdout}"
    );
    assert!(
        stdout.contains("unchanged crates/mpt-api/src/generated.rs"),
        "{stdout}"
    );
}

#[test]
fn a_changed_description_makes_check_fail_and_regen_carries_it_into_the_code() {
    let dir = scratch();
    let fragment = dir.path().join("openapi/fragments/enable-api-token.json");
    let original = std::fs::read_to_string(&fragment).unwrap();
    let edited = original.replace(
        "Changes API token state to Active",
        "Switches the token back on",
    );
    assert_ne!(original, edited);
    std::fs::write(&fragment, edited).unwrap();

    let out = xtask(dir.path(), &["regen", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("stale: openapi/marketplace-api-tokens.json"),
        "{stdout}"
    );
    assert!(
        stdout.contains("stale: crates/mpt-api/src/generated.rs"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+") && stdout.contains("Switches the token back on"),
        "{stdout}"
    );
    // --check wrote nothing.
    let generated = dir.path().join("crates/mpt-api/src/generated.rs");
    assert!(
        !std::fs::read_to_string(&generated)
            .unwrap()
            .contains("Switches the token back on")
    );

    let out = xtask(dir.path(), &["regen"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("updated crates/mpt-api/src/generated.rs"));
    assert!(
        std::fs::read_to_string(&generated)
            .unwrap()
            .contains("Switches the token back on")
    );
    let first = std::fs::read(&generated).unwrap();
    let out = xtask(dir.path(), &["regen"]);
    assert!(text(&out.stdout).contains("unchanged crates/mpt-api/src/generated.rs"));
    assert_eq!(
        first,
        std::fs::read(&generated).unwrap(),
        "two runs must be byte-identical"
    );
}

#[test]
fn bad_input_exits_2_names_the_place_and_writes_nothing() {
    let dir = scratch();
    let fragment = dir.path().join("openapi/fragments/get-api-token.json");
    let text_before = std::fs::read_to_string(&fragment).unwrap();
    // Break line 3 of the fragment.
    let broken: Vec<String> = text_before
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 2 {
                format!("{l} oops")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&fragment, broken.join("\n")).unwrap();
    let merged = dir.path().join("openapi/marketplace-api-tokens.json");
    std::fs::write(&merged, "stale on purpose").unwrap();

    let out = xtask(dir.path(), &["regen"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("get-api-token.json:3:"), "{stderr}");
    assert!(stderr.contains("invalid JSON"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&merged).unwrap(),
        "stale on purpose"
    );
}

#[test]
fn import_extracts_the_fragment_from_a_page_and_reports_its_status() {
    let dir = scratch();
    let target = dir.path().join("openapi/fragments/enable-api-token.json");
    let fragment = std::fs::read_to_string(&target).unwrap();
    let compact: serde_json::Value = serde_json::from_str(&fragment).unwrap();
    let page = dir.path().join("enable-token.md");
    std::fs::write(
        &page,
        format!("# Enable token\n\nSome prose.\n\n```json\n{compact}\n```\n\n---\nMore prose.\n"),
    )
    .unwrap();

    let out = xtask(dir.path(), &["import", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("unchanged openapi/fragments/enable-api-token.json"));

    std::fs::remove_file(&target).unwrap();
    let out = xtask(dir.path(), &["import", page.to_str().unwrap()]);
    assert!(text(&out.stdout).contains("new openapi/fragments/enable-api-token.json"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), fragment);

    let prose = dir.path().join("prose.md");
    std::fs::write(
        &prose,
        "# Just prose\n\n```json\n{\"id\": \"TKN-1\"}\n```\n",
    )
    .unwrap();
    let out = xtask(
        dir.path(),
        &["import", page.to_str().unwrap(), prose.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("prose.md") && stderr.contains("no embedded OpenAPI document"),
        "{stderr}"
    );
}

/// When one output cannot be written, no output changes and no temporary file is left.
#[test]
fn regen_writes_every_output_or_none() {
    let dir = scratch();
    let fragment = dir.path().join("openapi/fragments/enable-api-token.json");
    let edited = std::fs::read_to_string(&fragment)
        .unwrap()
        .replace("Changes API token state to Active", "Switches it on");
    std::fs::write(&fragment, edited).unwrap();
    let merged = dir.path().join("openapi/marketplace-api-tokens.json");
    let before = std::fs::read_to_string(&merged).unwrap();
    // The generated file's temporary path is taken by a directory: writing it fails (as root,
    // permissions would not stop us).
    let blocker = dir.path().join("crates/mpt-api/src/generated.rs.regen-tmp");
    std::fs::create_dir(&blocker).unwrap();

    let out = xtask(dir.path(), &["regen"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("generated.rs.regen-tmp"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&merged).unwrap(),
        before,
        "the merged spec changed"
    );
    assert!(
        !dir.path()
            .join("openapi/marketplace-api-tokens.json.regen-tmp")
            .exists()
    );

    std::fs::remove_dir(&blocker).unwrap();
    let out = xtask(dir.path(), &["regen"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(&merged)
            .unwrap()
            .contains("Switches it on")
    );
}

fn page_for(doc: &serde_json::Value) -> String {
    format!("# A page\n\n```json\n{doc}\n```\n")
}

/// import checks what regen checks, refuses to replace another operation's fragment without
/// --force, and never lets an operationId steer the file out of openapi/fragments/.
#[test]
fn import_validates_like_regen_and_guards_other_fragments() {
    let dir = scratch();
    let fragments = dir.path().join("openapi/fragments");
    let enable = fragments.join("enable-api-token.json");
    let original = std::fs::read_to_string(&enable).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&original).unwrap();
    let page = dir.path().join("page.md");

    // A dangling $ref in the page.
    let mut dangling = doc.clone();
    let text_doc = dangling.to_string().replace(
        "#/components/schemas/ProblemDetails",
        "#/components/schemas/ProblemDetailz",
    );
    dangling = serde_json::from_str(&text_doc).unwrap();
    std::fs::write(&page, page_for(&dangling)).unwrap();
    let out = xtask(dir.path(), &["import", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("page.md") && stderr.contains("ProblemDetailz"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&enable).unwrap(), original);

    // A page for another route whose derived name is an existing fragment's.
    let mut other = doc.clone();
    let paths = other["paths"].as_object_mut().unwrap();
    let (route, item) = paths
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    paths.remove(&route);
    paths.insert(route.replace("api-tokens", "api-keys"), item);
    std::fs::write(&page, page_for(&other)).unwrap();
    let out = xtask(dir.path(), &["import", page.to_str().unwrap()]);
    // (the rule names it enable_api_key, a new file: no clash) ...
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let key_fragment = fragments.join("enable-api-key.json");
    assert!(key_fragment.exists());
    std::fs::remove_file(&key_fragment).unwrap();
    // ... but with an override naming it like the enable fragment, it would replace it.
    let amendments_path = dir.path().join("openapi/amendments.json");
    let mut amendments: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&amendments_path).unwrap()).unwrap();
    let key = format!("POST {}", route.replace("api-tokens", "api-keys"));
    amendments["operationIds"]["overrides"][&key] = "enable_api_token".into();
    std::fs::write(&amendments_path, amendments.to_string()).unwrap();
    let out = xtask(dir.path(), &["import", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("would replace") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&enable).unwrap(), original);

    // An override that would escape the fragments directory is refused as data.
    amendments["operationIds"]["overrides"][&key] = "../../x".into();
    std::fs::write(&amendments_path, amendments.to_string()).unwrap();
    let out = xtask(dir.path(), &["import", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/operationIds/overrides/"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("x.json").exists());
}

/// Two clones, one target directory: the xtask binary built in one clone (this repository)
/// works on the clone it is run in, never on the one it was compiled in.
#[test]
fn the_repository_is_found_at_run_time_not_compile_time() {
    let clone_b = scratch();
    std::fs::write(clone_b.path().join("Cargo.toml"), "[workspace]\n").unwrap();
    std::fs::create_dir_all(clone_b.path().join("xtask")).unwrap();
    let fragment = clone_b
        .path()
        .join("openapi/fragments/enable-api-token.json");
    let edited = std::fs::read_to_string(&fragment)
        .unwrap()
        .replace("Changes API token state to Active", "Only in clone B");
    std::fs::write(&fragment, edited).unwrap();

    // As `cargo xtask` runs it in clone B: CARGO_MANIFEST_DIR is B's xtask/.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["regen", "--check"])
        .env("CARGO_MANIFEST_DIR", clone_b.path().join("xtask"))
        .current_dir(clone_b.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Only in clone B"),
        "{}",
        text(&out.stdout)
    );
    // Run directly from a folder inside clone B, with no cargo environment.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["regen"])
        .env_remove("CARGO_MANIFEST_DIR")
        .current_dir(clone_b.path().join("openapi/fragments"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let generated = clone_b.path().join("crates/mpt-api/src/generated.rs");
    assert!(
        std::fs::read_to_string(generated)
            .unwrap()
            .contains("Only in clone B")
    );
    // This clone (where the binary was built) was not touched.
    let ours = std::fs::read_to_string(repo().join("crates/mpt-api/src/generated.rs")).unwrap();
    assert!(!ours.contains("Only in clone B"));
    // Outside any clone: a clear error, exit 2.
    let nowhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["regen", "--check"])
        .env_remove("CARGO_MANIFEST_DIR")
        .current_dir(nowhere.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not inside the SDK's repository"),
        "{}",
        text(&out.stderr)
    );
}

/// `cargo xtask diff`: exit 0 without `--fail-on`, 1 with it when something breaks, 2 for bad
/// input naming the file; text, JSON and Markdown formats.
#[test]
fn diff_reports_changes_levels_and_exit_codes() {
    let dir = scratch();
    let old = dir.path().join("openapi/marketplace-api-tokens.json");
    let new = dir.path().join("new.json");
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&old).unwrap()).unwrap();
    spec["paths"]["/public/v1/accounts/api-tokens/{id}/enable"]
        .as_object_mut()
        .unwrap()
        .remove("post");
    std::fs::write(&new, spec.to_string()).unwrap();
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());

    let out = xtask(dir.path(), &["diff", o, o, "--fail-on", "breaking"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("no API changes"),
        "{}",
        text(&out.stdout)
    );

    let out = xtask(dir.path(), &["diff", o, n]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 breaking"), "{stdout}");
    assert!(
        stdout.contains("operation POST /public/v1/accounts/api-tokens/{id}/enable removed"),
        "{stdout}"
    );

    let out = xtask(dir.path(), &["diff", o, n, "--fail-on", "breaking"]);
    assert_eq!(out.status.code(), Some(1));

    let out = xtask(dir.path(), &["diff", o, n, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["breaking"], 1);
    assert_eq!(json["changes"][0]["rule"], "operation-removed");
    assert_eq!(
        json["changes"][0]["oldPointer"],
        "/paths/~1public~1v1~1accounts~1api-tokens~1{id}~1enable/post"
    );

    let out = xtask(dir.path(), &["diff", o, n, "--format", "markdown"]);
    let md = text(&out.stdout);
    assert!(
        md.contains("## Version advice") && md.contains("→ **0.2.0**"),
        "{md}"
    );
    assert!(md.contains("## CHANGELOG draft"), "{md}");

    std::fs::write(&new, "{ not json").unwrap();
    let out = xtask(dir.path(), &["diff", o, n]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("new.json:1:"),
        "{}",
        text(&out.stderr)
    );
    let out = xtask(dir.path(), &["diff", o, "missing.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("missing.json"),
        "{}",
        text(&out.stderr)
    );
}

/// `regen` says what changed in the API against the checked-in spec, and in the generated
/// client's Rust API, before it writes.
#[test]
fn regen_prints_the_api_and_rust_api_changes() {
    let dir = scratch();
    let fragment = dir.path().join("openapi/fragments/get-api-token.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fragment).unwrap()).unwrap();
    doc["paths"]["/public/v1/accounts/api-tokens/{id}"]["get"]["parameters"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "expand", "in": "query", "schema": {"type": "string"}}));
    std::fs::write(&fragment, doc.to_string()).unwrap();
    let out = xtask(dir.path(), &["regen"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("API changes against the checked-in spec"),
        "{stdout}"
    );
    assert!(
        stdout.contains("optional query parameter `expand` added"),
        "{stdout}"
    );
    assert!(stdout.contains("version advice: mpt-api"), "{stdout}");
    assert!(
        stdout.contains("Rust API of mpt-api (generated.rs)"),
        "{stdout}"
    );
    assert!(stdout.contains("pub fn expand<V>"), "{stdout}");
    // Nothing changed the second time.
    let out = xtask(dir.path(), &["regen"]);
    assert!(
        !text(&out.stdout).contains("API changes"),
        "{}",
        text(&out.stdout)
    );
}

/// `import` says what the imported page changes against the fragment it replaces.
#[test]
fn import_prints_the_changes_against_the_replaced_fragment() {
    let dir = scratch();
    let target = dir.path().join("openapi/fragments/enable-api-token.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    doc["paths"]["/public/v1/accounts/api-tokens/{id}/enable"]["post"]["responses"]
        .as_object_mut()
        .unwrap()
        .remove("404");
    let page = dir.path().join("enable.md");
    std::fs::write(&page, format!("# Enable\n\n```json\n{doc}\n```\n")).unwrap();
    let out = xtask(dir.path(), &["import", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("changed openapi/fragments/enable-api-token.json"),
        "{stdout}"
    );
    assert!(
        stdout.contains("against the fragment it replaces"),
        "{stdout}"
    );
    assert!(stdout.contains("error response 404 removed"), "{stdout}");
}

/// `cargo xtask diff --ignore FILE`: a reviewed break (named by operation and rule id, ours or
/// oasdiff's) leaves the report and the verdict; JSON rows carry `oasdiffId`; an OpenAPI 3.1
/// side is read as 3.0, and `import` takes a 3.1 page.
#[test]
fn diff_ignores_reviewed_changes_and_reads_openapi_3_1() {
    let dir = scratch();
    let old = dir.path().join("openapi/marketplace-api-tokens.json");
    let new = dir.path().join("new.json");
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&old).unwrap()).unwrap();
    let mut removed = spec.clone();
    removed["paths"]["/public/v1/accounts/api-tokens/{id}/enable"]
        .as_object_mut()
        .unwrap()
        .remove("post");
    std::fs::write(&new, removed.to_string()).unwrap();
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let out = xtask(dir.path(), &["diff", o, n, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["changes"][0]["oasdiffId"],
        "api-removed-without-deprecation"
    );

    let ignore = dir.path().join("accepted.md");
    std::fs::write(
        &ignore,
        "# Accepted breaks\n- 2026-12-05 POST /public/v1/accounts/api-tokens/{id}/enable api-removed-without-deprecation (agreed)\n",
    )
    .unwrap();
    let i = ignore.to_str().unwrap();
    let out = xtask(
        dir.path(),
        &["diff", o, n, "--fail-on", "breaking", "--ignore", i],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("no API changes"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("1 change(s) accepted by"),
        "{}",
        text(&out.stderr)
    );
    // Another operation's line accepts nothing.
    std::fs::write(
        &ignore,
        "GET /public/v1/accounts/api-tokens operation-removed\n",
    )
    .unwrap();
    let out = xtask(
        dir.path(),
        &["diff", o, n, "--fail-on", "breaking", "--ignore", i],
    );
    assert_eq!(out.status.code(), Some(1));
    let out = xtask(dir.path(), &["diff", o, n, "--ignore", "nowhere.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nowhere.txt"),
        "{}",
        text(&out.stderr)
    );

    // The same spec labelled 3.1, its nullables spelled as type lists: no change.
    let mut v31 = spec.clone();
    to_31(&mut v31);
    assert!(
        v31.to_string().contains("\"null\""),
        "nothing was converted"
    );
    let text31 = v31.to_string();
    std::fs::write(&new, &text31).unwrap();
    let out = xtask(dir.path(), &["diff", o, n, "--fail-on", "breaking"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("no API changes"),
        "{}",
        text(&out.stdout)
    );

    // A 3.1 docs page is imported as its 3.0 reading: the API does not change.
    let target = dir.path().join("openapi/fragments/enable-api-token.json");
    let mut page: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    to_31(&mut page);
    let page_file = dir.path().join("enable-token-3.1.md");
    std::fs::write(
        &page_file,
        format!("# Enable token\n\n```json\n{page}\n```\n"),
    )
    .unwrap();
    let out = xtask(dir.path(), &["import", page_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert_eq!(written["openapi"], "3.0.3");
    assert!(
        !text(&out.stdout).contains("against the fragment it replaces"),
        "the 3.1 reading changed the API: {}",
        text(&out.stdout)
    );
}

/// `doc` as OpenAPI 3.1: `nullable` spelled as a `type` list.
fn to_31(doc: &mut serde_json::Value) {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(obj) => {
                if obj.get("nullable") == Some(&serde_json::json!(true))
                    && let Some(t) = obj.get("type").cloned()
                {
                    obj.remove("nullable");
                    obj.insert("type".into(), serde_json::json!([t, "null"]));
                }
                obj.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    doc["openapi"] = serde_json::json!("3.1.0");
    walk(doc);
}

/// `import` of a whole spec: one line per operation (new, or refused with why) and a summary;
/// the API tokens page it also publishes stays as it was.
#[test]
fn import_of_a_whole_spec_reports_each_operation() {
    let dir = scratch();
    let spec = repo().join("crates/mpt-codegen/tests/fixtures/import/whole.json");
    let page = dir.path().join("openapi/fragments/list-api-tokens.json");
    let before = std::fs::read_to_string(&page).unwrap();
    let out = xtask(dir.path(), &["import", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("new openapi/fragments/catalog/get-product-document.json (GET /public/v1/catalog/products/{productId}/documents/{id})"),
        "{stdout}"
    );
    assert!(
        stdout.contains("refused GET /public/v1/accounts/api-tokens: kept on its docs page ./openapi/fragments/list-api-tokens.json"),
        "{stdout}"
    );
    assert!(
        stdout.contains("refused GET /v1/odd: its path names no platform module"),
        "{stdout}"
    );
    assert!(stdout.contains("5 new, 2 refused"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&page).unwrap(), before);
    let again = text(&xtask(dir.path(), &["import", spec.to_str().unwrap()]).stdout);
    assert!(again.contains("2 refused, 5 unchanged"), "{again}");
}

/// `regen --verify` builds what it generated and, when a module does not compile, exits 1 naming
/// the operation (here a stand-in `mpt-api` crate of one module with a type error in one
/// operation's builder, and one in a type).
#[test]
fn verify_names_the_operation_that_does_not_compile() {
    let dir = scratch();
    let root = dir.path();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"crates/mpt-api\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("crates/mpt-api/Cargo.toml"),
        "[package]\nname = \"mpt-api\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[features]\nfull = []\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("crates/mpt-api/src/modules")).unwrap();
    std::fs::write(
        root.join("crates/mpt-api/src/lib.rs"),
        "#[cfg(feature = \"full\")]\n#[path = \"modules/catalog.rs\"]\npub mod catalog;\n",
    )
    .unwrap();
    let broken = "pub mod types {\n    pub struct Thing {\n        pub x: Missing,\n    }\n}\n\
pub struct OperationInfo {\n    pub operation_id: &'static str,\n}\n\
pub struct GetThing<'a>(pub &'a ());\n\
impl<'a> GetThing<'a> {\n    pub fn send(self) -> u8 {\n        let n: u8 = \"not a number\";\n\
        let _info = OperationInfo {\n            operation_id: \"get_thing\",\n        };\n        n\n    }\n}\n";
    std::fs::write(root.join("crates/mpt-api/src/modules/catalog.rs"), broken).unwrap();

    let out = xtask(root, &["regen", "--verify"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("(in operation get_thing)"), "{stdout}");
    assert!(
        stdout.contains("(in type Thing (schema Thing))"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("the generated client does not compile"),
        "{}",
        text(&out.stderr)
    );
}

/// `cargo xtask diff` writing to a reader that closed the pipe (`| head -1`) ends quietly, and
/// to a full device (`> /dev/full`) fails with exit 2 and an error naming standard output:
/// never a panic (exit 101).
#[test]
fn diff_output_errors_end_cleanly() {
    let dir = scratch();
    let old = dir.path().join("openapi/marketplace-api-tokens.json");
    let new = dir.path().join("new.json");
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&old).unwrap()).unwrap();
    spec["paths"]
        .as_object_mut()
        .unwrap()
        .retain(|path, _| path.ends_with("/enable"));
    std::fs::write(&new, spec.to_string()).unwrap();
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    // The reader goes away before the report is written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(dir.path())
        .args(["diff", o, n, "--format", "markdown"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    // A full device.
    if Path::new("/dev/full").exists() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("--root")
            .arg(dir.path())
            .args(["diff", o, n])
            .stdout(full)
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("error: standard output: "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A module new in the platform's next spec: regen (and `--check`) refuse to generate what
/// nothing would compile, naming the feature and the `mod` to add; once they are added, regen
/// generates it.
#[test]
fn a_new_module_must_be_wired_before_regen_generates_it() {
    let dir = scratch();
    let root = dir.path();
    let spec = repo().join("crates/mpt-codegen/tests/fixtures/import/new-module.json");
    let out = xtask(root, &["import", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(root.join("openapi/fragments/helpdesk").is_dir());
    for args in [&["regen", "--check"][..], &["regen"][..]] {
        let out = xtask(root, args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("`helpdesk = []`"), "{stderr}");
        assert!(
            stderr.contains("\"helpdesk\" in the `full` feature"),
            "{stderr}"
        );
        assert!(stderr.contains("pub mod helpdesk;"), "{stderr}");
        assert!(!root.join("crates/mpt-api/src/modules/helpdesk.rs").exists());
    }
    let manifest = root.join("crates/mpt-api/Cargo.toml");
    let text_of = |p: &Path| std::fs::read_to_string(p).unwrap();
    let wired = text_of(&manifest)
        .replace(
            "full = [\"accounts\",",
            "full = [\"accounts\", \"helpdesk\",",
        )
        .replace("[features]\n", "[features]\nhelpdesk = []\n");
    std::fs::write(&manifest, wired).unwrap();
    let lib = root.join("crates/mpt-api/src/lib.rs");
    let wired = text_of(&lib).replace(
        "\nmod secret;",
        "\n/// helpdesk\n#[cfg(feature = \"helpdesk\")]\n#[path = \"modules/helpdesk.rs\"]\npub mod helpdesk;\nmod secret;",
    );
    std::fs::write(&lib, wired).unwrap();
    let out = xtask(root, &["regen"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(root.join("crates/mpt-api/src/modules/helpdesk.rs").exists());
}

/// A whole spec or module file that no longer has an operation of a module it covers: the
/// operation is reported `missing from this spec` and kept; `--prune` deletes it (`removed`).
#[test]
fn operations_a_module_file_no_longer_has_are_reported_and_pruned_on_demand() {
    let dir = scratch();
    let root = dir.path();
    let spec = repo().join("crates/mpt-codegen/tests/fixtures/import/new-module.json");
    let out = xtask(root, &["import", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spec).unwrap()).unwrap();
    doc["paths"]
        .as_object_mut()
        .unwrap()
        .remove("/public/v1/helpdesk/cases/{id}");
    let smaller = root.join("smaller.json");
    std::fs::write(&smaller, doc.to_string()).unwrap();
    let gone = root.join("openapi/fragments/helpdesk/get-case.json");
    assert!(gone.exists());
    let out = xtask(root, &["import", smaller.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("missing from this spec openapi/fragments/helpdesk/get-case.json (GET /public/v1/helpdesk/cases/{id})"),
        "{stdout}"
    );
    assert!(gone.exists(), "kept without --prune");
    let out = xtask(root, &["import", "--prune", smaller.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "removed openapi/fragments/helpdesk/get-case.json (GET /public/v1/helpdesk/cases/{id})"
        ),
        "{stdout}"
    );
    assert!(!gone.exists(), "deleted with --prune");
}
