//! Time as a plain number: milliseconds since the Unix epoch, passed in by the caller.

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since 1970-01-01T00:00:00Z (UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The time as RFC 3339 in UTC with milliseconds, e.g. `2026-11-26T23:24:56.000Z`.
    pub fn to_rfc3339(self) -> String {
        let ms = self.0 % 1000;
        let secs = self.0 / 1000;
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days as i64);
        let mut out = String::with_capacity(24);
        push_num(&mut out, y as u64, 4);
        out.push('-');
        push_num(&mut out, m as u64, 2);
        out.push('-');
        push_num(&mut out, d as u64, 2);
        out.push('T');
        push_num(&mut out, rem / 3600, 2);
        out.push(':');
        push_num(&mut out, rem % 3600 / 60, 2);
        out.push(':');
        push_num(&mut out, rem % 60, 2);
        out.push('.');
        push_num(&mut out, ms, 3);
        out.push('Z');
        out
    }

    /// Reads RFC 3339 (`2026-11-26T23:24:56Z`, `2026-11-26T23:24:56.123+01:00`; a space may
    /// stand for the `T`). Fractions beyond milliseconds are cut off. `None` for anything else,
    /// and for times before 1970.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let b = text.trim().as_bytes();
        let num = |from: usize, len: usize| -> Option<i64> {
            let digits = b.get(from..from + len)?;
            digits
                .iter()
                .try_fold(0i64, |n, d| d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0')))
        };
        let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
        if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
            return None;
        }
        let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        let (h, mi, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        if !(1..=12).contains(&mo)
            || d < 1
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || s > 60
        {
            return None;
        }
        let mut at = 19;
        let mut ms = 0;
        if sep(at, b".") {
            at += 1;
            let start = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                if at - start < 3 {
                    ms = ms * 10 + i64::from(b[at] - b'0');
                }
                at += 1;
            }
            match at - start {
                0 => return None,
                1 => ms *= 100,
                2 => ms *= 10,
                _ => {}
            }
        }
        let offset = match b.get(at..)? {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let (oh, om) = (num(at + 1, 2)?, num(at + 4, 2)?);
                if oh > 23 || om > 59 {
                    return None;
                }
                let o = oh * 3600 + om * 60;
                if *sign == b'+' {
                    o
                } else {
                    -o
                }
            }
            _ => return None,
        };
        let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s.min(59) - offset;
        u64::try_from(secs * 1000 + ms).ok().map(Timestamp)
    }

    /// Milliseconds from `earlier` to `self`; 0 when `earlier` is later.
    pub fn millis_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Appends `n` zero-padded to `width` digits (no `format!`: it weighs kilobytes in the wasm).
fn push_num(out: &mut String, n: u64, width: usize) {
    let digits = n.to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_795_735_496_123, "2026-11-26T23:24:56.123Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
        ];
        for (ms, want) in cases {
            assert_eq!(Timestamp(ms).to_rfc3339(), want, "{ms}");
            assert_eq!(Timestamp::parse_rfc3339(want), Some(Timestamp(ms)), "{want}");
        }
    }

    #[test]
    fn parses_rfc3339() {
        let cases: &[(&str, Option<u64>)] = &[
            ("2026-11-26T23:24:56Z", Some(1_795_735_496_000)),
            ("2026-11-26t23:24:56.1z", Some(1_795_735_496_100)),
            ("2026-11-26 23:24:56.12345Z", Some(1_795_735_496_123)),
            ("2026-11-27T00:24:56+01:00", Some(1_795_735_496_000)),
            ("2026-11-26T22:24:56-01:00", Some(1_795_735_496_000)),
            ("1970-01-01T00:00:00Z", Some(0)),
            ("1969-12-31T23:59:59Z", None),
            ("2026-02-29T00:00:00Z", None),
            ("2026-13-01T00:00:00Z", None),
            ("2026-11-26T24:00:00Z", None),
            ("2026-11-26T23:24:56", None),
            ("2026-11-26T23:24:56.Z", None),
            ("2026-11-26", None),
            ("", None),
            ("2026-11-26T23:24:56+0100", None),
            ("２０２６-11-26T23:24:56Z", None),
        ];
        for (text, want) in cases {
            assert_eq!(Timestamp::parse_rfc3339(text), want.map(Timestamp), "{text}");
        }
    }
}
