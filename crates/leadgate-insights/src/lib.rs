//! What sales' outcomes say about leads and about the scoring: the statistics behind the
//! relay's insights, suggested points and backtests.
//!
//! Pure functions over plain inputs: counts as SQL aggregates give them ([`OutcomeCounts`],
//! [`RuleCounts`], [`SegmentReasons`], [`BandCounts`]), or compact per-lead data (a
//! [`HitMatrix`] of rule hits with one [`LeadOutcome`] per lead, scores, durations). No I/O, no
//! clock, no global randomness: the bootstrap takes its seed as a parameter. Everything
//! returned is `serde::Serialize`, for the relay to answer as JSON.
//!
//! # Methods and references
//! - **Rates** ([`Rate`], [`wilson`]): the Wilson score interval (E. B. Wilson 1927, JASA
//!   22:209; recommended by R. G. Newcombe 1998, Stat Med 17:857 and by Brown, Cai & DasGupta
//!   2001, Stat Sci 16:101). A rate over fewer than 10 leads is flagged `thin`.
//! - **Two rates** ([`Comparison`]): the difference with Newcombe's hybrid score interval
//!   (method 10 of Newcombe 1998, Stat Med 17:873), which decides "clearly different"; the
//!   ratio (lift) with the Katz log interval (Katz, Baptista, Azen & Pike 1978, Biometrics
//!   34:469), for display. Overlap of the two Wilson intervals is not used as a test (it is
//!   too conservative).
//! - **Rules** ([`compare_rules`], [`rejection_reasons`]): each rule's accept, win and
//!   rejection rates against the leads it did not hit, flagged `no_separation` /
//!   `pushes_rejections` by the Newcombe interval; rejection reasons per source, campaign or
//!   rule against the rest.
//! - **AUC** ([`auc()`], [`auc_with_interval`]): the Mann–Whitney statistic with ties counted
//!   half (Hanley & McNeil 1982, Radiology 143:29), with a stratified percentile bootstrap
//!   interval (as in pROC, Robin et al. 2011, BMC Bioinformatics 12:77) drawn from a seeded
//!   PCG generator (O'Neill 2014).
//! - **Calibration** ([`calibrate`]): accept and win rates per grade or score band with Wilson
//!   intervals, and the bands whose rates go the wrong way.
//! - **Lead velocity and speed to lead** ([`lead_velocity`], [`speed_to_lead`]): month-on-month
//!   growth of qualified leads; median and 90th percentile by linear interpolation (Hyndman &
//!   Fan 1996, Am Stat 50:361, type 7).
//! - **Suggested points** ([`suggest_points`]): L2-penalised logistic regression on the rule
//!   hits (le Cessie & van Houwelingen 1992, Appl Stat 41:191), Newton–Raphson, standard errors
//!   from the inverse penalised Hessian; refused below 10 events per rule (Peduzzi et al.
//!   1996, J Clin Epidemiol 49:1373). See [`suggest`] for the scaling to points.
//! - **Backtest** ([`backtest()`]): qualified counts, precision, recall and AUC of today's
//!   config and a draft on the same leads, overall and per source.
#![deny(missing_docs)]

pub mod auc;
pub mod backtest;
pub mod data;
pub mod rate;
pub mod rules;
pub mod suggest;
pub mod velocity;

pub use auc::{
    auc, auc_with_interval, calibrate, count_bands, AucInterval, BandCounts, BootstrapOptions,
    Calibration, CalibrationRow, IntervalMethod, Inversion, ScoreBand,
};
pub use backtest::{
    backtest, Backtest, BacktestGroup, BacktestLead, BeforeAfter, OutcomeBacktest, Scored,
};
pub use data::{HitMatrix, InsightError, LeadOutcome, OutcomeCounts, Target};
pub use rate::{
    katz_ratio, newcombe_difference, normal_quantile, wilson, Comparison, Rate, Ratio, THIN_N, Z95,
};
pub use rules::{
    compare_rules, rejection_reasons, rule_counts, ReasonInsight, RuleComparison, RuleCounts,
    SegmentKind, SegmentReasons, WithAndWithout,
};
pub use suggest::{
    suggest_points, PointsChange, Refusal, SuggestError, SuggestOptions, Suggestion, TargetChoice,
    DEFAULT_POINTS_PER_LOG_ODDS,
};
pub use velocity::{
    lead_velocity, quantile_sorted, speed_from_buckets, speed_to_lead, BucketedSpeed, LeadVelocity,
    SpeedToLead,
};
