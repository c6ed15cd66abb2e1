use super::*;

fn messages(out: &[Finding]) -> Vec<(&str, Option<&str>)> {
    out.iter()
        .map(|f| (f.message.as_str(), f.remediation.as_deref()))
        .collect()
}

fn flags(words: &[&str]) -> Flags<'static> {
    use crate::engine::read::flags::{Origin, Token};
    let token = |w: &&str| Token {
        text: w.to_string().into(),
        origin: Origin::None,
    };
    Flags::parse(words.iter().map(token).collect())
}

/// The pass messages and fixes written from pieces, as they read.
#[test]
fn pass_messages_and_fixes_read_as_written() {
    let policy = Policy::default();
    let f = flags(&[
        "--kubelet-client-certificate=/c",
        "--kubelet-client-key=/k",
        "--kubelet-certificate-authority=/ca",
    ]);
    assert_eq!(
        messages(&apiserver(&f, "l", &policy, false)),
        [
            (
                "kube-apiserver authenticates to kubelets with --kubelet-client-certificate=/c and --kubelet-client-key=/k",
                None
            ),
            (
                "kube-apiserver verifies kubelet serving certificates against /ca",
                None
            ),
        ]
    );
    let on = serde_json::json!({"featureGates": {GATE: true}, "serverTLSBootstrap": true});
    assert_eq!(
        messages(&kubelet(Some(&on), None, "l", &policy)),
        [
            (
                "kubelet sets RotateKubeletServerCertificate=true in featureGates (unless a kubelet flag overrides this file)",
                None
            ),
            (
                "kubelet sets serverTLSBootstrap: true (unless a kubelet flag overrides this file)",
                None
            ),
        ]
    );
    let f = flags(&["--feature-gates=RotateKubeletServerCertificate=true"]);
    let out = kubelet(None, Some(&f), "l", &policy);
    assert_eq!(
        messages(&out).first(),
        Some(&(
            "kubelet sets RotateKubeletServerCertificate=true in --feature-gates",
            None
        ))
    );
    // Off in the file, with the bootstrap on: the kubelet refuses it, and the fix is the
    // file's.
    let off = serde_json::json!({"featureGates": {GATE: false}, "serverTLSBootstrap": true});
    let out = kubelet(Some(&off), None, "l", &policy);
    assert!(
        out.iter()
            .all(|f| f.remediation.as_deref() == Some(CONFIG_GATE_FIX))
    );
    let f = flags(&["--feature-gates=RotateKubeletServerCertificate=false"]);
    let out = kubelet(None, Some(&f), "l", &policy);
    assert_eq!(
        out.first().and_then(|f| f.remediation.as_deref()),
        Some(FLAG_GATE_FIX)
    );
}

#[test]
fn controller_manager_messages_and_fix_read_as_written() {
    let policy = Policy::default();
    let on = flags(&["--feature-gates=RotateKubeletServerCertificate=true"]);
    assert_eq!(
        messages(&controller_manager(&on, "l", &policy)),
        [(
            "kube-controller-manager sets --feature-gates RotateKubeletServerCertificate=true",
            None
        )]
    );
    let out = controller_manager(&flags(&["--profiling=false"]), "l", &policy);
    assert_eq!(
        out.first().and_then(|f| f.remediation.as_deref()),
        Some(FLAG_GATE_FIX)
    );
}

/// A kubeadm-config's findings name the ConfigMap key and the section they come from.
#[test]
fn kubeadm_config_locations_name_key_and_section() {
    let cm = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
        "data": {"ClusterConfiguration": "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    kubelet-certificate-authority: /ca\ncontrollerManager:\n  extraArgs:\n    feature-gates: RotateKubeletServerCertificate=true\n"},
    });
    let eval = crate::engine::evaluate(&cm, &Policy::default()).expect("evaluated");
    let mut locations: Vec<&str> = eval.findings.iter().map(|f| f.location.as_str()).collect();
    locations.dedup();
    assert_eq!(
        locations,
        [
            "data.ClusterConfiguration.apiServer.extraArgs",
            "data.ClusterConfiguration.controllerManager.extraArgs"
        ]
    );
    assert!(
        eval.findings.iter().all(|f| f.status == Status::Pass),
        "{:?}",
        eval.findings
    );
}

/// The CA rule's failures, absent and empty, as `format!` wrote them.
#[test]
fn ca_failures_read_as_written() {
    let policy = Policy::default();
    let add = format!(
        "--{CA_FLAG}={}",
        policy.remediation.kubelet_certificate_authority
    );
    let ctl = RuleId::ApiserverKubeletCa.short_controls();
    for (words, what) in [
        (&[][..], "lacks --kubelet-certificate-authority"),
        (
            &["--kubelet-certificate-authority="][..],
            "sets --kubelet-certificate-authority to an empty value, which leaves it unset",
        ),
    ] {
        let out = apiserver(&flags(words), "l", &policy, true);
        let want = format!(
            "kube-apiserver {what} ({ctl}), so it does not verify kubelet serving certificates: add {add}"
        );
        let ca = out.iter().find(|f| f.rule == RuleId::ApiserverKubeletCa);
        assert_eq!(
            ca.map(|f| (f.message.as_str(), f.remediation.as_deref())),
            Some((want.as_str(), Some(add.as_str())))
        );
    }
}

/// The gate's fixes are written out as constants: they must name the gate as `GATE` does.
#[test]
fn gate_fixes_name_the_gate() {
    assert_eq!(CONFIG_GATE_FIX, format!("featureGates: {{{GATE}: true}}"));
    assert_eq!(FLAG_GATE_FIX, format!("--feature-gates={GATE}=true"));
}
