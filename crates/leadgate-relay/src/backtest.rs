//! The stored leads of a form scored again with a draft config, for a backtest
//! (`POST /v1/forms/{form_id}/backtest`): each lead's score today beside the draft's, at the
//! lead's own submit time, with what sales said of it.
//!
//! The draft's score of a lead comes one of two ways, which give the same numbers:
//! - **from its rule hits** (the `rule_hits` column: the rules that held when the relay scored
//!   it) when those decide the draft's score: the draft keeps the conditions of the model that
//!   scored the lead and changes only what is done with a hit — points, caps, grades, bars,
//!   rules left out (core's [`ScoringConfig::hit_scorer`] says exactly when). This is what
//!   applying the suggested points gives, and it reads no payload;
//! - **from its payload** through core's [`score`], as the relay scored it on arrival, for
//!   every other lead: a draft with a new or changed condition, a lead scored by a model the
//!   relay no longer has or only by the browser (unchecked), a submit time that does not read.
//!
//! [`ScoringConfig::hit_scorer`]: leadgate_core::ScoringConfig::hit_scorer

use std::sync::Arc;

use leadgate_core::{score, FormConfig, HitScorer, Lead, LeadPayload, Timestamp};
use leadgate_insights::{BacktestLead, LeadOutcome, Scored};

use crate::sales::flag;
use crate::store::sales::ScannedLead;
use crate::store::{Store, StoreError};

/// Leads read at a time.
const PAGE: u32 = 5000;

impl Rescored {
    /// The leads as [`leadgate_insights::backtest`] reads them.
    pub fn inputs(&self) -> Vec<BacktestLead<'_>> {
        self.leads
            .iter()
            .map(|l| BacktestLead {
                source: &l.source,
                before: l.before,
                after: l.after,
                outcome: l.outcome,
            })
            .collect()
    }
}

/// Which way the draft's scores are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rescoring {
    /// From the rule hits where they decide the draft's score, else from the payload.
    Fastest,
    /// From every payload (what the hits are checked against).
    Payloads,
}

/// One lead scored today and by the draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RescoredLead {
    /// `utm_source` of the submit.
    pub source: String,
    /// The score that counts today.
    pub before: Scored,
    /// The draft's.
    pub after: Scored,
    /// What sales said.
    pub outcome: LeadOutcome,
}

/// Every lead of the form, in id order, and how their draft scores were found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rescored {
    /// The leads (a lead whose payload does not read is left out).
    pub leads: Vec<RescoredLead>,
    /// Leads scored from their rule hits.
    pub from_hits: u64,
    /// Leads scored from their payload.
    pub from_payloads: u64,
}

/// The sales outcome of a lead's flags.
pub fn outcome_of(flags: u8) -> LeadOutcome {
    LeadOutcome {
        accepted: flags & flag::ACCEPTED != 0,
        rejected: flags & flag::REJECTED != 0,
        won: flags & flag::WON != 0,
    }
}

/// Scores every stored (non-spam) lead of `form_id` with `draft`. `models` are the form's
/// versions the relay knows (the configs that scored its leads).
pub async fn rescore(
    store: &Store,
    form_id: &str,
    draft: &FormConfig,
    models: &[Arc<FormConfig>],
    how: Rescoring,
) -> Result<Rescored, StoreError> {
    let scorers: Vec<(String, HitScorer<'_>)> = match how {
        Rescoring::Fastest => models
            .iter()
            .filter_map(|m| {
                let scorer = draft.scoring.hit_scorer(&m.scoring)?;
                Some((m.scoring.model_id(), scorer))
            })
            .collect(),
        Rescoring::Payloads => Vec::new(),
    };
    let hits_only: Vec<String> = scorers.iter().map(|(model, _)| model.clone()).collect();
    let scan = |after: Option<String>| {
        store.scan_leads(form_id.to_string(), after, PAGE, hits_only.clone())
    };
    let mut out = Rescored::default();
    let mut batch = scan(None).await?;
    while !batch.is_empty() {
        // The next page is read (on the store's reader thread) while this one is scored.
        let last_page = batch.len() < PAGE as usize;
        let after = batch.last().map(|lead| lead.id.clone());
        let next = async {
            if last_page {
                Ok(Vec::new())
            } else {
                scan(after).await
            }
        };
        let (next, (mut scores, missing)) =
            tokio::join!(next, async { score_page(&batch, draft, &scorers, &mut out) });
        if !missing.is_empty() {
            let ids = missing.iter().map(|&i| batch[i].id.clone()).collect();
            let payloads = store.lead_payloads(form_id.to_string(), ids).await?;
            for (&i, payload) in missing.iter().zip(&payloads) {
                out.from_payloads += 1;
                scores[i] = payload.as_deref().and_then(|p| from_payload(p, draft));
            }
        }
        for (lead, after) in batch.iter().zip(scores) {
            let Some(after) = after else { continue };
            out.leads.push(RescoredLead {
                source: lead.source.clone(),
                before: Scored { total: lead.total, qualified: lead.qualified },
                after,
                outcome: outcome_of(lead.flags),
            });
        }
        batch = next?;
    }
    Ok(out)
}

/// The draft's score of each lead of a page that it can have without another read (`None`
/// for a payload that does not read), and the leads whose payload it needs.
fn score_page(
    batch: &[ScannedLead],
    draft: &FormConfig,
    scorers: &[(String, HitScorer<'_>)],
    out: &mut Rescored,
) -> (Vec<Option<Scored>>, Vec<usize>) {
    let mut scores = Vec::with_capacity(batch.len());
    let mut missing = Vec::new();
    for (i, lead) in batch.iter().enumerate() {
        let scored = match &lead.payload {
            Some(payload) => {
                out.from_payloads += 1;
                from_payload(payload, draft)
            }
            None => {
                let scored = from_hits(lead, scorers);
                match scored {
                    Some(_) => out.from_hits += 1,
                    None => missing.push(i),
                }
                scored
            }
        };
        scores.push(scored);
    }
    (scores, missing)
}

/// The draft's score of a lead from its payload; `None` when the payload does not read.
fn from_payload(payload: &str, draft: &FormConfig) -> Option<Scored> {
    let payload: LeadPayload = serde_json::from_str(payload).ok()?;
    let at = payload.submitted_time().unwrap_or(Timestamp(0));
    let lead = Lead { fields: payload.fields };
    let s = score(&lead, &payload.context, &draft.scoring, at);
    Some(Scored { total: s.total, qualified: s.qualified })
}

/// The draft's score of a lead from its rule hits, when they decide it: the relay scored the
/// lead, at its submit time, with a model whose hits decide the draft's score.
fn from_hits(lead: &ScannedLead, scorers: &[(String, HitScorer<'_>)]) -> Option<Scored> {
    let (_, scorer) = scorers.iter().find(|(model, _)| *model == lead.model)?;
    // The relay scored a lead whose submit time does not read at its arrival; the payload
    // path scores it at 0 (and so will this backtest).
    Timestamp::parse_rfc3339(&lead.submitted_at)?;
    if !lead.relay_scored {
        return None;
    }
    let hits: Vec<(&str, i64)> = serde_json::from_str(lead.rule_hits.as_deref()?).ok()?;
    let tally = scorer.score(hits.iter().map(|(rule, _)| *rule))?;
    Some(Scored { total: tally.total, qualified: tally.qualified() })
}
