//! The Validating- and MutatingWebhookConfiguration that route control-plane objects to the
//! webhook (DESIGN.md section 7, issue 4 point 2).
//!
//! Built as typed k8s-openapi objects so a misspelled field cannot slip through, then serialised
//! to YAML by `render`. The `matchConditions` only narrow the traffic (fewer calls, less latency
//! for everything else); the engine still decides what is relevant.

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MatchCondition, MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations,
    ServiceReference, ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use std::collections::BTreeMap;

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

/// Workload kinds whose pod template may run a control-plane component (hosted control planes).
pub const WORKLOAD_RESOURCES: [(&str, &str); 6] = [
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];

/// Components whose settings the rules judge.
pub const COMPONENTS: [&str; 3] = ["kube-apiserver", "kube-controller-manager", "kubelet"];

/// The kube-system ConfigMaps kubeadm keeps the cluster-wide settings in.
pub const KUBEADM_CONFIGMAPS: [&str; 2] = ["kubeadm-config", "kubelet-config"];
/// Legacy per-version kubelet ConfigMaps: `kubelet-config-1.N`.
pub const LEGACY_KUBELET_CONFIGMAP_PREFIX: &str = "kubelet-config-1.";

/// A command or args element that runs a component: the executable's basename as a word,
/// also inside a `/bin/sh -c` line, or `hyperkube` (whose subcommand names the component).
/// Word ends, not substrings: `--kubelet-insecure-tls` or `kubelet-tls-guard` must not match.
pub const COMMAND_PATTERN: &str =
    r"(^|[\s/;&|(])(kube-apiserver|kube-controller-manager|kubelet|hyperkube)([\s;&|)]|$)";
/// An image of a component: `registry.k8s.io/kube-apiserver:v1.34.2`, `…/kube-apiserver-amd64:v1.10`,
/// `…/hyperkube:v1.8.5`.
pub const IMAGE_PATTERN: &str =
    r"(^|/)(kube-apiserver|kube-controller-manager|kubelet|hyperkube)(-[A-Za-z0-9_]+)?([:@]|$)";

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
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Name {
            flag,
            value: value.into(),
            reason: "must be a DNS label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit".into(),
        })
    }
}

fn check_dns_subdomain(flag: &'static str, value: &str) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value
            .split('.')
            .all(|label| check_dns_label(flag, label).is_ok());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Name {
            flag,
            value: value.into(),
            reason: "must be a DNS subdomain: dot-separated DNS labels, at most 253 characters"
                .into(),
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

/// CREATE and UPDATE of pods, the workload kinds and configmaps. Subresources are not listed
/// (status updates and exec never reach us).
pub fn rules() -> Vec<RuleWithOperations> {
    let ops = || Some(vec!["CREATE".to_string(), "UPDATE".to_string()]);
    let rule = |group: &str, resources: Vec<&str>| RuleWithOperations {
        api_groups: Some(vec![group.to_string()]),
        api_versions: Some(vec!["v1".to_string()]),
        operations: ops(),
        resources: Some(resources.into_iter().map(String::from).collect()),
        scope: Some("Namespaced".to_string()),
    };
    let of_group = |g: &str| -> Vec<&str> {
        WORKLOAD_RESOURCES
            .iter()
            .filter(|(group, _)| *group == g)
            .map(|(_, r)| *r)
            .collect()
    };
    vec![
        rule("", vec!["pods", "configmaps"]),
        rule("apps", of_group("apps")),
        rule("batch", of_group("batch")),
    ]
}

fn cel_string_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `meta` (an ObjectMeta that exists) carries the kubeadm `component` label (or Typhoon's
/// `k8s-app`) of a component.
fn cel_labels(meta: &str, indent: &str) -> String {
    let components = cel_string_list(&COMPONENTS);
    [
        // `!= null`: a null map would make `in` an evaluation error (= a webhook failure).
        format!("(has({meta}.labels) && {meta}.labels != null && ("),
        format!("{indent}  ('component' in {meta}.labels && {meta}.labels['component'] in {components}) ||"),
        format!("{indent}  ('k8s-app' in {meta}.labels && {meta}.labels['k8s-app'] in {components})))"),
    ]
    .join("\n")
}

/// `spec` (a PodSpec that exists) has a container running a component by command, args or image.
fn cel_pod_spec(spec: &str, indent: &str) -> String {
    [
        format!("(has({spec}.containers) && {spec}.containers.exists(c,"),
        format!(
            "{indent}  (has(c.command) && c.command.exists(t, t.matches(r'{COMMAND_PATTERN}'))) ||"
        ),
        format!("{indent}  (has(c.args) && c.args.exists(t, t.matches(r'{COMMAND_PATTERN}'))) ||"),
        format!("{indent}  (has(c.image) && c.image.matches(r'{IMAGE_PATTERN}'))))"),
    ]
    .join("\n")
}

/// A pod template (`tmpl` exists): its labels or its spec.
fn cel_template(tmpl: &str) -> String {
    [
        "(".to_string(),
        format!(
            "    (has({tmpl}.metadata) && {}) ||",
            cel_labels(&format!("{tmpl}.metadata"), "    ")
        ),
        format!(
            "    (has({tmpl}.spec) && {}))",
            cel_pod_spec(&format!("{tmpl}.spec"), "    ")
        ),
    ]
    .join("\n")
}

/// The CEL expression: one OR over the resource kinds (all match conditions must hold, and each
/// is evaluated for every resource in `rules`), null-safe at every step (`has()` before each
/// optional field) because an evaluation error counts as a webhook failure, which
/// `failurePolicy: Fail` turns into a rejected request. Multi-line with comments, for the
/// operator reading it with `kubectl get -o yaml`.
pub fn match_expression() -> String {
    let templated: Vec<&str> = WORKLOAD_RESOURCES
        .iter()
        .filter(|(_, r)| *r != "cronjobs")
        .map(|(_, r)| *r)
        .collect();
    let configmap = [
        "// kubeadm's ConfigMaps: nodes copy the kubelet settings, control planes the flags.".to_string(),
        "(request.resource.group == '' && request.resource.resource == 'configmaps' &&".to_string(),
        "  request.namespace == 'kube-system' && has(object.metadata) && has(object.metadata.name) &&".to_string(),
        format!(
            "  (object.metadata.name in {} || object.metadata.name.startsWith('{LEGACY_KUBELET_CONFIGMAP_PREFIX}')))",
            cel_string_list(&KUBEADM_CONFIGMAPS)
        ),
    ];
    let pod = [
        "// Pods (mirror pods of static pods too) labelled as, or running, a component."
            .to_string(),
        "(request.resource.group == '' && request.resource.resource == 'pods' && (".to_string(),
        format!(
            "  (has(object.metadata) && {}) ||",
            cel_labels("object.metadata", "  ")
        ),
        format!(
            "  (has(object.spec) && {})))",
            cel_pod_spec("object.spec", "  ")
        ),
    ];
    let workload = [
        "// Workloads whose pod template runs a component (hosted control planes).".to_string(),
        format!(
            "(request.resource.group in ['apps', 'batch'] && request.resource.resource in {} &&",
            cel_string_list(&templated)
        ),
        format!(
            "  has(object.spec) && has(object.spec.template) && {})",
            cel_template("object.spec.template")
        ),
    ];
    let cronjob = [
        "// CronJobs: the pod template is one level deeper.".to_string(),
        "(request.resource.group == 'batch' && request.resource.resource == 'cronjobs' &&".to_string(),
        "  has(object.spec) && has(object.spec.jobTemplate) && has(object.spec.jobTemplate.spec) &&".to_string(),
        format!(
            "  has(object.spec.jobTemplate.spec.template) && {})",
            cel_template("object.spec.jobTemplate.spec.template")
        ),
    ];
    [
        configmap.join("\n"),
        pod.join("\n"),
        workload.join("\n"),
        cronjob.join("\n"),
    ]
    .join(" ||\n")
}

pub fn match_conditions() -> Vec<MatchCondition> {
    vec![MatchCondition {
        name: MATCH_CONDITION_NAME.into(),
        expression: match_expression(),
    }]
}

/// Every namespace but the webhook's own: its pods must start even when the webhook is down.
pub fn namespace_selector(own_namespace: &str) -> LabelSelector {
    LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "kubernetes.io/metadata.name".into(),
            operator: "NotIn".into(),
            values: Some(vec![own_namespace.into()]),
        }]),
        match_labels: None,
    }
}

fn client_config(opts: &WebhookOptions, path: &str) -> WebhookClientConfig {
    WebhookClientConfig {
        ca_bundle: match &opts.ca {
            CaSource::Bundle(pem) => Some(ByteString(pem.clone())),
            _ => None,
        },
        service: match opts.url {
            Some(_) => None,
            None => Some(ServiceReference {
                name: opts.service.clone(),
                namespace: opts.namespace.clone(),
                path: Some(path.into()),
                port: Some(opts.port),
            }),
        },
        url: opts.url.as_ref().map(|base| format!("{base}{path}")),
    }
}

fn metadata(opts: &WebhookOptions) -> ObjectMeta {
    let annotations = match &opts.ca {
        CaSource::InjectFrom(from) => Some(BTreeMap::from([(
            INJECT_CA_FROM_ANNOTATION.to_string(),
            from.clone(),
        )])),
        _ => None,
    };
    ObjectMeta {
        name: Some(opts.name.clone()),
        labels: Some(BTreeMap::from([(
            "app.kubernetes.io/name".to_string(),
            DEFAULT_NAME.to_string(),
        )])),
        annotations,
        ..ObjectMeta::default()
    }
}

pub fn validating_configuration(opts: &WebhookOptions) -> ValidatingWebhookConfiguration {
    ValidatingWebhookConfiguration {
        metadata: metadata(opts),
        webhooks: Some(vec![ValidatingWebhook {
            name: VALIDATING_WEBHOOK_NAME.into(),
            admission_review_versions: vec!["v1".into()],
            client_config: client_config(opts, VALIDATE_PATH),
            failure_policy: Some(opts.mode.failure_policy().into()),
            match_policy: Some("Equivalent".into()),
            match_conditions: Some(match_conditions()),
            namespace_selector: Some(namespace_selector(&opts.namespace)),
            object_selector: None,
            rules: Some(rules()),
            side_effects: "None".into(),
            timeout_seconds: Some(opts.timeout_seconds),
        }]),
    }
}

pub fn mutating_configuration(opts: &WebhookOptions) -> MutatingWebhookConfiguration {
    MutatingWebhookConfiguration {
        metadata: metadata(opts),
        webhooks: Some(vec![MutatingWebhook {
            name: MUTATING_WEBHOOK_NAME.into(),
            admission_review_versions: vec!["v1".into()],
            client_config: client_config(opts, MUTATE_PATH),
            failure_policy: Some(opts.mode.failure_policy().into()),
            match_policy: Some("Equivalent".into()),
            match_conditions: Some(match_conditions()),
            namespace_selector: Some(namespace_selector(&opts.namespace)),
            object_selector: None,
            // Our patch is idempotent and other mutators do not add control-plane flags.
            reinvocation_policy: Some("Never".into()),
            rules: Some(rules()),
            side_effects: "None".into(),
            timeout_seconds: Some(opts.timeout_seconds),
        }]),
    }
}

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
