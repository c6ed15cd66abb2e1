//! A forward-only reader over a JSON text for the webhook's quick first pass
//! (`relevance::quick`, `server::envelope::quick`): member keys and kept strings are borrowed
//! from the text, everything else is checked as JSON and skipped.
//!
//! Why not serde_json or jiter: a small AdmissionReview is some fifty short strings, and
//! serde_json's visitor calls and string scan cost about 150 instructions for each, jiter's SIMD
//! string decoding more. A byte loop costs a few per byte. What this reader does not handle
//! itself (a string it would keep that has escapes, nesting deeper than serde_json allows) is
//! [`Unsure`], and the caller reads the text with serde_json instead, which decides; it never
//! accepts a text serde_json refuses, except that, like serde_json's own skipping, it does not
//! decode the `\u` escapes of strings it skips.

use crate::bytes;

/// Not read here: read the text with serde_json.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsure;

pub type Read<T> = Result<T, Unsure>;

thread_local! {
    /// Where [`Cursor::decoded_string`] decodes a string with escapes.
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A scratch buffer grown beyond this by a long string is not kept for the next one.
const SCRATCH_KEPT: usize = 64 * 1024;

/// Levels of nesting within a value skipped or kept whole. serde_json refuses a text nested 128
/// deep; the quick readers' own levels above such a value are far fewer than the rest.
const MAX_DEPTH: usize = 64;

pub struct Cursor<'j> {
    text: &'j str,
    at: usize,
}

impl<'j> Cursor<'j> {
    /// `text` is the whole document: UTF-8 already checked.
    pub fn new(text: &'j str) -> Cursor<'j> {
        Cursor { text, at: 0 }
    }

    /// A cursor at byte `at` of `text`, where a value starts.
    pub fn at(text: &'j str, at: usize) -> Cursor<'j> {
        Cursor { text, at }
    }

    /// The string value next, as its JSON text (quotes and escapes included), checked, and
    /// whether it has escapes.
    pub fn string_json(&mut self) -> Read<(&'j str, bool)> {
        self.peek()?;
        let start = self.at;
        let escaped = self.skip_string()?;
        Ok((self.text.get(start..self.at).ok_or(Unsure)?, escaped))
    }

    /// The number value next, as its text, checked.
    pub fn number_json(&mut self) -> Read<&'j str> {
        self.peek()?;
        let start = self.at;
        self.number()?;
        self.text.get(start..self.at).ok_or(Unsure)
    }

    /// `null`, consumed.
    pub fn null(&mut self) -> Read<()> {
        self.peek()?;
        self.literal("null")
    }

    fn bytes(&self) -> &'j [u8] {
        self.text.as_bytes()
    }

    /// Where the next byte is.
    pub fn index(&self) -> usize {
        self.at
    }

    /// Back to `index`, an [`index`](Self::index) this cursor had: to read a value again.
    pub fn rewind(&mut self, index: usize) {
        self.at = index;
    }

    /// The first byte of the next value, not consumed.
    #[inline]
    pub fn peek(&mut self) -> Read<u8> {
        match self.bytes().get(self.at) {
            Some(&c) if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') => Ok(c),
            _ => self.peek_past_space(),
        }
    }

    /// `peek` after whitespace: out of line, as the API server sends compact JSON. A wrapper
    /// taking only `self`: calling `past_space` here directly, with the text and the index,
    /// measured 460 more instructions per mirror-pod answer and 1,000 more on a 30-container
    /// Deployment (callgrind), for code that never runs on compact JSON.
    #[cold]
    #[inline(never)]
    fn peek_past_space(&mut self) -> Read<u8> {
        past_space(self.bytes(), &mut self.at)
    }

    fn eat(&mut self, byte: u8) -> Read<()> {
        if self.peek()? != byte {
            return Err(Unsure);
        }
        self.at += 1;
        Ok(())
    }

    /// Where the bytes from here on that need no second look in a string end: the first quote,
    /// backslash or control character. Sixteen bytes at a time (`bytes::plain_end`): a
    /// pod's annotations and flags hold long strings.
    fn plain_end(&self) -> usize {
        bytes::plain_end(self.bytes(), self.at)
    }

    /// The string value next, borrowed; `Unsure` for anything else, or one with escapes.
    /// Inlined, as `skip_string`: as a call it saved and restored six registers, some fifteen
    /// instructions for each of the two hundred-odd strings of a review.
    #[inline(always)]
    pub fn string(&mut self) -> Read<&'j str> {
        self.eat(b'"')?;
        let start = self.at;
        self.at = self.plain_end();
        if self.bytes().get(self.at) != Some(&b'"') {
            return Err(Unsure);
        }
        let s = self.text.get(start..self.at).ok_or(Unsure)?;
        self.at += 1;
        Ok(s)
    }

    /// The string value next, decoded: plain runs copied, one-character escapes decoded as
    /// serde_json decodes them. `Unsure` at a `\u` escape (serde_json pairs surrogates) or
    /// anything else amiss, with the cursor anywhere inside the string: the caller rewinds.
    pub fn decoded_string(&mut self) -> Read<String> {
        self.eat(b'"')?;
        let b = self.bytes();
        let start = self.at;
        self.at = self.plain_end();
        let first = self.text.get(start..self.at).ok_or(Unsure)?;
        // Most strings have no escape: one exact allocation.
        if b.get(self.at) == Some(&b'"') {
            self.at += 1;
            return Ok(first.to_owned());
        }
        // Decoded into this thread's scratch buffer, then copied once at its exact length: the
        // decoded length is not known before the end, and growing the string by doubling cost
        // a kubelet-config's 1 KB document four reallocations.
        SCRATCH.with_borrow_mut(|out| {
            out.clear();
            out.push_str(first);
            let decoded = self.decode_rest(out).map(|()| out.as_str().to_owned());
            if out.capacity() > SCRATCH_KEPT {
                *out = String::new();
            }
            decoded
        })
    }

    /// The rest of a string after its first escape, decoded into `out`, and its closing quote.
    fn decode_rest(&mut self, out: &mut String) -> Read<()> {
        let b = self.bytes();
        loop {
            match *b.get(self.at).ok_or(Unsure)? {
                b'"' => break,
                b'\\' => {
                    out.push(short_escape(*b.get(self.at + 1).ok_or(Unsure)?).ok_or(Unsure)?);
                    self.at += 2;
                }
                // A control character.
                _ => return Err(Unsure),
            }
            let run = self.at;
            self.at = self.plain_end();
            out.push_str(self.text.get(run..self.at).ok_or(Unsure)?);
        }
        self.at += 1;
        Ok(())
    }

    /// Skip the string value next, checking its escapes: has it any?
    #[inline(always)]
    fn skip_string(&mut self) -> Read<bool> {
        self.eat(b'"')?;
        let (end, escaped) = string_end(self.bytes(), self.at)?;
        self.at = end;
        Ok(escaped)
    }

    /// The first key of the mapping next (`None`: it is empty); `Unsure` if the value is not a
    /// mapping.
    pub fn first_key(&mut self) -> Read<Option<&'j str>> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Ok(None);
        }
        self.key().map(Some)
    }

    /// The next key of the mapping being read, after the value of the last one.
    pub fn next_key(&mut self) -> Read<Option<&'j str>> {
        match self.peek()? {
            b',' => {
                self.at += 1;
                self.key().map(Some)
            }
            b'}' => {
                self.at += 1;
                Ok(None)
            }
            _ => Err(Unsure),
        }
    }

    fn key(&mut self) -> Read<&'j str> {
        let key = self.string()?;
        self.eat(b':')?;
        Ok(key)
    }

    /// Into the list next: is there a first item? `Unsure` if the value is not a list.
    pub fn first_item(&mut self) -> Read<bool> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.at += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// After an item of the list being read: is there another?
    pub fn next_item(&mut self) -> Read<bool> {
        match self.peek()? {
            b',' => {
                self.at += 1;
                Ok(true)
            }
            b']' => {
                self.at += 1;
                Ok(false)
            }
            _ => Err(Unsure),
        }
    }

    pub fn boolean(&mut self) -> Read<bool> {
        match self.peek()? {
            b't' => self.literal("true").map(|()| true),
            b'f' => self.literal("false").map(|()| false),
            _ => Err(Unsure),
        }
    }

    fn literal(&mut self, word: &str) -> Read<()> {
        self.at = literal_end(self.bytes(), self.at, word.as_bytes())?;
        Ok(())
    }

    fn number(&mut self) -> Read<()> {
        self.at = number_end(self.bytes(), self.at)?;
        Ok(())
    }

    /// Nothing but whitespace is left.
    pub fn finish(&mut self) -> Read<()> {
        match self.peek() {
            Err(Unsure) => Ok(()),
            Ok(_) => Err(Unsure),
        }
    }
}

/// Where the string whose contents start at `at` ends, after its closing quote, and whether it
/// has escapes; each checked (a `\u` escape is not decoded).
#[inline(always)]
fn string_end(b: &[u8], mut at: usize) -> Read<(usize, bool)> {
    let mut escaped = false;
    loop {
        at = bytes::plain_end(b, at);
        match *b.get(at).ok_or(Unsure)? {
            b'"' => return Ok((at + 1, escaped)),
            b'\\' => {
                escaped = true;
                match *b.get(at + 1).ok_or(Unsure)? {
                    c if short_escape(c).is_some() => at += 2,
                    b'u' => {
                        let hex = b.get(at + 2..at + 6).ok_or(Unsure)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(Unsure);
                        }
                        at += 6;
                    }
                    _ => return Err(Unsure),
                }
            }
            // A control character.
            _ => return Err(Unsure),
        }
    }
}

/// Where `word` (`true`, `false`, `null`) ends when it stands at `at`.
#[inline(always)]
fn literal_end(b: &[u8], at: usize, word: &[u8]) -> Read<usize> {
    if b.get(at..at + word.len()) != Some(word) {
        return Err(Unsure);
    }
    Ok(at + word.len())
}

/// The first byte at or after `at` that is not whitespace, with `at` moved to it. Reached
/// through the cold wrappers of `Cursor::peek` and the skip loop's `next`.
fn past_space(b: &[u8], at: &mut usize) -> Read<u8> {
    while let Some(&c) = b.get(*at) {
        if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            return Ok(c);
        }
        *at += 1;
        // Indented JSON: the run of spaces after a line break, eight bytes at a time.
        while let Some(chunk) = b.get(*at..*at + 8) {
            let v = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let not_space = v ^ (u64::MAX / 255 * u64::from(b' '));
            if not_space != 0 {
                *at += not_space.trailing_zeros() as usize / 8;
                break;
            }
            *at += 8;
        }
    }
    Err(Unsure)
}

/// Where the number at `at` ends: `-? (0 | [1-9][0-9]*) (. [0-9]+)?`; one with an exponent
/// is left to serde_json.
fn number_end(b: &[u8], mut at: usize) -> Read<usize> {
    let digits = |at: &mut usize| {
        let start = *at;
        while b.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        *at > start
    };
    if b.get(at) == Some(&b'-') {
        at += 1;
    }
    match b.get(at) {
        Some(b'0') => at += 1,
        Some(b'1'..=b'9') => {
            let start = at;
            digits(&mut at);
            // serde_json refuses an integer beyond f64's range.
            if at - start > 300 {
                return Err(Unsure);
            }
        }
        _ => return Err(Unsure),
    }
    if b.get(at) == Some(&b'.') {
        at += 1;
        if !digits(&mut at) {
            return Err(Unsure);
        }
    }
    if matches!(b.get(at), Some(b'e' | b'E')) {
        // serde_json refuses a number out of f64's range; rare enough to leave to it.
        return Err(Unsure);
    }
    Ok(at)
}

/// The character a one-character escape (`\n`, `\"`…) stands for, after its backslash.
fn short_escape(b: u8) -> Option<char> {
    Some(match b {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        _ => return None,
    })
}

/// One level deeper than `depth`, within the nesting a skipped or kept-whole value may have.
pub fn deeper(depth: usize) -> Read<usize> {
    if depth + 1 >= MAX_DEPTH {
        return Err(Unsure);
    }
    Ok(depth + 1)
}

#[path = "json_cursor_skip.rs"]
mod skip;

#[cfg(test)]
#[path = "json_cursor_tests.rs"]
mod tests;
