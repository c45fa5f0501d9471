//! `mpt tokens plan|apply` and secret sinks the apply could not use: a sink command whose
//! program the system would not start as it is (a `#!` interpreter or an ELF loader that is
//! missing, a file that is no program) is refused before anything is made.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mpt_mock::{DEFAULT_ACCOUNT, DEFAULT_MODULE};

use crate::common::{mock, mpt, text};

/// A policy of one entry, `name`, its secret to `sink`.
fn write_policy(path: &Path, name: &str, sink: &str) {
    std::fs::write(
        path,
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"{name}\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n"
        ),
    )
    .unwrap();
}

/// An executable file holding `bytes`.
fn program(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `plan` and `apply` with a sink command `program`: both exit 2 naming it and saying
/// `expected`, and nothing is made.
fn refused(program: &Path, expected: &str) {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    let state = dir.path().join("state");
    let shown = program.display().to_string();
    write_policy(&policy, "svc", &format!("{{ command = [\"{shown}\"] }}"));
    for verb in ["plan", "apply"] {
        let out = mpt(
            &server,
            &[
                "tokens",
                verb,
                "--policy",
                policy.to_str().unwrap(),
                "--state",
                state.to_str().unwrap(),
            ],
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{verb} {shown}: {err}");
        assert!(
            err.contains(&format!("command \"{shown}\" cannot be started: "))
                && err.contains(expected),
            "{verb} {shown}: {err}"
        );
    }
    assert_eq!(server.tokens_created(), 0, "{shown}");
}

/// A script whose `#!` interpreter is missing, or a directory, and one whose interpreter is a
/// script whose own interpreter is missing: refused, the interpreter named.
#[test]
fn a_script_whose_interpreter_cannot_start_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sh");
    program(&missing, b"#!/nonexistent/interp -e\ncat\n");
    refused(
        &missing,
        &format!(
            "{}'s #! interpreter /nonexistent/interp: not found",
            missing.display()
        ),
    );
    let directory = dir.path().join("directory.sh");
    program(
        &directory,
        format!("#! {}\ncat\n", dir.path().display()).as_bytes(),
    );
    refused(
        &directory,
        &format!(
            "#! interpreter {}: not a regular file",
            dir.path().display()
        ),
    );
    let nested = dir.path().join("nested.sh");
    program(&nested, format!("#!{}\n", missing.display()).as_bytes());
    refused(&nested, "#! interpreter /nonexistent/interp: not found");
}

/// An ELF program (a copy of `/bin/true`) whose loader (`PT_INTERP`) is missing: refused, the
/// loader named.
#[cfg(target_os = "linux")]
#[test]
fn an_elf_program_whose_loader_is_missing_is_refused() {
    let mut bytes = std::fs::read("/bin/true")
        .or_else(|_| std::fs::read("/usr/bin/true"))
        .unwrap();
    // The loader's path is the first "/lib…ld…" string near the start of the file.
    let head = &bytes[..bytes.len().min(8192)];
    let start = (0..head.len())
        .find(|&i| {
            head[i..].starts_with(b"/lib") && {
                let end = head[i..].iter().position(|&b| b == 0).unwrap_or(0);
                head[i..i + end].windows(3).any(|w| w == b"ld-")
            }
        })
        .expect("a dynamically linked /bin/true");
    let end = start + bytes[start..].iter().position(|&b| b == 0).unwrap();
    bytes[end - 1] = b'X';
    let loader = String::from_utf8(bytes[start..end].to_vec()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let nold = dir.path().join("nold");
    program(&nold, &bytes);
    refused(
        &nold,
        &format!(
            "{}'s ELF loader (PT_INTERP) {loader}: not found",
            nold.display()
        ),
    );
}

/// `apply` with `args` (after `tokens apply`) against `server`.
fn apply(server: &mpt_mock::MockServer, policy: &Path, state: &Path) -> std::process::Output {
    mpt(
        server,
        &[
            "tokens",
            "apply",
            "--policy",
            policy.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
    )
}

/// A name of 200 characters (the platform's longest) with a directory state: its create record
/// gets a file name that fits (its hex-encoded key is 414 bytes), the sink's failure leaves
/// it, and the next apply finds it and adopts the token made (no second one). The same for 110
/// characters (a key of 234 bytes: its record's temporary file name was over 255).
#[test]
fn a_name_of_200_characters_is_created_and_resumed_with_a_directory_state() {
    for length in [200, 110] {
        long_name_created_and_resumed(length);
    }
}

fn long_name_created_and_resumed(length: usize) {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    let state = dir.path().join("state");
    let name = format!("long {}", "n".repeat(length - 5));
    assert_eq!(name.chars().count(), length);
    write_policy(
        &policy,
        &name,
        r#"{ command = ["sh", "-c", "cat > /dev/null; exit 3"] }"#,
    );
    let out = apply(&server, &policy, &state);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("was made; the secret sink failed"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(server.tokens_created(), 1);
    let records: Vec<String> = std::fs::read_dir(state.join("creates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].len() <= 255, "{records:?}");

    let file = dir.path().join("long.secret");
    write_policy(
        &policy,
        &name,
        &format!("{{ file = \"{}\" }}", file.display()),
    );
    let out = apply(&server, &policy, &state);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("1 adopted"), "{stdout}");
    assert_eq!(server.tokens_created(), 1, "no second token: {stdout}");
    assert!(
        std::fs::read_dir(state.join("creates"))
            .unwrap()
            .next()
            .is_none()
    );
    assert!(std::fs::metadata(&file).is_ok());
}

/// A secret file declared inside the state directory (spelled through `..`): `plan` and
/// `apply` refuse it, exit 2, before anything is made; no store holds a secret.
#[test]
fn a_secret_file_inside_the_state_directory_is_refused() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    let state = dir.path().join("state");
    std::fs::create_dir(dir.path().join("other")).unwrap();
    let inside = dir
        .path()
        .join("other/../state/creates/ACC-0000-0001-00.json");
    std::fs::create_dir_all(state.join("creates")).unwrap();
    {
        write_policy(
            &policy,
            "svc",
            &format!("{{ file = \"{}\" }}", inside.display()),
        );
        for verb in ["plan", "apply"] {
            let out = mpt(
                &server,
                &[
                    "tokens",
                    verb,
                    "--policy",
                    policy.to_str().unwrap(),
                    "--state",
                    state.to_str().unwrap(),
                ],
            );
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{verb}: {err}");
            assert!(
                err.contains("accounts[0].tokens[0].secret: \"svc\": ")
                    && err.contains("is inside the state directory"),
                "{verb}: {err}"
            );
        }
    }
    assert_eq!(server.tokens_created(), 0);
}

/// Files the system does not start and `execvp` would hand to `/bin/sh`: a text file without
/// `#!` (`cat`: the shell would have run it and taken the secret), garbage after ELF's magic, an
/// empty file (it "succeeded", the secret gone nowhere): refused before anything is made.
#[test]
fn a_sink_program_that_is_no_program_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("noshebang.sh");
    program(&text, b"cat > /dev/null\n");
    refused(
        &text,
        "neither an ELF program nor a script starting with #!",
    );
    let garbage = dir.path().join("badelf");
    program(&garbage, b"\x7fELFgarbage");
    refused(&garbage, "not an ELF program the system starts");
    let empty = dir.path().join("empty.sh");
    program(&empty, b"");
    refused(&empty, "an empty file, not a program");
}

/// A failing sink that prints parts of the secret on stderr (half of its opaque part, the
/// secret split by a space, the secret uppercased): the failure shown names none of them; no
/// run of 8 characters of the opaque part shows, in any case.
#[test]
fn a_failing_sink_shows_no_part_of_the_secret() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    let state = dir.path().join("state");
    let got = dir.path().join("got");
    let sink = dir.path().join("part.sh");
    program(
        &sink,
        format!(
            "#!/bin/sh\nread s\nprintf '%s' \"$s\" > {}\no=${{s##*:}}\necho \"half: $(printf %s \"$o\" | cut -c3-18)\" >&2\necho \"split: $(printf %s \"$s\" | cut -c1-30) $(printf %s \"$s\" | cut -c31-)\" >&2\necho \"upper: $(printf %s \"$s\" | tr a-z A-Z)\" >&2\nexit 1\n",
            got.display()
        )
        .as_bytes(),
    );
    write_policy(
        &policy,
        "svc",
        &format!("{{ command = [\"{}\"] }}", sink.display()),
    );
    let out = apply(&server, &policy, &state);
    assert_eq!(out.status.code(), Some(1));
    let shown = format!("{}{}", text(&out.stdout), text(&out.stderr)).to_ascii_lowercase();
    assert!(shown.contains("half: [redacted]"), "{shown}");
    let secret = std::fs::read_to_string(&got).unwrap();
    let opaque = secret.rsplit_once(':').unwrap().1.to_ascii_lowercase();
    assert!(opaque.len() >= 16, "{secret}");
    for at in 0..=opaque.len() - 8 {
        let run = &opaque[at..at + 8];
        assert!(!shown.contains(run), "{run} of the secret shown: {shown}");
    }
}
