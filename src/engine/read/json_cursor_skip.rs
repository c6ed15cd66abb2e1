//! Skipping a value the quick readers do not keep, checked as JSON: one loop over the nesting,
//! on a local index.
//!
//! Skipping is most of what the quick readers do (a pod's probes, mounts, volumes and
//! resources; a Deployment's sidecars). A call for each nested mapping or list saved and
//! restored six registers and wrote the cursor back at every token; here the open levels are a
//! bit each in one word, the index stays in a register, and the loop goes down and back up
//! without a call.

use super::{Cursor, Read, Unsure, deeper, literal_end, number_end, string_end};

impl Cursor<'_> {
    /// Skip the value next, whatever it is, checking it is JSON. A string (most values) is
    /// skipped without a call.
    #[inline(always)]
    pub fn skip(&mut self) -> Read<()> {
        if self.peek()? == b'"' {
            return self.skip_string().map(drop);
        }
        self.at = nested(self.bytes(), self.at)?;
        Ok(())
    }
}

/// Where the value at `at` (past any whitespace) ends, with all it holds.
fn nested(b: &[u8], mut at: usize) -> Read<usize> {
    // Bit 0 is the innermost open level: set for a mapping, clear for a list. `deeper` keeps
    // the levels below 64.
    let mut mappings: u64 = 0;
    let mut levels = 0;
    loop {
        // A value starts here.
        match next(b, &mut at)? {
            b'"' => at = string_end(b, at + 1)?.0,
            open @ (b'{' | b'[') => {
                levels = deeper(levels)?;
                let mapping = open == b'{';
                mappings = mappings << 1 | u64::from(mapping);
                at += 1;
                let close = if mapping { b'}' } else { b']' };
                if next(b, &mut at)? != close {
                    if mapping {
                        at = member_key(b, at)?;
                    }
                    continue;
                }
                // Empty: closed at once, a complete value.
                at += 1;
                levels -= 1;
                mappings >>= 1;
            }
            b't' => at = literal_end(b, at, b"true")?,
            b'f' => at = literal_end(b, at, b"false")?,
            b'n' => at = literal_end(b, at, b"null")?,
            _ => at = number_end(b, at)?,
        }
        // After a complete value: close the levels it ends, then on to the next member or item.
        loop {
            if levels == 0 {
                return Ok(at);
            }
            let mapping = mappings & 1 == 1;
            match (next(b, &mut at)?, mapping) {
                (b',', true) => {
                    at = member_key(b, at + 1)?;
                    break;
                }
                (b',', false) => {
                    at += 1;
                    break;
                }
                (b'}', true) | (b']', false) => {
                    at += 1;
                    levels -= 1;
                    mappings >>= 1;
                }
                _ => return Err(Unsure),
            }
        }
    }
}

/// The byte at `at` after whitespace, with `at` moved to it.
#[inline(always)]
fn next(b: &[u8], at: &mut usize) -> Read<u8> {
    match b.get(*at) {
        Some(&c) if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') => Ok(c),
        _ => past_space(b, at),
    }
}

/// [`next`] after whitespace: out of line, as the API server sends compact JSON.
#[cold]
#[inline(never)]
fn past_space(b: &[u8], at: &mut usize) -> Read<u8> {
    super::past_space(b, at)
}

/// A member's key, from its opening quote on, and its `:`: where its value starts.
#[inline(always)]
fn member_key(b: &[u8], mut at: usize) -> Read<usize> {
    if next(b, &mut at)? != b'"' {
        return Err(Unsure);
    }
    at = string_end(b, at + 1)?.0;
    if next(b, &mut at)? != b':' {
        return Err(Unsure);
    }
    Ok(at + 1)
}
