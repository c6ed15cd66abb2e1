//! Tables from k3s's own behaviour: `pkg/configfilearg/parser_test.go` (`TestParser_Parse`,
//! with its testdata `data.yaml` and `data.yaml.d/{01-data.yml,02-data.yaml}`) for the file
//! merge, and `pkg/util/args.go` (`GetArgs`) for how `-arg` items meet the distribution's flags.

use super::*;

fn map(yaml: &str) -> Map<String, Value> {
    match serde_yaml_ng::from_str(yaml) {
        Ok(Value::Object(m)) => m,
        other => panic!("not a mapping: {other:?}"),
    }
}

/// k3s `readConfigFile`'s flattening: keys in first-seen order, a list as repeated flags.
fn flatten(m: &Merged) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in &m.value {
        let dash = if k.len() == 1 { "-" } else { "--" };
        match v {
            Value::Array(list) => {
                for x in list {
                    out.push(format!("{dash}{k}={}", super::super::scalar(x)));
                }
            }
            other => out.push(format!("{dash}{k}={}", super::super::scalar(other))),
        }
    }
    out
}

const DATA: &str = "foo-bar: baz\na-slice:\n- 1\n- \"2\"\n- \"\"\n- three\nisempty:\nc: b\nisfalse: false\nislast: true\n";
const DATA_01: &str = "foo-bar: get-overriden\na-slice:\n- 1\n- \"1.5\"\n- \"2\"\n- \"\"\n- three\nb-string: one\nc-slice:\n- one\n- two\nd-slice:\n- one\n- two\n";
const DATA_02: &str = "foo-bar: bar-foo\nb-string+: two\nc-slice+:\n- three\nd-slice:\n- three\n- four\ne-slice+:\n- one\n- two\n";

#[test]
fn merge_matches_k3s_parser_test() {
    let files = [map(DATA), map(DATA_01), map(DATA_02)];
    let refs: Vec<&Map<String, Value>> = files.iter().collect();
    let got = flatten(&merge(&refs));
    // parser_test.go `testDataOutput`, in order.
    let want = [
        "--foo-bar=bar-foo",
        "--a-slice=1",
        "--a-slice=1.5",
        "--a-slice=2",
        "--a-slice=",
        "--a-slice=three",
        "--isempty=",
        "-c=b",
        "--isfalse=false",
        "--islast=true",
        "--b-string=one",
        "--b-string=two",
        "--c-slice=one",
        "--c-slice=two",
        "--c-slice=three",
        "--d-slice=three",
        "--d-slice=four",
        "--e-slice=one",
        "--e-slice=two",
    ];
    assert_eq!(got, want);
}

#[test]
fn merge_single_file_matches_k3s_parser_test() {
    // "read single config file": 02-data.yaml alone; `+` keys with nothing before them.
    let one = map(DATA_02);
    let got = flatten(&merge(&[&one]));
    let want = [
        "--foo-bar=bar-foo",
        "--b-string=two",
        "--c-slice=three",
        "--d-slice=three",
        "--d-slice=four",
        "--e-slice=one",
        "--e-slice=two",
    ];
    assert_eq!(got, want);
}

#[test]
fn merge_tables() {
    // (files, key, merged value, (file, pointer) of each item, container)
    type Row = (
        &'static [&'static str],
        &'static str,
        Value,
        Vec<(usize, &'static str)>,
        (usize, &'static str),
    );
    let rows: Vec<Row> = vec![
        // A later file's list replaces the earlier list (the k3s docs and code agree).
        (
            &["kubelet-arg: [a=1, b=2]", "kubelet-arg: [c=3]"],
            "kubelet-arg",
            serde_json::json!(["c=3"]),
            vec![(1, "/kubelet-arg/0")],
            (1, "kubelet-arg"),
        ),
        // `key+` appends, items keep the files they came from.
        (
            &["kubelet-arg: [a=1]", "kubelet-arg+: [c=3]"],
            "kubelet-arg",
            serde_json::json!(["a=1", "c=3"]),
            vec![(0, "/kubelet-arg/0"), (1, "/kubelet-arg+/0")],
            (1, "kubelet-arg+"),
        ),
        // A string is a one-item list when appended to, and when appending.
        (
            &["kubelet-arg: a=1", "kubelet-arg+: c=3"],
            "kubelet-arg",
            serde_json::json!(["a=1", "c=3"]),
            vec![(0, "/kubelet-arg"), (1, "/kubelet-arg+")],
            (1, "kubelet-arg+"),
        ),
        // Within one file, order matters: `key` after `key+` replaces it.
        (
            &["kubelet-arg+: [a=1]\nkubelet-arg: [c=3]"],
            "kubelet-arg",
            serde_json::json!(["c=3"]),
            vec![(0, "/kubelet-arg/0")],
            (0, "kubelet-arg"),
        ),
        (
            &["kubelet-arg: [a=1]\nkubelet-arg+: [c=3]"],
            "kubelet-arg",
            serde_json::json!(["a=1", "c=3"]),
            vec![(0, "/kubelet-arg/0"), (0, "/kubelet-arg+/0")],
            (0, "kubelet-arg+"),
        ),
        // An empty scalar appends nothing (k3s `toSlice`).
        (
            &["kubelet-arg: [a=1]", "kubelet-arg+:"],
            "kubelet-arg",
            serde_json::json!(["a=1"]),
            vec![(0, "/kubelet-arg/0")],
            (1, "kubelet-arg+"),
        ),
        // Scalars: the last file wins.
        (
            &[
                "write-kubeconfig-mode: \"0600\"",
                "write-kubeconfig-mode: \"0644\"",
            ],
            "write-kubeconfig-mode",
            serde_json::json!("0644"),
            vec![(1, "/write-kubeconfig-mode")],
            (1, "write-kubeconfig-mode"),
        ),
    ];
    for (files, key, value, items, container) in rows {
        let maps: Vec<Map<String, Value>> = files.iter().map(|f| map(f)).collect();
        let refs: Vec<&Map<String, Value>> = maps.iter().collect();
        let m = merge(&refs);
        assert_eq!(m.value.get(key), Some(&value), "{files:?}");
        let want: Vec<(usize, String)> = items.iter().map(|(f, p)| (*f, p.to_string())).collect();
        assert_eq!(m.items.get(key), Some(&want), "{files:?}");
        assert_eq!(
            m.container.get(key),
            Some(&(container.0, container.1.to_string())),
            "{files:?}"
        );
    }
}

const CA: (&str, &str) = ("kubelet-certificate-authority", "/tls/server-ca.crt");

fn args(defaults: &[(&str, &str)], items: &[&str]) -> Vec<String> {
    let defaults: Vec<(&str, String)> = defaults.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    component_args(&defaults, &items)
        .into_iter()
        .map(|a| {
            let from = a
                .item
                .map_or("default".to_string(), |i| format!("item {i}"));
            format!("--{}={} ({from})", a.name, a.value)
        })
        .collect()
}

#[test]
fn component_args_follow_k3s_getargs() {
    // (the distribution's flags, the items, what the component receives)
    type Row = (
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
        &'static [&'static str],
    );
    let rows: Vec<Row> = vec![
        // No items: the distribution's flags, sorted by name.
        (
            &[CA, ("b", "1")],
            &[],
            &[
                "--b=1 (default)",
                "--kubelet-certificate-authority=/tls/server-ca.crt (default)",
            ],
        ),
        // A plain item replaces the distribution's value.
        (
            &[CA],
            &["kubelet-certificate-authority=/mine.crt"],
            &["--kubelet-certificate-authority=/mine.crt (item 0)"],
        ),
        // `name+=` keeps it and comes after it (so pflag takes the item).
        (
            &[CA],
            &["kubelet-certificate-authority+=/mine.crt"],
            &[
                "--kubelet-certificate-authority=/tls/server-ca.crt (default)",
                "--kubelet-certificate-authority=/mine.crt (item 0)",
            ],
        ),
        // `name-=` comes before it (so pflag takes the distribution's value).
        (
            &[CA],
            &["kubelet-certificate-authority-=/mine.crt"],
            &[
                "--kubelet-certificate-authority=/mine.crt (item 0)",
                "--kubelet-certificate-authority=/tls/server-ca.crt (default)",
            ],
        ),
        // Repeated items all reach the component, in order; the last wins there.
        (
            &[],
            &[
                "feature-gates=A=true",
                "max-pods=10",
                "--feature-gates=B=false",
            ],
            &[
                "--feature-gates=A=true (item 0)",
                "--feature-gates=B=false (item 2)",
                "--max-pods=10 (item 1)",
            ],
        ),
        // `name-=` after an earlier item goes before it.
        (&[], &["a=1", "a-=2"], &["--a=2 (item 1)", "--a=1 (item 0)"]),
        // No `=`: the flag set to true.
        (
            &[],
            &["rotate-server-certificates"],
            &["--rotate-server-certificates=true (item 0)"],
        ),
    ];
    for (defaults, items, want) in rows {
        assert_eq!(args(defaults, items), want, "{defaults:?} {items:?}");
    }
}
