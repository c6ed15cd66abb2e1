//! What the two configurations depend on, checked before anything is printed.

use super::{
    DEFAULT_NAME, DEFAULT_NAMESPACE, DEFAULT_PORT, DEFAULT_SERVICE, DEFAULT_TIMEOUT_SECONDS,
    MAX_TIMEOUT_SECONDS,
};
use crate::install::dns;

/// Validating or enforcing: decides `failurePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum WebhookMode {
    /// `failurePolicy: Fail`: when the webhook is down, matching requests are rejected.
    Enforce,
    /// `failurePolicy: Ignore`: a webhook outage never blocks the control plane.
    #[default]
    DryRun,
}

impl WebhookMode {
    pub fn failure_policy(self) -> &'static str {
        match self {
            WebhookMode::Enforce => "Fail",
            WebhookMode::DryRun => "Ignore",
        }
    }
}

/// Where the API server gets the CA that signed the webhook's serving certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// PEM bytes, placed in `clientConfig.caBundle` exactly as given.
    Bundle(Vec<u8>),
    /// `namespace/certificate` of a cert-manager Certificate: cainjector fills the caBundle.
    InjectFrom(String),
    /// Left empty: a later step (kustomize replacement, cainjector) fills it.
    None,
}

/// Everything the two configurations depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    /// `metadata.name` of both configurations.
    pub name: String,
    pub service: String,
    pub namespace: String,
    pub port: i32,
    pub mode: WebhookMode,
    pub timeout_seconds: i32,
    pub ca: CaSource,
    /// `https://HOST[:PORT]` the API server calls instead of the Service (webhook outside the
    /// cluster, tests); `/validate` and `/mutate` are appended.
    pub url: Option<String>,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            name: DEFAULT_NAME.into(),
            service: DEFAULT_SERVICE.into(),
            namespace: DEFAULT_NAMESPACE.into(),
            port: DEFAULT_PORT,
            mode: WebhookMode::DryRun,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            ca: CaSource::None,
            url: None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--timeout-seconds {0}: must be between 1 and {MAX_TIMEOUT_SECONDS}")]
    Timeout(i32),
    #[error("--port {0}: must be between 1 and 65535")]
    Port(i32),
    #[error("{flag} {value:?}: {reason}")]
    Name {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("--url {0:?}: must be https://HOST[:PORT] without user, path, query or fragment")]
    Url(String),
    #[error("CA bundle {source_name}: {reason}")]
    CaBundle { source_name: String, reason: String },
}

impl WebhookOptions {
    /// Reject what the API server would reject later, or what would silently never work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_TIMEOUT_SECONDS).contains(&self.timeout_seconds) {
            return Err(ConfigError::Timeout(self.timeout_seconds));
        }
        if !(1..=65535).contains(&self.port) {
            return Err(ConfigError::Port(self.port));
        }
        check_dns_label("--service", &self.service)?;
        check_dns_label("--namespace", &self.namespace)?;
        check_dns_subdomain("--name", &self.name)?;
        if let Some(url) = &self.url {
            // The API server refuses these; say so before anything is applied.
            let host = url.strip_prefix("https://").unwrap_or("");
            if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
                return Err(ConfigError::Url(url.clone()));
            }
        }
        if let CaSource::InjectFrom(from) = &self.ca {
            let bad = || ConfigError::Name {
                flag: "--inject-ca-from",
                value: from.clone(),
                reason: "expected NAMESPACE/CERTIFICATE".into(),
            };
            let (ns, cert) = from.split_once('/').ok_or_else(bad)?;
            check_dns_label("--inject-ca-from", ns).map_err(|_| bad())?;
            check_dns_subdomain("--inject-ca-from", cert).map_err(|_| bad())?;
        }
        Ok(())
    }
}

fn check_dns_label(flag: &'static str, value: &str) -> Result<(), ConfigError> {
    check_name(flag, value, dns::is_label(value), dns::LABEL_RULE)
}

fn check_dns_subdomain(flag: &'static str, value: &str) -> Result<(), ConfigError> {
    check_name(flag, value, dns::is_subdomain(value), dns::SUBDOMAIN_RULE)
}

fn check_name(flag: &'static str, value: &str, ok: bool, rule: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Name {
            flag,
            value: value.into(),
            reason: rule.into(),
        })
    }
}

/// Check that `pem` holds at least one X.509 certificate and no private key, so a mixed-up file
/// (tls.key for ca.crt) is caught here rather than published cluster-wide in a caBundle.
pub fn check_ca_bundle(pem: &[u8], source_name: &str) -> Result<(), ConfigError> {
    let err = |reason: String| ConfigError::CaBundle {
        source_name: source_name.into(),
        reason,
    };
    let mut certificates = 0;
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.map_err(|e| err(format!("not valid PEM: {e}")))?;
        if block.label.contains("PRIVATE KEY") {
            return Err(err(format!(
                "holds a {} block: a caBundle must contain only the CA certificate (ca.crt), never a key",
                block.label
            )));
        }
        if block.label == "CERTIFICATE" {
            block
                .parse_x509()
                .map_err(|e| err(format!("certificate {}: {e}", certificates + 1)))?;
            certificates += 1;
        }
    }
    if certificates == 0 {
        return Err(err("no PEM CERTIFICATE block found".into()));
    }
    Ok(())
}
