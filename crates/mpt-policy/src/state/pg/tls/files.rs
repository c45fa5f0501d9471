//! The root, certificate and key files. Each must be a regular file (symlinks followed): a
//! FIFO, directory or device is refused before it is opened, and opened without blocking, so
//! nothing planted there makes a connection wait. The key's permissions are libpq's rule. A
//! client certificate is only sent, never verified here: any X.509 version is taken (rustls's
//! own loader reads only v3).

use std::path::Path;
use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};

use super::{TlsError, x509};
use crate::files::FileError;

/// The largest file read: a bundle of every public root is under 1 MiB.
const MAX: u64 = 16 * 1024 * 1024;

/// The text of `path`, given as `what` (`sslrootcert`, `sslcert` or `sslkey`).
pub(super) fn read(what: &'static str, path: &Path) -> Result<String, TlsError> {
    crate::files::read_regular(path, MAX).map_err(|e| TlsError::File {
        what,
        path: path.display().to_string(),
        why: match e {
            FileError::NotRegular { .. } => format!("not a regular file ({})", kind(path)),
            FileError::Io { source, .. } => source.to_string(),
            FileError::TooLarge { max, .. } => format!("larger than {max} bytes"),
            other => other.to_string(),
        },
    })
}

/// What `path` is, when it is not a regular file.
fn kind(path: &Path) -> &'static str {
    let Ok(meta) = std::fs::metadata(path) else {
        return "gone";
    };
    let kind = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
    }
    match kind.is_dir() {
        true => "a directory",
        false => "not a file",
    }
}

/// The certificates of the PEM file `path`, given as `what`.
pub(super) fn certificates(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(read(what, path)?.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::File {
            what,
            path: path.display().to_string(),
            why: unreadable(&e, "certificate"),
        })
}

/// The client certificate `cert` and its key `key`, as the handshake sends them: the key
/// checked to be the certificate's and private (libpq's rule), the certificate of any version.
pub(super) fn client_auth(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<dyn ResolvesClientCert>, TlsError> {
    let bad = |what: &'static str, path: &Path, why: String| TlsError::File {
        what,
        path: path.display().to_string(),
        why,
    };
    let chain = certificates("sslcert", cert)?;
    let Some(end_entity) = chain.first() else {
        return Err(bad("sslcert", cert, "no certificate in it".into()));
    };
    let Some(parsed) = x509::certificate(end_entity) else {
        return Err(bad(
            "sslcert",
            cert,
            "its first certificate is not X.509 DER".into(),
        ));
    };
    let key_der = PrivateKeyDer::from_pem_slice(read("sslkey", key)?.as_bytes())
        .map_err(|e| bad("sslkey", key, unreadable(&e, "private key")))?;
    private(key)?;
    // What rustls says of a key it cannot load is not shown: nothing of the key may be.
    let signing = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|_| {
            bad(
                "sslkey",
                key,
                "a key rustls cannot sign with (RSA, ECDSA P-256/P-384/P-521 or Ed25519 are)"
                    .into(),
            )
        })?;
    if let Some(public) = signing.public_key()
        && public.as_ref() != parsed.spki
    {
        return Err(bad(
            "sslkey",
            key,
            format!("not the key of sslcert {}", cert.display()),
        ));
    }
    Ok(Arc::new(SingleCertAndKey::from(CertifiedKey::new(
        chain, signing,
    ))))
}

/// A key that its group or others may read refused, as libpq refuses it: `0600` or less, or
/// `0640` or less when root owns it.
fn private(key: &Path) -> Result<(), TlsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(key).map_err(|e| TlsError::File {
            what: "sslkey",
            path: key.display().to_string(),
            why: e.to_string(),
        })?;
        let mode = meta.mode() & 0o7777;
        let open = match meta.uid() {
            0 => mode & 0o037,
            _ => mode & 0o077,
        };
        if open != 0 {
            return Err(TlsError::File {
                what: "sslkey",
                path: key.display().to_string(),
                why: format!(
                    "has group or world access (mode {mode:04o}); as libpq, a key must have \
                     permissions u=rw (0600) or less if owned by the current user, or u=rw,g=r \
                     (0640) or less if owned by root"
                ),
            });
        }
    }
    Ok(())
}

/// Why a PEM file cannot be read, in words that quote none of it (a key's file may be
/// anything: its contents are never shown). The keys read: PKCS#8 (`BEGIN PRIVATE KEY`, as
/// rcgen and `openssl genpkey` write), PKCS#1 (`BEGIN RSA PRIVATE KEY`) and SEC1
/// (`BEGIN EC PRIVATE KEY`), unencrypted.
fn unreadable(e: &rustls::pki_types::pem::Error, item: &str) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(io) => io.to_string(),
        E::NoItemsFound if item == "private key" => "no private key in it (PEM: PKCS#8 \
            `BEGIN PRIVATE KEY`, PKCS#1 `BEGIN RSA PRIVATE KEY` or SEC1 `BEGIN EC PRIVATE KEY`, \
            unencrypted)"
            .into(),
        E::NoItemsFound => format!("no {item} in it (PEM)"),
        E::MissingSectionEnd { .. } => "a PEM section without its END line (cut short?)".into(),
        E::IllegalSectionStart { .. } => "a PEM section whose BEGIN line is malformed".into(),
        E::Base64Decode(_) => "a PEM section that is not valid base64".into(),
        E::SectionTooLarge => "a PEM section over 256 MB".into(),
        _ => format!("not a PEM file with a {item}"),
    }
}
