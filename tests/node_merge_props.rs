//! The kubelet's configuration merge as properties: flags > last drop-in > earlier drop-ins >
//! config file, per field; maps merge, lists replace, `null` removes (JSON merge patch), and the
//! layer named as deciding is the last one that set the field.

use kubelet_tls_guard::engine::read::flags::{Flags, Origin, Token};
use kubelet_tls_guard::node::kubelet_merge::{self, Field, Layer};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

const GATE: &str = "RotateKubeletServerCertificate";

/// What one layer does to a field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Set {
    Absent,
    To(bool),
    /// `field: null`: removes it.
    Null,
}

#[derive(Debug, Clone)]
struct Doc {
    gate: Set,
    /// Another gate in the same map: must survive layers that only touch ours.
    other: Option<bool>,
    /// `featureGates: null` (removes both gates), applied before `gate`/`other` are considered.
    gates_null: bool,
    boot: Set,
    dns: Option<Vec<String>>,
}

fn set() -> impl Strategy<Value = Set> {
    prop_oneof![
        3 => Just(Set::Absent),
        3 => any::<bool>().prop_map(Set::To),
        1 => Just(Set::Null),
    ]
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        set(),
        proptest::option::of(any::<bool>()),
        proptest::bool::weighted(0.1),
        set(),
        proptest::option::of(proptest::collection::vec("10\\.0\\.0\\.[0-9]", 0..3)),
    )
        .prop_map(|(gate, other, gates_null, boot, dns)| Doc {
            gate,
            other,
            gates_null,
            boot,
            dns,
        })
}

fn to_json(d: &Doc) -> Value {
    let mut o = Map::new();
    o.insert("apiVersion".into(), json!("kubelet.config.k8s.io/v1beta1"));
    o.insert("kind".into(), json!("KubeletConfiguration"));
    if d.gates_null {
        o.insert("featureGates".into(), Value::Null);
    } else {
        let mut g = Map::new();
        match d.gate {
            Set::To(b) => {
                g.insert(GATE.into(), json!(b));
            }
            Set::Null => {
                g.insert(GATE.into(), Value::Null);
            }
            Set::Absent => {}
        }
        if let Some(b) = d.other {
            g.insert("OtherGate".into(), json!(b));
        }
        if !g.is_empty() {
            o.insert("featureGates".into(), Value::Object(g));
        }
    }
    match d.boot {
        Set::To(b) => {
            o.insert("serverTLSBootstrap".into(), json!(b));
        }
        Set::Null => {
            o.insert("serverTLSBootstrap".into(), Value::Null);
        }
        Set::Absent => {}
    }
    if let Some(dns) = &d.dns {
        o.insert("clusterDNS".into(), json!(dns));
    }
    Value::Object(o)
}

fn flags(gate: Option<bool>, boot: Option<bool>) -> Flags<'static> {
    let mut words = vec!["--v=2".to_string()];
    if let Some(b) = gate {
        // Split form, and an earlier occurrence the later one overrides.
        words.push("--feature-gates".into());
        words.push(format!("{GATE}={}", !b));
        words.push(format!("--feature-gates=Unrelated=true,{GATE}={b}"));
    }
    if let Some(b) = boot {
        words.push(if b {
            "--rotate-server-certificates".into()
        } else {
            "--rotate-server-certificates=false".into()
        });
    }
    Flags::parse(
        words
            .into_iter()
            .map(|text| Token {
                text: text.into(),
                origin: Origin::None,
            })
            .collect(),
    )
}

/// The expected value and deciding layer of a field, folding layers in precedence order.
fn expect(
    layers: &[(Layer, Doc)],
    pick: impl Fn(&Doc) -> Set,
    flag: Option<(bool, Layer)>,
) -> (Option<bool>, Option<Layer>) {
    let mut value = None;
    let mut origin = None;
    for (layer, d) in layers {
        match pick(d) {
            Set::To(b) => (value, origin) = (Some(b), Some(layer.clone())),
            Set::Null => (value, origin) = (None, Some(layer.clone())),
            Set::Absent => {}
        }
    }
    if let Some((b, layer)) = flag {
        (value, origin) = (Some(b), Some(layer));
    }
    (value, origin)
}

fn gate_of(d: &Doc) -> Set {
    if d.gates_null { Set::Null } else { d.gate }
}

fn check(
    merged: &kubelet_merge::Merged,
    layers: &[(Layer, Doc)],
    flag_gate: Option<bool>,
    flag_boot: Option<bool>,
) -> Result<(), TestCaseError> {
    let (gate, gate_origin) = expect(
        layers,
        gate_of,
        flag_gate.map(|b| (b, Layer::Flag("feature-gates"))),
    );
    prop_assert_eq!(merged.value(Field::Gate).and_then(Value::as_bool), gate);
    prop_assert_eq!(merged.origin.get(&Field::Gate), gate_origin.as_ref());
    let (boot, boot_origin) = expect(
        layers,
        |d| d.boot,
        flag_boot.map(|b| (b, Layer::Flag("rotate-server-certificates"))),
    );
    prop_assert_eq!(
        merged
            .value(Field::ServerTlsBootstrap)
            .and_then(Value::as_bool),
        boot
    );
    prop_assert_eq!(
        merged.origin.get(&Field::ServerTlsBootstrap),
        boot_origin.as_ref()
    );
    // Maps merge: the other gate is whatever the last layer that set it (or dropped the map) left.
    let mut other = None;
    for (_, d) in layers {
        if d.gates_null {
            other = None;
        }
        if !d.gates_null && d.other.is_some() {
            other = d.other;
        }
    }
    prop_assert_eq!(
        merged
            .files
            .pointer("/featureGates/OtherGate")
            .and_then(Value::as_bool),
        other
    );
    // Lists replace: the last list wins whole.
    let dns = layers.iter().rev().find_map(|(_, d)| d.dns.clone());
    prop_assert_eq!(
        merged.files.get("clusterDNS").cloned(),
        dns.map(|d| json!(d))
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn flags_beat_last_drop_in_beat_earlier_beat_file(
        file in proptest::option::of(doc()),
        drop_ins in proptest::collection::vec(doc(), 0..5),
        flag_gate in proptest::option::of(any::<bool>()),
        flag_boot in proptest::option::of(any::<bool>()),
    ) {
        let mut layers: Vec<(Layer, Doc)> = Vec::new();
        if let Some(f) = file {
            layers.push((Layer::File("/var/lib/kubelet/config.yaml".into()), f));
        }
        for (i, d) in drop_ins.into_iter().enumerate() {
            layers.push((Layer::DropIn(format!("/etc/kubelet.d/{i:02}.conf").into()), d));
        }
        let json_layers: Vec<(Layer, Value)> =
            layers.iter().map(|(l, d)| (l.clone(), to_json(d))).collect();
        let merged = kubelet_merge::merge_layers(&json_layers, &flags(flag_gate, flag_boot));
        check(&merged, &layers, flag_gate, flag_boot)?;
    }
}

/// Drop-in names whose byte order differs from creation order and from numeric order.
fn name() -> impl Strategy<Value = String> {
    "(0|1|9|10|a|B|_)[a-z]{0,2}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The same through real files: drop-ins apply in the byte order of their names
    /// (created here in random order), in YAML or JSON, and only `*.conf` counts.
    #[test]
    fn files_on_disk_apply_in_lexical_order(
        file in doc(),
        drop_ins in proptest::collection::btree_map(name(), (doc(), any::<bool>()), 0..6),
        ignored in doc(),
        flag_gate in proptest::option::of(any::<bool>()),
        flag_boot in proptest::option::of(any::<bool>()),
        shuffle in any::<u64>(),
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let root = dir.path();
        let write = |path: &str, text: String| -> Result<(), TestCaseError> {
            let p = root.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap_or(Path::new("/")))
                .and_then(|_| std::fs::write(&p, text))
                .map_err(|e| TestCaseError::fail(e.to_string()))
        };
        write("/var/lib/kubelet/config.yaml", yaml(&to_json(&file)))?;
        // Creation order must not matter: write in a scrambled order.
        let mut entries: Vec<(&String, &(Doc, bool))> = drop_ins.iter().collect();
        entries.sort_by_key(|(n, _)| n.bytes().fold(shuffle, |h, b| h.rotate_left(5) ^ u64::from(b)));
        for (n, (d, as_json)) in entries {
            let v = to_json(d);
            let text = if *as_json { v.to_string() } else { yaml(&v) };
            write(&format!("/etc/kubelet.d/{n}.conf"), text)?;
        }
        write("/etc/kubelet.d/zz-not-a-drop-in.yaml", yaml(&to_json(&ignored)))?;
        let mut words = vec!["--config=/var/lib/kubelet/config.yaml".to_string(), "--config-dir".into(), "/etc/kubelet.d".into()];
        words.extend(flags(flag_gate, flag_boot).tokens.into_iter().map(|t| t.text.into_owned()));
        let flags = Flags::parse(words.into_iter().map(|text| Token { text: text.into(), origin: Origin::None }).collect());
        let merged = kubelet_merge::load(&flags, root, None);
        prop_assert!(merged.errors.is_empty(), "{:?}", merged.errors);

        let mut layers = vec![(Layer::File("/var/lib/kubelet/config.yaml".into()), file)];
        // BTreeMap<String, _> iterates in byte order: the order the kubelet applies them.
        for (n, (d, _)) in drop_ins {
            layers.push((Layer::DropIn(PathBuf::from(format!("/etc/kubelet.d/{n}.conf"))), d));
        }
        let applied: Vec<PathBuf> = layers[1..].iter().map(|(l, _)| match l {
            Layer::DropIn(p) => p.clone(),
            _ => PathBuf::new(),
        }).collect();
        prop_assert_eq!(&merged.drop_ins, &applied);
        check(&merged, &layers, flag_gate, flag_boot)?;
    }
}

fn yaml(v: &Value) -> String {
    serde_yaml_ng::to_string(v).unwrap_or_default()
}
