//! The accept loop: HTTP/1.1 connections with a deadline for every request's headers, a cap on
//! open connections, and a graceful stop.
//!
//! What it guarantees against slow or idle clients (a slowloris):
//! - a connection must send a request's complete headers within `header_timeout` of the
//!   connection opening, or of the previous response (so an idle keep-alive connection is
//!   closed after the same time);
//! - a request body must arrive within `body_timeout` (the router's `RequestBodyTimeoutLayer`);
//! - at most `max_connections` are open at once; above that the relay stops accepting until
//!   one closes (the kernel's backlog holds the rest), so it never runs out of descriptors;
//! - on shutdown it stops accepting, closes idle connections and lets the requests in flight
//!   finish (every lead answered 2xx is committed), for at most [`SHUTDOWN_GRACE`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::logline::{log, Level};

/// How long a graceful stop waits for the requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Limits on connections (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionLimits {
    /// The time a client has to send a request's headers, from connecting or from the last
    /// response; also how long an idle keep-alive connection stays open. Defaults to
    /// 10 000 ms.
    pub header_timeout_ms: u64,
    /// The time a client has to send a request's body. Defaults to 10 000 ms.
    pub body_timeout_ms: u64,
    /// Connections open at once; more wait in the kernel's queue. Defaults to 4096.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            header_timeout_ms: 10_000,
            body_timeout_ms: 10_000,
            max_connections: 4096,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes (see the module docs). Handlers can
/// read the client's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_timeout_ms.max(1)));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait a moment
                    // rather than spin.
                    log(Level::Warn, "server.accept_failed", &[("error", &e)]);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small answers go out at once (no Nagle delay); a failure only costs latency.
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut request: axum::http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            request
        });
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that hangs up or times out is its own business; nothing to record.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        log(Level::Warn, "server.shutdown_timeout", &[("seconds", &SHUTDOWN_GRACE.as_secs())]);
    }
}
