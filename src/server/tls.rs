//! rustls configuration (ring provider, TLS 1.2 and 1.3, ALPN h2 and http/1.1) and the
//! certificate resolver that lets the serving certificate change without a restart.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// Certificates, chains and keys are a few KiB; 1 MiB leaves room for long bundles.
pub const MAX_PEM_FILE: u64 = 1024 * 1024;

/// The one crypto provider of the process.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain and key ready to serve, with its expiry.
#[derive(Debug, Clone)]
pub struct LoadedCert {
    pub key: Arc<CertifiedKey>,
    /// `notAfter` of the leaf, Unix seconds.
    pub not_after: Option<i64>,
    /// `notBefore` of the leaf, Unix seconds.
    pub not_before: Option<i64>,
}

/// Why a certificate that parses is not served now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Expired { not_after: i64 },
    NotYetValid { not_before: i64 },
}

impl std::fmt::Display for Validity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .ok()
                .and_then(|d| {
                    d.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| t.to_string())
        };
        match self {
            Validity::Expired { not_after } => {
                write!(f, "certificate expired at {}", at(*not_after))
            }
            Validity::NotYetValid { not_before } => {
                write!(f, "certificate is not valid before {}", at(*not_before))
            }
        }
    }
}

impl LoadedCert {
    /// Whether the leaf is valid at `now` (Unix seconds). A pair outside its validity is never
    /// put in service: clients would refuse it anyway.
    pub fn valid_at(&self, now: i64) -> Result<(), Validity> {
        if let Some(not_before) = self.not_before.filter(|t| now < *t) {
            return Err(Validity::NotYetValid { not_before });
        }
        if let Some(not_after) = self.not_after.filter(|t| now > *t) {
            return Err(Validity::Expired { not_after });
        }
        Ok(())
    }
}

/// The current time as Unix seconds.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn not_before_unix(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_before.timestamp())
}

/// Parse a PEM certificate chain and a PEM private key (PKCS#8, SEC1 or PKCS#1) and check that
/// they belong together. The error is one line that says which part is wrong.
pub fn load_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<LoadedCert, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    let Some(leaf) = chain.first() else {
        return Err("certificate: no PEM CERTIFICATE block".into());
    };
    let not_after = crate::install::certs::not_after_unix(leaf);
    let not_before = not_before_unix(leaf);
    if not_after.is_none() {
        return Err("certificate: not a valid X.509 certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("key: {e}"))?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("key: {e}"))?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified
        .keys_match()
        .map_err(|e| format!("key does not match the certificate: {e}"))?;
    Ok(LoadedCert {
        not_before,
        key: Arc::new(certified),
        not_after,
    })
}

/// Serves whatever certificate was loaded last; the reloader swaps it. Handshakes in progress
/// keep the `Arc` they took, so a swap never disturbs a connection.
#[derive(Debug)]
pub struct ReloadingResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingResolver {
    pub fn new(initial: Arc<CertifiedKey>) -> Self {
        ReloadingResolver {
            current: RwLock::new(initial),
        }
    }

    pub fn set(&self, key: Arc<CertifiedKey>) {
        // A poisoned lock only means a writer panicked mid-assignment of an Arc: the value is whole.
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = key;
    }

    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for ReloadingResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Read the client CA bundle for mTLS.
fn client_verifier(
    path: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let shown = path.display().to_string();
    let pem = crate::fsio::read_regular(path, MAX_PEM_FILE).map_err(|e| TlsError::Invalid {
        path: shown.clone(),
        message: e.reason,
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| TlsError::Invalid {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        roots.add(cert).map_err(|e| TlsError::Invalid {
            path: shown.clone(),
            message: e.to_string(),
        })?;
    }
    if roots.is_empty() {
        return Err(TlsError::Invalid {
            path: shown,
            message: "no PEM CERTIFICATE block".into(),
        });
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))
}

/// The server configuration: TLS 1.3 and 1.2 only, ALPN h2 then http/1.1, the reloading
/// resolver, and client certificates required when `client_ca` is given.
pub fn server_config(
    resolver: Arc<ReloadingResolver>,
    client_ca: Option<&Path>,
    provider: Arc<CryptoProvider>,
) -> Result<rustls::ServerConfig, TlsError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match client_ca {
        Some(path) => builder.with_client_cert_verifier(client_verifier(path, provider)?),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::certs;

    #[test]
    fn loads_a_generated_pair_and_rejects_mismatch_and_garbage() {
        let p = provider();
        let a = certs::generate(&["localhost".into()], 2).unwrap();
        let b = certs::generate(&["localhost".into()], 2).unwrap();
        let ok = load_pem(
            a.serving.cert_pem.as_bytes(),
            a.serving.key_pem.as_bytes(),
            &p,
        )
        .unwrap();
        assert!(ok.not_after.unwrap() > 0);
        let err = load_pem(
            a.serving.cert_pem.as_bytes(),
            b.serving.key_pem.as_bytes(),
            &p,
        )
        .unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        let err = load_pem(b"garbage", a.serving.key_pem.as_bytes(), &p).unwrap_err();
        assert!(err.starts_with("certificate"), "{err}");
        let err = load_pem(
            a.serving.cert_pem.as_bytes(),
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            &p,
        )
        .unwrap_err();
        assert!(err.starts_with("key"), "{err}");
    }

    #[test]
    fn config_has_alpn_and_versions() {
        let p = provider();
        let a = certs::generate(&["localhost".into()], 2).unwrap();
        let loaded = load_pem(
            a.serving.cert_pem.as_bytes(),
            a.serving.key_pem.as_bytes(),
            &p,
        )
        .unwrap();
        let cfg = server_config(Arc::new(ReloadingResolver::new(loaded.key)), None, p).unwrap();
        assert_eq!(
            cfg.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
