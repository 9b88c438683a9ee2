//! leadgate's relay: the server a self-hosting developer runs beside their landing pages.
//!
//! It receives the leads the widget posts ([`http`]), re-scores each one with the same
//! [`leadgate_core::score`] on the same config when it knows the form, stores it exactly once in
//! SQLite, or in PostgreSQL shared by several relays ([`store`]), forwards qualified leads to
//! signed webhooks with a durable retry queue ([`forward`], [`signature`]), and shows the sales
//! team the funnel and every lead with the reasons for its score ([`dashboard`]). Settings come
//! from flags, `LEADGATE_*` variables and `relay.toml` ([`config`]); logs are logfmt lines
//! ([`logline`]). In demo mode it also serves the built widget and its landing page under the
//! strict Content-Security-Policy that the product promises to work under.
//!
//! [`serve`] is the entry point for tests and embedding; [`Cli`] and [`run`] are what the
//! `leadgate-relay` binary calls.
#![deny(missing_docs)]

pub mod backtest;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod forward;
pub mod guard;
pub mod http;
pub mod logline;
pub mod ratelimit;
pub mod sales;
pub mod server;
pub mod signature;
pub mod sla;
pub mod store;
pub mod versions;
pub mod widget_files;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use leadgate_core::{ConfigError, FormConfig};
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use forward::{Forwarding, Route, Webhook};
pub use http::router;
pub use ratelimit::RateLimit;
pub use server::ConnectionLimits;
pub use signature::WebhookSecret;
pub use store::{Database, ScoreCheck, Store, StoreError, StoredLead};

use crate::config::ConfigFile;
use crate::logline::{log, Level};
use crate::ratelimit::RateLimiter;

/// The shortest time a visitor takes to fill in a form by hand; faster is a bot. 2000 ms.
pub const DEFAULT_MIN_FILL_MS: u64 = 2000;

/// What a relay serves, and where it keeps the leads. Start from `RelayOptions::default()`
/// (or [`RelayOptions::new`]) and set what you need.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The SQLite file the leads are stored in; created if missing. Defaults to `leads.db`.
    /// Not used when `database_url` is set.
    pub db_path: PathBuf,
    /// A database to use instead of the SQLite file: `postgres://user:password@host/db`, which
    /// several relays may share (or `sqlite:FILE`). Defaults to none.
    pub database_url: Option<String>,
    /// The origins (`https://www.example.com`) whose pages may post leads; `"*"` allows any.
    /// Empty: only pages served by the relay itself (same origin).
    pub allowed_origins: Vec<String>,
    /// A directory of static files (the built widget and a landing page) served at `/` under a
    /// strict Content-Security-Policy. Defaults to none.
    pub demo_dir: Option<PathBuf>,
    /// Other origins the demo pages may send leads to (added to their CSP `connect-src`).
    pub demo_connect_src: Vec<String>,
    /// The forms whose scores the relay re-checks. When empty, every form is accepted and no
    /// score is checked; otherwise a lead for another form is refused (422).
    pub forms: Vec<FormConfig>,
    /// The token that opens the dashboard (`/leads`, `/leads.csv`) and the reading API
    /// (`GET /v1/leads`, `/v1/deliveries`): `Authorization: Bearer <token>`, or basic auth with
    /// any user name and the token as password. Defaults to none: open to requests whose
    /// `Host` is localhost, an IP address or one of `allowed_hosts` (the binary allows that on
    /// a loopback address only, unless `--open-dashboard`). An empty token is refused.
    pub dashboard_token: Option<String>,
    /// The per-address limit on `POST /v1/leads` and `/v1/events` (429 + `Retry-After` above
    /// it). Defaults to 30 at once, then 60 a minute; `None` turns it off.
    pub rate_limit: Option<RateLimit>,
    /// Whether the client address is the rightmost entry of `X-Forwarded-For` (set it behind
    /// one reverse proxy, never when the relay faces the internet; see [`guard::client_ip`]).
    /// Defaults to false.
    pub trust_forwarded_for: bool,
    /// Host names (without port) a relay without `dashboard_token` answers its dashboard and
    /// reading API to, besides `localhost` and IP addresses (DNS rebinding defence). Defaults
    /// to none.
    pub allowed_hosts: Vec<String>,
    /// Leads whose `meta.fill_ms` is below this are stored as spam, not forwarded. Defaults to
    /// [`DEFAULT_MIN_FILL_MS`]; 0 turns the check off.
    pub min_fill_ms: u64,
    /// Whether a lead without `meta` (or with a `fill_ms` that is not a number) is stored as
    /// spam: the widget always sends it, a scripted post usually doesn't. Defaults to true;
    /// turn it off when your own servers post leads.
    pub require_meta: bool,
    /// Timeouts and the connection cap against slow and idle clients.
    pub limits: ConnectionLimits,
    /// Where leads are forwarded. Defaults to none.
    pub webhooks: Vec<Webhook>,
    /// How forwarding retries.
    pub forwarding: Forwarding,
    /// How sales' outcomes are taken (`[outcomes]`).
    pub outcomes: OutcomeSettings,
    /// How soon sales must first touch a lead (`[sla]`). Defaults to none.
    pub sla: sla::Sla,
}

/// `[outcomes]`: who may post outcomes and what they may say.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSettings {
    /// A token that may post outcomes and nothing else (what a CRM integration gets), as
    /// `Authorization: Bearer <token>`. Defaults to none: only the dashboard token may.
    pub token: Option<String>,
    /// The reasons a rejection or a loss may give. Defaults to
    /// [`sales::DEFAULT_REASONS`].
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The currency of amounts that name none. Defaults to `EUR`.
    pub currency: Option<String>,
}

impl OutcomeSettings {
    /// The rules outcomes are checked by.
    pub fn rules(&self) -> sales::OutcomeRules {
        let mut rules = sales::OutcomeRules::default();
        if !self.reasons.is_empty() {
            rules.reasons.clone_from(&self.reasons);
        }
        if let Some(currency) = &self.currency {
            rules.currency = currency.to_ascii_uppercase();
        }
        rules
    }
}

impl Default for RelayOptions {
    fn default() -> RelayOptions {
        RelayOptions::new("leads.db")
    }
}

impl RelayOptions {
    /// Where the leads are kept: `database_url` when set, else the SQLite file `db_path`.
    pub fn database(&self) -> Result<Database, RelayError> {
        match &self.database_url {
            Some(url) => Database::from_url(url)
                .map_err(|message| RelayError::Config { path: "database_url".into(), message }),
            None => Ok(Database::Sqlite(self.db_path.clone())),
        }
    }

    /// The defaults, storing leads in `db_path`.
    pub fn new(db_path: impl Into<PathBuf>) -> RelayOptions {
        RelayOptions {
            db_path: db_path.into(),
            database_url: None,
            allowed_origins: Vec::new(),
            demo_dir: None,
            demo_connect_src: Vec::new(),
            forms: Vec::new(),
            dashboard_token: None,
            rate_limit: Some(RateLimit::default()),
            trust_forwarded_for: false,
            allowed_hosts: Vec::new(),
            min_fill_ms: DEFAULT_MIN_FILL_MS,
            require_meta: true,
            limits: ConnectionLimits::default(),
            webhooks: Vec::new(),
            forwarding: Forwarding::default(),
            outcomes: OutcomeSettings::default(),
            sla: sla::Sla::default(),
        }
    }
}

/// Why the relay could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// A `--form` file could not be read.
    #[error("cannot read the form config {path}: {source}")]
    ReadForm {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A `--form` file is not a valid config (the message names the place in the config).
    #[error("form config {path}: {source}")]
    FormConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where in the config (boxed: a config error carries the keys it
        /// knows, and `RelayError` travels in every `Result` of start-up).
        source: Box<ConfigError>,
    },
    /// Two form configs have the same `form_id`.
    #[error("two form configs have the form_id \"{0}\"; each form needs its own")]
    DuplicateForm(String),
    /// An `--allow-origin` value is not usable as a header value.
    #[error(
        "--allow-origin {0:?} is not a valid origin (expected e.g. https://www.example.com or *)"
    )]
    Origin(String),
    /// The database could not be opened or prepared.
    #[error("cannot open the lead database {database}: {source}")]
    Database {
        /// The SQLite file, or the PostgreSQL URL (shown without its password).
        database: Database,
        /// What went wrong.
        source: StoreError,
    },
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
    /// The config file (or a setting) is not usable; the message names the setting.
    #[error("{path}: {message}")]
    Config {
        /// The file (or `command line`).
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// The dashboard token is empty, which would open the dashboard to anyone.
    #[error(
        "the dashboard token is empty: set a real one (e.g. `openssl rand -hex 32`) with \
         --dashboard-token or LEADGATE_DASHBOARD_TOKEN, or leave it unset to keep the dashboard \
         on a loopback address"
    )]
    EmptyToken,
    /// The dashboard would be open to the network.
    #[error(
        "the dashboard holds personal data: set --dashboard-token (or LEADGATE_DASHBOARD_TOKEN) \
         to listen on {0}, or pass --open-dashboard to leave it open on purpose"
    )]
    OpenDashboard(SocketAddr),
    /// The outcome token is empty, which would let anyone post outcomes.
    #[error(
        "the outcome token is empty: set a real one (e.g. `openssl rand -hex 32`) with \
         --outcome-token, LEADGATE_OUTCOME_TOKEN or [outcomes] token, or leave it unset"
    )]
    EmptyOutcomeToken,
    /// The config versions could not be read or stored.
    #[error("cannot read or store the form config versions: {0}")]
    Versions(StoreError),
    /// A stored config version no longer reads.
    #[error(transparent)]
    BadVersion(versions::BadVersion),
    /// `aggregates` found rows that disagree with a recount.
    #[error(
        "{0} aggregate rows disagree with a recount from the rows (run `aggregates --rebuild`)"
    )]
    AggregatesDisagree(usize),
    /// The system's random source could not be read (for the dashboard forms' CSRF key).
    #[error("cannot read the system's random source: {0}")]
    Random(std::io::Error),
}

impl RelayError {
    /// The process exit code for this error: 2 for bad input (command line, config files),
    /// 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            RelayError::ReadForm { .. }
            | RelayError::FormConfig { .. }
            | RelayError::DuplicateForm(_)
            | RelayError::Origin(_)
            | RelayError::Config { .. }
            | RelayError::EmptyToken
            | RelayError::EmptyOutcomeToken
            | RelayError::OpenDashboard(_) => 2,
            _ => 1,
        }
    }
}

/// The relay's shared state: the store, the known forms, and how to serve.
#[derive(Debug, Clone)]
pub struct RelayState {
    pub(crate) store: Store,
    /// The forms given at start (`--form`): each becomes a version when it is new.
    pub(crate) seed_forms: Arc<Vec<FormConfig>>,
    /// Every form's versions (see [`versions`]).
    pub(crate) catalog: versions::SharedCatalog,
    /// The outcome-only token.
    pub(crate) outcome_token: Option<Arc<str>>,
    /// How outcomes are checked.
    pub(crate) outcome_rules: Arc<sales::OutcomeRules>,
    /// How soon sales must first touch a lead.
    pub(crate) sla: Arc<sla::Sla>,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) demo_dir: Option<PathBuf>,
    pub(crate) demo_connect_src: Vec<String>,
    pub(crate) dashboard_token: Option<Arc<str>>,
    pub(crate) limiter: Option<Arc<RateLimiter>>,
    pub(crate) trust_forwarded_for: bool,
    pub(crate) allowed_hosts: Vec<String>,
    pub(crate) min_fill_ms: u64,
    pub(crate) require_meta: bool,
    pub(crate) limits: ConnectionLimits,
    pub(crate) webhooks: Arc<Vec<Webhook>>,
    pub(crate) forwarding: Forwarding,
    /// Wakes the forwarder when a message was queued.
    pub(crate) wake: Arc<Notify>,
    /// The key of the dashboard forms' CSRF tokens: random on each start, so a page from
    /// before a restart asks to be reloaded.
    pub(crate) csrf: http::CsrfKey,
}

impl RelayState {
    /// Opens (or creates) the database and checks the options.
    pub fn open(options: RelayOptions) -> Result<RelayState, RelayError> {
        if options.dashboard_token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(RelayError::EmptyToken);
        }
        if options.outcomes.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(RelayError::EmptyOutcomeToken);
        }
        let database = options.database()?;
        let mut forms = BTreeMap::new();
        for form in options.forms {
            if forms.contains_key(&form.form_id) {
                return Err(RelayError::DuplicateForm(form.form_id));
            }
            forms.insert(form.form_id.clone(), form);
        }
        for origin in &options.allowed_origins {
            if origin != "*" && axum::http::HeaderValue::from_str(origin).is_err() {
                return Err(RelayError::Origin(origin.clone()));
            }
        }
        if let Some(name) = &options.sla.notify_webhook {
            if !options.webhooks.iter().any(|w| &w.name == name) {
                return Err(RelayError::Config {
                    path: PathBuf::from("sla.notify_webhook"),
                    message: format!("there is no [[webhooks]] entry named {name:?}"),
                });
            }
        }
        for hook in &options.webhooks {
            hook.check().map_err(|message| RelayError::Config {
                path: PathBuf::from("webhooks"),
                message,
            })?;
        }
        let store = Store::open_database(&database)
            .map_err(|source| RelayError::Database { database, source })?;
        let limiter =
            options.rate_limit.filter(|l| l.per_minute > 0).map(|l| Arc::new(RateLimiter::new(l)));
        Ok(RelayState {
            store,
            seed_forms: Arc::new(forms.into_values().collect()),
            catalog: Arc::default(),
            outcome_token: options.outcomes.token.clone().map(Arc::from),
            outcome_rules: Arc::new(options.outcomes.rules()),
            sla: Arc::new(options.sla),
            allowed_origins: options.allowed_origins,
            demo_dir: options.demo_dir,
            demo_connect_src: options.demo_connect_src,
            dashboard_token: options.dashboard_token.map(Arc::from),
            limiter,
            trust_forwarded_for: options.trust_forwarded_for,
            allowed_hosts: options.allowed_hosts,
            min_fill_ms: options.min_fill_ms,
            require_meta: options.require_meta,
            limits: options.limits,
            webhooks: Arc::new(options.webhooks),
            forwarding: options.forwarding,
            wake: Arc::new(Notify::new()),
            csrf: http::CsrfKey::random().map_err(RelayError::Random)?,
        })
    }

    /// The lead store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The key the dashboard's forms are signed with ([`http::CsrfKey::token`], checked by
    /// [`http::CsrfKey::check`] when a form is posted).
    pub fn csrf(&self) -> &http::CsrfKey {
        &self.csrf
    }

    /// Stores each form given at start as a version when its model is new (and makes it
    /// current: the operator changed the file), then reads every version into the catalog.
    pub async fn load_versions(&self) -> Result<(), RelayError> {
        let fail = |source| RelayError::Versions(source);
        for form in self.seed_forms.iter() {
            let json = serde_json::to_string(form).map_err(|e| fail(StoreError::Encode(e)))?;
            let (version, added) = self
                .store
                .add_config_version(
                    form.form_id.clone(),
                    form.scoring.model_id(),
                    json,
                    Some("from the relay's --form file".into()),
                    false,
                    clock::rfc3339(),
                )
                .await
                .map_err(fail)?;
            if added && !version.current {
                self.store
                    .set_current_version(form.form_id.clone(), version.version, clock::rfc3339())
                    .await
                    .map_err(fail)?;
            }
        }
        self.reload_versions().await
    }

    /// Reads every stored version into the catalog.
    pub async fn reload_versions(&self) -> Result<(), RelayError> {
        let all = self.store.all_config_versions().await.map_err(RelayError::Versions)?;
        let catalog = versions::Catalog::load(&all).map_err(RelayError::BadVersion)?;
        versions::replace(&self.catalog, catalog);
        Ok(())
    }
}

/// Serves the relay on `listener` until the future is dropped.
pub async fn serve(listener: TcpListener, options: RelayOptions) -> Result<(), RelayError> {
    serve_with_shutdown(listener, options, std::future::pending()).await
}

/// Serves the relay on `listener` until `shutdown` completes, then lets the requests in flight
/// finish (so every lead that was answered 2xx is committed) and returns.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    options: RelayOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    serve_state(listener, RelayState::open(options)?, shutdown).await
}

/// Like [`serve_with_shutdown`], with a state that is already open. The forwarder runs beside
/// the server while it serves.
pub async fn serve_state(
    listener: TcpListener,
    state: RelayState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    state.load_versions().await?;
    let sla_watch = sla::spawn_watch(state.clone());
    let forwarder = (!state.webhooks.is_empty()).then(|| {
        forward::spawn(
            state.store.clone(),
            Arc::clone(&state.webhooks),
            state.forwarding,
            Arc::clone(&state.wake),
        )
    });
    let limits = state.limits;
    server::serve(listener, router(state), limits, shutdown).await;
    if let Some(watch) = sla_watch {
        watch.abort();
    }
    // The messages in flight finish and are recorded: a graceful restart repeats none.
    if let Some(forwarder) = forwarder {
        forwarder.stop().await;
    }
    Ok(())
}

/// The `leadgate-relay` command line. Every flag also reads an environment variable (shown in
/// `--help`); both beat the `--config` file.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(
    name = "leadgate-relay",
    version,
    about = "Receive, re-check, store, forward and show leads.",
    after_help = "Settings come from flags, then LEADGATE_* variables, then the --config file \
        (relay.toml), then the defaults. The dashboard is at /leads; leads are posted to \
        /v1/leads and widget events to /v1/events; /healthz answers ok."
)]
pub struct Cli {
    /// A relay.toml with every setting (webhooks, rate limit, spam checks...); see RELAY.md.
    #[arg(long, global = true, env = "LEADGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LEADGATE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The SQLite file to store leads in (created if missing) [default: leads.db].
    #[arg(long, global = true, env = "LEADGATE_DB")]
    pub db: Option<PathBuf>,
    /// A PostgreSQL database instead of the SQLite file, which several relays may share:
    /// postgres://user:password@host:port/database (better in the variable: it holds a
    /// password).
    #[arg(long, global = true, env = "LEADGATE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// An origin whose pages may post leads, e.g. https://www.example.com; repeatable
    /// (comma-separated in the variable); "*" allows any.
    #[arg(
        long = "allow-origin",
        value_name = "ORIGIN",
        env = "LEADGATE_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    pub allow_origin: Vec<String>,
    /// A directory of static files (the built widget) to serve at / under a strict CSP.
    #[arg(long, value_name = "DIR", env = "LEADGATE_DEMO_DIR")]
    pub demo_dir: Option<PathBuf>,
    /// Another origin the demo pages may send leads to (their CSP `connect-src`); repeatable.
    #[arg(long = "demo-connect-src", value_name = "ORIGIN")]
    pub demo_connect_src: Vec<String>,
    /// A form config (JSON) whose leads are re-scored; repeatable (comma-separated in the
    /// variable).
    #[arg(long = "form", value_name = "CONFIG", env = "LEADGATE_FORMS", value_delimiter = ',')]
    pub forms: Vec<PathBuf>,
    /// The token that opens the dashboard and the reading API (Bearer, or the basic-auth
    /// password). Required unless listening on a loopback address or --open-dashboard.
    #[arg(long, env = "LEADGATE_DASHBOARD_TOKEN", hide_env_values = true)]
    pub dashboard_token: Option<String>,
    /// A token that may post outcomes and nothing else (for a CRM integration).
    #[arg(long, env = "LEADGATE_OUTCOME_TOKEN", hide_env_values = true)]
    pub outcome_token: Option<String>,
    /// Leave the dashboard without a token on a non-loopback address.
    #[arg(long)]
    pub open_dashboard: bool,
    /// Requests per minute one address may post (leads and events); 0 turns the limit off
    /// [default: 60].
    #[arg(long, env = "LEADGATE_RATE_LIMIT", value_name = "PER_MINUTE")]
    pub rate_limit: Option<u32>,
    /// Requests one address may post at once before the per-minute rate applies [default: 30].
    #[arg(long, env = "LEADGATE_RATE_BURST", value_name = "N")]
    pub rate_burst: Option<u32>,
    /// Leads filled in faster than this are stored as spam; 0 turns it off [default: 2000].
    #[arg(long, env = "LEADGATE_MIN_FILL_MS", value_name = "MS")]
    pub min_fill_ms: Option<u64>,
    /// Take the client address from the rightmost X-Forwarded-For entry (behind one reverse
    /// proxy only).
    #[arg(long, env = "LEADGATE_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// A host name (e.g. leads.internal) a relay without a dashboard token answers to, besides
    /// localhost and IP addresses; repeatable (comma-separated in the variable).
    #[arg(
        long = "allow-host",
        value_name = "HOST",
        env = "LEADGATE_ALLOW_HOST",
        value_delimiter = ','
    )]
    pub allow_host: Vec<String>,
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The `leadgate-relay` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Serve (the default).
    Serve,
    /// Put dead letters back in the forwarding queue (a running relay sends them within its
    /// poll interval).
    Replay {
        /// Only this lead's.
        #[arg(long)]
        lead: Option<String>,
        /// Only this webhook's.
        #[arg(long)]
        webhook: Option<String>,
    },
    /// Print a new webhook signing secret (whsec_...).
    NewSecret,
    /// Recount the dashboard's and the insights' aggregates from the stored rows: report any
    /// difference (exit 1 if there is one), or with --rebuild replace them with the recount.
    Aggregates {
        /// Replace the aggregates with the recount (in one transaction).
        #[arg(long)]
        rebuild: bool,
    },
}

/// What the command line and the config file come to.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// What to serve.
    pub options: RelayOptions,
    /// Whether an open dashboard on a non-loopback address is wanted.
    pub open_dashboard: bool,
}

impl Cli {
    /// Reads the config file and the form configs, and merges them with the flags.
    pub fn settings(&self) -> Result<Settings, RelayError> {
        let (file, file_path) = match &self.config {
            Some(path) => (ConfigFile::load(path)?, path.clone()),
            None => (ConfigFile::default(), PathBuf::from("relay.toml")),
        };
        let form_paths = if self.forms.is_empty() { &file.forms } else { &self.forms };
        let forms = form_paths.iter().map(|path| load_form(path)).collect::<Result<_, _>>()?;
        let pick = |cli: &Vec<String>, file: &Vec<String>| {
            if cli.is_empty() {
                file.clone()
            } else {
                cli.clone()
            }
        };
        let mut rate_limit = file.rate_limit.unwrap_or_default();
        if let Some(per_minute) = self.rate_limit {
            rate_limit.per_minute = per_minute;
        }
        if let Some(burst) = self.rate_burst {
            rate_limit.burst = burst;
        }
        let options = RelayOptions {
            db_path: self.db.clone().or(file.db.clone()).unwrap_or_else(|| "leads.db".into()),
            // A --db flag beats a database_url from the file; a URL flag beats everything.
            database_url: self.database_url.clone().or_else(|| {
                if self.db.is_some() {
                    None
                } else {
                    file.database_url.clone()
                }
            }),
            allowed_origins: pick(&self.allow_origin, &file.allow_origins),
            demo_dir: self.demo_dir.clone().or(file.demo_dir.clone()),
            demo_connect_src: pick(&self.demo_connect_src, &file.demo_connect_src),
            forms,
            dashboard_token: self.dashboard_token.clone().or(file.dashboard_token.clone()),
            rate_limit: (rate_limit.per_minute > 0).then_some(rate_limit),
            trust_forwarded_for: self.trust_forwarded_for
                || file.trust_forwarded_for.unwrap_or(false),
            allowed_hosts: pick(&self.allow_host, &file.allowed_hosts),
            min_fill_ms: self.min_fill_ms.or(file.spam.min_fill_ms).unwrap_or(DEFAULT_MIN_FILL_MS),
            require_meta: file.spam.require_meta.unwrap_or(true),
            limits: file.connections.unwrap_or_default(),
            webhooks: file.webhooks(&file_path)?,
            forwarding: file.forwarding.unwrap_or_default(),
            sla: file
                .sla
                .sla()
                .map_err(|message| RelayError::Config { path: file_path.clone(), message })?,
            outcomes: {
                let mut outcomes = file.outcomes.clone();
                if self.outcome_token.is_some() {
                    outcomes.token.clone_from(&self.outcome_token);
                }
                outcomes
            },
        };
        let listen =
            self.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        Ok(Settings { listen, options, open_dashboard: self.open_dashboard })
    }
}

/// Reads and validates one form config file.
pub fn load_form(path: &Path) -> Result<FormConfig, RelayError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| RelayError::ReadForm { path: path.to_path_buf(), source })?;
    FormConfig::from_json(&text)
        .map_err(|e| RelayError::FormConfig { path: path.to_path_buf(), source: Box::new(e) })
}

/// What the binary does: opens the database, binds `listen`, prints one line, and serves until
/// Ctrl-C or SIGTERM. Refuses an open dashboard on a non-loopback address unless
/// `open_dashboard`.
pub async fn run(settings: Settings) -> Result<(), RelayError> {
    let Settings { listen, options, open_dashboard } = settings;
    let db = options.database()?;
    let webhooks = options.webhooks.len();
    // Opened first: an empty token is refused there, before it could count as "no token".
    let state = RelayState::open(options)?;
    if state.dashboard_token.is_none() && !listen.ip().is_loopback() && !open_dashboard {
        return Err(RelayError::OpenDashboard(listen));
    }
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| RelayError::Bind { addr: listen, source })?;
    let addr = listener.local_addr().map_err(|source| RelayError::Bind { addr: listen, source })?;
    println!("leadgate relay listening on http://{addr} (db: {db})");
    log(Level::Info, "relay.started", &[("addr", &addr), ("db", &db), ("webhooks", &webhooks)]);
    let result = serve_state(listener, state, shutdown_signal()).await;
    log(Level::Info, "relay.stopped", &[]);
    result
}

/// `leadgate-relay replay`: dead letters back in the queue; returns how many.
pub async fn replay(
    database: &Database,
    lead: Option<String>,
    webhook: Option<String>,
) -> Result<usize, RelayError> {
    let fail = |source| RelayError::Database { database: database.clone(), source };
    let store = Store::open_database(database).map_err(fail)?;
    store.replay_dead(lead, webhook, clock::unix_ms()).await.map_err(fail)
}

/// `leadgate-relay aggregates [--rebuild]`: recounts the aggregates from the rows; with
/// `rebuild`, replaces them. Returns the recount's report.
pub async fn recount(
    database: &Database,
    rebuild: bool,
) -> Result<store::sales::Recount, RelayError> {
    let fail = |source| RelayError::Database { database: database.clone(), source };
    let store = Store::open_database(database).map_err(fail)?;
    store.recount(rebuild).await.map_err(fail)
}

/// A new `whsec_` secret from the system's random source.
pub fn new_secret() -> std::io::Result<WebhookSecret> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    WebhookSecret::from_bytes(&bytes).map_err(std::io::Error::other)
}

/// Completes on Ctrl-C or (on Unix) SIGTERM. If no handler can be installed it never completes:
/// the process is then stopped the hard way, which SQLite's journal survives.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            log(Level::Error, "relay.no_ctrl_c", &[("error", &e)]);
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                log(Level::Error, "relay.no_sigterm", &[("error", &e)]);
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_form_files_are_named_with_the_place_in_the_config() {
        let dir = std::env::temp_dir().join(format!("leadgate-relay-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.json");
        std::fs::write(&bad, r#"{"form_id": "f", "fields": [{"name": "e", "type": "emial"}]}"#)
            .unwrap();
        let cases = [
            (dir.join("missing.json"), vec!["cannot read the form config", "missing.json"]),
            (bad.clone(), vec!["form config", "bad.json", "fields[0].type"]),
        ];
        for (path, wants) in cases {
            let cli = Cli { db: Some(dir.join("x.db")), forms: vec![path], ..Default::default() };
            let err = cli.settings().unwrap_err();
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            for want in wants {
                assert!(text.contains(want), "{text:?} lacks {want:?}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn flags_beat_the_file_which_beats_the_defaults() {
        use clap::Parser;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("relay.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9001\"\ndb = \"file.db\"\ndashboard_token = \"t\"\n\
             [rate_limit]\nper_minute = 5\n",
        )
        .unwrap();
        let config = file.to_str().unwrap();
        // (arguments, listen, db file name, per minute)
        let cases: [(&[&str], &str, &str, Option<u32>); 4] = [
            (&[], "127.0.0.1:8080", "leads.db", Some(60)),
            (&["--config", config], "127.0.0.1:9001", "file.db", Some(5)),
            (
                &["--config", config, "--listen", "127.0.0.1:7", "--db", "flag.db"],
                "127.0.0.1:7",
                "flag.db",
                Some(5),
            ),
            (&["--config", config, "--rate-limit", "0"], "127.0.0.1:9001", "file.db", None),
        ];
        for (args, listen, db, per_minute) in cases {
            let argv = std::iter::once("leadgate-relay").chain(args.iter().copied());
            let settings = Cli::try_parse_from(argv).unwrap().settings().unwrap();
            assert_eq!(settings.listen.to_string(), listen, "{args:?}");
            assert!(settings.options.db_path.ends_with(db), "{args:?}");
            assert_eq!(settings.options.rate_limit.map(|r| r.per_minute), per_minute, "{args:?}");
        }
        let argv = ["leadgate-relay", "--db", "x.db", "replay", "--lead", "abc"];
        let cli = Cli::try_parse_from(argv).unwrap();
        assert!(matches!(cli.command, Some(Command::Replay { lead: Some(_), webhook: None })));
        let argv = ["leadgate-relay", "replay", "--db", "x.db"];
        assert_eq!(Cli::try_parse_from(argv).unwrap().db, Some(PathBuf::from("x.db")));
    }

    #[test]
    fn an_open_dashboard_is_refused_off_loopback() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            listen: "0.0.0.0:0".parse().unwrap(),
            options: RelayOptions::new(dir.path().join("x.db")),
            open_dashboard: false,
        };
        let err = runtime.block_on(run(settings)).unwrap_err();
        assert!(matches!(err, RelayError::OpenDashboard(_)), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
}
