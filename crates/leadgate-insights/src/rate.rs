//! Rates with 95% intervals, and intervals for comparing two rates.
//!
//! Every rate the dashboard shows is a [`Rate`]: the count it comes from, the share, and its
//! Wilson score interval. Two rates are compared by Newcombe's hybrid score interval for the
//! difference (built from the two Wilson intervals) — that decides whether they differ — and by
//! the Katz log interval for the ratio, which is what a marketer reads ("3.1x as often").

use serde::Serialize;

/// The normal quantile of a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// The standard normal quantile: the `z` with `P(Z ≤ z) = p`, for `0 < p < 1` (Acklam's
/// rational approximation, relative error below 1.2e-9). `None` outside `0 < p < 1`.
pub fn normal_quantile(p: f64) -> Option<f64> {
    if !(p > 0.0 && p < 1.0) {
        return None;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const LOW: f64 = 0.024_25;
    Some(if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    })
}

/// Below this many leads a rate is *thin*: shown, but as such ("3 of 7"), never as a bare
/// percentage.
pub const THIN_N: u64 = 10;

/// The Wilson score interval of `successes` out of `n` (Wilson 1927; recommended by
/// Newcombe 1998 and by Brown, Cai & DasGupta 2001 over the Wald interval, which collapses to
/// a point at 0 and n and overshoots `0..=1`).
///
/// `z` is the normal quantile ([`Z95`] for 95%). With `n == 0` the interval is `(0, 1)`: no
/// data says nothing. `successes` above `n` is clamped to `n`.
pub fn wilson(successes: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let x = successes.min(n) as f64;
    let n = n as f64;
    let p = x / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // Exact ends where the formula meets them (it does, up to rounding).
    let low = if x == 0.0 { 0.0 } else { (centre - half).max(0.0) };
    let high = if x == n { 1.0 } else { (centre + half).min(1.0) };
    (low, high)
}

/// A share of leads, with its count, its 95% Wilson interval, and whether it is thin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    /// How many leads the rate is over.
    pub n: u64,
    /// How many of them had the outcome.
    pub successes: u64,
    /// `successes / n`; `None` when `n` is 0.
    pub rate: Option<f64>,
    /// The lower end of the 95% Wilson interval (0 when `n` is 0).
    pub low: f64,
    /// The upper end of the 95% Wilson interval (1 when `n` is 0).
    pub high: f64,
    /// Fewer than [`THIN_N`] leads: show the counts, not a bare percentage.
    pub thin: bool,
}

impl Rate {
    /// `successes` out of `n` (clamped to `n`), with a 95% interval.
    pub fn new(successes: u64, n: u64) -> Rate {
        let successes = successes.min(n);
        let (low, high) = wilson(successes, n, Z95);
        let rate = (n > 0).then(|| successes as f64 / n as f64);
        Rate { n, successes, rate, low, high, thin: n < THIN_N }
    }
}

/// Newcombe's hybrid score interval (his method 10, 1998) for the difference `a − b` of two
/// independent rates, at the quantile `z`. Sound at 0 and at n, unlike the Wald interval; it
/// is the standard companion of Wilson intervals. `None` when either rate has no leads.
pub fn newcombe_difference(a: &Rate, b: &Rate, z: f64) -> Option<(f64, f64)> {
    let (pa, pb) = (a.rate?, b.rate?);
    let (la, ua) = wilson(a.successes, a.n, z);
    let (lb, ub) = wilson(b.successes, b.n, z);
    let d = pa - pb;
    let low = d - ((pa - la).powi(2) + (ub - pb).powi(2)).sqrt();
    let high = d + ((ua - pa).powi(2) + (pb - lb).powi(2)).sqrt();
    Some((low.max(-1.0), high.min(1.0)))
}

/// The ratio `a / b` of two rates and its Katz log interval (Katz et al. 1978): the ratio
/// times `exp(±z·se)`, `se = sqrt(1/xa − 1/na + 1/xb − 1/nb)`. `None` when either rate has
/// no successes (the ratio is 0 or infinite and the log interval is undefined).
pub fn katz_ratio(a: &Rate, b: &Rate, z: f64) -> Option<Ratio> {
    if a.successes == 0 || b.successes == 0 {
        return None;
    }
    let (xa, na, xb, nb) = (a.successes as f64, a.n as f64, b.successes as f64, b.n as f64);
    let ratio = (xa / na) / (xb / nb);
    let se = (1.0 / xa - 1.0 / na + 1.0 / xb - 1.0 / nb).max(0.0).sqrt();
    Some(Ratio { ratio, low: ratio * (-z * se).exp(), high: ratio * (z * se).exp() })
}

/// A ratio of two rates with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratio {
    /// The ratio of the rates (1 = no difference).
    pub ratio: f64,
    /// The lower end of the 95% Katz log interval.
    pub low: f64,
    /// The upper end of the 95% Katz log interval.
    pub high: f64,
}

/// How two rates compare: their difference with Newcombe's interval, their ratio with Katz's,
/// and whether the difference is clear (the difference interval leaves out 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Comparison {
    /// `a − b`; `None` when either has no leads.
    pub difference: Option<f64>,
    /// Newcombe's 95% interval of the difference.
    pub difference_interval: Option<(f64, f64)>,
    /// `a / b` with its Katz interval (the lift); `None` when either has no successes.
    pub ratio: Option<Ratio>,
    /// `a` is clearly higher: the difference interval lies above 0.
    pub higher: bool,
    /// `a` is clearly lower: the difference interval lies below 0.
    pub lower: bool,
}

impl Comparison {
    /// Compares rate `a` with rate `b`.
    pub fn of(a: &Rate, b: &Rate) -> Comparison {
        let interval = newcombe_difference(a, b, Z95);
        Comparison {
            difference: a.rate.zip(b.rate).map(|(a, b)| a - b),
            difference_interval: interval,
            ratio: katz_ratio(a, b, Z95),
            higher: interval.is_some_and(|(low, _)| low > 0.0),
            lower: interval.is_some_and(|(_, high)| high < 0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// Wilson intervals: Newcombe (1998, Stat Med 17:857, table I) and hand-computed ones.
    #[test]
    fn wilson_matches_published_and_hand_computed_bounds() {
        let cases: [(u64, u64, f64, f64); 10] = [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
            (29, 29, 0.8830, 1.0),
            (5, 10, 0.2366, 0.7634),
            (3, 7, 0.1582, 0.7495),
            (0, 1, 0.0, 0.7935),
            (1, 1, 0.2065, 1.0),
            (0, 0, 0.0, 1.0),
        ];
        let mut failures = Vec::new();
        for (x, n, low, high) in cases {
            let (l, h) = wilson(x, n, Z95);
            if !close(l, low, 5e-5) || !close(h, high, 5e-5) {
                failures.push(format!("{x}/{n}: got ({l:.4}, {h:.4}), want ({low}, {high})"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn normal_quantiles() {
        let cases = [
            (0.975, Z95),
            (0.5, 0.0),
            (0.025, -Z95),
            (0.995, 2.575_829_303_548_901),
            (0.999, 3.090_232_306_167_813),
            // Bonferroni for 20 rules: 1 − 0.05/40.
            (0.99875, 3.023_341_439_739_831),
            (0.01, -2.326_347_874_040_841),
        ];
        for (p, z) in cases {
            let got = normal_quantile(p).unwrap();
            assert!((got - z).abs() < 1e-8 * z.abs().max(1.0), "{p}: {got} vs {z}");
        }
        assert_eq!(normal_quantile(0.0), None);
        assert_eq!(normal_quantile(1.0), None);
        assert_eq!(normal_quantile(f64::NAN), None);
    }

    #[test]
    fn rate_says_thin_and_empty() {
        let empty = Rate::new(0, 0);
        assert_eq!(empty.rate, None);
        assert_eq!((empty.low, empty.high), (0.0, 1.0));
        assert!(empty.thin);
        let tiny = Rate::new(3, 7);
        assert!(tiny.thin);
        assert!(close(tiny.rate.unwrap(), 3.0 / 7.0, 1e-12));
        let ten = Rate::new(5, 10);
        assert!(!ten.thin);
        // More successes than leads is clamped, not a panic or a rate above 1.
        assert_eq!(Rate::new(12, 10).successes, 10);
        let json = serde_json::to_value(Rate::new(0, 0)).unwrap();
        assert_eq!(json["rate"], serde_json::Value::Null);
    }

    /// Newcombe (1998, Stat Med 17:873, table II, method 10) examples (a), (b), (f), and
    /// hand-computed ones.
    #[test]
    fn newcombe_difference_matches_published_intervals() {
        let cases: [(u64, u64, u64, u64, f64, f64); 5] = [
            (56, 70, 48, 80, 0.0524, 0.3339),
            (9, 10, 3, 10, 0.1705, 0.8090),
            (5, 56, 0, 29, -0.0381, 0.1926),
            (0, 10, 0, 20, -0.1611, 0.2775),
            (10, 10, 0, 20, 0.6791, 1.0),
        ];
        let mut failures = Vec::new();
        for (xa, na, xb, nb, low, high) in cases {
            let (l, h) = newcombe_difference(&Rate::new(xa, na), &Rate::new(xb, nb), Z95).unwrap();
            if !close(l, low, 5e-5) || !close(h, high, 5e-5) {
                failures.push(format!("{xa}/{na} - {xb}/{nb}: got ({l:.4}, {h:.4})"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        assert_eq!(newcombe_difference(&Rate::new(0, 0), &Rate::new(1, 2), Z95), None);
    }

    #[test]
    fn katz_ratio_is_hand_computed_and_undefined_at_zero() {
        // 12/40 vs 31/410: ratio 3.9677, se = sqrt(1/12 - 1/40 + 1/31 - 1/410) = 0.29578.
        let r = katz_ratio(&Rate::new(12, 40), &Rate::new(31, 410), Z95).unwrap();
        assert!(close(r.ratio, 3.967_742, 1e-6));
        assert!(close(r.low, 2.217_266, 1e-5), "{r:?}");
        assert!(close(r.high, 7.100_176, 1e-5), "{r:?}");
        assert_eq!(katz_ratio(&Rate::new(0, 40), &Rate::new(31, 410), Z95), None);
        assert_eq!(katz_ratio(&Rate::new(3, 40), &Rate::new(0, 0), Z95), None);
    }

    #[test]
    fn comparison_flags_only_clear_differences() {
        let clear = Comparison::of(&Rate::new(9, 10), &Rate::new(3, 10));
        assert!(clear.higher && !clear.lower);
        let unclear = Comparison::of(&Rate::new(5, 56), &Rate::new(0, 29));
        assert!(!unclear.higher && !unclear.lower);
        assert_eq!(unclear.ratio, None);
        let lower = Comparison::of(&Rate::new(3, 10), &Rate::new(9, 10));
        assert!(lower.lower && !lower.higher);
    }
}
