//! The PostgreSQL state store's TLS files as the binary meets them where libpq looks by
//! itself: `~/.postgresql/root.crt` that is a FIFO or a directory is refused (exit 2, named),
//! never waited on. No server is needed: the refusal comes before any connection.
use crate::common::*;

#[test]
fn a_fifo_or_directory_at_the_default_root_file_is_exit_2_naming_it() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    crate::common::write_ignoring_policy(dir.path());
    for kind in ["a FIFO", "a directory"] {
        let home = tempfile::tempdir().unwrap();
        let root = home.path().join(".postgresql/root.crt");
        std::fs::create_dir_all(root.parent().unwrap()).unwrap();
        match kind {
            "a FIFO" => {
                let path = std::ffi::CString::new(root.to_str().unwrap()).unwrap();
                // SAFETY: mkfifo(3) on a NUL-terminated path we own.
                assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
            }
            _ => std::fs::create_dir(&root).unwrap(),
        }
        // Nothing listens at port 1: a refusal before connecting is the only way to exit 2.
        let out = command(
            &server,
            &[
                "tokens",
                "plan",
                "--policy",
                "tokens.toml",
                "--state",
                "postgres://mpt@127.0.0.1:1/db?sslmode=require&connect_timeout=5",
            ],
        )
        .env("HOME", home.path())
        .current_dir(dir.path())
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{kind}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "sslrootcert {}: not a regular file ({kind})",
                root.display()
            )),
            "{kind}: {stderr}"
        );
    }
}
