//! Does the score rank good leads above bad ones? The AUC with a bootstrap interval, and the
//! calibration table by score band or grade.
//!
//! The AUC is the Mann–Whitney statistic scaled to `0..=1` (Hanley & McNeil 1982): the share
//! of (positive, negative) pairs of leads in which the positive lead scored higher, a tie
//! counting half. 0.5 is a coin; 1 ranks every positive lead above every negative one.
//! Its interval is a stratified percentile bootstrap (positives and negatives resampled
//! separately, so every replicate has both; as `pROC` does by default, Robin et al. 2011),
//! with a fixed seed so the same data always gives the same interval. Above
//! [`BootstrapOptions::max_leads`] leads (10,000 by default) the interval is DeLong's
//! (DeLong, DeLong & Clarke-Pearson 1988), the asymptotic normal interval computed from the
//! same ranks in one pass: at that size it agrees with the bootstrap to the third decimal, and
//! 1000 resamples of 100,000 leads would take most of the relay's one-second budget.

use rand_pcg::rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::data::{InsightError, LeadOutcome, OutcomeCounts, Target};
use crate::rate::{Comparison, Rate, Z95};
use crate::velocity::quantile_sorted;

/// The AUC of `scores` for telling `positive` leads from the others: ties count half. `None`
/// when there are no positive or no negative leads. Scores are compared with
/// `f64::total_cmp` (give finite ones).
pub fn auc(scores: &[f64], positive: &[bool]) -> Result<Option<f64>, InsightError> {
    Ok(Ranked::new(scores, positive)?.auc())
}

/// Leads grouped by distinct score, lowest first, with their positives and negatives.
struct Ranked {
    /// Per distinct score: (positives, negatives).
    groups: Vec<(u64, u64)>,
    /// The group of each positive lead.
    positive_groups: Vec<u32>,
    /// The group of each negative lead.
    negative_groups: Vec<u32>,
}

impl Ranked {
    fn new(scores: &[f64], positive: &[bool]) -> Result<Ranked, InsightError> {
        if scores.len() != positive.len() {
            return Err(InsightError::LengthMismatch {
                what: "outcome",
                expected: scores.len(),
                found: positive.len(),
            });
        }
        let mut order: Vec<u32> = (0..scores.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| scores[a as usize].total_cmp(&scores[b as usize]));
        let mut groups: Vec<(u64, u64)> = Vec::new();
        let mut positive_groups = Vec::new();
        let mut negative_groups = Vec::new();
        let mut last: Option<f64> = None;
        for &i in &order {
            let s = scores[i as usize];
            if last.is_none_or(|l| l.total_cmp(&s).is_ne()) {
                groups.push((0, 0));
                last = Some(s);
            }
            let g = groups.len() - 1;
            if positive[i as usize] {
                groups[g].0 += 1;
                positive_groups.push(g as u32);
            } else {
                groups[g].1 += 1;
                negative_groups.push(g as u32);
            }
        }
        Ok(Ranked { groups, positive_groups, negative_groups })
    }

    fn auc(&self) -> Option<f64> {
        auc_of_groups(&self.groups)
    }
}

/// The AUC from (positives, negatives) per distinct score, lowest score first.
fn auc_of_groups(groups: &[(u64, u64)]) -> Option<f64> {
    let (mut pairs_won, mut negatives_below, mut positives) = (0.0, 0u64, 0u64);
    for &(p, q) in groups {
        pairs_won += p as f64 * (negatives_below as f64 + 0.5 * q as f64);
        negatives_below += q;
        positives += p;
    }
    let pairs = positives as f64 * negatives_below as f64;
    (pairs > 0.0).then(|| pairs_won / pairs)
}

/// How many bootstrap replicates, the seed, and up to how many leads to bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapOptions {
    /// Replicates. Defaults to 1000 (enough for the 2.5% and 97.5% points to settle to about
    /// ±0.005 on a few hundred leads).
    pub replicates: u32,
    /// The seed: the same data and seed give the same interval. Defaults to 2026.
    pub seed: u64,
    /// Above this many leads, DeLong's interval instead of the bootstrap. Defaults to 10,000
    /// (a bootstrap of that size takes about 0.05 s of CPU).
    pub max_leads: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions { replicates: 1000, seed: 2026, max_leads: 10_000 }
    }
}

/// How an AUC interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// Stratified percentile bootstrap with the given replicates and seed.
    Bootstrap,
    /// DeLong's asymptotic normal interval (more leads than `max_leads`).
    DeLong,
    /// No interval: the AUC is undefined, or there were 0 replicates, or DeLong's needs at
    /// least 2 positive and 2 negative leads.
    None,
}

/// The AUC with its 95% bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AucInterval {
    /// The AUC; `None` without positive or negative leads.
    pub auc: Option<f64>,
    /// The 2.5th percentile of the replicates' AUC.
    pub low: Option<f64>,
    /// The 97.5th percentile of the replicates' AUC.
    pub high: Option<f64>,
    /// Positive leads (e.g. won).
    pub positives: u64,
    /// Negative leads.
    pub negatives: u64,
    /// Fewer than 10 positive or negative leads: the interval is rough.
    pub thin: bool,
    /// How the interval was computed.
    pub method: IntervalMethod,
    /// The bootstrap options given.
    pub bootstrap: BootstrapOptions,
}

/// The AUC of `scores` for `target` among `outcomes`, with a 95% stratified percentile
/// bootstrap interval. Each replicate costs one pass over the leads (no re-sorting: leads are
/// grouped by distinct score once), so 1000 replicates over 100,000 leads take well under a
/// second.
pub fn auc_with_interval(
    scores: &[f64],
    outcomes: &[LeadOutcome],
    target: Target,
    options: BootstrapOptions,
) -> Result<AucInterval, InsightError> {
    let positive: Vec<bool> = outcomes.iter().map(|o| o.reached(target)).collect();
    let ranked = Ranked::new(scores, &positive)?;
    let positives = ranked.positive_groups.len() as u64;
    let negatives = ranked.negative_groups.len() as u64;
    let auc = ranked.auc();
    let mut interval = (None, None);
    let mut method = IntervalMethod::None;
    if auc.is_some() && positives + negatives > options.max_leads {
        if let Some((low, high)) = delong(&ranked.groups, Z95) {
            (interval, method) = ((Some(low), Some(high)), IntervalMethod::DeLong);
        }
    } else if auc.is_some() && options.replicates > 0 {
        let mut rng = Pcg64Mcg::seed_from_u64(options.seed);
        let mut counts = vec![(0u64, 0u64); ranked.groups.len()];
        let mut replicates = Vec::with_capacity(options.replicates as usize);
        for _ in 0..options.replicates {
            counts.iter_mut().for_each(|c| *c = (0, 0));
            for _ in 0..positives {
                let g = ranked.positive_groups[draw(&mut rng, positives)];
                counts[g as usize].0 += 1;
            }
            for _ in 0..negatives {
                let g = ranked.negative_groups[draw(&mut rng, negatives)];
                counts[g as usize].1 += 1;
            }
            replicates.extend(auc_of_groups(&counts));
        }
        replicates.sort_unstable_by(f64::total_cmp);
        interval = (quantile_sorted(&replicates, 0.025), quantile_sorted(&replicates, 0.975));
        method = IntervalMethod::Bootstrap;
    }
    Ok(AucInterval {
        auc,
        low: interval.0,
        high: interval.1,
        positives,
        negatives,
        thin: positives < 10 || negatives < 10,
        method,
        bootstrap: options,
    })
}

/// DeLong's interval of the AUC from (positives, negatives) per distinct score, lowest
/// first: the variance from the structural components `V10` (each positive lead's share of
/// negatives it beats, ties half) and `V01` (each negative's share of positives above it),
/// `var = s²(V10)/P + s²(V01)/N`; the interval is `AUC ± z·√var`, kept inside `0..=1`.
/// `None` with fewer than 2 positive or 2 negative leads.
fn delong(groups: &[(u64, u64)], z: f64) -> Option<(f64, f64)> {
    let positives: u64 = groups.iter().map(|g| g.0).sum();
    let negatives: u64 = groups.iter().map(|g| g.1).sum();
    if positives < 2 || negatives < 2 {
        return None;
    }
    let auc = auc_of_groups(groups)?;
    let (np, nn) = (positives as f64, negatives as f64);
    let (mut below, mut above) = (0u64, positives);
    let (mut s10, mut s01) = (0.0, 0.0);
    for &(p, q) in groups {
        above -= p;
        let v10 = (below as f64 + 0.5 * q as f64) / nn;
        let v01 = (above as f64 + 0.5 * p as f64) / np;
        s10 += p as f64 * (v10 - auc).powi(2);
        s01 += q as f64 * (v01 - auc).powi(2);
        below += q;
    }
    let variance = s10 / (np - 1.0) / np + s01 / (nn - 1.0) / nn;
    let half = z * variance.sqrt();
    Some(((auc - half).max(0.0), (auc + half).min(1.0)))
}

/// A uniform index below `n` (> 0): Lemire's multiply-shift; the bias, n / 2^64, is nil here.
fn draw(rng: &mut Pcg64Mcg, n: u64) -> usize {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as usize
}

/// One band of the calibration table: its leads and what became of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandCounts {
    /// The band's name: a grade (`A`) or a score range (`50–74`).
    pub band: String,
    /// Its leads and their outcomes.
    pub counts: OutcomeCounts,
}

/// A band by its lowest score, as grades are: a lead falls in the first band whose `min` its
/// score reaches; the last band also takes every lower score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreBand {
    /// The band's name.
    pub band: String,
    /// The lowest score in the band.
    pub min: f64,
}

/// Counts leads into bands (given from the best down) by their scores.
pub fn count_bands(
    scores: &[f64],
    outcomes: &[LeadOutcome],
    bands: &[ScoreBand],
) -> Result<Vec<BandCounts>, InsightError> {
    if scores.len() != outcomes.len() {
        return Err(InsightError::LengthMismatch {
            what: "outcome",
            expected: scores.len(),
            found: outcomes.len(),
        });
    }
    let mut out: Vec<BandCounts> = bands
        .iter()
        .map(|b| BandCounts { band: b.band.clone(), counts: OutcomeCounts::default() })
        .collect();
    let last = bands.len().saturating_sub(1);
    for (score, outcome) in scores.iter().zip(outcomes) {
        let i = bands.iter().position(|b| *score >= b.min).unwrap_or(last);
        if let Some(band) = out.get_mut(i) {
            band.counts.add(*outcome);
        }
    }
    Ok(out)
}

/// One row of the calibration table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationRow {
    /// The band.
    pub band: String,
    /// Its accept rate.
    pub accepted: Rate,
    /// Its win rate.
    pub won: Rate,
}

/// A better band whose rate is below the next band's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inversion {
    /// Which rate.
    pub target: Target,
    /// The better band (higher score or grade).
    pub better: String,
    /// The next band down.
    pub worse: String,
    /// The better band is clearly lower (the Newcombe interval of the difference lies below
    /// 0), not just lower by chance.
    pub clear: bool,
}

/// The calibration table: rates by band, and whether they fall as the bands do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// The bands from the best down.
    pub rows: Vec<CalibrationRow>,
    /// Every band's accept rate is at least the next band's (point estimates; empty bands
    /// skipped).
    pub accept_monotone: bool,
    /// Every band's win rate is at least the next band's.
    pub win_monotone: bool,
    /// Each pair of neighbouring (non-empty) bands whose rates go the wrong way.
    pub inversions: Vec<Inversion>,
}

/// The calibration table of bands given from the best down (grades A, B, C, D, or score
/// ranges from the highest).
pub fn calibrate(bands: &[BandCounts]) -> Result<Calibration, InsightError> {
    let mut rows = Vec::with_capacity(bands.len());
    for b in bands {
        b.counts.check(&("band \"".to_string() + &b.band + "\""))?;
        rows.push(CalibrationRow {
            band: b.band.clone(),
            accepted: Rate::new(b.counts.accepted, b.counts.leads),
            won: Rate::new(b.counts.won, b.counts.leads),
        });
    }
    let mut inversions = Vec::new();
    let filled: Vec<&CalibrationRow> = rows.iter().filter(|r| r.accepted.n > 0).collect();
    for pair in filled.windows(2) {
        let (better, worse) = (pair[0], pair[1]);
        for (target, b, w) in [
            (Target::Accepted, &better.accepted, &worse.accepted),
            (Target::Won, &better.won, &worse.won),
        ] {
            if b.rate < w.rate {
                inversions.push(Inversion {
                    target,
                    better: better.band.clone(),
                    worse: worse.band.clone(),
                    clear: Comparison::of(b, w).lower,
                });
            }
        }
    }
    let monotone = |t: Target| !inversions.iter().any(|i| i.target == t);
    Ok(Calibration {
        accept_monotone: monotone(Target::Accepted),
        win_monotone: monotone(Target::Won),
        rows,
        inversions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn won(w: bool) -> LeadOutcome {
        LeadOutcome { accepted: w, rejected: !w, won: w }
    }

    #[test]
    fn auc_counts_ties_half() {
        let cases: [(&[f64], &[bool], Option<f64>); 7] = [
            // Pairs (pos, neg): (3,1)=1 (3,2)=1 (2,1)=1 (2,2)=½ → 3.5 of 4.
            (&[3.0, 2.0, 1.0, 2.0], &[true, true, false, false], Some(0.875)),
            (&[1.0, 2.0, 3.0, 4.0], &[false, false, true, true], Some(1.0)),
            (&[1.0, 2.0, 3.0, 4.0], &[true, true, false, false], Some(0.0)),
            (&[5.0, 5.0, 5.0], &[true, false, false], Some(0.5)),
            // 3 pos × 2 neg = 6 pairs: pos 10 beats both (2), pos 4 ties 4 (½) and beats 1
            // (1), pos 0 beats none → 3.5 / 6.
            (&[10.0, 4.0, 0.0, 4.0, 1.0], &[true, true, true, false, false], Some(3.5 / 6.0)),
            (&[1.0, 2.0], &[true, true], None),
            (&[], &[], None),
        ];
        for (scores, positive, want) in cases {
            assert_eq!(auc(scores, positive).unwrap(), want, "{scores:?} {positive:?}");
        }
        assert!(auc(&[1.0], &[]).is_err());
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_auc() {
        // 200 leads: score i, won when i % 3 == 0 or i > 150 — a decent but imperfect score.
        let scores: Vec<f64> = (0..200).map(f64::from).collect();
        let outcomes: Vec<LeadOutcome> = (0..200).map(|i| won(i % 3 == 0 || i > 150)).collect();
        let options = BootstrapOptions { replicates: 500, seed: 7, ..Default::default() };
        let a = auc_with_interval(&scores, &outcomes, Target::Won, options).unwrap();
        let b = auc_with_interval(&scores, &outcomes, Target::Won, options).unwrap();
        assert_eq!(a, b, "same seed, same interval");
        let (auc, low, high) = (a.auc.unwrap(), a.low.unwrap(), a.high.unwrap());
        assert!(low < auc && auc < high, "{a:?}");
        assert!(high - low > 0.05 && high - low < 0.25, "{a:?}");
        let other = auc_with_interval(
            &scores,
            &outcomes,
            Target::Won,
            BootstrapOptions { seed: 8, ..options },
        )
        .unwrap();
        assert_ne!(other.low, a.low, "the seed is used");
        assert!((other.low.unwrap() - low).abs() < 0.03);
        assert_eq!(a.method, IntervalMethod::Bootstrap);
        // Past `max_leads`, DeLong's interval: close to the bootstrap's on the same data.
        let large = BootstrapOptions { max_leads: 100, ..options };
        let d = auc_with_interval(&scores, &outcomes, Target::Won, large).unwrap();
        assert_eq!((d.method, d.auc), (IntervalMethod::DeLong, a.auc));
        assert!(
            (d.low.unwrap() - low).abs() < 0.02 && (d.high.unwrap() - high).abs() < 0.02,
            "{d:?} {a:?}"
        );
        // Empty and one-class data: no AUC, no interval, no panic.
        let none = auc_with_interval(&[], &[], Target::Won, options).unwrap();
        assert_eq!((none.auc, none.low, none.high, none.thin), (None, None, None, true));
        let one = auc_with_interval(&[1.0, 2.0], &[won(true), won(true)], Target::Won, options);
        assert_eq!(one.unwrap().auc, None);
        // A perfect score stays perfect in every replicate.
        let perfect = auc_with_interval(
            &[1.0, 2.0, 3.0],
            &[won(false), won(true), won(true)],
            Target::Won,
            options,
        )
        .unwrap();
        assert_eq!((perfect.low, perfect.high), (Some(1.0), Some(1.0)));
        assert!(perfect.thin);
    }

    #[test]
    fn delong_by_hand() {
        // Positives 3, 2; negatives 1, 2 (AUC 0.875). V10 = 1.0, 0.75; V01 = 1.0, 0.75;
        // s² = 0.03125 each; var = 0.03125/2 + 0.03125/2 = 0.03125; se = 0.176777.
        let groups = [(0, 1), (1, 1), (1, 0)];
        let (low, high) = delong(&groups, Z95).unwrap();
        assert!((low - (0.875 - Z95 * 0.03125f64.sqrt())).abs() < 1e-12, "{low}");
        assert!((low - 0.528_524).abs() < 1e-6);
        assert_eq!(high, 1.0);
        // Perfect separation: no variance.
        assert_eq!(delong(&[(0, 2), (2, 0)], Z95), Some((1.0, 1.0)));
        assert_eq!(delong(&[(1, 0), (0, 5)], Z95), None, "one positive");
    }

    #[test]
    fn calibration_table_and_monotonicity() {
        let c = |leads, accepted, won| OutcomeCounts { leads, accepted, rejected: 0, won };
        let bands = [
            BandCounts { band: "A".into(), counts: c(50, 40, 20) },
            BandCounts { band: "B".into(), counts: c(100, 50, 25) },
            BandCounts { band: "C".into(), counts: c(0, 0, 0) },
            BandCounts { band: "D".into(), counts: c(200, 20, 30) },
        ];
        let cal = calibrate(&bands).unwrap();
        assert_eq!(cal.rows.len(), 4);
        assert_eq!(cal.rows[0].won.rate, Some(0.4));
        assert_eq!(cal.rows[2].won.rate, None);
        assert!(cal.accept_monotone);
        // Wins: A 40%, B 25%, D 15%: monotone; the empty C is skipped.
        assert!(cal.win_monotone);
        assert!(cal.inversions.is_empty());

        let inverted = [
            BandCounts { band: "A".into(), counts: c(100, 10, 5) },
            BandCounts { band: "B".into(), counts: c(100, 60, 6) },
        ];
        let cal = calibrate(&inverted).unwrap();
        assert!(!cal.accept_monotone && !cal.win_monotone);
        assert_eq!(cal.inversions.len(), 2);
        assert!(cal.inversions[0].clear, "10/100 vs 60/100 is clear");
        assert!(!cal.inversions[1].clear, "5/100 vs 6/100 is chance");
        let empty = calibrate(&[]).unwrap();
        assert!(empty.accept_monotone && empty.rows.is_empty());
    }

    #[test]
    fn bands_by_score_like_grades() {
        let bands = [
            ScoreBand { band: "A".into(), min: 75.0 },
            ScoreBand { band: "B".into(), min: 50.0 },
            ScoreBand { band: "D".into(), min: 0.0 },
        ];
        let scores = [80.0, 75.0, 74.9, 10.0, -20.0];
        let outcomes = [won(true), won(false), won(true), won(false), won(false)];
        let counted = count_bands(&scores, &outcomes, &bands).unwrap();
        let leads: Vec<u64> = counted.iter().map(|b| b.counts.leads).collect();
        assert_eq!(leads, [2, 1, 2], "the last band takes every lower score");
        assert_eq!(counted[0].counts.won, 1);
        assert!(count_bands(&scores, &outcomes[..2], &bands).is_err());
        assert!(count_bands(&scores, &outcomes, &[]).unwrap().is_empty());
    }
}
