//! A TLS cluster's files: its own CA (rcgen), the server's certificate, and `pg_hba.conf`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::failed;

/// The password of the role `secret` of a [`TestPostgres::start_tls`](crate::TestPostgres::start_tls) cluster.
pub const SECRET_PASSWORD: &str = "Right-Pass-1";

/// A TLS cluster's files: the CA that signed the server's certificate, and another CA.
pub struct TlsFiles {
    dir: PathBuf,
    /// The CA that signed the server's certificate (PEM).
    pub ca: PathBuf,
    /// A CA that signed nothing of the server's (PEM).
    pub other_ca: PathBuf,
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
        let (other_pem, _) = ca_of("another CA")?;
        let key = KeyPair::generate().map_err(bad)?;
        let server = CertificateParams::new(vec!["localhost".to_string()])
            .map_err(bad)?
            .signed_by(&key, &issuer)
            .map_err(bad)?;
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            other_ca: dir.join("other-ca.pem"),
            dir,
            cert: server.pem(),
            key: key.serialize_pem(),
        };
        std::fs::write(&files.ca, ca_pem)?;
        std::fs::write(&files.other_ca, other_pem)?;
        Ok(files)
    }

    /// The server's certificate and key, and the rules of `pg_hba.conf`, in `data`.
    pub(super) fn install(&self, data: &Path, as_postgres: bool) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(data.join("server.crt"), &self.cert)?;
        let key = data.join("server.key");
        std::fs::write(&key, &self.key)?;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all tlsonly 127.0.0.1/32 trust\n\
             hostnossl all tlsonly 127.0.0.1/32 reject\n\
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
