//! Time as a plain number: milliseconds since the Unix epoch, passed in by the caller.

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since 1970-01-01T00:00:00Z (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
        }
    }
}
