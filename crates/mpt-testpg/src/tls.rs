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
    ca_pem: String,
    cert: String,
    key: String,
}

impl TlsFiles {
    pub(super) fn make() -> io::Result<TlsFiles> {
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
        let server = CertificateParams::new(vec!["localhost".to_string()])
            .map_err(bad)?
            .signed_by(&key, &issuer)
            .map_err(bad)?;
        // A client certificate names its role in its common name (`cert` authentication).
        let client_of = |by: &Issuer<'static, KeyPair>| -> io::Result<(String, String)> {
            let mut params = CertificateParams::new(Vec::<String>::new()).map_err(bad)?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, CERT_ROLE);
            let key = KeyPair::generate().map_err(bad)?;
            let cert = params.signed_by(&key, by).map_err(bad)?;
            Ok((cert.pem(), key.serialize_pem()))
        };
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            other_ca: dir.join("other-ca.pem"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
            stranger_cert: dir.join("stranger.crt"),
            stranger_key: dir.join("stranger.key"),
            dir,
            ca_pem: ca_pem.clone(),
            cert: server.pem(),
            key: key.serialize_pem(),
        };
        std::fs::write(&files.ca, ca_pem)?;
        std::fs::write(&files.other_ca, other_pem)?;
        for (by, cert, key) in [
            (&issuer, &files.client_cert, &files.client_key),
            (&other_issuer, &files.stranger_cert, &files.stranger_key),
        ] {
            let (cert_pem, key_pem) = client_of(by)?;
            std::fs::write(cert, cert_pem)?;
            std::fs::write(key, key_pem)?;
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

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
