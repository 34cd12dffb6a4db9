//! TLS for `tcp://` (`--tlsverify --tlscacert --tlscert --tlskey`), as dockerd does it: the
//! server presents its certificate and key, and every client must present a certificate
//! signed by the CA (mutual TLS). rustls with the `ring` provider, the TLS stack already in
//! the build for registries.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The three files `--tlsverify` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{flag} {path}: {problem}")]
    File {
        flag: &'static str,
        path: PathBuf,
        problem: String,
    },
    #[error("the TLS configuration cannot be used: {0}")]
    Config(String),
}

fn file_err<'p>(flag: &'static str, path: &'p Path) -> impl Fn(String) -> TlsError + 'p {
    move |problem| TlsError::File {
        flag,
        path: path.to_path_buf(),
        problem,
    }
}

fn certs(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = file_err(flag, path);
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(err(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into(),
        ));
    }
    Ok(certs)
}

/// The acceptor for `files`: fails, naming the flag and the file, when one cannot be read or
/// the key does not fit the certificate.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for c in certs("--tlscacert", &files.ca)? {
        roots
            .add(c)
            .map_err(|e| file_err("--tlscacert", &files.ca)(e.to_string()))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let chain = certs("--tlscert", &files.cert)?;
    let key_err = file_err("--tlskey", &files.key);
    let key_bytes = std::fs::read(&files.key).map_err(|e| key_err(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes)
        .map_err(|e| key_err(format!("not a PEM private key: {e}")))?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| key_err(format!("does not fit the certificate: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// `HOST:PORT`, with Docker's TLS port 2376 when none is given.
pub fn with_default_port(hp: &str) -> String {
    let has_port = match hp.rsplit_once(':') {
        Some((host, port)) => !port.is_empty() && (!host.contains(':') || host.ends_with(']')),
        None => false,
    };
    if has_port {
        hp.to_string()
    } else {
        format!("{hp}:2376")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port() {
        for (given, want) in [
            ("127.0.0.1:2400", "127.0.0.1:2400"),
            ("127.0.0.1", "127.0.0.1:2376"),
            ("localhost", "localhost:2376"),
            ("[::1]:9", "[::1]:9"),
            ("[::1]", "[::1]:2376"),
        ] {
            assert_eq!(with_default_port(given), want, "{given}");
        }
    }

    #[test]
    fn unreadable_and_non_pem_files_name_the_flag_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        let files = TlsFiles {
            ca: junk.clone(),
            cert: junk.clone(),
            key: dir.path().join("missing.pem"),
        };
        let msg = acceptor(&files).err().unwrap().to_string();
        assert!(
            msg.starts_with("--tlscacert ") && msg.contains("junk.pem"),
            "{msg}"
        );
    }
}
