//! The Validating- and MutatingWebhookConfiguration that route control-plane objects to the
//! webhook (DESIGN.md section 7, issue 4 point 2).
//!
//! Built as typed k8s-openapi objects so a misspelled field cannot slip through, then serialised
//! to YAML by `render`. The `matchConditions` only narrow the traffic (fewer calls, less latency
//! for everything else); the engine still decides what is relevant.

mod cel;
mod objects;
mod options;
mod sources;

pub use cel::*;
pub use objects::{mutating_configuration, namespace_selector, validating_configuration};
pub use options::*;

/// Name of both configurations, the Service and the namespace in the shipped manifests.
pub const DEFAULT_NAME: &str = "kubelet-tls-guard";
pub const DEFAULT_SERVICE: &str = "kubelet-tls-guard";
pub const DEFAULT_NAMESPACE: &str = "kubelet-tls-guard";
/// The Service port (it forwards to the container's 8443).
pub const DEFAULT_PORT: i32 = 443;
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 3;
/// The API server waits this long for us on every matching request: keep it short.
pub const MAX_TIMEOUT_SECONDS: i32 = 5;
pub const VALIDATE_PATH: &str = "/validate";
pub const MUTATE_PATH: &str = "/mutate";
pub const VALIDATING_WEBHOOK_NAME: &str = "validate.kubelet-tls-guard.svc";
pub const MUTATING_WEBHOOK_NAME: &str = "mutate.kubelet-tls-guard.svc";
/// The one match condition (all conditions must hold, so the cases are OR-ed inside it).
pub const MATCH_CONDITION_NAME: &str = "control-plane-objects";
/// The cert-manager annotation that makes its cainjector fill the caBundle.
pub const INJECT_CA_FROM_ANNOTATION: &str = "cert-manager.io/inject-ca-from";

/// The YAML stream `webhook-config` prints: the validating configuration, then (with
/// `include_mutating`) the mutating one, as separate documents.
pub fn render(opts: &WebhookOptions, include_mutating: bool) -> Result<String, RenderError> {
    opts.validate()?;
    if let CaSource::Bundle(pem) = &opts.ca {
        check_ca_bundle(pem, "--ca-bundle")?;
    }
    let mut out = serde_yaml_ng::to_string(&validating_configuration(opts))?;
    if include_mutating {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&mutating_configuration(opts))?);
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot serialise the webhook configuration: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_above_five_is_refused() {
        let opts = WebhookOptions {
            timeout_seconds: 6,
            ..WebhookOptions::default()
        };
        assert_eq!(opts.validate(), Err(ConfigError::Timeout(6)));
        let opts = WebhookOptions {
            timeout_seconds: 0,
            ..WebhookOptions::default()
        };
        assert_eq!(opts.validate(), Err(ConfigError::Timeout(0)));
        let opts = WebhookOptions {
            timeout_seconds: 5,
            ..WebhookOptions::default()
        };
        assert_eq!(opts.validate(), Ok(()));
    }

    #[test]
    fn bad_names_are_refused() {
        for (service, namespace) in [("Bad_Name", "ok"), ("ok", "-x"), ("ok", "")] {
            let opts = WebhookOptions {
                service: service.into(),
                namespace: namespace.into(),
                ..WebhookOptions::default()
            };
            assert!(opts.validate().is_err(), "{service}/{namespace} accepted");
        }
        let opts = WebhookOptions {
            ca: CaSource::InjectFrom("no-slash".into()),
            ..WebhookOptions::default()
        };
        assert!(opts.validate().is_err());
    }

    #[test]
    fn url_replaces_the_service() {
        let opts = WebhookOptions {
            url: Some("https://127.0.0.1:8443".into()),
            ..WebhookOptions::default()
        };
        let cc = &validating_configuration(&opts).webhooks.unwrap()[0].client_config;
        assert_eq!(cc.url.as_deref(), Some("https://127.0.0.1:8443/validate"));
        assert!(cc.service.is_none());
        for bad in [
            "http://127.0.0.1",
            "https://",
            "https://h/x",
            "https://u@h",
            "https://h?q",
        ] {
            let opts = WebhookOptions {
                url: Some(bad.into()),
                ..WebhookOptions::default()
            };
            assert_eq!(opts.validate(), Err(ConfigError::Url(bad.into())), "{bad}");
        }
    }

    #[test]
    fn a_private_key_is_never_a_ca_bundle() {
        let key = b"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";
        let e = check_ca_bundle(key, "tls.key").unwrap_err().to_string();
        assert!(e.contains("never a key"), "{e}");
        let e = check_ca_bundle(b"hello", "x").unwrap_err().to_string();
        assert!(e.contains("no PEM CERTIFICATE"), "{e}");
    }

    #[test]
    fn expression_names_every_case() {
        // The CEL itself is evaluated against real objects in tests/manifests.rs.
        let expr = match_expression();
        for needle in [
            "'pods'",
            "'configmaps'",
            "'kube-system'",
            "'kubeadm-config'",
            "'kubelet-config'",
            "'kubelet-config-1.'",
            "object.spec.template",
            "object.spec.jobTemplate.spec.template",
            "'component'",
        ] {
            assert!(expr.contains(needle), "{needle} missing from {expr}");
        }
    }
}
