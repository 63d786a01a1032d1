//! Reading superjson's `meta`: the `values` annotations become a trie walked alongside the
//! `json` text, and `referentialEqualities` become lists of parsed paths.

use super::path;
use crate::codec::text::tree::{Ann, MetaTree, NodeId, OpaqueAnn, ROOT};
use crate::value::{number, TypedArrayKind, Value};
use crate::{Error, Result};

/// The annotation a transformation in `meta.values` names (`"Date"`, `["class", "Point"]`).
fn parse_ann(v: &Value) -> Result<Ann> {
    Ok(match v {
        Value::String(s) => match Ann::simple(s) {
            Some(ann) => ann,
            None => return Err(Error::data(format!("Unknown transformation: {s}"))),
        },
        Value::Array(a) => match a.as_slice() {
            [Value::String(kind), Value::String(id)]
                if matches!(kind.as_str(), "class" | "symbol" | "custom" | "typed-array") =>
            {
                if kind == "typed-array" {
                    if id == "Uint8Array" {
                        return Ok(Ann::Uint8Array);
                    }
                    if let Some(k) = TypedArrayKind::from_name(id) {
                        return Ok(Ann::TypedArray(k));
                    }
                }
                Ann::Opaque(Box::new(OpaqueAnn {
                    kind: kind.clone(),
                    id: id.clone(),
                }))
            }
            parts => {
                return Err(Error::data(format!(
                    "Unknown transformation: {}",
                    number::js_array_string(parts)
                )));
            }
        },
        other => {
            return Err(Error::data(format!(
                "Unknown transformation: {}",
                number::js_string(other)
            )))
        }
    })
}

/// Parsed `referentialEqualities`.
#[derive(Debug, Default)]
pub(crate) struct Refs {
    /// Paths that are the root itself (the array form's first element).
    pub root_targets: Vec<Vec<String>>,
    /// `(representative, targets)` in key order.
    pub entries: Vec<(Vec<String>, Vec<Vec<String>>)>,
}

/// Everything `meta` says.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    pub tree: MetaTree,
    pub refs: Option<Refs>,
}

/// Interpret a parsed `meta` value. `max_depth` bounds the annotation tree's nesting.
pub(crate) fn parse_meta(meta: &Value, max_depth: usize) -> Result<Meta> {
    let mut out = Meta::default();
    let Value::Object(o) = meta else {
        // `meta: null` (or any non-object) means no meta, as in JS.
        return Ok(out);
    };
    // JS compares `v < 1` after ToNumber; NaN compares false, so junk reads as v1.
    let version = match o.get("v") {
        None | Some(Value::Null) | Some(Value::Undefined) => 0.0,
        Some(Value::Number(n)) => *n,
        Some(Value::String(s)) => number::string_to_number(s),
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(_) => f64::NAN,
    };
    let legacy = version < 1.0;
    match o.get("values") {
        None | Some(Value::Null) | Some(Value::Undefined) | Some(Value::Number(_)) => {}
        Some(Value::Array(a)) => tree(&mut out.tree, ROOT, a, legacy, 0, max_depth)
            .map_err(|e| e.in_segment("values"))?,
        Some(Value::Object(rec)) => record(&mut out.tree, ROOT, rec.iter(), legacy, 0, max_depth)
            .map_err(|e| e.in_segment("values"))?,
        Some(other) => {
            return Err(Error::data(format!(
                "meta.values must be an array or an object, found {}",
                other.kind_name()
            )))
        }
    }
    match o.get("referentialEqualities") {
        None | Some(Value::Null) | Some(Value::Undefined) => {}
        Some(re) => out.refs = Some(refs(re, legacy)?),
    }
    Ok(out)
}

fn tree(
    t: &mut MetaTree,
    at: NodeId,
    node: &[Value],
    legacy: bool,
    depth: usize,
    max_depth: usize,
) -> Result<()> {
    if depth > max_depth {
        return Err(Error::limit(format!(
            "annotation tree nests deeper than the limit of {max_depth}"
        )));
    }
    let Some(first) = node.first() else {
        // `values: []` acts like `["undefined"]` in JS.
        return t.annotate(at, Ann::Undefined);
    };
    let ann = parse_ann(first)?;
    match node.get(1) {
        None | Some(Value::Null) | Some(Value::Undefined) => {}
        Some(Value::Object(rec)) => record(t, at, rec.iter(), legacy, depth + 1, max_depth)?,
        Some(Value::Array(items)) => {
            let keys: Vec<String> = (0..items.len()).map(|i| i.to_string()).collect();
            record(t, at, keys.iter().zip(items), legacy, depth + 1, max_depth)?
        }
        Some(other) => {
            return Err(Error::data(format!(
                "annotation children must be an object, found {}",
                other.kind_name()
            )))
        }
    }
    t.annotate(at, ann)
}

fn record<'a>(
    t: &mut MetaTree,
    at: NodeId,
    entries: impl Iterator<Item = (&'a String, &'a Value)>,
    legacy: bool,
    depth: usize,
    max_depth: usize,
) -> Result<()> {
    for (k, v) in entries {
        let segs = path::parse(k, legacy).map_err(|e| e.at_path(k.clone()))?;
        let node = t.node_at(at, &segs);
        match v {
            Value::Array(a) => crate::stack::grow(|| tree(t, node, a, legacy, depth, max_depth)),
            other => Err(Error::data(format!(
                "annotation must be an array, found {}",
                other.kind_name()
            ))),
        }
        .map_err(|e| e.at_path(t.path_of(node)))?;
    }
    Ok(())
}

fn owned(segs: Vec<std::borrow::Cow<'_, str>>) -> Vec<String> {
    segs.into_iter().map(std::borrow::Cow::into_owned).collect()
}

fn path_list(v: &Value, legacy: bool) -> Result<Vec<Vec<String>>> {
    let Value::Array(a) = v else {
        return Err(Error::data(
            "referentialEqualities targets must be an array of paths",
        ));
    };
    a.iter()
        .map(|p| match p {
            Value::String(s) => path::parse(s, legacy).map(owned),
            other => Err(Error::data(format!(
                "a path must be a string, found {}",
                other.kind_name()
            ))),
        })
        .collect()
}

fn refs(v: &Value, legacy: bool) -> Result<Refs> {
    let mut out = Refs::default();
    let rec = match v {
        Value::Object(o) => Some(o),
        Value::Array(a) => {
            match a.first() {
                Some(first) => out.root_targets = path_list(first, legacy)?,
                None => return Ok(out),
            }
            match a.get(1) {
                None => None,
                Some(Value::Object(o)) => Some(o),
                Some(_) => {
                    return Err(Error::data(
                        "referentialEqualities array form must be [rootTargets, record]",
                    ))
                }
            }
        }
        _ => {
            return Err(Error::data(
                "referentialEqualities must be an object or an array",
            ))
        }
    };
    if let Some(rec) = rec {
        for (k, targets) in rec.js_order() {
            let rep = owned(path::parse(k, legacy)?);
            out.entries.push((rep, path_list(targets, legacy)?));
        }
    }
    Ok(out)
}
