//! The pod pass that picks up where the first pass stopped, inside the object
//! (`from_object`): it must give the request the whole-body pod pass gives, and refuse
//! (for the full parse to word the error) whatever that one, or the full parse, refuses.

use super::after::from_object_serde;
use super::*;

const MIRROR: &str = include_str!("../../tests/fixtures/admission/kube-apiserver.mirror-pod.json");

/// The mirror pod's request members in order, as `"key":value` texts, with compact values.
fn members() -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(MIRROR).expect("fixture");
    let request = v["request"].as_object().expect("request").clone();
    request
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

/// A review whose request members are `members`, written as given (`sep` after each key).
fn body(members: &[(String, String)], sep: &str) -> String {
    let inner: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\"{sep}{v}"))
        .collect();
    format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{{}}}}}"#,
        inner.join(",")
    )
}

/// What the first pass hands the pod pass, when it stopped inside the object.
fn stopped(text: &str) -> Option<(AdmissionRequest, Option<Rest>)> {
    let read = envelope::read(
        &mut serde_json::Deserializer::from_str(text),
        text.as_bytes(),
        false,
    )?;
    match read.request.object {
        Object::Component(rest) => {
            let (request, _) = read.request.into_request(Built::PodMembers);
            Some((request, rest))
        }
        _ => None,
    }
}

/// `members` with `key` moved to the front (`front`) or the end.
fn moved(members: &[(String, String)], key: &str, front: bool) -> Vec<(String, String)> {
    let mut out = members.to_vec();
    let at = out.iter().position(|(k, _)| k == key).expect(key);
    let m = out.remove(at);
    if front {
        out.insert(0, m);
    } else {
        out.push(m);
    }
    out
}

fn from_object(text: &str) -> Option<AdmissionRequest> {
    let (request, rest) = stopped(text)?;
    super::from_object::<PodObject<true, true>>(text, request, rest?)
}

/// The comparable parts of a request.
fn summary(r: &AdmissionRequest) -> Value {
    serde_json::json!({
        "uid": r.uid, "kind": r.kind.as_ref().map(|k| &k.kind), "sub": r.sub_resource,
        "name": r.name, "namespace": r.namespace, "operation": r.operation,
        "dryRun": r.dry_run, "object": r.object,
    })
}

#[test]
fn it_reads_what_the_whole_body_pod_pass_reads() {
    let m = members();
    let dry_run_first = moved(&m, "dryRun", true);
    let name_after = moved(&m, "name", false);
    for (what, text) in [
        ("as the API server writes it", body(&m, ":")),
        ("spaced", body(&m, " :\n\t ")),
        ("dryRun before the object", body(&dry_run_first, ":")),
        ("name after the object", body(&name_after, ":")),
    ] {
        let rest = from_object(&text).unwrap_or_else(|| panic!("{what}: not read from the object"));
        let whole = whole_body::<PodObject<true, true>>(&text).expect("the whole-body pod pass");
        assert_eq!(summary(&rest), summary(&whole), "{what}");
        let full = parse_review(text.as_bytes())
            .expect("the full parse")
            .request;
        assert_eq!(rest.name, full.name, "{what}");
        assert_eq!(rest.dry_run, full.dry_run, "{what}");
    }
}

#[test]
fn a_field_both_before_and_after_the_object_is_refused() {
    let m = members();
    for (field, first, again) in [
        ("uid", None, r#""uid":"again""#),
        ("name", None, r#""name":"again""#),
        // `null` first, then a value: still a duplicate.
        ("name", Some("null"), r#""name":"again""#),
        ("operation", None, r#""operation":"UPDATE""#),
    ] {
        let mut with = m.clone();
        if let Some(first) = first {
            let at = with.iter().position(|(k, _)| k == field).expect(field);
            with[at].1 = first.into();
        }
        let text = body(&with, ":").replacen(r#","dryRun":"#, &format!(",{again},\"dryRun\":"), 1);
        assert!(text.contains(again), "{field}: {text}");
        assert!(parse_review(text.as_bytes()).is_err(), "{field}: {text}");
        assert!(
            stopped(&text).is_some(),
            "{field}: the first pass did not stop"
        );
        assert!(
            from_object(&text).is_none(),
            "{field}: read despite a duplicate"
        );
    }
    // The review's own fields after the request: the first pass read them before it.
    let text = body(&m, ":");
    let text = format!("{},\"kind\":\"AdmissionReview\"}}", &text[..text.len() - 1]);
    assert!(stopped(&text).is_some());
    assert!(from_object(&text).is_none());
    // A second request after the first.
    let text = body(&m, ":");
    let text = format!("{},\"request\":{{}}}}", &text[..text.len() - 1]);
    assert!(parse_review(text.as_bytes()).is_err());
    assert!(from_object(&text).is_none());
}

#[test]
fn an_escaped_object_key_takes_the_whole_body_pod_pass() {
    let text = body(&members(), ":").replacen(r#""object":"#, r#""obj\u0065ct":"#, 1);
    let (_, rest) = stopped(&text).expect("the first pass stops");
    assert!(rest.is_none());
    let parsed = parse(text.as_bytes(), Endpoint::Mutate, &Policy::default()).expect("parsed");
    assert_eq!(parsed.request.name.as_deref(), Some("kube-apiserver-cp-1"));
}

fn parts<const PATCH: bool, const VOLUMES: bool>(
    r: &RequestFromObject<PodObject<PATCH, VOLUMES>>,
) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {}",
        r.uid, r.kind, r.sub_resource, r.name, r.namespace, r.operation, r.dry_run, r.object.0
    )
}

/// From the object on, the quick cursor reads what serde_json reads, for `/validate` and
/// `/mutate`, with the request's fields before or after the object, spaced or not, and `null`s.
#[test]
fn the_quick_read_from_the_object_reads_what_serde_reads() {
    let m = members();
    let mut nulls = moved(&m, "dryRun", false);
    nulls.push(("subResource".into(), "null".into()));
    for (what, text) in [
        ("as the API server writes it", body(&m, ":")),
        ("spaced", body(&m, " :\n\t ")),
        (
            "name after the object",
            body(&moved(&m, "name", false), ":"),
        ),
        ("uid after the object", body(&moved(&m, "uid", false), ":")),
        ("a null after the object", body(&nulls, ":")),
    ] {
        let (_, rest) = stopped(&text).unwrap_or_else(|| panic!("{what}: no stop"));
        let at = rest.expect("the object's offset").object_at;
        let quick = quick::from_object::<true, true>(&text, at).expect(what);
        let serde = from_object_serde::<PodObject<true, true>>(&text, at).expect(what);
        assert_eq!(parts(&quick), parts(&serde), "{what}");
        let quick = quick::from_object::<true, false>(&text, at).expect(what);
        let serde = from_object_serde::<PodObject<true, false>>(&text, at).expect(what);
        assert_eq!(parts(&quick), parts(&serde), "{what}");
        let quick = quick::from_object::<false, false>(&text, at).expect(what);
        let serde = from_object_serde::<PodObject<false, false>>(&text, at).expect(what);
        assert_eq!(parts(&quick), parts(&serde), "{what}");
    }
    // A member the first pass read, again after the request: left to serde, which refuses it.
    let again = format!(
        "{},\"kind\":\"AdmissionReview\"}}",
        body(&m, ":").trim_end_matches('}')
    );
    let (_, rest) = stopped(&again).expect("stopped");
    let at = rest.expect("offset").object_at;
    assert!(quick::from_object::<true, true>(&again, at).is_err());
    assert!(from_object_serde::<PodObject<true, true>>(&again, at).is_none());
}
