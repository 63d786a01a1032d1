//! [`Date`]: a JS `Date`, milliseconds since the Unix epoch, possibly invalid.

use chrono::{DateTime, TimeZone, Utc};
use std::fmt;

/// Largest absolute time value a JS `Date` can hold, in milliseconds (±100,000,000 days).
pub const MAX_TIME_MS: f64 = 8.64e15;
const MS_PER_DAY: i64 = 86_400_000;

/// A JS `Date`: a whole number of milliseconds since 1970-01-01T00:00:00Z in
/// ±8.64e15, or an invalid date.
///
/// Construction applies JS's `TimeClip`: fractions are truncated toward zero, `-0` becomes
/// `0`, and anything non-finite or out of range becomes the invalid date.
///
/// ```
/// use polycodec::Date;
/// let d = Date::parse("2024-01-02T03:04:05.678Z");
/// assert_eq!(d.millis(), Some(1_704_164_645_678.0));
/// assert_eq!(d.to_iso_string().as_deref(), Some("2024-01-02T03:04:05.678Z"));
/// assert!(!Date::parse("not a date").is_valid());
/// ```
#[derive(Clone, Copy)]
pub struct Date(f64);

impl Date {
    /// The date at `ms` milliseconds since the epoch, after `TimeClip`.
    pub fn from_millis(ms: f64) -> Date {
        if !ms.is_finite() || ms.abs() > MAX_TIME_MS {
            Date(f64::NAN)
        } else {
            // Toward zero, -0 as +0: `ms.trunc() + 0.0`, but through an i64, exact within
            // ±8.64e15 (< 2^53 past which every f64 is whole), where `trunc` is a libm
            // call on a baseline x86-64 (no SSE4.1 `roundsd`): a Date field read per record
            // paid for it.
            Date((ms as i64) as f64)
        }
    }

    /// The invalid date (`new Date(NaN)`).
    pub fn invalid() -> Date {
        Date(f64::NAN)
    }

    /// The current time.
    pub fn now() -> Date {
        Date::from(Utc::now())
    }

    /// Milliseconds since the epoch, or `None` for an invalid date.
    pub fn millis(&self) -> Option<f64> {
        (!self.0.is_nan()).then_some(self.0)
    }

    /// The raw time value: milliseconds, or NaN when invalid (what JS `getTime()` returns).
    pub fn time_value(&self) -> f64 {
        self.0
    }

    /// True unless this is the invalid date.
    pub fn is_valid(&self) -> bool {
        !self.0.is_nan()
    }

    /// JS `toISOString()`: `YYYY-MM-DDTHH:mm:ss.sssZ`, with a signed six-digit year outside
    /// 0..=9999. `None` for an invalid date (where JS throws).
    pub fn to_iso_string(&self) -> Option<String> {
        let mut s = String::with_capacity(27);
        self.write_iso(&mut s).then_some(s)
    }

    /// Append the ISO form to `out`; false (and nothing written) for an invalid date.
    pub(crate) fn write_iso(&self, out: &mut String) -> bool {
        match self.iso_bytes() {
            Some(iso) => {
                out.push_str(iso.as_str());
                true
            }
            None => false,
        }
    }

    /// The ISO form in a stack buffer (no allocation); `None` for an invalid date.
    pub(crate) fn iso_bytes(&self) -> Option<IsoText> {
        let ms = self.millis()? as i64;
        let days = ms.div_euclid(MS_PER_DAY);
        // Below a day: fits a u32, whose divisions by constants are cheap.
        let rem = ms.rem_euclid(MS_PER_DAY) as u32;
        let (y, m, d) = civil_from_days(days);
        let (h, mi, s, milli) = (
            rem / 3_600_000,
            rem / 60_000 % 60,
            rem / 1000 % 60,
            rem % 1000,
        );
        // Digits written by hand, two at a time: this runs for every Date a codec writes,
        // and `write!` costs several times as much.
        let mut t = IsoText {
            buf: *b"0000-00-00T00:00:00.000Z\0\0\0",
            len: 24,
        };
        let at = if (0..=9999).contains(&y) {
            let y = y as u32;
            t.pair(0, y / 100);
            t.pair(2, y % 100);
            0
        } else {
            // `±YYYYYY`: the years JS can hold (at most 275,760) fit six digits.
            let y6 = y.unsigned_abs() as u32;
            t.buf.copy_within(4..24, 7);
            t.buf[0] = if y < 0 { b'-' } else { b'+' };
            t.pair(1, y6 / 10_000);
            t.pair(3, y6 / 100 % 100);
            t.pair(5, y6 % 100);
            t.len = 27;
            3
        };
        t.pair(at + 5, m as u32);
        t.pair(at + 8, d as u32);
        t.pair(at + 11, h);
        t.pair(at + 14, mi);
        t.pair(at + 17, s);
        t.buf[at + 20] = b'0' + (milli / 100) as u8;
        t.pair(at + 21, milli % 100);
        Some(t)
    }

    /// Parse a date string the way JS `new Date(string)` reads the ISO forms: `YYYY`,
    /// `YYYY-MM`, `YYYY-MM-DD` (UTC), followed optionally by `THH:mm`, `:ss`, `.fraction`
    /// and `Z` or `±HH:mm`. Years may be written `±YYYYYY`. A date-time without an offset
    /// is read as UTC (JS would use the reader's local zone). Anything else, or a time
    /// outside the JS range, gives the invalid date (as JS does for junk). Surrounding
    /// whitespace and a `,` before the fraction make it invalid, as in JS.
    pub fn parse(s: &str) -> Date {
        if let Some(ms) = parse_canonical(s.as_bytes()) {
            return Date::from_millis(ms);
        }
        parse_iso(s).map_or(Date::invalid(), Date::from_millis)
    }
}

/// A Date's ISO text (at most 27 ASCII bytes), built without allocating.
pub(crate) struct IsoText {
    buf: [u8; 27],
    len: usize,
}

impl IsoText {
    /// `v` (below 100) as two digits at `at`.
    #[inline]
    fn pair(&mut self, at: usize, v: u32) {
        use crate::value::number::PAIRS;
        let i = v as usize * 2;
        self.buf[at] = PAIRS[i];
        self.buf[at + 1] = PAIRS[i + 1];
    }

    /// The text's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl Default for Date {
    /// The epoch.
    fn default() -> Self {
        Date(0.0)
    }
}

impl PartialEq for Date {
    /// Invalid dates are equal to each other.
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || (self.0.is_nan() && other.0.is_nan())
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_iso_string() {
            Some(s) => write!(f, "Date({s})"),
            None => f.write_str("Date(Invalid Date)"),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_iso_string() {
            Some(s) => f.write_str(&s),
            None => f.write_str("Invalid Date"),
        }
    }
}

impl<Tz: TimeZone> From<DateTime<Tz>> for Date {
    /// Milliseconds are kept; anything below a millisecond is truncated (JS dates have
    /// millisecond resolution).
    fn from(d: DateTime<Tz>) -> Self {
        Date::from_millis(d.timestamp_millis() as f64)
    }
}

impl TryFrom<Date> for DateTime<Utc> {
    type Error = crate::Error;
    /// Fails for an invalid date and for the few JS dates beyond chrono's range
    /// (years beyond ±262,142).
    fn try_from(d: Date) -> crate::Result<Self> {
        let ms = d
            .millis()
            .ok_or_else(|| crate::Error::data("invalid Date has no chrono equivalent"))?;
        DateTime::from_timestamp_millis(ms as i64)
            .ok_or_else(|| crate::Error::data(format!("Date {d} is outside chrono's range")))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The form JS writes, `YYYY-MM-DDTHH:mm:ss.sssZ`, read without the general parser.
#[inline]
fn parse_canonical(b: &[u8]) -> Option<f64> {
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some((days * MS_PER_DAY + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms) as f64)
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let s = self.b.get(self.i..self.i + n)?;
        let mut v = 0i64;
        for &c in s {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        self.i += n;
        Some(v)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

fn parse_iso(s: &str) -> Option<f64> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let year = match c.b.first()? {
        b'+' | b'-' => {
            let neg = c.b[0] == b'-';
            c.i = 1;
            let y = c.digits(6)?;
            if neg && y == 0 {
                return None;
            }
            if neg {
                -y
            } else {
                y
            }
        }
        _ => c.digits(4)?,
    };
    let (mut month, mut day) = (1, 1);
    if c.eat(b'-') {
        month = c.digits(2)?;
        if c.eat(b'-') {
            day = c.digits(2)?;
        }
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (mut h, mut mi, mut sec, mut ms) = (0, 0, 0.0f64, 0.0f64);
    let mut offset_min = 0i64;
    if c.eat(b'T') || c.eat(b't') || c.eat(b' ') {
        h = c.digits(2)?;
        if !c.eat(b':') {
            return None;
        }
        mi = c.digits(2)?;
        if c.eat(b':') {
            sec = c.digits(2)? as f64;
            if c.eat(b'.') {
                let start = c.i;
                while c.b.get(c.i).is_some_and(u8::is_ascii_digit) {
                    c.i += 1;
                }
                let frac = &s[start..c.i];
                if frac.is_empty() {
                    return None;
                }
                // Milliseconds: the first three digits, truncated like V8.
                let three = format!("{frac:0<3}");
                ms = three[..3].parse::<f64>().ok()?;
            }
        }
        if h > 24 || mi > 59 || sec > 59.0 || (h == 24 && (mi > 0 || sec > 0.0 || ms > 0.0)) {
            return None;
        }
        if c.eat(b'Z') || c.eat(b'z') {
        } else if c.b.get(c.i) == Some(&b'+') || c.b.get(c.i) == Some(&b'-') {
            let sign = if c.b[c.i] == b'-' { -1 } else { 1 };
            c.i += 1;
            let oh = c.digits(2)?;
            c.eat(b':');
            let om = c.digits(2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            offset_min = sign * (oh * 60 + om);
        }
    } else if c.eat(b'Z') {
    }
    if !c.done() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let t = days as f64 * MS_PER_DAY as f64
        + (h * 3_600_000 + mi * 60_000 - offset_min * 60_000) as f64
        + sec * 1000.0
        + ms;
    (t.abs() <= MAX_TIME_MS).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips_across_the_whole_range() {
        for s in [
            "1970-01-01T00:00:00.000Z",
            "1969-07-20T20:17:40.000Z",
            "0000-01-01T00:00:00.000Z",
            "-000001-01-01T00:00:00.000Z",
            "+275760-09-13T00:00:00.000Z",
            "-271821-04-20T00:00:00.000Z",
            "2038-01-19T03:14:08.000Z",
            "9999-12-31T23:59:59.999Z",
            "+010000-01-01T00:00:00.000Z",
        ] {
            assert_eq!(Date::parse(s).to_iso_string().as_deref(), Some(s), "{s}");
        }
    }

    #[test]
    fn iso_text_matches_chrono_over_years_0_to_9999() {
        // A prime step visits every field value many times over.
        let (first, last) = (-62_167_219_200_000i64, 253_402_300_799_999i64);
        let mut ms = first;
        while ms <= last {
            let want = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            let got = Date::from_millis(ms as f64).to_iso_string().unwrap();
            assert_eq!(got, want, "{ms}");
            ms += 7_919_237_861;
        }
    }

    #[test]
    fn js_parse_forms() {
        assert_eq!(
            Date::parse("2020-01-01").millis(),
            Some(1_577_836_800_000.0)
        );
        assert_eq!(
            Date::parse("2020-01-01T01:00:00+01:00").millis(),
            Some(1_577_836_800_000.0)
        );
        assert_eq!(Date::parse("2020-01").millis(), Some(1_577_836_800_000.0));
        assert!(!Date::parse("+275760-09-13T00:00:00.001Z").is_valid());
        assert!(!Date::parse("-000000-01-01T00:00:00.000Z").is_valid());
        assert!(!Date::parse("2020-13-01").is_valid());
        assert!(!Date::parse("").is_valid());
    }

    #[test]
    fn time_clip() {
        assert_eq!(Date::from_millis(1.9).millis(), Some(1.0));
        assert_eq!(Date::from_millis(-1.9).millis(), Some(-1.0));
        assert!(Date::from_millis(-0.0).millis().unwrap().is_sign_positive());
        assert!(!Date::from_millis(8.64e15 + 1.0).is_valid());
        assert!(Date::from_millis(-8.64e15).is_valid());
    }

    #[test]
    fn chrono_conversions() {
        let c = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let d = Date::from(c);
        assert_eq!(DateTime::<Utc>::try_from(d).unwrap(), c);
        assert!(DateTime::<Utc>::try_from(Date::invalid()).is_err());
    }
}
