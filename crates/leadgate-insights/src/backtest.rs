//! Backtest: the same judged leads scored by today's config and by a draft, side by side.
//!
//! The relay re-scores every stored lead with both configs (the core engine, caps and decay
//! included) and hands each lead's two results here with its outcome and source. What comes
//! back, overall and per source: how many qualify before and after; precision (of the
//! qualified leads, how many sales accepted / won); recall (of the accepted / won leads, how
//! many qualified; the rest would be missed); and the AUC of each total.
//!
//! One caution the numbers carry: leads that did not qualify before never reached sales, so
//! most have no outcome. A draft that qualifies them is judged on leads nobody judged; they
//! count as not accepted, which makes the draft's precision a lower bound. `unjudged_qualified`
//! says how many such leads there are.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::auc::auc;
use crate::data::{InsightError, LeadOutcome, Target};
use crate::rate::Rate;

/// One config's result for a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scored {
    /// The total score.
    pub total: i64,
    /// Whether the lead qualified (went to sales).
    pub qualified: bool,
}

/// A lead as both configs score it, with what became of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BacktestLead<'a> {
    /// Where it came from (e.g. its UTM source; `""` for none).
    pub source: &'a str,
    /// Scored by today's config.
    pub before: Scored,
    /// Scored by the draft.
    pub after: Scored,
    /// What sales said.
    pub outcome: LeadOutcome,
}

/// A number before and after.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BeforeAfter<T> {
    /// With today's config.
    pub before: T,
    /// With the draft.
    pub after: T,
}

/// How each config does for one outcome.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OutcomeBacktest {
    /// Leads that reached the outcome.
    pub reached: u64,
    /// Of the qualified leads, the share that reached the outcome.
    pub precision: BeforeAfter<Rate>,
    /// Of the leads that reached the outcome, the share that qualified.
    pub recall: BeforeAfter<Rate>,
    /// Leads that reached the outcome but would not have qualified.
    pub missed: BeforeAfter<u64>,
    /// The AUC of the total for this outcome; `None` without both kinds of leads.
    pub auc: BeforeAfter<Option<f64>>,
}

/// The backtest of one group of leads (all, or one source).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestGroup {
    /// The source; `None` for all leads.
    pub source: Option<String>,
    /// Leads.
    pub leads: u64,
    /// How many qualify.
    pub qualified: BeforeAfter<u64>,
    /// Qualify with the draft only.
    pub newly_qualified: u64,
    /// Qualify today only.
    pub no_longer_qualified: u64,
    /// Qualify with the draft and have no outcome (not accepted, rejected or won): counted as
    /// not accepted, so the draft's precision is a lower bound.
    pub unjudged_qualified: u64,
    /// Sales-accepted leads.
    pub accepted: OutcomeBacktest,
    /// Won leads.
    pub won: OutcomeBacktest,
}

/// The whole backtest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    /// Every lead.
    pub all: BacktestGroup,
    /// Per source, the most leads first (then by name).
    pub by_source: Vec<BacktestGroup>,
}

/// Compares the draft with today's config on these leads.
pub fn backtest(leads: &[BacktestLead<'_>]) -> Result<Backtest, InsightError> {
    let mut sources: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, lead) in leads.iter().enumerate() {
        sources.entry(lead.source).or_default().push(i as u32);
    }
    let all: Vec<u32> = (0..leads.len() as u32).collect();
    let mut by_source = Vec::with_capacity(sources.len());
    for (source, members) in sources {
        by_source.push(group(leads, &members, Some(source.to_string()))?);
    }
    by_source.sort_by(|a, b| b.leads.cmp(&a.leads).then_with(|| a.source.cmp(&b.source)));
    Ok(Backtest { all: group(leads, &all, None)?, by_source })
}

fn group(
    leads: &[BacktestLead<'_>],
    members: &[u32],
    source: Option<String>,
) -> Result<BacktestGroup, InsightError> {
    let picked = || members.iter().map(|&i| &leads[i as usize]);
    let count = |f: &dyn Fn(&BacktestLead<'_>) -> bool| picked().filter(|l| f(l)).count() as u64;
    let qualified = BeforeAfter {
        before: count(&|l| l.before.qualified),
        after: count(&|l| l.after.qualified),
    };
    let judged = |o: LeadOutcome| o.accepted || o.rejected || o.won;
    let before: Vec<f64> = picked().map(|l| l.before.total as f64).collect();
    let after: Vec<f64> = picked().map(|l| l.after.total as f64).collect();
    let outcome = |target: Target| -> Result<OutcomeBacktest, InsightError> {
        let positive: Vec<bool> = picked().map(|l| l.outcome.reached(target)).collect();
        let reached = positive.iter().filter(|&&p| p).count() as u64;
        let hits =
            |q: &dyn Fn(&BacktestLead<'_>) -> bool| count(&|l| q(l) && l.outcome.reached(target));
        let (hit_before, hit_after) = (hits(&|l| l.before.qualified), hits(&|l| l.after.qualified));
        Ok(OutcomeBacktest {
            reached,
            precision: BeforeAfter {
                before: Rate::new(hit_before, qualified.before),
                after: Rate::new(hit_after, qualified.after),
            },
            recall: BeforeAfter {
                before: Rate::new(hit_before, reached),
                after: Rate::new(hit_after, reached),
            },
            missed: BeforeAfter { before: reached - hit_before, after: reached - hit_after },
            auc: BeforeAfter { before: auc(&before, &positive)?, after: auc(&after, &positive)? },
        })
    };
    Ok(BacktestGroup {
        source,
        leads: members.len() as u64,
        qualified,
        newly_qualified: count(&|l| l.after.qualified && !l.before.qualified),
        no_longer_qualified: count(&|l| l.before.qualified && !l.after.qualified),
        unjudged_qualified: count(&|l| l.after.qualified && !judged(l.outcome)),
        accepted: outcome(Target::Accepted)?,
        won: outcome(Target::Won)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(source: &str, before: i64, after: i64, accepted: bool, won: bool) -> BacktestLead<'_> {
        BacktestLead {
            source,
            before: Scored { total: before, qualified: before >= 50 },
            after: Scored { total: after, qualified: after >= 50 },
            outcome: LeadOutcome { accepted, rejected: !accepted && before >= 50, won },
        }
    }

    #[test]
    fn before_and_after_by_hand() {
        // Bar 50 for both. Today: leads 1, 2, 3, 4 qualify; the draft: 1, 2, 5.
        let leads = [
            lead("ads", 80, 90, true, true),    // 1: qualified both, won
            lead("ads", 60, 70, true, false),   // 2: both, accepted
            lead("ads", 55, 20, false, false),  // 3: today only, rejected
            lead("mail", 50, 40, false, false), // 4: today only, rejected
            lead("mail", 30, 60, true, false),  // 5: draft only, accepted
            lead("mail", 10, 10, false, false), // 6: neither, no outcome
        ];
        let b = backtest(&leads).unwrap();
        let all = &b.all;
        assert_eq!(all.leads, 6);
        assert_eq!((all.qualified.before, all.qualified.after), (4, 3));
        assert_eq!(
            (all.newly_qualified, all.no_longer_qualified, all.unjudged_qualified),
            (1, 2, 0)
        );
        // Accepted: 1, 2, 5. Precision before 2/4, after 3/3; recall before 2/3, after 3/3.
        let a = &all.accepted;
        assert_eq!(a.reached, 3);
        assert_eq!((a.precision.before.successes, a.precision.before.n), (2, 4));
        assert_eq!((a.precision.after.successes, a.precision.after.n), (3, 3));
        assert_eq!((a.recall.before.successes, a.recall.before.n), (2, 3));
        assert_eq!((a.missed.before, a.missed.after), (1, 0));
        // AUC accepted, before: positives 80, 60, 30 vs negatives 55, 50, 10:
        // 80 beats 3, 60 beats 3, 30 beats 1 → 7 of 9. After: 90, 70, 60 vs 20, 40, 10 → 9/9.
        assert_eq!(a.auc.before, Some(7.0 / 9.0));
        assert_eq!(a.auc.after, Some(1.0));
        // Won: only lead 1.
        assert_eq!(all.won.reached, 1);
        assert_eq!(all.won.auc.before, Some(1.0));
        assert!(all.won.precision.after.thin);

        assert_eq!(b.by_source.len(), 2);
        let mail = b.by_source.iter().find(|g| g.source.as_deref() == Some("mail")).unwrap();
        assert_eq!((mail.qualified.before, mail.qualified.after), (1, 1));
        assert_eq!(mail.accepted.missed.before, 1);
        // No wins from mail: no AUC.
        assert_eq!(mail.won.auc.before, None);
        assert_eq!(b.by_source[0].source.as_deref(), Some("ads"), "ties by name");
    }

    #[test]
    fn empty_and_unjudged() {
        let b = backtest(&[]).unwrap();
        assert_eq!(b.all.leads, 0);
        assert!(b.by_source.is_empty());
        assert_eq!(b.all.accepted.precision.before.rate, None);
        let leads = [lead("x", 10, 70, false, false)];
        let b = backtest(&leads).unwrap();
        assert_eq!(b.all.unjudged_qualified, 1);
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["all"]["qualified"]["after"], 1);
    }
}
