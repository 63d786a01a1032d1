//! A [`Ty`] as TypeScript text, for one codec's [`Wire`] table.

use super::wire::{KeyForm, UndefinedForm};
use super::{Field, Ty, Wire};

/// Which way a value travels: it decides which fields may be missing, and flips inside a
/// callback's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the client to the Rust side (arguments, inputs): what Rust reads.
    In,
    /// From the Rust side to the client (results, outputs): what Rust writes.
    Out,
}

impl Dir {
    fn flip(self) -> Dir {
        match self {
            Dir::In => Dir::Out,
            Dir::Out => Dir::In,
        }
    }
}

pub(crate) struct Renderer<'w> {
    wire: &'w Wire,
    dir: Dir,
    /// The named types being written, to stop at a type that refers to itself.
    open: Vec<usize>,
}

/// `text` wrapped in parentheses when it is not one term (a union, an intersection, a
/// function).
fn atom(text: String) -> String {
    if text.contains(" | ") || text.contains(" & ") || text.contains("=>") {
        format!("({text})")
    } else {
        text
    }
}

/// A property name as TypeScript writes it: bare when it is an identifier, else quoted.
pub(crate) fn prop_name(name: &str) -> String {
    let mut chars = name.chars();
    let ident = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident {
        name.to_owned()
    } else {
        quote(name)
    }
}

/// A JS string literal.
pub(crate) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl<'w> Renderer<'w> {
    pub(crate) fn new(wire: &'w Wire, dir: Dir) -> Renderer<'w> {
        Renderer {
            wire,
            dir,
            open: Vec::new(),
        }
    }

    /// `f` run in the other direction (a callback's parameters).
    pub(crate) fn flipped<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        self.dir = self.dir.flip();
        let out = f(self);
        self.dir = self.dir.flip();
        out
    }

    /// `ty` as TypeScript.
    pub(crate) fn ty(&mut self, ty: &Ty) -> String {
        let w = self.wire;
        match ty {
            Ty::Unknown => "unknown".into(),
            Ty::Undefined => match w.undefined {
                UndefinedForm::Kept => "undefined".into(),
                UndefinedForm::Omitted => "null".into(),
            },
            Ty::Null => "null".into(),
            Ty::Bool => "boolean".into(),
            Ty::Number => "number".into(),
            Ty::Int64 | Ty::Int128 if self.dir == Dir::In => w.wide_int_in.into(),
            Ty::Int64 => w.int64.into(),
            Ty::Int128 => w.int128.into(),
            Ty::BigInt => w.bigint.into(),
            Ty::String => "string".into(),
            Ty::Literal(s) => quote(s),
            Ty::Date => w.date.into(),
            Ty::Bytes => w.bytes.into(),
            Ty::TypedArray(c) => w.typed_array.replace("{C}", c),
            Ty::RegExp => w.regexp.into(),
            Ty::Url => w.url.into(),
            Ty::Error => w.error.into(),
            Ty::Array(t) => self.array(t),
            Ty::Tuple(ts) => {
                let items: Vec<String> = ts.iter().map(|t| self.ty(t)).collect();
                format!("[{}]", items.join(", "))
            }
            Ty::Dict(k, v) => self.dict(k, v),
            Ty::Map(k, v) => {
                let (k, v) = (self.ty(k), self.ty(v));
                w.map.replace("{K}", &k).replace("{V}", &v)
            }
            Ty::Set(t) => {
                let t = self.ty(t);
                w.set.replace("{T}", &t)
            }
            Ty::Nullable(t) => self.union([&**t, &Ty::Null]),
            Ty::Undefinable(t) => self.union([&**t, &Ty::Undefined]),
            Ty::Object(fields) => self.object(fields),
            Ty::Union(ts) => self.union(ts.iter()),
            Ty::Intersection(ts) => {
                let parts: Vec<String> = ts.iter().map(|t| atom(self.ty(t))).collect();
                match parts.len() {
                    0 => "unknown".into(),
                    _ => parts.join(" & "),
                }
            }
            Ty::Function(params, ret) => {
                let params = self.flipped(|r| r.params(params));
                let ret = self.ty(ret);
                format!("({params}) => {ret}")
            }
            Ty::Named(n) => {
                if self.open.contains(&n.key()) {
                    // A type that contains itself: written once, `unknown` where it recurs.
                    return "unknown".into();
                }
                self.open.push(n.key());
                let out = self.ty(&(n.def)());
                self.open.pop();
                out
            }
            Ty::Raw(s) => s.clone(),
        }
    }

    /// Parameters as a function's list (`a: number, b: string`).
    pub(crate) fn params(&mut self, params: &[super::Param]) -> String {
        let list: Vec<String> = params
            .iter()
            .map(|p| {
                let ty = self.ty(&p.ty);
                match (p.rest, p.optional) {
                    (true, _) => format!("...{}: {}[]", p.name, atom(ty)),
                    (false, true) => format!("{}?: {ty}", p.name),
                    (false, false) => format!("{}: {ty}", p.name),
                }
            })
            .collect();
        list.join(", ")
    }

    fn array(&mut self, item: &Ty) -> String {
        let t = self.ty(item);
        if t.contains(' ') || t.contains("=>") {
            format!("Array<{t}>")
        } else {
            format!("{t}[]")
        }
    }

    /// Members joined with `|`, repeats dropped.
    fn union<'a>(&mut self, members: impl IntoIterator<Item = &'a Ty>) -> String {
        let mut parts: Vec<String> = Vec::new();
        for m in members {
            let text = self.ty(m);
            let text = if text.contains("=>") {
                format!("({text})")
            } else {
                text
            };
            for part in split_union(&text) {
                if !parts.contains(&part) {
                    parts.push(part);
                }
            }
        }
        match parts.len() {
            0 => "never".into(),
            _ => parts.join(" | "),
        }
    }

    fn dict(&mut self, k: &Ty, v: &Ty) -> String {
        let value = self.ty(v);
        if string_keys(k) {
            return format!("Record<string, {value}>");
        }
        match self.wire.other_keys {
            KeyForm::Map => {
                let key = self.ty(k);
                self.wire.map.replace("{K}", &key).replace("{V}", &value)
            }
            KeyForm::JsonKeys if scalar_keys(k) => format!("Record<string, {value}>"),
            KeyForm::JsonKeys => {
                let key = self.ty(k);
                format!("Array<[{key}, {value}]>")
            }
        }
    }

    fn object(&mut self, fields: &[Field]) -> String {
        if fields.is_empty() {
            return "Record<string, never>".into();
        }
        let mut out = Vec::new();
        for f in fields {
            let mut optional = match self.dir {
                Dir::Out => f.absent_out,
                Dir::In => f.absent_in,
            };
            let omitted = self.wire.undefined == UndefinedForm::Omitted;
            let ty = match resolve(&f.ty) {
                // JSON.stringify leaves an undefined property out.
                Ty::Undefinable(inner) if omitted => {
                    optional = true;
                    self.ty(&inner)
                }
                Ty::Undefined if omitted => {
                    optional = true;
                    "undefined".into()
                }
                _ => self.ty(&f.ty),
            };
            let q = if optional { "?" } else { "" };
            out.push(format!("{}{q}: {ty}", prop_name(&f.name)));
        }
        format!("{{ {} }}", out.join("; "))
    }
}

/// A named type's definition (one level), other types as they are.
fn resolve(ty: &Ty) -> Ty {
    match ty {
        Ty::Named(n) => (n.def)(),
        other => other.clone(),
    }
}

/// Keys that are strings in JS whatever the codec (strings, string literals).
fn string_keys(k: &Ty) -> bool {
    match resolve(k) {
        Ty::String | Ty::Literal(_) => true,
        Ty::Union(ts) => ts.iter().all(string_keys),
        _ => false,
    }
}

/// Keys plain JSON writes as strings of an object (numbers, booleans).
fn scalar_keys(k: &Ty) -> bool {
    matches!(
        resolve(k),
        Ty::Number | Ty::Int64 | Ty::Int128 | Ty::Bool | Ty::BigInt
    ) || string_keys(k)
}

/// The members of a union written as text, split at its top level.
fn split_union(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' | b'{' | b'<' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            // `=>` is no closing bracket.
            b'>' if i == 0 || bytes[i - 1] != b'=' => depth -= 1,
            b'"' => {
                // Skip a string literal.
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'|' if depth == 0 => {
                parts.push(text[start..i].trim().to_owned());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(text[start..].trim().to_owned());
    parts
}
