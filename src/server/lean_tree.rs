//! A pod decided while its body is at hand: the object is read from where the first pass
//! stopped into a borrowed `Tree` (`pruned::quick::pod_tree`), and judged and patched there
//! (`decide::decide_pod`). Building the pruned `Value` (a SipHash'd map per mapping, a
//! `String` per kept word) and dropping it were a quarter of a mirror pod's answer. The
//! request keeps the object's identity in its own fields (`AdmissionRequest::identify`) and
//! the answer in `decided`.

use super::quick::tree_from_object;
use super::{AdmissionRequest, merge};
use crate::engine::policy::Policy;
use crate::engine::read::pruned::Reads;
use crate::server::decide::{Endpoint, decide_pod};
use crate::server::resume::Rest;

/// Why the request was not decided here.
pub(super) enum Fallback {
    /// The quick cursor was not sure, or the object is not a pod kind's mapping: build the
    /// pruned `Value`.
    Value(Box<AdmissionRequest>),
    /// A field repeated after the object: the full parse words it, as for the `Value`.
    Full,
}

/// Read what `reads` names of the object of `request`, whose first pass stopped at `rest`, and
/// decide it at `endpoint`: the request, with its answer in `decided`.
pub(super) fn decide(
    endpoint: Endpoint,
    text: &str,
    (request, rest): (AdmissionRequest, Rest),
    reads: Reads,
    policy: &Policy,
) -> Result<AdmissionRequest, Fallback> {
    let Ok(read) = tree_from_object(text, rest.object_at, reads) else {
        return Err(Fallback::Value(Box::new(request)));
    };
    let Some((mut request, object)) = merge(request, read, rest) else {
        return Err(Fallback::Full);
    };
    match decide_pod(endpoint, &mut request, &object, policy) {
        Some(outcome) => {
            request.decided = Some(Box::new(outcome));
            Ok(request)
        }
        // Merged again from `rest` by the `Value` reader, to the same fields.
        None => Err(Fallback::Value(Box::new(request))),
    }
}
