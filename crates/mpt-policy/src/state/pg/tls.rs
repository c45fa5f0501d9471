//! TLS as libpq means it, with rustls (never OpenSSL). `sslmode`:
//!
//! | mode | TLS | the server's certificate |
//! | --- | --- | --- |
//! | `disable` | never | - |
//! | `allow` | only if the server refuses a plain connection | not checked |
//! | `prefer` (the default, as libpq's) | if the server offers it | not checked |
//! | `require` | always | not checked (checked as `verify-ca` when a root file is given, as libpq does) |
//! | `verify-ca` | always | signed by a root of `sslrootcert` |
//! | `verify-full` | always | signed by a root, and for the host name connected to |
//!
//! Roots: `sslrootcert` (or `PGSSLROOTCERT`; `system` for the system's roots), else
//! `~/.postgresql/root.crt` when it exists, else (for `verify-ca` and `verify-full`) the
//! system's roots. A client certificate: `sslcert` and `sslkey` (or `PGSSLCERT`, `PGSSLKEY`).
//! These are taken out of the URL before tokio-postgres reads it (it knows only some of them).
//!
//! Where libpq and this client differ (rustls's webpki verifies v3 certificates only, and no
//! certificate check is written here): a server certificate that is X.509 v1, or named only in
//! its common name (no subjectAltName), is refused by the modes that check it, saying why
//! ([`verify`]); the modes that do not check it take any certificate, v1 included. The files:
//! regular files only, and the key private as libpq wants it ([`files`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use tokio_postgres_rustls::MakeRustlsConnect;

use verify::{Checked, Unchecked};

mod files;
mod verify;
mod x509;

/// `sslmode`, as libpq reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Never TLS.
    Disable,
    /// Plain first; TLS when the server refuses plain.
    Allow,
    /// TLS when the server offers it (libpq's default).
    Prefer,
    /// Always TLS; the certificate unchecked.
    Require,
    /// Always TLS; the certificate signed by a known root.
    VerifyCa,
    /// Always TLS; the certificate signed by a known root and for the host.
    VerifyFull,
}

/// Why the connection's TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum TlsError {
    /// An `sslmode` libpq does not know.
    #[error("sslmode {0:?} is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    Mode(String),
    /// A certificate or key file that cannot be read.
    #[error("{what} {path}: {why}")]
    File {
        /// `sslrootcert`, `sslcert` or `sslkey`.
        what: &'static str,
        /// The file.
        path: String,
        /// What reading it said.
        why: String,
    },
    /// A root file with no certificate in it.
    #[error("sslrootcert {0}: no certificate in it")]
    NoCertificate(String),
    /// `sslrootcert=system` on a system with no roots.
    #[error("sslrootcert: the system holds no root certificate")]
    NoSystemRoots,
    /// A verifying mode with no roots to verify against.
    #[error("no root certificates")]
    NoRoots,
    /// One of `sslcert` and `sslkey` without the other.
    #[error("sslcert and sslkey go together")]
    CertWithoutKey,
    /// rustls refused the settings.
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    /// The certificate verifier could not be built.
    #[error("{0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
}

impl Mode {
    fn parse(text: &str) -> Result<Mode, TlsError> {
        Ok(match text {
            "disable" => Mode::Disable,
            "allow" => Mode::Allow,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            other => {
                return Err(TlsError::Mode(other.to_string()));
            }
        })
    }
}

/// What tokio-postgres is told of `mode` (`allow` tries plain first: [`Mode::Disable`]).
pub(super) fn ssl_mode(mode: Mode) -> tokio_postgres::config::SslMode {
    use tokio_postgres::config::SslMode;
    match mode {
        Mode::Disable | Mode::Allow => SslMode::Disable,
        Mode::Prefer => SslMode::Prefer,
        Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
    }
}

/// The TLS settings of a connection.
#[derive(Debug, Clone)]
pub(super) struct Tls {
    /// The mode.
    pub mode: Mode,
    root: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `%XX` escapes of a URL's query value decoded.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL without its TLS parameters, and the settings they (or libpq's variables) give.
pub(super) fn split(url: &str) -> Result<(String, Tls), TlsError> {
    let (head, query) = url.split_once('?').unwrap_or((url, ""));
    let (mut mode, mut root, mut cert, mut key) = (None, None, None, None);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "sslmode" => mode = Some(decode(v)),
            "sslrootcert" => root = Some(decode(v)),
            "sslcert" => cert = Some(decode(v)),
            "sslkey" => key = Some(decode(v)),
            _ => kept.push(pair),
        }
    }
    let mode = match mode.or_else(|| env("PGSSLMODE")) {
        Some(m) => Mode::parse(&m)?,
        None => Mode::Prefer,
    };
    let tls = Tls {
        mode,
        root: root.or_else(|| env("PGSSLROOTCERT")),
        cert: cert.or_else(|| env("PGSSLCERT")).map(PathBuf::from),
        key: key.or_else(|| env("PGSSLKEY")).map(PathBuf::from),
    };
    let url = match kept.is_empty() {
        true => head.to_string(),
        false => format!("{head}?{}", kept.join("&")),
    };
    Ok((url, tls))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The roots to check a certificate against: the given file, `~/.postgresql/root.crt`, or
/// the system's; `None` when none is given and `system` is not wanted.
fn roots(tls: &Tls, system_when_none: bool) -> Result<Option<RootCertStore>, TlsError> {
    let default = std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".postgresql/root.crt"))
        // There when it is anything (a FIFO, a directory): refused then, never waited on.
        .filter(|p| p.exists());
    let mut store = RootCertStore::empty();
    match (tls.root.as_deref(), default) {
        (Some("system"), _) => system(&mut store)?,
        (Some(file), _) => add_file(&mut store, Path::new(file))?,
        (None, Some(file)) => add_file(&mut store, &file)?,
        (None, None) if system_when_none => system(&mut store)?,
        (None, None) => return Ok(None),
    }
    Ok(Some(store))
}

fn add_file(store: &mut RootCertStore, file: &Path) -> Result<(), TlsError> {
    let certs = files::certificates("sslrootcert", file)?;
    let (added, _) = store.add_parsable_certificates(certs);
    match added {
        0 => Err(TlsError::NoCertificate(file.display().to_string())),
        _ => Ok(()),
    }
}

fn system(store: &mut RootCertStore) -> Result<(), TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = store.add_parsable_certificates(found.certs);
    match added {
        0 => Err(TlsError::NoSystemRoots),
        _ => Ok(()),
    }
}

/// The connector of `tls` (for `disable`, one that is never used: tokio-postgres is told not
/// to ask for TLS).
pub(super) fn connector(tls: &Tls) -> Result<MakeRustlsConnect, TlsError> {
    let verify: Arc<dyn ServerCertVerifier> = match tls.mode {
        Mode::VerifyCa | Mode::VerifyFull => {
            let Some(store) = roots(tls, true)? else {
                return Err(TlsError::NoRoots);
            };
            webpki(store, tls.mode == Mode::VerifyFull)?
        }
        // A root file given makes `require` check the chain, as libpq does.
        Mode::Require => match roots(tls, false)? {
            Some(store) => webpki(store, false)?,
            None => Arc::new(Unchecked(provider())),
        },
        Mode::Disable | Mode::Allow | Mode::Prefer => Arc::new(Unchecked(provider())),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verify);
    let config = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            builder.with_client_cert_resolver(files::client_auth(cert, key, &provider())?)
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(TlsError::CertWithoutKey),
    };
    Ok(MakeRustlsConnect::new(config))
}

/// Why the server refused the connection's client certificate in the TLS handshake, when
/// `e` is that: the server sent an alert about a certificate (one its `ssl_ca_file` did not
/// sign: `UnknownCA`; expired, revoked, unusable), or asked for one that was not given.
/// `None` for any other failure.
pub(super) fn refused_certificate(tls: &Tls, e: &tokio_postgres::Error) -> Option<String> {
    use rustls::AlertDescription as A;
    let alert = alert_in(e)?;
    let about_a_certificate = matches!(
        alert,
        A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied
            | A::CertificateRequired
    );
    match (&tls.cert, about_a_certificate) {
        (Some(cert), true) => Some(format!(
            "the server refused the client certificate sslcert {} in the TLS handshake \
             (its alert: {alert:?}): it takes one signed by a CA of its ssl_ca_file, and \
             current",
            cert.display()
        )),
        (None, true) => Some(format!(
            "the server wants a client certificate (its alert in the TLS handshake: {alert:?}): \
             give sslcert and sslkey (or PGSSLCERT and PGSSLKEY)"
        )),
        (_, false) => None,
    }
}

/// The TLS alert the server sent, somewhere in `e`'s causes (tokio-postgres wraps rustls's
/// error in an I/O error, whose `source` skips it).
fn alert_in(e: &tokio_postgres::Error) -> Option<rustls::AlertDescription> {
    let alert = |err: &(dyn std::error::Error + 'static)| match err.downcast_ref::<rustls::Error>()
    {
        Some(rustls::Error::AlertReceived(alert)) => Some(*alert),
        _ => None,
    };
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| alert(inner));
        if let Some(found) = alert(err).or(inner) {
            return Some(found);
        }
        next = err.source();
    }
    None
}

fn webpki(store: RootCertStore, full: bool) -> Result<Arc<dyn ServerCertVerifier>, TlsError> {
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider()).build()?;
    Ok(Arc::new(Checked {
        inner,
        any_name: !full,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let (url, tls) = split(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(url, "postgres://u@h/db?connect_timeout=3");
        assert_eq!(tls.mode, Mode::VerifyFull);
        assert_eq!(tls.root.as_deref(), Some("/tmp/ca.pem"));
        assert!(split("postgres://u@h/db?sslmode=sometimes").is_err());
    }
}
