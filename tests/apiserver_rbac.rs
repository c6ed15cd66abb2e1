//! RBAC for every ServiceAccount and ClusterRole we ship (issue 9), judged by a real
//! kube-apiserver: the manifests' RBAC objects are created, then for each ServiceAccount
//!   - the rules the API server resolves for it (SelfSubjectRulesReview, impersonated) are
//!     exactly the row's grants plus what any authenticated user has (measured, not assumed);
//!   - `kubectl auth can-i --as=system:serviceaccount:NS:NAME` says yes to each grant, and no
//!     to nodes/proxy, to secrets, and to every write the row does not grant.
//!
//! Table-driven: a component that ships a ServiceAccount or ClusterRole adds one `Row`. A
//! ServiceAccount or ClusterRole in the manifests without a row fails the test.

mod common;

use common::apiserver::webhook::{text, yaml_docs};
use common::apiserver::{self, ApiServer};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

/// One ServiceAccount we ship and exactly the API access it needs.
struct Row {
    /// `namespace/name` as the manifests create it.
    sa: &'static str,
    /// Why it needs what it has (shown in failures).
    purpose: &'static str,
    /// Cluster-wide grants: `verb resource[.group][/subresource][#name,name]`.
    cluster: &'static [&'static str],
    /// Grants in one namespace: `(namespace, grant)`.
    namespaced: &'static [(&'static str, &'static str)],
}

const ROWS: &[Row] = &[
    Row {
        sa: "kubelet-tls-guard/kubelet-tls-guard",
        purpose: "the admission webhook answers the API server; it reads nothing from the API",
        cluster: &[],
        namespaced: &[],
    },
    Row {
        sa: "kubelet-tls-guard-node-audit/kubelet-tls-guard-node-audit",
        purpose: "check --node reads the host's files and /proc; it reads nothing from the API",
        cluster: &[],
        namespaced: &[],
    },
    Row {
        sa: "kubelet-tls-guard/kubelet-tls-guard-scan",
        purpose: "scan: reads Nodes, kubelet configz/metrics, kubelet-serving CSRs, the kube-system control plane and kubeadm's ConfigMaps; writes only its OpenReports",
        cluster: &[
            "get nodes",
            "list nodes",
            "get nodes/configz",
            "get nodes/metrics",
            "list certificatesigningrequests.certificates.k8s.io",
            "get clusterreports.openreports.io",
            "create clusterreports.openreports.io",
            "patch clusterreports.openreports.io",
        ],
        namespaced: &[
            ("kube-system", "list pods"),
            (
                "kube-system",
                "get configmaps#kubeadm-config,kubelet-config,kube-root-ca.crt",
            ),
            ("kube-system", "get reports.openreports.io"),
            ("kube-system", "create reports.openreports.io"),
            ("kube-system", "patch reports.openreports.io"),
        ],
    },
    Row {
        sa: "kubelet-tls-guard/kubelet-tls-guard-csr-approver",
        purpose: "approve-csrs reads CSRs and Nodes, decides kubelet-serving CSRs only, holds its Lease and records Events on CSRs",
        cluster: &[
            "get certificatesigningrequests.certificates.k8s.io",
            "list certificatesigningrequests.certificates.k8s.io",
            "watch certificatesigningrequests.certificates.k8s.io",
            "update certificatesigningrequests.certificates.k8s.io/approval",
            "approve signers.certificates.k8s.io#kubernetes.io/kubelet-serving",
            "get nodes",
            "list nodes",
            "watch nodes",
        ],
        namespaced: &[
            ("kubelet-tls-guard", "create leases.coordination.k8s.io"),
            (
                "kubelet-tls-guard",
                "get leases.coordination.k8s.io#kubelet-tls-guard-csr-approver",
            ),
            (
                "kubelet-tls-guard",
                "patch leases.coordination.k8s.io#kubelet-tls-guard-csr-approver",
            ),
            ("default", "create events.events.k8s.io"),
            ("default", "patch events.events.k8s.io"),
        ],
    },
];

/// Writes nobody gets unless their row grants them.
const GUARDED_WRITES: [&str; 12] = [
    "pods",
    "configmaps",
    "nodes",
    "deployments.apps",
    "daemonsets.apps",
    "certificatesigningrequests.certificates.k8s.io",
    "certificatesigningrequests.certificates.k8s.io/approval",
    "certificatesigningrequests.certificates.k8s.io/status",
    "clusterroles.rbac.authorization.k8s.io",
    "clusterrolebindings.rbac.authorization.k8s.io",
    "validatingwebhookconfigurations.admissionregistration.k8s.io",
    "mutatingwebhookconfigurations.admissionregistration.k8s.io",
];
const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];
const ALL_VERBS: [&str; 7] = [
    "get", "list", "watch", "create", "update", "patch", "delete",
];
/// A namespace no manifest binds anything in: rules there are the cluster-wide ones.
const PROBE_NS: &str = "rbac-probe";

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const RBAC_KINDS: [&str; 5] = [
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
];

fn key(doc: &Value) -> (String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    (
        s(&doc["kind"]),
        s(&doc["metadata"]["namespace"]),
        s(&doc["metadata"]["name"]),
    )
}

/// RBAC objects and ServiceAccounts of every overlay (built with kustomize, certificates
/// stubbed), plus those in plain YAML files under manifests/ that no overlay includes yet.
fn shipped_rbac(s: &ApiServer) -> Vec<Value> {
    let work = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new("cp")
        .arg("-R")
        .arg(crate_dir().join("manifests"))
        .arg(work.path())
        .status()
        .expect("cp");
    assert!(status.success(), "copy manifests");
    let tls = work.path().join("manifests/components/tls-from-files/tls");
    let _ = std::fs::remove_dir_all(&tls);
    common::apiserver::webhook::make_certs(&tls);
    let mut docs: Vec<Value> = Vec::new();
    let mut seen = BTreeSet::new();
    let overlays = std::fs::read_dir(work.path().join("manifests/overlays")).expect("overlays");
    for overlay in overlays.flatten() {
        let out = s.kubectl(&["kustomize", &overlay.path().to_string_lossy()]);
        assert!(
            out.status.success(),
            "kustomize {:?}: {}",
            overlay.file_name(),
            text(&out)
        );
        for doc in yaml_docs(&String::from_utf8_lossy(&out.stdout)) {
            if RBAC_KINDS.contains(&doc["kind"].as_str().unwrap_or("")) && seen.insert(key(&doc)) {
                docs.push(doc);
            }
        }
    }
    for entry in walkdir::WalkDir::new(crate_dir().join("manifests"))
        .into_iter()
        .flatten()
    {
        let p = entry.path();
        let yaml = p.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if !yaml || p.file_name().is_some_and(|n| n == "kustomization.yaml") {
            continue;
        }
        let Ok(body) = std::fs::read_to_string(p) else {
            continue;
        };
        for doc in yaml_docs(&body) {
            let (kind, _, name) = key(&doc);
            let known = seen.iter().any(|(k, _, n)| *k == kind && *n == name);
            if RBAC_KINDS.contains(&kind.as_str()) && !known && seen.insert(key(&doc)) {
                docs.push(doc);
            }
        }
    }
    docs
}

/// `verb resource[.group][/sub][#names]` from a grant string, normalised.
fn norm(grant: &str) -> String {
    grant.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The rules the API server resolves for `user` in `namespace`, as normalised grants.
fn resolved(s: &ApiServer, user: &str, namespace: &str) -> BTreeSet<String> {
    let review = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                        "spec": {"namespace": namespace}});
    let out = s
        .kubectl_stdin(
            &[
                "create",
                "--validate=false",
                "-o",
                "json",
                "--as",
                user,
                "-f",
                "-",
            ],
            &review.to_string(),
        )
        .unwrap_or_else(|e| panic!("rules review for {user}: {e}"));
    let start = out.find('{').unwrap_or(0);
    let v: Value = serde_json::from_str(&out[start..]).expect("review JSON");
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let mut grants = BTreeSet::new();
    for rule in v["status"]["resourceRules"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let names = strs(&rule["resourceNames"]);
        for group in strs(&rule["apiGroups"]) {
            for resource in strs(&rule["resources"]) {
                for verb in strs(&rule["verbs"]) {
                    let (res, sub) = match resource.split_once('/') {
                        Some((r, sub)) => (r.to_string(), format!("/{sub}")),
                        None => (resource.clone(), String::new()),
                    };
                    let group = if group.is_empty() {
                        String::new()
                    } else {
                        format!(".{group}")
                    };
                    let names = if names.is_empty() {
                        String::new()
                    } else {
                        format!("#{}", names.join(","))
                    };
                    grants.insert(format!("{verb} {res}{group}{sub}{names}"));
                }
            }
        }
    }
    grants
}

/// Resources that exist only for authorization, or only once a CRD this test does not install
/// is there (OpenReports): kubectl cannot map them through discovery (it warns and asks about
/// something else), so they are asked about directly.
const VIRTUAL: [&str; 3] = [
    "signers.certificates.k8s.io",
    "reports.openreports.io",
    "clusterreports.openreports.io",
];

/// `kubectl auth can-i VERB RESOURCE[/NAME] [--subresource S] (-n NS | -A) --as USER`, or for a
/// `VIRTUAL` resource the SelfSubjectAccessReview that command would send.
fn can_i(s: &ApiServer, user: &str, verb: &str, resource: &str, ns: Option<&str>) -> bool {
    let (resource, names) = resource.split_once('#').unwrap_or((resource, ""));
    let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
    let name = names.split(',').next().unwrap_or("");
    if VIRTUAL.contains(&resource) {
        let (res, group) = resource.split_once('.').unwrap_or((resource, ""));
        let review = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": res,
                     "subresource": sub, "name": name, "namespace": ns.unwrap_or("")}}});
        let out = s
            .kubectl_stdin(
                &[
                    "create",
                    "--validate=false",
                    "-o",
                    "json",
                    "--as",
                    user,
                    "-f",
                    "-",
                ],
                &review.to_string(),
            )
            .unwrap_or_else(|e| panic!("access review {review}: {e}"));
        let v: Value = serde_json::from_str(&out[out.find('{').unwrap_or(0)..]).expect("JSON");
        return v["status"]["allowed"] == true;
    }
    let target = if name.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}/{name}")
    };
    let mut args = vec!["auth", "can-i", verb, &target, "--as", user];
    if !sub.is_empty() {
        args.extend(["--subresource", sub]);
    }
    match ns {
        Some(n) => args.extend(["-n", n]),
        None => args.push("-A"),
    }
    let out = s.kubectl(&args);
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // "no" may carry a reason: "no - can only read namespaced object of this type".
    assert!(
        answer == "yes" || answer.starts_with("no"),
        "can-i {args:?}: {}",
        text(&out)
    );
    answer == "yes"
}

#[test]
fn every_shipped_serviceaccount_has_exactly_its_rows_rights() {
    let Some(s) = apiserver::shared() else { return };
    let docs = shipped_rbac(s);
    let mut namespaces: BTreeSet<String> = docs
        .iter()
        .map(|d| key(d).1)
        .filter(|n| !n.is_empty())
        .collect();
    namespaces.insert(PROBE_NS.into());
    for row in ROWS {
        namespaces.extend(row.namespaced.iter().map(|(n, _)| n.to_string()));
        namespaces.insert(row.sa.split('/').next().unwrap_or("").to_string());
    }
    for ns in &namespaces {
        s.ensure_namespace(ns);
    }
    let list = json!({"apiVersion": "v1", "kind": "List", "items": docs});
    if let Err(e) = s.apply_yaml(&list.to_string()) {
        panic!("the API server refused the shipped RBAC objects: {e}");
    }

    // Every ServiceAccount and every ClusterRole we ship is covered by a row.
    let mut problems = Vec::new();
    for doc in &docs {
        let (kind, ns, name) = key(doc);
        if kind == "ServiceAccount" && !ROWS.iter().any(|r| r.sa == format!("{ns}/{name}")) {
            problems.push(format!("ServiceAccount {ns}/{name} has no row in ROWS"));
        }
        if kind == "ClusterRole" {
            let bound = docs.iter().any(|b| {
                b["roleRef"]["kind"] == "ClusterRole"
                    && b["roleRef"]["name"] == name
                    && b["subjects"].as_array().into_iter().flatten().any(|sub| {
                        ROWS.iter().any(|r| {
                            sub["kind"] == "ServiceAccount"
                                && format!(
                                    "{}/{}",
                                    sub["namespace"].as_str().unwrap_or(""),
                                    sub["name"].as_str().unwrap_or("")
                                ) == r.sa
                        })
                    })
            });
            if !bound {
                problems.push(format!(
                    "ClusterRole {name} is bound to no ServiceAccount with a row"
                ));
            }
        }
    }

    // What every authenticated ServiceAccount has anyway, measured on one with no bindings.
    let baseline_user = "system:serviceaccount:rbac-probe:no-bindings";
    let baseline = resolved(s, baseline_user, PROBE_NS);
    assert!(
        baseline
            .iter()
            .any(|g| g.contains("selfsubjectrulesreviews")),
        "baseline looks wrong: {baseline:?}"
    );
    for row in ROWS {
        let user = format!("system:serviceaccount:{}", row.sa.replacen('/', ":", 1));
        let mut scopes: Vec<(Option<&str>, BTreeSet<String>)> =
            vec![(None, row.cluster.iter().map(|g| norm(g)).collect())];
        for (ns, _) in row.namespaced {
            let mut want: BTreeSet<String> = row.cluster.iter().map(|g| norm(g)).collect();
            want.extend(
                row.namespaced
                    .iter()
                    .filter(|(n, _)| n == ns)
                    .map(|(_, g)| norm(g)),
            );
            scopes.push((Some(ns), want));
        }
        for (ns, want) in &scopes {
            let got: BTreeSet<String> = resolved(s, &user, ns.unwrap_or(PROBE_NS))
                .difference(&baseline)
                .cloned()
                .collect();
            if &got != want {
                problems.push(format!(
                    "{} ({}) in {}: has {:?}, needs exactly {:?}",
                    row.sa,
                    row.purpose,
                    ns.unwrap_or("the cluster"),
                    got,
                    want
                ));
            }
            for grant in want {
                let (verb, resource) = grant.split_once(' ').unwrap_or((grant, ""));
                if !can_i(s, &user, verb, resource, *ns) {
                    problems.push(format!("{}: can-i {grant} in {ns:?} says no", row.sa));
                }
            }
            let granted = |verb: &str, res: &str| want.contains(&format!("{verb} {res}"));
            for verb in ALL_VERBS {
                for res in ["nodes/proxy", "secrets"] {
                    if can_i(s, &user, verb, res, *ns) {
                        problems.push(format!("{}: may {verb} {res} in {ns:?}", row.sa));
                    }
                }
            }
            for res in GUARDED_WRITES {
                for verb in WRITE_VERBS {
                    if !granted(verb, res) && can_i(s, &user, verb, res, *ns) {
                        problems.push(format!(
                            "{}: may {verb} {res} in {ns:?} without a grant",
                            row.sa
                        ));
                    }
                }
            }
            for (verb, res) in [
                ("impersonate", "users"),
                ("impersonate", "serviceaccounts"),
                ("escalate", "clusterroles.rbac.authorization.k8s.io"),
                ("bind", "clusterroles.rbac.authorization.k8s.io"),
            ] {
                if can_i(s, &user, verb, res, *ns) {
                    problems.push(format!("{}: may {verb} {res}", row.sa));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} RBAC problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}
