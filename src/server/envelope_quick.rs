//! The first pass over a small body, read with the quick cursor (`relevance::quick`): the same
//! [`FirstRead`] as the serde reader above, for the bodies the API server writes, at a fraction
//! of its cost. Whatever it is not sure of (see `relevance::quick`) is `None`, and the caller
//! takes the serde reader, which decides as before.

use super::{Envelope, FirstRead, Object, Request, RequestField, TopField, request_field};
use crate::engine::read::relevance::quick::{self, Cursor, Halt};
use crate::server::admission::GroupVersionKind;
use crate::server::resume::Rest;
use std::borrow::Cow;

/// Read `text`, the whole body. `None`: not sure, read it with [`super::read`].
pub(in crate::server) fn read(text: &str) -> Option<FirstRead<'_>> {
    let mut c = Cursor::new(text);
    let (mut api_version, mut kind, mut request) = (None, None, None);
    let mut key = c.first_key().ok()?.map(top_field);
    while let Some(field) = key {
        match field {
            TopField::ApiVersion => once(&mut api_version, c.string().ok()?)?,
            TopField::Kind => once(&mut kind, c.string().ok()?)?,
            TopField::Request => {
                if request.is_some() {
                    return None;
                }
                let (r, done) = read_request(&mut c)?;
                if !done {
                    // Stopped at the object: what follows is read by another pass.
                    return Some(FirstRead {
                        api_version: Cow::Borrowed(api_version?),
                        kind: Cow::Borrowed(kind?),
                        request: r,
                    });
                }
                request = Some(r);
            }
            TopField::Other => c.skip().ok()?,
        }
        key = c.next_key().ok()?.map(top_field);
    }
    c.finish().ok()?;
    Some(FirstRead {
        api_version: Cow::Borrowed(api_version?),
        kind: Cow::Borrowed(kind?),
        request: request?,
    })
}

/// The serde reader's `TopField`, from a borrowed key.
fn top_field(key: &str) -> TopField {
    match key {
        "apiVersion" => TopField::ApiVersion,
        "kind" => TopField::Kind,
        "request" => TopField::Request,
        _ => TopField::Other,
    }
}

/// The request, and whether it was read to its end (`false`: the read stopped at the object,
/// as the serde reader's `Object::Whole` and `Object::Component`).
fn read_request<'j>(c: &mut Cursor<'j>) -> Option<(Request<Object<'j>>, bool)> {
    let mut e = Envelope::default();
    let mut object = None;
    let mut key = c.first_key().ok()?.map(request_field);
    while let Some(field) = key {
        match field {
            RequestField::Uid => once(&mut e.uid, owned(c)?)?,
            RequestField::Kind => once(&mut e.kind, Some(gvk(c)?))?,
            RequestField::SubResource => once(&mut e.sub_resource, Some(owned(c)?))?,
            RequestField::Name => once(&mut e.name, Some(owned(c)?))?,
            RequestField::Namespace => once(&mut e.namespace, Some(owned(c)?))?,
            RequestField::Operation => once(&mut e.operation, Some(owned(c)?))?,
            RequestField::DryRun => once(&mut e.dry_run, Some(c.boolean().ok()?))?,
            RequestField::Object => {
                if object.is_some() {
                    return None;
                }
                if e.names_whole() {
                    return Some((e.into_request(Object::Whole), false));
                }
                let object_at = object_at(c)?;
                match quick::object(c) {
                    Ok(o) => object = Some(Object::Read(o)),
                    Err(Halt::Component) => {
                        let rest = Rest {
                            object_at,
                            seen: e.seen(),
                        };
                        return Some((e.into_request(Object::Component(Some(rest))), false));
                    }
                    Err(Halt::Unsure) => return None,
                }
            }
            RequestField::Other => c.skip().ok()?,
        }
        key = c.next_key().ok()?.map(request_field);
    }
    e.uid.as_ref()?;
    Some((e.into_request(object?), true))
}

fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.replace(value).is_some() {
        return None;
    }
    Some(())
}

fn owned(c: &mut Cursor<'_>) -> Option<String> {
    c.string().ok().map(str::to_owned)
}

/// `request.kind`: only its kind is kept.
pub(in crate::server) fn gvk(c: &mut Cursor<'_>) -> Option<GroupVersionKind> {
    let mut kind = None;
    let mut key = c.first_key().ok()?.map(|k| k == "kind");
    while let Some(is_kind) = key {
        if is_kind {
            once(&mut kind, owned(c)?)?;
        } else {
            c.skip().ok()?;
        }
        key = c.next_key().ok()?.map(|k| k == "kind");
    }
    Some(GroupVersionKind {
        kind: kind.unwrap_or_default(),
    })
}

/// Where the object's value starts, for a pass that picks up there. (A key written with
/// escapes never gets here: the cursor leaves it to the serde reader.)
fn object_at(c: &mut Cursor<'_>) -> Option<usize> {
    c.peek().ok()?;
    Some(c.index())
}

#[cfg(test)]
#[path = "envelope_quick_tests.rs"]
mod tests;
