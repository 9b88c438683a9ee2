//! Forwarding: qualified leads go to the sales team's webhooks (a CRM, a chat channel), signed
//! per Standard Webhooks ([`crate::signature`]).
//!
//! The queue is the `deliveries` table: a lead's messages are queued in the transaction that
//! stores the lead, so an acknowledged lead is never forgotten. A worker claims due messages
//! (with a lease, so one in flight is not sent twice), posts them, and records the outcome:
//! delivered on 2xx; on a network error, 408, 429 or 5xx another attempt after an exponential
//! backoff (never sooner than `Retry-After`); a dead letter after `max_attempts`, or at once on
//! any other status (retrying won't fix a 400 or a 401). Dead letters are replayed with
//! `POST /v1/deliveries/replay` or `leadgate-relay replay`.
//!
//! The message body is fixed when queued: `{"type", "timestamp", "data"}` where `data` is the
//! lead payload (v1) whose `score` is the relay's (the browser's is kept as `client_score`).

use std::sync::Arc;
use std::time::Duration;

use leadgate_core::delivery::{parse_retry_after, verdict, Verdict};
use leadgate_core::{LeadPayload, Score};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::logline::{log, Level};
use crate::routes::now;
use crate::signature::{signature_header, WebhookSecret};
use crate::store::{Attempt, DueDelivery, ScoreCheck, Store};

/// A downstream receiver of leads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Names the webhook in the queue, the logs and the `webhook-id`s. Letters, digits, `-`,
    /// `_`.
    pub name: String,
    /// Where leads are POSTed (`http://`; `https://` needs the relay built with `--features
    /// tls`).
    pub url: String,
    /// The signing secrets (`whsec_…`), newest first: every message is signed with each, so a
    /// receiver can move to a new secret without losing a lead. Defaults to none (unsigned).
    #[serde(default)]
    pub secrets: Vec<WebhookSecret>,
    /// Which leads it gets. Defaults to `qualified`.
    #[serde(default)]
    pub route: Route,
    /// Only leads of these forms. Defaults to every form.
    #[serde(default)]
    pub forms: Vec<String>,
}

/// Which leads a webhook gets, by the relay's score (the browser's when the relay has no
/// config for the form).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Qualified leads (MQL and up): the sales team.
    #[default]
    Qualified,
    /// The others: nurturing.
    Unqualified,
    /// Every lead.
    All,
}

impl Webhook {
    /// Whether this webhook gets a lead of `form_id` that is (or not) `qualified`.
    pub fn wants(&self, form_id: &str, qualified: bool) -> bool {
        let route = match self.route {
            Route::Qualified => qualified,
            Route::Unqualified => !qualified,
            Route::All => true,
        };
        route && (self.forms.is_empty() || self.forms.iter().any(|f| f == form_id))
    }

    /// Checks the name and URL; the message names the webhook.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(format!("webhook name {:?}: use letters, digits, - and _ only", self.name));
        }
        let https = self.url.starts_with("https://");
        if !(self.url.starts_with("http://") || https) {
            return Err(format!("webhook {}: url {:?} is not http(s)://…", self.name, self.url));
        }
        if https && !cfg!(feature = "tls") {
            return Err(format!(
                "webhook {}: this relay was built without TLS; build it with \
                 `--features tls` to post to {}",
                self.name, self.url
            ));
        }
        Ok(())
    }
}

/// How the forwarder retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Forwarding {
    /// Attempts before a message becomes a dead letter. Defaults to 10.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles with each one. Defaults to 1000 ms.
    pub base_delay_ms: u64,
    /// The longest wait between attempts. Defaults to one hour.
    pub max_delay_ms: u64,
    /// How long one attempt may take. Defaults to 10 000 ms.
    pub timeout_ms: u64,
    /// How often the queue is checked when nothing new arrives. Defaults to 1000 ms.
    pub poll_ms: u64,
    /// Messages sent at the same time. Defaults to 8.
    pub concurrency: usize,
}

impl Default for Forwarding {
    fn default() -> Forwarding {
        Forwarding {
            max_attempts: 10,
            base_delay_ms: 1000,
            max_delay_ms: 3_600_000,
            timeout_ms: 10_000,
            poll_ms: 1000,
            concurrency: 8,
        }
    }
}

impl Forwarding {
    /// The wait before the attempt after failed attempt number `attempt` (from 1), times
    /// `jitter` (0.8..1.2), and never sooner than `retry_after_secs`.
    pub fn backoff_ms(&self, attempt: u32, jitter: f64, retry_after_secs: Option<u64>) -> u64 {
        let exp = self.base_delay_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(30));
        let wait = (exp.min(self.max_delay_ms) as f64 * jitter.clamp(0.8, 1.2)) as u64;
        wait.max(retry_after_secs.unwrap_or(0).saturating_mul(1000))
    }
}

/// The body of a lead's message: `{"type", "timestamp", "data"}`.
pub fn message_body(
    payload: &LeadPayload,
    relay_score: Option<&Score>,
    check: ScoreCheck,
    received_at: &str,
) -> Result<String, serde_json::Error> {
    let mut data = serde_json::to_value(payload)?;
    let score = relay_score.unwrap_or(&payload.score);
    if let Value::Object(map) = &mut data {
        map.insert("client_score".into(), serde_json::to_value(&payload.score)?);
        map.insert("score".into(), serde_json::to_value(score)?);
        map.insert("score_checked".into(), json!(check.as_str()));
        map.insert("received_at".into(), json!(received_at));
    }
    let kind = if score.qualified { "lead.qualified" } else { "lead.received" };
    serde_json::to_string(&json!({"type": kind, "timestamp": received_at, "data": data}))
}

/// The running forwarder (see [`spawn`]).
#[derive(Debug)]
pub struct Forwarder {
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
    grace: Duration,
}

impl Forwarder {
    /// Stops claiming messages and lets the ones in flight finish and be recorded, so a
    /// graceful restart sends none of them twice. Waits at most one attempt's timeout (plus
    /// two seconds to record it), then aborts: what is still in flight is sent again after its
    /// lease.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(self.grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// Starts the forwarder: it runs until [`Forwarder::stop`] (or until the [`Forwarder`] is
/// dropped). `wake` makes it look at the queue at once (a lead was queued, or dead letters
/// replayed).
pub fn spawn(
    store: Store,
    webhooks: Arc<Vec<Webhook>>,
    options: Forwarding,
    wake: Arc<Notify>,
) -> Forwarder {
    let (stop, mut stopped) = watch::channel(false);
    let grace = Duration::from_millis(options.timeout_ms.saturating_add(2_000));
    let task = tokio::spawn(async move {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(options.timeout_ms))
            .redirects(0)
            .build();
        // A message in flight is not claimed again before its attempt has surely ended.
        let lease_ms = options.timeout_ms + 5_000;
        loop {
            // Stopped, or the `Forwarder` was dropped.
            if *stopped.borrow() || stopped.has_changed().is_err() {
                break;
            }
            let due = match store.claim_due(now().0, lease_ms, options.concurrency.max(1)).await {
                Ok(due) => due,
                Err(e) => {
                    log(Level::Error, "forward.queue_failed", &[("error", &e)]);
                    Vec::new()
                }
            };
            if due.is_empty() {
                let poll = Duration::from_millis(options.poll_ms.max(10));
                tokio::select! {
                    _ = tokio::time::timeout(poll, wake.notified()) => {}
                    _ = stopped.changed() => {}
                }
                continue;
            }
            let mut sends = tokio::task::JoinSet::new();
            for delivery in due {
                let hook = webhooks.iter().find(|w| w.name == delivery.webhook).cloned();
                let agent = agent.clone();
                let store = store.clone();
                sends.spawn(async move { attempt(&store, &agent, hook, delivery, options).await });
            }
            while sends.join_next().await.is_some() {}
        }
    });
    Forwarder { task, stop, grace }
}

async fn attempt(
    store: &Store,
    agent: &ureq::Agent,
    hook: Option<Webhook>,
    delivery: DueDelivery,
    options: Forwarding,
) {
    let number = delivery.attempts + 1;
    let outcome = match hook {
        None => Attempt::Failed {
            status: None,
            error: format!("the webhook {:?} is no longer configured", delivery.webhook),
            next_at: None,
        },
        Some(hook) => {
            let agent = agent.clone();
            let (msg_id, body) = (delivery.msg_id.clone(), delivery.body.clone());
            let sent = tokio::task::spawn_blocking(move || post(&agent, &hook, &msg_id, &body))
                .await
                .unwrap_or_else(|e| Sent { status: None, retry_after: None, error: e.to_string() });
            match (verdict(sent.status), sent.status) {
                (Verdict::Delivered, Some(status)) => {
                    Attempt::Delivered { status, at: now().to_rfc3339() }
                }
                (Verdict::Retry, status) if number < options.max_attempts => {
                    let jitter = 0.8 + 0.4 * unit_hash(&delivery.msg_id, number);
                    let wait = options.backoff_ms(number, jitter, sent.retry_after);
                    Attempt::Failed { status, error: sent.error, next_at: Some(now().0 + wait) }
                }
                (_, status) => Attempt::Failed { status, error: sent.error, next_at: None },
            }
        }
    };
    // Record first, log after: the time between the receiver's 2xx and its commit is the
    // window in which a crash makes the message go out again.
    let recorded =
        store.record_attempt(delivery.lead_id.clone(), delivery.webhook.clone(), outcome.clone());
    if let Err(e) = recorded.await {
        // The lease runs out and the message is tried again: sent twice rather than never.
        log(Level::Error, "forward.record_failed", &[("lead", &delivery.lead_id), ("error", &e)]);
    }
    log_attempt(&delivery, number, &outcome);
}

/// One line per attempt: delivered, retry, or dead letter.
fn log_attempt(delivery: &DueDelivery, number: u32, outcome: &Attempt) {
    let status = match &outcome {
        Attempt::Delivered { status, .. } => Some(*status),
        Attempt::Failed { status, .. } => *status,
    };
    let status_text = status.map_or("none".to_string(), |s| s.to_string());
    let fields: [(&str, &dyn std::fmt::Display); 4] = [
        ("lead", &delivery.lead_id),
        ("webhook", &delivery.webhook),
        ("attempt", &number),
        ("status", &status_text),
    ];
    match &outcome {
        Attempt::Delivered { .. } => log(Level::Info, "forward.delivered", &fields),
        Attempt::Failed { next_at: Some(_), error, .. } => {
            log(Level::Warn, "forward.retry", &[&fields[..], &[("error", error)]].concat())
        }
        Attempt::Failed { next_at: None, error, .. } => {
            log(Level::Error, "forward.dead_letter", &[&fields[..], &[("error", error)]].concat())
        }
    }
}

struct Sent {
    status: Option<u16>,
    retry_after: Option<u64>,
    error: String,
}

/// One signed POST (blocking).
fn post(agent: &ureq::Agent, hook: &Webhook, msg_id: &str, body: &str) -> Sent {
    let timestamp = now().0 / 1000;
    let mut request = agent
        .post(&hook.url)
        .set("content-type", "application/json")
        .set("user-agent", concat!("leadgate-relay/", env!("CARGO_PKG_VERSION")))
        .set("webhook-id", msg_id)
        .set("webhook-timestamp", &timestamp.to_string());
    if !hook.secrets.is_empty() {
        let signature = signature_header(&hook.secrets, msg_id, timestamp, body.as_bytes());
        request = request.set("webhook-signature", &signature);
    }
    match request.send_string(body) {
        Ok(response) => {
            Sent { status: Some(response.status()), retry_after: None, error: String::new() }
        }
        Err(ureq::Error::Status(status, response)) => Sent {
            status: Some(status),
            retry_after: response.header("retry-after").and_then(parse_retry_after),
            error: format!("the webhook answered {status}"),
        },
        Err(ureq::Error::Transport(e)) => {
            Sent { status: None, retry_after: None, error: e.to_string() }
        }
    }
}

/// A number in 0..1 from `text` and `n` (FNV-1a): jitter without a random source.
fn unit_hash(text: &str, n: u32) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes().chain(n.to_le_bytes()) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % 10_000) as f64 / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_respects_retry_after() {
        let f = Forwarding { base_delay_ms: 1000, max_delay_ms: 10_000, ..Default::default() };
        // (attempt, jitter, Retry-After, expected ms)
        let cases = [
            (1, 1.0, None, 1000),
            (2, 1.0, None, 2000),
            (3, 1.0, None, 4000),
            (5, 1.0, None, 10_000),
            (40, 1.0, None, 10_000),
            (1, 0.8, None, 800),
            (1, 3.0, None, 1200),
            (1, 1.0, Some(30), 30_000),
        ];
        for (attempt, jitter, retry_after, want) in cases {
            assert_eq!(f.backoff_ms(attempt, jitter, retry_after), want, "{attempt} {jitter}");
        }
    }

    #[test]
    fn routes_by_qualification_and_form() {
        let hook = |route, forms: &[&str]| Webhook {
            name: "crm".into(),
            url: "http://127.0.0.1:1/".into(),
            secrets: vec![],
            route,
            forms: forms.iter().map(|f| f.to_string()).collect(),
        };
        // (webhook, form, qualified, wanted)
        let cases = [
            (hook(Route::Qualified, &[]), "demo", true, true),
            (hook(Route::Qualified, &[]), "demo", false, false),
            (hook(Route::Unqualified, &[]), "demo", false, true),
            (hook(Route::All, &[]), "demo", false, true),
            (hook(Route::All, &["pricing"]), "demo", true, false),
            (hook(Route::Qualified, &["demo"]), "demo", true, true),
        ];
        for (hook, form, qualified, want) in cases {
            assert_eq!(hook.wants(form, qualified), want, "{:?} {form} {qualified}", hook.route);
        }
        let mut bad = hook(Route::All, &[]);
        bad.name = "c r m".into();
        assert!(bad.check().unwrap_err().contains("letters, digits"));
        bad.name = "crm".into();
        bad.url = "ftp://x".into();
        assert!(bad.check().unwrap_err().contains("not http"));
    }
}
