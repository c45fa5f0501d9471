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
        std::fs::copy(
            &path,
            root.join("openapi/fragments")
                .join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    for file in [
        "openapi/amendments.json",
        "openapi/marketplace-api-tokens.json",
        "crates/mpt-api/src/generated.rs",
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
