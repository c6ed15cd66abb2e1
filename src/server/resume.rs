//! Picking up a first pass that stopped inside a pod's object (`envelope::Object::Component`):
//! where the object starts in the body, and which of the request's fields were already read.
//! The pod pass then reads from the object on, not the envelope again (`lean`).

/// Where the pod pass may pick up a read that stopped inside the object.
#[derive(Debug, Clone, Copy)]
pub struct Rest {
    /// Byte offset of the object's value in the body.
    pub object_at: usize,
    /// The request's fields read before the object ([`Seen`]), which must not come again.
    pub seen: Seen,
}

/// Which of the request's own fields were read, a bit each, `null` ones included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen(u8);

impl Seen {
    pub const UID: Seen = Seen(1);
    pub const KIND: Seen = Seen(1 << 1);
    pub const SUB_RESOURCE: Seen = Seen(1 << 2);
    pub const NAME: Seen = Seen(1 << 3);
    pub const NAMESPACE: Seen = Seen(1 << 4);
    pub const OPERATION: Seen = Seen(1 << 5);
    pub const DRY_RUN: Seen = Seen(1 << 6);

    pub fn has(self, field: Seen) -> bool {
        self.0 & field.0 != 0
    }

    pub(super) fn with(self, field: Seen, read: bool) -> Seen {
        if read { Seen(self.0 | field.0) } else { self }
    }
}

/// Where the value of the key `key`, borrowed from `body`, starts: after its closing quote,
/// the colon and any whitespace.
pub(super) fn value_at(body: &[u8], key: &str) -> Option<usize> {
    let start = (key.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = start.checked_add(key.len())?;
    if body.get(start..end)? != key.as_bytes() || body.get(end) != Some(&b'"') {
        return None;
    }
    let ws = |i: &mut usize| {
        while body
            .get(*i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            *i += 1;
        }
    };
    let mut i = end + 1;
    ws(&mut i);
    if body.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    ws(&mut i);
    Some(i)
}
