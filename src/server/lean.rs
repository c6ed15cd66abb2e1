//! The first, lean pass over an AdmissionReview body: most requests a webhook sees are for objects
//! it has nothing to say about, and for those the object is not built at all.
//!
//! One borrowed pass (`envelope`; for a small body first its quick cursor, `envelope::quick`)
//! reads the envelope and the object's few relevant fields (`engine::read::relevance`),
//! skipping everything else (a ConfigMap's data is scanned, never copied or built). A large body
//! whose envelope already decides (a kind the engine never reads, a ConfigMap of another name, a
//! DELETE, a subresource) is answered without reading its object at all. When the object surely
//! holds nothing for the engine, the request carries only the object's identity (what messages
//! and logs name). A pod, a workload, kubelet-config and kubeadm-config are built with only the
//! members the engine reads (`engine::read::pruned`). In every other case — a declared source,
//! an unusual object, or anything `parse_review` would reject or word differently — the full
//! parse runs as before, so answers and errors do not change; the engine and the patch always
//! see the object built from the body exactly as received (DESIGN.md section 3).

use super::admission::{
    AdmissionRequest, AdmissionReview, ApiVersion, Built, GroupVersionKind, Identity, ReviewError,
    V1, V1BETA1, parse_review,
};
use super::decide::Endpoint;
use super::envelope::{self, FirstRead, Object, Request};
use super::resume::Rest;
use crate::engine::policy::Policy;
use crate::engine::read::json_cursor::Read;
use crate::engine::read::pruned::{self, Reads};
use crate::engine::read::relevance::LeanObject;
use crate::engine::read::subjects::pod_spec_pointer;
use serde::Deserialize;
use serde_json::Value;

/// Parse a request body as the webhook does for `endpoint` under `policy`: most objects hold
/// nothing for the engine and are answered from the lean pass, never built; of a pod only what
/// the engine reads for that endpoint is built (the mounts a patch extends only for `/mutate`,
/// the pod's volumes only when the policy lets a patch add one); everything else is
/// [`parse_review`], which also words every error.
pub fn parse(
    body: &[u8],
    endpoint: Endpoint,
    policy: &Policy,
) -> Result<AdmissionReview, ReviewError> {
    // Read from bytes, serde_json checks the UTF-8 of every string it reads, in every pass; one
    // SIMD check of a body lets both passes read it as text. Not for a large body: the first
    // pass skips most of its strings unchecked, and a megabyte would cost more to check up
    // front. Invalid UTF-8 takes the full parse, which words the error.
    let small = body.len() <= CHECK_UP_FRONT;
    let text = if small {
        simdutf8::basic::from_utf8(body).ok()
    } else {
        None
    };
    // Only a large body is answered from its envelope: that saves scanning the object, but
    // leaves `dryRun` (after the object) unread, which a small body's log line and metrics keep.
    let first = match text {
        Some(text) => envelope::read_quick(text)
            .or_else(|| envelope::read(&mut serde_json::Deserializer::from_str(text), body, false)),
        None => envelope::read(
            &mut serde_json::Deserializer::from_slice(body),
            body,
            !small,
        ),
    };
    match first_pass(first) {
        FirstPass::NotRelevant(api_version, request) => {
            return Ok(AdmissionReview {
                api_version,
                request: *request,
            });
        }
        FirstPass::Pruned(api_version, what, before) => {
            let text = text.or_else(|| simdutf8::basic::from_utf8(body).ok());
            let built = text.and_then(|text| match what {
                Prune::Pod => {
                    let reads = match endpoint {
                        Endpoint::Validate => Reads::EVALUATE,
                        Endpoint::Mutate => Reads::patch(policy.remediation.add_host_path_volume),
                    };
                    match before {
                        // Decided on a borrowed tree while the body is at hand (`tree`).
                        Some((request, rest)) if small => {
                            match tree::decide(endpoint, text, (*request, rest), reads, policy) {
                                Ok(request) => Some(request),
                                Err(tree::Fallback::Value(request)) => {
                                    pod_value(text, Some((request, rest)), reads)
                                }
                                Err(tree::Fallback::Full) => None,
                            }
                        }
                        before => pod_value(text, before, reads),
                    }
                }
                Prune::ConfigMap => pruned::<ConfigMapObject>(text, before),
            });
            if let Some(request) = built {
                return Ok(AdmissionReview {
                    api_version,
                    request,
                });
            }
        }
        FirstPass::Full => {}
    }
    parse_review(body)
}

/// What the lean pass found.
enum FirstPass {
    /// The object surely holds nothing for the engine, or was not read: the review, with the
    /// object's identity in the request's own fields.
    NotRelevant(ApiVersion, Box<AdmissionRequest>),
    /// An object the engine reads: build only what it reads; with the request as read up to
    /// its object, when the read stopped at or inside it, from there.
    Pruned(ApiVersion, Prune, Option<(Box<AdmissionRequest>, Rest)>),
    /// Anything else: the full parse.
    Full,
}

/// Which pruned reader builds the object.
#[derive(Clone, Copy)]
enum Prune {
    /// A Pod or workload that may run a component.
    Pod,
    /// kubelet-config or kubeadm-config: its identity and the keys the engine reads.
    ConfigMap,
}

/// Bodies up to this size are checked for UTF-8 once, before any pass; larger ones may be
/// answered from their envelope. A pod this small is decided in the parse
/// (`tree`): the handler parses it inline, not on the pool with its deadline.
pub(super) const CHECK_UP_FRONT: usize = 64 * 1024;

fn first_pass(read: Option<FirstRead<'_>>) -> FirstPass {
    let Some(FirstRead {
        api_version,
        kind,
        request: r,
    }) = read
    else {
        return FirstPass::Full;
    };
    let api_version = match api_version.as_ref() {
        V1 => ApiVersion::V1,
        V1BETA1 => ApiVersion::V1beta1,
        _ => return FirstPass::Full,
    };
    if kind != "AdmissionReview" || r.uid.is_empty() {
        return FirstPass::Full;
    }
    let object = match &r.object {
        Object::Read(o) => o,
        Object::NotRead => {
            let (request, _) = r.into_request(Built::Envelope);
            return FirstPass::NotRelevant(api_version, Box::new(request));
        }
        Object::Component(rest) => {
            let before = rest.map(|rest| {
                let (request, _) = r.into_request(Built::PodMembers);
                (Box::new(request), rest)
            });
            return FirstPass::Pruned(api_version, Prune::Pod, before);
        }
        Object::Whole(Some(rest)) if r.names_config_map() => {
            let rest = *rest;
            let (request, _) = r.into_request(Built::ConfigMapMembers);
            let before = Some((Box::new(request), rest));
            return FirstPass::Pruned(api_version, Prune::ConfigMap, before);
        }
        Object::Whole(_) => return FirstPass::Full,
    };
    if object.may_be_relevant() {
        return match object.kind() {
            Some(k) if pod_spec_pointer(k).is_some() => {
                FirstPass::Pruned(api_version, Prune::Pod, None)
            }
            Some("ConfigMap") => FirstPass::Pruned(api_version, Prune::ConfigMap, None),
            _ => FirstPass::Full,
        };
    }
    let (mut request, object) = r.into_request(Built::Identity);
    if let Object::Read(o) = object {
        identify(&mut request, &o);
    }
    FirstPass::NotRelevant(api_version, Box::new(request))
}

/// The object's identity, where the request's own fields lack it, so that messages and logs
/// name the object as they would with it built (`AdmissionRequest::kind`, `name`, `namespace`).
fn identify(r: &mut AdmissionRequest, o: &LeanObject<'_>) {
    r.identify_as(Identity {
        kind: o.kind(),
        namespace: o.namespace(),
        name: o.name(),
        generate_name: o.generate_name(),
    });
}

/// A review whose object is read by `T` (a pruned reader).
#[derive(Deserialize)]
struct PrunedReview<T> {
    request: Request<T>,
}

/// An object built with only what the engine reads (`engine::read::pruned`), by serde or, from
/// the object on, by the quick cursor.
trait Pruned: for<'de> Deserialize<'de> {
    /// What the request says was built.
    const BUILT: Built;
    /// The object and the request's fields after it, over the quick cursor (`lean::quick`).
    fn quick(text: &str, object_at: usize) -> Read<RequestFromObject<Self>>;
    fn into_value(self) -> Value;
    /// May the request be answered with this object? (Else the full parse decides.)
    fn fits(_object: &Value) -> bool {
        true
    }
}

/// A Pod or workload object with only what the engine reads, and with `PATCH` what a patch
/// reads too, the volumes with `VOLUMES` (`pruned::Reads`).
struct PodObject<const PATCH: bool, const VOLUMES: bool>(Value);

impl<const PATCH: bool, const VOLUMES: bool> PodObject<PATCH, VOLUMES> {
    const READS: Reads = Reads {
        patch: PATCH,
        volumes: VOLUMES,
    };
}

impl<'de, const PATCH: bool, const VOLUMES: bool> Deserialize<'de> for PodObject<PATCH, VOLUMES> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        pruned::pod_object(d, Self::READS).map(PodObject)
    }
}

impl<const PATCH: bool, const VOLUMES: bool> Pruned for PodObject<PATCH, VOLUMES> {
    const BUILT: Built = Built::PodMembers;
    fn quick(text: &str, object_at: usize) -> Read<RequestFromObject<Self>> {
        quick::from_object::<PATCH, VOLUMES>(text, object_at)
    }
    fn into_value(self) -> Value {
        self.0
    }
}

/// A kubelet-config or kubeadm-config ConfigMap with only what the engine reads.
struct ConfigMapObject(Value);

impl<'de> Deserialize<'de> for ConfigMapObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        pruned::config_map_object(d).map(ConfigMapObject)
    }
}

impl Pruned for ConfigMapObject {
    const BUILT: Built = Built::ConfigMapMembers;
    fn quick(text: &str, object_at: usize) -> Read<RequestFromObject<Self>> {
        quick::config_map_from_object(text, object_at)
    }
    fn into_value(self) -> Value {
        self.0
    }
    /// The envelope named a ConfigMap, or a repeated `kind` may have made the object another
    /// kind since the first pass looked: pruned as a ConfigMap, another kind would lose what
    /// the engine reads of it.
    fn fits(object: &Value) -> bool {
        object.get("kind").and_then(Value::as_str) == Some("ConfigMap")
    }
}

/// The request with what `T` builds of its object: from the object on when the first pass
/// stopped at or inside it, else from the whole body (`None`: take the full parse, which
/// words the error; the envelope was checked by [`first_pass`]).
fn pruned<T: Pruned>(
    text: &str,
    before: Option<(Box<AdmissionRequest>, Rest)>,
) -> Option<AdmissionRequest> {
    let request = match before {
        Some((request, rest)) => from_object::<T>(text, *request, rest)?,
        None => whole_body::<T>(text)?,
    };
    request
        .object
        .as_ref()
        .is_some_and(T::fits)
        .then_some(request)
}

/// [`pruned`] for a pod, with what `reads` names.
fn pod_value(
    text: &str,
    before: Option<(Box<AdmissionRequest>, Rest)>,
    reads: Reads,
) -> Option<AdmissionRequest> {
    match (reads.patch, reads.volumes) {
        (false, _) => pruned::<PodObject<false, false>>(text, before),
        (true, false) => pruned::<PodObject<true, false>>(text, before),
        (true, true) => pruned::<PodObject<true, true>>(text, before),
    }
}

/// The whole body read with serde, the object by `T`.
fn whole_body<T: Pruned>(body: &str) -> Option<AdmissionRequest> {
    let r = serde_json::from_str::<PrunedReview<T>>(body).ok()?.request;
    let (mut request, object) = r.into_request(T::BUILT);
    request.object = Some(object.into_value());
    Some(request)
}

#[path = "lean_after.rs"]
mod after;
use after::{RequestFromObject, from_object, merge};

#[path = "lean_quick.rs"]
mod quick;

#[path = "lean_tree.rs"]
mod tree;

#[cfg(test)]
#[path = "lean_tests.rs"]
mod tests;
