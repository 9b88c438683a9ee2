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

/// Speed to lead read from a histogram (the relay keeps counts per time bucket, not each
/// lead's time, so a dashboard over a million leads reads a few rows): the median and 90th
/// percentile fall in a bucket, and are estimated by linear interpolation inside it; the
/// bucket's bounds are given beside each estimate, so nobody reads more precision into it than
/// the buckets have.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BucketedSpeed {
    /// Leads with a first touch.
    pub leads: u64,
    /// The median's estimate, in milliseconds; `None` without leads.
    pub median_ms: Option<f64>,
    /// The bucket the median falls in: from, to (ms; `None` for the open last bucket).
    pub median_bucket: Option<(u64, Option<u64>)>,
    /// The 90th percentile's estimate, in milliseconds.
    pub p90_ms: Option<f64>,
    /// The bucket the 90th percentile falls in.
    pub p90_bucket: Option<(u64, Option<u64>)>,
    /// Fewer than 10 leads.
    pub thin: bool,
}

/// [`BucketedSpeed`] from counts per bucket: `uppers_ms[i]` is bucket i's upper bound
/// (exclusive; `u64::MAX` for the open last one), `counts[i]` its leads. Buckets run from 0.
pub fn speed_from_buckets(uppers_ms: &[u64], counts: &[u64]) -> BucketedSpeed {
    let leads: u64 = counts.iter().sum();
    let at = |q: f64| -> Option<(f64, (u64, Option<u64>))> {
        if leads == 0 {
            return None;
        }
        // The rank of the quantile among the leads, 0-based, as `quantile_sorted` places it.
        let rank = q * (leads - 1) as f64;
        let mut before = 0u64;
        let mut low = 0u64;
        for (upper, n) in uppers_ms.iter().zip(counts) {
            if *n > 0 && rank < (before + n) as f64 {
                let open = *upper == u64::MAX;
                let high = (!open).then_some(*upper);
                // Leads spread evenly over the bucket; an open bucket has no width to spread.
                let share = (rank - before as f64 + 0.5) / *n as f64;
                let estimate =
                    if open { low as f64 } else { low as f64 + share * (*upper - low) as f64 };
                return Some((estimate, (low, high)));
            }
            before += n;
            low = *upper;
        }
        None
    };
    let median = at(0.5);
    let p90 = at(0.9);
    BucketedSpeed {
        leads,
        median_ms: median.map(|m| m.0),
        median_bucket: median.map(|m| m.1),
        p90_ms: p90.map(|m| m.0),
        p90_bucket: p90.map(|m| m.1),
        thin: leads < 10,
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

    #[test]
    fn speed_from_buckets_falls_in_the_right_bucket() {
        const MIN: u64 = 60_000;
        let uppers = [MIN, 5 * MIN, 60 * MIN, u64::MAX];
        // 10 leads: 2 under a minute, 6 in 1–5 min, 1 in 5–60 min, 1 later.
        let s = speed_from_buckets(&uppers, &[2, 6, 1, 1]);
        assert_eq!(s.leads, 10);
        assert!(!s.thin);
        // Rank 4.5 of 0..9: the 3rd lead of the 1–5 min bucket ((4.5 - 2 + 0.5) / 6 = 0.5).
        assert_eq!(s.median_bucket, Some((MIN, Some(5 * MIN))));
        assert_eq!(s.median_ms, Some(MIN as f64 + 0.5 * (4 * MIN) as f64));
        // Rank 8.1: the bucket 5–60 min.
        assert_eq!(s.p90_bucket, Some((5 * MIN, Some(60 * MIN))));
        let empty = speed_from_buckets(&uppers, &[0, 0, 0, 0]);
        assert_eq!((empty.leads, empty.median_ms, empty.thin), (0, None, true));
        // All in the open bucket: its lower bound, and no upper.
        let late = speed_from_buckets(&uppers, &[0, 0, 0, 3]);
        assert_eq!(
            (late.median_ms, late.median_bucket),
            (Some((60 * MIN) as f64), Some((60 * MIN, None)))
        );
    }
}
