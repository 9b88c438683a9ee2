//! Suggested points: what the outcomes say each rule is worth, on the config's own scale, with
//! an interval, as a diff against today's points — or a refusal that says why.
//!
//! # Model
//! A logistic regression of the outcome (won, or accepted) on the 0/1 rule hits, with an
//! intercept, fitted by maximum *penalised* likelihood with an L2 (ridge) penalty
//! `ridge/2 · Σ βⱼ²` on the rule coefficients (not on the intercept; le Cessie & van
//! Houwelingen 1992). The penalty is a Gaussian prior of sd `1/√ridge` on each rule's
//! log-odds: it keeps the fit finite when a rule separates the outcomes perfectly and shrinks
//! rules the data says little about towards 0, while on thousands of leads it moves a
//! coefficient by a few hundredths.
//!
//! Fitted by Newton–Raphson (IRLS) with step halving, using the sparsity of the hit matrix:
//! one pass over the leads per iteration costs `Σ hits²`, not `leads × rules²`.
//! Hand-rolled, for two reasons: `linfa-logistic` (the well-kept Rust option) returns the
//! coefficients only, with no Hessian or standard errors, which the intervals need; and it
//! brings `ndarray` and `argmin`, several times this crate's build, for a 20–50 parameter
//! model whose Newton step is a 50 × 50 Cholesky solve.
//!
//! # Intervals
//! Each coefficient's standard error is the square root of the diagonal of the inverse of the
//! penalised Hessian at the optimum (the Laplace approximation of the posterior under the
//! ridge prior; with `ridge → 0` the usual Wald standard error). A rule is `uncertain` when
//! its 95% interval `β ± 1.96·se` includes 0. With many rules, some useless rule will miss
//! that flag by chance (each one 5% of the time: with ten useless rules, a third of data sets
//! have one); `uncertain_jointly` uses Bonferroni-widened intervals (each at `1 − 5%/rules`),
//! so that all useless rules are flagged together 95% of the time — the one to read before
//! dropping or keeping rules as a set.
//!
//! # Points
//! Coefficients are log-odds; points are the config's own unit. They are mapped by one factor,
//! `points_per_log_odds = Σ|today's points| / Σ|β|` over the rules in the model: the suggested
//! points have the same total size (sum of absolute points) as today's, so a total, the
//! qualification bar and the grade bands keep their order of magnitude, and the diff shows
//! where the weight moves rather than a change of unit. (When today's points are all 0 the
//! factor is [`DEFAULT_POINTS_PER_LOG_ODDS`].) Suggested points are rounded; intervals are
//! scaled by the same factor (the factor itself is taken as fixed). The bar is not moved: a
//! backtest of the suggestion shows what it does to who qualifies, and a person decides.
//!
//! # Refusals
//! Following the events-per-variable rule (Peduzzi et al. 1996): the rarer outcome (e.g. won
//! leads, or not-won when most are won) must number at least `min_events_per_rule` (10) times
//! the rules in the model, and, for every rule, the rarer outcome among the leads it hits must
//! number at least `min_events_per_rule` — else the suggestion is refused, naming the rule
//! with the fewest.
//!
//! # Which outcome
//! The caller names it, or leaves it to the rule: `won` when won leads pass the checks above,
//! otherwise `accepted` (the suggestion then says so and why).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::data::{HitMatrix, InsightError, LeadOutcome, Target};
use crate::rate::{normal_quantile, Z95};

/// The points per unit of log-odds when today's points are all 0.
pub const DEFAULT_POINTS_PER_LOG_ODDS: f64 = 10.0;

/// How to fit, and when to refuse.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SuggestOptions {
    /// The outcome to learn. Defaults to none: won when there are enough won leads, else
    /// accepted.
    pub target: Option<Target>,
    /// The L2 penalty on the rules' coefficients (a prior sd of `1/√ridge` log-odds). Must be
    /// finite and at least 0. Defaults to 1.0 (a prior sd of 1: one rule multiplying the odds
    /// by more than e² ≈ 7.4 is a priori unlikely, and the data overrules that easily).
    pub ridge: f64,
    /// Outcome events needed per rule, overall and among each rule's leads. Defaults to 10.
    pub min_events_per_rule: u64,
    /// Newton iterations before giving up. Defaults to 50 (a fit takes 5 to 10).
    pub max_iterations: u32,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        SuggestOptions { target: None, ridge: 1.0, min_events_per_rule: 10, max_iterations: 50 }
    }
}

/// Why no points are suggested. `Display` is written for the marketer.
#[derive(Debug, Clone, PartialEq, Error, Serialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// No rule is in the model.
    #[error("there are no rules to weigh")]
    NoRules,
    /// Too few outcome events overall for this many rules.
    #[error(
        "too few outcomes to learn from: the rarer of {} has {events} leads, and {rules} rules \
         need at least {needed}",
        target_words(*target)
    )]
    TooFewOutcomes {
        /// The outcome.
        target: Target,
        /// The rarer of reached / not reached.
        events: u64,
        /// The rules in the model.
        rules: usize,
        /// What is needed (`min_events_per_rule × rules`).
        needed: u64,
    },
    /// One rule's leads have too few outcome events to weigh it.
    #[error(
        "rule \"{rule}\": the rarer of {} has only {events} of its leads; at least {needed} \
         are needed to weigh it (wait for more outcomes, or leave the rule out of the model)",
        target_words(*target)
    )]
    TooFewEvents {
        /// The rule with the fewest.
        rule: String,
        /// The outcome.
        target: Target,
        /// The rarer of reached / not reached among the leads it hit.
        events: u64,
        /// What is needed.
        needed: u64,
    },
    /// The fit did not settle (it always should with a ridge above 0).
    #[error("the model did not settle after {iterations} iterations")]
    DidNotConverge {
        /// Iterations run.
        iterations: u32,
    },
    /// The rules are redundant (possible only with a ridge of 0): e.g. two rules that always
    /// hit the same leads.
    #[error("the rules are redundant (some always hit together); use a ridge above 0")]
    Singular,
}

fn target_words(target: Target) -> &'static str {
    match target {
        Target::Accepted => "accepted / not accepted",
        Target::Won => "won / not won",
    }
}

/// Bad input, or a refusal.
#[derive(Debug, Clone, PartialEq, Error, Serialize)]
#[serde(untagged)]
pub enum SuggestError {
    /// The input is inconsistent (lengths, options).
    #[error(transparent)]
    Input(#[from] InsightError),
    /// The data is too thin, or the model can't be fitted.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// Why the suggestion learned the outcome it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum TargetChoice {
    /// The caller asked for it.
    Asked,
    /// Won, chosen because there are enough won leads.
    EnoughWins,
    /// Accepted, chosen because won leads are too few: this is what a fit on won said.
    TooFewWins {
        /// The refusal a fit on won leads would give.
        refusal: Refusal,
    },
}

/// One rule's suggested points against today's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointsChange {
    /// The rule's id.
    pub rule: String,
    /// Today's points.
    pub today: i64,
    /// Suggested points (rounded).
    pub suggested: i64,
    /// `suggested − today`.
    pub change: i64,
    /// The lower end of the 95% interval, in points.
    pub low: f64,
    /// The upper end of the 95% interval, in points.
    pub high: f64,
    /// The interval includes 0: the data can't tell whether the rule helps or hurts.
    pub uncertain: bool,
    /// The Bonferroni-widened interval (95% for all rules at once) includes 0.
    pub uncertain_jointly: bool,
    /// The fitted log-odds coefficient.
    pub coefficient: f64,
    /// Its standard error.
    pub standard_error: f64,
    /// `exp(coefficient)`: how a hit multiplies the odds of the outcome, other rules equal.
    pub odds_ratio: f64,
    /// Leads the rule hit.
    pub leads_hit: u64,
    /// The rarer of reached / not reached among them (what the refusal rule counts).
    pub events: u64,
}

/// Suggested points for every rule in the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// The outcome learned.
    pub target: Target,
    /// Why that outcome.
    pub target_choice: TargetChoice,
    /// Leads fitted.
    pub leads: u64,
    /// Leads that reached the target.
    pub positives: u64,
    /// The fitted intercept (log-odds of a lead that hits no rule).
    pub intercept: f64,
    /// The factor from log-odds to points.
    pub points_per_log_odds: f64,
    /// The ridge used.
    pub ridge: f64,
    /// Newton iterations the fit took.
    pub iterations: u32,
    /// The normal quantile of the joint intervals (`uncertain_jointly`).
    pub joint_z: f64,
    /// Per rule, in the matrix's column order.
    pub rules: Vec<PointsChange>,
}

impl Suggestion {
    /// The suggested points, in the matrix's column order.
    pub fn points(&self) -> Vec<i64> {
        self.rules.iter().map(|r| r.suggested).collect()
    }
}

/// Suggests points for the matrix's rules from the leads' outcomes. `today` holds today's
/// points in the matrix's column order. Leave out of the matrix what should not be weighed:
/// disqualifying rules (their leads rarely reach sales, so they refuse) and caps.
pub fn suggest_points(
    matrix: &HitMatrix,
    outcomes: &[LeadOutcome],
    today: &[i64],
    options: &SuggestOptions,
) -> Result<Suggestion, SuggestError> {
    matrix.check_len("outcome", outcomes.len())?;
    if today.len() != matrix.rules().len() {
        return Err(InsightError::PointsPerRule {
            rules: matrix.rules().len(),
            found: today.len(),
        }
        .into());
    }
    if !(options.ridge.is_finite() && options.ridge >= 0.0) {
        return Err(InsightError::InvalidOption { name: "ridge", expected: "a number ≥ 0" }.into());
    }
    let (target, target_choice, tally) = match options.target {
        Some(t) => (t, TargetChoice::Asked, check_data(matrix, outcomes, t, options)?),
        None => match check_data(matrix, outcomes, Target::Won, options) {
            Ok(tally) => (Target::Won, TargetChoice::EnoughWins, tally),
            Err(refusal) => {
                let tally = check_data(matrix, outcomes, Target::Accepted, options)?;
                (Target::Accepted, TargetChoice::TooFewWins { refusal }, tally)
            }
        },
    };
    let y: Vec<bool> = outcomes.iter().map(|o| o.reached(target)).collect();
    let fit = fit_logistic(matrix, &y, options.ridge, options.max_iterations)?;
    let betas = &fit.coefficients[1..];
    let today_size: f64 = today.iter().map(|p| p.unsigned_abs() as f64).sum();
    let beta_size: f64 = betas.iter().map(|b| b.abs()).sum();
    let points_per_log_odds = if today_size > 0.0 && beta_size > 0.0 {
        today_size / beta_size
    } else {
        DEFAULT_POINTS_PER_LOG_ODDS
    };
    let joint_z = normal_quantile(1.0 - 0.025 / matrix.rules().len() as f64).unwrap_or(Z95);
    let rules = matrix
        .rules()
        .iter()
        .enumerate()
        .map(|(j, rule)| {
            let (beta, se) = (fit.coefficients[j + 1], fit.standard_errors[j + 1]);
            let (low, high) = (beta - Z95 * se, beta + Z95 * se);
            let suggested = (beta * points_per_log_odds).round() as i64;
            PointsChange {
                rule: rule.clone(),
                today: today[j],
                suggested,
                change: suggested - today[j],
                low: low * points_per_log_odds,
                high: high * points_per_log_odds,
                uncertain: low <= 0.0 && 0.0 <= high,
                uncertain_jointly: beta.abs() <= joint_z * se,
                coefficient: beta,
                standard_error: se,
                odds_ratio: beta.exp(),
                leads_hit: tally.hit[j],
                events: tally.events[j],
            }
        })
        .collect();
    Ok(Suggestion {
        target,
        target_choice,
        leads: matrix.leads() as u64,
        positives: tally.positives,
        intercept: fit.coefficients[0],
        points_per_log_odds,
        ridge: options.ridge,
        iterations: fit.iterations,
        joint_z,
        rules,
    })
}

/// Per-rule counts from the data checks.
struct Tally {
    positives: u64,
    hit: Vec<u64>,
    events: Vec<u64>,
}

/// Checks there are enough outcome events overall and per rule for `target`.
fn check_data(
    matrix: &HitMatrix,
    outcomes: &[LeadOutcome],
    target: Target,
    options: &SuggestOptions,
) -> Result<Tally, Refusal> {
    let rules = matrix.rules().len();
    if rules == 0 {
        return Err(Refusal::NoRules);
    }
    let mut hit = vec![0u64; rules];
    let mut hit_positive = vec![0u64; rules];
    let mut positives = 0;
    for (row, outcome) in matrix.rows().zip(outcomes) {
        let reached = outcome.reached(target);
        positives += u64::from(reached);
        for &j in row {
            hit[usize::from(j)] += 1;
            hit_positive[usize::from(j)] += u64::from(reached);
        }
    }
    let leads = matrix.leads() as u64;
    let events = positives.min(leads - positives);
    let needed = options.min_events_per_rule.saturating_mul(rules as u64);
    if events < needed {
        return Err(Refusal::TooFewOutcomes { target, events, rules, needed });
    }
    let per_rule: Vec<u64> = hit.iter().zip(&hit_positive).map(|(&n, &p)| p.min(n - p)).collect();
    let thinnest = per_rule.iter().enumerate().min_by_key(|(_, &e)| e);
    if let Some((j, &events)) = thinnest {
        if events < options.min_events_per_rule {
            return Err(Refusal::TooFewEvents {
                rule: matrix.rules()[j].clone(),
                target,
                events,
                needed: options.min_events_per_rule,
            });
        }
    }
    Ok(Tally { positives, hit, events: per_rule })
}

/// A fitted logistic model: intercept first, then one coefficient per rule.
struct LogisticFit {
    coefficients: Vec<f64>,
    standard_errors: Vec<f64>,
    iterations: u32,
}

/// The penalised log-likelihood, its gradient and its negative Hessian at `beta`.
struct Pass {
    objective: f64,
    gradient: Vec<f64>,
    /// Negative Hessian (information), `k × k` row-major.
    information: Vec<f64>,
}

fn pass(matrix: &HitMatrix, y: &[bool], beta: &[f64], ridge: f64) -> Pass {
    let k = beta.len();
    let mut gradient = vec![0.0; k];
    let mut information = vec![0.0; k * k];
    let mut log_likelihood = 0.0;
    for (row, &yi) in matrix.rows().zip(y) {
        let eta = beta[0] + row.iter().map(|&j| beta[usize::from(j) + 1]).sum::<f64>();
        // σ(η) and the log-likelihood with one `exp` and one `ln_1p`, without overflow:
        // with e = exp(−|η|), log σ(η) = −(max(−η, 0) + ln(1 + e)).
        let e = (-eta.abs()).exp();
        let log_1p_e = e.ln_1p();
        let p = if eta >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
        log_likelihood -= log_1p_e + if yi { (-eta).max(0.0) } else { eta.max(0.0) };
        let residual = f64::from(u8::from(yi)) - p;
        let w = p * (1.0 - p);
        gradient[0] += residual;
        information[0] += w;
        for (a, &ja) in row.iter().enumerate() {
            let ia = usize::from(ja) + 1;
            gradient[ia] += residual;
            information[ia] += w; // row 0, column ia (mirrored below)
            for &jb in &row[a..] {
                information[ia * k + usize::from(jb) + 1] += w;
            }
        }
    }
    // Mirror the upper triangle (row 0 and each row's later columns) to the lower.
    for a in 0..k {
        for b in (a + 1)..k {
            information[b * k + a] = information[a * k + b];
        }
    }
    let mut penalty = 0.0;
    for j in 1..k {
        penalty += beta[j] * beta[j];
        gradient[j] -= ridge * beta[j];
        information[j * k + j] += ridge;
    }
    Pass { objective: log_likelihood - 0.5 * ridge * penalty, gradient, information }
}

fn fit_logistic(
    matrix: &HitMatrix,
    y: &[bool],
    ridge: f64,
    max_iterations: u32,
) -> Result<LogisticFit, Refusal> {
    let k = matrix.rules().len() + 1;
    let mut beta = vec![0.0; k];
    let positives = y.iter().filter(|&&v| v).count() as f64;
    let share = (positives / y.len().max(1) as f64).clamp(1e-6, 1.0 - 1e-6);
    beta[0] = (share / (1.0 - share)).ln();
    let mut current = pass(matrix, y, &beta, ridge);
    for iteration in 1..=max_iterations {
        let factor = cholesky(&current.information, k).ok_or(Refusal::Singular)?;
        let step = solve(&factor, k, &current.gradient);
        // Step halving: the penalised likelihood is concave, so a short enough step along the
        // Newton direction always improves it.
        let mut scale = 1.0;
        let (candidate, next) = loop {
            let candidate: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + scale * s).collect();
            let next = pass(matrix, y, &candidate, ridge);
            if next.objective >= current.objective - 1e-12 * current.objective.abs() || scale < 1e-6
            {
                break (candidate, next);
            }
            scale *= 0.5;
        };
        let moved = step.iter().map(|s| (scale * s).abs()).fold(0.0, f64::max);
        beta = candidate;
        current = next;
        if moved < 1e-8 {
            let factor = cholesky(&current.information, k).ok_or(Refusal::Singular)?;
            let standard_errors = (0..k)
                .map(|j| {
                    let mut unit = vec![0.0; k];
                    unit[j] = 1.0;
                    solve(&factor, k, &unit)[j].max(0.0).sqrt()
                })
                .collect();
            return Ok(LogisticFit { coefficients: beta, standard_errors, iterations: iteration });
        }
    }
    Err(Refusal::DidNotConverge { iterations: max_iterations })
}

/// The Cholesky factor `L` (row-major, lower) of a symmetric positive-definite `k × k`
/// matrix; `None` when it is not positive definite.
fn cholesky(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let mut sum = a[i * k + j];
            for m in 0..j {
                sum -= l[i * k + m] * l[j * k + m];
            }
            if i == j {
                if sum <= 1e-12 * a[i * k + i].abs().max(1e-300) {
                    return None;
                }
                l[i * k + i] = sum.sqrt();
            } else {
                l[i * k + j] = sum / l[j * k + j];
            }
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b`.
fn solve(l: &[f64], k: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; k];
    for i in 0..k {
        let sum: f64 = (0..i).map(|m| l[i * k + m] * z[m]).sum();
        z[i] = (b[i] - sum) / l[i * k + i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        let sum: f64 = ((i + 1)..k).map(|m| l[m * k + i] * x[m]).sum();
        x[i] = (z[i] - sum) / l[i * k + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn won(w: bool) -> LeadOutcome {
        LeadOutcome { accepted: w, rejected: !w, won: w }
    }

    /// One rule, fitted without a penalty, is the 2×2 table's log odds ratio, with Woolf's
    /// standard error `sqrt(1/a + 1/b + 1/c + 1/d)`.
    #[test]
    fn one_rule_matches_the_two_by_two_table() {
        // Hit: 30 won of 50; not hit: 20 won of 100.
        let mut rows = Vec::new();
        let mut outcomes = Vec::new();
        for i in 0..150 {
            let hit = i < 50;
            rows.push(if hit { vec![0] } else { vec![] });
            outcomes.push(won(if hit { i < 30 } else { i < 70 }));
        }
        let m = HitMatrix::from_rows(vec!["a".into()], &rows).unwrap();
        let options =
            SuggestOptions { target: Some(Target::Won), ridge: 0.0, ..Default::default() };
        let s = suggest_points(&m, &outcomes, &[25], &options).unwrap();
        let r = &s.rules[0];
        // ln((30/20) / (20/80)) = ln 6.
        assert!((r.coefficient - 6f64.ln()).abs() < 1e-9, "{r:?}");
        let woolf = (1.0f64 / 30.0 + 1.0 / 20.0 + 1.0 / 20.0 + 1.0 / 80.0).sqrt();
        assert!((r.standard_error - woolf).abs() < 1e-9, "{r:?}");
        assert!((s.intercept - 0.25f64.ln()).abs() < 1e-9);
        // One rule: the scale keeps its 25 points.
        assert_eq!(r.suggested, 25);
        assert!(!r.uncertain && !r.uncertain_jointly);
        assert!((s.joint_z - Z95).abs() < 1e-8, "one rule: the joint interval is the 95% one");
        assert!((r.low - 25.0 * (6f64.ln() - Z95 * woolf) / 6f64.ln()).abs() < 1e-9);
        assert_eq!((r.leads_hit, r.events), (50, 20));

        // The JSON the relay answers with.
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["target"], "won");
        assert_eq!(json["target_choice"]["why"], "asked");
        let keys: Vec<&str> =
            json["rules"][0].as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut want = vec![
            "rule",
            "today",
            "suggested",
            "change",
            "low",
            "high",
            "uncertain",
            "uncertain_jointly",
            "coefficient",
            "standard_error",
            "odds_ratio",
            "leads_hit",
            "events",
        ];
        want.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, want);

        // The ridge pulls the coefficient towards 0: about by the share of the penalty in the
        // information, ln 6 · I / (I + 1) with I = 1/woolf² = 6.857 → 1.565.
        let ridged = SuggestOptions { ridge: 1.0, ..options };
        let shrunk = suggest_points(&m, &outcomes, &[25], &ridged).unwrap();
        let c = shrunk.rules[0].coefficient;
        assert!((c - 1.565).abs() < 0.02, "{c}");
    }

    #[test]
    fn refuses_thin_data_naming_the_rule() {
        let rules = vec!["common".to_string(), "rare".into()];
        let mut rows = Vec::new();
        let mut outcomes = Vec::new();
        for i in 0..400 {
            let mut row = vec![];
            if i % 2 == 0 {
                row.push(0);
            }
            if i % 50 == 0 {
                row.push(1); // 8 leads
            }
            rows.push(row);
            outcomes.push(won(i % 3 == 0));
        }
        let m = HitMatrix::from_rows(rules, &rows).unwrap();
        let options = SuggestOptions { target: Some(Target::Won), ..Default::default() };
        let err = suggest_points(&m, &outcomes, &[10, 10], &options).unwrap_err();
        let SuggestError::Refused(Refusal::TooFewEvents { rule, events, needed, .. }) = &err else {
            panic!("{err:?}")
        };
        assert_eq!((rule.as_str(), *needed), ("rare", 10));
        assert!(*events < 10);
        assert!(
            err.to_string().starts_with("rule \"rare\": the rarer of won / not won has only"),
            "{err}"
        );
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["refusal"], "too_few_events");
        assert_eq!(json["rule"], "rare");

        // 12 won of 400 leads, two rules: 12 < 20.
        let few: Vec<LeadOutcome> = (0..400).map(|i| won(i % 33 == 0 && i < 396)).collect();
        let err = suggest_points(&m, &few, &[10, 10], &options).unwrap_err();
        assert_eq!(
            err,
            SuggestError::Refused(Refusal::TooFewOutcomes {
                target: Target::Won,
                events: 12,
                rules: 2,
                needed: 20
            })
        );
        let empty = HitMatrix::new(vec!["a".into()]);
        assert!(matches!(
            suggest_points(&empty, &[], &[1], &options),
            Err(SuggestError::Refused(Refusal::TooFewOutcomes { events: 0, .. }))
        ));
        let none = HitMatrix::new(vec![]);
        assert_eq!(
            suggest_points(&none, &[], &[], &options),
            Err(SuggestError::Refused(Refusal::NoRules))
        );
        assert!(matches!(
            suggest_points(&m, &outcomes, &[1], &options),
            Err(SuggestError::Input(InsightError::PointsPerRule { rules: 2, found: 1 }))
        ));
        let bad = SuggestOptions { ridge: f64::NAN, ..options };
        assert!(suggest_points(&m, &outcomes, &[1, 1], &bad).is_err());
    }

    #[test]
    fn falls_back_to_accepted_when_wins_are_few() {
        // 300 leads, half hit the rule; 120 accepted, 6 won.
        let rows: Vec<Vec<usize>> =
            (0..300).map(|i| if i % 2 == 0 { vec![0] } else { vec![] }).collect();
        let outcomes: Vec<LeadOutcome> = (0..300)
            .map(|i| LeadOutcome {
                accepted: (i % 2 == 0 && i % 3 != 0) || i % 7 == 0,
                rejected: false,
                won: i % 50 == 0,
            })
            .collect();
        let m = HitMatrix::from_rows(vec!["a".into()], &rows).unwrap();
        let s = suggest_points(&m, &outcomes, &[10], &SuggestOptions::default()).unwrap();
        assert_eq!(s.target, Target::Accepted);
        assert!(matches!(
            s.target_choice,
            TargetChoice::TooFewWins { refusal: Refusal::TooFewOutcomes { events: 6, .. } }
        ));
        assert!(s.rules[0].coefficient > 1.0);
    }

    #[test]
    fn separation_and_redundancy_stay_finite_with_a_ridge() {
        let rows: Vec<Vec<usize>> =
            (0..200).map(|i| if i < 100 { vec![0, 1] } else { vec![1] }).collect();
        let outcomes: Vec<LeadOutcome> = (0..200).map(|i| won(i < 100)).collect();
        let m = HitMatrix::from_rows(vec!["a".into(), "everyone".into()], &rows).unwrap();
        let options = SuggestOptions {
            target: Some(Target::Won),
            min_events_per_rule: 0,
            ..Default::default()
        };
        // Rule "a" separates perfectly (won exactly when hit): no maximum likelihood exists, but
        // the penalised one does.
        let s = suggest_points(&m, &outcomes, &[10, 0], &options).unwrap();
        assert!(s.rules[0].coefficient > 2.0 && !s.rules[0].uncertain);
        assert!(s.rules.iter().all(|r| r.coefficient.is_finite() && r.standard_error.is_finite()));
        // A rule every lead hits is confounded with the intercept: wide, uncertain.
        assert!(s.rules[1].uncertain);
        let singular = SuggestOptions { ridge: 0.0, ..options };
        assert_eq!(
            suggest_points(&m, &outcomes, &[10, 0], &singular),
            Err(SuggestError::Refused(Refusal::Singular))
        );
    }

    #[test]
    fn cholesky_solves_a_small_system() {
        // [[4, 2], [2, 3]] x = [2, 1] → x = [0.5, 0].
        let l = cholesky(&[4.0, 2.0, 2.0, 3.0], 2).unwrap();
        let x = solve(&l, 2, &[2.0, 1.0]);
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
