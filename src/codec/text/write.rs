//! Writing JSON text byte-for-byte as JavaScript's `JSON.stringify` does.

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
    // Most strings need no escape at all: skip them eight bytes at a time.
    let mut clean = 0;
    for chunk in bytes.chunks_exact(8) {
        match <[u8; 8]>::try_from(chunk) {
            Ok(w) if !needs_escape(u64::from_le_bytes(w)) => clean += 8,
            _ => break,
        }
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        let esc = ESCAPE[b as usize];
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if esc == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', esc]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// True when one of the eight bytes of `w` is a control character, `"` or `\\` (the bytes
/// [`ESCAPE`] marks, and the ones that end a plain run when reading a string).
#[inline]
pub(crate) fn needs_escape(w: u64) -> bool {
    special_mask(w) != 0
}

/// The high bit of each byte of `w` (read little-endian) that is a control character, `"`
/// or `\\`, and possibly of bytes after the first such one (borrows run upwards). The
/// lowest set bit is exact: `trailing_zeros() / 8` is the index of the first such byte,
/// and the mask is zero only when there is none.
#[inline]
pub(crate) fn special_mask(w: u64) -> u64 {
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
                    needs_escape(u64::from_le_bytes(w)),
                    ESCAPE[b as usize] != 0,
                    "byte {b:#x} at {pos}"
                );
            }
        }
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let first = x
                .to_le_bytes()
                .iter()
                .position(|&b| ESCAPE[b as usize] != 0);
            assert_eq!(needs_escape(x), first.is_some(), "{x:#018x}");
            if let Some(i) = first {
                assert_eq!(special_mask(x).trailing_zeros() / 8, i as u32, "{x:#018x}");
            }
        }
        let mut out = Vec::new();
        write_str(&mut out, "0123456789abcdef\n0123456789\"tail");
        assert_eq!(out, b"\"0123456789abcdef\\n0123456789\\\"tail\"");
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
