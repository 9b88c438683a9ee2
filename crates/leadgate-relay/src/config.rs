//! The relay's settings: a `relay.toml` file, environment variables and flags, in rising
//! order of precedence (a flag beats its variable, which beats the file, which beats the
//! default).
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! db = "leads.db"                          # paths are relative to this file
//! # database_url = "postgres://leadgate:…@db.internal/leads"   # instead of db: several relays
//! allow_origins = ["https://www.example.com"]
//! forms = ["forms/contact.json"]
//! dashboard_token = "change-me"            # or LEADGATE_DASHBOARD_TOKEN
//! trust_forwarded_for = false              # true behind one reverse proxy
//! allowed_hosts = []                       # host names an open (token-less) dashboard answers
//!
//! [connections]                            # against slow and idle clients
//! header_timeout_ms = 10000                # to send a request's headers; also the idle time
//! body_timeout_ms = 10000                  # to send a request's body
//! max_connections = 4096
//!
//! [rate_limit]                             # per client address; per_minute = 0 turns it off
//! per_minute = 60
//! burst = 30
//!
//! [spam]
//! min_fill_ms = 2000                       # faster submissions are stored as spam
//! require_meta = true                      # a lead without the widget's meta is spam
//!
//! [forwarding]
//! max_attempts = 10
//! base_delay_ms = 1000
//! max_delay_ms = 3600000
//!
//! [outcomes]                               # what sales says became of each lead
//! token = "…"                              # may post outcomes only (a CRM); or LEADGATE_OUTCOME_TOKEN
//! reasons = ["no-budget", "not-decision-maker", "wrong-fit", "competitor", "spam", "unreachable", "no-need", "other"]
//! currency = "EUR"
//!
//! [sla]                                    # speed to lead: first touch within
//! default = "24h"
//! grades = { "A" = "5m" }
//! notify_webhook = "slack"                 # a [[webhooks]] entry (route = "none"): Slack-compatible alerts
//!
//! [[webhooks]]
//! name = "crm"
//! url = "https://crm.example.com/hooks/leads"
//! secrets = ["whsec_…"]                   # newest first; or secrets_env = "CRM_SECRETS"
//! route = "qualified"                      # qualified | unqualified | all | none (alerts only)
//! forms = []                               # all forms
//! # ca_file = "crm-ca.pem"                 # trust a private CA too (PEM)
//! # allow_private_network = true           # a CRM on a loopback/private address
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::forward::{Forwarding, Route, Webhook};
use crate::ratelimit::RateLimit;
use crate::server::ConnectionLimits;
use crate::signature::WebhookSecret;
use crate::RelayError;

/// `relay.toml` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The address to listen on.
    pub listen: Option<SocketAddr>,
    /// The SQLite file.
    pub db: Option<PathBuf>,
    /// A PostgreSQL database instead (`postgres://…`), which several relays may share.
    pub database_url: Option<String>,
    /// Origins whose pages may post leads and events.
    #[serde(default)]
    pub allow_origins: Vec<String>,
    /// A directory served at `/` under the demo CSP.
    pub demo_dir: Option<PathBuf>,
    /// Extra `connect-src` origins of the demo pages.
    #[serde(default)]
    pub demo_connect_src: Vec<String>,
    /// Form config files whose leads are re-scored.
    #[serde(default)]
    pub forms: Vec<PathBuf>,
    /// The dashboard's token (Bearer, or the password of basic auth).
    pub dashboard_token: Option<String>,
    /// Whether the client address is the rightmost `X-Forwarded-For` entry.
    pub trust_forwarded_for: Option<bool>,
    /// Host names an open (token-less) dashboard answers to.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Timeouts and the connection cap.
    #[serde(default)]
    pub connections: Option<ConnectionLimits>,
    /// The per-address limit.
    pub rate_limit: Option<RateLimit>,
    /// The spam checks.
    #[serde(default)]
    pub spam: SpamFile,
    /// How the forwarder retries.
    #[serde(default)]
    pub forwarding: Option<Forwarding>,
    /// Where leads are forwarded.
    #[serde(default)]
    pub webhooks: Vec<WebhookFile>,
    /// Who may post outcomes and what they may say.
    #[serde(default)]
    pub outcomes: crate::OutcomeSettings,
    /// How soon sales must first touch a lead.
    #[serde(default)]
    pub sla: crate::sla::SlaFile,
}

/// `[spam]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpamFile {
    /// Submissions filled in faster than this are spam.
    pub min_fill_ms: Option<u64>,
    /// Whether a lead without `meta` is spam.
    pub require_meta: Option<bool>,
}

/// One `[[webhooks]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFile {
    /// See [`Webhook::name`].
    pub name: String,
    /// See [`Webhook::url`].
    pub url: String,
    /// See [`Webhook::secrets`].
    #[serde(default)]
    pub secrets: Vec<WebhookSecret>,
    /// An environment variable holding more secrets (separated by spaces or commas), so
    /// secrets can stay out of the file.
    pub secrets_env: Option<String>,
    /// See [`Webhook::route`].
    #[serde(default)]
    pub route: Route,
    /// See [`Webhook::forms`].
    #[serde(default)]
    pub forms: Vec<String>,
    /// See [`Webhook::ca_file`]; relative to the config file.
    pub ca_file: Option<PathBuf>,
    /// See [`Webhook::allow_private_network`].
    #[serde(default)]
    pub allow_private_network: bool,
}

impl ConfigFile {
    /// Reads and checks `path`; relative paths inside are made relative to its directory.
    pub fn load(path: &Path) -> Result<ConfigFile, RelayError> {
        let fail = |message: String| RelayError::Config { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let mut file: ConfigFile = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        file.db.as_mut().map(rebase);
        file.demo_dir.as_mut().map(rebase);
        file.forms.iter_mut().for_each(rebase);
        file.webhooks.iter_mut().filter_map(|w| w.ca_file.as_mut()).for_each(rebase);
        Ok(file)
    }

    /// The webhooks, with the secrets of their `secrets_env` variables, checked.
    pub fn webhooks(&self, path: &Path) -> Result<Vec<Webhook>, RelayError> {
        let fail = |message: String| RelayError::Config { path: path.to_path_buf(), message };
        let mut hooks: Vec<Webhook> = Vec::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            let mut secrets = w.secrets.clone();
            if let Some(var) = &w.secrets_env {
                let value = std::env::var(var).map_err(|_| {
                    fail(format!("webhooks[{i}].secrets_env: the variable {var} is not set"))
                })?;
                for text in value.split([' ', ',', '\n']).filter(|s| !s.is_empty()) {
                    let secret = WebhookSecret::parse(text)
                        .map_err(|e| fail(format!("webhooks[{i}].secrets_env ({var}): {e}")))?;
                    secrets.push(secret);
                }
            }
            let hook = Webhook {
                name: w.name.clone(),
                url: w.url.clone(),
                secrets,
                route: w.route,
                forms: w.forms.clone(),
                ca_file: w.ca_file.clone(),
                allow_private_network: w.allow_private_network,
            };
            hook.check().map_err(|e| fail(format!("webhooks[{i}]: {e}")))?;
            if hooks.iter().any(|h| h.name == hook.name) {
                return Err(fail(format!("webhooks[{i}]: the name {:?} is used twice", hook.name)));
            }
            hooks.push(hook);
        }
        Ok(hooks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("relay.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_full_file_is_read_with_paths_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var("LEADGATE_TEST_SECRETS", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let path = write(
            dir.path(),
            r#"
            listen = "0.0.0.0:9000"
            db = "data/leads.db"
            allow_origins = ["https://www.example.com"]
            forms = ["forms/contact.json", "/etc/leadgate/pricing.json"]
            dashboard_token = "s3cret"
            [rate_limit]
            per_minute = 120
            [spam]
            min_fill_ms = 1500
            [forwarding]
            max_attempts = 3
            [[webhooks]]
            name = "crm"
            url = "http://127.0.0.1:9/hook"
            secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
            secrets_env = "LEADGATE_TEST_SECRETS"
            route = "all"
            allow_private_network = true
            [[webhooks]]
            name = "private-crm"
            url = "https://crm.internal.example/hook"
            ca_file = "crm-ca.pem"
            "#,
        );
        let mut file = ConfigFile::load(&path).unwrap();
        assert_eq!(file.listen, Some("0.0.0.0:9000".parse().unwrap()));
        assert_eq!(file.db, Some(dir.path().join("data/leads.db")));
        assert_eq!(
            file.forms,
            [dir.path().join("forms/contact.json"), PathBuf::from("/etc/leadgate/pricing.json")]
        );
        assert_eq!(file.rate_limit, Some(RateLimit { per_minute: 120, burst: 30 }));
        assert_eq!(file.spam.min_fill_ms, Some(1500));
        let forwarding = file.forwarding.unwrap();
        assert_eq!((forwarding.max_attempts, forwarding.base_delay_ms), (3, 1000));
        assert_eq!(file.webhooks[1].ca_file, Some(dir.path().join("crm-ca.pem")));
        file.webhooks[1].ca_file = None;
        let hooks = file.webhooks(&path).unwrap();
        assert_eq!(hooks.len(), 2);
        assert_eq!(hooks[0].secrets.len(), 2);
        assert_eq!(hooks[0].route, Route::All);
        assert!(hooks[0].allow_private_network && !hooks[1].allow_private_network);
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        // (file, words in the error)
        let cases = [
            ("listne = \"x\"", "unknown field `listne`"),
            ("[[webhooks]]\nname = \"crm\"\nurl = \"http://x\"\nsecrets = [\"whsec_c2hvcnQ=\"]", "24 to 64 bytes"),
            ("[[webhooks]]\nname = \"crm\"\nurl = \"http://x\"\nroute = \"hot\"", "unknown variant `hot`"),
            ("[[webhooks]]\nname = \"c r m\"\nurl = \"http://x\"", "webhooks[0]: webhook name"),
            ("[[webhooks]]\nname = \"a\"\nurl = \"http://x\"\n[[webhooks]]\nname = \"a\"\nurl = \"http://y\"", "webhooks[1]: the name \"a\" is used twice"),
            ("[[webhooks]]\nname = \"a\"\nurl = \"http://x\"\nsecrets_env = \"LEADGATE_TEST_UNSET\"", "LEADGATE_TEST_UNSET is not set"),
            ("[[webhooks]]\nname = \"crm\"\nurl = \"http://127.0.0.1:9/\"", "webhooks[0]: webhook crm: 127.0.0.1 is not a public address: 127.0.0.1 (loopback); webhooks may only post to public addresses unless the webhook sets allow_private_network = true"),
            ("[[webhooks]]\nname = \"crm\"\nurl = \"https://x\"\nca_file = \"missing.pem\"", "webhooks[0]: webhook crm: ca_file"),
            ("[[webhooks]]\nname = \"crm\"\nurl = \"https://x\"\nca_file = \"relay.toml\"", "no PEM certificate in it"),
        ];
        for (text, words) in cases {
            let path = write(dir.path(), text);
            let err = ConfigFile::load(&path).and_then(|f| f.webhooks(&path).map(|_| ()));
            let message = err.unwrap_err().to_string();
            assert!(message.contains(words), "{text:?}: {message:?} lacks {words:?}");
            assert!(message.contains("relay.toml"), "{message}");
        }
    }
}
