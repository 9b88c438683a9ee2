//! Speed to lead, watched: how long sales may take to first touch a lead (`accepted`,
//! `contacted` or `rejected`), per grade, and the leads past it. `GET /v1/sla` lists them
//! (served by [`crate::http::sales`]),
//! oldest first; with `notify_webhook` set, each breach is sent once to that webhook as a
//! Slack-compatible incoming-webhook message (`{"text": ...}`), through the forwarding queue
//! (so it is retried like a lead, and its `(lead, webhook)` key makes it once, also across
//! relays sharing PostgreSQL).
//!
//! ```toml
//! [sla]
//! default = "24h"                  # every grade not named below
//! grades = { "A" = "5m", "B" = "1h" }
//! notify_webhook = "slack"         # a [[webhooks]] entry, best with route = "none"
//! check_ms = 30000                 # how often breaches are looked for
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clock::now;
use crate::logline::{log, Level};
use crate::store::sales::Cutoffs;
use crate::store::StoreError;
use crate::RelayState;

/// `[sla]` as written (durations like `30s`, `5m`, `24h`, `2d`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaFile {
    /// The SLA of every grade not in `grades`.
    pub default: Option<String>,
    /// The SLA per grade.
    #[serde(default)]
    pub grades: BTreeMap<String, String>,
    /// The webhook breaches are sent to.
    pub notify_webhook: Option<String>,
    /// How often to look for breaches, in ms. Defaults to 30,000.
    pub check_ms: Option<u64>,
}

/// The SLA in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sla {
    /// Milliseconds for grades not in `grades`; none: no SLA for them.
    pub default_ms: Option<u64>,
    /// Milliseconds per grade.
    pub grades: BTreeMap<String, u64>,
    /// The webhook breaches are sent to.
    pub notify_webhook: Option<String>,
    /// How often to look, in ms.
    pub check_ms: u64,
}

/// A duration as the config writes it: a number and `s`, `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 =
        number.parse().map_err(|_| format!("{text:?} is not a duration like 5m or 24h"))?;
    let ms = match unit.trim() {
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d (5m, 24h)")),
    };
    if n == 0 {
        return Err(format!("{text:?}: an SLA must be longer than zero"));
    }
    n.checked_mul(ms).ok_or_else(|| format!("{text:?} is too long"))
}

impl SlaFile {
    /// The SLA, or the message naming the bad key.
    pub fn sla(&self) -> Result<Sla, String> {
        let default_ms = self
            .default
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|e| format!("sla.default: {e}"))?;
        let mut grades = BTreeMap::new();
        for (grade, text) in &self.grades {
            let ms = parse_duration(text).map_err(|e| format!("sla.grades.{grade}: {e}"))?;
            grades.insert(grade.clone(), ms);
        }
        Ok(Sla {
            default_ms,
            grades,
            notify_webhook: self.notify_webhook.clone(),
            check_ms: self.check_ms.unwrap_or(30_000).max(100),
        })
    }
}

impl Sla {
    /// Whether any lead has an SLA.
    pub fn is_set(&self) -> bool {
        self.default_ms.is_some() || !self.grades.is_empty()
    }
}

/// A lead past its SLA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    /// The lead.
    pub lead_id: String,
    /// Its form.
    pub form_id: String,
    /// Its grade.
    pub grade: String,
    /// When it arrived, Unix ms.
    pub received_ms: i64,
    /// How long it has waited, ms.
    pub waiting_ms: i64,
    /// Its SLA, ms.
    pub sla_ms: u64,
    /// Whether the alert was queued.
    pub notified: bool,
}

/// The leads past their SLA at `now_ms`, oldest first, at most `limit`; with `unnotified`,
/// only those not yet sent to the notify webhook.
pub async fn breaches(
    state: &RelayState,
    now_ms: i64,
    limit: u32,
    unnotified: bool,
) -> Result<Vec<Breach>, StoreError> {
    let sla = &state.sla;
    let cutoff = |ms: u64| now_ms.saturating_sub(i64::try_from(ms).unwrap_or(i64::MAX));
    let cutoffs = Cutoffs {
        grades: sla.grades.iter().map(|(grade, ms)| (grade.clone(), cutoff(*ms))).collect(),
        other: sla.default_ms.map(cutoff),
    };
    let late = state.store.untouched(cutoffs, limit, unnotified).await?;
    Ok(late
        .into_iter()
        .filter_map(|r| {
            let sla_ms = sla.grades.get(&r.grade).copied().or(sla.default_ms)?;
            Some(Breach {
                waiting_ms: now_ms - r.received_ms,
                lead_id: r.id,
                form_id: r.form_id,
                grade: r.grade,
                received_ms: r.received_ms,
                sla_ms,
                notified: r.notified,
            })
        })
        .collect())
}

/// The alert's text, for a person reading Slack.
fn alert(b: &Breach) -> String {
    let minutes = |ms: i64| ms / 60_000;
    let text = format!(
        "Lead {} (grade {}, form {}) has waited {} min for a first touch; its SLA is {} min.",
        b.lead_id,
        b.grade,
        b.form_id,
        minutes(b.waiting_ms),
        minutes(i64::try_from(b.sla_ms).unwrap_or(i64::MAX))
    );
    json!({"text": text, "lead_id": b.lead_id, "grade": b.grade, "form_id": b.form_id}).to_string()
}

/// Looks for new breaches every `check_ms` and queues one alert each to the notify webhook.
pub fn spawn_watch(state: RelayState) -> Option<tokio::task::JoinHandle<()>> {
    let webhook = state.sla.notify_webhook.clone()?;
    if !state.sla.is_set() {
        return None;
    }
    let every = Duration::from_millis(state.sla.check_ms);
    let state = Arc::new(state);
    Some(tokio::spawn(async move {
        loop {
            let now_ms = i64::try_from(now().0).unwrap_or(i64::MAX);
            match breaches(&state, now_ms, 500, true).await {
                Ok(list) if !list.is_empty() => {
                    let alerts: Vec<(String, String)> =
                        list.iter().map(|b| (b.lead_id.clone(), alert(b))).collect();
                    let n = alerts.len();
                    match state
                        .store
                        .queue_alerts(webhook.clone(), alerts, now().to_rfc3339())
                        .await
                    {
                        Ok(()) => {
                            log(
                                Level::Info,
                                "sla.breaches",
                                &[("queued", &n), ("webhook", &webhook)],
                            );
                            state.wake.notify_one();
                        }
                        Err(e) => log(Level::Error, "sla.failed", &[("error", &e)]),
                    }
                }
                Ok(_) => {}
                Err(e) => log(Level::Error, "sla.failed", &[("error", &e)]),
            }
            tokio::time::sleep(every).await;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_config_writes_them() {
        let cases = [
            ("30s", Ok(30_000)),
            ("5m", Ok(300_000)),
            ("24h", Ok(86_400_000)),
            ("2d", Ok(172_800_000)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), want, "{text}");
        }
        for bad in ["", "5", "5 weeks", "m", "0m", "-5m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let file = SlaFile {
            grades: [("A".to_string(), "soon".to_string())].into(),
            ..SlaFile::default()
        };
        assert!(file.sla().unwrap_err().starts_with("sla.grades.A:"));
    }
}
