//! The first, lean pass over an AdmissionReview body: most requests a webhook sees are for objects
//! it has nothing to say about, and for those the object is not built at all.
//!
//! One borrowed pass reads the envelope and the object's few relevant fields
//! (`engine::read::relevance`), skipping everything else (a 1 MiB ConfigMap's data is scanned, never
//! copied or built). When the object surely holds nothing for the engine, the request carries a
//! stub with only the object's identity (what messages and logs name). In every other case —
//! a relevant or unusual object, or anything `parse_review` would reject or word differently — this
//! returns `None` and the full parse runs as before, so answers and errors do not change; the
//! engine and the patch always see the object built from the body exactly as received
//! (DESIGN.md section 3).

use super::admission::{
    AdmissionRequest, AdmissionReview, ApiVersion, Built, GroupVersionKind, ReviewError, V1,
    V1BETA1, parse_review,
};
use crate::engine::read::pruned;
use crate::engine::read::relevance::LeanObject;
use crate::engine::read::subjects::pod_spec_pointer;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review<'a> {
    #[serde(borrow)]
    api_version: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    request: Request<LeanObject<'a>>,
}

/// The request envelope, generic over how its object is read: borrowed relevance fields in the
/// first pass, the pruned object in the pod pass.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request<O> {
    uid: String,
    #[serde(default)]
    kind: Option<GroupVersionKind>,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    operation: Option<String>,
    object: O,
    #[serde(default)]
    dry_run: Option<bool>,
}

impl<O> Request<O> {
    /// The `AdmissionRequest`, its object made from what was read.
    fn into_request(self, object: impl FnOnce(O) -> Value) -> AdmissionRequest {
        AdmissionRequest {
            uid: Some(self.uid),
            kind: self.kind,
            sub_resource: self.sub_resource,
            name: self.name,
            namespace: self.namespace,
            operation: self.operation,
            object: Some(object(self.object)),
            dry_run: self.dry_run,
        }
    }
}

/// Parse a request body as the webhook does: most objects hold nothing for the engine and are
/// answered from the lean pass, never built; of a pod only what the engine reads is built;
/// everything else is [`parse_review`], which also words every error.
pub fn parse(body: &[u8]) -> Result<AdmissionReview, ReviewError> {
    // Read from bytes, serde_json checks the UTF-8 of every string it reads, in every pass; one
    // SIMD check of a body lets both passes read it as text. Not for a large body: the first
    // pass skips most of its strings unchecked, and a megabyte would cost more to check up
    // front. Invalid UTF-8 takes the full parse, which words the error.
    let text = if body.len() <= CHECK_UP_FRONT {
        simdutf8::basic::from_utf8(body).ok()
    } else {
        None
    };
    let first = match text {
        Some(text) => serde_json::from_str::<Review<'_>>(text),
        None => serde_json::from_slice::<Review<'_>>(body),
    };
    match first_pass(first) {
        FirstPass::NotRelevant(api_version, request) => {
            return Ok(AdmissionReview {
                api_version,
                request: *request,
                built: Built::Identity,
            });
        }
        FirstPass::Pod(api_version) => {
            let text = text.or_else(|| simdutf8::basic::from_utf8(body).ok());
            let pod = text.and_then(pod_request);
            if let Some(request) = pod {
                return Ok(AdmissionReview {
                    api_version,
                    request,
                    built: Built::PodMembers,
                });
            }
        }
        FirstPass::Full => {}
    }
    parse_review(body)
}

/// What the lean pass found.
enum FirstPass {
    /// The object surely holds nothing for the engine: the review, with a stub object.
    NotRelevant(ApiVersion, Box<AdmissionRequest>),
    /// A Pod or workload that may run a component: build only what the engine reads.
    Pod(ApiVersion),
    /// Anything else: the full parse.
    Full,
}

/// Bodies up to this size are checked for UTF-8 once, before any pass.
const CHECK_UP_FRONT: usize = 64 * 1024;

fn first_pass(review: serde_json::Result<Review<'_>>) -> FirstPass {
    let Ok(review) = review else {
        return FirstPass::Full;
    };
    let api_version = match review.api_version.as_ref() {
        V1 => ApiVersion::V1,
        V1BETA1 => ApiVersion::V1beta1,
        _ => return FirstPass::Full,
    };
    let r = review.request;
    if review.kind != "AdmissionReview" || r.uid.is_empty() {
        return FirstPass::Full;
    }
    if r.object.may_be_relevant() {
        let pod = r
            .object
            .kind()
            .is_some_and(|k| pod_spec_pointer(k).is_some());
        return if pod {
            FirstPass::Pod(api_version)
        } else {
            FirstPass::Full
        };
    }
    FirstPass::NotRelevant(api_version, Box::new(r.into_request(|o| stub(&o))))
}

#[derive(Deserialize)]
struct PodReview {
    request: Request<PodObject>,
}

/// A Pod or workload object with only what the engine and the patch read (`engine::read::pruned`).
#[derive(Deserialize)]
#[serde(transparent)]
struct PodObject(#[serde(deserialize_with = "pruned::pod_object")] Value);

/// A Pod or workload's request with only what the engine reads of the object (`None`: take the
/// full parse). The envelope was checked by [`first_pass`].
fn pod_request(body: &str) -> Option<AdmissionRequest> {
    let r = serde_json::from_str::<PodReview>(body).ok()?.request;
    Some(r.into_request(|PodObject(o)| o))
}

/// The object's identity alone: the engine finds nothing in it, as in the whole object.
fn stub(o: &LeanObject<'_>) -> Value {
    let text = |s: &str| Value::String(s.to_string());
    let mut metadata = Map::new();
    for (key, value) in [
        ("name", o.name()),
        ("namespace", o.namespace()),
        ("generateName", o.generate_name()),
    ] {
        if let Some(v) = value {
            metadata.insert(key.into(), text(v));
        }
    }
    let mut out = Map::new();
    if let Some(kind) = o.kind() {
        out.insert("kind".into(), text(kind));
    }
    out.insert("metadata".into(), Value::Object(metadata));
    Value::Object(out)
}
