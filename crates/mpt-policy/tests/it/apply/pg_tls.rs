//! TLS to the PostgreSQL state store as libpq takes it: X.509 v1 certificates (PostgreSQL's
//! own recipe makes them), and the certificate and key files (a FIFO never waited on, a key
//! others may read refused).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use mpt_policy::StoreError;
use mpt_policy::state::{self, StateLocation};
use mpt_testpg::{ServerCert, TestPostgres, TlsFiles};

use super::*;

/// Opens `url` for a plan (no lock, no write): the connection and nothing else.
async fn reach(url: &str) -> Result<(), StoreError> {
    state::open(
        &StateLocation::parse(url),
        &[DEFAULT_ACCOUNT.to_string()],
        None,
    )
    .await
    .map(drop)
}

/// The port and database of `pg`'s URL.
fn port_and_db(pg: &TestPostgres) -> (String, String) {
    let rest = pg.url().rsplit_once(':').unwrap().1;
    let (port, db) = rest.split_once('/').unwrap();
    (port.to_string(), db.to_string())
}

#[tokio::test]
async fn a_v1_server_certificate_is_taken_unchecked_and_refused_by_name_when_checked() {
    let test = "a_v1_server_certificate_is_taken_unchecked_and_refused_by_name_when_checked";
    let Some((pg, tls)) = TestPostgres::start_tls_with_or_skip(test, ServerCert::V1) else {
        return;
    };
    let (port, db) = port_and_db(&pg);
    let ca = tls.ca.display();
    // `tlsonly` is let in only over TLS: a connection proves the handshake.
    let url = |user: &str, query: &str| {
        format!("postgres://{user}@localhost:{port}/{db}?hostaddr=127.0.0.1&{query}")
    };
    let unchecked =
        |tls13: &'static str| ["", "sslmode=prefer", "sslmode=require"].map(move |q| (tls13, q));
    for (version, query) in unchecked("TLS 1.3") {
        reach(&url("tlsonly", query))
            .await
            .unwrap_or_else(|e| panic!("{version} {query:?}: {e}"));
    }
    // libpq takes it, verify-full too (the certificate is sound: only its version differs).
    let psql = std::process::Command::new(pg.bin().join("psql"))
        .args(["-X", "-A", "-t", "-c", "select 1", "-d"])
        .arg(format!(
            "host=localhost hostaddr=127.0.0.1 port={port} dbname={db} user=tlsonly \
             sslmode=verify-full sslrootcert={ca}"
        ))
        .output()
        .unwrap();
    assert!(psql.status.success(), "{psql:?}");
    // Checked (verify-ca, verify-full, require with a root file): refused, saying why.
    for query in [
        format!("sslmode=verify-full&sslrootcert={ca}"),
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        format!("sslmode=require&sslrootcert={ca}"),
    ] {
        let err = reach(&url("tlsonly", &query)).await.unwrap_err();
        let said = err.to_string();
        assert!(
            matches!(err, StoreError::Unreachable { .. })
                && said.contains("the server's certificate is X.509 v1")
                && said.contains("reissue it as v3"),
            "{query}: {said}"
        );
    }
    // A v1 client certificate is only sent: the server (OpenSSL) takes it and lets its role in.
    let (cert, key) = (tls.v1_client_cert.display(), tls.v1_client_key.display());
    reach(&url(
        mpt_testpg::CERT_ROLE,
        &format!("sslmode=require&sslcert={cert}&sslkey={key}"),
    ))
    .await
    .unwrap();
    // TLS 1.2 signs the handshake otherwise: checked with the v1 certificate's key too.
    pg.sql("alter system set ssl_max_protocol_version = 'TLSv1.2'")
        .unwrap();
    pg.restart().unwrap();
    assert_eq!(
        pg.sql("show ssl_max_protocol_version").unwrap().trim(),
        "TLSv1.2"
    );
    for (version, query) in unchecked("TLS 1.2") {
        reach(&url("tlsonly", query))
            .await
            .unwrap_or_else(|e| panic!("{version} {query:?}: {e}"));
    }
}

/// A URL of a port where nothing listens, with `query`: what is refused before connecting is
/// refused by name, anything else fails to connect.
fn nowhere(query: &str) -> String {
    format!("postgres://mpt@127.0.0.1:1/db?connect_timeout=5&{query}")
}

#[tokio::test]
async fn a_fifo_or_directory_as_a_tls_file_is_refused_without_waiting() {
    let dir = temp_dir("pg-tls-fifo");
    let fifo = dir.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let files = TlsFiles::new().unwrap();
    let (cert, key) = (files.client_cert.display(), files.client_key.display());
    let (f, d) = (fifo.display(), dir.display());
    for (query, what, path, kind) in [
        (
            format!("sslcert={cert}&sslkey={f}"),
            "sslkey",
            &fifo,
            "a FIFO",
        ),
        (
            format!("sslcert={f}&sslkey={key}"),
            "sslcert",
            &fifo,
            "a FIFO",
        ),
        (
            format!("sslmode=require&sslrootcert={f}"),
            "sslrootcert",
            &fifo,
            "a FIFO",
        ),
        (
            format!("sslcert={cert}&sslkey={d}"),
            "sslkey",
            &dir,
            "a directory",
        ),
        (
            format!("sslmode=verify-ca&sslrootcert={d}"),
            "sslrootcert",
            &dir,
            "a directory",
        ),
    ] {
        let err = reach(&nowhere(&query)).await.unwrap_err();
        let said = err.to_string();
        assert!(
            matches!(err, StoreError::BadLocation { .. })
                && said.contains(&format!(
                    "{what} {}: not a regular file ({kind})",
                    path.display()
                )),
            "{query}: {said}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The error of `key` (mode `mode`) with its certificate, before or at connecting.
async fn with_key_mode(files: &TlsFiles, key: &Path, mode: u32) -> String {
    std::fs::set_permissions(key, std::fs::Permissions::from_mode(mode)).unwrap();
    let query = format!(
        "sslcert={}&sslkey={}",
        files.client_cert.display(),
        key.display()
    );
    reach(&nowhere(&query)).await.unwrap_err().to_string()
}

#[tokio::test]
async fn a_client_key_its_group_or_others_may_read_is_refused_as_libpq_refuses_it() {
    let files = TlsFiles::new().unwrap();
    let key = &files.client_key;
    let root = nix::unistd::Uid::effective().is_root();
    let owned_by_root = std::fs::metadata(key).unwrap().uid() == 0;
    let refused = |said: &str| {
        said.contains(&format!(
            "sslkey {}: has group or world access",
            key.display()
        )) && said.contains("0600")
    };
    for mode in [0o644, 0o604, 0o660, 0o620] {
        let said = with_key_mode(&files, key, mode).await;
        assert!(refused(&said), "{mode:o}: {said}");
    }
    // Private: let through to the connection (nothing listens there).
    let said = with_key_mode(&files, key, 0o600).await;
    assert!(
        !refused(&said) && said.contains("cannot be reached"),
        "{said}"
    );
    // Readable by its group: only when root owns it.
    let said = with_key_mode(&files, key, 0o640).await;
    assert_eq!(refused(&said), !(root && owned_by_root), "{said}");
}

#[tokio::test]
async fn a_server_certificate_named_only_in_its_common_name_is_refused_by_verify_full_saying_why() {
    let test =
        "a_server_certificate_named_only_in_its_common_name_is_refused_by_verify_full_saying_why";
    let Some((pg, tls)) = TestPostgres::start_tls_with_or_skip(test, ServerCert::CommonNameOnly)
    else {
        return;
    };
    let (port, db) = port_and_db(&pg);
    let ca = tls.ca.display();
    let url = |mode: &str| {
        format!(
            "postgres://tlsonly@localhost:{port}/{db}?hostaddr=127.0.0.1&sslmode={mode}&sslrootcert={ca}"
        )
    };
    let err = reach(&url("verify-full")).await.unwrap_err();
    let said = err.to_string();
    assert!(
        matches!(err, StoreError::Unreachable { .. })
            && said.contains("has no subjectAltName, its name only in its common name")
            && said.contains("sslmode=verify-ca"),
        "{said}"
    );
    // The chain is sound: verify-ca takes it.
    reach(&url("verify-ca")).await.unwrap();
}
