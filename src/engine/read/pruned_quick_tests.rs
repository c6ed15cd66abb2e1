//! The quick pruned read builds the `Value` the serde one builds, or is not sure.

use super::*;
use crate::engine::read::component;
use serde_json::json;

const ALL_READS: [Reads; 3] = [Reads::EVALUATE, Reads::patch(false), Reads::patch(true)];

fn serde_pruned(text: &str, reads: Reads) -> Value {
    let mut de = serde_json::Deserializer::from_str(text);
    super::super::pod_object(&mut de, reads).expect("serde reads it")
}

fn quick_pruned(text: &str, reads: Reads) -> Read<Value> {
    let mut c = Cursor::new(text);
    let v = pod_object(&mut c, reads)?;
    c.finish()?;
    Ok(v)
}

/// Every fixture's object, and objects with what the engine reads in odd forms.
fn objects() -> Vec<String> {
    let dir = format!("{}/tests/fixtures/admission", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
        .map(|v| v["request"]["object"].to_string())
        .collect();
    out.sort();
    assert!(out.len() >= 10);
    let odd = json!({
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"component": "kube-apiserver", "n": 1.5},
            "annotations": {"kubernetes.io/config.mirror": "x", "other": "y"},
            "ownerReferences": [{"kind": "Node", "controller": true, "n": -3}]},
        "spec": {
            "containers": [
                {"name": "a", "command": ["kube-apiserver", "--token=\"q\"\u{e9}", null, 7],
                 "args": "not a list", "volumeMounts": [{"name": "v", "readOnly": true}]},
                "not a container",
            ],
            "volumes": {"not": "a list"},
            "template": [1, 2],
        },
        "status": {"phase": "Running"},
    });
    out.push(odd.to_string());
    out.push(serde_json::to_string_pretty(&odd).expect("json"));
    // A repeated member replaces the earlier value, in its place.
    out.push(
        r#"{"kind":"Pod","metadata":{"name":"a"},"kind":"Job","metadata":{"name":"b"}}"#.into(),
    );
    out
}

/// `serde` with `null` for each container the quick read left unbuilt, after checking that it
/// may: not a pod's first container, and one `component::may_run_item` turns away.
fn with_idle_containers(quick: &Value, serde: &Value) -> Value {
    match (quick, serde) {
        (Value::Object(q), Value::Object(s)) => Value::Object(
            s.iter()
                .map(|(k, sv)| {
                    let v = match (k.as_str(), q.get(k), sv) {
                        ("containers", Some(Value::Array(qi)), Value::Array(si)) => Value::Array(
                            si.iter()
                                .enumerate()
                                .map(|(i, sc)| match qi.get(i) {
                                    Some(Value::Null) if !sc.is_null() => {
                                        assert!(i > 0, "the first container left unbuilt: {sc}");
                                        assert!(!component::may_run_item(sc), "{sc}");
                                        Value::Null
                                    }
                                    Some(qc) => with_idle_containers(qc, sc),
                                    None => sc.clone(),
                                })
                                .collect(),
                        ),
                        (_, Some(qv), _) => with_idle_containers(qv, sv),
                        _ => sv.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        _ => serde.clone(),
    }
}

#[test]
fn it_builds_what_serde_builds_but_idle_containers() {
    for text in objects() {
        for reads in ALL_READS {
            let quick = quick_pruned(&text, reads).unwrap_or_else(|_| panic!("not sure of {text}"));
            let serde = with_idle_containers(&quick, &serde_pruned(&text, reads));
            assert_eq!(quick, serde, "{text}");
            // The same member order, too.
            assert_eq!(quick.to_string(), serde.to_string(), "{text}");
        }
    }
}

#[test]
fn containers_after_the_first_that_run_no_component_are_not_built() {
    let text = r#"{"kind":"Deployment","spec":{"template":{"spec":{"containers":[
        {"name":"first","image":"nginx:1.27"},
        {"name":"api","image":"registry.k8s.io/kube-apiserver:v1.34.2","args":["--a=b"]},
        {"name":"web","image":"nginx:1.27","ports":[{"containerPort":80}]},
        {"name":"wrapped","command":["/bin/sh","-c","exec kube-controller-manager"]},
        {"name":"kubelet","command":["/entrypoint.sh"]},
        {"name":"sidecar","args":["--port","9001"],"resources":{}},
        {"name":"esc\u0061ped","image":"nginx"},
        {"name":"n","image":null},
        {"name":"twice","name":"again"},
        "not a container"
    ]}}}}"#;
    for reads in ALL_READS {
        let quick = quick_pruned(text, reads).expect("sure");
        let built: Vec<bool> = quick["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .map(|c| !c.is_null())
            .collect();
        // The first always; a component's image, a shell, a component's name with a command;
        // and what is not read plainly (an escape, `null`, a repeat, not a mapping).
        assert_eq!(
            built,
            [true, true, false, true, true, false, true, true, true, true],
            "{quick}"
        );
        assert_eq!(
            quick,
            with_idle_containers(&quick, &serde_pruned(text, reads)),
            "{text}"
        );
    }
}

#[test]
fn what_it_is_not_sure_of_is_left_to_serde() {
    for text in [
        // A member's name with an escape.
        r#"{"kind":"Pod","metad\u0061ta":{"name":"a"}}"#,
        // A number with an exponent, kept.
        r#"{"kind":"Pod","metadata":{"labels":{"n":1e3}}}"#,
        // Not JSON.
        r#"{"kind":"Pod","metadata":}"#,
        r#"{"kind":"Pod""#,
    ] {
        assert_eq!(
            quick_pruned(text, Reads::patch(true)),
            Err(Unsure),
            "{text}"
        );
    }
    // A skipped member's escapes are only checked.
    let text = r#"{"kind":"Pod","status":{"m\u0061p":"\u00e9"},"metadata":{"name":"a\u00e9"}}"#;
    assert_eq!(
        quick_pruned(text, Reads::EVALUATE).ok(),
        Some(serde_pruned(text, Reads::EVALUATE))
    );
}
