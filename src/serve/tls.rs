//! `serve --tls-cert FILE --tls-key FILE`: HTTPS with rustls (ring), for
//! when no reverse proxy terminates TLS in front of `serve`. Both files are
//! PEM: the certificate chain (leaf first) and its private key (PKCS#8,
//! PKCS#1 or SEC1).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// The certificate and key files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn unreadable(option: &str, path: &Path, what: impl std::fmt::Display) -> Error {
    Error::usage(option, format!("{}: {what}", path.display()))
}

/// The acceptor for these files; a file that is missing or not PEM of the
/// right kind is a usage error naming it.
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| unreadable("--tls-cert", &files.cert, e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| unreadable("--tls-cert", &files.cert, e))?;
    if certs.is_empty() {
        return Err(unreadable(
            "--tls-cert",
            &files.cert,
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        unreadable(
            "--tls-key",
            &files.key,
            format!("{e} (a PEM private key is expected)"),
        )
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::usage("--tls-cert", e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| {
        Error::usage(
            "--tls-cert/--tls-key",
            format!("the certificate and key do not make a TLS identity: {e}"),
        )
    })?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
