//! JSON string literals, byte for byte as JavaScript's `JSON.stringify` writes them, and the
//! scan for a literal's plain run that the JSON reader shares with the writer (the bytes
//! one escapes are the bytes the other stops at). Shared by the text codecs and by
//! MessagePack, whose annotation payload is a bit of JSON text.

/// For each byte: 0 = copy as is, otherwise the escape to write (`b'u'` for `\u00xx`).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Append `s` as a JSON string literal, escaped as JS does: `"` and `\`, the short escapes
/// `\b \f \n \r \t`, other control characters as `\u00xx` (lower-case hex); everything
/// else, `/`, DEL and U+2028/2029 included, raw.
#[inline]
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    loop {
        let i = plain_run_end(bytes, start);
        out.extend_from_slice(&bytes[start..i]);
        let Some(&b) = bytes.get(i) else {
            break;
        };
        start = i + 1;
        match ESCAPE[b as usize] {
            b'u' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ]);
            }
            esc => out.extend_from_slice(&[b'\\', esc]),
        }
    }
    out.push(b'"');
}

/// Where the plain run of `bytes` that starts at `from` ends: the index of the first
/// control character, `"` or `\\` at or after `from` (the bytes [`ESCAPE`] marks: those a
/// writer escapes and a reader stops at), or `bytes.len()`. Eight bytes at a time while
/// eight are left, then one table lookup each.
#[inline]
pub(crate) fn plain_run_end(bytes: &[u8], from: usize) -> usize {
    // The ASCII flag is not used here, and its work goes once this is inlined.
    plain_run_end_ascii(bytes, from).0
}

/// [`plain_run_end`], and whether the run is all ASCII (then it is valid UTF-8 without a
/// further check): the bytes before the stop are OR-ed together on the way.
#[inline]
pub(crate) fn plain_run_end_ascii(bytes: &[u8], mut from: usize) -> (usize, bool) {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut seen = 0u64;
    while let Some(chunk) = bytes.get(from..from + 8) {
        let Ok(w) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_le_bytes(w);
        let mask = special_mask(w);
        if mask != 0 {
            let stop = mask.trailing_zeros() / 8;
            // The bytes before the stop only (the low `8 * stop` bits).
            let before = w & (1u64 << (8 * stop)).wrapping_sub(1);
            return (from + stop as usize, (seen | before) & HIGH == 0);
        }
        seen |= w;
        from += 8;
    }
    while let Some(&b) = bytes.get(from) {
        if ESCAPE[b as usize] != 0 {
            break;
        }
        seen |= u64::from(b);
        from += 1;
    }
    (from, seen & HIGH == 0)
}

/// The high bit of each byte of `w` (read little-endian) that is a control character, `"`
/// or `\\`, and possibly of bytes after the first such one (borrows run upwards). The
/// lowest set bit is exact: `trailing_zeros() / 8` is the index of the first such byte,
/// and the mask is zero only when there is none.
#[inline]
fn special_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let quote = zero_byte(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(w ^ (ONES * u64::from(b'\\')));
    (below_space | quote | backslash) & HIGH
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight-byte skip must stop at every byte that needs an escape, wherever it sits
    /// in the word, and let every other byte through.
    #[test]
    fn word_scan_agrees_with_the_table() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut w = *b"abcdefgh";
                w[pos] = b;
                assert_eq!(
                    special_mask(u64::from_le_bytes(w)) != 0,
                    ESCAPE[b as usize] != 0,
                    "byte {b:#x} at {pos}"
                );
                let mut long = *b"abcdefghijklmnop";
                long[pos + 3] = b;
                let want = if ESCAPE[b as usize] != 0 { pos + 3 } else { 16 };
                assert_eq!(plain_run_end(&long, 1), want, "byte {b:#x} at {}", pos + 3);
            }
        }
        let mut next = crate::testing::xorshift(0x2545_F491_4F6C_DD1D);
        for _ in 0..100_000 {
            let x = next();
            let first = x
                .to_le_bytes()
                .iter()
                .position(|&b| ESCAPE[b as usize] != 0);
            assert_eq!(special_mask(x) != 0, first.is_some(), "{x:#018x}");
            if let Some(i) = first {
                assert_eq!(special_mask(x).trailing_zeros() / 8, i as u32, "{x:#018x}");
            }
        }
        let mut out = Vec::new();
        write_str(&mut out, "0123456789abcdef\n0123456789\"tail");
        assert_eq!(out, b"\"0123456789abcdef\\n0123456789\\\"tail\"");
    }

    /// The reader's scan must call a run ASCII exactly when every byte before its end is
    /// (its text is then used without a UTF-8 check): every byte value at every position,
    /// before, at and after the stop, in the eight-byte loop and in the tail.
    #[test]
    fn ascii_flag_covers_exactly_the_bytes_of_the_run() {
        for len in [5usize, 8, 13, 16, 21, 24] {
            for b in 0..=255u8 {
                for at in 0..len {
                    for stop in [None, Some(b'"'), Some(b'\\'), Some(0x1f)] {
                        let mut bytes = vec![b'a'; len];
                        bytes[at] = b;
                        if let Some(s) = stop {
                            bytes.push(s);
                            bytes.extend_from_slice(&[0xc3, 0xa9, b'x', 0xff]);
                        }
                        let (end, ascii) = plain_run_end_ascii(&bytes, 0);
                        assert_eq!(end, plain_run_end(&bytes, 0));
                        assert_eq!(
                            ascii,
                            bytes[..end].is_ascii(),
                            "byte {b:#x} at {at} of {len}, stop {stop:?}"
                        );
                    }
                }
            }
        }
        let mut next = crate::testing::xorshift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            for _ in 0..4 {
                bytes.extend_from_slice(&next().to_le_bytes());
            }
            for from in [0, 3] {
                let (end, ascii) = plain_run_end_ascii(&bytes, from);
                assert_eq!(end, plain_run_end(&bytes, from), "{bytes:x?}");
                assert_eq!(ascii, bytes[from..end].is_ascii(), "{bytes:x?}");
            }
        }
    }

    #[test]
    fn escapes_like_json_stringify() {
        let mut out = Vec::new();
        write_str(
            &mut out,
            "\"\\\u{8}\u{c}\n\r\t\u{0}\u{1f}/\u{7f}\u{2028}é😀",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f/\u{7f}\u{2028}é😀\""
        );
    }
}
