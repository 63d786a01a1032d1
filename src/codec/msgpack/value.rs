//! Writing a [`Value`] in either profile (the mapping is in `codecs/msgpack/README.md`).

use super::ext;
use super::write::Writer;
use crate::value::{JsError, Object, TypedArrayKind, Value};
use crate::{Error, Result};

/// msgpackr's element type code of a typed array kind (its index in msgpackr's
/// `typedArrays`; 1 is `Uint8Array`).
pub(crate) fn typed_array_code(kind: TypedArrayKind) -> u8 {
    match kind {
        TypedArrayKind::Int8 => 0,
        TypedArrayKind::Uint8Clamped => 2,
        TypedArrayKind::Int16 => 3,
        TypedArrayKind::Uint16 => 4,
        TypedArrayKind::Int32 => 5,
        TypedArrayKind::Uint32 => 6,
        TypedArrayKind::Float32 => 7,
        TypedArrayKind::Float64 => 8,
    }
}

impl Writer {
    /// Write a [`Value`].
    pub(crate) fn value(&mut self, v: &Value) -> Result<()> {
        crate::stack::grow_every(self.depth_left(), || self.value_inner(v))
    }

    fn value_inner(&mut self, v: &Value) -> Result<()> {
        self.charge()?;
        match v {
            Value::Undefined => self.undefined(),
            Value::Null => self.nil(),
            Value::Bool(b) => self.bool(*b),
            Value::Number(n) => self.number(*n),
            Value::BigInt(b) => self.bigint(b),
            Value::String(s) => self.str(s),
            Value::Bytes(b) => self.bytes(b),
            Value::TypedArray(t) => self.typed_array(typed_array_code(t.kind), &t.to_le_bytes()),
            Value::Array(a) => {
                self.enter()?;
                self.array_header(a.len());
                for x in a {
                    self.value(x)?;
                }
                self.leave();
            }
            Value::Object(o) => {
                self.enter()?;
                if self.msgpackr {
                    self.record(o)?;
                } else {
                    self.map_header(o.len());
                    if o.is_js_ordered() {
                        for (k, x) in o {
                            self.str(k);
                            self.value(x)?;
                        }
                    } else {
                        for (k, x) in o.js_order() {
                            self.str(k);
                            self.value(x)?;
                        }
                    }
                }
                self.leave();
            }
            Value::Map(m) => {
                self.enter()?;
                let entries = |w: &mut Writer| -> Result<()> {
                    w.map_header(m.len());
                    for (k, x) in m {
                        w.value(k)?;
                        w.value(x)?;
                    }
                    Ok(())
                };
                if self.msgpackr {
                    entries(self)?;
                } else {
                    self.ext_with(self.private(ext::MAP), entries)?;
                }
                self.leave();
            }
            Value::Set(s) => {
                self.enter()?;
                let members = |w: &mut Writer| -> Result<()> {
                    w.array_header(s.len());
                    for x in s {
                        w.value(x)?;
                    }
                    Ok(())
                };
                if self.msgpackr {
                    self.tag(ext::SET_TAG);
                    members(self)?;
                } else {
                    self.ext_with(self.private(ext::SET), members)?;
                }
                self.leave();
            }
            Value::Date(d) => self.date(*d),
            Value::RegExp(r) => {
                self.enter()?;
                let pair = |w: &mut Writer| {
                    w.array_header(2);
                    w.str(r.source());
                    w.str(r.flags());
                    Ok(())
                };
                if self.msgpackr {
                    self.tag(ext::REGEXP_TAG);
                    pair(self)?;
                } else {
                    self.ext_with(self.private(ext::REGEXP), pair)?;
                }
                self.leave();
            }
            Value::Error(e) => {
                self.enter()?;
                if self.msgpackr {
                    // `[name, message, cause]`: msgpackr drops the stack and other props.
                    self.tag(ext::ERROR_TAG);
                    self.array_header(3);
                    self.str(&e.name);
                    self.str(&e.message);
                    match &e.cause {
                        Some(c) => self.value(c)?,
                        None => self.undefined(),
                    }
                } else {
                    self.ext_with(self.private(ext::ERROR), |w| w.error_map(e))?;
                }
                self.leave();
            }
            Value::Url(u) => {
                if self.msgpackr {
                    // msgpackr writes a URL through its `toJSON`: the href.
                    self.str(u);
                } else {
                    self.ext(self.private(ext::URL), u.as_bytes());
                }
            }
            Value::Annotated(a) => {
                self.enter()?;
                if self.msgpackr {
                    // A class instance is its properties to msgpackr (a record); a symbol or
                    // custom value has no msgpackr form but its payload.
                    self.value(&a.value)?;
                } else {
                    self.ext_with(self.private(ext::ANNOTATED), |w| {
                        w.array_header(2);
                        let mut ann = Vec::new();
                        crate::codec::json_str::write_str(&mut ann, &a.kind);
                        ann.push(b',');
                        crate::codec::json_str::write_str(&mut ann, &a.id);
                        let mut text = String::from("[");
                        text.push_str(std::str::from_utf8(&ann).unwrap_or("\"\",\"\""));
                        text.push(']');
                        w.str(&text);
                        w.value(&a.value)
                    })?;
                }
                self.leave();
            }
            Value::Ext { ty, data } => self.opaque_ext(*ty, data),
            Value::Ref(r) => {
                if self.msgpackr {
                    return self.shared_ref(r);
                }
                let addr = r.addr();
                if self.ancestors.contains(&addr) {
                    return Err(Error::unsupported(
                        "a cyclic value cannot be written in the msgpack profile (the msgpackr profile writes references)",
                    ));
                }
                let Some(inner) = r.resolve() else {
                    self.nil();
                    return Ok(());
                };
                self.ancestors.push(addr);
                self.in_ref += 1;
                let res = self.value(&inner);
                self.in_ref -= 1;
                self.ancestors.pop();
                res?;
            }
        }
        Ok(())
    }

    /// An opaque extension, in the smallest header, except where that header would make it
    /// one of msgpackr's forms the reader does not keep opaque (`d6 69`/`d6 70` references,
    /// `d4 72`/`d5 72` records, `d4 73 00`-style tags): those take an ext 8 header, which
    /// reads back as the same opaque extension.
    fn opaque_ext(&mut self, ty: i8, data: &[u8]) {
        let form = match (ty, data.len()) {
            (ext::REF_ID | ext::REF_POINTER, 4) | (ext::RECORD, 1 | 2) => true,
            (ext::SET_TAG | ext::ERROR_TAG | ext::REGEXP_TAG, 1) => data == [0],
            _ => false,
        };
        if form {
            self.out
                .extend_from_slice(&[0xc7, data.len() as u8, ty as u8]);
            self.out.extend_from_slice(data);
        } else {
            self.ext(ty, data);
        }
    }

    /// A msgpackr prefix tag: `d4 <ty> 00`, the value it applies to follows.
    #[inline]
    pub(crate) fn tag(&mut self, ty: i8) {
        self.out.extend_from_slice(&[0xd4, ty as u8, 0]);
    }

    /// The private Error payload: `{name, message, cause?, stack?, ...props}` in JS order.
    fn error_map(&mut self, e: &JsError) -> Result<()> {
        let n = 2 + usize::from(e.cause.is_some()) + usize::from(e.stack.is_some()) + e.props.len();
        self.map_header(n);
        // JS property order: integer-like prop keys come before `name`.
        let (props, ints) = e.props.js_order_parts();
        for (k, x) in &props[..ints] {
            self.str(k);
            self.value(x)?;
        }
        self.str("name");
        self.str(&e.name);
        self.str("message");
        self.str(&e.message);
        if let Some(c) = &e.cause {
            self.str("cause");
            self.value(c)?;
        }
        if let Some(s) = &e.stack {
            self.str("stack");
            self.str(s);
        }
        for (k, x) in &props[ints..] {
            self.str(k);
            self.value(x)?;
        }
        Ok(())
    }

    /// An object as a msgpackr record: the id of its shape, or a definition of a new one
    /// (`d4 72 <id>` + the key array), then the values in JS key order.
    fn record(&mut self, o: &Object) -> Result<()> {
        let ordered;
        let pairs: Vec<(&String, &Value)> = if o.is_js_ordered() {
            o.iter().collect()
        } else {
            ordered = o.js_order();
            ordered
        };
        let at = self.out.len();
        let hash = super::records::hash_keys(pairs.iter().map(|(k, _)| k.as_str()));
        match self
            .shapes
            .find(hash, pairs.iter().map(|(k, _)| k.as_str()), at)
        {
            Some(id) => self.out.push(id),
            None => {
                // Every definition so far is before `at`: an id is always free.
                let id = self.shapes.next_id(at).unwrap_or(super::records::FIRST_ID);
                self.shapes
                    .define(id, hash, pairs.iter().map(|(k, _)| k.as_str()), at);
                self.out.extend_from_slice(&[0xd4, ext::RECORD as u8, id]);
                self.array_header(pairs.len());
                for (k, _) in &pairs {
                    self.str(k);
                }
            }
        }
        for (_, x) in pairs {
            self.value(x)?;
        }
        Ok(())
    }
}
