use super::render::{double, single, single_ok};
use super::*;
use serde::Deserialize;
use serde_json::{Map, json};

fn ops(v: Value) -> Vec<PatchOperation> {
    serde_json::from_value(v).unwrap()
}

fn edit(text: &str, v: Value) -> Result<String, String> {
    edit_doc(text, 0, &ops(v))
}

/// Each case: (name, text, ops, expected text).
fn check_table(cases: &[(&str, &str, Value, &str)]) {
    let mut failures = Vec::new();
    for (name, text, v, want) in cases {
        match edit(text, v.clone()) {
            Ok(got) if got == *want => {}
            Ok(got) => failures.push(format!("{name}:\n--- want\n{want}\n--- got\n{got}")),
            Err(e) => failures.push(format!("{name}: error {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

const POD: &str = "\
# kubeadm static pod
apiVersion: v1
kind: Pod
metadata:
  name: kube-controller-manager   # the name
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-controller-manager
    - --bind-address=127.0.0.1
    # a comment between flags
    - --feature-gates=A=true   # keep me
    - --leader-elect=true
    image: registry.k8s.io/kube-controller-manager:v1.34.2
    name: kube-controller-manager
    volumeMounts:
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
  hostNetwork: true
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
# trailing comment
";

#[test]
fn block_sequences() {
    check_table(&[
        (
            "replace a list item, its comment kept",
            POD,
            json!([{"op": "replace", "path": "/spec/containers/0/command/2", "value": "--feature-gates=A=true,RotateKubeletServerCertificate=true"}]),
            &POD.replace("- --feature-gates=A=true   # keep me", "- --feature-gates=A=true,RotateKubeletServerCertificate=true   # keep me"),
        ),
        (
            "append a string",
            POD,
            json!([{"op": "add", "path": "/spec/containers/0/command/-", "value": "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt"}]),
            &POD.replace("    - --leader-elect=true\n", "    - --leader-elect=true\n    - --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt\n"),
        ),
        (
            "insert before an item (a `--` terminator)",
            "args:\n  - --a=1\n  # the rest is not for us\n  - --\n  - --b=2\n",
            json!([{"op": "add", "path": "/args/1", "value": "--x=y"}, {"op": "add", "path": "/args/2", "value": "--z=w"}]),
            "args:\n  - --a=1\n  - --x=y\n  - --z=w\n  # the rest is not for us\n  - --\n  - --b=2\n",
        ),
        (
            "insert at 0",
            "args:\n- a\n- b\n",
            json!([{"op": "add", "path": "/args/0", "value": "z"}]),
            "args:\n- z\n- a\n- b\n",
        ),
        (
            "append a mapping (indentless sequence)",
            POD,
            json!([{"op": "add", "path": "/spec/volumes/-", "value": {"name": "kubelet-tls-guard-pki", "hostPath": {"path": "/etc/kubernetes/pki", "type": "Directory"}}}]),
            &POD.replace("    name: k8s-certs\n# trailing", "    name: k8s-certs\n  - name: kubelet-tls-guard-pki\n    hostPath:\n      path: /etc/kubernetes/pki\n      type: Directory\n# trailing"),
        ),
        (
            "append a mapping (indented sequence, 4 spaces)",
            "spec:\n    extraArgs:\n        - name: a\n          value: b\n    other: 1\n",
            json!([{"op": "add", "path": "/spec/extraArgs/-", "value": {"name": "feature-gates", "value": "X=true"}}]),
            "spec:\n    extraArgs:\n        - name: a\n          value: b\n        - name: feature-gates\n          value: X=true\n    other: 1\n",
        ),
        (
            "append a string that must be quoted",
            "args:\n- a\n",
            json!([{"op": "add", "path": "/args/-", "value": "x: y"}, {"op": "add", "path": "/args/-", "value": "true"}]),
            "args:\n- a\n- 'x: y'\n- 'true'\n",
        ),
        (
            "new items follow the quoting of their neighbours",
            "args:\n- \"--a\"\n",
            json!([{"op": "add", "path": "/args/-", "value": "--b"}]),
            "args:\n- \"--a\"\n- \"--b\"\n",
        ),
        (
            "nested sequences",
            "a:\n- - x\n  - y\n",
            json!([{"op": "add", "path": "/a/0/0", "value": "w"}, {"op": "add", "path": "/a/0/-", "value": "z"}]),
            "a:\n- - w\n  - x\n  - y\n  - z\n",
        ),
    ]);
}

#[test]
fn block_mappings() {
    let cfg = "\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# gates
featureGates:
  GracefulNodeShutdown: true   # on
  RotateKubeletServerCertificate: false
serverTLSBootstrap: false
rotateCertificates: true

# about the next document
---
kind: Other
";
    check_table(&[
        (
            "replace scalars, comments kept",
            cfg,
            json!([
                {"op": "replace", "path": "/featureGates/RotateKubeletServerCertificate", "value": true},
                {"op": "replace", "path": "/serverTLSBootstrap", "value": true},
            ]),
            &cfg.replace("Certificate: false", "Certificate: true").replace("Bootstrap: false", "Bootstrap: true"),
        ),
        (
            "add keys: after the last entry, before trailing comments and ---",
            cfg,
            json!([
                {"op": "add", "path": "/featureGates/KubeletTracing", "value": true},
                {"op": "add", "path": "/tlsCipherSuites", "value": ["A", "B"]},
                {"op": "add", "path": "/authentication", "value": {"x509": {"clientCAFile": "/etc/ca.crt"}, "anonymous": {"enabled": false}}},
            ]),
            &cfg.replace("Certificate: false\n", "Certificate: false\n  KubeletTracing: true\n").replace(
                "rotateCertificates: true\n",
                "rotateCertificates: true\ntlsCipherSuites:\n- A\n- B\nauthentication:\n  x509:\n    clientCAFile: /etc/ca.crt\n  anonymous:\n    enabled: false\n",
            ),
        ),
        (
            "add a key whose value is a sequence (detected indented style)",
            "spec:\n  containers:\n    - name: c\n      image: i\n",
            json!([{"op": "add", "path": "/spec/containers/0/args", "value": ["--x=y"]}]),
            "spec:\n  containers:\n    - name: c\n      image: i\n      args:\n        - --x=y\n",
        ),
        (
            "add volumes to a pod spec",
            "spec:\n  containers:\n  - name: c\n  hostNetwork: true\n",
            json!([{"op": "add", "path": "/spec/volumes", "value": [{"name": "p", "hostPath": {"path": "/etc/kubernetes/pki", "type": "Directory"}}]}]),
            "spec:\n  containers:\n  - name: c\n  hostNetwork: true\n  volumes:\n  - name: p\n    hostPath:\n      path: /etc/kubernetes/pki\n      type: Directory\n",
        ),
        (
            "4-space mapping indentation is followed",
            "featureGates:\n    RuntimeClass: true\nx: 1\n",
            json!([{"op": "add", "path": "/featureGates/RotateKubeletServerCertificate", "value": true}, {"op": "add", "path": "/a", "value": {"b": 1}}]),
            "featureGates:\n    RuntimeClass: true\n    RotateKubeletServerCertificate: true\nx: 1\na:\n    b: 1\n",
        ),
        (
            "extraArgs map and list forms",
            "apiServer:\n  extraArgs:\n    feature-gates: A=true\n    authorization-mode: Node,RBAC\ncontrollerManager:\n  extraArgs:\n  - name: v\n    value: \"2\"\n  - name: feature-gates\n    value: A=false\n",
            json!([
                {"op": "replace", "path": "/apiServer/extraArgs/feature-gates", "value": "A=true,RotateKubeletServerCertificate=true"},
                {"op": "replace", "path": "/controllerManager/extraArgs/1/value", "value": "A=true"},
                {"op": "add", "path": "/apiServer/extraArgs/kubelet-certificate-authority", "value": "/etc/kubernetes/pki/ca.crt"},
            ]),
            "apiServer:\n  extraArgs:\n    feature-gates: A=true,RotateKubeletServerCertificate=true\n    authorization-mode: Node,RBAC\n    kubelet-certificate-authority: /etc/kubernetes/pki/ca.crt\ncontrollerManager:\n  extraArgs:\n  - name: v\n    value: \"2\"\n  - name: feature-gates\n    value: A=true\n",
        ),
        (
            "keys that need quoting, JSON pointer escapes",
            "a: 1\n",
            json!([{"op": "add", "path": "/x~1y", "value": 1}, {"op": "add", "path": "/true", "value": "yes"}, {"op": "add", "path": "/b: c", "value": "d #e"}]),
            "a: 1\nx/y: 1\n\"true\": 'yes'\n\"b: c\": 'd #e'\n",
        ),
        (
            "a key with an empty value",
            "a:\nb: 1\n",
            json!([{"op": "replace", "path": "/a", "value": "x"}]),
            "a: x\nb: 1\n",
        ),
    ]);
}

#[test]
fn quoting_styles() {
    check_table(&[
        (
            "single quotes stay single",
            "a: 'x'\n",
            json!([{"op": "replace", "path": "/a", "value": "it's"}]),
            "a: 'it''s'\n",
        ),
        (
            "double quotes stay double",
            "a: \"x\"  # c\n",
            json!([{"op": "replace", "path": "/a", "value": "say \"hi\"\\"}]),
            "a: \"say \\\"hi\\\"\\\\\"  # c\n",
        ),
        (
            "plain stays plain when safe",
            "a: x\n",
            json!([{"op": "replace", "path": "/a", "value": "--feature-gates=A=true,B=false"}]),
            "a: --feature-gates=A=true,B=false\n",
        ),
        (
            "plain becomes quoted when the text would read as something else",
            "a: x\nb: x\nc: x\nd: x\ne: x\nf: x\ng: x\n",
            json!([
                {"op": "replace", "path": "/a", "value": "true"},
                {"op": "replace", "path": "/b", "value": "1"},
                {"op": "replace", "path": "/c", "value": "yes"},
                {"op": "replace", "path": "/d", "value": "a: b"},
                {"op": "replace", "path": "/e", "value": "a #b"},
                {"op": "replace", "path": "/f", "value": "- x"},
                {"op": "replace", "path": "/g", "value": ""},
            ]),
            "a: 'true'\nb: '1'\nc: 'yes'\nd: 'a: b'\ne: 'a #b'\nf: '- x'\ng: ''\n",
        ),
        (
            "control characters force double quotes",
            "a: x\n",
            json!([{"op": "replace", "path": "/a", "value": "tab\there"}]),
            "a: \"tab\\there\"\n",
        ),
        (
            "a bool replacing a quoted string is written plain",
            "a: \"false\"\n",
            json!([{"op": "replace", "path": "/a", "value": true}]),
            "a: true\n",
        ),
    ]);
}

#[test]
fn replacing_null_and_collections() {
    check_table(&[
        (
            "null → mapping",
            "featureGates:\nx: 1\n",
            json!([{"op": "replace", "path": "/featureGates", "value": {"RotateKubeletServerCertificate": true}}]),
            "featureGates:\n  RotateKubeletServerCertificate: true\nx: 1\n",
        ),
        (
            "explicit null → mapping, comment kept on the key line",
            "featureGates: null   # none\nx: 1\n",
            json!([{"op": "replace", "path": "/featureGates", "value": {"RotateKubeletServerCertificate": true}}]),
            "featureGates:   # none\n  RotateKubeletServerCertificate: true\nx: 1\n",
        ),
        (
            "mapping → list",
            "apiServer:\n  extraArgs:\n    a: b\n    c: d\n  x: 1\n",
            json!([{"op": "replace", "path": "/apiServer/extraArgs", "value": [{"name": "a", "value": "b"}]}]),
            "apiServer:\n  extraArgs:\n  - name: a\n    value: b\n  x: 1\n",
        ),
        (
            "collection → scalar",
            "a: # c\n  b: 1\n  d: 2\ne: 3\n",
            json!([{"op": "replace", "path": "/a", "value": "s"}]),
            "a: s # c\ne: 3\n",
        ),
        (
            "sequence item scalar → mapping",
            "l:\n- a\n- b\n",
            json!([{"op": "replace", "path": "/l/0", "value": {"name": "x", "value": "v"}}]),
            "l:\n- name: x\n  value: v\n- b\n",
        ),
        (
            "empty flow collections in block style grow into block style",
            "controllerManager: {}\nargs: []\n",
            json!([
                {"op": "add", "path": "/controllerManager/extraArgs", "value": [{"name": "feature-gates", "value": "X=true"}]},
                {"op": "add", "path": "/args/-", "value": "--x"},
            ]),
            "controllerManager:\n  extraArgs:\n  - name: feature-gates\n    value: X=true\nargs:\n- --x\n",
        ),
        (
            "an empty item with a comment becomes a mapping",
            "l:\n-   # fill me\n- b\n",
            json!([{"op": "replace", "path": "/l/0", "value": {"a": "x\ny"}}]),
            "l:\n- a: |-   # fill me\n    x\n    y\n- b\n",
        ),
        (
            "empty items wherever the parser puts their sequence",
            "k:\n-\n- b\nj:\n  -   # c\n  - x\nl:\n- - p\n  -\n",
            json!([
                {"op": "replace", "path": "/k/0", "value": "a"},
                {"op": "replace", "path": "/j/0", "value": "w"},
                {"op": "replace", "path": "/l/0/1", "value": "q"},
            ]),
            "k:\n- a\n- b\nj:\n  - w   # c\n  - x\nl:\n- - p\n  - q\n",
        ),
        (
            "an empty sequence item",
            "l:\n-\n- b\n",
            json!([{"op": "replace", "path": "/l/0", "value": "a"}]),
            "l:\n- a\n- b\n",
        ),
        (
            "the whole document",
            "--- a\n",
            json!([{"op": "replace", "path": "", "value": "b"}]),
            "--- b\n",
        ),
        (
            "a bare scalar document",
            "hello\n",
            json!([{"op": "replace", "path": "", "value": "x: y"}]),
            "'x: y'\n",
        ),
    ]);
}

#[test]
fn flow_styles() {
    let pretty = "{\n  \"kind\": \"KubeletConfiguration\",\n  \"featureGates\": {},\n  \"args\": [\n    \"a\"\n  ],\n  \"maxPods\": 58\n}\n";
    check_table(&[
        (
            "pretty JSON: add keys and items on their own lines",
            pretty,
            json!([
                {"op": "add", "path": "/serverTLSBootstrap", "value": true},
                {"op": "add", "path": "/featureGates/RotateKubeletServerCertificate", "value": true},
                {"op": "add", "path": "/args/-", "value": "b"},
                {"op": "add", "path": "/args/0", "value": "z"},
                {"op": "add", "path": "/volumes", "value": [{"name": "p", "hostPath": {"path": "/x"}}]},
            ]),
            "{\n  \"kind\": \"KubeletConfiguration\",\n  \"featureGates\": {\n    \"RotateKubeletServerCertificate\": true\n  },\n  \"args\": [\n    \"z\",\n    \"a\",\n    \"b\"\n  ],\n  \"maxPods\": 58,\n  \"serverTLSBootstrap\": true,\n  \"volumes\": [\n    {\n      \"name\": \"p\",\n      \"hostPath\": {\n        \"path\": \"/x\"\n      }\n    }\n  ]\n}\n",
        ),
        (
            "pretty JSON: replace values",
            pretty,
            json!([
                {"op": "replace", "path": "/maxPods", "value": "many"},
                {"op": "replace", "path": "/kind", "value": "K"},
                {"op": "replace", "path": "/args", "value": {"a": 1}},
            ]),
            "{\n  \"kind\": \"K\",\n  \"featureGates\": {},\n  \"args\": {\n    \"a\": 1\n  },\n  \"maxPods\": \"many\"\n}\n",
        ),
        (
            "compact JSON stays compact",
            "{\"a\":1,\"b\":[1,2]}",
            json!([{"op": "add", "path": "/c", "value": {"d": "e"}}, {"op": "add", "path": "/b/-", "value": 3}]),
            "{\"a\":1,\"b\":[1,2,3],\"c\":{\"d\":\"e\"}}",
        ),
        (
            "one-line JSON with spaces",
            "{\"a\": 1, \"b\": [\"x\"]}\n",
            json!([{"op": "add", "path": "/c", "value": "y"}, {"op": "add", "path": "/b/0", "value": "w"}]),
            "{\"a\": 1, \"b\": [\"w\", \"x\"], \"c\": \"y\"}\n",
        ),
        (
            "4-space JSON",
            "{\n    \"a\": {\n        \"b\": 1\n    }\n}\n",
            json!([{"op": "add", "path": "/a/c", "value": {"d": [true]}}]),
            "{\n    \"a\": {\n        \"b\": 1,\n        \"c\": {\n            \"d\": [\n                true\n            ]\n        }\n    }\n}\n",
        ),
        (
            "tab-indented JSON",
            "{\n\t\"a\": [\n\t\t1\n\t]\n}\n",
            json!([{"op": "add", "path": "/b", "value": {"c": 1}}, {"op": "add", "path": "/a/-", "value": 2}]),
            "{\n\t\"a\": [\n\t\t1,\n\t\t2\n\t],\n\t\"b\": {\n\t\t\"c\": 1\n\t}\n}\n",
        ),
        (
            "YAML flow sequences in block documents",
            "command: [kube-controller-manager, --a=1]\nargs: [\"--x\"]\n",
            json!([
                {"op": "add", "path": "/command/-", "value": "--feature-gates=A=true,B=true"},
                {"op": "add", "path": "/args/-", "value": "--y"},
                {"op": "replace", "path": "/command/1", "value": "--a=2"},
            ]),
            "command: [kube-controller-manager, --a=2, '--feature-gates=A=true,B=true']\nargs: [\"--x\", \"--y\"]\n",
        ),
        (
            "a comment after a flow collection stays after it",
            "args: [a, b]  # flags\nx: {k: v}   # map\n",
            json!([{"op": "add", "path": "/args/-", "value": "c"}, {"op": "add", "path": "/x/l", "value": "m"}]),
            "args: [a, b, c]  # flags\nx: {k: v, l: m}   # map\n",
        ),
        (
            "embedded YAML in a JSON string",
            "{\"data\": {\"kubelet\": \"a: 1\\n\"}}",
            json!([{"op": "replace", "path": "/data/kubelet", "value": "a: 1\nb: \"2\"\n"}]),
            "{\"data\": {\"kubelet\": \"a: 1\\nb: \\\"2\\\"\\n\"}}",
        ),
        (
            "the root of a JSON document",
            "{\"a\": 1}\n",
            json!([{"op": "replace", "path": "", "value": {"b": [1]}}]),
            "{\"b\": [1]}\n",
        ),
        (
            "YAML flow mapping",
            "labels: {a: b}\n",
            json!([{"op": "add", "path": "/labels/c", "value": "d"}]),
            "labels: {a: b, c: d}\n",
        ),
    ]);
}

#[test]
fn documents_and_line_endings() {
    let stream = "a: 1\n---\n# second\nb: 2\n...\n---\nc: 3\n";
    assert_eq!(
        edit_doc(
            stream,
            1,
            &ops(json!([{"op": "add", "path": "/x", "value": [1]}]))
        )
        .unwrap(),
        "a: 1\n---\n# second\nb: 2\nx:\n- 1\n...\n---\nc: 3\n"
    );
    assert_eq!(
        edit_doc(
            stream,
            2,
            &ops(json!([{"op": "replace", "path": "/c", "value": 4}]))
        )
        .unwrap(),
        "a: 1\n---\n# second\nb: 2\n...\n---\nc: 4\n"
    );
    assert!(
        edit_doc(
            stream,
            3,
            &ops(json!([{"op": "add", "path": "/x", "value": 1}]))
        )
        .is_err()
    );
    check_table(&[
        (
            "CRLF is kept in new lines",
            "a:\r\n  b: 1\r\nl:\r\n- x\r\n",
            json!([
                {"op": "add", "path": "/a/c", "value": {"d": 1}},
                {"op": "add", "path": "/l/-", "value": "y"},
            ]),
            "a:\r\n  b: 1\r\n  c:\r\n    d: 1\r\nl:\r\n- x\r\n- 'y'\r\n",
        ),
        (
            "no newline at the end of the text",
            "a: 1",
            json!([{"op": "add", "path": "/b", "value": 2}]),
            "a: 1\nb: 2",
        ),
        (
            "non-ASCII text before the edit",
            "name: \"é ü 日本\"\nx: ü\n",
            json!([{"op": "replace", "path": "/x", "value": "ß"}, {"op": "add", "path": "/z", "value": "ö"}]),
            "name: \"é ü 日本\"\nx: ß\nz: ö\n",
        ),
    ]);
}

#[test]
fn multi_line_scalars() {
    let cm = "data:\n  kubelet: |\n    apiVersion: v1\n    # a comment inside the text\n    kind: KubeletConfiguration\n\n    rotateCertificates: true\n  other: x\n";
    check_table(&[
        (
            "literal block: only changed lines are rewritten",
            cm,
            json!([{"op": "replace", "path": "/data/kubelet", "value": "apiVersion: v1\n# a comment inside the text\nkind: KubeletConfiguration\n\nrotateCertificates: true\nserverTLSBootstrap: true\n"}]),
            "data:\n  kubelet: |\n    apiVersion: v1\n    # a comment inside the text\n    kind: KubeletConfiguration\n\n    rotateCertificates: true\n    serverTLSBootstrap: true\n  other: x\n",
        ),
        (
            "literal block after non-ASCII text",
            "# ünïcode\ndata:\n  kubelet: |\n    # ünïcode\n    a: ü\n",
            json!([{"op": "replace", "path": "/data/kubelet", "value": "# ünïcode\na: ü\nb: ß\n"}]),
            "# ünïcode\ndata:\n  kubelet: |\n    # ünïcode\n    a: ü\n    b: ß\n",
        ),
        (
            "literal block: chomping follows the new text",
            cm,
            json!([{"op": "replace", "path": "/data/kubelet", "value": "apiVersion: v2\n# a comment inside the text\nkind: KubeletConfiguration\n\nrotateCertificates: true"}]),
            "data:\n  kubelet: |-\n    apiVersion: v2\n    # a comment inside the text\n    kind: KubeletConfiguration\n\n    rotateCertificates: true\n  other: x\n",
        ),
        (
            "literal block with keep chomping",
            "a: |+\n  x\n  y\n\nb: 1\n",
            json!([{"op": "replace", "path": "/a", "value": "x\nz\n\n"}]),
            "a: |+\n  x\n  z\n\nb: 1\n",
        ),
        (
            "a multi-line string replacing a plain one becomes a literal block",
            "data:\n  kubelet: x\n",
            json!([{"op": "replace", "path": "/data/kubelet", "value": "a: 1\nb: 2\n"}]),
            "data:\n  kubelet: |\n    a: 1\n    b: 2\n",
        ),
        (
            "a multi-line string with trailing blank lines is double-quoted",
            "data:\n  kubelet: x\n",
            json!([{"op": "replace", "path": "/data/kubelet", "value": "a\n\n"}]),
            "data:\n  kubelet: \"a\\n\\n\"\n",
        ),
        (
            "a new multi-line value",
            "data:\n  a: 1\n",
            json!([{"op": "add", "path": "/data/b", "value": "x\ny"}]),
            "data:\n  a: 1\n  b: |-\n    x\n    y\n",
        ),
        (
            "multi-line plain scalar: only the changed line",
            "command:\n- /bin/sh\n- -c\n- /hyperkube controller-manager\n  --master=127.0.0.1:8080\n  --v=2 >/var/log/kcm.log 2>&1\nimage: x\n",
            json!([{"op": "replace", "path": "/command/2", "value": "/hyperkube controller-manager --master=127.0.0.1:8080 --v=2 --feature-gates=R=true >/var/log/kcm.log 2>&1"}]),
            "command:\n- /bin/sh\n- -c\n- /hyperkube controller-manager\n  --master=127.0.0.1:8080\n  --v=2 --feature-gates=R=true >/var/log/kcm.log 2>&1\nimage: x\n",
        ),
        (
            "folded block: only the changed line",
            "command:\n- sh\n- >\n  exec kcm\n  --a=1\n  --b=2\n",
            json!([{"op": "replace", "path": "/command/1", "value": "exec kcm --a=1 --x=y --b=2\n"}]),
            "command:\n- sh\n- >\n  exec kcm\n  --a=1\n  --x=y --b=2\n",
        ),
    ]);
}

#[test]
fn refuses_what_it_cannot_edit_safely() {
    let refuse = |text: &str, v: Value, why: &str| {
        let e = edit(text, v).expect_err(text);
        assert!(e.contains(why), "{e}");
    };
    refuse(
        "base: &b\n  x: 1\ncopy: *b\n",
        json!([{"op": "add", "path": "/base/y", "value": 1}]),
        "anchor",
    );
    refuse(
        "a: !!str x\n",
        json!([{"op": "replace", "path": "/a", "value": "y"}]),
        "tag",
    );
    refuse(
        "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n",
        json!([{"op": "add", "path": "/m/z", "value": 1}]),
        "merge key",
    );
    refuse(
        "a: 1\n",
        json!([{"op": "remove", "path": "/a"}]),
        "only add, replace",
    );
    refuse(
        "a: 1\n",
        json!([{"op": "replace", "path": "/b", "value": 1}]),
        "/b",
    );
    refuse(
        "l: [1]\n",
        json!([{"op": "add", "path": "/l/5", "value": 1}]),
        "/l/5",
    );
    refuse(
        "a: [\n",
        json!([{"op": "add", "path": "/b", "value": 1}]),
        "parse",
    );
    // Untouched anchors elsewhere do not stop an edit.
    assert_eq!(
        edit(
            "x: &a 1\ny: *a\nz: 2\n",
            json!([{"op": "replace", "path": "/z", "value": 3}])
        )
        .unwrap(),
        "x: &a 1\ny: *a\nz: 3\n"
    );
}

#[test]
fn test_operations_edit_nothing() {
    assert_eq!(
        edit("a: 1\n", json!([{"op": "test", "path": "/a", "value": 1}])).unwrap(),
        "a: 1\n"
    );
    assert!(edit("a: 1\n", json!([{"op": "test", "path": "/a", "value": 2}])).is_err());
}

#[test]
fn serde_yaml_output_is_edited_in_place() {
    // What Plan::finish sees for generated ConfigMaps.
    let cfg = json!({"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "featureGates": {"KubeletTracing": true, "RotateKubeletServerCertificate": false},
        "tlsCipherSuites": ["A", "B"], "serverTLSBootstrap": false});
    let text = serde_yaml_ng::to_string(&cfg).unwrap();
    let out = edit(
        &text,
        json!([
            {"op": "replace", "path": "/featureGates/RotateKubeletServerCertificate", "value": true},
            {"op": "replace", "path": "/serverTLSBootstrap", "value": true},
            {"op": "add", "path": "/tlsCipherSuites/-", "value": "C"},
        ]),
    )
    .unwrap();
    assert_eq!(
        out,
        text.replace("Certificate: false", "Certificate: true")
            .replace("- B\n", "- B\n- C\n")
            .replace("Bootstrap: false", "Bootstrap: true")
    );
}

// --- generated documents ------------------------------------------------------------------

use proptest::prelude::*;
use proptest::sample::{Index, select};

const ODD: &[&str] = &[
    "true",
    "yes",
    "No",
    "null",
    "~",
    "",
    "-",
    "--",
    "---",
    "a: b",
    "x #y",
    " lead",
    "trail ",
    "é ü",
    "1.5",
    "0x1F",
    "[x]",
    "{y}",
    "*a",
    "&b",
    "!t",
    "%p",
    "@q",
    "`r",
    "'s'",
    "\"d\"",
    "a,b",
    "k=v,w=z",
    "#c",
    "? q",
    ": c",
    "tab\there",
    "back\\slash",
    "\u{85}nel",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        Just(Value::Null),
        "[a-zA-Z0-9 ,:#'\"=/._-]{0,12}".prop_map(Value::from),
        select(ODD).prop_map(Value::from),
        "[a-z]{1,6}(\n[a-z ]{0,6}){1,3}\n?".prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z]{1,8}",
        1 => select(&["a b", "true", "x:y", "1", "-k", "k/", "~t", "é", "#h", "a: b"][..]).prop_map(String::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn root() -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), value()), 1..5)
        .prop_map(|kv| Value::Object(kv.into_iter().collect()))
}

/// How the generator writes block YAML.
#[derive(Debug, Clone, Copy)]
struct Style {
    step: usize,
    seq_offset: usize,
    comments: bool,
    /// Strings that need quotes get single ones where they can.
    single: bool,
    /// Collections of scalars are written `[a, b]` / `{k: v}`.
    flow: bool,
    crlf: bool,
    /// The document is the second of three.
    stream: bool,
}

fn simple(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_lowercase())
        && c.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !["y", "n", "yes", "no", "on", "off", "true", "false", "null"].contains(&s)
}

/// A literal block for a clean multi-line string.
fn literal_block(s: &str, indent: usize) -> Option<String> {
    let (body, header) = match s.strip_suffix('\n') {
        Some(b) => (b, "|"),
        None => (s, "|-"),
    };
    let lines: Vec<&str> = body.split('\n').collect();
    let clean = lines.len() > 1
        && !body.ends_with('\n')
        && !lines[0].is_empty()
        && !lines[0].starts_with(' ')
        && lines.iter().all(|l| l.trim_end() == *l);
    clean.then(|| {
        let pad = " ".repeat(indent);
        let mut out = header.to_string();
        for l in lines {
            out.push('\n');
            if !l.is_empty() {
                out.push_str(&pad);
                out.push_str(l);
            }
        }
        out
    })
}

fn scalar(v: &Value, indent: usize, st: Style) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) if simple(s) => s.clone(),
        Value::String(s) if s.contains('\n') => {
            literal_block(s, indent).unwrap_or_else(|| double(s))
        }
        Value::String(s) if st.single && single_ok(s) => single(s),
        Value::String(s) => double(s),
        Value::Array(_) if st.flow => flow_of(v).unwrap_or_default(),
        Value::Object(_) if st.flow => flow_of(v).unwrap_or_default(),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
        other => other.to_string(),
    }
}

/// A collection of one-line scalars in flow style.
fn flow_of(v: &Value) -> Option<String> {
    let one = |x: &Value| match x {
        Value::String(s) if simple(s) => Some(s.clone()),
        Value::String(s) if !s.contains('\n') => Some(double(s)),
        Value::Null => Some("null".into()),
        Value::Array(_) | Value::Object(_) | Value::String(_) => None,
        other => Some(other.to_string()),
    };
    match v {
        Value::Array(a) => {
            let items: Option<Vec<String>> = a.iter().map(one).collect();
            Some(format!("[{}]", items?.join(", ")))
        }
        Value::Object(m) => {
            let items: Option<Vec<String>> = m
                .iter()
                .map(|(k, x)| Some(format!("{}: {}", key_yaml(k), one(x)?)))
                .collect();
            Some(format!("{{{}}}", items?.join(", ")))
        }
        _ => None,
    }
}

/// Written on one line: a scalar, or a collection of scalars in flow style.
fn one_line(v: &Value, st: Style) -> bool {
    !filled(v) || (st.flow && flow_of(v).is_some())
}

fn comment(st: Style, v: &Value, n: usize) -> String {
    let v = if filled(v) { &Value::Bool(true) } else { v };
    let multi = matches!(v, Value::String(s) if s.contains('\n'));
    if st.comments && n.is_multiple_of(2) && !multi {
        format!("  # c{n}")
    } else {
        String::new()
    }
}

fn key_yaml(k: &str) -> String {
    if simple(k) { k.to_string() } else { double(k) }
}

fn filled(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

fn yaml_map(m: &Map<String, Value>, col: usize, st: Style, out: &mut String) {
    let pad = " ".repeat(col);
    for (i, (k, v)) in m.iter().enumerate() {
        if st.comments && i % 2 == 1 {
            out.push_str(&format!("{pad}# about {k}\n"));
        }
        let k = key_yaml(k);
        match v {
            _ if filled(v) && one_line(v, st) => out.push_str(&format!(
                "{pad}{k}: {}{}\n",
                scalar(v, col + st.step, st),
                comment(st, v, i)
            )),
            Value::Object(c) if !c.is_empty() => {
                out.push_str(&format!("{pad}{k}:{}\n", comment(st, v, i)));
                yaml_map(c, col + st.step, st, out);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push_str(&format!("{pad}{k}:\n"));
                yaml_seq(a, col + st.seq_offset, st, out);
            }
            Value::Null => out.push_str(&format!("{pad}{k}:{}\n", comment(st, v, i))),
            _ => out.push_str(&format!(
                "{pad}{k}: {}{}\n",
                scalar(v, col + st.step, st),
                comment(st, v, i)
            )),
        }
    }
}

fn yaml_seq(a: &[Value], dash: usize, st: Style, out: &mut String) {
    let pad = " ".repeat(dash);
    for (i, v) in a.iter().enumerate() {
        if filled(v) && !one_line(v, st) {
            let mut inner = String::new();
            match v {
                Value::Object(m) => yaml_map(m, dash + 2, st, &mut inner),
                Value::Array(x) => yaml_seq(x, dash + 2, st, &mut inner),
                _ => {}
            }
            out.push_str(&format!("{pad}- {}", &inner[dash + 2..]));
        } else if v.is_null() {
            out.push_str(&format!("{pad}-{}\n", comment(st, v, i)));
        } else {
            out.push_str(&format!(
                "{pad}- {}{}\n",
                scalar(v, dash + 2, st),
                comment(st, v, i)
            ));
        }
    }
}

fn yaml_text(v: &Value, st: Style) -> String {
    let mut out = if st.comments {
        "# generated\n".to_string()
    } else {
        String::new()
    };
    if let Value::Object(m) = v {
        yaml_map(m, 0, st, &mut out);
    }
    if st.comments {
        out.push_str("# the end\n");
    }
    if st.stream {
        out = format!("pre: 1\n---\n{out}---\npost: [1]\n");
    }
    if st.crlf {
        out = out.replace('\n', "\r\n");
    }
    out
}

fn esc(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// Pointers to every node below the root (and whether it is a mapping / sequence).
fn nodes(v: &Value, at: &str, out: &mut Vec<(String, Value)>) {
    out.push((at.to_string(), v.clone()));
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                nodes(x, &format!("{at}/{}", esc(k)), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                nodes(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

type Pick = (u8, Index, Index, Value, String);

/// Turn picks into operations on the evolving document; also says whether every
/// operation only adds to a non-empty collection (so no existing line may change).
fn build_ops(doc: &Value, picks: &[Pick]) -> (Vec<PatchOperation>, Value, bool) {
    let mut doc = doc.clone();
    let mut out = Vec::new();
    let mut pure_adds = true;
    for (kind, a, b, v, k) in picks {
        let mut all = Vec::new();
        nodes(&doc, "", &mut all);
        let maps: Vec<&(String, Value)> = all.iter().filter(|(_, x)| x.is_object()).collect();
        let seqs: Vec<&(String, Value)> = all.iter().filter(|(_, x)| x.is_array()).collect();
        let op = match kind {
            0 => {
                let (p, m) = maps[a.index(maps.len())];
                pure_adds &= filled(m) && m.get(k.as_str()).is_none();
                json!({"op": "add", "path": format!("{p}/{}", esc(k)), "value": v})
            }
            1 if !seqs.is_empty() => {
                let (p, s) = seqs[a.index(seqs.len())];
                let len = s.as_array().map_or(0, Vec::len);
                let i = b.index(len + 2);
                // Inserting before the first item of `- - a` moves that line down.
                pure_adds &= len > 0 && i >= len;
                let at = if i > len {
                    "-".to_string()
                } else {
                    i.to_string()
                };
                json!({"op": "add", "path": format!("{p}/{at}"), "value": v})
            }
            _ => {
                pure_adds = false;
                let (p, _) = &all[1 + a.index(all.len() - 1)];
                json!({"op": "replace", "path": p, "value": v})
            }
        };
        let op: PatchOperation = serde_json::from_value(op).unwrap();
        json_patch::patch(&mut doc, std::slice::from_ref(&op)).unwrap();
        out.push(op);
    }
    (out, doc, pure_adds)
}

fn pick() -> impl Strategy<Value = Pick> {
    (0u8..3, any::<Index>(), any::<Index>(), value(), key())
}

fn style() -> impl Strategy<Value = Style> {
    (prop_oneof![Just(2usize), Just(4)], any::<[bool; 6]>()).prop_map(
        |(step, [indented, comments, single, flow, crlf, stream])| Style {
            step,
            seq_offset: if indented { step } else { 0 },
            comments,
            single,
            flow,
            crlf,
            stream,
        },
    )
}

fn docs(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|de| Value::deserialize(de).unwrap())
        .collect()
}

fn is_subsequence(a: &str, b: &str) -> bool {
    let mut it = b.lines();
    a.lines().all(|line| it.any(|l| l == line))
}

const INDENTS: &[&[u8]] = &[b"  ", b"    ", b"\t"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn block_yaml_edits_parse_to_the_patched_document(
        doc in root(),
        st in style(),
        picks in prop::collection::vec(pick(), 1..4),
    ) {
        let text = yaml_text(&doc, st);
        let n = usize::from(st.stream);
        let mut expect = docs(&text);
        prop_assert_eq!(expect.get(n), Some(&doc), "the generator wrote\n{}", text);
        let (ops, want, pure_adds) = build_ops(&doc, &picks);
        expect[n] = want;
        let out = edit_doc(&text, n, &ops);
        let out = match out {
            Ok(t) => t,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{text}\nops {ops:?}"))),
        };
        prop_assert_eq!(docs(&out), expect, "\n{}\n=>\n{}", text, out);
        if st.crlf {
            prop_assert!(!out.replace("\r\n", "").contains('\n'), "LF in a CRLF text:\n{:?}", out);
        }
        if pure_adds && !st.flow {
            prop_assert!(is_subsequence(&text, &out), "lines changed:\n{}\n=>\n{}", text, out);
        }
    }

    #[test]
    fn json_edits_stay_json(
        doc in root(),
        indent in select(INDENTS),
        picks in prop::collection::vec(pick(), 1..4),
    ) {
        let text = pretty_json(&doc, indent);
        let (ops, want, _) = build_ops(&doc, &picks);
        let out = match edit_doc(&text, 0, &ops) {
            Ok(t) => t,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{text}\nops {ops:?}"))),
        };
        let got: Value = serde_json::from_str(&out)
            .map_err(|e| TestCaseError::fail(format!("not JSON: {e}\n{out}")))?;
        prop_assert_eq!(&got, &want, "\n{}\n=>\n{}", text, out);
        // Pretty JSON stays pretty: as if printed again (serde_json leaves U+0085 raw).
        let again = pretty_json(&want, indent);
        if !again.contains('\u{85}') {
            prop_assert_eq!(out, again);
        }
    }
}

fn pretty_json(v: &Value, indent: &[u8]) -> String {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(indent),
    );
    serde::Serialize::serialize(v, &mut ser).unwrap();
    String::from_utf8(buf).unwrap() + "\n"
}
