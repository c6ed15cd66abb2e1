//! The request from its object on: the first pass read the envelope before the object, so
//! only the object and the request's fields written after it are read here, with the quick
//! cursor (`lean::quick`) or serde_json, and merged into what the first pass read.

use super::{AdmissionRequest, GroupVersionKind, Pruned};
use crate::engine::read::json_cursor::Unsure;
use crate::server::resume::{Rest, Seen};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// A body as read from its object on: the request's fields before the object were read by the
/// first pass, so only the object and what follows are read here (`from_object`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FromObject<T> {
    request: RequestFromObject<T>,
    // Read before `request` by the first pass: here, a duplicate.
    #[serde(default, deserialize_with = "present")]
    api_version: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    kind: Option<IgnoredAny>,
}

/// The request's object, and its fields written after it (`Some`, `null` included).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RequestFromObject<T> {
    pub(super) object: T,
    #[serde(default, deserialize_with = "present")]
    pub(super) uid: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub(super) kind: Option<Option<GroupVersionKind>>,
    #[serde(default, deserialize_with = "present")]
    pub(super) sub_resource: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub(super) name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub(super) namespace: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub(super) operation: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub(super) dry_run: Option<Option<bool>>,
}

/// A member that is there, whatever its value.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A field written after the object: it takes the place of the first pass's, unless the first
/// pass read it too (a duplicate, `None`).
fn after<T>(slot: &mut Option<T>, value: Option<Option<T>>, seen: bool) -> Option<()> {
    match value {
        None => Some(()),
        Some(_) if seen => None,
        Some(v) => {
            *slot = v;
            Some(())
        }
    }
}

/// A request whose first pass stopped at the object (`Object::Whole`) or inside it
/// (`Object::Component`): the envelope before the object is not read again (its many small
/// members cost as much as the object's kept ones). The object and what follows it are read
/// with the quick cursor (`quick`), or, where it is not sure, with serde_json as one document
/// that opens at the object; a field written both before and after it, or anything else amiss,
/// is `None`, and the caller takes the full parse, which words the error.
pub(super) fn from_object<T: Pruned>(
    text: &str,
    request: AdmissionRequest,
    rest: Rest,
) -> Option<AdmissionRequest> {
    let r = match T::quick(text, rest.object_at) {
        Ok(r) => r,
        Err(Unsure) => from_object_serde::<T>(text, rest.object_at)?,
    };
    let (mut request, object) = merge(request, r, rest)?;
    request.object = Some(object.into_value());
    Some(request)
}

/// The request's fields written after the object, in the request the first pass read, and
/// the object: `None` for a field written both before and after it.
pub(super) fn merge<T>(
    mut request: AdmissionRequest,
    r: RequestFromObject<T>,
    rest: Rest,
) -> Option<(AdmissionRequest, T)> {
    let seen = |field| rest.seen.has(field);
    after(&mut request.uid, r.uid.map(Some), seen(Seen::UID))?;
    after(&mut request.kind, r.kind, seen(Seen::KIND))?;
    after(
        &mut request.sub_resource,
        r.sub_resource,
        seen(Seen::SUB_RESOURCE),
    )?;
    after(&mut request.name, r.name, seen(Seen::NAME))?;
    after(&mut request.namespace, r.namespace, seen(Seen::NAMESPACE))?;
    after(&mut request.operation, r.operation, seen(Seen::OPERATION))?;
    after(&mut request.dry_run, r.dry_run, seen(Seen::DRY_RUN))?;
    Some((request, r.object))
}

/// What follows the object, read with serde_json: the rest of the body behind a fixed opening,
/// as one document. `None` where the full parse must decide.
pub(super) fn from_object_serde<T: serde::de::DeserializeOwned>(
    text: &str,
    object_at: usize,
) -> Option<RequestFromObject<T>> {
    const OPEN: &str = r#"{"request":{"object":"#;
    let from_object = text.get(object_at..)?;
    let mut doc = String::with_capacity(OPEN.len() + from_object.len());
    doc.push_str(OPEN);
    doc.push_str(from_object);
    let read = serde_json::from_str::<FromObject<T>>(&doc).ok()?;
    if read.api_version.is_some() || read.kind.is_some() {
        return None;
    }
    Some(read.request)
}
