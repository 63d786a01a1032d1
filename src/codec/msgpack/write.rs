//! MessagePack writing: the smallest header forms, chosen exactly as `@msgpack/msgpack`
//! and msgpackr choose them, so the same value gives the same bytes in Rust and in JS. The
//! `Value` walker is in `value.rs`, the typed serializer in `typed.rs`.

use super::records::Shapes;
use super::refs::RefIds;
use super::{ext, Opts, Profile};
use crate::value::number::MAX_SAFE_INTEGER;
use crate::value::{BigInt, Date};
use crate::{Error, Limits, Result};

/// The most bytes a bigint extension (0x42) may hold: every bigint of 10,000 decimal
/// digits ([`MAX_BIGINT_TEXT`](crate::value::MAX_BIGINT_TEXT)) fits, in whole 64-bit words.
pub(crate) const MAX_BIGINT_BYTES: usize = 4160;

/// The MessagePack writer state shared by the `Value` walker and the typed serializer.
pub(crate) struct Writer {
    pub(crate) out: Vec<u8>,
    depth_left: usize,
    max_depth: usize,
    pub(crate) in_ref: u32,
    expansion_left: usize,
    pub(crate) ancestors: Vec<usize>,
    /// The next sequence is a list of `[key, value]` pairs to write as a map (a JS Map).
    pub(crate) pairs_as_map: bool,
    /// The next 2-tuple is one such pair: no header of its own.
    pub(crate) bare_pair: bool,
    pub(crate) opts: Opts,
    /// The msgpackr profile: objects as records, ints 64–127 as uint 8.
    pub(crate) msgpackr: bool,
    /// Record shapes defined in this message (msgpackr profile).
    pub(crate) shapes: Shapes,
    /// Reference ids for shared nodes (msgpackr profile).
    pub(crate) refs: RefIds,
    /// The typed path's records being written (msgpackr profile).
    pub(crate) rec: super::typed_records::RecStack,
}

impl Writer {
    pub(crate) fn new(limits: &Limits, opts: Opts, capacity: usize) -> Writer {
        Writer {
            out: Vec::with_capacity(capacity),
            depth_left: limits.depth(),
            max_depth: limits.depth(),
            in_ref: 0,
            expansion_left: limits.ref_expansion(),
            ancestors: Vec::new(),
            pairs_as_map: false,
            bare_pair: false,
            opts,
            msgpackr: opts.profile == Profile::Msgpackr,
            shapes: Shapes::default(),
            refs: RefIds::default(),
            rec: Default::default(),
        }
    }

    /// The message: the reference ids put in front of their targets.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.refs.insert_ids(self.out)
    }

    /// A number of polycodec's private block.
    #[inline]
    pub(crate) fn private(&self, offset: i8) -> i8 {
        self.opts.private.wrapping_add(offset)
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
        // 0x40–0x7f are record ids in msgpackr's format: uint 8 there.
        if n < 0x40 || n < 0x80 && !self.msgpackr {
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

    /// A JS number: the smallest int form when it is integral within int 32 / uint 32 (not
    /// -0), float 64 otherwise, as msgpackr and `@msgpack/msgpack` with `useBigInt64` write
    /// it (an int 64 on the wire is a bigint to them).
    #[inline]
    pub(crate) fn number(&mut self, n: f64) {
        if (-2_147_483_648.0..4_294_967_296.0).contains(&n)
            && n.fract() == 0.0
            && !(n == 0.0 && n.is_sign_negative())
        {
            self.int(n as i64);
        } else {
            self.f64(n);
        }
    }

    /// A Rust integer of any width, as its JS value is written: a number within ±(2^53−1)
    /// (see [`Writer::number`]), a bigint beyond (so a JS reader never rounds it).
    #[inline]
    pub(crate) fn wide_int(&mut self, n: i128) {
        if (-2_147_483_648..4_294_967_296).contains(&n) {
            self.int(n as i64);
        } else if (n.unsigned_abs() as f64) <= MAX_SAFE_INTEGER {
            self.f64(n as f64);
        } else {
            self.bigint_i128(n);
        }
    }

    /// A bigint that fits in 128 bits.
    pub(crate) fn bigint_i128(&mut self, n: i128) {
        if let Ok(v) = i64::try_from(n) {
            self.out.push(0xd3);
            self.out.extend_from_slice(&v.to_be_bytes());
        } else if let Ok(v) = u64::try_from(n) {
            self.out.push(0xcf);
            self.out.extend_from_slice(&v.to_be_bytes());
        } else {
            self.bigint(&BigInt::from(n));
        }
    }

    /// A bigint above 2^64: a u128.
    pub(crate) fn bigint_u128(&mut self, n: u128) {
        match i128::try_from(n) {
            Ok(i) => self.bigint_i128(i),
            Err(_) => self.bigint(&BigInt::from(n)),
        }
    }

    /// A bigint: int 64 within [−2^63, 2^63), uint 64 within [2^63, 2^64), else msgpackr's
    /// extension 0x42 (big-endian two's complement in the fewest whole 64-bit words; above
    /// 65,536 bits in the fewest bytes, as msgpackr does).
    pub(crate) fn bigint(&mut self, b: &BigInt) {
        use num_traits::ToPrimitive;
        if let Some(v) = b.to_i64() {
            self.out.push(0xd3);
            self.out.extend_from_slice(&v.to_be_bytes());
            return;
        }
        if let Some(v) = b.to_u64() {
            self.out.push(0xcf);
            self.out.extend_from_slice(&v.to_be_bytes());
            return;
        }
        let mut bytes = b.to_signed_bytes_be();
        if b.bits() < 65_536 {
            let fill = if b.sign() == num_bigint::Sign::Minus {
                0xff
            } else {
                0
            };
            let pad = (8 - bytes.len() % 8) % 8;
            bytes.splice(0..0, std::iter::repeat_n(fill, pad));
        }
        self.ext(ext::BIGINT, &bytes);
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

    /// A `Uint8Array`: bin; in the msgpackr profile its typed-array extension (code 1), as
    /// `new Packr({ structuredClone: true })` writes it.
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        if self.msgpackr {
            self.typed_array(1, b);
        } else {
            self.bin(b);
        }
    }

    /// msgpackr's typed-array extension 0x74: the element type code, then the bytes. Always
    /// in an ext 8/16/32 header, never a fixext (as msgpackr writes it).
    pub(crate) fn typed_array(&mut self, code: u8, le: &[u8]) {
        let n = le.len() + 1;
        if n < 0x100 {
            self.out.extend_from_slice(&[0xc7, n as u8]);
        } else if n < 0x1_0000 {
            self.out.push(0xc8);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            self.out.push(0xc9);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        self.out.extend_from_slice(&[ext::TYPED_ARRAY as u8, code]);
        self.out.extend_from_slice(le);
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
    pub(crate) fn ext_header(ty: i8, n: usize) -> ([u8; 6], usize) {
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

    /// `undefined`: `d4 00 00`, as msgpackr and notepack write it.
    #[inline]
    pub(crate) fn undefined(&mut self) {
        self.out.extend_from_slice(&[0xd4, 0x00, 0x00]);
    }

    /// A Date: the standard timestamp extension (type -1). Standard profile: the smallest
    /// of timestamp 32/64/96 (timestamp 64 while the seconds fit in 34 bits), an invalid
    /// Date in the private block. msgpackr profile: as msgpackr 2.1.3 (timestamp 64 only
    /// for 0 < seconds < 2^32, `d4 ff ff` for an invalid Date).
    pub(crate) fn date(&mut self, d: Date) {
        let Some(ms) = d.millis() else {
            if self.msgpackr {
                self.out.extend_from_slice(&[0xd4, 0xff, 0xff]);
            } else {
                self.ext(self.private(ext::INVALID_DATE), &[]);
            }
            return;
        };
        let ms = ms as i64;
        let sec = ms.div_euclid(1000);
        let nsec = (ms.rem_euclid(1000) * 1_000_000) as u32;
        let ts64_below = if self.msgpackr { 1 << 32 } else { 1 << 34 };
        if nsec == 0 && (0..1 << 32).contains(&sec) {
            self.ext(ext::TIMESTAMP, &(sec as u32).to_be_bytes());
        } else if (0..ts64_below).contains(&sec) {
            let v = (u64::from(nsec) << 34) | sec as u64;
            self.ext(ext::TIMESTAMP, &v.to_be_bytes());
        } else {
            let mut p = [0u8; 12];
            p[..4].copy_from_slice(&nsec.to_be_bytes());
            p[4..].copy_from_slice(&sec.to_be_bytes());
            self.ext(ext::TIMESTAMP, &p);
        }
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
