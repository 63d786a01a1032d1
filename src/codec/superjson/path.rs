//! superjson path strings: both reading rules (`v:1` and legacy), plus the
//! prototype-pollution guard on segment names. Escaping on write is [`crate::path`]'s, shared
//! with [`Error::path`](crate::Error::path).

use crate::{Error, Result};
use std::borrow::Cow;

/// Split a path string into segments. `legacy` selects the rules for payloads without
/// `v` (only `\.` is an escape); otherwise `v:1` rules apply and any other backslash is an
/// `invalid path` error, as in JS.
pub(crate) fn parse(path: &str, legacy: bool) -> Result<Vec<Cow<'_, str>>> {
    // Most paths have no escapes: their segments are slices of the path.
    if !path.contains('\\') {
        let segs: Vec<Cow<'_, str>> = path.split('.').map(Cow::Borrowed).collect();
        check_forbidden(&segs)?;
        return Ok(segs);
    }
    let mut segs: Vec<Cow<'_, str>> = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if legacy => {
                if chars.peek() == Some(&'.') {
                    chars.next();
                    cur.push('.');
                } else {
                    cur.push('\\');
                }
            }
            '\\' => match chars.next() {
                Some(e @ ('\\' | '.')) => cur.push(e),
                _ => return Err(Error::data("invalid path")),
            },
            '.' => segs.push(Cow::Owned(std::mem::take(&mut cur))),
            c => cur.push(c),
        }
    }
    segs.push(Cow::Owned(cur));
    check_forbidden(&segs)?;
    Ok(segs)
}

/// Reject `__proto__`, `prototype` and `constructor` segments with JS's messages, checked in
/// JS's order.
pub(crate) fn check_forbidden<S: AsRef<str>>(segs: &[S]) -> Result<()> {
    for name in ["__proto__", "prototype", "constructor"] {
        if segs.iter().any(|s| s.as_ref() == name) {
            return Err(Error::data(format!("{name} is not allowed as a property")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_legacy_rules() {
        assert_eq!(parse("a\\\\.1.b", false).unwrap(), ["a\\", "1", "b"]);
        assert_eq!(parse("a\\\\.1.b", true).unwrap(), ["a\\.1", "b"]);
        assert_eq!(parse("a\\.b", false).unwrap(), ["a.b"]);
        assert_eq!(parse("..", false).unwrap(), ["", "", ""]);
        assert_eq!(parse("", false).unwrap(), [""]);
        assert_eq!(parse("a\\", false).unwrap_err().to_string(), "invalid path");
        assert_eq!(
            parse("a\\x", false).unwrap_err().to_string(),
            "invalid path"
        );
        assert_eq!(parse("a\\x", true).unwrap(), ["a\\x"]);
    }

    #[test]
    fn forbidden_segments_in_js_order() {
        let e = parse("constructor.prototype.x", false).unwrap_err();
        assert_eq!(e.to_string(), "prototype is not allowed as a property");
        let e = parse("__proto__.x", true).unwrap_err();
        assert_eq!(e.to_string(), "__proto__ is not allowed as a property");
    }
}
