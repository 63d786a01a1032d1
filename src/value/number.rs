//! JS number semantics: `Number#toString` formatting, `ToNumber` on strings, `BigInt()`
//! parsing, and canonical array indexes.

use num_bigint::BigInt;
use num_traits::{Num, Zero};

/// Largest integer a JS number holds exactly (2^53 − 1).
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The longest text a bigint is read from (decimal digits, or `0x`/`0o`/`0b` and digits),
/// in every codec. Reading and writing decimal text takes time quadratic in its length
/// (num-bigint: a megabyte of digits took 3 s to read), so one message could otherwise
/// cost minutes of CPU. 10,000 digits is a 33,000-bit number.
pub const MAX_BIGINT_TEXT: usize = 10_000;

/// Every reader's check of a bigint's text before it is parsed: a `Limit` error past
/// [`MAX_BIGINT_TEXT`] characters.
pub(crate) fn check_bigint_text(text: &str) -> crate::Result<()> {
    if text.len() > MAX_BIGINT_TEXT {
        return Err(crate::Error::limit(format!(
            "bigint of {} characters is over the limit of {MAX_BIGINT_TEXT}",
            text.len()
        )));
    }
    Ok(())
}

/// JS `Number#toString()` of `n`: shortest round-trip digits, `1e+21` style exponents,
/// `NaN`, `Infinity`, and `0` for -0.
pub fn format(n: f64) -> String {
    if n == 0.0 {
        return "0".to_owned();
    }
    let mut buf = ryu_js::Buffer::new();
    buf.format(n).to_owned()
}

/// Append a finite number formatted as JS does to `out`. The caller handles non-finite
/// values (JSON has no form for them).
#[inline]
pub fn write_finite(out: &mut Vec<u8>, n: f64) {
    debug_assert!(n.is_finite());
    if n == 0.0 {
        out.push(b'0');
    } else if n.abs() < 1e15 && (n as i64) as f64 == n {
        // An integer (the cast round trip is exact only for them; cheaper than `fract`,
        // which is a libm call without SSE4.1).
        write_int(out, n as i64);
    } else {
        write_fraction(out, n);
    }
}

/// A finite number that is not a small integer. `zmij` (the shortest round-trip digits,
/// ≈ 3× faster than `ryu_js` here) writes plain decimal notation for most of them exactly
/// as JS does; JS's own notation differs only where zmij writes an exponent or a trailing
/// `.0`, and those go through `ryu_js`. `tests::zmij_fast_path_matches_ryu_js` compares
/// the two over millions of random and boundary numbers.
fn write_fraction(out: &mut Vec<u8>, n: f64) {
    let mut buf = zmij::Buffer::new();
    let text = buf.format_finite(n).as_bytes();
    if js_notation(text) {
        out.extend_from_slice(text);
    } else {
        let mut buf = ryu_js::Buffer::new();
        out.extend_from_slice(buf.format_finite(n).as_bytes());
    }
}

/// True when zmij's text of a number is also JS's: no exponent and no `.0` ending.
#[inline]
fn js_notation(text: &[u8]) -> bool {
    !text.contains(&b'e') && !text.ends_with(b".0")
}

/// Append a decimal integer to `out` (the common case of JS numbers on the wire).
#[inline]
pub fn write_int(out: &mut Vec<u8>, n: i64) {
    // Small non-negative numbers (indexes, counts, ids) are the common case: their digits
    // go out as one fixed-size copy instead of a call to `memcpy`.
    if (0..10_000).contains(&n) {
        let n = n as usize;
        let (digits, len) = if n < 10 {
            ([b'0' + n as u8, 0, 0, 0], 1)
        } else if n < 100 {
            ([PAIRS[2 * n], PAIRS[2 * n + 1], 0, 0], 2)
        } else if n < 1000 {
            let (h, r) = (n / 100, n % 100);
            ([b'0' + h as u8, PAIRS[2 * r], PAIRS[2 * r + 1], 0], 3)
        } else {
            let (h, r) = (n / 100, n % 100);
            (
                [
                    PAIRS[2 * h],
                    PAIRS[2 * h + 1],
                    PAIRS[2 * r],
                    PAIRS[2 * r + 1],
                ],
                4,
            )
        };
        let end = out.len() + len;
        out.extend_from_slice(&digits);
        out.truncate(end);
        return;
    }
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(n).as_bytes());
}

/// "00" to "99": two decimal digits per lookup (integers here, Date text in `date.rs`).
pub(crate) const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
                             2021222324252627282930313233343536373839\
                             4041424344454647484950515253545556575859\
                             6061626364656667686970717273747576777879\
                             8081828384858687888990919293949596979899";

/// True for numbers JS holds as exact integers (`Number.isSafeInteger`).
pub fn is_safe_integer(n: f64) -> bool {
    n.abs() <= MAX_SAFE_INTEGER && (n as i64) as f64 == n
}

/// The canonical array index a key stands for (`"0"` to `"4294967294"`, no leading zeros,
/// no sign), as JS uses to order object keys.
#[inline]
pub fn array_index(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    (v < u64::from(u32::MAX)).then_some(v as u32)
}

/// JS's `WhiteSpace` and `LineTerminator` (what `Number("...")` and `BigInt("...")` trim):
/// Rust's `char::is_whitespace` also counts U+0085, which JS does not.
fn is_js_whitespace(c: char) -> bool {
    (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}'
}

/// JS `String(v)` for what JSON holds: an array joins its elements with `,`, `null` and
/// `undefined` inside it as empty (`String([null])` is `""`, `String(null)` is `"null"`);
/// anything else that is no primitive is `"[object Object]"`, as is an array nested past
/// 64 levels (its text would be junk to every caller here anyway).
pub(crate) fn js_string(v: &super::Value) -> String {
    let mut out = String::new();
    push_js_string(v, &mut out, 0);
    out
}

/// [`js_string`] of an array holding `items`.
pub(crate) fn js_array_string(items: &[super::Value]) -> String {
    let mut out = String::new();
    push_js_items(items, &mut out, 0);
    out
}

fn push_js_string(v: &super::Value, out: &mut String, depth: usize) {
    match v {
        super::Value::String(s) => out.push_str(s),
        super::Value::Null => out.push_str("null"),
        super::Value::Undefined => out.push_str("undefined"),
        super::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        super::Value::Number(n) => out.push_str(&format(*n)),
        super::Value::Array(a) if depth < 64 => push_js_items(a, out, depth + 1),
        _ => out.push_str("[object Object]"),
    }
}

fn push_js_items(items: &[super::Value], out: &mut String, depth: usize) {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if !matches!(x, super::Value::Null | super::Value::Undefined) {
            push_js_string(x, out, depth);
        }
    }
}

/// JS `Number(string)`: surrounding whitespace ignored, `""` is 0, `Infinity` with an
/// optional sign, `0x`/`0o`/`0b` integers, decimal literals; anything else is NaN.
pub fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_whitespace);
    if t.is_empty() {
        return 0.0;
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            // num-bigint also takes a sign and `_` separators, which JS does not.
            if rest.is_empty() || !rest.bytes().all(|c| (c as char).is_digit(radix)) {
                return f64::NAN;
            }
            return match BigInt::from_str_radix(rest, radix) {
                Ok(v) => num_traits::ToPrimitive::to_f64(&v).unwrap_or(f64::INFINITY),
                _ => f64::NAN,
            };
        }
    }
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut seen_exp = false;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => seen_digit = true,
            b'.' if !seen_dot && !seen_exp => seen_dot = true,
            b'e' | b'E' if seen_digit && !seen_exp => {
                seen_exp = true;
                if matches!(bytes.get(i + 1), Some(b'+' | b'-')) {
                    i += 1;
                }
                if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    return f64::NAN;
                }
            }
            _ => return f64::NAN,
        }
        i += 1;
    }
    if !seen_digit {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

/// JS `BigInt(string)`: surrounding whitespace ignored, `""` is 0n, `0x`/`0o`/`0b` (no sign),
/// or a signed decimal integer. `Ok(None)` where JS throws a `SyntaxError`; a `Limit` error
/// past [`MAX_BIGINT_TEXT`] characters (see [`check_bigint_text`]).
pub(crate) fn string_to_bigint(s: &str) -> crate::Result<Option<BigInt>> {
    check_bigint_text(s)?;
    Ok(js_bigint(s))
}

fn js_bigint(s: &str) -> Option<BigInt> {
    let t = s.trim_matches(is_js_whitespace);
    if t.is_empty() {
        return Some(BigInt::zero());
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            if rest.is_empty() || !rest.bytes().all(|c| (c as char).is_digit(radix)) {
                return None;
            }
            return BigInt::from_str_radix(rest, radix).ok();
        }
    }
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    t.parse::<BigInt>().ok()
}

/// JS `BigInt(number)`: only integral finite numbers convert.
pub fn number_to_bigint(n: f64) -> Option<BigInt> {
    if !n.is_finite() || n.fract() != 0.0 {
        return None;
    }
    num_traits::FromPrimitive::from_f64(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_js() {
        let cases = [
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (1e-6, "0.000001"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (123456789012345680000.0, "123456789012345680000"),
            (18446744073709552000.0, "18446744073709552000"),
            (42.0, "42"),
            (-0.5, "-0.5"),
            (-0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
            (-9007199254740991.0, "-9007199254740991"),
        ];
        for (n, want) in cases {
            assert_eq!(format(n), want);
            if n.is_finite() {
                let mut out = Vec::new();
                write_finite(&mut out, n);
                assert_eq!(String::from_utf8(out).unwrap(), want);
            }
        }
    }

    /// `write_finite` takes zmij's text where it is JS's notation: it must be byte for byte
    /// what `ryu_js` (JS `Number#toString`) writes, for random bit patterns and for the
    /// numbers at each notation boundary.
    #[test]
    fn zmij_fast_path_matches_ryu_js() {
        let check = |n: f64| {
            if !n.is_finite() || n == 0.0 {
                return;
            }
            let mut ours = Vec::new();
            write_finite(&mut ours, n);
            let mut js = ryu_js::Buffer::new();
            assert_eq!(
                std::str::from_utf8(&ours).unwrap(),
                js.format_finite(n),
                "{n:e} ({:#x})",
                n.to_bits()
            );
        };
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            // xorshift64*: every exponent and mantissa pattern.
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let bits = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
            check(f64::from_bits(bits));
            // Numbers people write: few decimals, at every magnitude.
            let m = (bits % 1_000_000) as f64;
            let e = ((bits >> 20) % 50) as i32 - 25;
            check(m * 10f64.powi(e));
            check(m / 10f64.powi(e.abs()));
        }
        for e in -9..=23 {
            let p = 10f64.powi(e);
            for n in [p, p * 1.5, p * 9.999_999, p.next_up(), p.next_down(), -p] {
                check(n);
            }
        }
        for n in [
            1e15 + 0.5,
            9_007_199_254_740_993.0,
            0.1 + 0.2,
            5e-324,
            f64::MAX,
        ] {
            check(n);
        }
    }

    #[test]
    fn integers_like_js() {
        for n in (-20_000..20_000).chain([i64::MIN, i64::MAX, 9_007_199_254_740_991]) {
            let mut out = b"x".to_vec();
            write_int(&mut out, n);
            assert_eq!(out, format!("x{n}").as_bytes());
        }
    }

    #[test]
    fn array_indexes() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("4294967294"), Some(4_294_967_294));
        assert_eq!(array_index("4294967295"), None);
        assert_eq!(array_index("01"), None);
        assert_eq!(array_index("-1"), None);
        assert_eq!(array_index(""), None);
    }

    #[test]
    fn to_number_like_js() {
        assert_eq!(string_to_number("1e3"), 1000.0);
        assert_eq!(string_to_number(""), 0.0);
        assert_eq!(string_to_number(" 12 "), 12.0);
        assert_eq!(string_to_number("-0").to_bits(), (-0.0f64).to_bits());
        assert_eq!(string_to_number("0x1f"), 31.0);
        assert!(string_to_number("junk").is_nan());
        assert!(string_to_number("inf").is_nan());
        assert!(string_to_number("NaN").is_nan());
        assert_eq!(string_to_number("-Infinity"), f64::NEG_INFINITY);
        assert_eq!(string_to_number(".5"), 0.5);
        assert!(string_to_number("1e").is_nan());
    }

    #[test]
    fn to_bigint_like_js() {
        assert_eq!(string_to_bigint(" 12 ").unwrap(), Some(BigInt::from(12)));
        assert_eq!(string_to_bigint("0x1f").unwrap(), Some(BigInt::from(31)));
        assert_eq!(string_to_bigint("").unwrap(), Some(BigInt::from(0)));
        assert_eq!(string_to_bigint("-12").unwrap(), Some(BigInt::from(-12)));
        assert_eq!(string_to_bigint("abc").unwrap(), None);
        assert_eq!(string_to_bigint("-0x1").unwrap(), None);
        assert_eq!(string_to_bigint("1.5").unwrap(), None);
        assert_eq!(number_to_bigint(1.5), None);
        assert_eq!(
            number_to_bigint(1e21),
            "1000000000000000000000".parse().ok()
        );
    }
}
