//! The inputs: what became of a lead, counts of leads (as SQL aggregates give them), and the
//! compact per-lead rule-hit matrix (as a scan of stored scores gives it).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What sales said became of one lead, reduced to what the statistics read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadOutcome {
    /// Sales accepted the lead (also when it later went on to be won or lost).
    pub accepted: bool,
    /// Sales rejected the lead.
    pub rejected: bool,
    /// The deal was won.
    pub won: bool,
}

impl LeadOutcome {
    /// Whether the lead reached `target`.
    pub fn reached(self, target: Target) -> bool {
        match target {
            Target::Accepted => self.accepted || self.won,
            Target::Won => self.won,
        }
    }
}

/// The outcome a model or a metric is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Sales accepted the lead (a won lead counts as accepted).
    Accepted,
    /// The deal was won.
    Won,
}

/// How many leads there are and what became of them: one row of a `GROUP BY`.
///
/// Which leads to count is the caller's choice and sets what the rates mean: count leads sales
/// has judged (or that are old enough to have been), or an accept rate reads low only because
/// recent leads are still waiting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    /// Leads.
    pub leads: u64,
    /// Of which sales accepted (won ones included).
    pub accepted: u64,
    /// Of which sales rejected.
    pub rejected: u64,
    /// Of which were won.
    pub won: u64,
}

impl OutcomeCounts {
    /// Adds one lead's outcome.
    pub fn add(&mut self, outcome: LeadOutcome) {
        self.leads += 1;
        self.accepted += u64::from(outcome.reached(Target::Accepted));
        self.rejected += u64::from(outcome.rejected);
        self.won += u64::from(outcome.won);
    }

    /// Counts a slice of outcomes.
    pub fn of(outcomes: &[LeadOutcome]) -> OutcomeCounts {
        let mut counts = OutcomeCounts::default();
        for o in outcomes {
            counts.add(*o);
        }
        counts
    }

    /// How many reached `target`.
    pub fn reached(&self, target: Target) -> u64 {
        match target {
            Target::Accepted => self.accepted,
            Target::Won => self.won,
        }
    }

    /// `self − part`, or an error naming `what` when `part` has more of anything.
    pub(crate) fn minus(
        &self,
        part: &OutcomeCounts,
        what: &str,
    ) -> Result<OutcomeCounts, InsightError> {
        let sub = |a: u64, b: u64, field: &'static str| {
            a.checked_sub(b).ok_or_else(|| InsightError::PartExceedsWhole {
                part: what.to_string(),
                field,
                part_count: b,
                whole_count: a,
            })
        };
        Ok(OutcomeCounts {
            leads: sub(self.leads, part.leads, "leads")?,
            accepted: sub(self.accepted, part.accepted, "accepted")?,
            rejected: sub(self.rejected, part.rejected, "rejected")?,
            won: sub(self.won, part.won, "won")?,
        })
    }

    /// Checks that no outcome count is above the number of leads.
    pub(crate) fn check(&self, what: &str) -> Result<(), InsightError> {
        for (field, count) in
            [("accepted", self.accepted), ("rejected", self.rejected), ("won", self.won)]
        {
            if count > self.leads {
                return Err(InsightError::PartExceedsWhole {
                    part: what.to_string() + "." + field,
                    field: "leads",
                    part_count: count,
                    whole_count: self.leads,
                });
            }
        }
        Ok(())
    }
}

/// Which rules hit which leads: a sparse 0/1 matrix, one row per lead, stored as each row's
/// rule indexes (a lead hits a handful of a config's rules, so this is small and fast).
/// Built only through [`HitMatrix::push`] and friends, which keep it consistent (so it is not
/// `Deserialize`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HitMatrix {
    rules: Vec<String>,
    /// Where each row starts in `hits`; one more entry than there are rows.
    starts: Vec<u32>,
    hits: Vec<u16>,
}

impl HitMatrix {
    /// An empty matrix over these rule ids (the columns, in this order).
    pub fn new(rules: Vec<String>) -> HitMatrix {
        HitMatrix { rules, starts: vec![0], hits: Vec::new() }
    }

    /// An empty matrix with room for `leads` rows of about `hits_per_lead` hits.
    pub fn with_capacity(rules: Vec<String>, leads: usize, hits_per_lead: usize) -> HitMatrix {
        let mut starts = Vec::with_capacity(leads + 1);
        starts.push(0);
        HitMatrix { rules, starts, hits: Vec::with_capacity(leads * hits_per_lead) }
    }

    /// Builds a matrix from each lead's hit rule indexes.
    pub fn from_rows<R: AsRef<[usize]>>(
        rules: Vec<String>,
        rows: &[R],
    ) -> Result<HitMatrix, InsightError> {
        let mut matrix = HitMatrix::with_capacity(rules, rows.len(), 8);
        for row in rows {
            matrix.push(row.as_ref().iter().copied())?;
        }
        Ok(matrix)
    }

    /// Adds a lead that hit the rules at these column indexes (a repeated index counts once).
    /// An index that is not a column is an error, and the lead is not added.
    pub fn push(&mut self, rules: impl IntoIterator<Item = usize>) -> Result<(), InsightError> {
        let start = self.hits.len();
        for index in rules {
            if index >= self.rules.len() || index > usize::from(u16::MAX) {
                self.hits.truncate(start);
                return Err(InsightError::UnknownRuleIndex { index, rules: self.rules.len() });
            }
            self.hits.push(index as u16);
        }
        let row = &mut self.hits[start..];
        row.sort_unstable();
        let mut kept = 0;
        for i in 0..row.len() {
            if i == 0 || row[i] != row[kept - 1] {
                row[kept] = row[i];
                kept += 1;
            }
        }
        self.hits.truncate(start + kept);
        let end = u32::try_from(self.hits.len()).map_err(|_| InsightError::TooLarge)?;
        self.starts.push(end);
        Ok(())
    }

    /// Adds a lead that hit the rules with these ids; ids that are not columns (caps, rules
    /// left out of the analysis) are skipped. Looks each id up among the columns (linear in
    /// the rules): for a large scan, map ids to indexes once and use [`HitMatrix::push`].
    pub fn push_ids<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), InsightError> {
        let indexes: Vec<usize> =
            ids.into_iter().filter_map(|id| self.rules.iter().position(|r| r == id)).collect();
        self.push(indexes)
    }

    /// The rule ids (the columns).
    pub fn rules(&self) -> &[String] {
        &self.rules
    }

    /// How many leads (rows).
    pub fn leads(&self) -> usize {
        self.starts.len() - 1
    }

    /// The rule indexes lead `i` hit, ascending.
    pub fn row(&self, i: usize) -> &[u16] {
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.hits[a as usize..b as usize],
            _ => &[],
        }
    }

    /// Every row, in order.
    pub fn rows(&self) -> impl Iterator<Item = &[u16]> + '_ {
        self.starts.windows(2).map(|w| &self.hits[w[0] as usize..w[1] as usize])
    }

    /// Checks that there is one outcome (or score) per lead.
    pub(crate) fn check_len(&self, what: &'static str, len: usize) -> Result<(), InsightError> {
        if len == self.leads() {
            Ok(())
        } else {
            Err(InsightError::LengthMismatch { what, expected: self.leads(), found: len })
        }
    }
}

/// Input the statistics can't use. `Display` says what is wrong for the relay's log or answer.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InsightError {
    /// Two inputs that go together lead by lead have different lengths.
    #[error("expected one {what} per lead ({expected} leads), found {found}")]
    LengthMismatch {
        /// What is per lead (`outcomes`, `scores`).
        what: &'static str,
        /// The number of leads.
        expected: usize,
        /// The number given.
        found: usize,
    },
    /// A lead's hit names a column the matrix does not have.
    #[error("rule index {index} is not one of the {rules} rules")]
    UnknownRuleIndex {
        /// The index given.
        index: usize,
        /// How many rules there are.
        rules: usize,
    },
    /// A part (a rule's leads, a segment) has more of something than the whole.
    #[error("{part} has {part_count} {field}, more than the {whole_count} of all leads")]
    PartExceedsWhole {
        /// The part, e.g. `rule "b2b_email"`.
        part: String,
        /// What was counted.
        field: &'static str,
        /// The part's count.
        part_count: u64,
        /// The whole's count.
        whole_count: u64,
    },
    /// Today's points are not one per rule of the matrix.
    #[error("expected today's points for each of the {rules} rules, found {found}")]
    PointsPerRule {
        /// Rules in the matrix.
        rules: usize,
        /// Points given.
        found: usize,
    },
    /// An option outside what it takes.
    #[error("option `{name}` must be {expected}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// What it takes.
        expected: &'static str,
    },
    /// More than 4 billion rule hits in one matrix.
    #[error("too many rule hits for one matrix (more than 4,294,967,295)")]
    TooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_rows_are_sorted_and_deduplicated() {
        let rules = vec!["a".to_string(), "b".into(), "c".into()];
        let mut m = HitMatrix::new(rules);
        m.push([2, 0, 2]).unwrap();
        m.push([]).unwrap();
        m.push_ids(["b", "cap:total", "a"]).unwrap();
        assert_eq!(m.leads(), 3);
        assert_eq!(m.row(0), &[0, 2]);
        assert_eq!(m.row(1), &[] as &[u16]);
        assert_eq!(m.row(2), &[0, 1]);
        assert_eq!(m.row(9), &[] as &[u16]);
        assert_eq!(m.rows().count(), 3);
        let err = m.push([1, 3]).unwrap_err();
        assert_eq!(err, InsightError::UnknownRuleIndex { index: 3, rules: 3 });
        assert_eq!(m.leads(), 3, "a bad row is not half-added");
        assert_eq!(m.row(2), &[0, 1]);
    }

    #[test]
    fn counts_add_up_and_check() {
        let o = |accepted, rejected, won| LeadOutcome { accepted, rejected, won };
        let c = OutcomeCounts::of(&[
            o(true, false, false),
            o(false, true, false),
            o(false, false, true),
        ]);
        assert_eq!(c, OutcomeCounts { leads: 3, accepted: 2, rejected: 1, won: 1 });
        assert!(c.check("all").is_ok());
        let bad = OutcomeCounts { leads: 1, accepted: 2, rejected: 0, won: 0 };
        assert!(matches!(bad.check("x"), Err(InsightError::PartExceedsWhole { .. })));
        let part = OutcomeCounts { leads: 4, ..c };
        let err = c.minus(&part, "rule \"a\"").unwrap_err();
        assert_eq!(err.to_string(), "rule \"a\" has 4 leads, more than the 3 of all leads");
    }
}
