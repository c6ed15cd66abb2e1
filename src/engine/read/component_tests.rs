use super::*;
use serde_json::{Value, json};

fn comp(c: Value) -> Option<Component> {
    recognize(&c, None, true).map(|i| i.component)
}

#[test]
fn command_forms() {
    assert_eq!(
        comp(json!({"command": ["kube-apiserver", "--a=b"]})),
        Some(Component::ApiServer)
    );
    assert_eq!(
        comp(json!({"command": ["/usr/local/bin/kube-controller-manager"]})),
        Some(Component::ControllerManager)
    );
    assert_eq!(
        comp(json!({"command": ["/hyperkube", "apiserver", "--x"]})),
        Some(Component::ApiServer)
    );
    assert_eq!(comp(json!({"command": ["etcd"]})), None);
    assert_eq!(
        comp(json!({"image": "registry.k8s.io/kube-apiserver:v1.34.2", "args": ["--a=b"]})),
        Some(Component::ApiServer)
    );
    assert_eq!(
        comp(
            json!({"image": "k8s.gcr.io/hyperkube-amd64:v1.8", "args": ["controller-manager", "--a"]})
        ),
        Some(Component::ControllerManager)
    );
    assert_eq!(
        comp(json!({"image": "gcr.io/google_containers/kube-apiserver-amd64:v1.7.0@sha256:abc"})),
        Some(Component::ApiServer)
    );
}

#[test]
fn shell_line() {
    let c = json!({"command": ["/bin/sh", "-c", "exec /usr/local/bin/kube-apiserver --a=1 --v=2 1>>/var/log/x.log 2>&1 | tee"]});
    let inv = recognize(&c, None, true).unwrap();
    assert_eq!(inv.component, Component::ApiServer);
    assert_eq!(inv.flags.value("a"), Some("1"));
    let Insert::Shell { at, index, .. } = inv.insert else {
        panic!()
    };
    assert_eq!(index, 2);
    let line = c["command"][2].as_str().unwrap();
    assert_eq!(
        &line[..at],
        "exec /usr/local/bin/kube-apiserver --a=1 --v=2"
    );
}

/// Where a flag would be inserted in `container`.
fn insert_of(container: serde_json::Value) -> Insert {
    recognize(&container, None, true).unwrap().insert
}

#[test]
fn insert_goes_where_flags_are() {
    let at = |list, index, at_end| Insert::List {
        list,
        index,
        at_end,
    };
    assert_eq!(
        insert_of(json!({"command": ["kube-apiserver"], "args": ["--a", "--", "--b"]})),
        at(List::Args, 1, false)
    );
    assert_eq!(
        insert_of(json!({"command": ["kube-apiserver", "--a"]})),
        at(List::Command, 2, true)
    );
    assert_eq!(
        insert_of(json!({"command": ["kube-apiserver"], "args": ["--a"]})),
        at(List::Args, 1, true)
    );
}

#[test]
fn label_fallback_needs_matching_container_name() {
    let labels = json!({"component": "kube-apiserver"});
    let c = json!({"name": "kube-apiserver", "command": ["/entrypoint.sh", "--a=b"]});
    assert_eq!(
        recognize(&c, Some(&labels), false).map(|i| i.component),
        Some(Component::ApiServer)
    );
    let c = json!({"name": "sidecar", "command": ["/entrypoint.sh"]});
    assert_eq!(recognize(&c, Some(&labels), false), None);
    // The only container of a kubeadm control-plane pod, whatever its name.
    assert_eq!(
        recognize(&c, Some(&labels), true),
        None,
        "tier label missing"
    );
    let kubeadm = json!({"component": "kube-apiserver", "tier": "control-plane"});
    assert_eq!(
        recognize(&c, Some(&kubeadm), true).map(|i| i.component),
        Some(Component::ApiServer)
    );
    assert_eq!(
        recognize(&c, Some(&kubeadm), false),
        None,
        "not the sole container"
    );
}

mod may_run {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    /// Words that make, or nearly make, a component: executables, hyperkube, shells, their
    /// paths, and look-alikes.
    const WORDS: &[&str] = &[
        "kube-apiserver",
        "/usr/local/bin/kube-controller-manager",
        "kubelet",
        "apiserver",
        "controller-manager",
        "hyperkube",
        "/hyperkube",
        "sh",
        "/bin/bash",
        "busybox",
        "-c",
        "-ec",
        "exec kube-apiserver --a=b",
        "env X=1 /usr/bin/kubelet",
        "--kubelet-client-key=/k",
        "--port",
        "9000",
        "etcd",
        "",
        "nginx",
    ];
    const IMAGES: &[&str] = &[
        "",
        "registry.k8s.io/kube-apiserver:v1.34.2",
        "k8s.gcr.io/hyperkube-amd64:v1.8",
        "nginx:1.27",
        "registry.example/sidecar:1.0",
    ];
    const NAMES: &[&str] = &["kube-apiserver", "kubelet", "sidecar", "web", ""];

    fn container() -> impl Strategy<Value = Value> {
        let list = proptest::option::of(proptest::collection::vec(select(WORDS), 0..4));
        (
            list.clone(),
            list,
            select(IMAGES),
            select(NAMES),
            any::<bool>(),
        )
            .prop_map(|(command, args, image, name, odd)| {
                let mut c = json!({"name": name, "image": image});
                if let Some(command) = command {
                    c["command"] = json!(command);
                }
                if let Some(args) = args {
                    c["args"] = json!(args);
                }
                if odd {
                    // Not a list: read as no command at all.
                    c["command"] = json!("kube-apiserver");
                }
                c
            })
    }

    fn labels() -> impl Strategy<Value = Option<Value>> {
        proptest::option::of((select(NAMES), any::<bool>()).prop_map(
            |(c, tier)| json!({"component": c, "tier": if tier { "control-plane" } else { "x" }}),
        ))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        /// What `may_run` turns away, `recognize` finds nothing in, whatever the pod's labels,
        /// when the container is not the pod's only one.
        #[test]
        fn turns_away_only_what_recognize_finds_nothing_in(c in container(), labels in labels()) {
            if !may_run_item(&c) {
                prop_assert_eq!(recognize(&c, labels.as_ref(), false), None, "{}", c);
            }
        }
    }

    #[test]
    fn turns_away_plain_sidecars() {
        for c in [
            json!({"name": "sidecar", "image": "registry.example/sidecar:1.0", "args": ["--port", "9001"]}),
            json!({"name": "web", "image": "nginx:1.27"}),
            json!({"name": "etcd", "command": ["etcd", "--data-dir=/var/lib/etcd"]}),
            // A component's name, but no command for a label to stand in for.
            json!({"name": "kube-apiserver", "image": "nginx:1.27", "args": ["x"]}),
        ] {
            assert!(!may_run_item(&c), "{c}");
        }
        for c in [
            json!({"name": "a", "command": ["/bin/sh", "-c", "exec kube-apiserver"]}),
            json!({"name": "a", "image": "registry.k8s.io/kube-apiserver:v1.34.2"}),
            json!({"name": "kube-apiserver", "command": ["/entrypoint.sh"]}),
            json!({"name": "a", "command": [], "args": ["kubelet"]}),
        ] {
            assert!(may_run_item(&c), "{c}");
        }
    }
}

proptest::proptest! {
    /// `names_kube` finds `kube` wherever a comparison at every byte finds it: texts of pieces
    /// that make `k`s, partial matches (`kub`, `kkube`) and matches across the eight-byte
    /// chunks common, multi-byte characters included.
    #[test]
    fn names_kube_is_a_substring_test(
        pieces in proptest::collection::vec(
            proptest::sample::select(&["k", "ku", "kub", "ube", "be", "x", "é", "/", "-"][..]),
            0..24,
        ),
    ) {
        let s = pieces.concat();
        proptest::prop_assert_eq!(names_kube(&s), s.as_bytes().windows(4).any(|w| w == b"kube"), "{}", s);
    }
}
