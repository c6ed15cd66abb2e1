//! Certificates for the webhook: an ECDSA P-256 CA and the serving certificate it signs.
//!
//! Used by `certs` (install-time certificates for the Service) and by `serve` when no certificate
//! is given (a development CA under `certs/dev/`). The CA key is never written: renewing means a
//! new CA and a new `caBundle`, so no long-lived signing key lies around next to the webhook.

use crate::fsio::{self, WriteOptions};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// The file names `certs` writes and `serve` reads (the keys of a `kubernetes.io/tls` Secret).
pub const CA_CERT_FILE: &str = "ca.crt";
pub const TLS_CERT_FILE: &str = "tls.crt";
pub const TLS_KEY_FILE: &str = "tls.key";

/// Default Service name and namespace of the webhook.
pub const DEFAULT_SERVICE: &str = "kubelet-tls-guard";
pub const DEFAULT_NAMESPACE: &str = "kubelet-tls-guard";

/// Longest validity accepted (ten years).
pub const MAX_DAYS: u32 = 3650;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("invalid name {name:?}: {reason}")]
    Name { name: String, reason: String },
    #[error("validity must be 1 to {MAX_DAYS} days, got {0}")]
    Days(u32),
    #[error("refusing to overwrite {} (pass --force to replace)", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Exists(Vec<PathBuf>),
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// DNS names the API server may use to reach `<service>` in `<namespace>` (it calls
/// `<service>.<namespace>.svc`; the others cover in-cluster clients).
pub fn service_dns_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// A CA that lives only in memory.
pub struct CertAuthority {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    pub cert_pem: String,
    pub key_pem: String,
}

/// What `certs` and the dev mode write: `ca.crt`, `tls.crt`, `tls.key`.
#[derive(Debug, Clone)]
pub struct CertBundle {
    pub ca_cert_pem: String,
    pub serving: IssuedCert,
}

fn validity(params: &mut CertificateParams, days: u32) -> Result<(), CertError> {
    if days == 0 || days > MAX_DAYS {
        return Err(CertError::Days(days));
    }
    let now = OffsetDateTime::now_utc();
    // A little backdating absorbs clock skew between the machine that signs and the API server.
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(i64::from(days));
    Ok(())
}

fn subject(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "kubelet-tls-guard");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn leaf_params(
    names: &[String],
    common_name: &str,
    days: u32,
) -> Result<CertificateParams, CertError> {
    for n in names {
        if n.is_empty() || n.contains(char::is_whitespace) {
            return Err(CertError::Name {
                name: n.clone(),
                reason: "a DNS name or IP address without spaces is required".into(),
            });
        }
    }
    let mut params = CertificateParams::new(names.to_vec()).map_err(|e| CertError::Name {
        name: names.join(","),
        reason: e.to_string(),
    })?;
    params.distinguished_name = subject(common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, days)?;
    Ok(params)
}

impl CertAuthority {
    /// A fresh self-signed ECDSA P-256 CA valid for `days`.
    pub fn new(common_name: &str, days: u32) -> Result<Self, CertError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(common_name);
        // It signs leaf certificates only.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params, days)?;
        let cert = params.self_signed(&key)?;
        Ok(CertAuthority {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A serving certificate for `names` (DNS names; IP addresses become IP SANs).
    pub fn issue_server(&self, names: &[String], days: u32) -> Result<IssuedCert, CertError> {
        let cn = names
            .first()
            .map(String::as_str)
            .unwrap_or("kubelet-tls-guard");
        let mut params = leaf_params(names, cn, days)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate (e.g. for the API server when the webhook runs with `--client-ca`).
    pub fn issue_client(&self, common_name: &str, days: u32) -> Result<IssuedCert, CertError> {
        let mut params = leaf_params(&[], common_name, days)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Result<IssuedCert, CertError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A new CA and a serving certificate for `names`, both valid for `days`.
pub fn generate(names: &[String], days: u32) -> Result<CertBundle, CertError> {
    if names.is_empty() {
        return Err(CertError::Invalid(
            "at least one DNS name or IP address is needed".into(),
        ));
    }
    let ca = CertAuthority::new("kubelet-tls-guard CA", days)?;
    let serving = ca.issue_server(names, days)?;
    Ok(CertBundle {
        ca_cert_pem: ca.cert_pem,
        serving,
    })
}

/// The three paths of a bundle in `dir`.
pub fn bundle_paths(dir: &Path) -> [PathBuf; 3] {
    [
        dir.join(CA_CERT_FILE),
        dir.join(TLS_CERT_FILE),
        dir.join(TLS_KEY_FILE),
    ]
}

/// Write `ca.crt`, `tls.crt` (0644) and `tls.key` (0600) into `dir`, creating it if needed.
/// Without `force`, nothing is written when any of the three exists.
pub fn write_bundle(dir: &Path, bundle: &CertBundle, force: bool) -> Result<(), CertError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CertError::Io { path, error }
    };
    let paths = bundle_paths(dir);
    if !force {
        let existing: Vec<PathBuf> = paths.iter().filter(|p| p.exists()).cloned().collect();
        if !existing.is_empty() {
            return Err(CertError::Exists(existing));
        }
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let [ca, crt, key] = paths;
    // The key is written 0600 before any byte of it exists on disk.
    write_new(&ca, bundle.ca_cert_pem.as_bytes(), 0o644).map_err(io(&ca))?;
    write_new(&key, bundle.serving.key_pem.as_bytes(), 0o600).map_err(io(&key))?;
    write_new(&crt, bundle.serving.cert_pem.as_bytes(), 0o644).map_err(io(&crt))?;
    Ok(())
}

/// Write a certificate file atomically with `mode`, replacing what `--force` allowed to replace
/// (a replaced file gets `mode` too: the old key's mode must not carry over to a new key).
fn write_new(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let opts = WriteOptions {
        mode: Some(mode),
        backup_suffix: None,
    };
    fsio::write_atomic(path, contents, opts).map(|_| ())
}

/// Check that the bundle in `dir` can serve `names` for at least `min_remaining` more:
/// all three files parse, the key matches, the chain verifies against `ca.crt` for every name.
/// The error says what is wrong (used to decide whether dev certificates can be reused).
pub fn check_bundle(
    dir: &Path,
    names: &[String],
    min_remaining: Duration,
) -> Result<(), CertError> {
    let [ca_path, crt_path, key_path] = bundle_paths(dir);
    let read = |p: &Path| {
        std::fs::read(p).map_err(|error| CertError::Io {
            path: p.to_path_buf(),
            error,
        })
    };
    let ca_pem = read(&ca_path)?;
    let crt_pem = read(&crt_path)?;
    let key_pem = read(&key_path)?;
    let invalid = |p: &Path, what: String| CertError::Invalid(format!("{}: {what}", p.display()));

    let ca =
        CertificateDer::from_pem_slice(&ca_pem).map_err(|e| invalid(&ca_path, e.to_string()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&crt_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(&crt_path, e.to_string()))?;
    let leaf = chain
        .first()
        .ok_or_else(|| invalid(&crt_path, "no certificate".into()))?;
    let key =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| invalid(&key_path, e.to_string()))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| invalid(&key_path, e.to_string()))?;
    let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing_key);
    certified.keys_match().map_err(|e| {
        invalid(
            &key_path,
            format!("does not match {}: {e}", crt_path.display()),
        )
    })?;

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca)
        .map_err(|e| invalid(&ca_path, e.to_string()))?;
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| invalid(&ca_path, e.to_string()))?;
    let later = OffsetDateTime::now_utc() + min_remaining;
    let later = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(later.unix_timestamp()).unwrap_or(0),
    ));
    for name in names {
        let server_name = ServerName::try_from(name.as_str())
            .map_err(|e| CertError::Name {
                name: name.clone(),
                reason: e.to_string(),
            })?
            .to_owned();
        use rustls::client::danger::ServerCertVerifier;
        verifier
            .verify_server_cert(leaf, &chain[1..], &server_name, &[], later)
            .map_err(|e| {
                invalid(
                    &crt_path,
                    format!("not valid for {name} until {later:?}: {e}"),
                )
            })?;
    }
    Ok(())
}

/// The `notAfter` of the first certificate in a PEM file, as a Unix timestamp.
pub fn not_after_unix(cert_der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

#[cfg(test)]
#[path = "certs_tests.rs"]
mod tests;
