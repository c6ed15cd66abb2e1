//! Flag files read as systemd and the shell read them (hardening issue, points 1 and 2): quotes
//! anywhere in an `Environment=` word, values continued over lines, non-ASCII bytes. Each case is
//! checked end to end: the verdict `check` gives and the text `fix` writes.

use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::node::check::audit_text;
use kubelet_tls_guard::node::fix::fix_text;
use kubelet_tls_guard::report::Record;

fn status(records: &[Record], rule: &str) -> String {
    records
        .iter()
        .find(|r| r.rule.is_some_and(|id| id.as_str() == rule))
        .map(|r| r.status.as_str().to_string())
        .unwrap_or_else(|| panic!("no {rule} record in {records:#?}"))
}

#[test]
fn quotes_inside_an_environment_name_are_removed_as_systemd_does() {
    let text = "[Service]\nEnvironment=KUBELET\"\"_ARGS=--rotate-server-certificates=false\n";
    let records = audit_text("drop-in.conf", text, &Policy::default());
    assert_eq!(
        status(&records, "kubelet-server-tls-bootstrap"),
        "fail",
        "{records:#?}"
    );
    let fixed = fix_text(text, &Policy::default()).unwrap();
    assert_eq!(
        fixed.text,
        "[Service]\nEnvironment=KUBELET\"\"_ARGS=--rotate-server-certificates=true\n"
    );
}

#[test]
fn a_non_ascii_byte_after_removed_quotes_neither_panics_nor_misreads() {
    for text in [
        "[Service]\nEnvironment=KUBELET\"\"é=x\n",
        "[Service]\nEnvironment=\"KUBELET_ARGS=é --rotate-server-certificates=false\"\n",
        "[Service]\nEnvironment='é'KUBELET_ARGS=x\n",
    ] {
        let records = audit_text("drop-in.conf", text, &Policy::default());
        assert!(!records.is_empty(), "{text:?}");
        let _ = fix_text(text, &Policy::default());
    }
    let text = "[Service]\nEnvironment=\"KUBELET_ARGS=é --rotate-server-certificates=false\"\n";
    let fixed = fix_text(text, &Policy::default()).unwrap();
    assert_eq!(
        fixed.text,
        "[Service]\nEnvironment=\"KUBELET_ARGS=é --rotate-server-certificates=true\"\n"
    );
}

#[test]
fn a_quoted_value_continued_over_lines_is_one_value() {
    let text = "# sysconfig\nKUBELET_ARGS=\"--node-ip=10.0.0.1 \\\n  --feature-gates=RotateKubeletServerCertificate=false\"\n";
    let records = audit_text("kubelet", text, &Policy::default());
    assert_eq!(
        status(&records, "kubelet-rotate-server-cert"),
        "fail",
        "{records:#?}"
    );
    let fixed = fix_text(text, &Policy::default()).unwrap();
    assert_eq!(
        fixed.text,
        "# sysconfig\nKUBELET_ARGS=\"--node-ip=10.0.0.1 \\\n  --feature-gates=RotateKubeletServerCertificate=true\"\n"
    );
    // A quoted value may also simply span lines.
    let text = "KUBELET_ARGS=\"--a=b\n--rotate-server-certificates=false\"\n";
    let records = audit_text("kubelet", text, &Policy::default());
    assert_eq!(status(&records, "kubelet-server-tls-bootstrap"), "fail");
}
