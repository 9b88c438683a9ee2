//! Lead velocity rate and speed to lead.
//!
//! Quantiles are the linear interpolation between order statistics (Hyndman & Fan 1996,
//! type 7, the default of R and NumPy): the median of 1, 2, 3, 4 is 2.5 and the 90th
//! percentile of 1..=10 is 9.1.

use serde::Serialize;

/// The `q` quantile (0..=1) of values sorted ascending, interpolated (type 7); `None` when
/// there are none.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * q.clamp(0.0, 1.0);
    let below = h.floor() as usize;
    let above = (below + 1).min(last);
    let (a, b) = (sorted[below], sorted[above]);
    Some(a + (h - below as f64) * (b - a))
}

/// Qualified leads this month against last month.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LeadVelocity {
    /// Qualified leads this month.
    pub this_month: u64,
    /// Qualified leads last month.
    pub last_month: u64,
    /// `this_month − last_month`.
    pub change: i64,
    /// The lead velocity rate: `change / last_month × 100`; `None` when last month had none
    /// (growth from nothing has no rate).
    pub rate_percent: Option<f64>,
}

/// The lead velocity rate of qualified leads: month-on-month growth, in percent.
pub fn lead_velocity(this_month: u64, last_month: u64) -> LeadVelocity {
    let change = this_month as i64 - last_month as i64;
    let rate_percent = (last_month > 0).then(|| change as f64 / last_month as f64 * 100.0);
    LeadVelocity { this_month, last_month, change, rate_percent }
}

/// How fast sales first touched leads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpeedToLead {
    /// Leads with a first touch.
    pub leads: u64,
    /// The median time to first touch, in milliseconds; `None` without leads.
    pub median_ms: Option<f64>,
    /// The 90th percentile, in milliseconds.
    pub p90_ms: Option<f64>,
    /// Fewer than 10 leads: show the times themselves rather than a median.
    pub thin: bool,
}

/// Median and 90th percentile of the times from "received" to the first sales touch.
///
/// Give the touched leads only; leads still waiting have no time yet (the relay lists those
/// past their SLA separately) — counting them in would need a survival estimate, and leaving
/// them out makes a slow week look faster until they are touched.
pub fn speed_to_lead(durations_ms: &[u64]) -> SpeedToLead {
    let mut sorted: Vec<f64> = durations_ms.iter().map(|&d| d as f64).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    SpeedToLead {
        leads: sorted.len() as u64,
        median_ms: quantile_sorted(&sorted, 0.5),
        p90_ms: quantile_sorted(&sorted, 0.9),
        thin: sorted.len() < 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_velocity_rate() {
        let cases = [
            (120, 100, 20, Some(20.0)),
            (75, 100, -25, Some(-25.0)),
            (100, 100, 0, Some(0.0)),
            (5, 0, 5, None),
            (0, 0, 0, None),
            (0, 3, -3, Some(-100.0)),
        ];
        for (this, last, change, rate) in cases {
            let v = lead_velocity(this, last);
            assert_eq!((v.change, v.rate_percent), (change, rate), "{this} vs {last}");
        }
    }

    #[test]
    fn speed_to_lead_median_and_p90() {
        const MIN: u64 = 60_000;
        let cases: [(&[u64], Option<f64>, Option<f64>); 6] = [
            (&[], None, None),
            (&[5 * MIN], Some(5.0 * 60_000.0), Some(5.0 * 60_000.0)),
            // 1, 2, 3, 4: median 2.5; p90 at h = 3·0.9 = 2.7 → 3 + 0.7·1 = 3.7.
            (&[4, 1, 3, 2], Some(2.5), Some(3.7)),
            // 1..=10: median 5.5, p90 at h = 8.1 → 9.1.
            (&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1], Some(5.5), Some(9.1)),
            // Minutes: 1, 2, 2, 3, 60 → median 2 min; h = 3.6 → 3 + 0.6·57 = 37.2 min.
            (&[MIN, 2 * MIN, 2 * MIN, 3 * MIN, 60 * MIN], Some(120_000.0), Some(2_232_000.0)),
            (&[7, 7, 7], Some(7.0), Some(7.0)),
        ];
        for (durations, median, p90) in cases {
            let s = speed_to_lead(durations);
            let near = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-6,
                (a, b) => a == b,
            };
            assert!(near(s.median_ms, median) && near(s.p90_ms, p90), "{durations:?}: {s:?}");
            assert_eq!(s.leads, durations.len() as u64);
        }
        assert!(speed_to_lead(&[1; 9]).thin);
        assert!(!speed_to_lead(&[1; 10]).thin);
    }
}
