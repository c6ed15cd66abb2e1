//! Verdicts on declared sources (DESIGN.md section 11): the same rules, with the distribution's
//! defaults counted and named. A flag the source writes overrides the default (k3s, kubeadm);
//! Talos and Kamaji set the client certificate pair after the source's flags, so theirs wins.

use crate::engine::checks::{self, GateState, gate_state};
use crate::engine::policy::{Policy, Profile};
use crate::engine::read::sources::{ArgOrigin, Declared, Distro, Form, Insert};
use crate::engine::rules::{
    CA_FLAG, CERT_FLAG, CONFIG_BOOTSTRAP, CONFIG_GATES, Component, Finding, GATE, GATES_FLAG,
    KEY_FLAG, ROTATE_FLAG, RuleId, Status,
};
use serde_json::Value;

/// The message of a kubelet that will not start: serverTLSBootstrap on, the gate explicitly off.
/// How a new flag is written in the source's form, for messages.
pub fn entry_text(form: Form, flag: &str, value: &str) -> String {
    match form {
        Form::Map | Form::ListValue | Form::KindGate => format!("{flag}: {value}"),
        Form::NameValue => format!("{{name: {flag}, value: {value}}}"),
        Form::FlagItem => format!("{flag}={value}"),
        Form::DashedItem => format!("--{flag}={value}"),
    }
}

fn insert_form(d: &Declared) -> Form {
    match &d.insert {
        Insert::Container { form, .. } => *form,
        Insert::KindPatch { .. } => Form::Map,
    }
}

/// Is the effective occurrence of `flag` a distribution default?
fn by_default(d: &Declared, flag: &str) -> bool {
    d.flags
        .last(flag)
        .is_some_and(|o| d.origins.get(o.token) == Some(&ArgOrigin::Default))
}

/// Does the source itself write `flag`?
fn written(d: &Declared, flag: &str) -> bool {
    d.flags
        .occurrences
        .iter()
        .any(|o| d.flags.name(o) == flag && d.origins.get(o.token) != Some(&ArgOrigin::Default))
}

pub fn evaluate(d: &Declared, component: Component, loc: &str, policy: &Policy) -> Vec<Finding> {
    match component {
        Component::ApiServer => apiserver(d, loc, policy),
        Component::ControllerManager => {
            let mut out = checks::controller_manager(&d.flags, loc, policy);
            for f in &mut out {
                if f.status.is_violation() && d.flags.last(GATES_FLAG).is_none() {
                    f.message = format!(
                        "{} ({} does not set it: add {} to {})",
                        f.message,
                        d.distro.name(),
                        entry_text(insert_form(d), GATES_FLAG, &format!("{GATE}=true")),
                        d.args_name
                    );
                }
            }
            out
        }
        Component::Kubelet => kubelet(d, loc, policy),
    }
}

fn apiserver(d: &Declared, loc: &str, policy: &Policy) -> Vec<Finding> {
    let mut out = checks::apiserver(&d.flags, loc, policy, false);
    let who = d.distro.name();
    for f in &mut out {
        match (f.rule, f.status) {
            (RuleId::ApiserverKubeletClientCert, Status::Pass)
                if by_default(d, CERT_FLAG) && by_default(d, KEY_FLAG) =>
            {
                let mut m = format!(
                    "{who} sets --{CERT_FLAG}={} and --{KEY_FLAG}={} itself (distribution default)",
                    d.flags.value(CERT_FLAG).unwrap_or(""),
                    d.flags.value(KEY_FLAG).unwrap_or("")
                );
                if matches!(d.distro, Distro::Talos | Distro::Kamaji)
                    && (written(d, CERT_FLAG) || written(d, KEY_FLAG))
                {
                    // Talos's merge policy for these flags is "denied": it rejects the
                    // machine config rather than ignore the entry.
                    let args = &d.args_name;
                    m.push_str(&if d.distro == Distro::Talos {
                        format!(
                            "; {who} refuses a machine config in which {args} sets it: remove it"
                        )
                    } else {
                        format!("; {who} ignores the value {args} gives: remove it")
                    });
                }
                f.message = m;
            }
            (RuleId::ApiserverKubeletCa, Status::Pass) if by_default(d, CA_FLAG) => {
                f.message = format!(
                    "{who} sets --{CA_FLAG}={} itself (distribution default), so kube-apiserver verifies kubelet serving certificates",
                    d.flags.value(CA_FLAG).unwrap_or("")
                );
            }
            (RuleId::ApiserverKubeletCa, s) if s.is_violation() && !written(d, CA_FLAG) => {
                f.message = format!(
                    "{} ({who} does not set it: add {} to {})",
                    f.message,
                    entry_text(
                        insert_form(d),
                        CA_FLAG,
                        &policy.remediation.kubelet_certificate_authority
                    ),
                    d.args_name
                );
            }
            _ => {}
        }
    }
    out
}

/// Where a kubelet setting was decided, for messages.
fn flag_source(d: &Declared, flag: &str) -> String {
    match d.flags.last(flag).and_then(|o| d.origins.get(o.token)) {
        Some(ArgOrigin::Entry {
            form: Form::KindGate,
            ..
        }) => "kind featureGates".to_string(),
        _ => format!("{} --{flag}", d.args_name),
    }
}

fn kubelet(d: &Declared, loc: &str, policy: &Policy) -> Vec<Finding> {
    let short = if policy.profile == Profile::Cis {
        Status::Warn
    } else {
        Status::Fail
    };
    let config = d.config.as_ref();
    let cfg = |k: &str| config.and_then(|c| c.value.get(k));
    let cfg_name = config.map_or("", |c| c.name.as_str());
    let who = d.distro.name();
    let form = insert_form(d);
    let prefer_config = config.is_some_and(|c| c.prefer);

    // The gate: a flag wins over the configuration, which wins over the (absent) default.
    let rule = RuleId::KubeletRotateServerCert;
    let ctl = rule.short_controls();
    let flag_gate = gate_state(&d.flags.feature_gates());
    let (state, source) = match flag_gate {
        GateState::Absent => match cfg(CONFIG_GATES).and_then(|g| g.get(GATE)) {
            Some(Value::Bool(true)) => (GateState::True, format!("{cfg_name} featureGates")),
            Some(Value::Bool(false)) => (GateState::False, format!("{cfg_name} featureGates")),
            Some(other) => (
                GateState::Invalid(other.to_string()),
                format!("{cfg_name} featureGates"),
            ),
            None => (GateState::Absent, String::new()),
        },
        s => (s, flag_source(d, GATES_FLAG)),
    };
    let gate_fix = if prefer_config || source.ends_with(" featureGates") {
        format!("featureGates: {{{GATE}: true}} in {cfg_name}")
    } else {
        format!(
            "{} in {}",
            entry_text(form, GATES_FLAG, &format!("{GATE}=true")),
            d.args_name
        )
    };
    let gate_off = matches!(state, GateState::False);
    let (status, message) = match state {
        GateState::True => (
            Status::Pass,
            format!("kubelet sets {GATE}=true in {source}"),
        ),
        GateState::False => (
            short,
            format!("kubelet disables {GATE} in {source} ({ctl}): set {gate_fix}"),
        ),
        GateState::Invalid(raw) => (
            short,
            format!(
                "kubelet has an invalid value {raw} for {GATE} in {source} and will not start ({ctl}): set {gate_fix}"
            ),
        ),
        GateState::Absent if policy.profile == Profile::Cis => (
            Status::Pass,
            format!(
                "{who} does not set {GATE} for the kubelet; the gate defaults to true since Kubernetes 1.12 (cis profile)"
            ),
        ),
        GateState::Absent => (
            short,
            format!(
                "kubelet lacks {GATE}=true ({ctl}): {who} does not set it by default; set {gate_fix}"
            ),
        ),
    };
    let mut out = vec![finding(rule, loc, status, message, &gate_fix)];

    // serverTLSBootstrap, or the --rotate-server-certificates flag (which wins).
    let rule = RuleId::KubeletServerTlsBootstrap;
    let boot_fix = if prefer_config
        || (d.flags.last(ROTATE_FLAG).is_none() && cfg(CONFIG_BOOTSTRAP).is_some())
    {
        format!("serverTLSBootstrap: true in {cfg_name}")
    } else {
        format!(
            "{} in {}",
            entry_text(form, ROTATE_FLAG, "true"),
            d.args_name
        )
    };
    let consequence = format!(
        "so it serves a self-signed certificate that --{CA_FLAG} cannot verify and {GATE} has no effect"
    );
    let (on, status, message) = match (d.flags.bool_value(ROTATE_FLAG), cfg(CONFIG_BOOTSTRAP)) {
        (Some(Ok(true)), _) => (
            true,
            Status::Pass,
            format!("kubelet runs with --{ROTATE_FLAG}=true ({})", d.args_name),
        ),
        (Some(Ok(false)), _) => (
            false,
            short,
            format!(
                "{} sets --{ROTATE_FLAG}=false, {consequence}: set {boot_fix}",
                d.args_name
            ),
        ),
        (Some(Err(raw)), _) => (
            false,
            short,
            format!(
                "{} has an invalid value {raw:?} for --{ROTATE_FLAG} and the kubelet will not start: set {boot_fix}",
                d.args_name
            ),
        ),
        (None, Some(Value::Bool(true))) => (
            true,
            Status::Pass,
            format!("kubelet sets serverTLSBootstrap: true in {cfg_name}"),
        ),
        (None, Some(other)) => (
            false,
            short,
            format!("{cfg_name} sets serverTLSBootstrap: {other}, {consequence}: set {boot_fix}"),
        ),
        (None, None) => (
            false,
            short,
            format!(
                "kubelet lacks serverTLSBootstrap ({who} does not set it by default), {consequence}: set {boot_fix}"
            ),
        ),
    };
    out.push(finding(rule, loc, status, message, &boot_fix));
    if on && gate_off {
        checks::mark_invalid(&mut out, &gate_fix);
    }
    out
}

fn finding(rule: RuleId, loc: &str, status: Status, message: String, fix: &str) -> Finding {
    Finding {
        rule,
        component: rule.component(),
        location: loc.to_string(),
        status,
        message,
        remediation: status.is_violation().then(|| fix.to_string()),
    }
}
