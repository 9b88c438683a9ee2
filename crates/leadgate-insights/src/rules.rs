//! Per rule: what became of the leads it hit, next to the leads it did not hit; and rejection
//! reasons by segment (source, campaign, rule) against the rest.
//!
//! A rule "separates" when the leads it hits are accepted or won at a clearly different rate
//! than the others: Newcombe's 95% interval for the difference of the two rates (built from
//! their Wilson intervals) leaves out 0. Overlapping Wilson intervals are *not* used as the
//! test: two 95% intervals can overlap while the difference is clear, so overlap is too
//! conservative. The lift (ratio of the rates) comes with its Katz log interval for display.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::{HitMatrix, InsightError, LeadOutcome, OutcomeCounts};
use crate::rate::{Comparison, Rate};

/// The leads one rule hit and what became of them: one row of a `GROUP BY rule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCounts {
    /// The rule's id.
    pub rule: String,
    /// The leads it hit.
    pub hit: OutcomeCounts,
}

/// Counts per rule from a hit matrix and each lead's outcome.
pub fn rule_counts(
    matrix: &HitMatrix,
    outcomes: &[LeadOutcome],
) -> Result<(OutcomeCounts, Vec<RuleCounts>), InsightError> {
    matrix.check_len("outcome", outcomes.len())?;
    let mut all = OutcomeCounts::default();
    let mut per_rule = vec![OutcomeCounts::default(); matrix.rules().len()];
    for (row, outcome) in matrix.rows().zip(outcomes) {
        all.add(*outcome);
        for &j in row {
            per_rule[usize::from(j)].add(*outcome);
        }
    }
    let rules = matrix
        .rules()
        .iter()
        .zip(per_rule)
        .map(|(rule, hit)| RuleCounts { rule: rule.clone(), hit })
        .collect();
    Ok((all, rules))
}

/// One rate among the leads a rule hit, next to the same rate among the others.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WithAndWithout {
    /// Among the leads the rule hit.
    pub with: Rate,
    /// Among the leads it did not hit.
    pub without: Rate,
    /// `with` against `without`: difference (Newcombe), lift (Katz), and whether clear.
    pub comparison: Comparison,
}

impl WithAndWithout {
    fn of(with: Rate, without: Rate) -> WithAndWithout {
        WithAndWithout { with, without, comparison: Comparison::of(&with, &without) }
    }
}

/// How one rule's leads fared against the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleComparison {
    /// The rule's id.
    pub rule: String,
    /// How many leads it hit.
    pub leads_hit: u64,
    /// Accept rate with and without the rule; `comparison.ratio` is the lift.
    pub accepted: WithAndWithout,
    /// Win rate with and without the rule.
    pub won: WithAndWithout,
    /// Rejection rate with and without the rule.
    pub rejected: WithAndWithout,
    /// Neither the accept rate nor the win rate of its leads differs clearly from the rest
    /// (both Newcombe intervals of the difference include 0): the rule does not, on this data,
    /// tell good leads from bad. Also set when the rule hit no lead or every lead.
    pub no_separation: bool,
    /// Its leads are rejected clearly more often than the rest (the Newcombe interval of the
    /// difference of rejection rates lies above 0).
    pub pushes_rejections: bool,
}

/// Compares each rule's leads with the leads it did not hit. `all` counts every lead the
/// rules were counted over; each rule's counts must fit inside it.
pub fn compare_rules(
    all: &OutcomeCounts,
    rules: &[RuleCounts],
) -> Result<Vec<RuleComparison>, InsightError> {
    all.check("all leads")?;
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        let what = "rule \"".to_string() + &r.rule + "\"";
        r.hit.check(&what)?;
        let rest = all.minus(&r.hit, &what)?;
        let pair = |with: u64, without: u64| {
            WithAndWithout::of(Rate::new(with, r.hit.leads), Rate::new(without, rest.leads))
        };
        let accepted = pair(r.hit.accepted, rest.accepted);
        let won = pair(r.hit.won, rest.won);
        let rejected = pair(r.hit.rejected, rest.rejected);
        let clear = |c: &Comparison| c.higher || c.lower;
        out.push(RuleComparison {
            rule: r.rule.clone(),
            leads_hit: r.hit.leads,
            no_separation: !clear(&accepted.comparison) && !clear(&won.comparison),
            pushes_rejections: rejected.comparison.higher,
            accepted,
            won,
            rejected,
        });
    }
    Ok(out)
}

/// What a segment of leads is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// Leads with one UTM source (or first/last-touch source: the label says which).
    Source,
    /// Leads from one campaign.
    Campaign,
    /// Leads one rule hit.
    Rule,
}

/// One segment's leads and its rejections by reason: rows of `GROUP BY segment, reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentReasons {
    /// What the segment is.
    pub kind: SegmentKind,
    /// Its label as a marketer reads it, e.g. `utm_source=linkedin`.
    pub segment: String,
    /// How many leads it has.
    pub leads: u64,
    /// How many of them were rejected, by reason (e.g. `no-budget`).
    pub rejected: BTreeMap<String, u64>,
}

/// One reason in one segment against the rest of the leads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonInsight {
    /// What the segment is.
    pub kind: SegmentKind,
    /// The segment's label.
    pub segment: String,
    /// The rejection reason.
    pub reason: String,
    /// Leads of the segment rejected for this reason.
    pub in_segment: Rate,
    /// Leads outside the segment rejected for this reason.
    pub rest: Rate,
    /// Segment against rest: difference, ratio ("3.1x as often") and whether clear.
    pub comparison: Comparison,
    /// The segment's leads are clearly more often rejected for this reason.
    pub more_often: bool,
    /// The finding in a sentence, with its counts.
    pub summary: String,
}

/// Rejection reasons of each segment against the rest of the leads: "leads from
/// utm_source=linkedin are rejected as no-budget 3.1x as often as the rest (12 of 40 vs 31
/// of 410)". `all_leads` and `all_rejected` (by reason) count every lead; each segment must
/// fit inside them. Findings come clear ones first, then by ratio, largest first.
pub fn rejection_reasons(
    all_leads: u64,
    all_rejected: &BTreeMap<String, u64>,
    segments: &[SegmentReasons],
) -> Result<Vec<ReasonInsight>, InsightError> {
    let mut out = Vec::new();
    for s in segments {
        let what = |field: &str| "segment \"".to_string() + &s.segment + "\"" + field;
        let rest_leads =
            all_leads.checked_sub(s.leads).ok_or_else(|| InsightError::PartExceedsWhole {
                part: what(""),
                field: "leads",
                part_count: s.leads,
                whole_count: all_leads,
            })?;
        for (reason, &count) in &s.rejected {
            let total = all_rejected.get(reason).copied().unwrap_or(0);
            let exceeds = |field, part_count, whole_count| InsightError::PartExceedsWhole {
                part: what(&(" reason \"".to_string() + reason + "\"")),
                field,
                part_count,
                whole_count,
            };
            if count > s.leads {
                return Err(exceeds("leads", count, s.leads));
            }
            let rest_count =
                total.checked_sub(count).ok_or_else(|| exceeds("rejections", count, total))?;
            if rest_count > rest_leads {
                return Err(exceeds("leads", rest_count, rest_leads));
            }
            let in_segment = Rate::new(count, s.leads);
            let rest = Rate::new(rest_count, rest_leads);
            let comparison = Comparison::of(&in_segment, &rest);
            let summary = summary(s.kind, &s.segment, reason, &in_segment, &rest, &comparison);
            out.push(ReasonInsight {
                kind: s.kind,
                segment: s.segment.clone(),
                reason: reason.clone(),
                in_segment,
                rest,
                more_often: comparison.higher,
                comparison,
                summary,
            });
        }
    }
    let ratio = |r: &ReasonInsight| r.comparison.ratio.map_or(0.0, |r| r.ratio);
    out.sort_by(|a, b| b.more_often.cmp(&a.more_often).then(ratio(b).total_cmp(&ratio(a))));
    Ok(out)
}

fn summary(
    kind: SegmentKind,
    segment: &str,
    reason: &str,
    in_segment: &Rate,
    rest: &Rate,
    comparison: &Comparison,
) -> String {
    let who = match kind {
        SegmentKind::Source => "leads from ",
        SegmentKind::Campaign => "leads from campaign ",
        SegmentKind::Rule => "leads hit by rule ",
    };
    let counts = format!(
        "({} of {} vs {} of {})",
        in_segment.successes, in_segment.n, rest.successes, rest.n
    );
    match (comparison.ratio, in_segment.successes, rest.successes) {
        (Some(r), _, _) => format!(
            "{who}{segment} are rejected as {reason} {:.1}x as often as the rest {counts}",
            r.ratio
        ),
        (None, 0, 0) => format!("no lead is rejected as {reason} {counts}"),
        (None, 0, _) => {
            format!("{who}{segment} are never rejected as {reason}, the rest are {counts}")
        }
        (None, _, _) => {
            format!("{who}{segment} are rejected as {reason}, the rest never are {counts}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(leads: u64, accepted: u64, rejected: u64, won: u64) -> OutcomeCounts {
        OutcomeCounts { leads, accepted, rejected, won }
    }

    #[test]
    fn compares_each_rule_with_the_rest() {
        // 100 leads: 40 accepted, 50 rejected, 10 won.
        let all = counts(100, 40, 50, 10);
        let rules = [
            // Hit 30: 24 accepted, 4 rejected, 8 won; rest 70: 16 / 46 / 2.
            RuleCounts { rule: "big_company".into(), hit: counts(30, 24, 4, 8) },
            // Hit 50: 20 / 25 / 5 — exactly the rest's rates: no separation.
            RuleCounts { rule: "coin_flip".into(), hit: counts(50, 20, 25, 5) },
            // Hit 20: 1 / 18 / 0, rest 80: 39 / 32 / 10.
            RuleCounts { rule: "gmail".into(), hit: counts(20, 1, 18, 0) },
            RuleCounts { rule: "never".into(), hit: counts(0, 0, 0, 0) },
        ];
        let c = compare_rules(&all, &rules).unwrap();
        let big = &c[0];
        assert_eq!(big.accepted.with.successes, 24);
        assert_eq!((big.accepted.without.successes, big.accepted.without.n), (16, 70));
        // Lift of the accept rate: 0.8 / (16/70) = 3.5.
        let lift = big.accepted.comparison.ratio.unwrap();
        assert!((lift.ratio - 3.5).abs() < 1e-12);
        // Katz: se = sqrt(1/24 - 1/30 + 1/16 - 1/70) = 0.237797; 3.5·exp(±1.96·se).
        assert!((lift.low - 2.196_11).abs() < 1e-4, "{lift:?}");
        assert!((lift.high - 5.578_04).abs() < 1e-4, "{lift:?}");
        assert!(!big.no_separation && !big.pushes_rejections);
        assert!(big.rejected.comparison.lower);

        let flip = &c[1];
        assert!(flip.no_separation && !flip.pushes_rejections);
        assert_eq!(flip.accepted.comparison.ratio.unwrap().ratio, 1.0);

        let gmail = &c[2];
        assert!(gmail.pushes_rejections && !gmail.no_separation);
        assert_eq!(gmail.won.comparison.ratio, None, "no wins: the lift is undefined");

        let never = &c[3];
        assert!(never.no_separation && never.accepted.with.thin);
        assert_eq!(never.accepted.with.rate, None);
    }

    #[test]
    fn empty_and_inconsistent_counts() {
        assert_eq!(compare_rules(&OutcomeCounts::default(), &[]).unwrap(), vec![]);
        let too_many = [RuleCounts { rule: "x".into(), hit: counts(5, 0, 0, 0) }];
        let err = compare_rules(&counts(3, 0, 0, 0), &too_many).unwrap_err();
        assert_eq!(err.to_string(), "rule \"x\" has 5 leads, more than the 3 of all leads");
        let bad = [RuleCounts { rule: "y".into(), hit: counts(2, 3, 0, 0) }];
        assert!(compare_rules(&counts(9, 5, 0, 0), &bad).is_err());
    }

    #[test]
    fn rule_counts_from_a_matrix() {
        let rules = vec!["a".to_string(), "b".into()];
        let m = HitMatrix::from_rows(rules, &[vec![0], vec![0, 1], vec![], vec![1]]).unwrap();
        let o = |accepted, won| LeadOutcome { accepted, rejected: !accepted, won };
        let outcomes = [o(true, true), o(true, false), o(false, false), o(false, false)];
        let (all, per_rule) = rule_counts(&m, &outcomes).unwrap();
        assert_eq!(all, counts(4, 2, 2, 1));
        assert_eq!(per_rule[0].hit, counts(2, 2, 0, 1));
        assert_eq!(per_rule[1].hit, counts(2, 1, 1, 0));
        assert!(rule_counts(&m, &outcomes[..3]).is_err());
    }

    #[test]
    fn rejection_reasons_against_the_rest() {
        // 450 leads, 43 rejected as no-budget; linkedin: 40 leads, 12 of them.
        let all: BTreeMap<String, u64> =
            [("no-budget".to_string(), 43), ("spam".to_string(), 5)].into();
        let segments = [
            SegmentReasons {
                kind: SegmentKind::Source,
                segment: "utm_source=linkedin".into(),
                leads: 40,
                rejected: [("no-budget".to_string(), 12), ("spam".to_string(), 0)].into(),
            },
            SegmentReasons {
                kind: SegmentKind::Rule,
                segment: "gmail".into(),
                leads: 10,
                rejected: [("spam".to_string(), 5)].into(),
            },
        ];
        let found = rejection_reasons(450, &all, &segments).unwrap();
        assert_eq!(found.len(), 3);
        let linkedin = &found[0];
        assert_eq!(linkedin.reason, "no-budget");
        assert!(linkedin.more_often);
        assert!((linkedin.comparison.ratio.unwrap().ratio - 3.967_742).abs() < 1e-6);
        assert_eq!(
            linkedin.summary,
            "leads from utm_source=linkedin are rejected as no-budget 4.0x as often as the rest \
             (12 of 40 vs 31 of 410)"
        );
        let gmail = &found[1];
        assert_eq!(
            gmail.summary,
            "leads hit by rule gmail are rejected as spam, the rest never are (5 of 10 vs 0 of 440)"
        );
        assert!(gmail.more_often);
        assert_eq!(
            found[2].summary,
            "leads from utm_source=linkedin are never rejected as spam, the rest are (0 of 40 vs 5 of 410)"
        );
        assert!(!found[2].more_often);

        assert_eq!(rejection_reasons(0, &BTreeMap::new(), &[]).unwrap(), vec![]);
        let err = rejection_reasons(30, &all, &segments).unwrap_err();
        assert!(err.to_string().contains("utm_source=linkedin"), "{err}");
    }
}
