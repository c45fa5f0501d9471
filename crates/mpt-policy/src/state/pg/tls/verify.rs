//! The server's certificate, as each `sslmode` checks it: not at all ([`Unchecked`]: any
//! certificate, X.509 v1 included, as libpq takes it), or by webpki against the roots
//! ([`Checked`]: v3 only, a v1 one refused naming why).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, PeerMisbehaved, SignatureScheme};

use super::x509;

/// `verify-ca` (`any_name`) and `verify-full`: the chain checked by webpki, and the name for
/// `verify-full`. A certificate that is not v3 is refused with words saying so (webpki's own
/// are `Other(OtherError(UnsupportedCertVersion))`).
#[derive(Debug)]
pub(super) struct Checked {
    /// webpki's verifier of the roots.
    pub inner: Arc<WebPkiServerVerifier>,
    /// `verify-ca`: the name is not checked (webpki checks the chain first).
    pub any_name: bool,
}

/// Why a certificate that is not X.509 v3 is refused by the verifying modes.
fn not_v3(version: u8) -> rustls::Error {
    rustls::Error::General(format!(
        "the server's certificate is X.509 v{version}, which this client does not verify \
         (sslmode verify-ca, verify-full, or require with a root file): reissue it as v3 \
         (openssl x509 -req ... -extfile with basicConstraints and subjectAltName) or \
         connect without checking it (sslmode=require, no root file)"
    ))
}

/// Why `verify-full` refuses a certificate whose name is only in its common name.
fn common_name_only() -> rustls::Error {
    rustls::Error::General(
        "the server's certificate has no subjectAltName, its name only in its common name, \
         which this client does not match to the host (libpq does, when there is no \
         subjectAltName): reissue it with subjectAltName=DNS:HOST, or use sslmode=verify-ca \
         (the chain checked, not the name)"
            .to_string(),
    )
}

impl ServerCertVerifier for Checked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let read = x509::certificate(end_entity);
        if let Some(found) = read
            && found.version != 3
        {
            return Err(not_v3(found.version));
        }
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.any_name => Ok(ServerCertVerified::assertion()),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if read.is_some_and(|found| !found.alt_names) => Err(common_name_only()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `allow`, `prefer`, `require` (without roots): encrypted, the certificate not checked (as
/// libpq: these modes do not stop an active attacker), whatever its version; the handshake's
/// signature still is, with the certificate's key (read here: webpki reads only v3).
#[derive(Debug)]
pub(super) struct Unchecked(pub Arc<CryptoProvider>);

/// The whole `SubjectPublicKeyInfo` of `cert`.
fn spki_of<'a>(cert: &'a CertificateDer<'_>) -> Result<&'a [u8], rustls::Error> {
    x509::certificate(cert)
        .map(|found| found.spki)
        .ok_or(rustls::Error::InvalidCertificate(
            CertificateError::BadEncoding,
        ))
}

/// TLS 1.2's handshake signature checked with `cert`'s key, as rustls's
/// `verify_tls12_signature` does (the algorithm of `scheme` for the key's kind), without
/// reading the rest of the certificate. (TLS 1.3's is rustls's own raw-key check.)
fn tls12_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    (scheme, signature): (SignatureScheme, &[u8]),
    algorithms: &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let bad = |why| rustls::Error::InvalidCertificate(why);
    let (key_algorithm, key) =
        x509::key_of(spki_of(cert)?).ok_or(bad(CertificateError::BadEncoding))?;
    let unadvertised = PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme;
    let candidates = algorithms
        .mapping
        .iter()
        .find(|(offered, _)| *offered == scheme)
        .map(|(_, candidates)| *candidates)
        .ok_or(unadvertised)?;
    let for_the_key = candidates
        .iter()
        .find(|alg| alg.public_key_alg_id().as_ref() == key_algorithm)
        .ok_or(bad(CertificateError::BadSignature))?;
    for_the_key
        .verify_signature(key, message, signature)
        .map(|()| HandshakeSignatureValid::assertion())
        .map_err(|_| bad(CertificateError::BadSignature))
}

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let signed = (dss.scheme, dss.signature());
        tls12_signature(
            message,
            cert,
            signed,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(spki_of(cert)?),
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use super::*;

    /// The certificate of `cert` and a signature of `message` by `key` (ECDSA P-256, as rcgen
    /// makes keys), as a handshake carries them.
    fn signed(
        cert: &std::path::Path,
        key: &std::path::Path,
        message: &[u8],
    ) -> (CertificateDer<'static>, (SignatureScheme, Vec<u8>)) {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let signing = provider.key_provider.load_private_key(key).unwrap();
        let scheme = SignatureScheme::ECDSA_NISTP256_SHA256;
        let signer = signing.choose_scheme(&[scheme]).unwrap();
        let signature = signer.sign(message).unwrap();
        let cert = CertificateDer::from_pem_file(cert).unwrap();
        (cert, (scheme, signature))
    }

    fn signed_by_stranger(
        files: &mpt_testpg::TlsFiles,
        message: &[u8],
    ) -> (CertificateDer<'static>, (SignatureScheme, Vec<u8>)) {
        signed(&files.stranger_cert, &files.stranger_key, message)
    }

    #[test]
    fn unchecked_modes_still_check_the_tls12_handshake_signature_with_the_certificates_key_v1_too()
    {
        let files = mpt_testpg::TlsFiles::new().unwrap();
        let unchecked = Unchecked(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
        let message = b"the handshake's transcript";
        let algorithms = &unchecked.0.signature_verification_algorithms;
        // TLS 1.2's check, written here (TLS 1.3's is rustls's, given the key read here).
        let check =
            |message: &[u8], der: &CertificateDer<'_>, signed: &(SignatureScheme, Vec<u8>)| {
                tls12_signature(message, der, (signed.0, &signed.1), algorithms).is_ok()
            };
        for (cert, key) in [
            (&files.client_cert, &files.client_key),
            (&files.v1_client_cert, &files.v1_client_key),
        ] {
            let (der, signed) = signed(cert, key, message);
            let v1 = cert == &files.v1_client_cert;
            let version = if v1 { 1 } else { 3 };
            assert_eq!(x509::certificate(&der).map(|c| c.version), Some(version));
            assert!(check(message, &der, &signed));
            // Another message, or another key's signature: refused.
            assert!(!check(b"another transcript", &der, &signed));
            let (_, stranger) = signed_by_stranger(&files, message);
            assert!(!check(message, &der, &stranger));
            // Not a certificate: refused, not read as one.
            let junk = CertificateDer::from(b"junk".to_vec());
            assert!(!check(message, &junk, &signed));
        }
    }
}
