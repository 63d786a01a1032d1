//! Shared helpers for the integration tests: loading conformance data and turning the
//! generator's tagged JS values ("TV") into `polycodec::Value`s.
#![allow(dead_code)]

use polycodec::codec::{Codec, Json};
use polycodec::value::{Annotated, TypedArray, TypedArrayKind};
use polycodec::{Date, JsError, Limits, Object, Ref, RegExp, Value};
use std::collections::HashMap;
use std::path::PathBuf;

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string.
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A xorshift64 generator from `seed` (not 0): reproducible random inputs for the
/// differential tests.
pub fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// Fail with the first 20 `failures` (inputs where two sides differ) out of `total`.
pub fn assert_none_differ(failures: &[String], total: usize) {
    // Nothing compared proves nothing: a peer that answered `[]` must not pass.
    assert!(total > 0, "no cases were compared");
    assert!(
        failures.is_empty(),
        "{} of {total} differ:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

/// The repository's root: where `codecs/`, `js/` and `node_modules/` are, whichever
/// package of the workspace (`polycodec` at the root, `polycodec-cli` in `cli/`) runs the test.
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if manifest.join("package-lock.json").exists() {
        manifest
    } else {
        manifest.parent().expect("cli/ has a parent").to_path_buf()
    }
}

/// Path of a file under `codecs/`.
pub fn codecs_path(rel: &str) -> PathBuf {
    repo_root().join("codecs").join(rel)
}

/// Read a JSON file with polycodec's own JSON codec (no recursion limit problems).
pub fn load_json(rel: &str) -> Value {
    let bytes = std::fs::read(codecs_path(rel)).expect("conformance file");
    Json::new()
        .with_limits(Limits::unlimited())
        .decode_value(&bytes)
        .expect("valid JSON")
}

pub fn get<'a>(v: &'a Value, k: &str) -> &'a Value {
    v.get(k).unwrap_or(&Value::Undefined)
}

pub fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    get(v, k).as_str().unwrap_or("")
}

/// A tagged value field, unboxing the `...Json` string form used for deep values.
pub fn tv_field(case: &Value, name: &str) -> Option<Value> {
    if let Some(v) = case.get(name) {
        return Some(v.clone());
    }
    let boxed = case.get(&format!("{name}Json"))?.as_str()?;
    Some(
        Json::new()
            .with_limits(Limits::unlimited())
            .decode_value(boxed.as_bytes())
            .expect("boxed TV"),
    )
}

/// Converts TVs, keeping shared identity (`id` / `ref`) as `Ref`s.
#[derive(Default)]
pub struct Tv {
    cells: HashMap<i64, Ref>,
    open: Vec<i64>,
}

impl Tv {
    pub fn convert(tv: &Value) -> Option<Value> {
        Tv::default().value(tv)
    }

    fn value(&mut self, tv: &Value) -> Option<Value> {
        let t = s(tv, "t");
        if t == "ref" {
            let id = get(tv, "id").as_f64()? as i64;
            let cell = self.cells.get(&id)?;
            // While open, the cell is already a back-reference.
            return Some(Value::Ref(cell.clone()));
        }
        if let Some(id) = get(tv, "id").as_f64() {
            let id = id as i64;
            let mut ok = false;
            let node = Ref::new_cyclic(|back| {
                self.cells.insert(id, back.clone());
                self.open.push(id);
                let inner = self.plain(tv, t);
                self.open.pop();
                ok = inner.is_some();
                inner.unwrap_or_default()
            });
            if !ok {
                return None;
            }
            self.cells.insert(id, node.clone());
            return Some(Value::Ref(node));
        }
        self.plain(tv, t)
    }

    fn plain(&mut self, tv: &Value, t: &str) -> Option<Value> {
        Some(match t {
            "null" => Value::Null,
            "undefined" | "hole" => Value::Undefined,
            "boolean" => get(tv, "v").clone(),
            "number" => match get(tv, "v") {
                Value::String(s) => Value::Number(match s.as_str() {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    "-0" => -0.0,
                    _ => return None,
                }),
                n => n.clone(),
            },
            "string" => match tv.get("v") {
                Some(v) => v.clone(),
                None => return None, // lone surrogates: no Rust string
            },
            "bigint" => Value::BigInt(s(tv, "v").parse().ok()?),
            "Date" => Value::Date(match get(tv, "ms").as_f64() {
                Some(ms) => Date::from_millis(ms),
                None => Date::invalid(),
            }),
            "RegExp" => Value::RegExp(Box::new(RegExp::new(s(tv, "source"), s(tv, "flags")).ok()?)),
            "URL" => Value::Url(s(tv, "href").to_owned()),
            "Error" => {
                let mut e = JsError::new(s(tv, "name"), s(tv, "message"));
                if get(tv, "hasCause") == &Value::Bool(true) {
                    let c = self.value(get(tv, "cause"))?;
                    if !c.is_undefined() {
                        e.cause = Some(c);
                    }
                }
                if let Some(props) = get(tv, "props").as_array() {
                    for p in props {
                        let kv = p.as_array()?;
                        // superjson's reviver assigns `name` as an own property.
                        if kv[0].as_str() == Some("name") {
                            continue;
                        }
                        let v = self.value(&kv[1])?;
                        e.props.insert(kv[0].as_str()?, v);
                    }
                }
                Value::Error(Box::new(e))
            }
            "Map" => {
                let mut out = Vec::new();
                for e in get(tv, "entries").as_array()? {
                    let kv = e.as_array()?;
                    let k = self.value(&kv[0])?;
                    let v = self.value(&kv[1])?;
                    out.push((k, v));
                }
                Value::Map(out)
            }
            "Set" => Value::Set(
                get(tv, "items")
                    .as_array()?
                    .iter()
                    .map(|x| self.value(x))
                    .collect::<Option<_>>()?,
            ),
            "Array" => Value::Array(
                get(tv, "items")
                    .as_array()?
                    .iter()
                    .map(|x| self.value(x))
                    .collect::<Option<_>>()?,
            ),
            "Object" => {
                let mut o = Object::new();
                for e in get(tv, "entries").as_array()? {
                    let kv = e.as_array()?;
                    let v = self.value(&kv[1])?;
                    o.insert(kv[0].as_str()?, v);
                }
                Value::Object(o)
            }
            "TypedArray" => {
                let ctor = s(tv, "ctor");
                let nums: Vec<f64> = get(tv, "items")
                    .as_array()?
                    .iter()
                    .map(|x| match self.value(x) {
                        Some(Value::Number(n)) => n,
                        _ => f64::NAN,
                    })
                    .collect();
                if ctor == "Uint8Array" {
                    Value::Bytes(nums.iter().map(|&n| n as u8).collect())
                } else {
                    Value::TypedArray(Box::new(TypedArray::new(
                        TypedArrayKind::from_name(ctor)?,
                        nums,
                    )))
                }
            }
            "symbol" => Value::Annotated(Box::new(Annotated {
                kind: "symbol".into(),
                id: get(tv, "registeredAs").as_str()?.to_owned(),
                value: get(tv, "description").clone(),
            })),
            _ => return None,
        })
    }
}

/// Errors compare without an own `cause` that is undefined (superjson 2.2.6 always gives
/// revived errors one; HEAD (#354) and polycodec do not). Shared nodes stay shared.
pub fn normalize(v: &Value) -> Value {
    Normalizer::default().value(v)
}

#[derive(Default)]
struct Normalizer {
    done: HashMap<usize, Ref>,
}

impl Normalizer {
    fn value(&mut self, v: &Value) -> Value {
        match v {
            Value::Error(e) => {
                let mut e = (**e).clone();
                if matches!(e.cause, Some(Value::Undefined)) {
                    e.cause = None;
                }
                e.cause = e.cause.as_ref().map(|c| self.value(c));
                e.props = e
                    .props
                    .iter()
                    .map(|(k, v)| (k.clone(), self.value(v)))
                    .collect();
                Value::Error(Box::new(e))
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x)).collect()),
            Value::Set(a) => Value::Set(a.iter().map(|x| self.value(x)).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), self.value(v))).collect())
            }
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (self.value(k), self.value(v)))
                    .collect(),
            ),
            Value::Ref(r) if !r.is_back_reference() => {
                if let Some(done) = self.done.get(&r.addr()) {
                    return Value::Ref(done.clone());
                }
                let out = match r.resolve() {
                    Some(inner) => Ref::new(self.value(&inner)),
                    None => return Value::Undefined,
                };
                self.done.insert(r.addr(), out.clone());
                Value::Ref(out)
            }
            other => other.clone(),
        }
    }
}

/// The text of a compact kkrpc call `id` of `method` with the JSON arguments `args` (what a
/// raw-socket test sends where the `Client` would not).
pub fn compact_call(id: impl std::fmt::Display, method: &str, args: &str) -> String {
    format!(r#"{{"t":"q","id":"{id}","op":"call","p":["{method}"],"a":[{args}]}}"#)
}
