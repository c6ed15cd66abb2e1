//! The first pass over a small body, read with the quick cursor (`relevance::quick`): the same
//! [`FirstRead`] as the serde reader above, for the bodies the API server writes, at a fraction
//! of its cost. Whatever it is not sure of (see `relevance::quick`) is `None`, and the caller
//! takes the serde reader, which decides as before.

use super::{Envelope, FirstRead, Object, Request, RequestField, TopField, request_field};
use crate::engine::read::json_cursor::{Cursor, Read, Unsure};
use crate::engine::read::relevance::quick::{self, Halt};
use crate::server::admission::GroupVersionKind;
use crate::server::resume::Rest;
use std::borrow::Cow;

/// Read `text`, the whole body. `None`: not sure, read it with [`super::read`].
pub(in crate::server) fn read(text: &str) -> Option<FirstRead<'_>> {
    review(&mut Cursor::new(text)).ok()
}

fn review<'j>(c: &mut Cursor<'j>) -> Read<FirstRead<'j>> {
    let (mut api_version, mut kind, mut request) = (None, None, None);
    let mut key = c.first_key()?.map(top_field);
    while let Some(field) = key {
        match field {
            TopField::ApiVersion => once(&mut api_version, c.string()?)?,
            TopField::Kind => once(&mut kind, c.string()?)?,
            TopField::Request => {
                if request.is_some() {
                    return Err(Unsure);
                }
                let (r, done) = read_request(c)?;
                request = Some(r);
                if !done {
                    // Stopped at the object: what follows is read by another pass.
                    return first_read(api_version, kind, request);
                }
            }
            TopField::Other => c.skip()?,
        }
        key = c.next_key()?.map(top_field);
    }
    c.finish()?;
    first_read(api_version, kind, request)
}

fn first_read<'j>(
    api_version: Option<&'j str>,
    kind: Option<&'j str>,
    request: Option<Request<Object<'j>>>,
) -> Read<FirstRead<'j>> {
    Ok(FirstRead {
        api_version: Cow::Borrowed(api_version.ok_or(Unsure)?),
        kind: Cow::Borrowed(kind.ok_or(Unsure)?),
        request: request.ok_or(Unsure)?,
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
fn read_request<'j>(c: &mut Cursor<'j>) -> Read<(Request<Object<'j>>, bool)> {
    let mut e = Envelope::default();
    let mut object = None;
    let mut key = c.first_key()?.map(request_field);
    while let Some(field) = key {
        match field {
            RequestField::Uid => once(&mut e.uid, owned(c)?)?,
            RequestField::Kind => once(&mut e.kind, Some(gvk(c)?))?,
            RequestField::SubResource => once(&mut e.sub_resource, Some(owned(c)?))?,
            RequestField::Name => once(&mut e.name, Some(owned(c)?))?,
            RequestField::Namespace => once(&mut e.namespace, Some(owned(c)?))?,
            RequestField::Operation => once(&mut e.operation, Some(owned(c)?))?,
            RequestField::DryRun => once(&mut e.dry_run, Some(c.boolean()?))?,
            RequestField::Object => {
                if object.is_some() {
                    return Err(Unsure);
                }
                // Where the object's value starts, for a pass that picks up there. (A key
                // written with escapes never gets here: the cursor leaves it to serde.)
                c.peek()?;
                let object_at = c.index();
                let rest = |e: &Envelope| {
                    Some(Rest {
                        object_at,
                        seen: e.seen(),
                    })
                };
                if e.names_whole() {
                    let rest = rest(&e);
                    return Ok((e.into_request(Object::Whole(rest)), false));
                }
                // Read once, by the pod pass, from the object's start.
                if e.names_likely_component() {
                    let rest = rest(&e);
                    return Ok((e.into_request(Object::Component(rest)), false));
                }
                match quick::object(c) {
                    Ok(o) => object = Some(Object::Read(o)),
                    Err(Halt::Component) => {
                        let rest = rest(&e);
                        return Ok((e.into_request(Object::Component(rest)), false));
                    }
                    Err(Halt::Unsure) => return Err(Unsure),
                }
            }
            RequestField::Other => c.skip()?,
        }
        key = c.next_key()?.map(request_field);
    }
    e.uid.as_ref().ok_or(Unsure)?;
    Ok((e.into_request(object.ok_or(Unsure)?), true))
}

/// Set a member once: a repeat is left to serde, which refuses it.
pub(in crate::server) fn once<T>(slot: &mut Option<T>, value: T) -> Read<()> {
    if slot.replace(value).is_some() {
        return Err(Unsure);
    }
    Ok(())
}

pub(in crate::server) fn owned(c: &mut Cursor<'_>) -> Read<String> {
    c.string().map(str::to_owned)
}

/// `request.kind`: only its kind is kept.
pub(in crate::server) fn gvk(c: &mut Cursor<'_>) -> Read<GroupVersionKind> {
    let mut kind = None;
    let mut key = c.first_key()?.map(|k| k == "kind");
    while let Some(is_kind) = key {
        if is_kind {
            once(&mut kind, owned(c)?)?;
        } else {
            c.skip()?;
        }
        key = c.next_key()?.map(|k| k == "kind");
    }
    Ok(GroupVersionKind {
        kind: kind.unwrap_or_default(),
    })
}

#[cfg(test)]
#[path = "envelope_quick_tests.rs"]
mod tests;
