//! The five rules, their CIS control ids per benchmark version, and the result types every
//! output (CLI report, admission response, metrics) is built from.

use serde::Serialize;
use std::fmt;

/// The feature gate the kubelet and kube-controller-manager rules are about.
pub const GATE: &str = "RotateKubeletServerCertificate";
/// The gate's fix on a command line, as one word: a constant text, `--feature-gates={GATE}=true`
/// (a test holds the two in step).
pub const FLAG_GATE_FIX: &str = "--feature-gates=RotateKubeletServerCertificate=true";
/// The flags the rules read (without the leading `--`).
pub const CA_FLAG: &str = "kubelet-certificate-authority";
pub const CERT_FLAG: &str = "kubelet-client-certificate";
pub const KEY_FLAG: &str = "kubelet-client-key";
pub const ROTATE_FLAG: &str = "rotate-server-certificates";
pub const GATES_FLAG: &str = "feature-gates";
/// The KubeletConfiguration fields the kubelet rules read.
pub const CONFIG_GATES: &str = "featureGates";
pub const CONFIG_BOOTSTRAP: &str = "serverTLSBootstrap";

/// A rule id, exactly as DESIGN.md section 1 spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleId {
    ApiserverKubeletClientCert,
    ApiserverKubeletCa,
    ControllerManagerRotateKubeletServerCert,
    KubeletRotateServerCert,
    KubeletServerTlsBootstrap,
    /// Live only (`scan`): not in `ALL`, which lists what files and objects can show.
    KubeletServingCertVerified,
}

impl RuleId {
    pub const ALL: [RuleId; 5] = [
        RuleId::ApiserverKubeletClientCert,
        RuleId::ApiserverKubeletCa,
        RuleId::ControllerManagerRotateKubeletServerCert,
        RuleId::KubeletRotateServerCert,
        RuleId::KubeletServerTlsBootstrap,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::ApiserverKubeletClientCert => "apiserver-kubelet-client-cert",
            RuleId::ApiserverKubeletCa => "apiserver-kubelet-ca",
            RuleId::ControllerManagerRotateKubeletServerCert => {
                "controller-manager-rotate-kubelet-server-cert"
            }
            RuleId::KubeletRotateServerCert => "kubelet-rotate-server-cert",
            RuleId::KubeletServerTlsBootstrap => "kubelet-server-tls-bootstrap",
            RuleId::KubeletServingCertVerified => "kubelet-serving-cert-verified",
        }
    }

    pub fn parse(s: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn component(self) -> Component {
        match self {
            RuleId::ApiserverKubeletClientCert | RuleId::ApiserverKubeletCa => Component::ApiServer,
            RuleId::ControllerManagerRotateKubeletServerCert => Component::ControllerManager,
            RuleId::KubeletRotateServerCert
            | RuleId::KubeletServerTlsBootstrap
            | RuleId::KubeletServingCertVerified => Component::Kubelet,
        }
    }

    /// CIS control ids, newest numbering first.
    pub fn controls(self) -> &'static [&'static str] {
        match self {
            RuleId::ApiserverKubeletClientCert => &[
                "CIS 1.2.4 (cis-1.7+, 1.20, 1.24)",
                "CIS 1.2.5 (cis-1.5, 1.6, 1.23)",
            ],
            RuleId::ApiserverKubeletCa => &[
                "CIS 1.2.5 (cis-1.7+, 1.20, 1.24)",
                "CIS 1.2.6 (cis-1.5, 1.6, 1.23)",
            ],
            RuleId::ControllerManagerRotateKubeletServerCert => &["CIS 1.3.6"],
            RuleId::KubeletRotateServerCert => &[
                "CIS 4.2.11 (cis-1.7+)",
                "CIS 4.2.12 (cis-1.5 to 1.24)",
                "AKS 3.2.9",
                "EKS 3.2.9",
                "GKE 3.2.9",
            ],
            RuleId::KubeletServerTlsBootstrap | RuleId::KubeletServingCertVerified => &[],
        }
    }

    /// Short form for messages: "CIS 1.2.5/1.2.6".
    pub fn short_controls(self) -> &'static str {
        match self {
            RuleId::ApiserverKubeletClientCert => "CIS 1.2.4/1.2.5",
            RuleId::ApiserverKubeletCa => "CIS 1.2.5/1.2.6",
            RuleId::ControllerManagerRotateKubeletServerCert => "CIS 1.3.6",
            RuleId::KubeletRotateServerCert => "CIS 4.2.11/4.2.12",
            RuleId::KubeletServerTlsBootstrap => "needed for 4.2.11/4.2.12 to take effect",
            RuleId::KubeletServingCertVerified => "needed before CIS 1.2.5/1.2.6 is safe",
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The control-plane component a rule or a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    #[serde(rename = "kube-apiserver")]
    ApiServer,
    #[serde(rename = "kube-controller-manager")]
    ControllerManager,
    #[serde(rename = "kubelet")]
    Kubelet,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::ApiServer => "kube-apiserver",
            Component::ControllerManager => "kube-controller-manager",
            Component::Kubelet => "kubelet",
        }
    }

    pub fn rules(self) -> &'static [RuleId] {
        match self {
            Component::ApiServer => &[
                RuleId::ApiserverKubeletClientCert,
                RuleId::ApiserverKubeletCa,
            ],
            Component::ControllerManager => &[RuleId::ControllerManagerRotateKubeletServerCert],
            Component::Kubelet => &[
                RuleId::KubeletRotateServerCert,
                RuleId::KubeletServerTlsBootstrap,
            ],
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Outcome of one rule on one object (DESIGN.md section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Does not hold, but the profile does not score it.
    Warn,
    Fail,
    /// Rule not applicable, or this input alone cannot decide it.
    Skip,
    /// Input could not be read or parsed.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }

    /// Does the setting fall short (whether or not the profile scores it)?
    pub fn is_violation(self) -> bool {
        matches!(self, Status::Fail | Status::Warn)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule evaluated against one component found in one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule: RuleId,
    pub component: Component,
    /// Container name, or the place in the object the component was found (e.g. `data.kubelet`).
    pub location: String,
    pub status: Status,
    /// What holds or does not, in words an operator can act on.
    pub message: String,
    /// The exact setting to add, e.g. `--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt`.
    pub remediation: Option<String>,
}
