//! Byte searches for the short words the readers split (flags at `=`, pointers at `/`): eight
//! bytes at a time, as the JSON cursor scans strings. `str::find` with a char sets up a
//! searcher on every call, and a byte-at-a-time loop costs about four instructions a byte.

const ONES: u64 = u64::MAX / 255;
const HIGH: u64 = ONES << 7;

/// The index of the first `needle` in `hay`.
pub fn find(hay: &[u8], needle: u8) -> Option<usize> {
    let mut chunks = hay.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let v = u64::from_le_bytes(chunk.try_into().unwrap_or([needle; 8]));
        let x = v ^ (ONES * u64::from(needle));
        // The lowest byte flagged is exact: the first zero byte of `x`.
        let hits = x.wrapping_sub(ONES) & !x & HIGH;
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

/// Does `hay` hold `needle`? Each place its first byte is found (eight bytes at a time) is
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
    fn finds_what_position_finds_at_every_offset() {
        for len in 0..40 {
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
