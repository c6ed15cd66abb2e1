//! One row per command-line form (DESIGN.md section 2, issue 2): a small inline input fed to
//! `check --format json -` on stdin, with the expected status of every non-skip rule.
//!
//! Pods use a neutral image unless the row is about the image, so recognition comes from the
//! command. Kubelet rows are kubelet flags files (kubeadm-flags.env / /etc/default/kubelet).

mod common;
use common::*;

struct Row {
    name: &'static str,
    input: String,
    location: &'static str,
    object: String,
    strict: Vec<(&'static str, &'static str)>,
    /// `None` = the profile changes nothing.
    cis: Option<Vec<(&'static str, &'static str)>>,
    /// Substring the message of every non-pass verdict must contain (lower case), if any.
    message: Option<&'static str>,
}

const NEUTRAL: &str = "example.com/platform/runner:1.0";

fn json_list(items: &[&str]) -> String {
    serde_json::to_string(items).expect("serialise list")
}

fn pod_yaml(
    name: &str,
    labels: &str,
    image: &str,
    command: Option<&[&str]>,
    args: Option<&[&str]>,
) -> String {
    let mut y = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: kube-system\n{labels}spec:\n  containers:\n  - name: c\n    image: {image}\n"
    );
    if let Some(c) = command {
        y.push_str(&format!("    command: {}\n", json_list(c)));
    }
    if let Some(a) = args {
        y.push_str(&format!("    args: {}\n", json_list(a)));
    }
    y
}

/// A pod whose container runs `command`.
fn cmd(
    name: &'static str,
    command: &[&str],
    strict: Vec<(&'static str, &'static str)>,
    cis: Option<Vec<(&'static str, &'static str)>>,
) -> Row {
    Row {
        name,
        input: pod_yaml(name, "", NEUTRAL, Some(command), None),
        location: "c",
        object: format!("kube-system/{name}"),
        strict,
        cis,
        message: None,
    }
}

/// A pod with no command: the image's entrypoint runs with `args`.
fn image_args(
    name: &'static str,
    image: &str,
    args: &[&str],
    strict: Vec<(&'static str, &'static str)>,
    cis: Option<Vec<(&'static str, &'static str)>>,
) -> Row {
    Row {
        name,
        input: pod_yaml(name, "", image, None, Some(args)),
        location: "c",
        object: format!("kube-system/{name}"),
        strict,
        cis,
        message: None,
    }
}

/// A kubelet flags file line `VAR=value` (value as written, quotes included).
fn env(
    name: &'static str,
    var: &'static str,
    value: &str,
    strict: Vec<(&'static str, &'static str)>,
    cis: Option<Vec<(&'static str, &'static str)>>,
) -> Row {
    Row {
        name,
        input: format!("{var}={value}\n"),
        location: var,
        object: ANY.to_string(),
        strict,
        cis,
        message: None,
    }
}

const KA: &str = "kube-apiserver";
const KCM: &str = "kube-controller-manager";
const CA_F: &str = "--kubelet-certificate-authority=/pki/ca.crt";
const CERT_F: &str = "--kubelet-client-certificate=/pki/kc.crt";
const KEY_F: &str = "--kubelet-client-key=/pki/kc.key";

fn both(client: &'static str, ca: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![(CLIENT, client), (CA, ca)]
}

fn gate(st: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![(CM, st)]
}

fn rows() -> Vec<Row> {
    let g = |v: &str| format!("--feature-gates=RotateKubeletServerCertificate={v}");
    let mut rows = vec![
        // --- apiserver string flags ---
        cmd(
            "eq-form",
            &[KA, CA_F, CERT_F, KEY_F],
            both(PASS, PASS),
            None,
        ),
        cmd(
            "two-items",
            &[
                KA,
                "--kubelet-certificate-authority",
                "/pki/ca.crt",
                "--kubelet-client-certificate",
                "/pki/kc.crt",
                "--kubelet-client-key",
                "/pki/kc.key",
            ],
            both(PASS, PASS),
            None,
        ),
        cmd(
            "two-items-ca-only",
            &[KA, "--kubelet-certificate-authority", "/pki/ca.crt"],
            both(FAIL, PASS),
            None,
        ),
        cmd(
            "ca-empty-eq",
            &[KA, "--kubelet-certificate-authority=", CERT_F, KEY_F],
            both(PASS, FAIL),
            None,
        ),
        cmd(
            "ca-empty-two-items",
            &[KA, CERT_F, KEY_F, "--kubelet-certificate-authority", ""],
            both(PASS, FAIL),
            None,
        ),
        cmd(
            "repeat-empties-ca",
            &[
                KA,
                CA_F,
                CERT_F,
                KEY_F,
                "--v=2",
                "--kubelet-certificate-authority=",
            ],
            both(PASS, FAIL),
            None,
        ),
        cmd(
            "repeat-sets-ca",
            &[KA, "--kubelet-certificate-authority=", CERT_F, KEY_F, CA_F],
            both(PASS, PASS),
            None,
        ),
        cmd(
            "repeat-changes-ca",
            &[
                KA,
                "--kubelet-certificate-authority=/old/ca.crt",
                CERT_F,
                KEY_F,
                "--kubelet-certificate-authority",
                "/new/ca.crt",
            ],
            both(PASS, PASS),
            None,
        ),
        cmd(
            "repeat-empties-key",
            &[KA, CA_F, CERT_F, KEY_F, "--kubelet-client-key="],
            both(FAIL, PASS),
            None,
        ),
        cmd(
            "cert-without-key",
            &[KA, CA_F, CERT_F],
            both(FAIL, PASS),
            None,
        ),
        cmd(
            "key-without-cert",
            &[KA, CA_F, KEY_F],
            both(FAIL, PASS),
            None,
        ),
        cmd(
            "no-kubelet-flags",
            &[KA, "--secure-port=6443"],
            both(FAIL, FAIL),
            None,
        ),
        // pflag: a string flag without "=" takes the NEXT item as its value, even a flag-like
        // one. Here the CA's value is "--kubelet-client-certificate=/pki/kc.crt" (set,
        // non-empty), and the client certificate itself is never set.
        cmd(
            "string-flag-swallows-next",
            &[KA, KEY_F, "--kubelet-certificate-authority", CERT_F],
            both(FAIL, PASS),
            None,
        ),
        // A bare boolean flag does not take the next item: the CA flag after it stands.
        cmd(
            "bare-bool-then-flag",
            &[KA, "--service-account-lookup", CA_F, CERT_F, KEY_F],
            both(PASS, PASS),
            None,
        ),
        // "--" ends the flags; flag-looking words after it are arguments.
        cmd(
            "double-dash-hides-ca",
            &[KA, CERT_F, KEY_F, "--", CA_F],
            both(PASS, FAIL),
            None,
        ),
        cmd(
            "double-dash-hides-emptying",
            &[
                KA,
                CA_F,
                CERT_F,
                KEY_F,
                "--",
                "--kubelet-certificate-authority=",
            ],
            both(PASS, PASS),
            None,
        ),
        cmd(
            "path-executable",
            &["/usr/local/bin/kube-apiserver", CA_F, CERT_F, KEY_F],
            both(PASS, PASS),
            None,
        ),
        // --- shell lines ---
        cmd(
            "sh-c-exec-pipe",
            &[
                "/bin/sh",
                "-c",
                "exec kube-apiserver --kubelet-certificate-authority=/pki/ca.crt --kubelet-client-certificate=/pki/kc.crt --kubelet-client-key=/pki/kc.key 2>&1 | tee -a /var/log/kube-apiserver.log",
            ],
            both(PASS, PASS),
            None,
        ),
        cmd(
            "sh-c-and-redirect",
            &[
                "/bin/sh",
                "-c",
                "mkdir -p /var/log/k && /usr/local/bin/kube-apiserver --kubelet-client-certificate=/pki/kc.crt --kubelet-client-key=/pki/kc.key >/var/log/k/a.log 2>&1",
            ],
            both(PASS, FAIL),
            None,
        ),
        cmd(
            "sh-c-quoted-values",
            &[
                "sh",
                "-c",
                "set -e; exec kube-apiserver --kubelet-certificate-authority=\"/pki/ca.crt\" --kubelet-client-certificate '/pki/kc.crt' --kubelet-client-key=/pki/kc.key",
            ],
            both(PASS, PASS),
            None,
        ),
        cmd(
            "bash-c-empty-ca",
            &[
                "/bin/bash",
                "-c",
                "exec kube-apiserver --kubelet-certificate-authority='' --kubelet-client-certificate=/pki/kc.crt --kubelet-client-key=/pki/kc.key",
            ],
            both(PASS, FAIL),
            None,
        ),
        // --- hyperkube, image entrypoint ---
        cmd(
            "hyperkube-apiserver",
            &["/hyperkube", "apiserver", CA_F],
            both(FAIL, PASS),
            None,
        ),
        cmd(
            "hyperkube-kube-apiserver",
            &["hyperkube", "kube-apiserver", CA_F, CERT_F, KEY_F],
            both(PASS, PASS),
            None,
        ),
        image_args(
            "image-only",
            "registry.k8s.io/kube-apiserver:v1.34.2",
            &[CERT_F, KEY_F],
            both(PASS, FAIL),
            None,
        ),
        image_args(
            "image-port-digest",
            "registry.example.com:5000/mirror/kube-apiserver@sha256:0d4b2a5e0f0c1f2e3d4c5b6a79881726354433221100ffeeddccbbaa99887766",
            &[CA_F, CERT_F, KEY_F],
            both(PASS, PASS),
            None,
        ),
        // No command, args[0] names the executable.
        image_args(
            "args-zero-executable",
            NEUTRAL,
            &[KA, CA_F],
            both(FAIL, PASS),
            None,
        ),
        // --- controller-manager feature gates ---
        cmd("gate-true", &[KCM, &g("true")], gate(PASS), None),
        cmd("gate-cap-true", &[KCM, &g("True")], gate(PASS), None),
        cmd("gate-upper-true", &[KCM, &g("TRUE")], gate(PASS), None),
        cmd("gate-1", &[KCM, &g("1")], gate(PASS), None),
        cmd("gate-t", &[KCM, &g("t")], gate(PASS), None),
        cmd("gate-upper-t", &[KCM, &g("T")], gate(PASS), None),
        cmd("gate-false", &[KCM, &g("false")], gate(FAIL), None),
        cmd("gate-0", &[KCM, &g("0")], gate(FAIL), None),
        cmd("gate-f", &[KCM, &g("f")], gate(FAIL), None),
        cmd("gate-cap-false", &[KCM, &g("False")], gate(FAIL), None),
        // Absent gate: strict fails, cis passes.
        cmd(
            "gate-absent-other-gates",
            &[KCM, "--feature-gates=TTLAfterFinished=true"],
            gate(FAIL),
            Some(gate(PASS)),
        ),
        cmd(
            "no-feature-gates",
            &[KCM, "--leader-elect"],
            gate(FAIL),
            Some(gate(PASS)),
        ),
        cmd(
            "gates-accumulate",
            &[
                KCM,
                &g("true"),
                "--v=2",
                "--feature-gates=TTLAfterFinished=true",
            ],
            gate(PASS),
            None,
        ),
        cmd(
            "gates-accumulate-later",
            &[KCM, "--feature-gates=TTLAfterFinished=true", &g("true")],
            gate(PASS),
            None,
        ),
        cmd(
            "gates-later-flips-false",
            &[
                KCM,
                "--feature-gates=RotateKubeletServerCertificate=true,TTLAfterFinished=true",
                &g("false"),
            ],
            gate(FAIL),
            None,
        ),
        cmd(
            "gates-later-flips-true",
            &[
                KCM,
                &g("false"),
                "--feature-gates=TTLAfterFinished=true,RotateKubeletServerCertificate=true",
            ],
            gate(PASS),
            None,
        ),
        cmd(
            "gates-same-list-last-wins",
            &[
                KCM,
                "--feature-gates=RotateKubeletServerCertificate=false,RotateKubeletServerCertificate=true",
            ],
            gate(PASS),
            None,
        ),
        // An empty --feature-gates adds no gate (Go's featureGate.Set skips empty items): the
        // earlier true stays.
        cmd(
            "gates-empty-later",
            &[KCM, &g("true"), "--feature-gates="],
            gate(PASS),
            None,
        ),
        cmd(
            "gates-spaces",
            &[
                KCM,
                "--feature-gates=TTLAfterFinished=true, RotateKubeletServerCertificate = true",
            ],
            gate(PASS),
            None,
        ),
        cmd(
            "gates-spaces-false",
            &[
                KCM,
                "--feature-gates= RotateKubeletServerCertificate=false ,TTLAfterFinished=true",
            ],
            gate(FAIL),
            None,
        ),
        cmd(
            "gates-two-items",
            &[
                KCM,
                "--feature-gates",
                "RotateKubeletServerCertificate=true",
            ],
            gate(PASS),
            None,
        ),
        cmd(
            "gates-after-double-dash",
            &[KCM, "--leader-elect=true", "--", &g("true")],
            gate(FAIL),
            Some(gate(PASS)),
        ),
        cmd(
            "hyperkube-controller-manager",
            &["/hyperkube", "controller-manager", &g("true")],
            gate(PASS),
            None,
        ),
        cmd(
            "hyperkube-kube-controller-manager",
            &[
                "/usr/local/bin/hyperkube",
                "kube-controller-manager",
                &g("false"),
            ],
            gate(FAIL),
            None,
        ),
        cmd(
            "sh-c-controller-manager",
            &[
                "/bin/sh",
                "-c",
                "exec kube-controller-manager --leader-elect=true --feature-gates='TTLAfterFinished=true,RotateKubeletServerCertificate=true' >>/var/log/kcm.log 2>&1",
            ],
            gate(PASS),
            None,
        ),
        image_args(
            "image-only-controller-manager",
            "registry.k8s.io/kube-controller-manager:v1.34.2",
            &["--leader-elect=true", &g("false")],
            gate(FAIL),
            None,
        ),
        // --- kubelet flags files ---
        env(
            "kubelet-bare-bool",
            "KUBELET_KUBEADM_ARGS",
            "\"--node-ip=10.0.0.5 --rotate-server-certificates\"",
            vec![(KBOOT, PASS)],
            None,
        ),
        env(
            "kubelet-rotate-true",
            "KUBELET_KUBEADM_ARGS",
            "\"--rotate-server-certificates=true\"",
            vec![(KBOOT, PASS)],
            None,
        ),
        env(
            "kubelet-rotate-cap-true",
            "KUBELET_KUBEADM_ARGS",
            "\"--rotate-server-certificates=True\"",
            vec![(KBOOT, PASS)],
            None,
        ),
        env(
            "kubelet-rotate-1",
            "KUBELET_KUBEADM_ARGS",
            "\"--rotate-server-certificates=1\"",
            vec![(KBOOT, PASS)],
            None,
        ),
        env(
            "kubelet-rotate-false",
            "KUBELET_KUBEADM_ARGS",
            "\"--rotate-server-certificates=false\"",
            vec![(KBOOT, FAIL)],
            Some(vec![(KBOOT, WARN)]),
        ),
        env(
            "kubelet-rotate-repeat-flips",
            "KUBELET_KUBEADM_ARGS",
            "\"--rotate-server-certificates=true --node-ip=10.0.0.5 --rotate-server-certificates=false\"",
            vec![(KBOOT, FAIL)],
            Some(vec![(KBOOT, WARN)]),
        ),
        env(
            "kubelet-gate-true",
            "KUBELET_KUBEADM_ARGS",
            "\"--feature-gates=RotateKubeletServerCertificate=true\"",
            vec![(KROT, PASS)],
            None,
        ),
        env(
            "kubelet-gate-false",
            "KUBELET_KUBEADM_ARGS",
            "\"--feature-gates=RotateKubeletServerCertificate=false\"",
            vec![(KROT, FAIL)],
            Some(vec![(KROT, WARN)]),
        ),
        env(
            "kubelet-gates-accumulate",
            "KUBELET_KUBEADM_ARGS",
            "\"--feature-gates=RotateKubeletServerCertificate=true --feature-gates=GracefulNodeShutdown=true\"",
            vec![(KROT, PASS)],
            None,
        ),
        env(
            "kubelet-both-single-quoted",
            "KUBELET_KUBEADM_ARGS",
            "'--rotate-server-certificates=true --feature-gates=RotateKubeletServerCertificate=t'",
            vec![(KROT, PASS), (KBOOT, PASS)],
            None,
        ),
        env(
            "kubelet-etc-default-unquoted",
            "KUBELET_EXTRA_ARGS",
            "--node-ip=10.0.0.5 --rotate-server-certificates=true",
            vec![(KBOOT, PASS)],
            None,
        ),
    ];
    // "yes" is not a Go bool: an invalid value. It never passes; the kubelet rule softens to
    // warn under cis like any other kubelet shortfall, the controller-manager rule stays fail.
    let mut yes_cm = cmd("gate-yes", &[KCM, &g("yes")], gate(FAIL), None);
    yes_cm.message = Some("invalid");
    rows.push(yes_cm);
    let mut yes_kubelet = env(
        "kubelet-rotate-yes",
        "KUBELET_KUBEADM_ARGS",
        "\"--rotate-server-certificates=yes\"",
        vec![(KBOOT, FAIL)],
        Some(vec![(KBOOT, WARN)]),
    );
    yes_kubelet.message = Some("invalid");
    rows.push(yes_kubelet);
    let mut yes_gate = env(
        "kubelet-gate-yes",
        "KUBELET_KUBEADM_ARGS",
        "\"--feature-gates=RotateKubeletServerCertificate=yes\"",
        vec![(KROT, FAIL)],
        Some(vec![(KROT, WARN)]),
    );
    yes_gate.message = Some("invalid");
    rows.push(yes_gate);
    // kubeadm labels, container named like the component, executable a wrapper.
    rows.push(Row {
        name: "labels-and-container-name",
        input: pod_yaml(
            "labels-and-container-name",
            "  labels:\n    component: kube-controller-manager\n    tier: control-plane\n",
            NEUTRAL,
            Some(&["/usr/local/bin/launcher", &g("true")]),
            None,
        )
        .replace("- name: c\n", "- name: kube-controller-manager\n"),
        location: "kube-controller-manager",
        object: "kube-system/labels-and-container-name".into(),
        strict: gate(PASS),
        cis: None,
        message: None,
    });
    // Recognised by the kubeadm labels alone (single container, any name; the executable is a
    // wrapper): both kubeadm labels leave no doubt which component the pod runs.
    rows.push(Row {
        name: "labels-only",
        input: pod_yaml(
            "labels-only",
            "  labels:\n    component: kube-controller-manager\n    tier: control-plane\n",
            NEUTRAL,
            Some(&["/usr/local/bin/launcher", &g("false")]),
            None,
        ),
        location: "c",
        object: "kube-system/labels-only".into(),
        strict: gate(FAIL),
        cis: None,
        message: None,
    });
    rows
}

fn expectations(row: &Row, list: &[(&'static str, &'static str)]) -> Vec<Exp> {
    // `Exp` holds &'static str; leak the few per-row strings (test process only).
    let object: &'static str = Box::leak(row.object.clone().into_boxed_str());
    list.iter()
        .map(|(rule, st)| e(object, row.location, rule, st))
        .collect()
}

#[test]
fn flag_forms_table() {
    let mut problems = Vec::new();
    for row in rows() {
        for profile in [None, Some("cis")] {
            let list = match profile {
                Some(_) => row.cis.as_ref().unwrap_or(&row.strict),
                None => &row.strict,
            };
            let exp = expectations(&row, list);
            let run = check_stdin(profile, &row.input);
            let label = format!("{} [{}]", row.name, profile.unwrap_or("strict"));
            problems.extend(check_case(&label, &run, &exp, &[]));
            if let (Some(needle), Ok(report)) = (row.message, run.try_json()) {
                for r in parse_results(&report) {
                    if (r.status == FAIL || r.status == WARN)
                        && !r.message.to_lowercase().contains(needle)
                    {
                        problems.push(format!(
                            "{label}: {} message should say {needle:?}: {:?}",
                            r.rule, r.message
                        ));
                    }
                }
            }
        }
    }
    assert_no_problems("flag forms", &problems);
}

/// Row names are unique, so a failure message points at one row.
#[test]
fn flag_form_rows_are_distinct() {
    let rows = rows();
    let mut names: Vec<&str> = rows.iter().map(|r| r.name).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(n, names.len(), "duplicate row names");
}
