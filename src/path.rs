//! Dotted paths, as [`Error::path`](crate::Error::path) and superjson write them: a segment's
//! `\` becomes `\\`, then `.` becomes `\.` (superjson's `v:1` escaping); segments are joined
//! with `.`. Reading paths back (and superjson's legacy rules) is superjson's own business.

use std::borrow::Cow;

/// Escape one segment the `v:1` way: `\` becomes `\\`, then `.` becomes `\.`.
// Inlined: the superjson encoder calls it for every path segment it records (a large
// payload's 10,000 annotations), and it lives in another module (codegen unit) than the
// encoder; the common case is the scan alone.
#[inline]
pub(crate) fn escape_segment(seg: &str) -> Cow<'_, str> {
    if !seg.bytes().any(|b| b == b'.' || b == b'\\') {
        return Cow::Borrowed(seg);
    }
    Cow::Owned(escaped(seg))
}

/// `seg` with its `\` and `.` escaped (the rare case, out of line).
#[cold]
fn escaped(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len() + 2);
    for c in seg.chars() {
        if c == '.' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Append `seg` escaped to `out`.
#[inline]
pub(crate) fn push_escaped(out: &mut String, seg: &str) {
    out.push_str(&escape_segment(seg));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_segment("a.b\\c"), "a\\.b\\\\c");
        assert_eq!(escape_segment("plain"), "plain");
    }
}
