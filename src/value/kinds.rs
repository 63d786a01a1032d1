//! The object kinds of [`Value`](super::Value) that carry more than one field:
//! [`RegExp`], [`JsError`], [`TypedArray`] and [`Annotated`].

use super::{Object, Value};
use std::fmt;

/// A JS `RegExp`: its `source` and `flags`, as JS prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct RegExp {
    source: String,
    flags: String,
}

const FLAG_ORDER: &str = "dgimsuvy";

impl RegExp {
    /// A regular expression from its pattern and flags, normalized as JS's `source` and
    /// `flags` getters print them (an empty pattern is `(?:)`, an unescaped `/` is escaped,
    /// flags come in the order `dgimsuvy`).
    ///
    /// Fails, like JS's constructor, on an unknown or repeated flag or on `u` with `v`.
    /// The pattern's syntax is not checked: Rust has no JS regex engine to check it with.
    pub fn new(source: &str, flags: &str) -> crate::Result<RegExp> {
        let mut seen = [false; 8];
        for c in flags.chars() {
            let i = FLAG_ORDER
                .find(c)
                .filter(|&i| !seen[i])
                .ok_or_else(|| invalid_flags(flags))?;
            seen[i] = true;
        }
        if seen[5] && seen[6] {
            return Err(invalid_flags(flags));
        }
        let flags = FLAG_ORDER
            .chars()
            .zip(seen)
            .filter_map(|(c, on)| on.then_some(c))
            .collect();
        Ok(RegExp {
            source: escape_source(source),
            flags,
        })
    }

    /// Parse the literal form superjson writes, `/source/flags`: the source is everything
    /// between the first character and the last `/`.
    pub fn from_literal(lit: &str) -> crate::Result<RegExp> {
        let slash = lit.rfind('/').filter(|&i| i > 0);
        let (Some(end), true) = (slash, lit.starts_with('/')) else {
            return Err(crate::Error::data(format!(
                "invalid regular expression literal {lit:?}"
            )));
        };
        RegExp::new(&lit[1..end], &lit[end + 1..])
    }

    /// The pattern, as JS's `source` prints it.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The flags, in JS's canonical order.
    pub fn flags(&self) -> &str {
        &self.flags
    }

    /// `/source/flags`, what JS's `toString()` and superjson write.
    pub fn to_literal(&self) -> String {
        format!("/{}/{}", self.source, self.flags)
    }
}

fn invalid_flags(flags: &str) -> crate::Error {
    crate::Error::data(format!(
        "Invalid flags supplied to RegExp constructor '{flags}'"
    ))
}

fn escape_source(src: &str) -> String {
    if src.is_empty() {
        return "(?:)".to_owned();
    }
    let mut out = String::with_capacity(src.len());
    let mut in_class = false;
    let mut chars = src.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                // An escaped line terminator keeps its backslash and is spelled out
                // (`new RegExp("\\\n").source` is `\n`).
                match chars.next() {
                    Some('\n') => out.push('n'),
                    Some('\r') => out.push('r'),
                    Some('\u{2028}') => out.push_str("u2028"),
                    Some('\u{2029}') => out.push_str("u2029"),
                    Some(n) => out.push(n),
                    None => {}
                }
            }
            '[' => {
                in_class = true;
                out.push(c);
            }
            ']' => {
                in_class = false;
                out.push(c);
            }
            '/' if !in_class => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

impl fmt::Debug for RegExp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegExp({})", self.to_literal())
    }
}

/// A JS `Error`: name, message, optional cause and stack, and any extra own properties
/// (`code`, `details`, ...), in order.
#[derive(Clone, PartialEq, Default)]
pub struct JsError {
    /// `error.name` (`"Error"`, `"TypeError"`, a custom name).
    pub name: String,
    /// `error.message`.
    pub message: String,
    /// `error.stack`, when the peer sent one.
    pub stack: Option<String>,
    /// `error.cause`: `None` when the error has no own `cause`, `Some(Value::Undefined)`
    /// when it has one whose value is `undefined`.
    pub cause: Option<Value>,
    /// Extra own properties, in order.
    pub props: Object,
}

impl JsError {
    /// An error with this name and message and nothing else.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> JsError {
        JsError {
            name: name.into(),
            message: message.into(),
            ..JsError::default()
        }
    }

    /// Set the cause.
    pub fn with_cause(mut self, cause: Value) -> JsError {
        self.cause = Some(cause);
        self
    }

    /// Add an extra property.
    pub fn with_prop(mut self, key: impl Into<String>, value: Value) -> JsError {
        self.props.insert(key, value);
        self
    }

    /// An Error from its object form `{name, message, stack?, cause?, ...props}`, as every
    /// reader builds one: a missing (or `undefined`) `name` is `"Error"`, a `name` or
    /// `message` that is no string is read as `coercion` says, a `stack` that is no string
    /// is dropped (JS sets it, non-enumerable, and never writes it back), `cause` is kept
    /// only when the key is present (superjson HEAD, #354), and every other key is kept as a
    /// prop (polycodec drops nothing). `None` only under [`Coercion::Strict`].
    pub(crate) fn from_object(mut o: Object, coercion: Coercion) -> Option<JsError> {
        if coercion == Coercion::Strict
            && !(matches!(o.get("name"), Some(Value::String(_)))
                && matches!(o.get("message"), Some(Value::String(_))))
        {
            return None;
        }
        let name = match o.remove("name") {
            None | Some(Value::Undefined) => "Error".to_owned(),
            v => coercion.text(v),
        };
        Some(JsError {
            name,
            message: coercion.text(o.remove("message")),
            stack: match o.remove("stack") {
                Some(Value::String(s)) => Some(s),
                _ => None,
            },
            cause: o.remove("cause"),
            props: o,
        })
    }
}

/// How [`JsError::from_object`] reads a `name` or `message` that is not a string. Each
/// reader follows its own counterpart, so the policies differ on purpose; a string is
/// itself, and a missing or `undefined` value is empty, under all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coercion {
    /// superjson's reader (JS `String(v)`, as `new Error(message)` does): `null` is
    /// `"null"`, a number or boolean is its JS text, anything else is `"[object Object]"`.
    /// That last is JS's text for a plain object only (JS writes an array as `1,2` and a
    /// bigint as its digits); kept as it was, since superjson never writes either there.
    JsString,
    /// A `Serialize` impl's Error payload, read by `to_value`: `null` is empty, anything
    /// else is its Rust `Debug` text. Not a JS rule: the payload comes from Rust code, not
    /// from a peer.
    Debug,
    /// The MessagePack extension, as `js/msgpack-extensions.mjs` reads it: no Error at all
    /// unless both `name` and `message` are strings (the JS module refuses anything else).
    Strict,
}

impl Coercion {
    /// `v` (a `name` or `message`) as text under this policy.
    fn text(self, v: Option<Value>) -> String {
        match v {
            Some(Value::String(s)) => s,
            None | Some(Value::Undefined) => String::new(),
            Some(other) => match self {
                Coercion::JsString => match other {
                    Value::Null => "null".into(),
                    Value::Number(n) => super::number::format(n),
                    Value::Bool(b) => b.to_string(),
                    _ => "[object Object]".into(),
                },
                Coercion::Debug => match other {
                    Value::Null => String::new(),
                    other => format!("{other:?}"),
                },
                // `from_object` let only strings through.
                Coercion::Strict => String::new(),
            },
        }
    }
}

impl fmt::Debug for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("name", &self.name).field("message", &self.message);
        if let Some(s) = &self.stack {
            d.field("stack", s);
        }
        if let Some(c) = &self.cause {
            d.field("cause", c);
        }
        if !self.props.is_empty() {
            d.field("props", &self.props);
        }
        d.finish()
    }
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}: {}", self.name, self.message)
        }
    }
}

impl std::error::Error for JsError {}

/// The element type of a [`TypedArray`]. (`Uint8Array` is [`Value::Bytes`].)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TypedArrayKind {
    /// `Int8Array`
    Int8,
    /// `Uint8ClampedArray`
    Uint8Clamped,
    /// `Int16Array`
    Int16,
    /// `Uint16Array`
    Uint16,
    /// `Int32Array`
    Int32,
    /// `Uint32Array`
    Uint32,
    /// `Float32Array`
    Float32,
    /// `Float64Array`
    Float64,
}

impl TypedArrayKind {
    /// All kinds.
    pub const ALL: [TypedArrayKind; 8] = [
        TypedArrayKind::Int8,
        TypedArrayKind::Uint8Clamped,
        TypedArrayKind::Int16,
        TypedArrayKind::Uint16,
        TypedArrayKind::Int32,
        TypedArrayKind::Uint32,
        TypedArrayKind::Float32,
        TypedArrayKind::Float64,
    ];

    /// The JS constructor name (`"Float32Array"`).
    pub fn name(self) -> &'static str {
        match self {
            TypedArrayKind::Int8 => "Int8Array",
            TypedArrayKind::Uint8Clamped => "Uint8ClampedArray",
            TypedArrayKind::Int16 => "Int16Array",
            TypedArrayKind::Uint16 => "Uint16Array",
            TypedArrayKind::Int32 => "Int32Array",
            TypedArrayKind::Uint32 => "Uint32Array",
            TypedArrayKind::Float32 => "Float32Array",
            TypedArrayKind::Float64 => "Float64Array",
        }
    }

    /// The kind named by a JS constructor name.
    pub fn from_name(name: &str) -> Option<TypedArrayKind> {
        TypedArrayKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Bytes per element.
    pub fn element_size(self) -> usize {
        match self {
            TypedArrayKind::Int8 | TypedArrayKind::Uint8Clamped => 1,
            TypedArrayKind::Int16 | TypedArrayKind::Uint16 => 2,
            TypedArrayKind::Int32 | TypedArrayKind::Uint32 | TypedArrayKind::Float32 => 4,
            TypedArrayKind::Float64 => 8,
        }
    }

    /// The number JS stores when `n` is written into an array of this kind
    /// (integer kinds wrap modulo 2^bits, `Uint8ClampedArray` clamps and rounds half to
    /// even, `Float32Array` rounds to single precision).
    pub fn coerce(self, n: f64) -> f64 {
        fn wrap(n: f64, bits: u32, signed: bool) -> f64 {
            if !n.is_finite() {
                return 0.0;
            }
            let m = 2f64.powi(bits as i32);
            let mut v = n.trunc().rem_euclid(m);
            if signed && v >= m / 2.0 {
                v -= m;
            }
            v + 0.0
        }
        match self {
            TypedArrayKind::Int8 => wrap(n, 8, true),
            TypedArrayKind::Int16 => wrap(n, 16, true),
            TypedArrayKind::Uint16 => wrap(n, 16, false),
            TypedArrayKind::Int32 => wrap(n, 32, true),
            TypedArrayKind::Uint32 => wrap(n, 32, false),
            TypedArrayKind::Uint8Clamped => {
                if n.is_nan() {
                    0.0
                } else {
                    let c = n.clamp(0.0, 255.0);
                    let r = c.round();
                    // Round half to even.
                    if (c - c.trunc() - 0.5).abs() < f64::EPSILON && r % 2.0 != 0.0 {
                        r - 1.0
                    } else {
                        r
                    }
                }
            }
            TypedArrayKind::Float32 => f64::from(n as f32),
            TypedArrayKind::Float64 => n,
        }
    }
}

/// A typed array other than `Uint8Array`: its kind and its elements as JS numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedArray {
    /// The element type.
    pub kind: TypedArrayKind,
    /// The elements. Each is a value the kind can hold (see [`TypedArrayKind::coerce`]).
    pub elements: Vec<f64>,
}

impl TypedArray {
    /// A typed array of `kind` holding `elements`, each coerced as JS would store it.
    pub fn new(kind: TypedArrayKind, elements: impl IntoIterator<Item = f64>) -> TypedArray {
        TypedArray {
            kind,
            elements: elements.into_iter().map(|n| kind.coerce(n)).collect(),
        }
    }

    /// The elements as little-endian bytes (the array's `buffer`).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.elements.len() * self.kind.element_size());
        for &n in &self.elements {
            match self.kind {
                TypedArrayKind::Int8 => out.push(n as i8 as u8),
                TypedArrayKind::Uint8Clamped => out.push(n as u8),
                TypedArrayKind::Int16 => out.extend((n as i16).to_le_bytes()),
                TypedArrayKind::Uint16 => out.extend((n as u16).to_le_bytes()),
                TypedArrayKind::Int32 => out.extend((n as i32).to_le_bytes()),
                TypedArrayKind::Uint32 => out.extend((n as u32).to_le_bytes()),
                TypedArrayKind::Float32 => out.extend((n as f32).to_le_bytes()),
                TypedArrayKind::Float64 => out.extend(n.to_le_bytes()),
            }
        }
        out
    }

    /// A typed array from little-endian element bytes; `None` when the length is not a
    /// multiple of the element size.
    pub fn from_le_bytes(kind: TypedArrayKind, bytes: &[u8]) -> Option<TypedArray> {
        let size = kind.element_size();
        if bytes.len() % size != 0 {
            return None;
        }
        let elements = bytes
            .chunks_exact(size)
            .map(|c| match kind {
                TypedArrayKind::Int8 => f64::from(c[0] as i8),
                TypedArrayKind::Uint8Clamped => f64::from(c[0]),
                TypedArrayKind::Int16 => f64::from(i16::from_le_bytes([c[0], c[1]])),
                TypedArrayKind::Uint16 => f64::from(u16::from_le_bytes([c[0], c[1]])),
                TypedArrayKind::Int32 => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                TypedArrayKind::Uint32 => f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                TypedArrayKind::Float32 => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                TypedArrayKind::Float64 => f64::from_le_bytes(c.try_into().unwrap_or([0; 8])),
            })
            .collect();
        Some(TypedArray { kind, elements })
    }
}

/// A value with a superjson annotation that only a JS program can interpret:
/// `["class", id]`, `["symbol", id]`, `["custom", name]`, or a typed array polycodec does not
/// model (`["typed-array", "BigInt64Array"]`). Decoding keeps it, encoding writes it back
/// unchanged, so a message passing through Rust loses nothing.
#[derive(Clone, PartialEq)]
pub struct Annotated {
    /// The annotation kind: `"class"`, `"symbol"`, `"custom"` or `"typed-array"`.
    pub kind: String,
    /// The registered identifier (class id, symbol id, custom transformer name, constructor).
    pub id: String,
    /// The value as it appears in superjson's `json`: for a class, its properties; for a
    /// symbol, its description; for a custom type, whatever the transformer wrote.
    pub value: Value,
}

impl Annotated {
    /// True for kinds JS treats as objects (everything but symbols), which superjson tracks
    /// for identity.
    pub fn is_object(&self) -> bool {
        self.kind != "symbol"
    }
}

impl fmt::Debug for Annotated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Annotated([{:?}, {:?}], {:?})",
            self.kind, self.id, self.value
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each reader's policy, pinned: what the three copies it replaced did.
    #[test]
    fn from_object_reads_name_and_message_by_policy() {
        let read = |name: Option<Value>, message: Value, c: Coercion| {
            let mut o = Object::new();
            if let Some(n) = name {
                o.insert("name", n);
            }
            o.insert("message", message);
            o.insert("stack", Value::from(1));
            o.insert("code", Value::from(7));
            JsError::from_object(o, c).map(|e| {
                assert_eq!(e.stack, None);
                assert_eq!(e.cause, None);
                assert_eq!(e.props.get("code"), Some(&Value::from(7)));
                (e.name, e.message)
            })
        };
        let pair = |n: &str, m: &str| Some((n.to_owned(), m.to_owned()));
        let num = Value::from(1.5);
        use Coercion::*;
        assert_eq!(
            read(Some(Value::Null), num.clone(), JsString),
            pair("null", "1.5")
        );
        assert_eq!(
            read(None, Value::Bool(true), JsString),
            pair("Error", "true")
        );
        assert_eq!(
            read(Some(Value::Undefined), Value::Array(vec![]), JsString),
            pair("Error", "[object Object]")
        );
        assert_eq!(
            read(Some(Value::Null), num.clone(), Debug),
            pair("", &format!("{num:?}"))
        );
        assert_eq!(read(None, Value::Undefined, Debug), pair("Error", ""));
        assert_eq!(read(Some("E".into()), "m".into(), Strict), pair("E", "m"));
        assert_eq!(read(Some("E".into()), num, Strict), None);
        assert_eq!(read(None, "m".into(), Strict), None);
    }

    #[test]
    fn regexp_normalizes_like_js() {
        let r = RegExp::new("a/b", "gi").unwrap();
        assert_eq!(r.to_literal(), "/a\\/b/gi");
        assert_eq!(RegExp::new("", "").unwrap().to_literal(), "/(?:)/");
        assert_eq!(RegExp::new("[/]", "yg").unwrap().to_literal(), "/[/]/gy");
        assert_eq!(
            RegExp::new("x", "gg").unwrap_err().to_string(),
            "Invalid flags supplied to RegExp constructor 'gg'"
        );
        assert!(RegExp::new("x", "uv").is_err());
        let lit = RegExp::from_literal("/[\\\\/]/").unwrap();
        assert_eq!(lit.source(), "[\\\\/]");
        assert!(RegExp::from_literal("nope").is_err());
    }

    #[test]
    fn typed_array_coercion_matches_js() {
        assert_eq!(TypedArrayKind::Int8.coerce(200.0), -56.0);
        assert_eq!(TypedArrayKind::Uint16.coerce(-1.0), 65535.0);
        assert_eq!(TypedArrayKind::Uint8Clamped.coerce(300.0), 255.0);
        assert_eq!(TypedArrayKind::Uint8Clamped.coerce(2.5), 2.0);
        assert_eq!(TypedArrayKind::Uint8Clamped.coerce(3.5), 4.0);
        assert_eq!(TypedArrayKind::Float32.coerce(0.1), 0.10000000149011612);
        assert_eq!(TypedArrayKind::Int32.coerce(f64::NAN), 0.0);
        let t = TypedArray::new(TypedArrayKind::Int16, [1.0, -2.0]);
        assert_eq!(
            TypedArray::from_le_bytes(TypedArrayKind::Int16, &t.to_le_bytes()),
            Some(t)
        );
    }
}
