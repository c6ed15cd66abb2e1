//! Building RFC 6902 operations from pointer strings.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, ReplaceOperation};
use serde_json::Value;

pub(super) fn ptr(s: &str) -> PointerBuf {
    PointerBuf::parse(s).unwrap_or_default()
}

pub(super) fn add(path: &str, value: Value) -> PatchOperation {
    PatchOperation::Add(AddOperation {
        path: ptr(path),
        value,
    })
}

pub(super) fn replace(path: &str, value: Value) -> PatchOperation {
    PatchOperation::Replace(ReplaceOperation {
        path: ptr(path),
        value,
    })
}

/// Escape one JSON pointer token.
pub(super) fn esc(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
