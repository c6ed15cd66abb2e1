//! Every rule × {enforce, dry-run} × {/validate, /mutate} × every object kind the rule lives in
//! (mirror pod, Deployment pod template, plain Pod, kubeadm-config v1beta3 and v1beta4, the
//! kubelet-config ConfigMap), through a real TLS server: decision, message, warnings, audit
//! annotations and patch, as DESIGN.md sections 2-5 describe them. Then the patch laws through
//! the server: the patch applies to the object as sent, the result is allowed, and /mutate on the
//! result returns no patch.
//!
//! Each case breaks exactly one rule of a compliant fixture, so the answer can only be about
//! that rule.

mod server_common;

use serde_json::{Value, json};
use server_common::*;

const ALL_RULES: [&str; 5] = [CLIENT, CA, CM, KROT, KBOOT];

/// CIS ids DESIGN.md section 1 gives each rule (every benchmark numbering).
fn cis_ids(rule: &str) -> &'static [&'static str] {
    match rule {
        CLIENT => &["1.2.4", "1.2.5"],
        CA => &["1.2.5", "1.2.6"],
        CM => &["1.3.6"],
        KROT => &["4.2.11", "4.2.12"],
        _ => &[],
    }
}

const CA_FIX: &str = "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt";
const CERT_FIX: &str =
    "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt";
const KEY_FIX: &str = "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key";
const GATE_FIX: &str = "--feature-gates=RotateKubeletServerCertificate=true";

/// What a correct patch must do to the object, written from DESIGN.md section 3.
#[derive(Debug, Clone)]
enum PatchShape {
    /// Exactly these operations (compared as a multiset).
    Ops(Vec<Value>),
    /// One `replace` of `/data/<key>` whose YAML, parsed, equals the original parsed YAML with
    /// `fix` applied (every other field kept).
    Embedded {
        key: &'static str,
        fix: fn(&mut Value),
    },
}

struct Case {
    label: String,
    rule: &'static str,
    review: Value,
    mirror: bool,
    /// Substrings the denial message (and a dry-run warning) must carry: the fix.
    fix: Vec<&'static str>,
    patch: PatchShape,
}

fn pod_case(
    rule: &'static str,
    file: &str,
    what: &str,
    breaker: impl Fn(&mut Value),
    fix: Vec<&'static str>,
    ops: Vec<Value>,
) -> Case {
    let mut review = fixture(file);
    breaker(&mut review);
    let mirror = review["request"]["object"]["metadata"]["annotations"]
        .get("kubernetes.io/config.mirror")
        .is_some();
    Case {
        label: format!("{rule} on {what} ({file})"),
        rule,
        review,
        mirror,
        fix,
        patch: PatchShape::Ops(ops),
    }
}

fn add(path: &str, value: &str) -> Value {
    json!({"op": "add", "path": path, "value": value})
}

/// Index of `word` in the first container's `field` of a review.
fn index_of(review: &Value, spec: &str, field: &str, word: &str) -> usize {
    review
        .pointer(&format!("/request/object{spec}/containers/0/{field}"))
        .and_then(Value::as_array)
        .and_then(|l| l.iter().position(|w| w == word))
        .unwrap_or_else(|| panic!("{word} not in {field}"))
}

/// kube-apiserver cases: a mirror pod, a plain Pod (flags in `command`) and a Deployment
/// (flags in `args`). Missing flags are appended where the flags already are.
fn apiserver_cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (file, what, spec, field) in [
        (
            "kube-apiserver.mirror-pod.json",
            "mirror pod",
            "/spec",
            "command",
        ),
        ("kube-apiserver.pod.json", "plain Pod", "/spec", "command"),
        (
            "kube-apiserver.deployment.json",
            "Deployment template",
            "/spec/template/spec",
            "args",
        ),
    ] {
        let append = format!("{spec}/containers/0/{field}/-");
        out.push(pod_case(
            CA,
            file,
            what,
            |r| drop_flags(r, spec, field, &["--kubelet-certificate-authority"]),
            vec![CA_FIX],
            vec![add(&append, CA_FIX)],
        ));
        out.push(pod_case(
            CLIENT,
            file,
            what,
            |r| {
                drop_flags(
                    r,
                    spec,
                    field,
                    &["--kubelet-client-certificate", "--kubelet-client-key"],
                )
            },
            vec![CERT_FIX, KEY_FIX],
            vec![add(&append, CERT_FIX), add(&append, KEY_FIX)],
        ));
    }
    out
}

/// kube-controller-manager cases: the gate flipped to false (fixed in place) in the pods, and
/// absent (appended) in the Deployment.
fn controller_manager_cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (file, what) in [
        ("kube-controller-manager.mirror-pod.json", "mirror pod"),
        ("kube-controller-manager.pod.json", "plain Pod"),
    ] {
        let off = "--feature-gates=RotateKubeletServerCertificate=false";
        let mut probe = fixture(file);
        replace_flag(&mut probe, "/spec", "command", GATE_FIX, off);
        let i = index_of(&probe, "/spec", "command", off);
        out.push(pod_case(
            CM,
            file,
            &format!("{what}, gate false"),
            |r| replace_flag(r, "/spec", "command", GATE_FIX, off),
            vec!["RotateKubeletServerCertificate=true"],
            vec![json!({"op": "replace", "path": format!("/spec/containers/0/command/{i}"), "value": GATE_FIX})],
        ));
    }
    out.push(pod_case(
        CM,
        "kube-controller-manager.deployment.json",
        "Deployment template, gate absent",
        |r| drop_flags(r, "/spec/template/spec", "args", &[GATE_FIX]),
        vec!["RotateKubeletServerCertificate=true"],
        vec![add("/spec/template/spec/containers/0/args/-", GATE_FIX)],
    ));
    out
}

fn set(v: &mut Value, ptr: &str, value: Value) {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        v
    } else {
        v.pointer_mut(parent)
            .unwrap_or_else(|| panic!("no {parent}"))
    };
    target[key] = value;
}

/// kubeadm-config ConfigMaps: extraArgs as a map (v1beta3) or a `{name, value}` list
/// (v1beta4; normalised to a map before comparing, see [`normalise_kubeadm`]).
fn kubeadm_cases() -> Vec<Case> {
    let file3 = "kubeadm-config.v1beta3.json";
    let file4 = "kubeadm-config.v1beta4.json";
    let key = "ClusterConfiguration";
    let case = |rule, file: &str, what: &str, old: &str, new: &str, fix, f| {
        let mut review = fixture(file);
        edit_data(&mut review, key, old, new);
        Case {
            label: format!("{rule} on kubeadm-config {what} ({file})"),
            rule,
            review,
            mirror: false,
            fix,
            patch: PatchShape::Embedded { key, fix: f },
        }
    };
    vec![
        case(
            CA,
            file3,
            "v1beta3, CA extraArg removed",
            "    kubelet-certificate-authority: /etc/kubernetes/pki/ca.crt\n",
            "",
            vec![
                "kubelet-certificate-authority",
                "/etc/kubernetes/pki/ca.crt",
            ],
            |v| {
                set(
                    v,
                    "/apiServer/extraArgs/kubelet-certificate-authority",
                    json!("/etc/kubernetes/pki/ca.crt"),
                )
            },
        ),
        case(
            CLIENT,
            file3,
            "v1beta3, client certificate extraArg empty",
            "    authorization-mode: Node,RBAC\n",
            "    authorization-mode: Node,RBAC\n    kubelet-client-certificate: \"\"\n",
            vec![
                "kubelet-client-certificate",
                "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
            ],
            |v| {
                set(
                    v,
                    "/apiServer/extraArgs/kubelet-client-certificate",
                    json!("/etc/kubernetes/pki/apiserver-kubelet-client.crt"),
                )
            },
        ),
        case(
            CM,
            file3,
            "v1beta3, gate false",
            "    feature-gates: RotateKubeletServerCertificate=true\n",
            "    feature-gates: RotateKubeletServerCertificate=false\n",
            vec!["RotateKubeletServerCertificate=true"],
            |v| {
                set(
                    v,
                    "/controllerManager/extraArgs/feature-gates",
                    json!("RotateKubeletServerCertificate=true"),
                )
            },
        ),
        case(
            CA,
            file4,
            "v1beta4, CA extraArg removed",
            "  - name: kubelet-certificate-authority\n    value: /etc/kubernetes/pki/ca.crt\n",
            "",
            vec![
                "kubelet-certificate-authority",
                "/etc/kubernetes/pki/ca.crt",
            ],
            |v| {
                set(
                    v,
                    "/apiServer/extraArgs/kubelet-certificate-authority",
                    json!("/etc/kubernetes/pki/ca.crt"),
                )
            },
        ),
        case(
            CLIENT,
            file4,
            "v1beta4, client certificate extraArg empty",
            "  - name: authorization-mode\n    value: Node,RBAC\n",
            "  - name: authorization-mode\n    value: Node,RBAC\n  - name: kubelet-client-certificate\n    value: \"\"\n",
            vec![
                "kubelet-client-certificate",
                "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
            ],
            |v| {
                set(
                    v,
                    "/apiServer/extraArgs/kubelet-client-certificate",
                    json!("/etc/kubernetes/pki/apiserver-kubelet-client.crt"),
                )
            },
        ),
        case(
            CM,
            file4,
            "v1beta4, gate false",
            "    value: RotateKubeletServerCertificate=true\n",
            "    value: RotateKubeletServerCertificate=false\n",
            vec!["RotateKubeletServerCertificate=true"],
            |v| {
                set(
                    v,
                    "/controllerManager/extraArgs/feature-gates",
                    json!("RotateKubeletServerCertificate=true"),
                )
            },
        ),
        case(
            CM,
            file4,
            "v1beta4, gate absent",
            "  - name: feature-gates\n    value: RotateKubeletServerCertificate=true\n",
            "",
            vec!["RotateKubeletServerCertificate=true"],
            |v| {
                set(
                    v,
                    "/controllerManager/extraArgs/feature-gates",
                    json!("RotateKubeletServerCertificate=true"),
                )
            },
        ),
    ]
}

fn kubelet_cases() -> Vec<Case> {
    let file = "kubelet-config.configmap.json";
    let mut krot = fixture(file);
    edit_data(
        &mut krot,
        "kubelet",
        "  RotateKubeletServerCertificate: true\n",
        "  RotateKubeletServerCertificate: false\n",
    );
    let mut kboot = fixture(file);
    edit_data(&mut kboot, "kubelet", "serverTLSBootstrap: true\n", "");
    vec![
        Case {
            label: format!("{KROT} on kubelet-config ConfigMap, gate false ({file})"),
            rule: KROT,
            review: krot,
            mirror: false,
            fix: vec!["RotateKubeletServerCertificate", "true"],
            patch: PatchShape::Embedded {
                key: "kubelet",
                fix: |v| {
                    set(
                        v,
                        "/featureGates/RotateKubeletServerCertificate",
                        json!(true),
                    )
                },
            },
        },
        Case {
            label: format!(
                "{KBOOT} on kubelet-config ConfigMap, serverTLSBootstrap absent ({file})"
            ),
            rule: KBOOT,
            review: kboot,
            mirror: false,
            fix: vec!["serverTLSBootstrap"],
            patch: PatchShape::Embedded {
                key: "kubelet",
                fix: |v| set(v, "/serverTLSBootstrap", json!(true)),
            },
        },
    ]
}

fn all_cases() -> Vec<Case> {
    let mut v = apiserver_cases();
    v.extend(controller_manager_cases());
    v.extend(kubeadm_cases());
    v.extend(kubelet_cases());
    v
}

/// v1beta4 `extraArgs` lists as maps (name → value), so v1beta3 and v1beta4 compare alike.
fn normalise_kubeadm(v: &mut Value) {
    for section in ["apiServer", "controllerManager", "scheduler", "etcd"] {
        if let Some(Value::Array(items)) = v.get(section).and_then(|s| s.get("extraArgs")).cloned()
        {
            let mut map = serde_json::Map::new();
            for i in items {
                let name = i["name"].as_str().expect("extraArgs item name").to_string();
                assert!(
                    map.insert(name.clone(), i["value"].clone()).is_none(),
                    "extraArgs lists {name} twice"
                );
            }
            v[section]["extraArgs"] = Value::Object(map);
        }
    }
}

fn parse_yaml(text: &str) -> Value {
    let mut v: Value = serde_yaml_ng::from_str(text).expect("embedded YAML parses");
    normalise_kubeadm(&mut v);
    v
}

/// The gate set to false where serverTLSBootstrap is on is a configuration the kubelet refuses:
/// both kubelet rules fail then (DESIGN.md section 11), so the bootstrap rule is rightly named.
fn invalid_pair(label: &str, rule: &str, other: &str) -> bool {
    label.contains("gate false") && rule == KROT && other == KBOOT
}

/// Collects every disagreement of a run, so one failure report shows them all.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, label: &str, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(format!("{label}: {}", what()));
        }
    }

    fn finish(self, what: &str) {
        if !self.0.is_empty() {
            panic!(
                "{what}: {} problem(s)\n  {}",
                self.0.len(),
                self.0.join("\n  ")
            );
        }
    }
}

/// Checks every answer must pass, whatever the case.
fn envelope(p: &mut Problems, label: &str, sent: &Value, a: &Answer) -> Option<Review> {
    p.check(a.status == 200, label, || {
        format!("HTTP {} (expected 200): {}", a.status, a.text)
    });
    if a.status != 200 {
        return None;
    }
    p.check(
        a.content_type.starts_with("application/json"),
        label,
        || format!("content type {:?}", a.content_type),
    );
    let r = a.review();
    p.check(r.0["kind"] == "AdmissionReview", label, || {
        format!("kind {}", r.0["kind"])
    });
    p.check(r.api_version() == sent["apiVersion"], label, || {
        format!("apiVersion {} not echoed", r.api_version())
    });
    p.check(r.uid() == sent["request"]["uid"], label, || {
        format!("uid {:?} not echoed", r.uid())
    });
    for w in r.warnings() {
        p.check(w.chars().count() < 256, label, || {
            format!("warning of {} characters: {w}", w.chars().count())
        });
        p.check(!w.contains('\n'), label, || {
            format!("multi-line warning {w:?}")
        });
    }
    for (k, v) in r.audit() {
        p.check(valid_annotation_key(&k), label, || {
            format!("audit annotation key {k:?} is not a valid qualified-name part")
        });
        p.check(v.is_string(), label, || {
            format!("audit annotation {k} = {v}")
        });
    }
    Some(r)
}

fn mentions_rule(text: &str, rule: &str) -> bool {
    text.contains(rule)
}

/// No audit annotation holds a non-empty JSON patch (mirror pods: there is nothing to patch).
fn audit_patches(r: &Review) -> Vec<Value> {
    r.audit()
        .values()
        .filter_map(|v| serde_json::from_str::<Value>(v.as_str()?).ok())
        .filter(|v| {
            v.as_array()
                .is_some_and(|a| !a.is_empty() && a[0].get("op").is_some())
        })
        .collect()
}

fn other_rules(rule: &str) -> impl Iterator<Item = &'static str> + '_ {
    ALL_RULES.into_iter().filter(move |r| *r != rule)
}

/// Servers for one policy flavour: enforce and dry-run.
struct Pair {
    enforce: TestServer,
    dry: TestServer,
}

async fn pair(mirror_pods: &str) -> Pair {
    Pair {
        enforce: TestServer::start(policy(&format!(
            "mode: enforce\nmirrorPods: {mirror_pods}\n"
        )))
        .await,
        dry: TestServer::start(policy(&format!(
            "mode: dry-run\nmirrorPods: {mirror_pods}\n"
        )))
        .await,
    }
}

/// Check the patch against the shape DESIGN.md demands; returns the patched object.
fn check_patch(p: &mut Problems, c: &Case, label: &str, patch: &Value) -> Option<Value> {
    let obj = &c.review["request"]["object"];
    let patched = match apply_patch(obj, patch) {
        Ok(v) => v,
        Err(e) => {
            p.0.push(format!(
                "{label}: patch does not apply to the object as sent: {e}: {patch}"
            ));
            return None;
        }
    };
    match &c.patch {
        PatchShape::Ops(want) => {
            let mut got: Vec<Value> = patch.as_array().unwrap().clone();
            let mut missing = Vec::new();
            for w in want {
                match got.iter().position(|g| g == w) {
                    Some(i) => {
                        got.remove(i);
                    }
                    None => missing.push(w.clone()),
                }
            }
            p.check(missing.is_empty() && got.is_empty(), label, || {
                format!(
                    "patch {patch}\n    lacks {missing:?}\n    has extra {got:?} (only the flag, appended where the flags are, or flipped in place)"
                )
            });
        }
        PatchShape::Embedded { key, fix } => {
            let ptr = format!("/data/{key}");
            let ops = patch.as_array().unwrap();
            p.check(
                ops.len() == 1 && ops[0]["op"] == "replace" && ops[0]["path"] == ptr,
                label,
                || format!("expected one replace of {ptr}, got {patch}"),
            );
            let before = obj.pointer(&ptr).and_then(Value::as_str).unwrap_or("");
            let after = patched.pointer(&ptr).and_then(Value::as_str).unwrap_or("");
            let mut want = parse_yaml(before);
            fix(&mut want);
            let got = parse_yaml(after);
            p.check(got == want, label, || {
                format!(
                    "embedded document after the patch:\n{after}\n    expected (parsed): {want:#}"
                )
            });
            // Nothing outside the data key changed.
            let mut rest_before = obj.clone();
            let mut rest_after = patched.clone();
            set(&mut rest_before, &ptr, Value::Null);
            set(&mut rest_after, &ptr, Value::Null);
            p.check(rest_before == rest_after, label, || {
                "the patch changed more than the embedded document".into()
            });
        }
    }
    Some(patched)
}

/// The four answers for one case in a non-mirror object, plus the laws.
async fn non_mirror(p: &mut Problems, c: &Case, servers: &Pair) {
    let rule = c.rule;
    let uid = |s: &str| format!("{}-{s}", c.review["request"]["uid"].as_str().unwrap());

    // enforce /validate: denied with 403, the rule, its CIS ids and the fix.
    let sent = with_uid(&c.review, &uid("ev"));
    let label = format!("{} [enforce /validate]", c.label);
    if let Some(r) = envelope(
        p,
        &label,
        &sent,
        &servers.enforce.post("/validate", &sent).await,
    ) {
        p.check(!r.allowed(), &label, || format!("allowed: {}", r.0));
        p.check(r.status_code() == Some(403), &label, || {
            format!("status.code {:?}", r.status_code())
        });
        let m = r.message();
        p.check(mentions_rule(m, rule), &label, || {
            format!("message lacks the rule id: {m}")
        });
        for id in cis_ids(rule) {
            p.check(m.contains(id), &label, || {
                format!("message lacks CIS {id}: {m}")
            });
        }
        for f in &c.fix {
            p.check(m.contains(f), &label, || {
                format!("message lacks the fix {f:?}: {m}")
            });
        }
        for other in other_rules(rule).filter(|o| !invalid_pair(&label, rule, o)) {
            p.check(!m.contains(other), &label, || {
                format!("message names {other}, which holds: {m}")
            });
        }
        p.check(!r.has_patch(), &label, || {
            "/validate returned a patch".into()
        });
    }

    // dry-run /validate: allowed, warnings and audit annotations name the rule and the fix.
    let sent = with_uid(&c.review, &uid("dv"));
    let label = format!("{} [dry-run /validate]", c.label);
    if let Some(r) = envelope(
        p,
        &label,
        &sent,
        &servers.dry.post("/validate", &sent).await,
    ) {
        p.check(r.allowed(), &label, || {
            format!("denied in dry-run: {}", r.0)
        });
        p.check(r.status_code().is_none_or(|c| c < 400), &label, || {
            format!("status.code {:?} in an allowed answer", r.status_code())
        });
        let ws = r.warnings();
        let named: Vec<&String> = ws.iter().filter(|w| mentions_rule(w, rule)).collect();
        p.check(!named.is_empty(), &label, || {
            format!("no warning names {rule}: {ws:?}")
        });
        p.check(
            named.iter().any(|w| c.fix.iter().all(|f| w.contains(f))),
            &label,
            || {
                format!(
                    "no warning about {rule} carries the fix {:?}: {ws:?}",
                    c.fix
                )
            },
        );
        p.check(mentions_rule(&r.audit_text(), rule), &label, || {
            format!("audit annotations do not name {rule}: {:?}", r.audit())
        });
        for other in other_rules(rule).filter(|o| !invalid_pair(&label, rule, o)) {
            p.check(!ws.iter().any(|w| w.contains(other)), &label, || {
                format!("a warning names {other}, which holds: {ws:?}")
            });
        }
        p.check(!r.has_patch(), &label, || {
            "/validate returned a patch".into()
        });
    }

    // enforce /mutate: a JSONPatch and a warning per remediated rule.
    let sent = with_uid(&c.review, &uid("em"));
    let label = format!("{} [enforce /mutate]", c.label);
    let mut enforce_patch = None;
    if let Some(r) = envelope(
        p,
        &label,
        &sent,
        &servers.enforce.post("/mutate", &sent).await,
    ) {
        p.check(r.allowed(), &label, || format!("/mutate denied: {}", r.0));
        let ws = r.warnings();
        p.check(ws.iter().any(|w| mentions_rule(w, rule)), &label, || {
            format!("no warning names the remediated rule {rule}: {ws:?}")
        });
        if rule == CA {
            p.check(
                ws.iter()
                    .any(|w| w.contains("kubectl") && w.contains("logs")),
                &label,
                || format!("adding the CA flag needs the kubectl logs/exec warning: {ws:?}"),
            );
        }
        match r.patch() {
            None => p.0.push(format!("{label}: no patch: {}", r.0)),
            Some(patch) => {
                if let Some(patched) = check_patch(p, c, &label, &patch) {
                    laws(p, c, &servers.enforce, &patched).await;
                }
                enforce_patch = Some(patch);
            }
        }
    }

    // dry-run /mutate: no patch; the would-be patch in a warning and an audit annotation.
    let sent = with_uid(&c.review, &uid("dm"));
    let label = format!("{} [dry-run /mutate]", c.label);
    if let Some(r) = envelope(p, &label, &sent, &servers.dry.post("/mutate", &sent).await) {
        p.check(r.allowed(), &label, || format!("/mutate denied: {}", r.0));
        p.check(!r.has_patch(), &label, || {
            format!("dry-run returned a patch: {}", r.0)
        });
        let ws = r.warnings();
        if let Some(want) = &enforce_patch {
            let shown = audit_patches(&r);
            p.check(shown.iter().any(|s| s == want), &label, || {
                format!(
                    "no audit annotation holds the would-be patch {want}; annotations: {:?}",
                    r.audit()
                )
            });
            for op in want.as_array().unwrap() {
                let path = op["path"].as_str().unwrap();
                p.check(ws.iter().any(|w| w.contains(path)), &label, || {
                    format!("no warning shows the would-be operation on {path}: {ws:?}")
                });
            }
        }
    }
}

/// Patch laws through the server: the patched object is allowed by /validate in enforce mode
/// and /mutate has nothing more to patch.
async fn laws(p: &mut Problems, c: &Case, server: &TestServer, patched: &Value) {
    let label = format!("{} [patch laws]", c.label);
    let base = with_object(&c.review, patched);
    let sent = with_uid(&base, "laws-validate");
    if let Some(r) = envelope(p, &label, &sent, &server.post("/validate", &sent).await) {
        p.check(r.allowed(), &label, || {
            format!("the patched object is still denied: {}", r.message())
        });
        let ws = r.warnings();
        p.check(!ws.iter().any(|w| w.contains(c.rule)), &label, || {
            format!("the patched object still warns about {}: {ws:?}", c.rule)
        });
    }
    let sent = with_uid(&base, "laws-mutate");
    if let Some(r) = envelope(p, &label, &sent, &server.post("/mutate", &sent).await) {
        p.check(r.allowed(), &label, || format!("{}", r.0));
        p.check(!r.has_patch(), &label, || {
            format!("mutating the patched object patches again: {:?}", r.patch())
        });
    }
}

/// Mirror pods: reported, never patched; denied only with `mirrorPods: deny`.
async fn mirror(p: &mut Problems, c: &Case, report: &Pair, deny: &Pair) {
    let rule = c.rule;
    for (flavour, servers) in [("report", report), ("deny", deny)] {
        for (mode, server) in [("enforce", &servers.enforce), ("dry-run", &servers.dry)] {
            for endpoint in ["/validate", "/mutate"] {
                let label = format!("{} [mirrorPods: {flavour}, {mode} {endpoint}]", c.label);
                let sent = with_uid(&c.review, &format!("mirror-{flavour}-{mode}-{endpoint}"));
                let Some(r) = envelope(p, &label, &sent, &server.post(endpoint, &sent).await)
                else {
                    continue;
                };
                p.check(!r.has_patch(), &label, || {
                    format!("a mirror pod was patched: {:?}", r.patch())
                });
                p.check(audit_patches(&r).is_empty(), &label, || {
                    format!("a would-be patch for a mirror pod: {:?}", r.audit())
                });
                let deny_now = flavour == "deny" && mode == "enforce" && endpoint == "/validate";
                if deny_now {
                    p.check(!r.allowed(), &label, || format!("not denied: {}", r.0));
                    p.check(r.status_code() == Some(403), &label, || {
                        format!("status.code {:?}", r.status_code())
                    });
                    let m = r.message();
                    p.check(mentions_rule(m, rule), &label, || format!("message: {m}"));
                    for id in cis_ids(rule) {
                        p.check(m.contains(id), &label, || {
                            format!("message lacks CIS {id}: {m}")
                        });
                    }
                    for f in &c.fix {
                        p.check(m.contains(f), &label, || {
                            format!("message lacks {f:?}: {m}")
                        });
                    }
                    continue;
                }
                p.check(r.allowed(), &label, || format!("denied: {}", r.0));
                let ws = r.warnings();
                if flavour == "report" || endpoint == "/mutate" {
                    // Reported as a mirror pod: the fix belongs on the node.
                    p.check(
                        ws.iter()
                            .any(|w| w.contains("mirror") || w.contains("static pod")),
                        &label,
                        || format!("no warning says it is a mirror pod: {ws:?}"),
                    );
                }
                if endpoint == "/validate" {
                    p.check(ws.iter().any(|w| mentions_rule(w, rule)), &label, || {
                        format!("no warning names {rule}: {ws:?}")
                    });
                }
                p.check(mentions_rule(&r.audit_text(), rule), &label, || {
                    format!("audit annotations do not name {rule}: {:?}", r.audit())
                });
                p.check(!r.audit().is_empty(), &label, || {
                    "no audit annotation".into()
                });
            }
        }
    }
}

async fn run_rule(rule: &str) {
    let report = pair("report").await;
    let deny = pair("deny").await;
    let mut p = Problems::default();
    let cases: Vec<Case> = all_cases().into_iter().filter(|c| c.rule == rule).collect();
    assert!(!cases.is_empty());
    for c in &cases {
        if c.mirror {
            mirror(&mut p, c, &report, &deny).await;
        } else {
            non_mirror(&mut p, c, &report).await;
        }
    }
    p.finish(&format!("rule {rule} over {} objects", cases.len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_apiserver_kubelet_client_cert() {
    run_rule(CLIENT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_apiserver_kubelet_ca() {
    run_rule(CA).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_controller_manager_rotate_kubelet_server_cert() {
    run_rule(CM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_kubelet_rotate_server_cert() {
    run_rule(KROT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_kubelet_server_tls_bootstrap() {
    run_rule(KBOOT).await;
}

/// The matrix covers every rule on every object kind it can live in.
#[test]
fn matrix_is_complete() {
    let cases = all_cases();
    let count = |rule: &str, needle: &str| {
        cases
            .iter()
            .filter(|c| c.rule == rule && c.label.contains(needle))
            .count()
    };
    for rule in [CLIENT, CA, CM] {
        for needle in [
            "mirror pod",
            "plain Pod",
            "Deployment template",
            "v1beta3",
            "v1beta4",
        ] {
            assert!(count(rule, needle) >= 1, "{rule} × {needle}");
        }
    }
    for rule in [KROT, KBOOT] {
        assert_eq!(count(rule, "kubelet-config ConfigMap"), 1, "{rule}");
    }
}

/// The unbroken fixtures are compliant: allowed without a word, nothing to patch. (Without this,
/// the cases above could pass on objects that were already failing for another reason.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliant_fixtures_pass_quietly() {
    let s = TestServer::start(policy("mode: enforce\nmirrorPods: deny\n")).await;
    let mut p = Problems::default();
    for file in [
        "kube-apiserver.mirror-pod.json",
        "kube-apiserver.pod.json",
        "kube-apiserver.deployment.json",
        "kube-controller-manager.mirror-pod.json",
        "kube-controller-manager.pod.json",
        "kube-controller-manager.deployment.json",
        "kubeadm-config.v1beta3.json",
        "kubeadm-config.v1beta4.json",
        "kubelet-config.configmap.json",
    ] {
        let sent = fixture(file);
        for endpoint in ["/validate", "/mutate"] {
            let label = format!("{file} {endpoint}");
            if let Some(r) = envelope(&mut p, &label, &sent, &s.post(endpoint, &sent).await) {
                p.check(r.allowed(), &label, || format!("{}", r.0));
                p.check(r.warnings().is_empty(), &label, || {
                    format!("{:?}", r.warnings())
                });
                p.check(!r.has_patch(), &label, || format!("{:?}", r.patch()));
            }
        }
    }
    p.finish("compliant fixtures");
}

/// Per-rule modes: only the enforced rule denies and is patched; the dry-run one is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_rule_mode_override() {
    let s = TestServer::start(policy(&format!(
        "mode: dry-run\nrules:\n  {CA}: {{mode: enforce}}\n"
    )))
    .await;
    let mut review = fixture("kube-apiserver.pod.json");
    drop_flags(
        &mut review,
        "/spec",
        "command",
        &[
            "--kubelet-certificate-authority",
            "--kubelet-client-certificate",
            "--kubelet-client-key",
        ],
    );
    let r = s.post("/validate", &review).await.review();
    assert!(!r.allowed());
    assert!(r.message().contains(CA), "{}", r.message());
    assert!(!r.message().contains(CLIENT), "{}", r.message());
    assert!(
        r.warnings().iter().any(|w| w.contains(CLIENT)),
        "the dry-run rule is reported: {:?}",
        r.warnings()
    );

    let r = s.post("/mutate", &review).await.review();
    let patch = r.patch().expect("the enforced rule is patched");
    let obj = &review["request"]["object"];
    let patched = apply_patch(obj, &patch).unwrap();
    let words: Vec<&str> = patched["spec"]["containers"][0]["command"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(words.contains(&CA_FIX), "{words:?}");
    assert!(
        !words.iter().any(|w| w.starts_with("--kubelet-client-")),
        "the dry-run rule is not patched: {words:?}"
    );
    assert!(
        audit_patches(&r)
            .iter()
            .any(|p| p.to_string().contains("kubelet-client-certificate")),
        "the dry-run rule's would-be patch is shown: {:?}",
        r.audit()
    );
}

/// `remediate: false` keeps /mutate from patching; /validate still enforces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediate_off_means_no_patch() {
    let s = TestServer::start(policy("mode: enforce\nremediate: false\n")).await;
    let mut review = fixture("kube-apiserver.deployment.json");
    drop_flags(
        &mut review,
        "/spec/template/spec",
        "args",
        &["--kubelet-certificate-authority"],
    );
    let r = s.post("/mutate", &review).await.review();
    assert!(r.allowed());
    assert!(!r.has_patch(), "{}", r.0);
    let r = s.post("/validate", &review).await.review();
    assert!(!r.allowed());
    assert_eq!(r.status_code(), Some(403));
}

/// Exempted namespaces are allowed and never patched, even in enforce mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemptions_are_allowed_unpatched() {
    let s = TestServer::start(policy(
        "mode: enforce\nexemptions:\n  - {namespace: \"hosted-*\", name: \"*\"}\n",
    ))
    .await;
    let mut review = fixture("kube-apiserver.deployment.json");
    drop_flags(
        &mut review,
        "/spec/template/spec",
        "args",
        &["--kubelet-certificate-authority"],
    );
    for endpoint in ["/validate", "/mutate"] {
        let r = s.post(endpoint, &review).await.review();
        assert!(r.allowed(), "{endpoint}: {}", r.0);
        assert!(!r.has_patch(), "{endpoint}: {}", r.0);
    }
    // The same object outside the exempted namespaces is denied.
    let mut other = review.clone();
    other["request"]["namespace"] = json!("kube-system");
    other["request"]["object"]["metadata"]["namespace"] = json!("kube-system");
    let r = s.post("/validate", &other).await.review();
    assert!(!r.allowed(), "{}", r.0);
}

/// Several failed rules at once: the denial names each with its CIS ids and fix; /mutate warns
/// once per remediated rule and one patch fixes them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failed_rule_is_named() {
    let s = TestServer::start(policy("mode: enforce\n")).await;
    let mut review = fixture("kube-apiserver.pod.json");
    drop_flags(
        &mut review,
        "/spec",
        "command",
        &[
            "--kubelet-certificate-authority",
            "--kubelet-client-certificate",
            "--kubelet-client-key",
        ],
    );
    let r = s.post("/validate", &review).await.review();
    assert!(!r.allowed());
    assert_eq!(r.status_code(), Some(403));
    let m = r.message();
    for needle in [
        CA, CLIENT, "1.2.4", "1.2.5", "1.2.6", CA_FIX, CERT_FIX, KEY_FIX,
    ] {
        assert!(m.contains(needle), "denial lacks {needle:?}: {m}");
    }

    let r = s.post("/mutate", &review).await.review();
    let ws = r.warnings();
    for rule in [CA, CLIENT] {
        assert!(
            ws.iter().any(|w| w.contains(rule)),
            "no warning for the remediated {rule}: {ws:?}"
        );
    }
    let patched = apply_patch(&review["request"]["object"], &r.patch().unwrap()).unwrap();
    let again = s
        .post("/validate", &with_object(&review, &patched))
        .await
        .review();
    assert!(again.allowed(), "{}", again.message());
    let again = s
        .post("/mutate", &with_object(&review, &patched))
        .await
        .review();
    assert!(!again.has_patch(), "{:?}", again.patch());
}
