//! The relay's clock: the one place that reads the system time. Core has no clock of its own
//! (time is passed in), and every relay module that needs "now" asks here, so no module has to
//! import another one's for the time.

use std::time::{SystemTime, UNIX_EPOCH};

use leadgate_core::Timestamp;

/// Now, in milliseconds since the Unix epoch (0 if the system clock is before 1970).
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Timestamp(ms)
}

/// Now as Unix milliseconds (what the forwarding queue's `next_at` columns hold).
pub fn unix_ms() -> u64 {
    now().0
}

/// Now as RFC 3339 in UTC with milliseconds, `2026-11-26T23:24:56.123Z` (what `received_at`,
/// log lines and delivery times hold).
pub fn rfc3339() -> String {
    now().to_rfc3339()
}

/// The UTC day of `at`, `2026-11-26` (what the funnel counts events by).
pub fn day(at: Timestamp) -> String {
    let mut text = at.to_rfc3339();
    text.truncate(10);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_times() {
        // (ms, day, RFC 3339)
        let cases = [
            (0, "1970-01-01", "1970-01-01T00:00:00.000Z"),
            (1_795_735_496_123, "2026-11-26", "2026-11-26T23:24:56.123Z"),
            (1_795_737_600_000, "2026-11-27", "2026-11-27T00:00:00.000Z"),
        ];
        for (ms, want_day, want_time) in cases {
            assert_eq!(day(Timestamp(ms)), want_day, "{ms}");
            assert_eq!(Timestamp(ms).to_rfc3339(), want_time, "{ms}");
        }
    }

    #[test]
    fn now_is_after_this_code_was_written() {
        assert!(unix_ms() > 1_795_735_496_123);
        assert_eq!(rfc3339().len(), "2026-11-26T23:24:56.123Z".len());
        assert_eq!(day(now()).len(), 10);
    }
}
