//! leadgate's relay: the server a self-hosting developer runs beside their landing pages.
//!
//! It receives the leads the widget posts ([`routes`]), re-scores each one with the same
//! [`leadgate_core::score`] on the same config when it knows the form, stores it exactly once in
//! SQLite ([`store`]), and shows the sales team every lead with the reasons for its score
//! ([`dashboard`]). In demo mode it also serves the built widget and its landing page under the
//! strict Content-Security-Policy that the product promises to work under.
//!
//! [`serve`] is the entry point for tests and embedding; [`Cli`] and [`run`] are what the
//! `leadgate-relay` binary calls.
#![deny(missing_docs)]

pub mod dashboard;
pub mod routes;
pub mod store;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use leadgate_core::{ConfigError, FormConfig};
use tokio::net::TcpListener;

pub use routes::router;
pub use store::{ScoreCheck, Store, StoreError, StoredLead};

/// What a relay serves, and where it keeps the leads.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The SQLite file the leads are stored in; created if missing.
    pub db_path: PathBuf,
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
        /// What is wrong, and where in the config.
        source: ConfigError,
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
    #[error("cannot open the lead database {path}: {source}")]
    Database {
        /// The SQLite file.
        path: PathBuf,
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
}

impl RelayError {
    /// The process exit code for this error: 2 for bad input (command line, form configs),
    /// 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            RelayError::ReadForm { .. }
            | RelayError::FormConfig { .. }
            | RelayError::DuplicateForm(_)
            | RelayError::Origin(_) => 2,
            _ => 1,
        }
    }
}

/// The relay's shared state: the store, the known forms, and how to serve.
#[derive(Debug, Clone)]
pub struct RelayState {
    pub(crate) store: Store,
    pub(crate) forms: Arc<BTreeMap<String, FormConfig>>,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) demo_dir: Option<PathBuf>,
    pub(crate) demo_connect_src: Vec<String>,
}

impl RelayState {
    /// Opens (or creates) the database and checks the options.
    pub fn open(options: RelayOptions) -> Result<RelayState, RelayError> {
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
        let store = Store::open(&options.db_path)
            .map_err(|source| RelayError::Database { path: options.db_path.clone(), source })?;
        Ok(RelayState {
            store,
            forms: Arc::new(forms),
            allowed_origins: options.allowed_origins,
            demo_dir: options.demo_dir,
            demo_connect_src: options.demo_connect_src,
        })
    }

    /// The lead store.
    pub fn store(&self) -> &Store {
        &self.store
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

/// Like [`serve_with_shutdown`], with a state that is already open.
pub async fn serve_state(
    listener: TcpListener,
    state: RelayState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(RelayError::Serve)
}

/// The `leadgate-relay` command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "leadgate-relay", version, about = "Receive, re-check, store and show leads.")]
pub struct Cli {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The SQLite file to store leads in (created if missing).
    #[arg(long, default_value = "leads.db")]
    pub db: PathBuf,
    /// An origin whose pages may post leads, e.g. https://www.example.com; repeatable;
    /// "*" allows any.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// A directory of static files (the built widget) to serve at / under a strict CSP.
    #[arg(long, value_name = "DIR")]
    pub demo_dir: Option<PathBuf>,
    /// Another origin the demo pages may send leads to (their CSP `connect-src`); repeatable.
    #[arg(long = "demo-connect-src", value_name = "ORIGIN")]
    pub demo_connect_src: Vec<String>,
    /// A form config (JSON) whose leads are re-scored; repeatable.
    #[arg(long = "form", value_name = "CONFIG")]
    pub forms: Vec<PathBuf>,
}

impl Cli {
    /// Reads the form configs and turns the command line into [`RelayOptions`].
    pub fn options(&self) -> Result<RelayOptions, RelayError> {
        let forms = self.forms.iter().map(|path| load_form(path)).collect::<Result<_, _>>()?;
        Ok(RelayOptions {
            db_path: self.db.clone(),
            allowed_origins: self.allow_origin.clone(),
            demo_dir: self.demo_dir.clone(),
            demo_connect_src: self.demo_connect_src.clone(),
            forms,
        })
    }
}

/// Reads and validates one form config file.
pub fn load_form(path: &Path) -> Result<FormConfig, RelayError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| RelayError::ReadForm { path: path.to_path_buf(), source })?;
    FormConfig::from_json(&text)
        .map_err(|source| RelayError::FormConfig { path: path.to_path_buf(), source })
}

/// What the binary does: opens the database, binds `listen`, prints one line, and serves until
/// Ctrl-C or SIGTERM.
pub async fn run(listen: SocketAddr, options: RelayOptions) -> Result<(), RelayError> {
    let db = options.db_path.clone();
    let state = RelayState::open(options)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| RelayError::Bind { addr: listen, source })?;
    let addr = listener.local_addr().map_err(|source| RelayError::Bind { addr: listen, source })?;
    println!("leadgate relay listening on http://{addr} (db: {})", db.display());
    serve_state(listener, state, shutdown_signal()).await
}

/// Completes on Ctrl-C or (on Unix) SIGTERM. If no handler can be installed it never completes:
/// the process is then stopped the hard way, which SQLite's journal survives.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("leadgate relay: cannot listen for Ctrl-C: {e}");
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
                eprintln!("leadgate relay: cannot listen for SIGTERM: {e}");
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
            let cli = Cli {
                listen: "127.0.0.1:0".parse().unwrap(),
                db: dir.join("x.db"),
                allow_origin: vec![],
                demo_dir: None,
                demo_connect_src: vec![],
                forms: vec![path],
            };
            let err = cli.options().unwrap_err();
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            for want in wants {
                assert!(text.contains(want), "{text:?} lacks {want:?}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
