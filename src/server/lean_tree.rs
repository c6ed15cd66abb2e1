//! A pod at `/validate`, decided while its body is at hand: the object is read from where the
//! first pass stopped into a borrowed [`Tree`] (`pruned::quick::pod_tree`), and judged there
//! (`decide::validate_pod`). Building the pruned `Value` (a SipHash'd map per mapping, a
//! `String` per kept word) and dropping it were a quarter of a mirror pod's answer; a patch
//! (`/mutate`) still reads the `Value`. The request keeps the object's identity in its own
//! fields (what `AdmissionRequest::kind`, `namespace` and `name` read of the object) and the
//! answer in `decided`.

use super::quick::tree_from_object;
use super::{AdmissionRequest, GroupVersionKind, merge};
use crate::engine::policy::Policy;
use crate::engine::read::subjects::pod_spec_pointer;
use crate::engine::read::tree::{Node, Tree};
use crate::server::decide::validate_pod;
use crate::server::resume::Rest;

/// What became of the request.
pub(super) enum Read {
    /// Answered: `decided` holds the answer.
    Decided(Box<AdmissionRequest>),
    /// Not read here (the quick cursor was not sure, or the object is not a pod's mapping):
    /// build the pruned `Value`.
    Value(Box<AdmissionRequest>),
    /// A field repeated after the object: the full parse words it, as for the `Value`.
    Full,
}

/// Read the object of `request`, whose first pass stopped at `rest`, and decide it.
pub(super) fn validate(text: &str, request: AdmissionRequest, rest: Rest, policy: &Policy) -> Read {
    let Ok(read) = tree_from_object(text, rest.object_at) else {
        return Read::Value(Box::new(request));
    };
    let Some((mut request, object)) = merge(request, read, rest) else {
        return Read::Full;
    };
    // What `validate_pod` judges: a pod kind's mapping. Anything else is built as a `Value`,
    // which decides as before.
    let pod = matches!(object, Tree::Map(_))
        && object
            .member("kind")
            .and_then(Node::text)
            .and_then(pod_spec_pointer)
            .is_some();
    if !pod {
        // Merged again from `rest` by the `Value` reader, to the same fields.
        return Read::Value(Box::new(request));
    }
    identify(&mut request, &object);
    match validate_pod(&request, &object, policy) {
        Some(outcome) => {
            request.decided = Some(Box::new(outcome));
            Read::Decided(Box::new(request))
        }
        None => Read::Full,
    }
}

/// Where the request's own `kind`, `namespace` or `name` is empty, the object's, as
/// `AdmissionRequest::kind`, `namespace` and `name` read them of a built object.
fn identify(r: &mut AdmissionRequest, o: &Tree<'_>) {
    let empty = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
    let meta = |field: &str| {
        o.member("metadata")
            .and_then(|m| m.member(field))
            .and_then(Node::text)
            .filter(|s| !s.is_empty())
    };
    if r.kind.as_ref().is_none_or(|k| k.kind.is_empty())
        && let Some(kind) = o.member("kind").and_then(Node::text)
    {
        r.kind.get_or_insert_with(GroupVersionKind::default).kind = kind.to_string();
    }
    if empty(&r.namespace) {
        r.namespace = meta("namespace").map(str::to_string);
    }
    if empty(&r.name) {
        r.name = meta("name")
            .or_else(|| meta("generateName"))
            .map(str::to_string);
    }
}
