//! One-line flow collections read by the block reader are what serde_yaml_ng reads; the rest is
//! declined.

use crate::yaml::block::mapping;
use crate::yaml::block::tests::{declined, same, serde_reading};
use proptest::prelude::*;

#[test]
fn flow_collections_of_scalars_are_read_as_with_serde_yaml_ng() {
    for text in [
        "a: [1, 2]\nb: {c: d}\n",
        "command: [kube-apiserver, --secure-port=6443, '--feature-gates=A=true', \"--v=2\"]\n",
        "labels: {component: kube-apiserver, tier: control-plane}  # c\n",
        "m:\n- {name: k8s-certs, mountPath: /etc/kubernetes/pki, readOnly: true}\n- [a, b]\n",
        "a: [ ]\nb: { }\nc: [x]\nd: [ x ,y ]\ne: {k: v,j: w}\n",
        "a: [null, ~, true, False, 0, 007, 10s, 0.0.0.0, a b, -x, 'a, b', \"]\"]\n",
        "a: {k: 1, k: 2, j: ''}\n",
        "a: [--etcd-servers=https://127.0.0.1:2379, a:b, 'c:']\nb: {url: http://h:1/p}\n",
    ] {
        same(text);
    }
}

#[test]
fn nested_multi_line_or_unsure_flow_is_declined() {
    for text in [
        "a: [[1], 2]\n",
        "a: {b: [c]}\n",
        "a: [1,\n  2]\n",
        "a: [1, 2\n",
        "a: [1, 2,]\n",
        "a: [1, , 2]\n",
        "a: [,]\n",
        "a: [a:]\n",
        "a: [a:, b]\n",
        "a: {b: c:}\n",
        "a: [a: b]\n",
        "a: [a #c]\n",
        "a: [1.5]\n",
        "a: [*x]\n",
        "a: [\"x\\ty\"]\n",
        "a: ['it''s']\n",
        "a: ['a' b]\n",
        "a: [a]b\n",
        "a: {b}\n",
        "a: {b:c}\n",
        "a: {b: }\n",
        "a: {true: c}\n",
        "a: {\"b\": c}\n",
        "a: {b : c}\n",
        "a: [a] [b]\n",
    ] {
        declined(text);
    }
}

/// An item: words, numbers, quoted text, and trouble (indicators, colons, comments, escapes).
fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "a", "b c", "10s", "0", "007", "-1", "1.5", "null", "~", "True", "yes", "-", "--x",
            "-x", "a:b", "a: b", "a:", "http://h:1/p", ":a", "a #c", "a#c", "''", "'a, b'", "'it''s'", "\"x\\ty\"", "\"]\"",
            "&a x", "*a", "!t x", "?", "|", "[a]", "{a: b}", "/p/q", "0.0.0.0",
        ])
        .prop_map(str::to_string),
        1 => "[\\[\\]{},:a1 '\"#-]{1,6}",
    ]
}

/// A one-line flow sequence or mapping of items, with its spacing.
fn flow() -> impl Strategy<Value = String> {
    let sep = prop::sample::select(vec![", ", ",", " , ", ",  "]);
    let key = prop::sample::select(vec!["a", "b", "k1", "true", "a b", "\"q\""]);
    prop_oneof![
        (
            prop::collection::vec(item(), 0..4),
            sep.clone(),
            any::<bool>()
        )
            .prop_map(|(items, sep, pad)| {
                let pad = if pad { " " } else { "" };
                format!("[{pad}{}{pad}]", items.join(sep))
            }),
        (prop::collection::vec((key, item()), 0..4), sep).prop_map(|(entries, sep)| {
            let entries: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("{{{}}}", entries.join(sep))
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// As a key's value and as a sequence's items, with a comment or not: whatever is read
    /// quickly is what serde_yaml_ng reads.
    #[test]
    fn generated_flow_reads_as_with_serde_yaml_ng(
        a in flow(),
        b in flow(),
        tail in prop::sample::select(vec!["", "  ", " # c", "#c", " x"]),
    ) {
        let text = format!("a: {a}{tail}\nb:\n- {b}{tail}\n- {a}\nc: {b}\n");
        if let Some(v) = mapping(&text) {
            prop_assert_eq!(Ok(v.to_string()), serde_reading(&text), "{}", text);
        }
    }
}
