//! Byte scans several bytes at a time: the run of a JSON string's bytes that need no escape
//! (the JSON cursor's strings, the log's escaper; sixteen bytes at a time on x86-64, eight
//! elsewhere), and searches in the short words and lines the readers split (flags at `=`,
//! pointers at `/`, YAML at line breaks). `str::find` with a char sets up a searcher on every
//! call, and a byte-at-a-time loop costs about four instructions a byte.

const ONES: u64 = u64::MAX / 255;
const HIGH: u64 = ONES << 7;

/// Flags each byte of `v` equal to `byte` in its high bit (the other bits are noise: mask with
/// `HIGH`, once for several). Only the lowest flagged byte is exact (a borrow may flag bytes
/// above it), which is all a scan for the first one needs.
#[inline]
fn equal(v: u64, byte: u8) -> u64 {
    let x = v ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x
}

/// The bytes that end a run of plain string bytes: control characters, `"` and `\`.
static STOPS_A_RUN: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        table[c] = true;
        c += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// How many bytes from the start of `hay` a JSON string holds as they are: not a quote, a
/// backslash or a control character.
#[inline]
pub fn plain_run(hay: &[u8]) -> usize {
    plain_end(hay, 0)
}

/// Where the run of plain string bytes that starts at `at` ends: the index of the first stop
/// (see [`plain_run`]) at or after `at`, or `hay.len()`. Indexes the whole text rather than a
/// slice of it: the JSON cursor calls it for each of some two hundred strings a review holds,
/// most of them a word or two long, so the set-up counts.
#[inline]
pub fn plain_end(hay: &[u8], at: usize) -> usize {
    // Sixteen bytes at a time where the machine compares them at once (SSE2 is part of every
    // x86-64); the last few, past the last sixteen, out of line: in a body a string ends there
    // only near its end, and the eight-byte loop inlined into each reader held registers that
    // every call saved and restored. A text shorter than sixteen (a log field, a word of the
    // answer) takes the out-of-line loop whole, which costs serve about 1.8k instructions a
    // request at `/mutate`.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        let mut at = at;
        while let Some(chunk) = hay.get(at..at.wrapping_add(16)) {
            let Ok(chunk) = chunk.try_into() else { break };
            let stops = wide::stops(chunk);
            if stops != 0 {
                return at + stops.trailing_zeros() as usize;
            }
            at += 16;
        }
        last_few(hay, at)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    eight_at_a_time(hay, at)
}

/// [`plain_end`] over the last bytes of a text.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[cold]
#[inline(never)]
fn last_few(hay: &[u8], at: usize) -> usize {
    eight_at_a_time(hay, at)
}

/// [`plain_end`] eight bytes at a time, then one.
#[inline(always)]
fn eight_at_a_time(hay: &[u8], mut at: usize) -> usize {
    while let Some(chunk) = hay.get(at..at.wrapping_add(8)) {
        let v = u64::from_le_bytes(chunk.try_into().unwrap_or([b'"'; 8]));
        // Below 0x20: exact in the lowest byte flagged, as `equal`.
        let control = v.wrapping_sub(ONES * 0x20) & !v;
        let stops = (control | equal(v, b'"') | equal(v, b'\\')) & HIGH;
        if stops != 0 {
            return at + stops.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    while let Some(&c) = hay.get(at) {
        if STOPS_A_RUN[usize::from(c)] {
            return at;
        }
        at += 1;
    }
    hay.len()
}

/// The stops of sixteen bytes compared at once (SSE2, through `safe_arch`'s safe wrappers).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod wide {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, min_u8_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };

    /// Bit `i` set where byte `i` of `chunk` stops a run (see [`super::plain_run`]).
    #[inline(always)]
    pub fn stops(chunk: &[u8; 16]) -> u32 {
        let v = load_unaligned_m128i(chunk);
        let quote = cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(b'"' as i8));
        let backslash = cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(b'\\' as i8));
        // Below 0x20, unsigned: the byte is its own minimum with 0x1f.
        let control = cmp_eq_mask_i8_m128i(min_u8_m128i(v, set_splat_i8_m128i(0x1f)), v);
        move_mask_i8_m128i(bitor_m128i(bitor_m128i(quote, backslash), control)) as u32
    }
}

/// The index of the first `needle` in `hay`.
pub fn find(hay: &[u8], needle: u8) -> Option<usize> {
    // Eight bytes at a time even on x86-64: most words searched are shorter than sixteen, and
    // a sixteen-byte loop in front cost a 30-container Deployment 3.7k instructions more.
    let mut chunks = hay.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let v = u64::from_le_bytes(chunk.try_into().unwrap_or([needle; 8]));
        let hits = equal(v, needle) & HIGH;
        if hits != 0 {
            return Some(at + hits.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| at + i)
}

/// Does `hay` hold `needle`? Each place its first byte is found ([`find`]) is
/// compared: `str::contains` sets up a two-way searcher for every call, which cost more than a
/// finding's whole message check (a warning's text is checked for the fix it names).
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, _)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    while let Some(i) = hay.get(from..).and_then(|rest| find(rest, first)) {
        let at = from + i;
        if hay.get(at..at + needle.len()) == Some(needle) {
            return true;
        }
        from = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_as_str_contains() {
        let hay = "[kubelet-client-cert] --kubelet-client-key is not set (CIS 1.2.4/1.2.5)";
        for needle in [
            "",
            "[",
            ")",
            "CIS 1.2.4/1.2.5",
            "CIS 1.2.5/1.2.6",
            "--kubelet-client-key",
            "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
            "kubelet-client-cert] --k",
            "1.2.5)",
            "1.2.5))",
            "é",
        ] {
            assert_eq!(
                contains(hay.as_bytes(), needle.as_bytes()),
                hay.contains(needle),
                "{needle:?}"
            );
        }
        assert!(!contains(b"", b"a"));
        assert!(contains(b"aaab", b"aab"));
    }

    #[test]
    fn plain_end_stops_where_a_byte_loop_stops() {
        let stops: Vec<u8> = (0..0x20).chain([b'"', b'\\']).collect();
        for len in 0..72 {
            for stop_at in 0..=len {
                for &stop in &stops {
                    for other in [b'a', 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff] {
                        let mut hay = vec![other; len];
                        if stop_at < len {
                            hay[stop_at] = stop;
                        }
                        for from in 0..=len + 1 {
                            let want = (from..len)
                                .find(|&i| STOPS_A_RUN[usize::from(hay[i])])
                                .unwrap_or(len);
                            assert_eq!(
                                plain_end(&hay, from),
                                want,
                                "len {len} stop {stop:#x} at {stop_at} other {other:#x} from {from}"
                            );
                            if from <= len {
                                assert_eq!(plain_run(&hay[from..]), want - from);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn finds_what_position_finds_at_every_offset() {
        for len in 0..72 {
            for at in 0..=len {
                for other in [
                    b'a',
                    0x3c,
                    0xbd,
                    0x00,
                    0xff,
                    b'=' ^ 0x80,
                    b'=' - 1,
                    b'=' + 1,
                ] {
                    let mut hay = vec![other; len];
                    if at < len {
                        hay[at] = b'=';
                        // A second one later: the first must be found.
                        if at + 3 < len {
                            hay[at + 3] = b'=';
                        }
                    }
                    let want = hay.iter().position(|&b| b == b'=');
                    assert_eq!(find(&hay, b'='), want, "len {len} at {at} other {other:#x}");
                }
            }
        }
    }
}
