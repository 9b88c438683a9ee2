//! Forwarding: qualified leads go to the sales team's webhooks (a CRM, a chat channel), signed
//! per Standard Webhooks ([`crate::signature`]).
//!
//! The queue is the `deliveries` table: a lead's messages are queued in the transaction that
//! stores the lead, so an acknowledged lead is never forgotten. Each webhook has its own worker
//! that claims that webhook's due messages (with a lease, so one in flight is not sent twice),
//! up to `concurrency` at once, and claims the next as soon as one ends, so a slow receiver
//! holds up nobody but itself. A message is posted with an async HTTP client (HTTPS with the
//! Mozilla roots plus the webhook's `ca_file`; redirects are not followed; one connection pool
//! per webhook) and the outcome is recorded:
//! delivered on 2xx; on a network error, 408, 429 or 5xx another attempt after an exponential
//! backoff (never sooner than `Retry-After`); a dead letter after `max_attempts`, or at once on
//! any other status (retrying won't fix a 400 or a 401). Dead letters are replayed with
//! `POST /v1/deliveries/replay` or `leadgate-relay replay`.
//!
//! A webhook may only be on a public address unless it sets `allow_private_network`: an IP
//! literal is checked when the config is read, and a host name at each connection, on the
//! addresses it resolves to (so a DNS answer that changes later can't point the relay at its
//! own network).
//!
//! The message body is fixed when queued: `{"type", "timestamp", "data"}` where `data` is the
//! lead payload (v1) whose `score` is the relay's (the browser's is kept as `client_score`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use leadgate_core::delivery::{parse_retry_after, verdict, Backoff, Verdict};
use leadgate_core::hash::Fnv1a64;
use leadgate_core::{LeadPayload, Score};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};

use crate::clock::now;
use crate::logline::{log, Level};
use crate::signature::{signature_header, WebhookSecret};
use crate::store::{Attempt, DueDelivery, ScoreCheck, Store};

/// A downstream receiver of leads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Names the webhook in the queue, the logs and the `webhook-id`s. Letters, digits, `-`,
    /// `_`.
    pub name: String,
    /// Where leads are POSTed: `https://…` (or `http://…`). Redirects are not followed.
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
    /// A PEM file of CA certificates to trust for this webhook's HTTPS besides the built-in
    /// Mozilla roots (a self-hosted CRM behind a private CA). Defaults to none.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Whether the webhook may be on a loopback, private, link-local or other non-public
    /// address (see [`non_public`]). Defaults to false: such URLs are refused at start-up,
    /// and host names resolving only to such addresses at each attempt.
    #[serde(default)]
    pub allow_private_network: bool,
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
    /// No lead: only the alerts sent to it (a Slack incoming webhook for SLA breaches).
    None,
}

/// Why a webhook can't be used; every message names the webhook.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The name is not 1 to 64 letters, digits, `-` and `_` (the rule of every name in a
    /// config).
    #[error("webhook name {0:?}: use 1 to 64 letters, digits, - and _ only")]
    Name(String),
    /// The URL is not `http(s)://host…`.
    #[error("webhook {webhook}: url {url:?} is not http(s)://host/…")]
    Url {
        /// The webhook.
        webhook: String,
        /// The URL as configured.
        url: String,
    },
    /// The URL's host is (or resolves only to) addresses that are not public.
    #[error(
        "webhook {webhook}: {host} is {}; webhooks may only post to public addresses unless \
         the webhook sets allow_private_network = true",
        describe(.addrs)
    )]
    PrivateNetwork {
        /// The webhook.
        webhook: String,
        /// The URL's host.
        host: String,
        /// What it is or resolved to, with the kind of each address.
        addrs: Vec<(IpAddr, &'static str)>,
    },
    /// The `ca_file` could not be read or holds no usable certificate.
    #[error("webhook {webhook}: ca_file {}: {reason}", path.display())]
    CaFile {
        /// The webhook.
        webhook: String,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The HTTP client could not be set up.
    #[error("webhook {webhook}: the HTTP client could not be set up: {reason}")]
    Client {
        /// The webhook.
        webhook: String,
        /// What the client library said.
        reason: String,
    },
}

/// `127.0.0.1 (loopback)`, `a private (RFC 1918) address (10.0.0.7)`…, for
/// [`WebhookError::PrivateNetwork`].
fn describe(addrs: &[(IpAddr, &'static str)]) -> String {
    let list: Vec<String> = addrs.iter().map(|(ip, kind)| format!("{ip} ({kind})")).collect();
    format!("not a public address: {}", list.join(", "))
}

/// Address ranges a webhook reaches only with `allow_private_network`: (network, prefix
/// length, what it is).
const NON_PUBLIC_V4: [([u8; 4], u32, &str); 11] = [
    ([0, 0, 0, 0], 8, "unspecified"),
    ([10, 0, 0, 0], 8, "private, RFC 1918"),
    ([100, 64, 0, 0], 10, "shared, CGNAT"),
    ([127, 0, 0, 0], 8, "loopback"),
    ([169, 254, 0, 0], 16, "link-local, cloud metadata"),
    ([172, 16, 0, 0], 12, "private, RFC 1918"),
    ([192, 0, 0, 0], 24, "IETF protocol assignments"),
    ([192, 168, 0, 0], 16, "private, RFC 1918"),
    ([198, 18, 0, 0], 15, "benchmarking"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([240, 0, 0, 0], 4, "reserved, broadcast"),
];

/// The IPv6 ranges, as [`NON_PUBLIC_V4`]; IPv4-mapped (`::ffff:0:0/96`) and NAT64
/// (`64:ff9b::/96`) addresses are judged by the IPv4 address inside.
const NON_PUBLIC_V6: [(u128, u32, &str); 6] = [
    (0, 128, "unspecified"),
    (1, 128, "loopback"),
    (0xfc00 << 112, 7, "unique-local"),
    (0xfe80 << 112, 10, "link-local"),
    (0xfec0 << 112, 10, "site-local"),
    (0xff00 << 112, 8, "multicast"),
];

/// What kind of non-public address `ip` is (loopback, private, link-local…), or `None` for
/// a public one.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    let in_range = |bits: u128, width: u32, net: u128, len: u32| {
        len == 0 || (bits >> (width - len)) == (net >> (width - len))
    };
    match ip {
        IpAddr::V4(v4) => NON_PUBLIC_V4
            .iter()
            .find(|(net, len, _)| {
                let net = u128::from(u32::from_be_bytes(*net));
                in_range(u128::from(u32::from(v4)), 32, net, *len)
            })
            .map(|(_, _, kind)| *kind),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let nat64 = in_range(bits, 128, 0x64_ff9b << 96, 96);
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public(IpAddr::V4(v4));
            }
            if nat64 {
                return non_public(IpAddr::V4(Ipv4Addr::from(bits as u32)));
            }
            NON_PUBLIC_V6
                .iter()
                .find(|(net, len, _)| in_range(bits, 128, *net, *len))
                .map(|(_, _, kind)| *kind)
        }
    }
}

impl Webhook {
    /// A webhook named `name` posting to `url`, with the defaults: unsigned, qualified leads
    /// of every form, the built-in roots, public addresses only.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Webhook {
        Webhook {
            name: name.into(),
            url: url.into(),
            secrets: Vec::new(),
            route: Route::Qualified,
            forms: Vec::new(),
            ca_file: None,
            allow_private_network: false,
        }
    }

    /// Whether this webhook gets a lead of `form_id` that is (or not) `qualified`.
    pub fn wants(&self, form_id: &str, qualified: bool) -> bool {
        let route = match self.route {
            Route::Qualified => qualified,
            Route::Unqualified => !qualified,
            Route::All => true,
            Route::None => false,
        };
        route && (self.forms.is_empty() || self.forms.iter().any(|f| f == form_id))
    }

    /// Checks the name, the URL (an IP literal must be public unless
    /// `allow_private_network`) and the `ca_file`; the message names the webhook. (A `String`
    /// because that is what the config errors carry; the text is [`WebhookError`]'s.)
    pub fn check(&self) -> Result<(), String> {
        self.client(&Forwarding::default()).map(|_| ()).map_err(|e| e.to_string())
    }

    /// The checked webhook's HTTP client: per-attempt timeout, no redirects, no proxy, the
    /// Mozilla roots plus `ca_file`, and (unless `allow_private_network`) a resolver that
    /// drops non-public addresses. One per webhook: its connections are kept for the next
    /// message.
    pub(crate) fn client(&self, options: &Forwarding) -> Result<reqwest::Client, WebhookError> {
        if !leadgate_core::config::is_name(&self.name) {
            return Err(WebhookError::Name(self.name.clone()));
        }
        let bad_url = || WebhookError::Url { webhook: self.name.clone(), url: self.url.clone() };
        let url = reqwest::Url::parse(&self.url).map_err(|_| bad_url())?;
        let host = url.host_str().filter(|_| ["http", "https"].contains(&url.scheme()));
        let host = host.ok_or_else(bad_url)?;
        // The URL parser writes every IPv4 spelling (`0x7f.1`, `2130706433`) as dotted quads.
        if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            match non_public(ip) {
                Some(kind) if !self.allow_private_network => {
                    return Err(WebhookError::PrivateNetwork {
                        webhook: self.name.clone(),
                        host: host.to_string(),
                        addrs: vec![(ip, kind)],
                    })
                }
                _ => {}
            }
        }
        let timeout = Duration::from_millis(options.timeout_ms);
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the address rule.
            .no_proxy()
            .user_agent(concat!("leadgate-relay/", env!("CARGO_PKG_VERSION")));
        if !self.allow_private_network {
            builder = builder.dns_resolver(Arc::new(PublicOnly { webhook: self.name.clone() }));
        }
        if let Some(path) = &self.ca_file {
            let fail = |reason: String| WebhookError::CaFile {
                webhook: self.name.clone(),
                path: path.clone(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
            let certificates =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| fail(error_text(&e)))?;
            if certificates.is_empty() {
                return Err(fail("no PEM certificate in it".into()));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        builder.build().map_err(|e| WebhookError::Client {
            webhook: self.name.clone(),
            reason: error_text(&e),
        })
    }
}

/// Resolves host names as the system does, then keeps only public addresses: a webhook
/// without `allow_private_network` never connects to the relay's own network, whatever its
/// DNS answers (and however they change between the check and the connection).
struct PublicOnly {
    webhook: String,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let webhook = self.webhook.clone();
        Box::pin(async move {
            let host = name.as_str();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
            let (public, private): (Vec<SocketAddr>, Vec<SocketAddr>) =
                resolved.into_iter().partition(|addr| non_public(addr.ip()).is_none());
            if public.is_empty() && !private.is_empty() {
                let addrs = private.iter().filter_map(|a| Some((a.ip(), non_public(a.ip())?)));
                let error = WebhookError::PrivateNetwork {
                    webhook,
                    host: host.to_string(),
                    addrs: addrs.collect(),
                };
                return Err(error.into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An error and its causes, `: `-separated (a client error alone often says only "error
/// sending request"; the cause says "invalid peer certificate: UnknownIssuer").
fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
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
    /// Messages sent to one webhook at the same time (each webhook has its own). Defaults
    /// to 8.
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
        let backoff =
            Backoff { base_ms: self.base_delay_ms, max_ms: self.max_delay_ms, jitter: (0.8, 1.2) };
        backoff.delay_ms(attempt, jitter, retry_after_secs)
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

/// Where one queue's messages go.
enum Destination {
    /// A configured webhook, with its client.
    Webhook(Webhook, reqwest::Client),
    /// A configured webhook whose client could not be set up (its `ca_file` is gone since
    /// start-up?): each attempt fails with this error and is retried as a network error is.
    Broken(String),
    /// A webhook that is no longer configured, whose messages are still queued: dead letters.
    Gone,
}

/// Starts the forwarder: one worker per webhook (and one for the messages of webhooks no
/// longer configured), until [`Forwarder::stop`] (or until the [`Forwarder`] is dropped).
/// `wake` makes every worker look at its queue at once (a lead was queued, or dead letters
/// replayed).
pub fn spawn(
    store: Store,
    webhooks: Arc<Vec<Webhook>>,
    options: Forwarding,
    wake: Arc<Notify>,
) -> Forwarder {
    let (stop, mut stopped) = watch::channel(false);
    let grace = Duration::from_millis(options.timeout_ms.saturating_add(2_000));
    let mut queues: Vec<(String, Destination)> = webhooks
        .iter()
        .map(|hook| {
            let destination = match hook.client(&options) {
                Ok(client) => Destination::Webhook(hook.clone(), client),
                Err(e) => Destination::Broken(e.to_string()),
            };
            (hook.name.clone(), destination)
        })
        .collect();
    let task = tokio::spawn(async move {
        match store.pending_webhooks().await {
            Ok(names) => {
                let gone = names.into_iter().filter(|n| !webhooks.iter().any(|w| &w.name == n));
                queues.extend(gone.map(|name| (name, Destination::Gone)));
            }
            Err(e) => log(Level::Error, "forward.queue_failed", &[("error", &e)]),
        }
        let mut workers = JoinSet::new();
        let mut wakes = Vec::new();
        for (name, destination) in queues {
            let own_wake = Arc::new(Notify::new());
            wakes.push(Arc::clone(&own_wake));
            let queue = Queue { store: store.clone(), name, destination: Arc::new(destination) };
            workers.spawn(queue.run(options, own_wake, stopped.clone()));
        }
        // One wake-up (the routes notify once) reaches every worker.
        loop {
            tokio::select! {
                () = wake.notified() => wakes.iter().for_each(|w| w.notify_one()),
                _ = stopped.changed() => break,
            }
        }
        while workers.join_next().await.is_some() {}
    });
    Forwarder { task, stop, grace }
}

/// One webhook's messages.
struct Queue {
    store: Store,
    name: String,
    destination: Arc<Destination>,
}

impl Queue {
    /// Claims this webhook's due messages as sending slots free up (`concurrency` at once)
    /// until stopped, then lets the sends in flight finish and be recorded.
    async fn run(self, options: Forwarding, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
        // A message in flight is not claimed again before its attempt has surely ended.
        let lease_ms = options.timeout_ms + 5_000;
        let slots = options.concurrency.max(1);
        let poll = Duration::from_millis(options.poll_ms.max(10));
        let mut sends = JoinSet::new();
        loop {
            // Stopped, or the `Forwarder` was dropped.
            if *stopped.borrow() || stopped.has_changed().is_err() {
                break;
            }
            let free = slots - sends.len();
            if free > 0 {
                let claimed =
                    self.store.claim_due(self.name.clone(), now().0, lease_ms, free).await;
                let due = claimed.unwrap_or_else(|e| {
                    log(Level::Error, "forward.queue_failed", &[("error", &e)]);
                    Vec::new()
                });
                let more = due.len() == free;
                for delivery in due {
                    let (store, destination) = (self.store.clone(), Arc::clone(&self.destination));
                    sends.spawn(async move {
                        attempt(&store, &destination, delivery, options).await;
                    });
                }
                if more {
                    // Every slot is taken now; the next round waits for one to free up.
                    continue;
                }
            }
            tokio::select! {
                Some(_) = sends.join_next(), if !sends.is_empty() => {}
                _ = tokio::time::timeout(poll, wake.notified()), if sends.len() < slots => {}
                _ = stopped.changed() => {}
            }
        }
        while sends.join_next().await.is_some() {}
    }
}

async fn attempt(
    store: &Store,
    destination: &Destination,
    delivery: DueDelivery,
    options: Forwarding,
) {
    let number = delivery.attempts + 1;
    let sent = match destination {
        Destination::Webhook(hook, client) => {
            post(client, hook, &delivery.msg_id, &delivery.body).await
        }
        Destination::Broken(error) => {
            Sent { status: None, retry_after: None, error: error.clone() }
        }
        Destination::Gone => Sent {
            status: None,
            retry_after: None,
            error: format!("the webhook {:?} is no longer configured", delivery.webhook),
        },
    };
    let outcome = match (verdict(sent.status), sent.status) {
        (Verdict::Delivered, Some(status)) => Attempt::Delivered { status, at: now().to_rfc3339() },
        (Verdict::Retry, status)
            if number < options.max_attempts && !matches!(destination, Destination::Gone) =>
        {
            let jitter = 0.8 + 0.4 * unit_hash(&delivery.msg_id, number);
            let wait = options.backoff_ms(number, jitter, sent.retry_after);
            Attempt::Failed { status, error: sent.error, next_at: Some(now().0 + wait) }
        }
        (_, status) => Attempt::Failed { status, error: sent.error, next_at: None },
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
    /// Why the attempt failed, in words; empty when it was delivered.
    error: String,
}

/// The most of an answer's body read (and dropped) so its connection can carry the next
/// message; a longer body closes the connection instead.
const DRAIN_LIMIT: usize = 64 * 1024;

/// One signed POST.
async fn post(client: &reqwest::Client, hook: &Webhook, msg_id: &str, body: &str) -> Sent {
    let timestamp = now().0 / 1000;
    let mut request = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", timestamp.to_string());
    if !hook.secrets.is_empty() {
        let signature = signature_header(&hook.secrets, msg_id, timestamp, body.as_bytes());
        request = request.header("webhook-signature", signature);
    }
    let mut response = match request.body(body.to_string()).send().await {
        Ok(response) => response,
        Err(e) => return Sent { status: None, retry_after: None, error: error_text(&e) },
    };
    let status = response.status().as_u16();
    let header =
        |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v));
    let error = match status {
        200..=299 => String::new(),
        300..=399 => format!(
            "the webhook answered {status} (redirects are not followed; Location: {})",
            header("location").as_deref().unwrap_or("none")
        ),
        _ => format!("the webhook answered {status}"),
    };
    let mut drained = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        drained += chunk.len();
        if drained > DRAIN_LIMIT {
            break;
        }
    }
    Sent { status: Some(status), retry_after, error }
}

/// A number in 0..1 from `text` and `n` (FNV-1a): jitter without a random source.
fn unit_hash(text: &str, n: u32) -> f64 {
    let hash = Fnv1a64::default().feed(text.as_bytes()).feed(&n.to_le_bytes()).finish();
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
            route,
            forms: forms.iter().map(|f| f.to_string()).collect(),
            ..Webhook::new("crm", "https://crm.example.com/hooks/leads")
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

    #[test]
    fn only_public_addresses_are_public() {
        // (address, kind; None = public)
        let cases = [
            ("8.8.8.8", None),
            ("93.184.215.14", None),
            ("2606:4700:4700::1111", None),
            ("::ffff:8.8.8.8", None),
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("::1", Some("loopback")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("0.0.0.0", Some("unspecified")),
            ("::", Some("unspecified")),
            ("10.0.0.7", Some("private, RFC 1918")),
            ("172.16.0.1", Some("private, RFC 1918")),
            ("172.31.255.255", Some("private, RFC 1918")),
            ("172.32.0.1", None),
            ("192.168.1.1", Some("private, RFC 1918")),
            ("100.64.0.1", Some("shared, CGNAT")),
            ("100.127.255.255", Some("shared, CGNAT")),
            ("100.128.0.1", None),
            ("169.254.169.254", Some("link-local, cloud metadata")),
            ("fe80::1", Some("link-local")),
            ("fd00::1", Some("unique-local")),
            ("fc00::1", Some("unique-local")),
            ("::ffff:10.0.0.1", Some("private, RFC 1918")),
            ("64:ff9b::a9fe:a9fe", Some("link-local, cloud metadata")),
            ("64:ff9b::808:808", None),
            ("224.0.0.1", Some("multicast")),
            ("ff02::1", Some("multicast")),
            ("255.255.255.255", Some("reserved, broadcast")),
            ("198.18.0.1", Some("benchmarking")),
        ];
        let mut wrong = Vec::new();
        for (text, want) in cases {
            let got = non_public(text.parse().unwrap());
            if got != want {
                wrong.push(format!("{text}: {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn webhook_urls_on_private_addresses_need_the_opt_in() {
        // (url, refused without allow_private_network)
        let cases = [
            ("https://crm.example.com/hooks", false),
            ("https://93.184.215.14/hooks", false),
            ("http://127.0.0.1:9/hook", true),
            ("http://2130706433/hook", true),
            ("http://0x7f.1/hook", true),
            ("http://[::1]:8080/hook", true),
            ("http://[::ffff:192.168.0.1]/hook", true),
            ("http://169.254.169.254/latest/meta-data/", true),
            ("https://10.0.0.5/hook", true),
            // A name is judged by what it resolves to, at each connection.
            ("http://localhost:9/hook", false),
        ];
        let mut wrong = Vec::new();
        for (url, refused) in cases {
            let mut hook = Webhook::new("crm", url);
            let result = hook.check();
            if result.is_err() != refused {
                wrong.push(format!("{url}: {result:?}"));
            }
            if let Err(message) = result {
                if !(message.starts_with("webhook crm: ")
                    && message.contains("allow_private_network"))
                {
                    wrong.push(format!("{url}: {message}"));
                }
            }
            hook.allow_private_network = true;
            if let Err(message) = hook.check() {
                wrong.push(format!("{url} allowed: {message}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
