//! A JSON reader over bytes: strict RFC 8259 syntax, UTF-8 checked, offsets for errors,
//! and the number rules JS's `JSON.parse` uses.

use crate::codec::json_str::plain_run_end_ascii;
use crate::{Error, Result};

/// A parsed string: borrowed from the input when it had no escapes.
pub(crate) enum Str<'a, 's> {
    Borrowed(&'a str),
    Copied(&'s str),
}

impl Str<'_, '_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Str::Borrowed(s) => s,
            Str::Copied(s) => s,
        }
    }
}

/// A number literal, still as text, with what kind it is and its digits as an integer.
pub(crate) struct Num<'a> {
    /// The literal's bytes: `-`, `+`, `.`, `e`, `E` and digits only (checked by the reader).
    bytes: &'a [u8],
    /// A `-` in front.
    neg: bool,
    /// True with an exponent part.
    exp: bool,
    /// The digits before the exponent, point left out, as an integer (exact while
    /// `digits` ≤ 19; wrapped beyond, and then unused).
    mantissa: u64,
    /// How many digits `mantissa` was made of (leading zeros included).
    digits: usize,
    /// How many of them come after the point.
    fraction: usize,
}

/// 10^0 to 10^15, all exact in f64.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

impl<'a> Num<'a> {
    /// The literal as text (for the general parsers and for messages).
    pub(crate) fn text(&self) -> &'a str {
        // The bytes are ASCII (see `bytes`), so this cannot fail.
        std::str::from_utf8(self.bytes).unwrap_or("0")
    }

    /// True for an integer literal (no point, no exponent).
    #[inline]
    pub(crate) fn is_int(&self) -> bool {
        self.fraction == 0 && !self.exp
    }

    /// True for a literal with a `-` in front (`-0` included).
    #[inline]
    pub(crate) fn is_negative(&self) -> bool {
        self.neg
    }

    /// An integer literal of up to 18 digits, from the digits the reader added up.
    #[inline]
    pub(crate) fn small_int(&self) -> Option<i64> {
        if !self.is_int() || self.digits > 18 {
            return None;
        }
        let v = self.mantissa as i64;
        Some(if self.neg { -v } else { v })
    }

    /// A non-negative integer literal of up to 18 digits.
    #[inline]
    pub(crate) fn small_uint(&self) -> Option<u64> {
        match self.neg {
            true => None,
            false => self.small_int().map(|v| v as u64),
        }
    }

    /// The value JS's `JSON.parse` gives (correctly rounded).
    #[inline]
    pub(crate) fn to_f64(&self) -> f64 {
        // Up to 15 digits and no exponent: the digits as an integer m < 10^15 and the
        // count k of them after the point are both exact in f64, so one division gives the
        // correctly rounded m / 10^k (Clinger's fast path). Anything else: the general
        // parser.
        if !self.exp && self.digits <= 15 {
            let m = self.mantissa as f64;
            // An integer needs no division (it is exact already).
            let f = if self.fraction == 0 {
                m
            } else {
                m / POW10[self.fraction]
            };
            return if self.neg { -f } else { f };
        }
        self.text().parse().unwrap_or(f64::NAN)
    }
}

/// A cursor over JSON text.
pub(crate) struct Reader<'a> {
    pub bytes: &'a [u8],
    pub pos: usize,
    /// Added to `pos` in error offsets (where `bytes` is a slice of a larger input).
    pub base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            pos: 0,
            base: 0,
        }
    }

    /// Current offset in the whole input.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn err(&self, msg: impl Into<String>) -> Error {
        Error::syntax(msg, self.offset())
    }

    fn eof(&self) -> Error {
        Error::eof(self.offset())
    }

    /// Skip whitespace and return the next byte without consuming it.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.pos) {
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            } else {
                return Some(b);
            }
        }
        None
    }

    /// Skip whitespace and return the next byte, or an end-of-input error.
    #[inline]
    pub(crate) fn peek_some(&mut self) -> Result<u8> {
        self.peek().ok_or_else(|| self.eof())
    }

    /// Consume `b` (after whitespace) or fail.
    #[inline]
    pub(crate) fn expect(&mut self, b: u8, what: &str) -> Result<()> {
        match self.peek() {
            Some(c) if c == b => {
                self.pos += 1;
                Ok(())
            }
            Some(c) => Err(self.err(format!("expected {what}, found {}", describe(c)))),
            None => Err(self.eof()),
        }
    }

    /// Consume a literal keyword (`null`, `true`, `false`).
    pub(crate) fn keyword(&mut self, kw: &[u8]) -> Result<()> {
        if self.bytes[self.pos..].starts_with(kw) {
            self.pos += kw.len();
            Ok(())
        } else if self.bytes.len() - self.pos < kw.len() && kw.starts_with(&self.bytes[self.pos..])
        {
            Err(Error::eof(self.base + self.bytes.len()))
        } else {
            Err(self.err(format!(
                "expected `{}`",
                std::str::from_utf8(kw).unwrap_or("")
            )))
        }
    }

    /// Parse a string literal; the reader must be at its opening quote.
    #[inline]
    pub(crate) fn string<'s>(&mut self, scratch: &'s mut Vec<u8>) -> Result<Str<'a, 's>> {
        debug_assert_eq!(self.bytes.get(self.pos), Some(&b'"'));
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes. The plain run ends at the closing quote, a backslash or a
        // control character.
        let (end, ascii) = plain_run_end_ascii(self.bytes, self.pos);
        self.pos = end;
        match self.bytes.get(self.pos) {
            None => return Err(self.eof()),
            Some(b'"') => {
                let s = &self.bytes[start..self.pos];
                self.pos += 1;
                if ascii {
                    // SAFETY: every byte of `s` is below 0x80 (the scan that found its end
                    // checked them all; `ascii_flag_covers_exactly_the_bytes_of_the_run`
                    // tests it for every byte at every position), and ASCII is UTF-8.
                    // Why: skipping `from_utf8`'s second pass made typed superjson decode
                    // 13-16% faster (small 1.06 -> 0.90 µs, large 6.3 -> 5.5 ms, min of 40
                    // rounds, same process); it was ≈ 10% of a large decode's profile.
                    #[allow(unsafe_code)]
                    return Ok(Str::Borrowed(unsafe { std::str::from_utf8_unchecked(s) }));
                }
                return std::str::from_utf8(s).map(Str::Borrowed).map_err(|e| {
                    Error::syntax(
                        "invalid UTF-8 in string",
                        self.base + start + e.valid_up_to(),
                    )
                });
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.err("control character in string")),
        }
        scratch.clear();
        scratch.extend_from_slice(&self.bytes[start..self.pos]);
        loop {
            match self.bytes.get(self.pos) {
                None => return Err(self.eof()),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let esc = *self.bytes.get(self.pos).ok_or_else(|| self.eof())?;
                    self.pos += 1;
                    match esc {
                        b'"' | b'\\' | b'/' => scratch.push(esc),
                        b'b' => scratch.push(8),
                        b'f' => scratch.push(12),
                        b'n' => scratch.push(b'\n'),
                        b'r' => scratch.push(b'\r'),
                        b't' => scratch.push(b'\t'),
                        b'u' => {
                            let c = self.unicode_escape()?;
                            let mut buf = [0u8; 4];
                            scratch.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.err("invalid escape in string"));
                        }
                    }
                }
                Some(&b) if b < 0x20 => return Err(self.err("control character in string")),
                Some(&b) => {
                    scratch.push(b);
                    self.pos += 1;
                }
            }
        }
        std::str::from_utf8(scratch)
            .map(Str::Copied)
            .map_err(|_| Error::syntax("invalid UTF-8 in string", self.base + start))
    }

    fn hex4(&mut self) -> Result<u16> {
        let s = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| Error::eof(self.base + self.bytes.len()))?;
        let mut v = 0u16;
        for &b in s {
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| self.err("invalid \\u escape"))?;
            v = v * 16 + d as u16;
        }
        self.pos += 4;
        Ok(v)
    }

    fn unicode_escape(&mut self) -> Result<char> {
        let at = self.offset() - 2;
        let hi = self.hex4()?;
        let lone = || {
            Error::syntax(
                format!("lone surrogate \\u{hi:04x} cannot be held in a Rust string"),
                at,
            )
        };
        match hi {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(lone());
                }
                self.pos += 2;
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return Err(lone());
                }
                let c = 0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                char::from_u32(c).ok_or_else(lone)
            }
            0xDC00..=0xDFFF => Err(lone()),
            _ => char::from_u32(u32::from(hi)).ok_or_else(lone),
        }
    }

    /// Parse a number literal (JSON grammar: no leading zeros, no `+`, no bare `.`).
    #[inline(always)]
    pub(crate) fn number(&mut self) -> Result<Num<'a>> {
        let start = self.pos;
        let b = self.bytes;
        let mut i = self.pos;
        let neg = b.get(i) == Some(&b'-');
        i += usize::from(neg);
        // The digits are added up as they are checked (`Num::mantissa`).
        let mut mantissa = 0u64;
        let mut digits_from = |i: &mut usize| {
            let first = *i;
            while let Some(&d) = b.get(*i).filter(|d| d.is_ascii_digit()) {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                *i += 1;
            }
            *i - first
        };
        let mut digits = match b.get(i) {
            Some(b'0') => {
                i += 1;
                1
            }
            Some(b'1'..=b'9') => digits_from(&mut i),
            None => return Err(Error::eof(self.base + i)),
            _ => return Err(Error::syntax("invalid number", self.base + start)),
        };
        let mut fraction = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            fraction = digits_from(&mut i);
            if fraction == 0 {
                return Err(Error::syntax("invalid number", self.base + start));
            }
            digits += fraction;
        }
        let exp = matches!(b.get(i), Some(b'e' | b'E'));
        if exp {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(Error::syntax("invalid number", self.base + start));
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        self.pos = i;
        Ok(Num {
            bytes: &b[start..i],
            neg,
            exp,
            mantissa,
            digits,
            fraction,
        })
    }

    /// Skip one value, checking its syntax, without building anything. `depth` is how many
    /// more levels of nesting are allowed.
    pub(crate) fn skip_value(&mut self, depth: usize) -> Result<()> {
        let mut scratch = Vec::new();
        // An explicit stack of open containers, so deep input cannot overflow ours.
        let mut stack: Vec<u8> = Vec::new();
        loop {
            match self.peek_some()? {
                b'{' => {
                    self.pos += 1;
                    if stack.len() >= depth {
                        return Err(depth_error(depth, self.offset()));
                    }
                    if self.peek_some()? == b'}' {
                        self.pos += 1;
                    } else {
                        stack.push(b'}');
                        self.skip_key(&mut scratch)?;
                        continue;
                    }
                }
                b'[' => {
                    self.pos += 1;
                    if stack.len() >= depth {
                        return Err(depth_error(depth, self.offset()));
                    }
                    if self.peek_some()? == b']' {
                        self.pos += 1;
                    } else {
                        stack.push(b']');
                        continue;
                    }
                }
                b'"' => {
                    self.string(&mut scratch)?;
                }
                b'n' => self.keyword(b"null")?,
                b't' => self.keyword(b"true")?,
                b'f' => self.keyword(b"false")?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                c => return Err(self.err(format!("expected a value, found {}", describe(c)))),
            }
            // After a value: close containers or move to the next element.
            loop {
                let Some(&close) = stack.last() else {
                    return Ok(());
                };
                match self.peek_some()? {
                    b',' => {
                        self.pos += 1;
                        if close == b'}' {
                            self.skip_key(&mut scratch)?;
                        } else if self.peek_some()? == b']' {
                            return Err(self.err("trailing comma in array"));
                        }
                        break;
                    }
                    c if c == close => {
                        self.pos += 1;
                        stack.pop();
                    }
                    c => {
                        return Err(self.err(format!(
                            "expected `,` or `{}`, found {}",
                            close as char,
                            describe(c)
                        )))
                    }
                }
            }
        }
    }

    /// Before element number `index` of an array whose `[` is read: the `,` that comes
    /// before every element but the first is read; `false` at the closing `]` (left for the
    /// caller). Every array reader steps through its elements with this, so they report
    /// the same errors.
    #[inline(always)]
    pub(crate) fn next_element(&mut self, index: usize) -> Result<bool> {
        match self.peek_some()? {
            b']' => return Ok(false),
            b',' if index > 0 => {
                self.pos += 1;
                if self.peek_some()? == b']' {
                    return Err(self.err("trailing comma in array"));
                }
            }
            c if index > 0 => {
                return Err(self.err(format!("expected `,` or `]`, found {}", describe(c))))
            }
            _ => {}
        }
        Ok(true)
    }

    /// Before the next member of an object whose `{` is read (`first` for the first one):
    /// the `,` before every member but the first is read, and the reader is left at the
    /// key's opening quote; `false` at the closing `}` (left for the caller).
    #[inline(always)]
    pub(crate) fn next_member(&mut self, first: bool) -> Result<bool> {
        match self.peek_some()? {
            b'}' => return Ok(false),
            b',' if !first => self.pos += 1,
            c if !first => {
                return Err(self.err(format!("expected `,` or `}}`, found {}", describe(c))))
            }
            _ => {}
        }
        if self.peek_some()? != b'"' {
            return Err(self.err("expected a string key"));
        }
        Ok(true)
    }

    fn skip_key(&mut self, scratch: &mut Vec<u8>) -> Result<()> {
        if self.peek_some()? != b'"' {
            return Err(self.err("expected a string key"));
        }
        self.string(scratch)?;
        self.expect(b':', "`:`")
    }

    /// Fail unless only whitespace is left.
    pub(crate) fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(c) => Err(self.err(format!(
                "trailing characters after the document: {}",
                describe(c)
            ))),
        }
    }
}

/// The error for input nested deeper than the limit.
pub(crate) fn depth_error(limit: usize, offset: usize) -> Error {
    Error::limit(format!("nesting deeper than the depth limit of {limit}")).at_offset(offset)
}

pub(crate) fn describe(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("`{}`", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_checks_syntax_and_depth() {
        let mut r = Reader::new(br#"{"a":[1,2,{"b":null}],"c":"\u00e9"} "#);
        r.skip_value(10).unwrap();
        r.end().unwrap();
        let mut r = Reader::new(b"[[[1]]]");
        assert!(r.skip_value(2).unwrap_err().is_limit());
    }

    #[test]
    fn strings_and_surrogates() {
        let mut s = Vec::new();
        let mut r = Reader::new(br#""\ud83d\ude00""#);
        assert_eq!(r.string(&mut s).unwrap().as_str(), "😀");
        let mut r = Reader::new(br#""a\ud800b""#);
        let e = r.string(&mut s).err().unwrap();
        assert_eq!(
            e.to_string(),
            "lone surrogate \\ud800 cannot be held in a Rust string at byte 2"
        );
    }

    /// The number fast paths (Clinger's for short decimals, the integer readers) give
    /// exactly what the general parsers give, bit for bit: random literals of 1 to 20
    /// digits, with and without a point, sign and exponent, plus the edges.
    #[test]
    fn number_fast_paths_match_the_general_parsers() {
        let check = |text: &str| {
            let mut r = Reader::new(text.as_bytes());
            let n = r.number().unwrap();
            assert_eq!(r.pos, text.len(), "{text}");
            let want: f64 = text.parse().unwrap();
            assert_eq!(n.to_f64().to_bits(), want.to_bits(), "{text}");
            if n.is_int() {
                assert_eq!(
                    n.small_int(),
                    text.parse::<i64>()
                        .ok()
                        .filter(|_| text.trim_start_matches('-').len() <= 18),
                    "{text}"
                );
                assert_eq!(
                    n.small_uint(),
                    text.parse::<u64>().ok().filter(|_| text.len() <= 18),
                    "{text}"
                );
            } else {
                assert_eq!(n.small_int(), None, "{text}");
            }
        };
        for edge in [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "9",
            "0.1",
            "0.3",
            "123456789012345",
            "999999999999999",
            "9999999999999999",
            "0.000000000000001",
            "1.00000000000000",
            "-999999999999.999",
            "9007199254740993",
            "123456789012345678",
            "1234567890123456789",
            "18446744073709551615",
            "1e5",
            "1.5E-3",
            "2.2250738585072014e-308",
        ] {
            check(edge);
        }
        let mut next = crate::testing::xorshift(0x2545_F491_4F6C_DD1D);
        for _ in 0..300_000 {
            let r = next();
            let digits = 1 + (r % 20) as usize;
            let mut text = String::new();
            if r & (1 << 8) != 0 {
                text.push('-');
            }
            let body: String = (0..digits)
                .map(|i| {
                    let d = (next() % 10) as u8;
                    // No leading zero unless the integer part is a lone 0.
                    char::from(b'0' + if i == 0 && digits > 1 { d.max(1) } else { d })
                })
                .collect();
            let point = (r >> 16) as usize % (digits + 1);
            if point > 0 && point < digits && r & (1 << 9) != 0 {
                text.push_str(&body[..point]);
                text.push('.');
                text.push_str(&body[point..]);
            } else if r & (1 << 10) != 0 {
                text.push_str("0.");
                text.push_str(&body);
            } else {
                text.push_str(&body);
            }
            if r & (1 << 11) != 0 && r & (1 << 12) != 0 {
                text.push_str(&format!("e{}", (r >> 24) as i64 % 40 - 20));
            }
            check(&text);
        }
    }
}
