//! Delivery settings: where leads go, and how long the browser keeps those not yet delivered.

use serde::Serialize;

/// How a form's leads are routed and kept. Every key is optional.
#[derive(Debug, Clone, PartialEq, Serialize, leadgate_derive::FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Where leads that do *not* qualify are POSTed (a marketing/nurture endpoint). Defaults to
    /// none: they never leave the browser. Qualified leads always go to `endpoint`.
    pub nurture_endpoint: Option<String>,
    /// Days an undelivered lead is kept in the browser's outbox and retried. Defaults to 7.
    pub keep_days: u32,
    /// Days a lead the endpoint refused (a 4xx other than 408/429) is kept, for inspection,
    /// before it is dropped. Defaults to 30.
    pub dead_letter_days: u32,
    /// Most leads the outbox holds; past it the oldest is dropped and reported. Defaults to 50.
    pub outbox_limit: u32,
    /// Where the widget reports form views and starts (for the funnel), batched. Defaults to
    /// the relay's `/v1/events` beside an `endpoint` ending in `/v1/leads`, else none. `""`
    /// turns it off. Never sent under Global Privacy Control or before consent when
    /// `tracking.require_consent` is set.
    pub events_endpoint: Option<String>,
    /// Put the visitor's answers into the `detail.fields` of the `leadgate:*` DOM events and
    /// `dataLayer` entries (for a host page that forwards them itself). Defaults to false: no
    /// raw field values leave the widget except in the lead itself.
    pub events_include_fields: bool,
}

impl DeliveryConfig {
    /// The events endpoint for a form whose leads go to `endpoint`.
    pub fn events_endpoint_for(&self, endpoint: &str) -> Option<String> {
        match &self.events_endpoint {
            Some(e) if e.trim().is_empty() => None,
            Some(e) => Some(e.clone()),
            None => {
                let path = endpoint.split('?').next().unwrap_or(endpoint);
                let base = path.trim_end_matches('/').strip_suffix("/v1/leads")?;
                Some(String::from(base) + "/v1/events")
            }
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            nurture_endpoint: None,
            keep_days: 7,
            dead_letter_days: 30,
            outbox_limit: 50,
            events_endpoint: None,
            events_include_fields: false,
        }
    }
}

/// One day in milliseconds.
pub const DAY_MS: u64 = 86_400_000;

/// What to do after an answer from the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the lead is delivered; remove it from the outbox.
    Delivered,
    /// Network error, timeout, 408, 429, 5xx: try again later.
    Retry,
    /// Any other status: retrying won't help; keep it as a dead letter and report it.
    Refused,
}

/// Classifies an HTTP status (`None`: no answer at all).
pub fn verdict(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Delivered,
        None | Some(408) | Some(429) | Some(500..=599) => Verdict::Retry,
        Some(_) => Verdict::Refused,
    }
}

/// Exponential backoff with jitter: the one retry rule of the widget's outbox and the relay's
/// webhooks, each with its own figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The wait after the first failed attempt, in ms; it doubles with every attempt.
    pub base_ms: u64,
    /// The longest wait before jitter, in ms.
    pub max_ms: u64,
    /// The range the jitter factor is clamped to, e.g. `(0.8, 1.2)`.
    pub jitter: (f64, f64),
}

impl Backoff {
    /// The widget's outbox: from one second, capped at five minutes, jitter within 0.5..1.5.
    pub const OUTBOX: Backoff = Backoff { base_ms: 1000, max_ms: 300_000, jitter: (0.5, 1.5) };

    /// Milliseconds to wait before attempt `attempt + 1` (attempt counts from 1): `base_ms`
    /// doubled per attempt up to `max_ms`, times `jitter` (a factor the caller draws), and never
    /// sooner than the server's `Retry-After` (seconds).
    pub fn delay_ms(&self, attempt: u32, jitter: f64, retry_after_secs: Option<u64>) -> u64 {
        let exp = self.base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(30));
        let wait =
            (exp.min(self.max_ms) as f64 * jitter.clamp(self.jitter.0, self.jitter.1)) as u64;
        wait.max(retry_after_secs.unwrap_or(0).saturating_mul(1000))
    }
}

/// [`Backoff::OUTBOX`]'s wait before attempt `attempt + 1`; the widget draws `jitter` in
/// 0.7..1.3.
pub fn retry_delay_ms(attempt: u32, jitter: f64, retry_after_secs: Option<u64>) -> u64 {
    Backoff::OUTBOX.delay_ms(attempt, jitter, retry_after_secs)
}

/// Reads a `Retry-After` header: delta-seconds only (an HTTP date gives `None`, and the
/// caller's backoff applies).
pub fn parse_retry_after(value: &str) -> Option<u64> {
    value.trim().parse::<u64>().ok().map(|s| s.min(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let cases = [
            (Some(200), Verdict::Delivered),
            (Some(201), Verdict::Delivered),
            (Some(204), Verdict::Delivered),
            (None, Verdict::Retry),
            (Some(408), Verdict::Retry),
            (Some(429), Verdict::Retry),
            (Some(500), Verdict::Retry),
            (Some(503), Verdict::Retry),
            (Some(400), Verdict::Refused),
            (Some(404), Verdict::Refused),
            (Some(413), Verdict::Refused),
            (Some(422), Verdict::Refused),
            (Some(301), Verdict::Refused),
        ];
        for (status, want) in cases {
            assert_eq!(verdict(status), want, "{status:?}");
        }
    }

    #[test]
    fn backoff_grows_caps_and_respects_retry_after() {
        assert_eq!(retry_delay_ms(1, 1.0, None), 1000);
        assert_eq!(retry_delay_ms(2, 1.0, None), 2000);
        assert_eq!(retry_delay_ms(5, 1.0, None), 16_000);
        assert_eq!(retry_delay_ms(30, 1.0, None), 300_000);
        assert_eq!(retry_delay_ms(1, 1.3, None), 1300);
        assert_eq!(retry_delay_ms(1, 1.0, Some(5)), 5000);
        assert_eq!(retry_delay_ms(10, 1.0, Some(5)), 300_000);
        assert_eq!(parse_retry_after(" 120 "), Some(120));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"), None);
    }

    #[test]
    fn events_endpoint_beside_the_relay() {
        let d = DeliveryConfig::default();
        let cases = [
            ("/v1/leads", Some("/v1/events")),
            ("https://relay.example.com/v1/leads", Some("https://relay.example.com/v1/events")),
            (
                "https://relay.example.com/v1/leads/?x=1",
                Some("https://relay.example.com/v1/events"),
            ),
            ("https://hooks.example.com/crm", None),
        ];
        for (endpoint, want) in cases {
            assert_eq!(d.events_endpoint_for(endpoint).as_deref(), want, "{endpoint}");
        }
        let off = DeliveryConfig { events_endpoint: Some(String::new()), ..d.clone() };
        assert_eq!(off.events_endpoint_for("/v1/leads"), None);
        let own = DeliveryConfig { events_endpoint: Some("/stats".into()), ..d };
        assert_eq!(own.events_endpoint_for("/v1/leads").as_deref(), Some("/stats"));
    }

    #[test]
    fn config_defaults_and_keys() {
        let read = |text: &str| {
            use crate::json::{FromJson, Node};
            DeliveryConfig::read(&Node::root(&crate::json::parse(text)?))
        };
        assert_eq!(read("{}").unwrap(), DeliveryConfig::default());
        let d = read(r#"{"nurture_endpoint": "/nurture", "keep_days": 2}"#).unwrap();
        assert_eq!((d.nurture_endpoint.as_deref(), d.keep_days), (Some("/nurture"), 2));
        let typo = read(r#"{"keepdays": 2}"#).unwrap_err();
        assert_eq!(typo.path, "keepdays");
        assert!(typo.message().ends_with("(did you mean `keep_days`?)"), "{typo}");
    }
}
