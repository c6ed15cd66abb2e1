//! Every webhook configuration we ship is accepted by a real kube-apiserver (issue 9): each
//! overlay under manifests/overlays built with `kubectl kustomize`, and the output of
//! `webhook-config`. The API server compiles the matchConditions with Kubernetes' own CEL
//! environment and cost limits, stores every field we set unchanged, and then really calls the
//! `serve` binary on loopback through `clientConfig.url` for a control-plane object.

mod common;

use common::apiserver::webhook::{self, Installed, Serve, eventually, point_at, text, yaml_docs};
use common::apiserver::{self, ApiServer};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const NAME: &str = "kubelet-tls-guard";
const CA_FLAG: &str = "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt";

/// Kinds whose CRDs this API server lacks (cert-manager is not installed): left out, and named.
const FOREIGN_GROUPS: [&str; 1] = ["cert-manager.io/"];

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The non-compliant kube-apiserver Deployment of the e2e test, in `namespace`.
fn deployment(namespace: &str) -> String {
    let path = crate_dir().join("tests/e2e/kube-apiserver-deployment.yaml");
    std::fs::read_to_string(&path)
        .expect("read the e2e Deployment")
        .replace("namespace: tlsg-e2e", &format!("namespace: {namespace}"))
}

/// What a server-side dry-run create of the Deployment shows once the webhooks answer.
#[derive(Debug, Clone, Copy)]
enum Effect {
    /// Admitted with our dry-run warning.
    Warn,
    /// Refused with our message.
    Deny,
    /// Admitted with the missing flag patched in.
    Patch,
}

/// Create the Deployment with `--dry-run=server` until the effect shows (the configuration
/// reaches the admission chain a moment after it is written); the last output otherwise.
fn wait_effect(s: &ApiServer, namespace: &str, effect: Effect) -> Result<String, String> {
    let yaml = deployment(namespace);
    let mut last = String::new();
    let args = [
        "create",
        "--dry-run=server",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].args}",
        "-f",
        "-",
    ];
    eventually(Duration::from_secs(20), || {
        let (ok, out) = match s.kubectl_stdin(&args, &yaml) {
            Ok(o) => (true, o),
            Err(e) => (false, e),
        };
        let seen = match effect {
            Effect::Warn => ok && out.contains("Warning: kubelet-tls-guard: [dry-run] would deny"),
            Effect::Deny => !ok && out.contains("denied") && out.contains("apiserver-kubelet-ca"),
            Effect::Patch => ok && out.contains(CA_FLAG),
        };
        last = out.clone();
        seen.then_some(out)
    })
    .ok_or_else(|| format!("no {effect:?} within 20 s; last output: {last}"))
}

/// Every field we sent in each webhook is stored unchanged (the API server only adds defaults).
fn assert_stored(s: &ApiServer, sent: &Value) {
    let kind = sent["kind"].as_str().unwrap_or("").to_lowercase();
    let out = s.kubectl(&["get", &kind, NAME, "-o", "json"]);
    assert!(out.status.success(), "get {kind}: {}", text(&out));
    let stored: Value = serde_json::from_slice(&out.stdout).expect("stored JSON");
    let (Some(sent_hooks), Some(stored_hooks)) =
        (sent["webhooks"].as_array(), stored["webhooks"].as_array())
    else {
        panic!("{kind}: webhooks missing: sent {sent}, stored {stored}");
    };
    assert_eq!(
        sent_hooks.len(),
        stored_hooks.len(),
        "{kind}: webhook count"
    );
    for (want, got) in sent_hooks.iter().zip(stored_hooks) {
        for (key, value) in want.as_object().into_iter().flatten() {
            assert_eq!(
                &got[key], value,
                "{kind}: webhooks[].{key} changed when stored"
            );
        }
    }
}

/// Build `overlay` (with certificates from `certs` and the webhooks pointed at a `serve` that
/// runs the overlay's own policy), create it in the API server, and check the effect.
fn install_overlay(overlay: &str, effect: Effect) {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    let work = tempfile::tempdir().expect("tempdir");
    let copy = Command::new("cp")
        .arg("-R")
        .arg(crate_dir().join("manifests"))
        .arg(work.path())
        .status()
        .expect("cp");
    assert!(copy.success(), "copy manifests");
    let tls = work.path().join("manifests/components/tls-from-files/tls");
    let _ = std::fs::remove_dir_all(&tls);
    webhook::make_certs(&tls);
    let dir = work.path().join("manifests/overlays").join(overlay);
    let out = s.kubectl(&["kustomize", &webhook::path_str(&dir)]);
    assert!(out.status.success(), "kustomize {overlay}: {}", text(&out));
    let docs = yaml_docs(&String::from_utf8_lossy(&out.stdout));

    // The policy the overlay ships, for the serve the API server will call.
    let policy = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["data"]["policy.yaml"].is_string())
        .and_then(|d| d["data"]["policy.yaml"].as_str())
        .unwrap_or_else(|| panic!("{overlay}: no policy ConfigMap"));
    let policy_file = work.path().join("policy.yaml");
    std::fs::write(&policy_file, policy).expect("write policy");
    let serve = Serve::start_with_certs(&tls, &["--config", &webhook::path_str(&policy_file)]);

    let mut items = Vec::new();
    let mut configs = Vec::new();
    for mut doc in docs {
        let api = doc["apiVersion"].as_str().unwrap_or("");
        if FOREIGN_GROUPS.iter().any(|g| api.starts_with(g)) {
            eprintln!(
                "{overlay}: {} {} left out: no such CRD here",
                doc["kind"], api
            );
            continue;
        }
        if doc["kind"]
            .as_str()
            .is_some_and(|k| k.ends_with("WebhookConfiguration"))
        {
            point_at(&mut doc, &serve);
            configs.push(doc.clone());
        }
        items.push(doc);
    }
    assert!(!configs.is_empty(), "{overlay}: no webhook configuration");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    let _installed = Installed::apply(s, NAME, &list.to_string())
        .unwrap_or_else(|e| panic!("{overlay}: the API server refused the overlay: {e}"));
    for config in &configs {
        assert_stored(s, config);
    }
    let ns = format!("wh-{overlay}");
    s.ensure_namespace(&ns);
    if let Err(e) = wait_effect(s, &ns, effect) {
        panic!("{overlay}: {e}\nserve log:\n{}", serve.log());
    }
}

#[test]
fn overlay_dry_run_is_accepted_and_warns() {
    install_overlay("dry-run", Effect::Warn);
}

#[test]
fn overlay_enforce_is_accepted_and_denies() {
    install_overlay("enforce", Effect::Deny);
}

#[test]
fn overlay_remediate_is_accepted_and_patches() {
    install_overlay("remediate", Effect::Patch);
}

/// cainjector's part (the caBundle) is played by `point_at`.
#[test]
fn overlay_cert_manager_is_accepted_and_warns() {
    install_overlay("cert-manager", Effect::Warn);
}

/// The node audit ships no webhook: the real API server accepts its namespace (PSA privileged),
/// ServiceAccount and DaemonSet as they are.
#[test]
fn overlay_node_audit_is_accepted() {
    let Some(s) = apiserver::shared() else { return };
    let dir = crate_dir().join("manifests/overlays/node-audit");
    let out = s.kubectl(&["kustomize", &webhook::path_str(&dir)]);
    assert!(out.status.success(), "kustomize node-audit: {}", text(&out));
    let docs = yaml_docs(&String::from_utf8_lossy(&out.stdout));
    assert!(docs.iter().any(|d| d["kind"] == "DaemonSet"), "{docs:?}");
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs});
    if let Err(e) = s.apply_yaml(&list.to_string()) {
        panic!("the API server refused the node-audit overlay: {e}");
    }
    let ds = s.kubectl(&[
        "get",
        "daemonset",
        "-A",
        "-l",
        "app.kubernetes.io/name=kubelet-tls-guard",
        "-o",
        "name",
    ]);
    assert!(
        String::from_utf8_lossy(&ds.stdout).contains("daemonset"),
        "{}",
        text(&ds)
    );
}

#[test]
fn every_overlay_is_covered() {
    let mut found: Vec<String> = std::fs::read_dir(crate_dir().join("manifests/overlays"))
        .expect("overlays")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "cert-manager",
            "dry-run",
            "enforce",
            "node-audit",
            "remediate"
        ],
        "a new overlay needs its own overlay_* test here"
    );
}

/// `webhook-config --url` output in each mode, with and without the mutating configuration.
#[test]
fn webhook_config_output_is_accepted_and_called() {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    for (mode, remediate, effect) in [
        ("dry-run", false, Effect::Warn),
        ("enforce", false, Effect::Deny),
        ("dry-run", true, Effect::Warn),
        ("enforce", true, Effect::Patch),
    ] {
        let serve = Serve::start(&["--mode", mode]);
        let mut args = vec!["--mode", mode];
        if remediate {
            args.push("--remediate");
        }
        let yaml = serve.webhook_config(&args);
        let docs = yaml_docs(&yaml);
        assert_eq!(docs.len(), if remediate { 2 } else { 1 }, "{yaml}");
        let _installed = Installed::apply(s, NAME, &yaml).unwrap_or_else(|e| {
            panic!("{mode} remediate={remediate}: the API server refused webhook-config: {e}")
        });
        for doc in &docs {
            assert_eq!(
                doc["webhooks"][0]["clientConfig"]["url"]
                    .as_str()
                    .map(|u| u.starts_with(&serve.url())),
                Some(true),
                "{doc}"
            );
            assert_stored(s, doc);
        }
        let ns = format!("wh-cfg-{mode}-{remediate}");
        s.ensure_namespace(&ns);
        if let Err(e) = wait_effect(s, &ns, effect) {
            panic!(
                "{mode} remediate={remediate}: {e}\nserve log:\n{}",
                serve.log()
            );
        }
    }
}

/// The control for the tests above: the API server really compiles our CEL, so a
/// configuration whose expression does not compile is refused, and nothing is stored.
#[test]
fn a_match_condition_that_does_not_compile_is_refused() {
    let Some(s) = apiserver::shared() else { return };
    let _lock = webhook::webhook_lock();
    let serve = Serve::start(&["--mode", "dry-run"]);
    let mut doc = yaml_docs(&serve.webhook_config(&[])).remove(0);
    let expr = doc["webhooks"][0]["matchConditions"][0]["expression"]
        .as_str()
        .unwrap_or("")
        .to_string();
    doc["webhooks"][0]["matchConditions"][0]["expression"] =
        Value::from(format!("{expr} || object.spec.nosuchfield.exists(x,"));
    let err = match Installed::apply(s, NAME, &doc.to_string()) {
        Ok(_installed) => panic!("the API server accepted an expression that does not compile"),
        Err(e) => e,
    };
    assert!(err.contains("matchConditions"), "{err}");
    assert!(err.to_lowercase().contains("compil"), "{err}");
    let out = s.kubectl(&["get", "validatingwebhookconfiguration", NAME]);
    assert!(!out.status.success(), "stored although refused");
}
