//! A synthetic ground truth for the suggested points: leads whose outcome follows a known
//! logistic model of 20 rules (some strong, some weak, ten useless, one harmful). The
//! suggestion must recover the sign and the order of the rules that matter, flag the useless
//! ones as uncertain, beat a marketer's hand-set points on held-out leads, and refuse when there
//! are only 50 outcomes. Fixed seeds: the same leads every run.

use leadgate_insights::{
    auc, suggest_points, HitMatrix, LeadOutcome, Refusal, SuggestError, SuggestOptions, Suggestion,
    Target,
};
use rand_pcg::rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// The true model: (rule, share of leads it hits, true log-odds weight, a marketer's points).
const RULES: [(&str, f64, f64, i64); 20] = [
    ("vp_or_c_level", 0.20, 1.6, 20),
    ("company_500_plus", 0.30, 1.2, 25),
    ("pricing_page", 0.25, 1.0, 10),
    ("demo_requested", 0.15, 0.8, 30),
    ("b2b_email", 0.50, 0.6, 10),
    ("target_industry", 0.35, 0.5, 5),
    ("webinar", 0.30, 0.4, 10),
    ("free_trial_student", 0.25, -1.2, 15), // harmful: the marketer thinks it is good
    ("repeat_visit", 0.40, 0.1, 5),         // barely matters
    ("newsletter", 0.45, 0.0, 10),
    ("blog_reader", 0.40, 0.0, 5),
    ("utm_linkedin", 0.20, 0.0, 10),
    ("utm_google", 0.30, 0.0, 5),
    ("mobile", 0.45, 0.0, 0),
    ("evening_visit", 0.30, 0.0, 0),
    ("long_message", 0.25, 0.0, 10),
    ("phone_given", 0.35, 0.0, 15),
    ("europe", 0.40, 0.0, 5),
    ("returning_cookie", 0.30, 0.0, 5),
    ("case_study", 0.20, 0.0, 10),
];
const INTERCEPT: f64 = -2.6;
/// A weight this far from 0 is "clearly non-zero".
const CLEAR: f64 = 0.35;

fn uniform(rng: &mut Pcg64Mcg) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// `n` leads from the true model. `demo_requested` is correlated with `pricing_page` (half of
/// the pricing-page visitors request a demo), as rules in a real config are.
fn generate(n: usize, seed: u64) -> (HitMatrix, Vec<LeadOutcome>) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let names = RULES.iter().map(|r| r.0.to_string()).collect();
    let mut matrix = HitMatrix::with_capacity(names, n, 8);
    let mut outcomes = Vec::with_capacity(n);
    for _ in 0..n {
        let mut hits = Vec::new();
        for (j, &(_, share, _, _)) in RULES.iter().enumerate() {
            let hit = if j == 3 && hits.contains(&2) {
                uniform(&mut rng) < 0.5
            } else {
                uniform(&mut rng) < share
            };
            if hit {
                hits.push(j);
            }
        }
        let eta = INTERCEPT + hits.iter().map(|&j| RULES[j].2).sum::<f64>();
        let won = uniform(&mut rng) < 1.0 / (1.0 + (-eta).exp());
        matrix.push(hits).expect("rule indexes are in range");
        outcomes.push(LeadOutcome { accepted: won, rejected: !won, won });
    }
    (matrix, outcomes)
}

fn totals(matrix: &HitMatrix, points: &[i64]) -> Vec<f64> {
    matrix.rows().map(|row| row.iter().map(|&j| points[usize::from(j)] as f64).sum()).collect()
}

fn held_out_auc(points: &[i64]) -> f64 {
    let (test, outcomes) = generate(5_000, 99);
    let won: Vec<bool> = outcomes.iter().map(|o| o.won).collect();
    auc(&totals(&test, points), &won).expect("one score per lead").expect("won and lost leads")
}

fn suggestion() -> Suggestion {
    let (train, outcomes) = generate(5_000, 1);
    let today: Vec<i64> = RULES.iter().map(|r| r.3).collect();
    let options = SuggestOptions { target: Some(Target::Won), ..SuggestOptions::default() };
    suggest_points(&train, &outcomes, &today, &options).expect("5,000 leads are enough")
}

/// Spearman's rank correlation (no ties in these inputs).
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let rank = |v: &[f64]| {
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|&x, &y| v[x].total_cmp(&v[y]));
        let mut r = vec![0.0; v.len()];
        for (position, &i) in order.iter().enumerate() {
            r[i] = position as f64;
        }
        r
    };
    let (ra, rb) = (rank(a), rank(b));
    let n = a.len() as f64;
    let d2: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - y).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

#[test]
fn suggestion_recovers_the_true_weights() {
    let s = suggestion();
    eprintln!(
        "won {} of {} leads; {:.2} points per log-odds; {} iterations",
        s.positives, s.leads, s.points_per_log_odds, s.iterations
    );
    eprintln!(
        "{:<20} {:>6} {:>7} {:>6} {:>6} {:>17} {:>9} {:>7}",
        "rule", "true", "fitted", "today", "sugg.", "95% (points)", "uncertain", "jointly"
    );
    for (r, &(_, _, truth, _)) in s.rules.iter().zip(&RULES) {
        eprintln!(
            "{:<20} {:>6.2} {:>7.2} {:>6} {:>6} {:>8.1}..{:<8.1} {:>9} {:>7}",
            r.rule,
            truth,
            r.coefficient,
            r.today,
            r.suggested,
            r.low,
            r.high,
            r.uncertain,
            r.uncertain_jointly
        );
    }

    let mut failures = Vec::new();
    for (r, &(_, _, truth, _)) in s.rules.iter().zip(&RULES) {
        // Close to the truth: a constant (or a shuffled) estimator fails here.
        if (r.coefficient - truth).abs() > 0.3 {
            failures.push(format!("{}: fitted {:.2}, true {truth}", r.rule, r.coefficient));
        }
        if truth.abs() >= CLEAR {
            if r.coefficient.signum() != truth.signum()
                || r.suggested.signum() != truth.signum() as i64
            {
                failures
                    .push(format!("{}: wrong sign {:.2} (true {truth})", r.rule, r.coefficient));
            }
            if r.uncertain {
                failures.push(format!("{}: uncertain, true weight {truth}", r.rule));
            }
        }
        if truth == 0.0 && !(r.uncertain && r.uncertain_jointly) {
            failures.push(format!(
                "{}: useless but not flagged uncertain ({:.2})",
                r.rule, r.coefficient
            ));
        }
        if truth.abs() >= CLEAR && r.uncertain_jointly {
            failures.push(format!("{}: jointly uncertain, true weight {truth}", r.rule));
        }
    }
    // Ranks: Spearman over the clearly non-zero rules, and every pair whose true weights are
    // at least 0.3 apart in the right order.
    let clear: Vec<usize> = (0..RULES.len()).filter(|&j| RULES[j].2.abs() >= CLEAR).collect();
    let truth: Vec<f64> = clear.iter().map(|&j| RULES[j].2).collect();
    let fitted: Vec<f64> = clear.iter().map(|&j| s.rules[j].coefficient).collect();
    let rho = spearman(&truth, &fitted);
    eprintln!("Spearman over the {} clear rules: {rho:.3}", clear.len());
    if rho < 0.9 {
        failures.push(format!("Spearman {rho:.3} < 0.9"));
    }
    for &a in &clear {
        for &b in &clear {
            if RULES[a].2 - RULES[b].2 >= 0.3 && s.rules[a].suggested <= s.rules[b].suggested {
                failures.push(format!("{} should outrank {}", RULES[a].0, RULES[b].0));
            }
        }
    }
    // The harmful rule is suggested below every useless one.
    let harmful = &s.rules[7];
    if harmful.suggested >= 0 || harmful.high >= 0.0 {
        failures.push(format!("the harmful rule is not clearly negative: {harmful:?}"));
    }

    let today: Vec<i64> = RULES.iter().map(|r| r.3).collect();
    // On today's scale: the sizes of the points add up to today's, up to rounding.
    let size = |p: &[i64]| p.iter().map(|x| x.abs()).sum::<i64>();
    let (size_today, size_suggested) = (size(&today), size(&s.points()));
    if (size_today - size_suggested).abs() > RULES.len() as i64 / 2 {
        failures.push(format!("points size {size_suggested}, today {size_today}"));
    }
    let (hand, suggested) = (held_out_auc(&today), held_out_auc(&s.points()));
    let ideal: Vec<i64> = RULES.iter().map(|r| (r.2 * 100.0).round() as i64).collect();
    eprintln!(
        "held-out AUC (5,000 other leads): hand-set {hand:.3}, suggested {suggested:.3}, true weights {:.3}",
        held_out_auc(&ideal)
    );
    if suggested < hand + 0.03 {
        failures.push(format!("held-out AUC: suggested {suggested:.3} vs hand-set {hand:.3}"));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_constant_estimator_would_fail() {
    // The checks above are not vacuous: the hand-set points (a stand-in for any estimator
    // that ignores the data) rank the harmful rule above the strong ones and lose on AUC.
    let today: Vec<i64> = RULES.iter().map(|r| r.3).collect();
    let flat = vec![10; RULES.len()];
    let s = suggestion();
    assert!(held_out_auc(&flat) < held_out_auc(&s.points()) - 0.05);
    assert!(today[7] > 0 && s.rules[7].suggested < 0);
}

#[test]
fn fifty_outcomes_are_refused() {
    let today: Vec<i64> = RULES.iter().map(|r| r.3).collect();
    let options = SuggestOptions::default();
    // 50 judged leads.
    let (matrix, outcomes) = generate(50, 3);
    let err = suggest_points(&matrix, &outcomes, &today, &options).unwrap_err();
    assert!(
        matches!(
            err,
            SuggestError::Refused(Refusal::TooFewOutcomes { rules: 20, needed: 200, .. })
        ),
        "{err:?}"
    );
    // 5,000 leads of which only 50 were won and 50 accepted: both outcomes are refused, and
    // the refusal says why.
    let (matrix, mut outcomes) = generate(5_000, 4);
    let mut seen = 0;
    for o in &mut outcomes {
        let keep = o.won && seen < 50;
        seen += usize::from(o.won);
        *o = LeadOutcome { accepted: keep, rejected: !keep, won: keep };
    }
    let err = suggest_points(&matrix, &outcomes, &today, &options).unwrap_err();
    assert_eq!(
        err,
        SuggestError::Refused(Refusal::TooFewOutcomes {
            target: Target::Accepted,
            events: 50,
            rules: 20,
            needed: 200
        })
    );
    assert_eq!(
        err.to_string(),
        "too few outcomes to learn from: the rarer of accepted / not accepted has 50 leads, and \
         20 rules need at least 200"
    );
}

/// How often the checks above hold over many seeds, not just the fixed one (`cargo test
/// --release -p leadgate-insights --test synthetic -- --ignored --nocapture`). Not a pass/fail
/// test: it reports. A useless rule is flagged "not uncertain" about 5% of the time by
/// construction of a 95% interval, so with ten of them about 40% of data sets have one.
#[test]
#[ignore]
fn recovery_over_many_seeds() {
    let today: Vec<i64> = RULES.iter().map(|r| r.3).collect();
    let options = SuggestOptions { target: Some(Target::Won), ..SuggestOptions::default() };
    let seeds = 100;
    let (mut sign_errors, mut clear_uncertain, mut useless_certain, mut sets_with_useless_certain) =
        (0, 0, 0, 0);
    let (mut order_errors, mut auc_wins, mut max_error) = (0, 0, 0.0f64);
    let (mut jointly_certain, mut sets_jointly_certain, mut clear_jointly_uncertain) = (0, 0, 0);
    let (mut hand_total, mut suggested_total) = (0.0, 0.0);
    let (test, test_outcomes) = generate(5_000, 99);
    let won: Vec<bool> = test_outcomes.iter().map(|o| o.won).collect();
    let held_out = |points: &[i64]| {
        auc(&totals(&test, points), &won).expect("lengths").expect("both kinds of leads")
    };
    for seed in 1000..1000 + seeds {
        let (train, outcomes) = generate(5_000, seed);
        let s = suggest_points(&train, &outcomes, &today, &options).expect("enough data");
        let (mut useless_here, mut jointly_here) = (0, 0);
        for (r, &(_, _, truth, _)) in s.rules.iter().zip(&RULES) {
            max_error = max_error.max((r.coefficient - truth).abs());
            if truth.abs() >= CLEAR {
                sign_errors += usize::from(r.coefficient.signum() != truth.signum());
                clear_uncertain += usize::from(r.uncertain);
            }
            if truth == 0.0 && !r.uncertain {
                useless_here += 1;
            }
            if truth == 0.0 && !r.uncertain_jointly {
                jointly_here += 1;
            }
            if truth.abs() >= CLEAR && r.uncertain_jointly {
                clear_jointly_uncertain += 1;
            }
        }
        jointly_certain += jointly_here;
        sets_jointly_certain += usize::from(jointly_here > 0);
        useless_certain += useless_here;
        sets_with_useless_certain += usize::from(useless_here > 0);
        for (a, ra) in RULES.iter().enumerate() {
            for (b, rb) in RULES.iter().enumerate() {
                let apart = ra.2 - rb.2 >= 0.3 && ra.2.abs() >= CLEAR && rb.2.abs() >= CLEAR;
                if apart && s.rules[a].suggested <= s.rules[b].suggested {
                    order_errors += 1;
                }
            }
        }
        let (h, g) = (held_out(&today), held_out(&s.points()));
        hand_total += h;
        suggested_total += g;
        auc_wins += usize::from(g > h);
    }
    eprintln!("over {seeds} seeds of 5,000 leads:");
    eprintln!("  sign errors on clear rules: {sign_errors} (of {})", seeds * 8);
    eprintln!("  clear rules flagged uncertain: {clear_uncertain}");
    eprintln!("  pairs ≥ 0.3 apart in the wrong order: {order_errors}");
    eprintln!(
        "  useless rules not flagged uncertain: {useless_certain} of {} ({:.1}%), in {sets_with_useless_certain} data sets",
        seeds * 11,
        100.0 * useless_certain as f64 / (seeds * 11) as f64
    );
    eprintln!(
        "  useless rules not flagged uncertain_jointly: {jointly_certain}, in {sets_jointly_certain} data sets; clear rules flagged uncertain_jointly: {clear_jointly_uncertain}"
    );
    eprintln!("  largest |fitted − true|: {max_error:.3}");
    eprintln!(
        "  held-out AUC: suggested beats hand-set in {auc_wins} of {seeds}; mean {:.3} vs {:.3}",
        suggested_total / seeds as f64,
        hand_total / seeds as f64
    );
}
