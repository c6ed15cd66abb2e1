//! The verdict of each rule on one subject (DESIGN.md section 1). Pure functions of the parsed
//! settings and the profile; messages say what holds and the exact setting to add.

use crate::engine::policy::{Policy, Profile};
use crate::engine::read::at::At;
use crate::engine::read::flags::{Flags, Gates};
use crate::engine::read::subjects::{KubeadmArgs, Settings, Subject};
use crate::engine::rules::{
    CA_FLAG, CERT_FLAG, CONFIG_BOOTSTRAP, CONFIG_GATES, Component, FLAG_GATE_FIX, Finding, GATE,
    KEY_FLAG, ROTATE_FLAG, RuleId, Status,
};
use serde_json::Value;

fn finding(
    rule: RuleId,
    location: &str,
    status: Status,
    message: String,
    remediation: Option<String>,
) -> Finding {
    Finding {
        rule,
        component: rule.component(),
        location: location.to_string(),
        status,
        message,
        remediation,
    }
}

/// Evaluate every rule of the subject's component.
pub fn evaluate(subject: &Subject, policy: &Policy) -> Vec<Finding> {
    let loc = subject.location.as_str();
    match &subject.settings {
        Settings::Container { invocation, .. } => match invocation.component {
            Component::ApiServer => apiserver(&invocation.flags, loc, policy, false),
            Component::ControllerManager => controller_manager(&invocation.flags, loc, policy),
            Component::Kubelet => kubelet(None, Some(&invocation.flags), loc, policy),
        },
        Settings::KubeletConfig { config: Err(e), .. } => subject
            .component
            .rules()
            .iter()
            .map(|&r| finding(r, loc, Status::Error, e.clone(), None))
            .collect(),
        Settings::KubeletConfig {
            config: Ok(cfg), ..
        } => match kubeconfig_body(cfg) {
            Some(e) => Component::Kubelet
                .rules()
                .iter()
                .map(|&r| finding(r, loc, Status::Error, e.clone(), None))
                .collect(),
            None => kubelet(Some(cfg), None, loc, policy),
        },
        Settings::Kubeadm(k) => kubeadm(k, loc, policy, subject.component),
        // Declared sources are judged by `declared`, which builds on the functions here.
        Settings::Declared(_) => Vec::new(),
    }
}

/// A KubeletConfiguration whose body is really a kubeconfig is a mistake worth naming.
fn kubeconfig_body(cfg: &Value) -> Option<String> {
    // Scanned, not hashed: a KubeletConfiguration built for the engine has a few members.
    let has = |k: &str| cfg.member(k).is_some();
    (has("clusters") || has("contexts") || has("users")).then(|| {
        "declares kind KubeletConfiguration but the body is a kubeconfig (clusters/contexts/users): the kubelet cannot load it".to_string()
    })
}

fn kubeadm(k: &KubeadmArgs, loc: &str, policy: &Policy, component: Component) -> Vec<Finding> {
    match component {
        Component::ApiServer => apiserver(&k.flags, loc, policy, true),
        _ => controller_manager(&k.flags, loc, policy),
    }
}

/// kube-apiserver: client certificate + key (CIS 1.2.4/1.2.5) and the kubelet CA (1.2.5/1.2.6).
/// `kubeadm`: the flags are kubeadm extraArgs, and kubeadm adds the client pair itself.
pub fn apiserver(flags: &Flags, loc: &str, policy: &Policy, kubeadm: bool) -> Vec<Finding> {
    let r = &policy.remediation;
    let mut out = Vec::new();

    let rule = RuleId::ApiserverKubeletClientCert;
    let missing: Vec<(&str, &str)> = [
        (CERT_FLAG, r.kubelet_client_certificate.as_str()),
        (KEY_FLAG, r.kubelet_client_key.as_str()),
    ]
    .into_iter()
    .filter(|(f, _)| match flags.last(f) {
        // kubeadm generates the pair unless extraArgs overrides it.
        None => !kubeadm,
        Some(_) => flags.value(f).is_none(),
    })
    .collect();
    if missing.is_empty() {
        let how = if kubeadm && flags.last(CERT_FLAG).is_none() && flags.last(KEY_FLAG).is_none() {
            "kubeadm generates --kubelet-client-certificate and --kubelet-client-key".to_string()
        } else {
            [
                "kube-apiserver authenticates to kubelets with --kubelet-client-certificate=",
                flags.value(CERT_FLAG).unwrap_or("(kubeadm default)"),
                " and --kubelet-client-key=",
                flags.value(KEY_FLAG).unwrap_or("(kubeadm default)"),
            ]
            .concat()
        };
        out.push(finding(rule, loc, Status::Pass, how, None));
    } else {
        let adds: Vec<String> = missing.iter().map(|(f, v)| format!("--{f}={v}")).collect();
        let what: Vec<String> = missing
            .iter()
            .map(|(f, _)| describe_missing(flags, f))
            .collect();
        out.push(finding(
            rule,
            loc,
            Status::Fail,
            format!(
                "kube-apiserver {} ({}): add {}",
                what.join(" and "),
                rule.short_controls(),
                adds.join(" ")
            ),
            Some(adds.join(" ")),
        ));
    }

    let rule = RuleId::ApiserverKubeletCa;
    match flags.value(CA_FLAG) {
        Some(ca) => out.push(finding(
            rule,
            loc,
            Status::Pass,
            [
                "kube-apiserver verifies kubelet serving certificates against ",
                ca,
            ]
            .concat(),
            None,
        )),
        None => {
            // Joined from pieces, as the pass messages: every denial of a kube-apiserver
            // makes this one.
            let add = ["--", CA_FLAG, "=", &r.kubelet_certificate_authority].concat();
            let message = [
                "kube-apiserver ",
                &describe_missing(flags, CA_FLAG),
                " (",
                rule.short_controls(),
                "), so it does not verify kubelet serving certificates: add ",
                &add,
            ]
            .concat();
            out.push(finding(rule, loc, Status::Fail, message, Some(add)));
        }
    }
    out
}

fn describe_missing(flags: &Flags, flag: &str) -> String {
    if flags.last(flag).is_some() {
        ["sets --", flag, " to an empty value, which leaves it unset"].concat()
    } else {
        ["lacks --", flag].concat()
    }
}

/// How a feature gate stands after all sources are folded.
pub(crate) enum GateState {
    True,
    False,
    Invalid(String),
    Absent,
}

pub(crate) fn gate_state(gates: &Gates) -> GateState {
    match gates.get(GATE).map(|g| &g.value) {
        Some(Ok(true)) => GateState::True,
        Some(Ok(false)) => GateState::False,
        Some(Err(raw)) => GateState::Invalid(raw.clone()),
        None => GateState::Absent,
    }
}

/// kube-controller-manager: `--feature-gates` has RotateKubeletServerCertificate=true (CIS 1.3.6).
pub fn controller_manager(flags: &Flags, loc: &str, policy: &Policy) -> Vec<Finding> {
    let rule = RuleId::ControllerManagerRotateKubeletServerCert;
    let add = FLAG_GATE_FIX;
    let ctl = rule.short_controls();
    let (status, message) = match gate_state(&flags.feature_gates()) {
        GateState::True => (
            Status::Pass,
            [
                "kube-controller-manager sets --feature-gates ",
                GATE,
                "=true",
            ]
            .concat(),
        ),
        GateState::False => (
            Status::Fail,
            format!(
                "kube-controller-manager disables {GATE} in --feature-gates ({ctl}): set {GATE}=true"
            ),
        ),
        GateState::Invalid(raw) => (
            Status::Fail,
            format!(
                "kube-controller-manager has an invalid value {raw:?} for {GATE} in --feature-gates and will not start ({ctl}): use {GATE}=true"
            ),
        ),
        GateState::Absent if policy.profile == Profile::Cis => (
            Status::Pass,
            format!(
                "kube-controller-manager does not set {GATE}; the gate defaults to true since Kubernetes 1.12 (cis profile)"
            ),
        ),
        GateState::Absent => (
            Status::Fail,
            format!(
                "kube-controller-manager lacks {GATE}=true in --feature-gates ({ctl}): add {add}"
            ),
        ),
    };
    let remediation = (status == Status::Fail).then(|| add.to_string());
    vec![finding(rule, loc, status, message, remediation)]
}

/// The kubelet: the gate (CIS 4.2.11/4.2.12) and serverTLSBootstrap. Flags override the config
/// file; when only one of the two is known, the message says what the other could change.
pub fn kubelet(
    config: Option<&Value>,
    flags: Option<&Flags>,
    loc: &str,
    policy: &Policy,
) -> Vec<Finding> {
    let cis = policy.profile == Profile::Cis;
    // Unscored kubelet rules only warn under the cis profile.
    let short = if cis { Status::Warn } else { Status::Fail };
    let caveat = match (config.is_some(), flags.is_some()) {
        (true, false) => " (unless a kubelet flag overrides this file)",
        _ => "",
    };
    let mut out = Vec::new();

    // The gate: config featureGates, then --feature-gates per gate.
    let rule = RuleId::KubeletRotateServerCert;
    let ctl = rule.short_controls();
    let flag_gate = flags.map(|f| f.feature_gates()).map(|g| gate_state(&g));
    let config_gate = config.map(
        |c| match c.member(CONFIG_GATES).and_then(|g| g.member(GATE)) {
            Some(Value::Bool(true)) => GateState::True,
            Some(Value::Bool(false)) => GateState::False,
            Some(other) => GateState::Invalid(other.to_string()),
            None => GateState::Absent,
        },
    );
    let (state, source) = match (flag_gate, config_gate) {
        (Some(GateState::Absent), Some(c)) | (None, Some(c)) => (c, CONFIG_GATES),
        (Some(f), _) => (f, "--feature-gates"),
        (None, None) => (GateState::Absent, CONFIG_GATES),
    };
    let gate_fix = if source == CONFIG_GATES {
        CONFIG_GATE_FIX
    } else {
        FLAG_GATE_FIX
    };
    let undecided = config.is_none() && matches!(state, GateState::Absent);
    let gate_off = matches!(state, GateState::False);
    let (status, message) = match state {
        _ if undecided => (
            Status::Skip,
            format!(
                "these kubelet flags do not set {GATE}; the kubelet config file (--config) decides it"
            ),
        ),
        GateState::True => (
            Status::Pass,
            ["kubelet sets ", GATE, "=true in ", source, caveat].concat(),
        ),
        GateState::False => (
            short,
            format!("kubelet disables {GATE} in {source} ({ctl}){caveat}: set {gate_fix}"),
        ),
        GateState::Invalid(raw) => (
            short,
            format!(
                "kubelet has an invalid value {raw} for {GATE} in {source} and will not start ({ctl}): set {gate_fix}"
            ),
        ),
        GateState::Absent if cis => (
            Status::Pass,
            format!(
                "kubelet does not set {GATE}; the gate defaults to true since Kubernetes 1.12 (cis profile){caveat}"
            ),
        ),
        GateState::Absent => (
            short,
            format!("kubelet lacks {GATE}=true in {source} ({ctl}){caveat}: add {gate_fix}"),
        ),
    };
    let remediation = status.is_violation().then(|| gate_fix.to_string());
    out.push(finding(rule, loc, status, message, remediation));

    // serverTLSBootstrap, or the deprecated --rotate-server-certificates flag.
    let rule = RuleId::KubeletServerTlsBootstrap;
    let flag = flags.and_then(|f| f.bool_value(ROTATE_FLAG));
    let from_config = config.map(|c| c.member(CONFIG_BOOTSTRAP));
    let bootstrap_on = matches!(
        (&flag, &from_config),
        (Some(Ok(true)), _) | (None, Some(Some(Value::Bool(true))))
    );
    let (status, message, fix) = match (flag, from_config) {
        (Some(Ok(true)), _) => (
            Status::Pass,
            format!("kubelet runs with --{ROTATE_FLAG}=true"),
            None,
        ),
        (Some(Ok(false)), _) => (
            short,
            format!(
                "kubelet runs with --{ROTATE_FLAG}=false, so it never requests a serving certificate and the {GATE} gate has no effect: set --{ROTATE_FLAG}=true"
            ),
            Some(format!("--{ROTATE_FLAG}=true")),
        ),
        (Some(Err(raw)), _) => (
            short,
            format!(
                "kubelet has an invalid value {raw:?} for --{ROTATE_FLAG} and will not start: set --{ROTATE_FLAG}=true"
            ),
            Some(format!("--{ROTATE_FLAG}=true")),
        ),
        (None, Some(Some(Value::Bool(true)))) => (
            Status::Pass,
            ["kubelet sets serverTLSBootstrap: true", caveat].concat(),
            None,
        ),
        (None, Some(v)) => {
            let what = match v {
                Some(Value::Bool(false)) => "sets serverTLSBootstrap: false".to_string(),
                Some(other) => format!("has an invalid serverTLSBootstrap value {other}"),
                None => "lacks serverTLSBootstrap: true".to_string(),
            };
            (
                short,
                format!(
                    "kubelet {what}, so it serves a self-signed certificate that --{CA_FLAG} cannot verify and {GATE} has no effect{caveat}: set serverTLSBootstrap: true"
                ),
                Some("serverTLSBootstrap: true".to_string()),
            )
        }
        (None, None) => (
            Status::Skip,
            format!(
                "these kubelet flags do not set --{ROTATE_FLAG}; the kubelet config file (serverTLSBootstrap) decides it"
            ),
            None,
        ),
    };
    out.push(finding(rule, loc, status, message, fix));
    if bootstrap_on && gate_off {
        mark_invalid(&mut out, gate_fix);
    }
    out
}

/// The gate's fix in a KubeletConfiguration (on the command line: `rules::FLAG_GATE_FIX`): a
/// constant text (a kubelet rule's fix went through `format!` for every kubelet-config review).
const CONFIG_GATE_FIX: &str = "featureGates: {RotateKubeletServerCertificate: true}";

/// The kubelet refuses a configuration that turns serving-certificate rotation on with the gate
/// explicitly off.
pub const INVALID_BOOTSTRAP: &str = "invalid kubelet configuration: serverTLSBootstrap (or --rotate-server-certificates) is on while RotateKubeletServerCertificate is false, and the kubelet refuses to start with that";

/// Mark the kubelet findings of a configuration the kubelet refuses (whatever the profile).
pub(crate) fn mark_invalid(out: &mut [Finding], fix: &str) {
    for f in out.iter_mut().filter(|f| {
        matches!(
            f.rule,
            RuleId::KubeletRotateServerCert | RuleId::KubeletServerTlsBootstrap
        )
    }) {
        f.status = Status::Fail;
        // Keep what was found: it says where each of the two settings comes from.
        f.message = format!("{INVALID_BOOTSTRAP}: set {fix} ({})", f.message);
        f.remediation = Some(fix.to_string());
    }
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
