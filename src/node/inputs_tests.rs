use super::*;
use crate::engine::read::flags::Origin;

fn flags_of(text: &str) -> FlagFile {
    match parse(text).unwrap().items.into_iter().next() {
        Some(Item::KubeletFlags(f)) => f,
        other => panic!("{other:?}"),
    }
}

#[test]
fn detects_by_content() {
    assert_eq!(detect("KUBELET_KUBEADM_ARGS=\"--a=b\"\n"), Format::EnvFile);
    assert_eq!(
        detect("[Service]\nExecStart=/usr/bin/kubelet\n"),
        Format::Systemd
    );
    assert_eq!(detect("  {\"kind\": \"Pod\"}"), Format::Json);
    assert_eq!(detect("kind: Pod\n"), Format::Yaml);
}

/// The text in the file that the last occurrence of `flag` was read from.
fn span_of<'t>(text: &'t str, f: &FlagFile, flag: &str) -> &'t str {
    let occ = f.flags.last(flag).unwrap();
    let Origin::Text { span } = &f.flags.tokens[occ.token].origin else {
        panic!("{flag} was not read from the file")
    };
    &text[span.clone()]
}

#[test]
fn env_file_spans_point_into_the_file() {
    let text = "# x\nKUBELET_KUBEADM_ARGS=\"--a=1 --rotate-server-certificates=false\"  \n";
    let f = flags_of(text);
    assert_eq!(f.location, "KUBELET_KUBEADM_ARGS");
    assert_eq!(
        span_of(text, &f, "rotate-server-certificates"),
        "--rotate-server-certificates=false"
    );
}

#[test]
fn systemd_expands_vars_in_exec_order() {
    let text = "[Service]\nEnvironment=\"KUBELET_B=--x=2\"\nEnvironment=\"KUBELET_A=--x=1 --feature-gates=A=true\"\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_A $KUBELET_B --y\n";
    let f = flags_of(text);
    assert_eq!(f.flags.value("x"), Some("2"));
    assert_eq!(f.location, "KUBELET_A,KUBELET_B,ExecStart");
    assert_eq!(span_of(text, &f, "feature-gates"), "--feature-gates=A=true");
}

#[test]
fn refuses_deep_nesting_before_parsing() {
    for deep in [
        format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
        (0..200)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect(),
    ] {
        let err = parse(&deep).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("nesting deeper than"), "{err}");
    }
    let fine = format!("a: {}{}\n", "[".repeat(50), "]".repeat(50));
    assert!(parse(&fine).is_ok());
}

#[test]
fn strips_a_byte_order_mark() {
    let text = decode(b"\xef\xbb\xbfkind: Pod\n".to_vec()).unwrap();
    assert_eq!(text, "kind: Pod\n");
}

#[test]
fn refuses_binary_and_empty() {
    assert!(decode(vec![b'a', 0, b'b']).is_err());
    assert!(parse("   \n").is_err());
}
