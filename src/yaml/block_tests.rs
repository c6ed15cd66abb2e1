//! The quick block reader returns serde_yaml_ng's `Value`, key order included, or `None`.

use super::{mapping, mapping_keeping};
use proptest::prelude::*;
use serde_json::Value;

use crate::skip;

/// serde_yaml_ng's reading of `text`, as JSON text (key order matters to the engine's edits).
pub(in crate::yaml) fn serde_reading(text: &str) -> Result<String, String> {
    serde_yaml_ng::from_str::<Value>(text)
        .map(|v| v.to_string())
        .map_err(|e| e.to_string())
}

/// Read here, and read the same by serde_yaml_ng.
#[track_caller]
pub(in crate::yaml) fn same(text: &str) {
    let quick = mapping(text).unwrap_or_else(|| panic!("not read quickly:\n{text}"));
    assert_eq!(Ok(quick.to_string()), serde_reading(text), "{text}");
}

/// Left to serde_yaml_ng.
#[track_caller]
pub(in crate::yaml) fn declined(text: &str) {
    assert_eq!(mapping(text), None, "{text}");
}

fn fixture_data(name: &str, key: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/admission/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let review: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    review["request"]["object"]["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("{path}: no data.{key}"))
        .to_string()
}

#[test]
fn the_engines_configuration_fixtures_are_read_quickly() {
    same(&fixture_data("kubelet-config.configmap.json", "kubelet"));
    same(&fixture_data(
        "kubeadm-config.v1beta4.json",
        "ClusterConfiguration",
    ));
}

#[test]
fn block_forms_tools_write() {
    for text in [
        "a: 1\n",
        "---\na: b\n",
        "a: b",
        "# head\na: b # tail\n\n  # indented comment\nc: d\n",
        "a:\n  b:\n    c: d\n  e: f\ng: h\n",
        // go-yaml writes a sequence under its key at the key's column.
        "a:\n- x\n- y\nb: z\n",
        "a:\n  - x\n  - y\nb: z\n",
        "a:\n- name: x\n  value: '1'\n- name: y\n  args:\n  - p\n  - q\nb: {}\n",
        "a:\n-   name: x\n    value: y\n",
        "a:\n-\n  b: c\n- \n- d\n",
        "a: []\nb: {}  # empty\nc: ''\nd: \"\"\n",
        "a: \"x: y # z\"\nb: 'say \"hi\"'\nc: \"it's\"\n",
        "empty:\nnext: 1\n",
        "a: null\nb: Null\nc: ~\nd: true\ne: False\nf: TRUE\n",
        "a: yes\nb: off\nc: y\n",
        "a: 0\nb: 10\nc: 007\nd: 18446744073709551615\n",
        "a: 10s\nb: 1m0s\nc: 0.0.0.0\nd: 100Mi\ne: -foo\nf: 1_000\ng: +\nh: 2001-12-14\n",
        "a: /var/lib/kubelet/pki/kubelet.crt\nb: a#b\nc: a:b\nd: x,y\ne: inf\nf: nan\n",
        "a: +inf\nb: -nan\nc: +Infinity\nd: -infinity\ne: 1e\nf: 1.5x\ng: 2e10s\n",
        "a: b   \nc:    d\n",
        "a.b/c-d_e: 1\nA1: 2\n",
        "k: 1\nk: 2\nj: 3\n",
        "a:\n  b:\n  c:\n    - d\n",
    ] {
        same(text);
    }
}

#[test]
fn what_serde_yaml_ng_must_decide_is_declined() {
    for text in [
        // Not a block mapping, or more than one document.
        "",
        "# only a comment\n",
        "- a\n",
        "a\n",
        " a: b\n",
        "a: b\n---\nc: d\n",
        "---\n---\na: b\n",
        "a: b\n...\n",
        "%YAML 1.2\n---\na: b\n",
        // Anchors, aliases, tags, block scalars.
        "a: &x b\nc: *x\n",
        "a: !!str 1\n",
        "a: |\n  text\n",
        "a: >\n  text\n",
        // Escapes, floats, radix and signed numbers, numbers past u64.
        "a: \"x\\ny\"\n",
        "a: 'it''s'\n",
        "a: 1.5\n",
        "a: 1e3\n",
        "a: .inf\n",
        "a: 0x1F\n",
        "a: -5\n",
        "a: +5\n",
        "a: 18446744073709551616\n",
        // Multi-line plain scalars, continuation lines, odd indentation.
        "a: b\n  c\n",
        "a:\n  b: c\n d: e\n",
        "a:\n    b: c\n  d: e\n",
        "a:\n- x\n  y\n",
        // Errors.
        "a: b: c\n",
        "a: b:\n",
        "a: -\n",
        "a: - b\n",
        "a:b\n",
        "a: \"b\"c\n",
        "a: 'b\n",
        "- a\nb: c\n",
        "a:\n- b\nc\n",
        // Keys not surely strings, or not plain.
        "true: a\n",
        "1: a\n",
        "\"a\": b\n",
        "a b: c\n",
        "? a\n: b\n",
        // Tabs, carriage returns, non-ASCII text.
        "a:\tb\n",
        "a: b\r\n",
        "a: é\n",
        "a: b\u{85}c: d\n",
    ] {
        declined(text);
    }
}

#[test]
fn nesting_past_the_limit_is_declined() {
    let deep: String = (0..70).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    declined(&format!("{deep}{}v: 1\n", " ".repeat(70)));
    let fine: String = (0..40).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    same(&format!("{fine}{}v: 1\n", " ".repeat(40)));
}

/// The YAML of the corpus (`../shared/corpus`), where present: every document read quickly, and
/// every `data` value of a ConfigMap, is read as serde_yaml_ng reads it.
#[test]
fn corpus_yaml_reads_as_with_serde_yaml_ng() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if !root.is_dir() {
        skip::skip("../shared/corpus is absent");
        return;
    }
    let mut texts = Vec::new();
    for entry in walkdir::WalkDir::new(&root).into_iter().flatten() {
        let path = entry.path();
        if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for doc in text.split("\n---") {
            texts.push(doc.to_string());
            if let Ok(Value::Object(o)) = serde_yaml_ng::from_str::<Value>(doc)
                && let Some(Value::Object(data)) = o.get("data")
            {
                texts.extend(data.values().filter_map(Value::as_str).map(str::to_string));
            }
        }
    }
    let mut quick = 0;
    for text in &texts {
        if let Some(v) = mapping(text) {
            quick += 1;
            assert_eq!(Ok(v.to_string()), serde_reading(text), "{text}");
        }
    }
    assert!(quick > 0, "no corpus YAML read quickly of {}", texts.len());
}

/// Scalars that are strings, numbers, words, or trouble, as a value or an item.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "a",
            "b c",
            "10s",
            "0",
            "1",
            "007",
            "-1",
            "+1",
            "1.5",
            ".5",
            "1e3",
            "0x10",
            "0o7",
            "0b1",
            ".inf",
            "-.inf",
            ".nan",
            "inf",
            "nan",
            "null",
            "Null",
            "~",
            "true",
            "False",
            "yes",
            "on",
            "-",
            "--x",
            "-x",
            "a:b",
            "a: b",
            "a:",
            "a #c",
            "a#c",
            "x,y",
            "[]",
            "{}",
            "[a]",
            "{a: b}",
            "''",
            "\"\"",
            "'a b'",
            "\"a: b\"",
            "'it''s'",
            "\"x\\ty\"",
            "&a x",
            "*a",
            "!!str 1",
            "|",
            ">",
            "%",
            "@x",
            "`x",
            "?",
            "? x",
            ": x",
            "0.0.0.0",
            "/p/q",
            "18446744073709551616",
            "1_0",
            "+",
            "++1",
            "-0x1",
            "2001-12-14",
            "a  ",
            "'a' b",
            "\"a\" #c",
            "#c",
            "é",
        ])
        .prop_map(str::to_string),
        "[-+.0-9a-fA-Fxob:#'\" ]{1,6}",
    ]
}

/// A block node rendered at `indent` (its text starts on its own line, or after `key:`).
#[derive(Debug, Clone)]
enum Node {
    Scalar(String),
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
}

/// Trees of mappings and sequences over these leaves and keys.
fn tree(
    leaf: BoxedStrategy<String>,
    key: BoxedStrategy<String>,
) -> impl Strategy<Value = Vec<(String, Node)>> {
    let node = leaf.prop_map(Node::Scalar).prop_recursive(4, 24, 4, {
        let key = key.clone();
        move |inner| {
            prop_oneof![
                prop::collection::vec((key.clone(), inner.clone()), 1..4).prop_map(Node::Map),
                prop::collection::vec(inner, 1..4).prop_map(Node::Seq),
            ]
        }
    });
    prop::collection::vec((key, node), 1..5)
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-zA-Z0-9]{0,5}",
        1 => prop::sample::select(vec!["a", "a", "b", "true", "1", "a.b/c", "a b", "\"q\"", "y"])
            .prop_map(str::to_string),
    ]
}

/// How a document is laid out: indentation step, sequences under their key's column or
/// indented, comments, trailing spaces.
#[derive(Debug, Clone, Copy)]
struct Style {
    step: usize,
    seq_at_key: bool,
    comments: bool,
    trailing: bool,
}

fn style() -> impl Strategy<Value = Style> {
    (1usize..5, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(step, seq_at_key, comments, trailing)| Style {
            step,
            seq_at_key,
            comments,
            trailing,
        },
    )
}

fn render_into(out: &mut String, node: &Node, indent: usize, style: Style) {
    let pad = " ".repeat(indent);
    let tail = |out: &mut String| {
        if style.trailing {
            out.push_str("  ");
        }
        if style.comments {
            out.push_str(" # c");
        }
        out.push('\n');
    };
    match node {
        Node::Scalar(s) => {
            out.push_str(&pad);
            out.push_str(s);
            tail(out);
        }
        Node::Map(entries) => {
            for (k, v) in entries {
                out.push_str(&pad);
                out.push_str(k);
                out.push(':');
                match v {
                    Node::Scalar(s) => {
                        out.push(' ');
                        out.push_str(s);
                        tail(out);
                    }
                    Node::Seq(_) if style.seq_at_key => {
                        tail(out);
                        render_into(out, v, indent, style);
                    }
                    _ => {
                        tail(out);
                        render_into(out, v, indent + style.step, style);
                    }
                }
            }
        }
        Node::Seq(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match item {
                    Node::Scalar(s) => {
                        out.push(' ');
                        out.push_str(s);
                        tail(out);
                    }
                    Node::Map(entries) => {
                        // `- key: value`, the rest of the mapping at the first key's column.
                        let column = indent + 1 + style.step;
                        let mut inner = String::new();
                        render_into(&mut inner, &Node::Map(entries.clone()), column, style);
                        out.push_str(&" ".repeat(style.step));
                        out.push_str(inner.get(column..).unwrap_or_default());
                    }
                    Node::Seq(_) => {
                        tail(out);
                        render_into(out, item, indent + style.step, style);
                    }
                }
            }
        }
    }
}

fn render(entries: &[(String, Node)], style: Style) -> String {
    let mut out = String::new();
    render_into(&mut out, &Node::Map(entries.to_vec()), 0, style);
    out
}

/// Lowercase words and integers, alone or in one-line flow collections: all plain, all read
/// quickly.
fn plain_tree() -> impl Strategy<Value = Vec<(String, Node)>> {
    let word = "[a-z]{1,6}|[1-9][0-9]{0,5}";
    let key = "[a-z][a-z0-9]{0,5}".prop_filter("a word resolved as null or a bool", |k| {
        !matches!(k.as_str(), "null" | "true" | "false")
    });
    let leaf = prop_oneof![
        3 => word.prop_map(|w| w.to_string()),
        1 => prop::collection::vec(word, 0..4).prop_map(|w| format!("[{}]", w.join(", "))),
        1 => prop::collection::vec((key.clone(), word), 0..4).prop_map(|e| {
            let e: Vec<String> = e.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("{{{}}}", e.join(", "))
        }),
    ];
    tree(leaf.boxed(), key.boxed())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Generated documents, with scalars and keys of every kind: whatever is read quickly is
    /// what serde_yaml_ng reads.
    #[test]
    fn generated_documents_read_as_with_serde_yaml_ng(
        entries in tree(scalar().boxed(), key().boxed()),
        style in style(),
    ) {
        let text = render(&entries, style);
        let whole = mapping(&text);
        if let Some(v) = &whole {
            prop_assert_eq!(Ok(v.to_string()), serde_reading(&text), "{}", text);
        }
        // Keeping some top-level keys: read exactly when the whole is, and the whole less the
        // others.
        let keep: Vec<&str> = entries.iter().step_by(2).map(|(k, _)| k.as_str()).collect();
        prop_assert_eq!(mapping_keeping(&text, &keep), whole.map(|v| kept(v, &keep)), "{}", text);
    }

    /// Documents of plain words and integers, in every layout, are all read quickly.
    #[test]
    fn plain_documents_are_read_quickly(entries in plain_tree(), style in style()) {
        let text = render(&entries, style);
        let quick = mapping(&text);
        prop_assert!(quick.is_some(), "not read quickly:\n{}", text);
        prop_assert_eq!(Ok(quick.unwrap_or_default().to_string()), serde_reading(&text));
    }

    /// Lines of YAML-ish fragments, mostly not YAML: never read otherwise than serde_yaml_ng.
    #[test]
    fn fragments_read_as_with_serde_yaml_ng(
        lines in prop::collection::vec(
            (
                0usize..5,
                "[a-z]{1,3}",
                prop::sample::select(vec![": ", ":", "- ", " ", ": - ", "- a: ", ""]),
                scalar(),
            ),
            1..8,
        ),
    ) {
        let text: String = lines
            .iter()
            .map(|(indent, k, sep, v)| format!("{}{k}{sep}{v}\n", " ".repeat(*indent)))
            .collect();
        let whole = mapping(&text);
        if let Some(v) = &whole {
            prop_assert_eq!(Ok(v.to_string()), serde_reading(&text), "{}", text);
        }
        let keep: Vec<&str> = lines.iter().take(2).map(|(_, k, ..)| k.as_str()).collect();
        prop_assert_eq!(mapping_keeping(&text, &keep), whole.map(|v| kept(v, &keep)), "{}", text);
    }
}

/// `value` with only the top-level keys `keep`.
fn kept(mut value: Value, keep: &[&str]) -> Value {
    if let Value::Object(map) = &mut value {
        map.retain(|k, _| keep.contains(&k.as_str()));
    }
    value
}

#[test]
fn keeping_some_keys_reads_the_rest_to_the_same_end() {
    let text = fixture_data("kubelet-config.configmap.json", "kubelet");
    let keep = ["featureGates", "serverTLSBootstrap", "absent"];
    let v = mapping_keeping(&text, &keep).unwrap_or_else(|| panic!("not read quickly:\n{text}"));
    assert_eq!(
        v.to_string(),
        r#"{"featureGates":{"RotateKubeletServerCertificate":true},"serverTLSBootstrap":true}"#
    );
    // Whatever the whole reading declines, in a key left out or a key kept, so does this one.
    for bad in [
        "a: 1\nb:\n  c: [[x]]\n",
        "a: 1\nb:\n  - \"e\\n\"\n",
        "a: 1\nb: x\n   y\n",
        "a: 1\nb:\n  c: 1\n d: 2\n",
        "a: 1\nb: 0x10\n",
        "b: 1\na: &x 1\n",
    ] {
        assert_eq!(mapping(bad), None, "{bad}");
        for keep in [&["a"][..], &["b"][..], &[][..]] {
            assert_eq!(mapping_keeping(bad, keep), None, "{bad} keeping {keep:?}");
        }
    }
    assert_eq!(
        mapping_keeping("a: 1\nb:\n  - x\n  - c: 2\n", &[]),
        Some(Value::Object(serde_json::Map::new()))
    );
}
