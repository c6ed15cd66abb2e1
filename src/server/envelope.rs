//! The lean pass's reader: the AdmissionReview envelope in one borrowed pass, and of the object
//! only what relevance depends on. Hand-written rather than derived so that it can stop at
//! `request.object` when the envelope alone decides: the API server writes `apiVersion`, `kind`,
//! then `request` with `uid`, `kind`, `subResource`, `name`, `namespace` and `operation` before
//! `object` (Go's field order), and a megabyte of object then need not be scanned. It also stops
//! there when the envelope names an object the full parse reads whole anyway (kubelet-config,
//! kubeadm-config, a declared source) or a pod kind named `kube…` (most likely a component,
//! which the pod pass reads from the object's start), and inside a pod's spec at the first
//! container that may run a component (`relevance`), which the pod pass reads whole anyway.
//!
//! Anything unexpected (a duplicate, a wrong type, a missing field) is `None`: the caller takes
//! the full parse, which words the error.

use super::admission::{AdmissionRequest, Built, GroupVersionKind, V1, V1BETA1};
use super::resume::{Rest, value_at};
use crate::engine::read::relevance::{LeanObject, Word, take_stopped};
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::fmt;

/// The request envelope, generic over how its object is read: borrowed relevance fields in the
/// first pass (`None`: not read, the envelope decided), the pruned object in the pod pass.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Request<O> {
    pub uid: String,
    #[serde(default)]
    pub kind: Option<GroupVersionKind>,
    #[serde(default)]
    pub sub_resource: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub operation: Option<String>,
    pub object: O,
    #[serde(default)]
    pub dry_run: Option<bool>,
}

impl<O> Request<O> {
    /// The `AdmissionRequest`, its object not yet set (the caller sets what it built), and the
    /// object as read.
    pub(super) fn into_request(self, built: Built) -> (AdmissionRequest, O) {
        let request = AdmissionRequest {
            uid: Some(self.uid),
            kind: self.kind,
            sub_resource: self.sub_resource,
            name: self.name,
            namespace: self.namespace,
            operation: self.operation,
            object: None,
            dry_run: self.dry_run,
            built,
            decided: None,
        };
        (request, self.object)
    }

    /// Does the request name a ConfigMap (the object's own kind is checked once it is read)?
    pub(super) fn names_config_map(&self) -> bool {
        self.kind.as_ref().is_some_and(|k| k.kind == "ConfigMap")
    }
}

/// What the first pass read.
pub(super) struct FirstRead<'a> {
    pub api_version: Cow<'a, str>,
    pub kind: Cow<'a, str>,
    pub request: Request<Object<'a>>,
}

/// What the first pass read of `request.object`.
// One per request, on the stack: boxing the large variant would cost an allocation each time.
#[allow(clippy::large_enum_variant)]
pub(super) enum Object<'a> {
    /// The fields relevance depends on.
    Read(LeanObject<'a>),
    /// Nothing: the envelope decided, and neither the object nor what follows it was read.
    NotRead,
    /// The read stopped at a pod's container that may run a component
    /// (`relevance::take_stopped`): what follows was not read, the pod pass reads it. The
    /// request's fields so far are those written before the object; `None`: where the object
    /// starts is not known (its key was written with escapes).
    Component(Option<Rest>),
    /// Not read: the envelope names an object that is not a pod and that the engine reads
    /// (kubelet-config, kubeadm-config, a declared source), which a later pass reads from the
    /// object on (`None`: where the object starts is not known).
    Whole(Option<Rest>),
}

/// Read `body`; `may_stop`: the reader may stop at `request.object` when the envelope decides.
pub(super) fn read<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    body: &'de [u8],
    may_stop: bool,
) -> Option<FirstRead<'de>> {
    // The readers write into this rather than return what they read: each serde layer would
    // otherwise copy the few hundred bytes of the request on its way out.
    let mut out = Slots::default();
    let top = Top {
        out: &mut out,
        body,
        may_stop,
    };
    let complete = match top.deserialize(&mut *de) {
        // Trailing bytes after the review fail the full parse too.
        Ok(()) => de.end().is_ok(),
        // The reader stopped on purpose: the error carries nothing, the slots the request.
        Err(_) => out.stopped,
    };
    if !complete {
        return None;
    }
    Some(FirstRead {
        api_version: out.api_version?,
        kind: out.kind?,
        request: out.request?,
    })
}

/// What the top-level reader has read so far.
#[derive(Default)]
struct Slots<'a> {
    api_version: Option<Cow<'a, str>>,
    kind: Option<Cow<'a, str>>,
    request: Option<LeanRequest<'a>>,
    /// The request reader stopped on purpose: `request` holds what it read.
    stopped: bool,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum TopField {
    ApiVersion,
    Kind,
    Request,
    #[serde(other)]
    Other,
}

struct Top<'s, 'a> {
    out: &'s mut Slots<'a>,
    body: &'a [u8],
    may_stop: bool,
}

impl<'de, 's> DeserializeSeed<'de> for Top<'s, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

fn once<T, E: serde::de::Error>(
    slot: &mut Option<T>,
    value: T,
    name: &'static str,
) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

impl<'de, 's> Visitor<'de> for Top<'s, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AdmissionReview")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let out = self.out;
        while let Some(field) = map.next_key::<TopField>()? {
            match field {
                TopField::ApiVersion => once(
                    &mut out.api_version,
                    map.next_value::<Word>()?.0,
                    "apiVersion",
                )?,
                TopField::Kind => once(&mut out.kind, map.next_value::<Word>()?.0, "kind")?,
                TopField::Request => {
                    // A second request must not be answered from its envelope: the full parse
                    // refuses the body.
                    if out.request.is_some() {
                        return Err(A::Error::duplicate_field("request"));
                    }
                    // Stopping needs a review already known good: the rest is never checked.
                    let good = out
                        .api_version
                        .as_deref()
                        .is_some_and(|v| v == V1 || v == V1BETA1)
                        && out.kind.as_deref() == Some("AdmissionReview");
                    let seed = RequestSeed {
                        out: &mut out.request,
                        body: self.body,
                        may_stop: self.may_stop && good,
                    };
                    if let Err(e) = map.next_value_seed(seed) {
                        // The request reader fills its slot on failure only when it stopped.
                        out.stopped = out.request.is_some();
                        return Err(e);
                    }
                }
                TopField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if out.api_version.is_none() {
            return Err(A::Error::missing_field("apiVersion"));
        }
        if out.kind.is_none() {
            return Err(A::Error::missing_field("kind"));
        }
        if out.request.is_none() {
            return Err(A::Error::missing_field("request"));
        }
        Ok(())
    }
}

enum RequestField {
    Uid,
    Kind,
    SubResource,
    Name,
    Namespace,
    Operation,
    Object,
    DryRun,
    Other,
}

fn request_field(key: &str) -> RequestField {
    match key {
        "uid" => RequestField::Uid,
        "kind" => RequestField::Kind,
        "subResource" => RequestField::SubResource,
        "name" => RequestField::Name,
        "namespace" => RequestField::Namespace,
        "operation" => RequestField::Operation,
        "object" => RequestField::Object,
        "dryRun" => RequestField::DryRun,
        _ => RequestField::Other,
    }
}

type LeanRequest<'a> = Request<Object<'a>>;

/// Writes the request into `out` when it is read whole, or when it stops on purpose; a failure
/// leaves `out` empty.
struct RequestSeed<'s, 'a> {
    out: &'s mut Option<LeanRequest<'a>>,
    body: &'a [u8],
    may_stop: bool,
}

impl<'de, 's> DeserializeSeed<'de> for RequestSeed<'s, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 's> Visitor<'de> for RequestSeed<'s, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AdmissionRequest")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut e = Envelope::default();
        let mut object = None;
        while let Some(Word(key)) = map.next_key::<Word>()? {
            match request_field(&key) {
                RequestField::Uid => once(&mut e.uid, map.next_value()?, "uid")?,
                RequestField::Kind => once(&mut e.kind, map.next_value()?, "kind")?,
                RequestField::SubResource => {
                    once(&mut e.sub_resource, map.next_value()?, "subResource")?
                }
                RequestField::Name => once(&mut e.name, map.next_value()?, "name")?,
                RequestField::Namespace => once(&mut e.namespace, map.next_value()?, "namespace")?,
                RequestField::Operation => once(&mut e.operation, map.next_value()?, "operation")?,
                RequestField::DryRun => once(&mut e.dry_run, map.next_value()?, "dryRun")?,
                RequestField::Object => {
                    if object.is_some() {
                        return Err(A::Error::duplicate_field("object"));
                    }
                    // Where the object's value starts, for a pass that picks up there.
                    let body = self.body;
                    let rest = |e: &Envelope| {
                        value_at(body, &key).map(|object_at| Rest {
                            object_at,
                            seen: e.seen(),
                        })
                    };
                    let stop = if self.may_stop && e.decides() {
                        Some(Object::NotRead)
                    } else if e.names_whole() {
                        Some(Object::Whole(rest(&e)))
                    } else if e.names_likely_component() {
                        // Read once, by the pod pass, from the object's start.
                        Some(Object::Component(rest(&e)))
                    } else {
                        None
                    };
                    if let Some(object) = stop {
                        *self.out = Some(e.into_request(object));
                        // Not a failure: `read` finds the request in the slot.
                        return Err(A::Error::custom("stopped at the object"));
                    }
                    match map.next_value::<LeanObject<'de>>() {
                        Ok(o) => object = Some(Object::Read(o)),
                        Err(err) => {
                            if take_stopped() {
                                let rest = rest(&e);
                                *self.out = Some(e.into_request(Object::Component(rest)));
                            }
                            return Err(err);
                        }
                    }
                }
                RequestField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if e.uid.is_none() {
            return Err(A::Error::missing_field("uid"));
        }
        let object = object.ok_or_else(|| A::Error::missing_field("object"))?;
        *self.out = Some(e.into_request(object));
        Ok(())
    }
}

#[path = "envelope_fields.rs"]
mod fields;
use fields::Envelope;

#[path = "envelope_quick.rs"]
pub(super) mod quick;
pub(super) use quick::read as read_quick;
