//! The project's own fixtures (tests/fixtures, except admission/) against hand-written verdicts.
//! Together they cover every rule with pass and fail, every input kind of issue 2, every flag
//! form of DESIGN.md section 2, content detection (misleading file names), a directory tree and
//! stdin.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::Path;

struct Fx {
    /// Path under tests/fixtures.
    file: &'static str,
    /// `kind` every non-skip result must carry (for Kubernetes objects), when DESIGN fixes it.
    kind: Option<&'static str>,
    strict: Vec<Exp>,
    /// `None` = the profile changes nothing here.
    cis: Option<Vec<Exp>>,
}

fn fx(
    file: &'static str,
    kind: Option<&'static str>,
    strict: Vec<Exp>,
    cis: Option<Vec<Exp>>,
) -> Fx {
    Fx {
        file,
        kind,
        strict,
        cis,
    }
}

fn api(
    object: &'static str,
    loc: &'static str,
    client: &'static str,
    ca: &'static str,
) -> Vec<Exp> {
    vec![e(object, loc, CLIENT, client), e(object, loc, CA, ca)]
}

fn kubelet(
    object: &'static str,
    loc: &'static str,
    rot: &'static str,
    boot: &'static str,
) -> Vec<Exp> {
    vec![e(object, loc, KROT, rot), e(object, loc, KBOOT, boot)]
}

/// The pods of pods/flag-forms.yaml: (name, rule verdicts). Container "c" in each; the profile
/// changes nothing (every gate there is explicit).
fn flag_form_rows() -> Vec<Exp> {
    const F: &[(&str, &[(&str, &str)])] = &[
        ("kube-system/ff-equals", &[(CLIENT, PASS), (CA, PASS)]),
        ("kube-system/ff-two-items", &[(CLIENT, PASS), (CA, PASS)]),
        ("kube-system/ff-ca-empty", &[(CLIENT, PASS), (CA, FAIL)]),
        // CA emptied by "--kubelet-certificate-authority=", key by "--kubelet-client-key" "".
        (
            "kube-system/ff-repeat-empties",
            &[(CLIENT, FAIL), (CA, FAIL)],
        ),
        ("kube-system/ff-repeat-sets", &[(CLIENT, PASS), (CA, PASS)]),
        ("kube-system/ff-double-dash", &[(CLIENT, PASS), (CA, FAIL)]),
        ("kube-system/ff-sh-exec-pipe", &[(CLIENT, PASS), (CA, PASS)]),
        (
            "kube-system/ff-sh-and-redirect",
            &[(CLIENT, PASS), (CA, FAIL)],
        ),
        ("kube-system/ff-hyperkube", &[(CLIENT, FAIL), (CA, PASS)]),
        ("kube-system/ff-image-only", &[(CLIENT, PASS), (CA, FAIL)]),
        ("kube-system/ff-gate-true", &[(CM, PASS)]),
        ("kube-system/ff-gate-capital-true", &[(CM, PASS)]),
        ("kube-system/ff-gate-1", &[(CM, PASS)]),
        ("kube-system/ff-gate-t", &[(CM, PASS)]),
        ("kube-system/ff-gate-yes", &[(CM, FAIL)]),
        ("kube-system/ff-gates-accumulate", &[(CM, PASS)]),
        ("kube-system/ff-gates-flip", &[(CM, FAIL)]),
        ("kube-system/ff-gates-spaces", &[(CM, PASS)]),
        ("kube-system/ff-gates-two-items", &[(CM, PASS)]),
        ("kube-system/ff-hyperkube-cm", &[(CM, PASS)]),
        ("kube-system/ff-labels-only", &[(CM, FAIL)]),
    ];
    F.iter()
        .flat_map(|(obj, rules)| rules.iter().map(move |(r, st)| e(obj, "c", r, st)))
        .collect()
}

fn fixtures() -> Vec<Fx> {
    let cm_ns = "kube-system/kube-controller-manager";
    vec![
        // --- node tree (also checked as one directory below) ---
        fx(
            "node/etc/kubernetes/manifests/kube-apiserver.yaml",
            Some("Pod"),
            api("kube-system/kube-apiserver", "kube-apiserver", PASS, FAIL),
            None,
        ),
        fx(
            "node/etc/kubernetes/manifests/kube-controller-manager.yaml",
            Some("Pod"),
            vec![e(cm_ns, "kube-controller-manager", CM, PASS)],
            None,
        ),
        // etcd: not a component the rules know.
        fx(
            "node/etc/kubernetes/manifests/etcd.yaml",
            Some("Pod"),
            vec![],
            None,
        ),
        fx(
            "node/var/lib/kubelet/config.yaml",
            Some("KubeletConfiguration"),
            kubelet(ANY, ANY, PASS, PASS),
            None,
        ),
        // Sets the gate (false) but not --rotate-server-certificates: bootstrap is skip.
        fx(
            "node/var/lib/kubelet/kubeadm-flags.env",
            None,
            vec![e(ANY, "KUBELET_KUBEADM_ARGS", KROT, FAIL)],
            Some(vec![e(ANY, "KUBELET_KUBEADM_ARGS", KROT, WARN)]),
        ),
        // /etc/default/kubelet, unquoted value: only --rotate-server-certificates=true.
        fx(
            "node/etc/default/kubelet",
            None,
            vec![e(ANY, "KUBELET_EXTRA_ARGS", KBOOT, PASS)],
            None,
        ),
        // Drop-in: the gate comes through Environment="KUBELET_TLS_ARGS=..." used in ExecStart.
        fx(
            "node/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
            None,
            vec![e(ANY, ANY, KROT, PASS)],
            None,
        ),
        // --- pods ---
        fx(
            "pods/apiserver-all-flags.yaml",
            Some("Pod"),
            api("kube-system/kube-apiserver", "kube-apiserver", PASS, PASS),
            None,
        ),
        // Explicitly false: fails under both profiles.
        fx(
            "pods/controller-manager-gate-false.yaml",
            Some("Pod"),
            vec![e(cm_ns, "kube-controller-manager", CM, FAIL)],
            None,
        ),
        // Mirror pods are still checked.
        fx(
            "pods/mirror-pod.yaml",
            Some("Pod"),
            api(
                "kube-system/kube-apiserver-cp-1",
                "kube-apiserver",
                PASS,
                FAIL,
            ),
            None,
        ),
        fx("pods/flag-forms.yaml", Some("Pod"), flag_form_rows(), None),
        // --- workloads: the pod template decides; object is the workload ---
        // Image-only entrypoint + args; the konnectivity sidecar is not a component.
        fx(
            "workloads/deployment.yaml",
            Some("Deployment"),
            api("tenant-a/kube-apiserver", "apiserver", PASS, PASS),
            None,
        ),
        fx(
            "workloads/statefulset.yaml",
            Some("StatefulSet"),
            [
                api("tenant-b/control-plane", "apiserver", FAIL, PASS),
                vec![e("tenant-b/control-plane", "controller-manager", CM, PASS)],
            ]
            .concat(),
            None,
        ),
        // hyperkube controller-manager, gate value TRUE.
        fx(
            "workloads/daemonset.yaml",
            Some("DaemonSet"),
            vec![e(cm_ns, "kcm", CM, PASS)],
            None,
        ),
        // Image entrypoint kube-controller-manager, no gates: strict fail, cis pass.
        fx(
            "workloads/replicaset.yaml",
            Some("ReplicaSet"),
            vec![e(
                "tenant-c/kube-controller-manager-5d8f7",
                "kube-controller-manager",
                CM,
                FAIL,
            )],
            Some(vec![e(
                "tenant-c/kube-controller-manager-5d8f7",
                "kube-controller-manager",
                CM,
                PASS,
            )]),
        ),
        // sh -c with exec; "--kubelet-certificate-authority=" is empty.
        fx(
            "workloads/job.yaml",
            Some("Job"),
            api("ops/apiserver-smoke", "smoke", PASS, FAIL),
            None,
        ),
        // jobTemplate.spec.template; flags as two list items.
        fx(
            "workloads/cronjob.yaml",
            Some("CronJob"),
            api("ops/apiserver-canary", "canary", PASS, PASS),
            None,
        ),
        // --- kubelet configuration ---
        fx(
            "kubelet/kubelet-config.json",
            Some("KubeletConfiguration"),
            kubelet(ANY, ANY, PASS, FAIL),
            Some(kubelet(ANY, ANY, PASS, WARN)),
        ),
        // Gate explicitly false: cis does not pass it, only softens fail to warn.
        fx(
            "kubelet/kubelet-config-disabled.yaml",
            Some("KubeletConfiguration"),
            kubelet(ANY, ANY, FAIL, FAIL),
            Some(kubelet(ANY, ANY, WARN, WARN)),
        ),
        fx(
            "kubelet/configmap-kubelet-config.yaml",
            Some("ConfigMap"),
            kubelet("kube-system/kubelet-config", "data.kubelet", PASS, PASS),
            None,
        ),
        fx(
            "kubelet/configmap-kubelet-config-1.29.yaml",
            Some("ConfigMap"),
            kubelet(
                "kube-system/kubelet-config-1.29",
                "data.kubelet",
                FAIL,
                PASS,
            ),
            Some(kubelet(
                "kube-system/kubelet-config-1.29",
                "data.kubelet",
                PASS,
                PASS,
            )),
        ),
        // ExecStart with backslash continuations; flags decide both rules. Rotation on with the
        // gate false: the kubelet refuses to start, whatever the profile (issue 13 point 5).
        fx(
            "kubelet/dropin-execstart.conf",
            None,
            kubelet(ANY, ANY, FAIL, FAIL),
            Some(kubelet(ANY, ANY, FAIL, FAIL)),
        ),
        // A bare boolean flag is true.
        fx(
            "kubelet/kubeadm-flags-bare-bool.env",
            None,
            vec![e(ANY, "KUBELET_KUBEADM_ARGS", KBOOT, PASS)],
            None,
        ),
        // --- kubeadm ---
        // kubeadm always generates the client cert/key flags; CA and gate from extraArgs (map).
        fx(
            "kubeadm/kubeadm-config-v1beta3.yaml",
            Some("ConfigMap"),
            vec![
                e("kube-system/kubeadm-config", ANY, CLIENT, PASS),
                e("kube-system/kubeadm-config", ANY, CA, PASS),
                e("kube-system/kubeadm-config", ANY, CM, PASS),
            ],
            None,
        ),
        // v1beta4 list form without the CA and without controller-manager args.
        fx(
            "kubeadm/kubeadm-config-v1beta4.yaml",
            Some("ConfigMap"),
            vec![
                e("kube-system/kubeadm-config", ANY, CLIENT, PASS),
                e("kube-system/kubeadm-config", ANY, CA, FAIL),
                e("kube-system/kubeadm-config", ANY, CM, FAIL),
            ],
            Some(vec![
                e("kube-system/kubeadm-config", ANY, CLIENT, PASS),
                e("kube-system/kubeadm-config", ANY, CA, FAIL),
                e("kube-system/kubeadm-config", ANY, CM, PASS),
            ]),
        ),
        // extraArgs blanks the client key; gate explicitly false.
        fx(
            "kubeadm/cluster-configuration.yaml",
            Some("ClusterConfiguration"),
            vec![
                e(ANY, ANY, CLIENT, FAIL),
                e(ANY, ANY, CA, PASS),
                e(ANY, ANY, CM, FAIL),
            ],
            None,
        ),
        // Multi-document: InitConfiguration (nothing), ClusterConfiguration v1beta3 (CA set,
        // no gate), KubeletConfiguration (both set).
        fx(
            "kubeadm/kubeadm.yaml",
            None,
            vec![
                e(ANY, ANY, CLIENT, PASS),
                e(ANY, ANY, CA, PASS),
                e(ANY, ANY, CM, FAIL),
                e(ANY, ANY, KROT, PASS),
                e(ANY, ANY, KBOOT, PASS),
            ],
            Some(vec![
                e(ANY, ANY, CLIENT, PASS),
                e(ANY, ANY, CA, PASS),
                e(ANY, ANY, CM, PASS),
                e(ANY, ANY, KROT, PASS),
                e(ANY, ANY, KBOOT, PASS),
            ]),
        ),
        // --- content, not name, decides ---
        // Named like a systemd drop-in, holds a Pod.
        fx(
            "misleading/10-kubeadm.conf",
            Some("Pod"),
            api("kube-system/kube-apiserver", "kube-apiserver", FAIL, PASS),
            None,
        ),
        // Named like an apiserver manifest, holds a KubeletConfiguration.
        fx(
            "misleading/kube-apiserver.yaml",
            Some("KubeletConfiguration"),
            // serverTLSBootstrap: true with the gate false: invalid (issue 13 point 5).
            kubelet(ANY, ANY, FAIL, FAIL),
            Some(kubelet(ANY, ANY, FAIL, FAIL)),
        ),
        // Named like a manifest, holds kubeadm-flags.env content (a bare YAML string).
        fx(
            "misleading/pod.yaml",
            None,
            vec![e(ANY, "KUBELET_KUBEADM_ARGS", KROT, PASS)],
            None,
        ),
    ]
}

fn kind_problems(label: &str, run: &Run, kind: &str) -> Vec<String> {
    let Ok(report) = run.try_json() else {
        return vec![];
    };
    parse_results(&report)
        .into_iter()
        .filter(|r| r.status != "skip" && r.status != "error" && r.kind != kind)
        .map(|r| {
            format!(
                "{label}: kind {:?}, expected {kind:?} ({} {})",
                r.kind, r.object, r.rule
            )
        })
        .collect()
}

#[test]
fn every_fixture_verdict() {
    let dir = fixtures_dir();
    let mut problems = Vec::new();
    for f in fixtures() {
        let path = dir.join(f.file);
        let strict = check_paths(None, &[&path]);
        problems.extend(check_case(
            &format!("{} [strict]", f.file),
            &strict,
            &f.strict,
            &[],
        ));
        let cis = check_paths(Some("cis"), &[&path]);
        let cis_exp = f.cis.as_ref().unwrap_or(&f.strict);
        problems.extend(check_case(&format!("{} [cis]", f.file), &cis, cis_exp, &[]));
        if let Some(kind) = f.kind {
            problems.extend(kind_problems(f.file, &strict, kind));
        }
    }
    assert_no_problems("fixtures", &problems);
}

/// `--profile strict` spelled out gives the same as the default.
#[test]
fn explicit_strict_profile_is_the_default() {
    let dir = fixtures_dir();
    let mut problems = Vec::new();
    for f in fixtures().iter().filter(|f| f.cis.is_some()) {
        let run = check_paths(Some("strict"), &[&dir.join(f.file)]);
        problems.extend(check_case(
            &format!("{} [--profile strict]", f.file),
            &run,
            &f.strict,
            &[],
        ));
    }
    assert_no_problems("explicit strict", &problems);
}

/// Invalid gate value: the message must say the value is invalid.
#[test]
fn invalid_gate_value_message() {
    let run = check_paths(None, &[&fixtures_dir().join("pods/flag-forms.yaml")]);
    let results = run.results();
    let r = results
        .iter()
        .find(|r| r.object == "kube-system/ff-gate-yes" && r.rule == CM)
        .expect("a result for ff-gate-yes");
    assert_eq!(r.status, FAIL, "{r:?}");
    assert!(
        r.message.to_lowercase().contains("invalid"),
        "message should say the value is invalid: {:?}",
        r.message
    );
}

/// The node tree checked as one directory: every file is found recursively (including the
/// extension-less /etc/default/kubelet), each result names its file, verdicts as per file.
#[test]
fn node_directory_tree() {
    let dir = fixtures_dir();
    let node = dir.join("node");
    let run = check_paths(None, &[&node]);
    let report = run.json();
    let mut problems = contract_problems(&report);
    let results = parse_results(&report);
    let node_rows: Vec<Fx> = fixtures()
        .into_iter()
        .filter(|f| f.file.starts_with("node/"))
        .collect();
    let mut claimed = vec![false; results.len()];
    for f in &node_rows {
        let rel = f.file.trim_start_matches("node/");
        let mine: Vec<Res> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.source.ends_with(rel))
            .map(|(i, r)| {
                claimed[i] = true;
                r.clone()
            })
            .collect();
        if mine.is_empty() {
            problems.push(format!(
                "{}: no results from this file in the directory run",
                f.file
            ));
        }
        problems.extend(
            verdict_problems(&mine, &f.strict, &[])
                .into_iter()
                .map(|p| format!("{}: {p}", f.file)),
        );
    }
    for (i, r) in results.iter().enumerate() {
        if !claimed[i] {
            problems.push(format!("result from an unexpected source {:?}", r.source));
        }
    }
    if run.code != 1 {
        problems.push(format!(
            "exit code {} (expected 1: the apiserver CA fails)",
            run.code
        ));
    }
    assert_no_problems("node tree", &problems);
}

/// Several paths in one run, and `-` for stdin: same verdicts as one file at a time.
#[test]
fn several_paths_and_stdin() {
    let dir = fixtures_dir();
    let a = dir.join("pods/apiserver-all-flags.yaml");
    let b = dir.join("workloads/replicaset.yaml");
    let run = check_paths(None, &[&a, &b]);
    let results = run.results();
    let mut problems = contract_problems(&run.json());
    let from = |name: &str| -> Vec<Res> {
        results
            .iter()
            .filter(|r| r.source.ends_with(name))
            .cloned()
            .collect()
    };
    problems.extend(verdict_problems(
        &from("apiserver-all-flags.yaml"),
        &api("kube-system/kube-apiserver", "kube-apiserver", PASS, PASS),
        &[],
    ));
    problems.extend(verdict_problems(
        &from("replicaset.yaml"),
        &[e(
            "tenant-c/kube-controller-manager-5d8f7",
            "kube-controller-manager",
            CM,
            FAIL,
        )],
        &[],
    ));
    if run.code != 1 {
        problems.push(format!("two paths: exit {} (expected 1)", run.code));
    }
    for f in fixtures().iter().filter(|f| {
        matches!(
            f.file,
            "pods/flag-forms.yaml"
                | "kubelet/kubeadm-flags-bare-bool.env"
                | "kubelet/kubelet-config.json"
                | "kubeadm/kubeadm.yaml"
                | "misleading/pod.yaml"
        )
    }) {
        let text = std::fs::read_to_string(dir.join(f.file)).expect("read fixture");
        let run = check_stdin(None, &text);
        problems.extend(check_case(
            &format!("{} [stdin]", f.file),
            &run,
            &f.strict,
            &[],
        ));
    }
    assert_no_problems("several paths / stdin", &problems);
}

/// The fixture set itself: each rule has a pass and a fail, and every fixture file has a row.
#[test]
fn fixture_rows_cover_rules_and_files() {
    let rows = fixtures();
    for rule in ALL_RULES {
        for status in [PASS, FAIL] {
            assert!(
                rows.iter()
                    .flat_map(|f| f.strict.iter())
                    .any(|x| x.rule == rule && x.status == status),
                "no fixture expects {rule} = {status}"
            );
        }
    }
    let listed: BTreeSet<String> = rows.iter().map(|f| f.file.to_string()).collect();
    let dir = fixtures_dir();
    let mut files = BTreeSet::new();
    for entry in walkdir::WalkDir::new(&dir) {
        let entry = entry.expect("walk fixtures");
        let rel = entry.path().strip_prefix(&dir).expect("under fixtures");
        // admission/ belongs to the admission server's tests, openreports/ (CRDs) to scan's,
        // sarif/ (the report schema) to the report's, sources/ (Cluster API, k3s, Talos,
        // Kamaji, kind) to tests/sources.rs.
        if rel.starts_with("admission")
            || rel.starts_with("openreports")
            || rel.starts_with("sarif")
            || rel.starts_with("sources")
            || !entry.file_type().is_file()
        {
            continue;
        }
        files.insert(rel.to_string_lossy().into_owned());
    }
    let without_row: Vec<_> = files.difference(&listed).collect();
    let without_file: Vec<_> = listed.difference(&files).collect();
    assert!(
        without_row.is_empty() && without_file.is_empty(),
        "fixture files without a row: {without_row:?}; rows without a file: {without_file:?}"
    );
    assert!(Path::new(&dir).join("node").is_dir());
}

/// Files saved by some editors start with a UTF-8 byte-order mark; the kubelet's YAML/JSON reader
/// and systemd's unit parser skip it, so `check` must give the same verdicts as without it.
/// (Environment files are left out: systemd's env-file reader is not known to skip it.)
#[test]
fn utf8_bom_is_accepted() {
    let dir = fixtures_dir();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut problems = Vec::new();
    for f in fixtures().iter().filter(|f| {
        matches!(
            f.file,
            "pods/apiserver-all-flags.yaml"
                | "kubelet/kubelet-config.json"
                | "kubelet/dropin-execstart.conf"
        )
    }) {
        let mut bytes = b"\xef\xbb\xbf".to_vec();
        bytes.extend(std::fs::read(dir.join(f.file)).expect("read fixture"));
        let name = Path::new(f.file).file_name().expect("file name");
        let path = tmp.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let run = check_paths(None, &[&path]);
        problems.extend(check_case(
            &format!("{} [BOM]", f.file),
            &run,
            &f.strict,
            &[],
        ));
    }
    assert_no_problems("UTF-8 BOM", &problems);
}
