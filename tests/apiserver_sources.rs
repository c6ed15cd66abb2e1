//! The declared-source admission kinds against the real kube-apiserver (issue 13 point 4):
//! Cluster API KubeadmControlPlane (v1beta1 map, v1beta2 list), KubeadmConfigTemplate and
//! KubeadmConfig (bootstrap group, both versions) and Kamaji TenantControlPlane (v1alpha1,
//! `--flag=value` strings). Minimal CRDs stand in for the projects' own (same groups, versions,
//! kinds and plurals; schemas keep unknown fields, as admission sees whatever the client sent).
//! The webhooks are installed exactly as `webhook-config` prints them, so the API server itself
//! proves the rules and CEL matchConditions route these kinds to `serve`. Everything is
//! observed through kubectl: the denial, the warning, the stored object.

mod common;

#[path = "apiserver_sources/objects.rs"]
mod objects;

use common::apiserver::webhook::{Installed, Serve, text};
use common::apiserver::{self, ApiServer, webhook};
use objects::{Case, cases};
use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;

const NAME: &str = "kubelet-tls-guard";
const WAIT: Duration = Duration::from_secs(30);

/// (group, kind, plural, versions); the last version is the storage version.
const CRDS: [(&str, &str, &str, &[&str]); 4] = [
    (
        "controlplane.cluster.x-k8s.io",
        "KubeadmControlPlane",
        "kubeadmcontrolplanes",
        &["v1beta1", "v1beta2"],
    ),
    (
        "bootstrap.cluster.x-k8s.io",
        "KubeadmConfig",
        "kubeadmconfigs",
        &["v1beta1", "v1beta2"],
    ),
    (
        "bootstrap.cluster.x-k8s.io",
        "KubeadmConfigTemplate",
        "kubeadmconfigtemplates",
        &["v1beta1", "v1beta2"],
    ),
    (
        "kamaji.clastix.io",
        "TenantControlPlane",
        "tenantcontrolplanes",
        &["v1alpha1"],
    ),
];

fn crd_yaml(group: &str, kind: &str, plural: &str, versions: &[&str]) -> String {
    let mut out = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.{group}\nspec:\n  group: {group}\n  scope: Namespaced\n  names:\n    kind: {kind}\n    listKind: {kind}List\n    plural: {plural}\n    singular: {}\n  versions:\n",
        kind.to_lowercase()
    );
    for (i, v) in versions.iter().enumerate() {
        out.push_str(&format!(
            "  - name: {v}\n    served: true\n    storage: {}\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n",
            i + 1 == versions.len()
        ));
    }
    out
}

/// Install the CRDs once per test binary and wait until the API server serves them.
fn crds(s: &ApiServer) {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let done = DONE.get_or_init(|| {
        for (group, kind, plural, versions) in CRDS {
            s.apply_yaml(&crd_yaml(group, kind, plural, versions))?;
            let crd = format!("crd/{plural}.{group}");
            s.kubectl_stdin(
                &["wait", "--for=condition=Established", "--timeout=60s", &crd],
                "",
            )?;
        }
        Ok(())
    });
    if let Err(e) = done {
        panic!("installing the CRDs failed: {e}");
    }
}

/// Start `serve --mode MODE`, install `webhook-config --mode MODE` plus `extra`, and wait until
/// a server-side dry-run create of the first case's object in `ns` shows `marker`: webhook
/// configuration reaches the admission chain through an informer, a moment after the write.
fn install<'a>(
    s: &'a ApiServer,
    mode: &str,
    extra: &[&str],
    ns: &str,
    marker: &str,
) -> (Serve, Installed<'a>) {
    crds(s);
    s.ensure_namespace(ns);
    let probe = cases(ns, "probe")[0].bad.to_string();
    webhook::install_and_wait(s, NAME, (mode, extra), (&probe, &[]), marker, WAIT)
}

/// `kubectl get RESOURCE.VERSION.GROUP NAME -n NS -o json`, read in the version it was sent in.
fn get(s: &ApiServer, c: &Case, ns: &str) -> Option<Value> {
    let out = s.kubectl(&["get", &c.resource(), &c.name, "-n", ns, "-o", "json"]);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("object JSON"))
}

fn delete(s: &ApiServer, c: &Case, ns: &str) {
    let out = s.kubectl(&[
        "delete",
        &c.resource(),
        &c.name,
        "-n",
        ns,
        "--ignore-not-found",
    ]);
    assert!(out.status.success(), "delete {}: {}", c.label, text(&out));
}

/// Our warning lines in kubectl's output.
fn warnings(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| l.starts_with("Warning: kubelet-tls-guard"))
        .collect()
}

#[test]
fn enforce_denies_each_kind_naming_the_rules() {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    let ns = "src-enforce";
    let (serve, _installed) = install(s, "enforce", &[], ns, "kubelet-tls-guard denied");
    for c in cases(ns, "deny") {
        delete(s, &c, ns);
        let err = match s.kubectl_stdin(&["create", "-f", "-"], &c.bad.to_string()) {
            Ok(out) => panic!("{}: admitted in enforce: {out}\n{}", c.label, serve.log()),
            Err(e) => e,
        };
        let fixed = [
            "Error from server (Forbidden)",
            "admission webhook \"validate.kubelet-tls-guard.svc\" denied the request",
            "kubelet-tls-guard denied",
        ];
        for needle in fixed {
            assert!(
                err.contains(needle),
                "{}: {needle:?} missing: {err}",
                c.label
            );
        }
        for rule in &c.failing {
            assert!(
                err.contains(&format!("[{rule}]")),
                "{}: rule {rule} not named: {err}",
                c.label
            );
        }
        assert!(
            get(s, &c, ns).is_none(),
            "{}: stored though denied",
            c.label
        );
    }
}

#[test]
fn dry_run_admits_each_kind_with_a_warning_per_rule() {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    let ns = "src-dry-run";
    let (serve, _installed) = install(s, "dry-run", &["--remediate"], ns, "[dry-run] would deny");
    for c in cases(ns, "warn") {
        delete(s, &c, ns);
        let out = s
            .kubectl_stdin(&["create", "-f", "-"], &c.bad.to_string())
            .unwrap_or_else(|e| panic!("{}: refused in dry-run: {e}\n{}", c.label, serve.log()));
        let ours = warnings(&out);
        for rule in &c.failing {
            assert!(
                ours.iter()
                    .any(|w| w.contains("[dry-run] would deny") && w.contains(&format!("[{rule}]"))),
                "{}: no dry-run warning for {rule}: {out}",
                c.label
            );
        }
        let stored = get(s, &c, ns).unwrap_or_else(|| panic!("{}: not stored", c.label));
        assert_eq!(
            stored["spec"], c.bad["spec"],
            "{}: dry-run changed it",
            c.label
        );
        delete(s, &c, ns);
    }
}

#[test]
fn remediate_stores_a_passing_object_in_the_source_form() {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    let ns = "src-remediate";
    let (serve, _installed) = install(s, "enforce", &["--remediate"], ns, "patched [");
    for c in cases(ns, "fix") {
        delete(s, &c, ns);
        let sent = c.bad.to_string();
        let out = s
            .kubectl_stdin(&["apply", "-f", "-"], &sent)
            .unwrap_or_else(|e| panic!("{}: refused: {e}\n{}", c.label, serve.log()));
        let ours = warnings(&out);
        for rule in &c.failing {
            assert!(
                ours.iter()
                    .any(|w| w.contains("patched") && w.contains(rule)),
                "{}: no patched warning for {rule}: {out}",
                c.label
            );
        }
        let stored = get(s, &c, ns).unwrap_or_else(|| panic!("{}: not stored", c.label));
        // The source's own form: map stays map, list stays list, strings stay strings.
        for (pointer, shape, flag) in &c.fixed {
            let at = stored.pointer(pointer);
            assert!(
                shape.holds(at, flag),
                "{}: {pointer} is not a {shape:?} carrying {flag}: {}",
                c.label,
                at.map(Value::to_string).unwrap_or_default()
            );
        }
        // The stored object passes: `check` judges it as it would a file.
        let run = common::check_stdin(None, &stored.to_string());
        let results = run.results();
        for rule in &c.failing {
            assert!(
                results
                    .iter()
                    .any(|r| r.rule == *rule && r.status == "pass"),
                "{}: {rule} does not pass on the stored object: {}",
                c.label,
                run.stdout
            );
        }
        let bad: Vec<String> = results
            .into_iter()
            .filter(|r| r.status != "pass" && r.status != "skip")
            .map(|r| format!("{} {} {}: {}", r.location, r.rule, r.status, r.message))
            .collect();
        assert!(
            run.code == 0 && bad.is_empty(),
            "{}: stored object does not pass (exit {}): {bad:#?}",
            c.label,
            run.code
        );
        // The same apply again: the webhook adds nothing new and the API server writes nothing.
        let version = stored["metadata"]["resourceVersion"].clone();
        s.kubectl_stdin(&["apply", "-f", "-"], &sent)
            .unwrap_or_else(|e| panic!("{}: second apply: {e}", c.label));
        let again = get(s, &c, ns).unwrap_or_else(|| panic!("{}: gone", c.label));
        assert_eq!(
            again["metadata"]["resourceVersion"], version,
            "{}: second apply changed it",
            c.label
        );
        delete(s, &c, ns);
    }
}

#[test]
fn a_compliant_object_of_each_kind_is_admitted_without_warnings() {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    let ns = "src-compliant";
    let (serve, _installed) = install(s, "enforce", &["--remediate"], ns, "patched [");
    for c in cases(ns, "ok") {
        // Compliant by the offline verdict first, so the webhook's silence means something.
        let run = common::check_stdin(None, &c.good.to_string());
        assert_eq!(
            run.code, 0,
            "{}: the compliant variant fails check: {}",
            c.label, run.stdout
        );
        delete(s, &c, ns);
        let out = s
            .kubectl_stdin(&["create", "-f", "-"], &c.good.to_string())
            .unwrap_or_else(|e| panic!("{}: compliant refused: {e}\n{}", c.label, serve.log()));
        assert!(
            !out.contains("Warning:"),
            "{}: warned about a compliant object: {out}",
            c.label
        );
        let stored = get(s, &c, ns).unwrap_or_else(|| panic!("{}: not stored", c.label));
        assert_eq!(stored["spec"], c.good["spec"], "{}: patched", c.label);
        delete(s, &c, ns);
    }
    // The shape check is not vacuous: a bad object's containers lack the flags.
    for c in cases(ns, "x") {
        for (pointer, shape, flag) in &c.fixed {
            assert!(
                !shape.holds(c.bad.pointer(pointer), flag),
                "{}: {pointer} already has {flag}",
                c.label
            );
        }
    }
}
