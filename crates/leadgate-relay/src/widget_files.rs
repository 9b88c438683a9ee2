//! The widget's files served as a CDN must serve them, so that a landing page on any origin
//! can embed the widget from the relay (`<script src="https://relay.example/leadgate.js">`).
//!
//! What every answer carries, and why:
//! - `Access-Control-Allow-Origin: *`: the loader *fetches* `leadgate_bg.wasm` (CORS mode), as
//!   does a `<link rel="preload" as="fetch" crossorigin>`; without it a page on another origin
//!   never gets the wasm. The files are public and need no credentials, so `*` is right.
//! - `Cross-Origin-Resource-Policy: cross-origin`: a page that isolates itself
//!   (`Cross-Origin-Embedder-Policy: require-corp`) may still load `leadgate.js`.
//! - `Cache-Control: no-cache` with `Last-Modified` (a conditional request gets `304 Not
//!   Modified`): the names are stable (`leadgate.js` forever), so a long `max-age` would keep
//!   visitors on an old widget after an update; revalidation costs one small request.
//! - The content type from the file name: `application/wasm` (which lets the browser compile
//!   the wasm while it downloads), `text/javascript`, `application/json`; and
//!   `X-Content-Type-Options: nosniff`.

use std::path::Path;

use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderName, HeaderValue};
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// Not among `http`'s named headers.
const CROSS_ORIGIN_RESOURCE_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-resource-policy");

/// The files of `dir` (`index.html` at `/`), with the headers in the module docs.
pub fn router(dir: &Path) -> Router {
    let header =
        |name, value| SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value));
    Router::new()
        .fallback_service(ServeDir::new(dir))
        .layer(header(ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .layer(header(CROSS_ORIGIN_RESOURCE_POLICY, "cross-origin"))
        .layer(header(CACHE_CONTROL, "no-cache"))
        .layer(header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
}
