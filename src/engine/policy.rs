//! The policy file (DESIGN.md section 6): profile, modes, remediation defaults, exemptions.
//! Parsed once at start-up; the request path only reads it.

use crate::engine::rules::RuleId;
use globset::{Glob, GlobMatcher};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

mod lines;
#[cfg(test)]
mod tests;

/// The embedded default: dry-run, strict, remediate on.
pub const DEFAULT_POLICY: &str = include_str!("default-policy.yaml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// The gate must be explicitly true (seed benchmarks, AKS/EKS/GKE).
    #[default]
    Strict,
    /// As kube-bench: an absent gate passes; unscored kubelet rules warn.
    Cis,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Strict => "strict",
            Profile::Cis => "cis",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Enforce,
    #[default]
    DryRun,
    Off,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::DryRun => "dry-run",
            Mode::Off => "off",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MirrorPods {
    #[default]
    Report,
    Deny,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RuleOverride {
    pub mode: Option<Mode>,
    pub remediate: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Remediation {
    pub kubelet_certificate_authority: String,
    pub kubelet_client_certificate: String,
    pub kubelet_client_key: String,
    pub add_host_path_volume: bool,
}

impl Default for Remediation {
    fn default() -> Self {
        Remediation {
            kubelet_certificate_authority: "/etc/kubernetes/pki/ca.crt".into(),
            kubelet_client_certificate: "/etc/kubernetes/pki/apiserver-kubelet-client.crt".into(),
            kubelet_client_key: "/etc/kubernetes/pki/apiserver-kubelet-client.key".into(),
            add_host_path_volume: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExemption {
    #[serde(default = "star")]
    namespace: String,
    #[serde(default = "star")]
    name: String,
}

fn star() -> String {
    "*".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPolicy {
    #[serde(default)]
    profile: Profile,
    #[serde(default)]
    mode: Mode,
    #[serde(default = "yes")]
    remediate: bool,
    #[serde(default)]
    mirror_pods: MirrorPods,
    #[serde(default)]
    rules: BTreeMap<String, RuleOverride>,
    #[serde(default)]
    remediation: Remediation,
    #[serde(default)]
    exemptions: Vec<RawExemption>,
}

fn yes() -> bool {
    true
}

/// A compiled exemption: glob patterns on namespace and name.
#[derive(Debug, Clone)]
pub struct Exemption {
    pub namespace: String,
    pub name: String,
    namespace_glob: GlobMatcher,
    name_glob: GlobMatcher,
}

impl Exemption {
    pub fn matches(&self, namespace: &str, name: &str) -> bool {
        self.namespace_glob.is_match(namespace) && self.name_glob.is_match(name)
    }
}

/// The effective policy. Built once; cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub profile: Profile,
    pub mode: Mode,
    pub remediate: bool,
    pub mirror_pods: MirrorPods,
    pub rules: BTreeMap<RuleId, RuleOverride>,
    pub remediation: Remediation,
    pub exemptions: Vec<Exemption>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy {source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    #[error("policy {path}: {error}")]
    Read { path: String, error: std::io::Error },
}

impl Default for Policy {
    fn default() -> Self {
        Policy::embedded_or(DEFAULT_POLICY)
    }
}

impl Policy {
    /// The policy in `text` (the embedded default), or the same values built in, with a warning:
    /// a default that stopped parsing must not go unnoticed.
    fn embedded_or(text: &str) -> Policy {
        Policy::from_yaml(text, "<embedded default>").unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the embedded default policy does not parse; using the built-in values");
            Policy {
                profile: Profile::Strict,
                mode: Mode::DryRun,
                remediate: true,
                mirror_pods: MirrorPods::Report,
                rules: BTreeMap::new(),
                remediation: Remediation::default(),
                exemptions: Vec::new(),
            }
        })
    }

    pub fn from_yaml(text: &str, source_name: &str) -> Result<Policy, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid {
            source_name: source_name.to_string(),
            message,
        };
        // Serde's errors carry the key and line; ours (after parsing) find the line here.
        let at = |path: &[&str]| {
            lines::line_of(text, path).map_or_else(String::new, |l| format!(" at line {l}"))
        };
        let raw: RawPolicy =
            crate::yaml::one(if text.trim().is_empty() { "{}" } else { text }).map_err(invalid)?;
        let mut rules = BTreeMap::new();
        for (id, o) in raw.rules {
            let rule = RuleId::parse(&id).ok_or_else(|| {
                let known: Vec<_> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
                invalid(format!(
                    "rules.{id}: unknown rule id (known: {}){}",
                    known.join(", "),
                    at(&["rules", &id])
                ))
            })?;
            rules.insert(rule, o);
        }
        let r = &raw.remediation;
        for (key, value) in [
            (
                "kubeletCertificateAuthority",
                &r.kubelet_certificate_authority,
            ),
            ("kubeletClientCertificate", &r.kubelet_client_certificate),
            ("kubeletClientKey", &r.kubelet_client_key),
        ] {
            if !value.starts_with('/') {
                return Err(invalid(format!(
                    "remediation.{key}: must be an absolute path, got {value:?}{}",
                    at(&["remediation", key])
                )));
            }
        }
        let mut exemptions = Vec::new();
        for (i, e) in raw.exemptions.into_iter().enumerate() {
            let compile = |field: &str, pattern: &str| {
                Glob::new(pattern)
                    .map(|g| g.compile_matcher())
                    .map_err(|err| {
                        let line = at(&["exemptions", &i.to_string(), field]);
                        invalid(format!("exemptions[{i}].{field}: {err}{line}"))
                    })
            };
            exemptions.push(Exemption {
                namespace_glob: compile("namespace", &e.namespace)?,
                name_glob: compile("name", &e.name)?,
                namespace: e.namespace,
                name: e.name,
            });
        }
        Ok(Policy {
            profile: raw.profile,
            mode: raw.mode,
            remediate: raw.remediate,
            mirror_pods: raw.mirror_pods,
            rules,
            remediation: raw.remediation,
            exemptions,
        })
    }

    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|error| PolicyError::Read {
            path: path.display().to_string(),
            error,
        })?;
        Policy::from_yaml(&text, &path.display().to_string())
    }

    /// Load `--config` (or the embedded default) and apply command-line overrides.
    pub fn load(
        config: Option<&Path>,
        mode: Option<Mode>,
        profile: Option<Profile>,
    ) -> Result<Policy, PolicyError> {
        let mut policy = match config {
            Some(p) => Policy::from_file(p)?,
            None => Policy::from_yaml(DEFAULT_POLICY, "<embedded default>")?,
        };
        if let Some(m) = mode {
            policy.mode = m;
            // A command-line mode is the operator's word for every rule.
            for o in policy.rules.values_mut() {
                o.mode = None;
            }
        }
        if let Some(p) = profile {
            policy.profile = p;
        }
        Ok(policy)
    }

    pub fn mode_for(&self, rule: RuleId) -> Mode {
        self.rules
            .get(&rule)
            .and_then(|o| o.mode)
            .unwrap_or(self.mode)
    }

    pub fn remediate_for(&self, rule: RuleId) -> bool {
        self.rules
            .get(&rule)
            .and_then(|o| o.remediate)
            .unwrap_or(self.remediate)
    }

    /// The exemption that covers namespace/name, if any.
    pub fn exemption_for(&self, namespace: &str, name: &str) -> Option<&Exemption> {
        self.exemptions.iter().find(|e| e.matches(namespace, name))
    }
}
