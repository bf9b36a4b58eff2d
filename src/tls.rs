//! TLS for kensa's HTTP client: the platform's trust store, and TLS failures in words.
//!
//! The trusted roots are the system's (read with rustls-native-certs, which follows
//! OpenSSL's conventions): `SSL_CERT_FILE` names a PEM bundle and `SSL_CERT_DIR` a
//! directory of certificates to trust instead of the system's own; a provider behind a
//! company or local CA is tested by trusting that CA. They are read once, the first time an
//! `https:` URL is called, and never for plain http.

use std::error::Error as _;
use std::sync::{Arc, LazyLock};

use rustls::{CertificateError, Error as TlsError};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// The trusted roots, loaded once.
static ROOTS: LazyLock<Arc<Vec<Certificate<'static>>>> = LazyLock::new(|| {
    let found = rustls_native_certs::load_native_certs();
    Arc::new(
        found
            .certs
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect(),
    )
});

/// The client's TLS settings: the platform's roots (see the module docs).
pub fn config() -> TlsConfig {
    TlsConfig::builder()
        .root_certs(RootCerts::Specific(ROOTS.clone()))
        .build()
}

/// Why a TLS connection failed, in words, when `err` is a TLS failure.
pub fn explain(err: &ureq::Error) -> Option<String> {
    let tls = match err {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<TlsError>()),
        _ => None,
    }?;
    Some(words(tls))
}

fn words(err: &TlsError) -> String {
    let trust_hint = if ROOTS.is_empty() {
        "; no trusted CA certificates were found on this system: install them (Debian: ca-certificates) or name a bundle with SSL_CERT_FILE"
    } else {
        "; to trust a private or company CA, name its certificate with SSL_CERT_FILE (or a directory with SSL_CERT_DIR)"
    };
    match err {
        TlsError::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => format!(
                "the server's certificate is signed by an unknown issuer (self-signed, or by a CA this system does not trust){trust_hint}"
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (check the clocks)".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the server's certificate is for another host name (wrong host)".into()
            }
            CertificateError::Revoked => "the server's certificate has been revoked".into(),
            CertificateError::BadSignature => "the server's certificate has a bad signature".into(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "the server's certificate is not meant for a TLS server".into()
            }
            CertificateError::Other(other) => {
                // webpki's reasons, named in its own Debug words; the common one first.
                let why = format!("{other:?}");
                if why.contains("CaUsedAsEndEntity") {
                    format!("the server presents a CA certificate as its own (a self-signed CA certificate?){trust_hint}")
                } else if why.contains("UnknownIssuer") {
                    format!("the server's certificate is signed by an unknown issuer{trust_hint}")
                } else {
                    "the server's certificate was refused (it is malformed or of a kind kensa does not accept)".into()
                }
            }
            _ => "the server's certificate was refused".into(),
        },
        TlsError::InvalidMessage(_) | TlsError::InappropriateMessage { .. } => {
            "the server does not speak TLS there (is it a plain http: service?)".into()
        }
        TlsError::AlertReceived(alert) => format!(
            "the server ended the TLS handshake with the alert {}",
            alert.as_str().unwrap_or("(unknown)").replace('_', " ")
        ),
        TlsError::PeerIncompatible(_) | TlsError::NoCertificatesPresented => {
            "the server and kensa share no TLS version or cipher suite".into()
        }
        other => {
            let detail = other.source().map(|s| s.to_string()).unwrap_or_default();
            format!("the TLS handshake failed ({other}{detail})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_failures_are_worded() {
        let unknown = words(&TlsError::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(unknown.contains("unknown issuer"), "{unknown}");
        assert!(unknown.contains("SSL_CERT_FILE"), "{unknown}");
        let expired = words(&TlsError::InvalidCertificate(CertificateError::Expired));
        assert_eq!(expired, "the server's certificate has expired");
        let host = words(&TlsError::InvalidCertificate(
            CertificateError::NotValidForName,
        ));
        assert!(host.contains("wrong host"), "{host}");
        let ureq_err = ureq::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            TlsError::InvalidCertificate(CertificateError::Expired),
        ));
        assert_eq!(
            explain(&ureq_err).as_deref(),
            Some("the server's certificate has expired")
        );
        assert_eq!(explain(&ureq::Error::HostNotFound), None);
    }
}
