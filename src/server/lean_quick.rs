//! The pruned pass from the object on (`from_object`) over the quick cursor: the pruned object
//! (`pruned::quick`) and the request's fields written after it, as serde reads `FromObject`.
//! Anything it is not sure of, a member the first pass read coming again included, is
//! `Unsure`, and the serde reader decides.

use super::{ConfigMapObject, PodObject, RequestFromObject};
use crate::engine::read::json_cursor::{Cursor, Read, Unsure};
use crate::engine::read::pruned::{self, Reads};
use crate::engine::read::tree::Tree;
use crate::server::envelope::quick::{gvk, once, owned};

/// Read `text` from `object_at`, where a pod's object starts, to its end.
pub(super) fn from_object<const PATCH: bool, const VOLUMES: bool>(
    text: &str,
    object_at: usize,
) -> Read<RequestFromObject<PodObject<PATCH, VOLUMES>>> {
    read(text, object_at, |c| {
        pruned::quick::pod_object(c, PodObject::<PATCH, VOLUMES>::READS).map(PodObject)
    })
}

/// Read `text` from `object_at`, where a pod's object starts, to its end: what the engine
/// (and with `reads`, a patch) reads of the object, borrowed (`lean::tree`).
pub(super) fn tree_from_object(
    text: &str,
    object_at: usize,
    reads: Reads,
) -> Read<RequestFromObject<Tree<'_>>> {
    read(text, object_at, |c| pruned::quick::pod_tree(c, reads))
}

/// Read `text` from `object_at`, where a ConfigMap's object starts, to its end.
pub(super) fn config_map_from_object(
    text: &str,
    object_at: usize,
) -> Read<RequestFromObject<ConfigMapObject>> {
    read(text, object_at, |c| {
        pruned::quick::config_map_object(c).map(ConfigMapObject)
    })
}

fn read<'j, T>(
    text: &'j str,
    object_at: usize,
    object: impl FnOnce(&mut Cursor<'j>) -> Read<T>,
) -> Read<RequestFromObject<T>> {
    let mut c = Cursor::at(text, object_at);
    let object = object(&mut c)?;
    let mut r = RequestFromObject {
        object,
        uid: None,
        kind: None,
        sub_resource: None,
        name: None,
        namespace: None,
        operation: None,
        dry_run: None,
    };
    // The rest of the request.
    while let Some(key) = c.next_key()? {
        match key {
            "uid" => once(&mut r.uid, owned(&mut c)?)?,
            "kind" => once(&mut r.kind, or_null(&mut c, gvk)?)?,
            "subResource" => once(&mut r.sub_resource, or_null(&mut c, owned)?)?,
            "name" => once(&mut r.name, or_null(&mut c, owned)?)?,
            "namespace" => once(&mut r.namespace, or_null(&mut c, owned)?)?,
            "operation" => once(&mut r.operation, or_null(&mut c, owned)?)?,
            "dryRun" => once(&mut r.dry_run, or_null(&mut c, Cursor::boolean)?)?,
            "object" => return Err(Unsure),
            _ => c.skip()?,
        }
    }
    // The review's members after the request: none the first pass read may come again.
    while let Some(key) = c.next_key()? {
        match key {
            "apiVersion" | "kind" | "request" => return Err(Unsure),
            _ => c.skip()?,
        }
    }
    c.finish()?;
    Ok(r)
}

/// `null` (`None`), or the value `read` reads.
fn or_null<'j, T>(
    c: &mut Cursor<'j>,
    read: impl FnOnce(&mut Cursor<'j>) -> Read<T>,
) -> Read<Option<T>> {
    if c.peek()? == b'n' {
        return c.null().map(|()| None);
    }
    read(c).map(Some)
}
