//! `meta` read straight from the text into the annotation trie, for the shape superjson
//! writers produce: `{"values":{"<path>":["<kind>"],...},"v":1}` with single-name kinds.
//! Anything else (children, `class`/`custom` annotations, `referentialEqualities`, other
//! keys, duplicate keys that disagree, any error) gives `None`, and the caller reads `meta`
//! the general way (through a `Value`), which builds the same tree or reports the precise
//! error. This saves building and dropping a `Value` for every annotation.

use super::meta::Meta;
use super::path;
use crate::codec::text::read::{Reader, Str};
use crate::codec::text::tree::{Ann, MetaTree, ROOT};
use std::borrow::Cow;

/// Read `meta` from `r` (at its first byte) when it has the common shape. The shape nests
/// three levels deep (`meta`, `values`, an annotation), so under a depth limit below that
/// the general path decides (and reports the limit).
pub(crate) fn read(r: &mut Reader<'_>, max_depth: usize) -> Option<Meta> {
    if max_depth < 3 {
        return None;
    }
    let mut scratch = Vec::new();
    let mut tree: Option<MetaTree> = None;
    // Paths with escapes (and all after the first of them) wait for `v`, which picks the
    // escape rules; the rest read the same under both rules and go into the tree as they
    // come.
    let mut escaped: Vec<(Cow<'_, str>, Ann)> = Vec::new();
    let mut version: Option<f64> = None;
    r.expect(b'{', "").ok()?;
    let mut first = true;
    while let Some(key) = member(r, &mut first, &mut scratch)? {
        let key = match key {
            Str::Borrowed(k) => k,
            Str::Copied(_) => return None,
        };
        match key {
            "values" if tree.is_none() => {
                let mut t = MetaTree::with_capacity(8);
                entries(r, &mut scratch, &mut t, &mut escaped)?;
                tree = Some(t);
            }
            "v" if version.is_none() => {
                if !matches!(r.peek()?, b'-' | b'0'..=b'9') {
                    return None;
                }
                version = Some(r.number().ok()?.to_f64());
            }
            _ => return None,
        }
    }
    // As in `parse_meta`: a missing `v` is version 0 (legacy paths).
    let legacy = version.unwrap_or(0.0) < 1.0;
    let mut tree = tree.unwrap_or_default();
    for (key, ann) in escaped {
        let node = tree.node_at(ROOT, &path::parse(&key, legacy).ok()?);
        tree.annotate(node, ann).ok()?;
    }
    Some(Meta { tree, refs: None })
}

/// The members of `values`, each a path and a one-name annotation: paths without escapes
/// go into `tree` at once until the first escaped one; that one and the rest go to
/// `escaped`.
fn entries<'a>(
    r: &mut Reader<'a>,
    scratch: &mut Vec<u8>,
    tree: &mut MetaTree,
    escaped: &mut Vec<(Cow<'a, str>, Ann)>,
) -> Option<()> {
    r.expect(b'{', "").ok()?;
    let mut first = true;
    while let Some(path) = member(r, &mut first, scratch)? {
        // A string read without escapes has no backslash (JSON writes one as `\\`).
        let (path, backslash) = match path {
            Str::Borrowed(p) => (Cow::Borrowed(p), false),
            Str::Copied(p) => (Cow::Owned(p.to_owned()), p.contains('\\')),
        };
        r.expect(b'[', "").ok()?;
        if r.peek()? != b'"' {
            return None;
        }
        let ann = match r.string(scratch).ok()? {
            Str::Borrowed(name) => Ann::simple(name)?,
            Str::Copied(_) => return None,
        };
        r.expect(b']', "").ok()?;
        // From the first escaped path on, everything waits, so that the trie's nodes are
        // made in the order of the text (as the general path makes them: the first
        // unapplied annotation an error names depends on it).
        if !escaped.is_empty() || backslash {
            escaped.push((path, ann));
            continue;
        }
        // A forbidden segment is left to the general path, which reports it (the tree
        // built so far is dropped).
        let mut forbidden = false;
        let segs = dot_separated(&path).inspect(|s| {
            forbidden |= matches!(*s, "__proto__" | "prototype" | "constructor");
        });
        let node = tree.node_along(ROOT, segs);
        if forbidden {
            return None;
        }
        tree.annotate(node, ann).ok()?;
    }
    Some(())
}

/// The segments of a path without escapes: `str::split('.')`, written out (its searcher
/// was 2% of a decode of 10,000 records, one short path each).
fn dot_separated(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(path);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.bytes().position(|b| b == b'.') {
            Some(i) => {
                rest = Some(&s[i + 1..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

/// The next member of an object whose `{` is read: its key, with the `:` after it read too;
/// `Some(None)` once the `}` is read; `None` on anything else.
fn member<'a, 's>(
    r: &mut Reader<'a>,
    first: &mut bool,
    scratch: &'s mut Vec<u8>,
) -> Option<Option<Str<'a, 's>>> {
    match r.peek()? {
        b'}' => {
            r.pos += 1;
            return Some(None);
        }
        b',' if !*first => r.pos += 1,
        _ if !*first => return None,
        _ => {}
    }
    *first = false;
    if r.peek()? != b'"' {
        return None;
    }
    let key = r.string(scratch).ok()?;
    r.expect(b':', "").ok()?;
    Some(Some(key))
}

/// The annotations of `tree` as `(path, annotation)` pairs in the order their nodes were
/// made: what two trees must agree on (the order decides which unapplied annotation an
/// error names).
fn described(tree: &MetaTree) -> Vec<(String, Ann)> {
    let mut nodes = tree.annotated_below(ROOT);
    nodes.sort_unstable();
    nodes
        .into_iter()
        .map(|n| {
            (
                tree.path_of(n),
                tree.ann(n).cloned().unwrap_or(Ann::Undefined),
            )
        })
        .collect()
}

/// The fuzzing property of this reader: whenever it accepts `text` (a whole `meta`), the
/// general path reads the same text without error and builds the same annotations, in the
/// same order.
/// Panics otherwise.
pub(crate) fn check_against_general(text: &[u8]) {
    let mut r = Reader::new(text);
    let Some(fast) = read(&mut r, 128) else {
        return;
    };
    if r.end().is_err() {
        return;
    }
    let general = crate::codec::Codec::decode_value(&crate::codec::Json::new(), text)
        .and_then(|v| super::meta::parse_meta(&v, 128))
        .unwrap_or_else(|e| {
            panic!(
                "the fast meta reader accepted what the general path refuses ({e}): {}",
                String::from_utf8_lossy(text)
            )
        });
    assert_eq!(
        described(&fast.tree),
        described(&general.tree),
        "meta read two ways: {}",
        String::from_utf8_lossy(text)
    );
    assert!(general.refs.is_none());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(text: &str) -> Option<Meta> {
        let mut r = Reader::new(text.as_bytes());
        let m = read(&mut r, 64)?;
        r.end().ok()?;
        Some(m)
    }

    #[test]
    fn the_common_shape_reads_into_the_same_tree_as_the_general_path() {
        for text in [
            r#"{"values":{"a":["Date"],"b.0":["set"],"c\\.d":["map"],"e.1.f":["bigint"]},"v":1}"#,
            r#"{"values":{"a":["Date"],"a.b":["undefined"],"x":["URL"]}}"#,
            r#"{"v":1,"values":{}}"#,
            r#"{ "values" : { "0.at" : [ "Date" ] , "1.at" : ["Date"] } , "v" : 1 }"#,
            r#"{"values":{"a":["Date"],"a":["Date"]},"v":1}"#,
            r#"{"values":{"a\\.b":["Date"],"c":["Date"]},"v":1}"#,
        ] {
            assert!(fast(text).is_some(), "not read: {text}");
            check_against_general(text.as_bytes());
        }
    }

    #[test]
    fn anything_else_is_left_to_the_general_path() {
        for text in [
            r#"{"values":{"a":["class","X"]},"v":1}"#,
            r#"{"values":{"a":["set",{"0":["Date"]}]},"v":1}"#,
            r#"{"values":["map",{"0":["Date"]}],"v":1}"#,
            r#"{"values":{"a":["Date"]},"referentialEqualities":{"a":["b"]},"v":1}"#,
            r#"{"values":{"a":["Date"],"a":["set"]},"v":1}"#,
            r#"{"values":{"__proto__.x":["Date"]},"v":1}"#,
            r#"{"values":{"a":["Dat\u0065"]},"v":1}"#,
            r#"{"values":{"a":["nope"]},"v":1}"#,
            r#"{"v":"1","values":{}}"#,
            r#"{"values":{},"values":{},"v":1}"#,
            r#"{"values":{"a":["Date"]},"v":1,"extra":0}"#,
            r#"{"values":{"a":["Date"] "b":["Date"]},"v":1}"#,
            r#"{"values":{"a":["Date"]},"v":1"#,
            r#"null"#,
        ] {
            assert!(fast(text).is_none(), "{text}");
        }
    }
}
