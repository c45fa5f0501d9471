//! Checks of the repository as a whole: the CI scripts, and the spec driving what the facade
//! sends.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The target directory this test was built in (`.../<target>/debug/deps/repo-...`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// The CI scripts find binaries through cargo, so `.ci/run` works with `CARGO_TARGET_DIR` set
/// (before, they ran `./target/debug/mpt-mock`, absent or stale with a shared target directory).
#[test]
fn ci_scripts_find_binaries_through_cargo() {
    for entry in std::fs::read_dir(root().join(".ci")).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split('#').next().unwrap_or("");
            assert!(
                !code.contains("target/debug") && !code.contains("target/release"),
                "{}:{}: a binary path guessed inside ./target: {line}",
                path.display(),
                i + 1
            );
        }
    }
    let target = target_dir();
    let out = Command::new("bash")
        .args(["-c", "source .ci/lib.sh && cargo_bin mpt-mock mpt-mock"])
        .current_dir(root())
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(
        bin.starts_with(&target),
        "{} is not under {}",
        bin.display(),
        target.display()
    );
    assert!(bin.is_file(), "{}", bin.display());
}

/// Copies the workspace's sources (not `target/` or `.git/`) to `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if matches!(
            name.to_str(),
            Some("target" | ".git" | "node_modules" | ".schemathesis")
        ) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} holds no {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

/// The spec drives what the facade sends: in a scratch copy, the enable operation's path is
/// renamed in its fragment and amendments, `cargo xtask regen` runs, and the facade, unchanged,
/// sends the new path (seen by a tiny loopback server in a small program built on the copy).
///
/// The copy is built in a target directory of its own: cargo names a path package's artifacts
/// the same in every clone, so building it in the shared one would overwrite this clone's.
#[test]
fn the_facade_follows_a_path_renamed_in_the_spec() {
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("repo");
    copy_tree(root(), &copy);
    replace_in(
        &copy.join("openapi/fragments/enable-api-token.json"),
        "/public/v1/accounts/api-tokens/{id}/enable",
        "/public/v1/accounts/api-tokens/{id}/activate",
    );
    let amendments = copy.join("openapi/amendments.json");
    replace_in(&amendments, "~1{id}~1enable/post", "~1{id}~1activate/post");
    // Same operation, same Rust method: the new path keeps its operationId.
    replace_in(
        &amendments,
        "\"overrides\": {}",
        "\"overrides\": {\"POST /public/v1/accounts/api-tokens/{id}/activate\": \"enable_api_token\"}",
    );
    let run = |command: &mut Command, what: &str| {
        let out = command.output().unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{what} failed:\n{text}");
        text
    };
    // This clone's xtask (the test build made it), working on the copy.
    let xtask = target_dir()
        .join("debug")
        .join(format!("xtask{}", std::env::consts::EXE_SUFFIX));
    if !xtask.is_file() {
        run(
            Command::new(env!("CARGO"))
                .args(["build", "--quiet", "-p", "xtask"])
                .current_dir(root())
                .env("CARGO_TARGET_DIR", target_dir()),
            "building the xtask",
        );
    }
    let regen = run(
        Command::new(&xtask).args(["regen", "--root"]).arg(&copy),
        "cargo xtask regen",
    );
    assert!(
        regen.contains("updated crates/mpt-api/src/generated.rs"),
        "{regen}"
    );
    assert!(regen.contains("moved from POST /public/v1/accounts/api-tokens/{id}/enable to POST /public/v1/accounts/api-tokens/{id}/activate"), "{regen}");
    let generated = std::fs::read_to_string(copy.join("crates/mpt-api/src/generated.rs")).unwrap();
    assert!(generated.contains("{}/public/v1/accounts/api-tokens/{}/activate"));
    // A small program on the copy's unchanged facade.
    let check = scratch.path().join("check");
    std::fs::create_dir_all(check.join("src")).unwrap();
    std::fs::write(
        check.join("Cargo.toml"),
        format!(
            "[package]\nname = \"follows-spec\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[dependencies]\nmpt = {{ path = {:?} }}\ntokio = {{ version = \"1\", features = [\"macros\", \"rt\", \"net\", \"io-util\"] }}\n",
            copy.join("crates/mpt")
        ),
    )
    .unwrap();
    std::fs::copy(root().join("Cargo.lock"), check.join("Cargo.lock")).unwrap();
    std::fs::write(check.join("src/main.rs"), FOLLOWS_SPEC_PROGRAM).unwrap();
    let sent = run(
        Command::new(env!("CARGO"))
            .args(["run", "--quiet"])
            .current_dir(&check)
            .env("CARGO_TARGET_DIR", target_dir().join("follows-spec")),
        "the program on the copy",
    );
    assert!(
        sent.contains("sent: POST /public/v1/accounts/api-tokens/TKN-1111-2222/activate HTTP/1.1"),
        "{sent}"
    );
}

/// The program built on the scratch copy: enables a token against a tiny server and prints the
/// request line it got.
const FOLLOWS_SPEC_PROGRAM: &str = r##"
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap() == 1 {
            head.push(byte[0]);
        }
        let body = r#"{"id":"TKN-1111-2222","status":"Active"}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string()
    });
    let client = mpt::Client::builder()
        .base_url(url)
        .api_token("k")
        .retry(mpt::RetryPolicy::none())
        .build()
        .unwrap();
    let token = client.enable("TKN-1111-2222").await.unwrap();
    assert_eq!(token.status(), mpt::TokenStatus::Active);
    println!("sent: {}", server.await.unwrap());
}
"##;
