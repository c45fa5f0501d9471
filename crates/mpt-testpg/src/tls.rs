//! A TLS cluster's files: its own CA (rcgen), the server's certificate, and `pg_hba.conf`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::failed;

/// The password of the role `secret` of a [`TestPostgres::start_tls`](crate::TestPostgres::start_tls) cluster.
pub const SECRET_PASSWORD: &str = "Right-Pass-1";

/// The role of a [`TestPostgres::start_tls`](crate::TestPostgres::start_tls) cluster let in only
/// with a client certificate signed by the test's CA and naming it (`pg_hba.conf`'s `cert`).
pub const CERT_ROLE: &str = "certonly";

/// The server certificate of a TLS cluster (each for `localhost`, signed by [`TlsFiles::ca`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerCert {
    /// X.509 v3, the name in its subjectAltName (as rcgen makes it).
    V3,
    /// X.509 v1 (no extensions: the name only in its common name), as PostgreSQL's own
    /// recipe (`openssl x509 -req` without `-extfile`) makes it.
    V1,
    /// X.509 v3 without a subjectAltName: the name only in its common name.
    CommonNameOnly,
}

/// A TLS cluster's files: the CA that signed the server's certificate, another CA, and client
/// certificates for [`CERT_ROLE`] (each key PKCS#8 PEM, as rcgen writes it).
pub struct TlsFiles {
    dir: PathBuf,
    /// The CA that signed the server's certificate, and the one the server checks client
    /// certificates against (`ssl_ca_file`) (PEM).
    pub ca: PathBuf,
    /// A CA that signed nothing of the server's (PEM).
    pub other_ca: PathBuf,
    /// A client certificate for [`CERT_ROLE`] (its common name) signed by [`TlsFiles::ca`].
    pub client_cert: PathBuf,
    /// [`TlsFiles::client_cert`]'s key.
    pub client_key: PathBuf,
    /// A client certificate for [`CERT_ROLE`] signed by [`TlsFiles::other_ca`].
    pub stranger_cert: PathBuf,
    /// [`TlsFiles::stranger_cert`]'s key.
    pub stranger_key: PathBuf,
    /// An X.509 v1 client certificate for [`CERT_ROLE`] signed by [`TlsFiles::ca`], as
    /// PostgreSQL's own recipe (`openssl x509 -req`) makes one.
    pub v1_client_cert: PathBuf,
    /// [`TlsFiles::v1_client_cert`]'s key.
    pub v1_client_key: PathBuf,
    ca_pem: String,
    cert: String,
    key: String,
}

impl TlsFiles {
    /// The files alone (no cluster), with a v3 server certificate: for tests of what is
    /// refused before any connection.
    pub fn new() -> io::Result<TlsFiles> {
        TlsFiles::make(ServerCert::V3)
    }

    pub(super) fn make(server_cert: ServerCert) -> io::Result<TlsFiles> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let bad = |e: rcgen::Error| io::Error::other(e.to_string());
        let dir = std::env::temp_dir().join(format!("mpt-tls-{:016x}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir)?;
        let ca_of = |name: &str| -> io::Result<(String, Issuer<'static, KeyPair>)> {
            let mut params = CertificateParams::new(Vec::<String>::new()).map_err(bad)?;
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let key = KeyPair::generate().map_err(bad)?;
            let cert = params.self_signed(&key).map_err(bad)?;
            Ok((cert.pem(), Issuer::new(params, key)))
        };
        let (ca_pem, issuer) = ca_of("mpt test CA")?;
        let (other_pem, other_issuer) = ca_of("another CA")?;
        let key = KeyPair::generate().map_err(bad)?;
        let alt_names = match server_cert {
            ServerCert::CommonNameOnly => vec![],
            ServerCert::V3 | ServerCert::V1 => vec!["localhost".to_string()],
        };
        let mut params = CertificateParams::new(alt_names).map_err(bad)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let server = params.signed_by(&key, &issuer).map_err(bad)?;
        let server = match server_cert {
            ServerCert::V3 | ServerCert::CommonNameOnly => server.pem(),
            ServerCert::V1 => super::v1::v1(server.der(), issuer.key())?,
        };
        // A client certificate names its role in its common name (`cert` authentication).
        let client_of = |by: &Issuer<'static, KeyPair>, v1: bool| -> io::Result<(String, String)> {
            let mut params = CertificateParams::new(Vec::<String>::new()).map_err(bad)?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, CERT_ROLE);
            let key = KeyPair::generate().map_err(bad)?;
            let cert = params.signed_by(&key, by).map_err(bad)?;
            let pem = match v1 {
                true => super::v1::v1(cert.der(), by.key())?,
                false => cert.pem(),
            };
            Ok((pem, key.serialize_pem()))
        };
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            other_ca: dir.join("other-ca.pem"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
            stranger_cert: dir.join("stranger.crt"),
            stranger_key: dir.join("stranger.key"),
            v1_client_cert: dir.join("v1-client.crt"),
            v1_client_key: dir.join("v1-client.key"),
            dir,
            ca_pem: ca_pem.clone(),
            cert: server,
            key: key.serialize_pem(),
        };
        std::fs::write(&files.ca, ca_pem)?;
        std::fs::write(&files.other_ca, other_pem)?;
        for (by, v1, cert, key) in [
            (&issuer, false, &files.client_cert, &files.client_key),
            (
                &other_issuer,
                false,
                &files.stranger_cert,
                &files.stranger_key,
            ),
            (&issuer, true, &files.v1_client_cert, &files.v1_client_key),
        ] {
            let (cert_pem, key_pem) = client_of(by, v1)?;
            std::fs::write(cert, cert_pem)?;
            // Private, as libpq (and mpt) want a key to be.
            write_private(key, &key_pem)?;
        }
        Ok(files)
    }

    /// The server's certificate and key, the CA it checks client certificates against
    /// (`root.crt`, its `ssl_ca_file`), and the rules of `pg_hba.conf`, in `data`.
    pub(super) fn install(&self, data: &Path, as_postgres: bool) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(data.join("server.crt"), &self.cert)?;
        let key = data.join("server.key");
        std::fs::write(&key, &self.key)?;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
        std::fs::write(data.join("root.crt"), &self.ca_pem)?;
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all tlsonly 127.0.0.1/32 trust\n\
             hostnossl all tlsonly 127.0.0.1/32 reject\n\
             hostssl all certonly 127.0.0.1/32 cert\n\
             hostnossl all certonly 127.0.0.1/32 reject\n\
             host all secret 127.0.0.1/32 scram-sha-256\n\
             host all all 127.0.0.1/32 trust\n",
        )?;
        if as_postgres {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(data)
                .output()?;
            if !out.status.success() {
                return Err(failed("chown", &out));
            }
        }
        Ok(())
    }
}

/// `text` in a new file `path` that only its owner may read (`0600`).
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(text.as_bytes())
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
