//! MessagePack writing: the smallest header forms, chosen exactly as `@msgpack/msgpack`
//! chooses them, so the same value gives the same bytes in Rust and in JS.

use super::ext;
use crate::value::number::is_safe_integer;
use crate::value::{Date, Value};
use crate::{Error, Limits, Result};

/// The MessagePack writer state shared by the `Value` walker and the typed serializer.
pub(crate) struct Writer {
    pub(crate) out: Vec<u8>,
    depth_left: usize,
    max_depth: usize,
    pub(crate) in_ref: u32,
    expansion_left: usize,
    ancestors: Vec<usize>,
    /// The next sequence is a list of `[key, value]` pairs to write as a map (a JS Map).
    pub(crate) pairs_as_map: bool,
    /// The next 2-tuple is one such pair: no header of its own.
    pub(crate) bare_pair: bool,
}

impl Writer {
    pub(crate) fn new(limits: &Limits, capacity: usize) -> Writer {
        Writer {
            out: Vec::with_capacity(capacity),
            depth_left: limits.depth(),
            max_depth: limits.depth(),
            in_ref: 0,
            expansion_left: limits.ref_expansion(),
            ancestors: Vec::new(),
            pairs_as_map: false,
            bare_pair: false,
        }
    }

    #[inline]
    pub(crate) fn enter(&mut self) -> Result<()> {
        if self.depth_left == 0 {
            return Err(Error::limit(format!(
                "nesting deeper than the depth limit of {}",
                self.max_depth
            )));
        }
        self.depth_left -= 1;
        Ok(())
    }

    #[inline]
    pub(crate) fn leave(&mut self) {
        self.depth_left += 1;
    }

    /// Levels of nesting still allowed.
    #[inline]
    pub(crate) fn depth_left(&self) -> usize {
        self.depth_left
    }

    #[inline]
    pub(crate) fn charge(&mut self) -> Result<()> {
        if self.in_ref > 0 {
            if self.expansion_left == 0 {
                return Err(Error::limit(
                    "shared references expand beyond the reference expansion limit",
                ));
            }
            self.expansion_left -= 1;
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn nil(&mut self) {
        self.out.push(0xc0);
    }

    #[inline]
    pub(crate) fn bool(&mut self, b: bool) {
        self.out.push(if b { 0xc3 } else { 0xc2 });
    }

    #[inline]
    pub(crate) fn uint(&mut self, n: u64) {
        if n < 0x80 {
            self.out.push(n as u8);
        } else if n < 0x100 {
            self.out.extend_from_slice(&[0xcc, n as u8]);
        } else if n < 0x1_0000 {
            self.out.push(0xcd);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n < 0x1_0000_0000 {
            self.out.push(0xce);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.out.push(0xcf);
            self.out.extend_from_slice(&n.to_be_bytes());
        }
    }

    #[inline]
    pub(crate) fn int(&mut self, n: i64) {
        if n >= 0 {
            self.uint(n as u64);
        } else if n >= -32 {
            self.out.push(n as i8 as u8);
        } else if n >= -128 {
            self.out.extend_from_slice(&[0xd0, n as i8 as u8]);
        } else if n >= -32_768 {
            self.out.push(0xd1);
            self.out.extend_from_slice(&(n as i16).to_be_bytes());
        } else if n >= -2_147_483_648 {
            self.out.push(0xd2);
            self.out.extend_from_slice(&(n as i32).to_be_bytes());
        } else {
            self.out.push(0xd3);
            self.out.extend_from_slice(&n.to_be_bytes());
        }
    }

    #[inline]
    pub(crate) fn f64(&mut self, n: f64) {
        self.out.push(0xcb);
        self.out.extend_from_slice(&n.to_be_bytes());
    }

    /// A JS number: an integer form when it is a safe integer (and not -0), else float 64.
    #[inline]
    pub(crate) fn number(&mut self, n: f64) {
        if is_safe_integer(n) && !(n == 0.0 && n.is_sign_negative()) {
            self.int(n as i64);
        } else {
            self.f64(n);
        }
    }

    /// An integer of any width: a MessagePack int within ±(2^53−1), a bigint beyond, so a
    /// JS reader never rounds it.
    pub(crate) fn wide_int(&mut self, n: i128) {
        if (n.unsigned_abs() as f64) <= crate::value::number::MAX_SAFE_INTEGER {
            self.int(n as i64);
        } else {
            self.ext(ext::BIGINT, n.to_string().as_bytes());
        }
    }

    #[inline]
    pub(crate) fn str(&mut self, s: &str) {
        let n = s.len();
        if n < 32 {
            self.out.push(0xa0 | n as u8);
        } else if n < 0x100 {
            self.out.extend_from_slice(&[0xd9, n as u8]);
        } else if n < 0x1_0000 {
            self.out.push(0xda);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            self.out.push(0xdb);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        self.out.extend_from_slice(s.as_bytes());
    }

    pub(crate) fn bin(&mut self, b: &[u8]) {
        let n = b.len();
        if n < 0x100 {
            self.out.extend_from_slice(&[0xc4, n as u8]);
        } else if n < 0x1_0000 {
            self.out.push(0xc5);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            self.out.push(0xc6);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        self.out.extend_from_slice(b);
    }

    #[inline]
    pub(crate) fn array_header(&mut self, n: usize) {
        header(&mut self.out, n, 0x90, 0xdc, 0xdd);
    }

    #[inline]
    pub(crate) fn map_header(&mut self, n: usize) {
        header(&mut self.out, n, 0x80, 0xde, 0xdf);
    }

    /// The header of an extension of type `ty` with an `n`-byte payload, and its length.
    fn ext_header(ty: i8, n: usize) -> ([u8; 6], usize) {
        let t = ty as u8;
        let mut h = [0u8; 6];
        let len = match n {
            1 | 2 | 4 | 8 | 16 => {
                h[0] = 0xd4 + n.trailing_zeros() as u8;
                h[1] = t;
                2
            }
            n if n < 0x100 => {
                h[..3].copy_from_slice(&[0xc7, n as u8, t]);
                3
            }
            n if n < 0x1_0000 => {
                h[0] = 0xc8;
                h[1..3].copy_from_slice(&(n as u16).to_be_bytes());
                h[3] = t;
                4
            }
            n => {
                h[0] = 0xc9;
                h[1..5].copy_from_slice(&(n as u32).to_be_bytes());
                h[5] = t;
                6
            }
        };
        (h, len)
    }

    /// An extension value with a ready payload.
    pub(crate) fn ext(&mut self, ty: i8, payload: &[u8]) {
        let (h, len) = Self::ext_header(ty, payload.len());
        self.out.extend_from_slice(&h[..len]);
        self.out.extend_from_slice(payload);
    }

    /// An extension value whose payload `f` writes in place; the header is put in front
    /// once the payload's length is known.
    pub(crate) fn ext_with(
        &mut self,
        ty: i8,
        f: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        // Room for the usual header (ext 8, 3 bytes) is kept in front of the payload; a
        // header of another size moves the payload once.
        const ROOM: usize = 3;
        let start = self.out.len();
        self.out.extend_from_slice(&[0; ROOM]);
        f(self)?;
        let (h, len) = Self::ext_header(ty, self.out.len() - start - ROOM);
        if len == ROOM {
            self.out[start..start + ROOM].copy_from_slice(&h[..ROOM]);
        } else {
            self.out
                .splice(start..start + ROOM, h[..len].iter().copied());
        }
        Ok(())
    }

    /// A Date: the standard timestamp extension (type -1), or ext 9 when invalid.
    pub(crate) fn date(&mut self, d: Date) {
        let Some(ms) = d.millis() else {
            self.ext(ext::INVALID_DATE, &[]);
            return;
        };
        let ms = ms as i64;
        let sec = ms.div_euclid(1000);
        let nsec = (ms.rem_euclid(1000) * 1_000_000) as u32;
        if (0..1 << 34).contains(&sec) {
            if nsec == 0 && sec < 1 << 32 {
                self.ext(ext::TIMESTAMP, &(sec as u32).to_be_bytes());
            } else {
                let v = (u64::from(nsec) << 34) | sec as u64;
                self.ext(ext::TIMESTAMP, &v.to_be_bytes());
            }
        } else {
            let mut p = [0u8; 12];
            p[..4].copy_from_slice(&nsec.to_be_bytes());
            p[4..].copy_from_slice(&sec.to_be_bytes());
            self.ext(ext::TIMESTAMP, &p);
        }
    }

    /// Write a [`Value`].
    pub(crate) fn value(&mut self, v: &Value) -> Result<()> {
        crate::stack::grow_every(self.depth_left, || self.value_inner(v))
    }

    fn value_inner(&mut self, v: &Value) -> Result<()> {
        self.charge()?;
        match v {
            Value::Undefined => self.ext(ext::UNDEFINED, &[]),
            Value::Null => self.nil(),
            Value::Bool(b) => self.bool(*b),
            Value::Number(n) => self.number(*n),
            Value::BigInt(b) => self.ext(ext::BIGINT, b.to_string().as_bytes()),
            Value::String(s) => self.str(s),
            Value::Bytes(b) => self.bin(b),
            // The payload array is a level of nesting to the reader, so it is one here too
            // (what is written can be read back at the same limit).
            Value::TypedArray(t) => {
                self.enter()?;
                self.ext_with(ext::TYPED_ARRAY, |w| {
                    w.array_header(2);
                    w.str(t.kind.name());
                    w.bin(&t.to_le_bytes());
                    Ok(())
                })?;
                self.leave();
            }
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
                self.leave();
            }
            Value::Map(m) => {
                self.enter()?;
                self.ext_with(ext::MAP, |w| {
                    w.map_header(m.len());
                    for (k, x) in m {
                        w.value(k)?;
                        w.value(x)?;
                    }
                    Ok(())
                })?;
                self.leave();
            }
            Value::Set(s) => {
                self.enter()?;
                self.ext_with(ext::SET, |w| {
                    w.array_header(s.len());
                    for x in s {
                        w.value(x)?;
                    }
                    Ok(())
                })?;
                self.leave();
            }
            Value::Date(d) => self.date(*d),
            Value::RegExp(r) => {
                self.enter()?;
                self.ext_with(ext::REGEXP, |w| {
                    w.array_header(2);
                    w.str(r.source());
                    w.str(r.flags());
                    Ok(())
                })?;
                self.leave();
            }
            Value::Error(e) => {
                self.enter()?;
                self.ext_with(ext::ERROR, |w| {
                    let n = 2
                        + usize::from(e.cause.is_some())
                        + usize::from(e.stack.is_some())
                        + e.props.len();
                    w.map_header(n);
                    // JS property order: integer-like prop keys come before `name`.
                    let (props, ints) = e.props.js_order_parts();
                    for (k, x) in &props[..ints] {
                        w.str(k);
                        w.value(x)?;
                    }
                    w.str("name");
                    w.str(&e.name);
                    w.str("message");
                    w.str(&e.message);
                    if let Some(c) = &e.cause {
                        w.str("cause");
                        w.value(c)?;
                    }
                    if let Some(s) = &e.stack {
                        w.str("stack");
                        w.str(s);
                    }
                    for (k, x) in &props[ints..] {
                        w.str(k);
                        w.value(x)?;
                    }
                    Ok(())
                })?;
                self.leave();
            }
            Value::Url(u) => self.ext(ext::URL, u.as_bytes()),
            Value::Annotated(a) => {
                self.enter()?;
                self.ext_with(ext::ANNOTATED, |w| {
                    w.array_header(2);
                    let mut ann = Vec::new();
                    crate::codec::json_str::write_str(&mut ann, &a.kind);
                    let mut text = String::from("[");
                    text.push_str(std::str::from_utf8(&ann).unwrap_or("\"\""));
                    ann.clear();
                    crate::codec::json_str::write_str(&mut ann, &a.id);
                    text.push(',');
                    text.push_str(std::str::from_utf8(&ann).unwrap_or("\"\""));
                    text.push(']');
                    w.str(&text);
                    w.value(&a.value)
                })?;
                self.leave();
            }
            Value::Ref(r) => {
                let addr = r.addr();
                if self.ancestors.contains(&addr) {
                    return Err(Error::unsupported(
                        "a cyclic value cannot be written as MessagePack",
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
}

fn header(out: &mut Vec<u8>, n: usize, fix: u8, m16: u8, m32: u8) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n < 0x1_0000 {
        out.push(m16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// The header of an array or map of `n` elements, as bytes (for patching in front).
pub(crate) fn header_bytes(n: usize, map: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(5);
    if map {
        header(&mut v, n, 0x80, 0xde, 0xdf);
    } else {
        header(&mut v, n, 0x90, 0xdc, 0xdd);
    }
    v
}
