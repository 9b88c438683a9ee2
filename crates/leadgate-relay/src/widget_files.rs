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
//! - Compressed when the browser accepts it: a request with `Accept-Encoding: br` (or `gzip`)
//!   gets the file's precompressed twin (`leadgate_bg.wasm.br`, `.gz`, which
//!   `scripts/build.sh` writes beside every file of dist/) with `Content-Encoding` and
//!   `Vary: Accept-Encoding`; a file without a twin is sent as it is. Brotli at quality 11 is
//!   too slow to run per request, and files compressed once cost nothing to serve.

use std::path::Path;

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, VARY, X_CONTENT_TYPE_OPTIONS,
};
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
        .fallback_service(ServeDir::new(dir).precompressed_br().precompressed_gzip())
        .layer(header(ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .layer(header(CROSS_ORIGIN_RESOURCE_POLICY, "cross-origin"))
        .layer(header(CACHE_CONTROL, "no-cache"))
        .layer(header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // ServeDir picks the twin by Accept-Encoding but does not say so: caches must know.
        .layer(header(VARY, "accept-encoding"))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use axum::body::Body;
    use axum::http::header::{
        ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, IF_MODIFIED_SINCE, LAST_MODIFIED, VARY,
    };
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::router;

    const SCRIPT: &str =
        "/*leadgate*/(function(){console.log('leadgate, leadgate, leadgate');})();\n";

    /// A dist/ as scripts/build.sh leaves it: each file with its `.br` and `.gz` twin.
    fn dist() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadgate.js");
        std::fs::write(&path, SCRIPT).unwrap();
        let mut br = Vec::new();
        brotli::CompressorWriter::new(&mut br, 4096, 11, 22).write_all(SCRIPT.as_bytes()).unwrap();
        std::fs::write(dir.path().join("leadgate.js.br"), br).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(SCRIPT.as_bytes()).unwrap();
        std::fs::write(dir.path().join("leadgate.js.gz"), gz.finish().unwrap()).unwrap();
        // A file without twins is served as it is, whatever the browser accepts.
        std::fs::write(dir.path().join("plain.json"), "{}").unwrap();
        dir
    }

    async fn get(
        dir: &std::path::Path,
        path: &str,
        headers: &[(axum::http::HeaderName, &str)],
    ) -> axum::http::Response<Body> {
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        router(dir).oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn bytes(response: axum::http::Response<Body>) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()
    }

    #[tokio::test]
    async fn compressed_when_accepted_and_the_same_bytes_once_decompressed() {
        let dir = dist();
        // (Accept-Encoding, expected Content-Encoding)
        let cases = [
            ("br", Some("br")),
            ("gzip, deflate, br", Some("br")),
            ("gzip, deflate", Some("gzip")),
            ("identity", None),
            ("", None),
        ];
        for (accept, want) in cases {
            let reply = get(dir.path(), "/leadgate.js", &[(ACCEPT_ENCODING, accept)]).await;
            assert_eq!(reply.status(), StatusCode::OK, "{accept}");
            let encoding = reply.headers().get(CONTENT_ENCODING).map(|v| v.to_str().unwrap());
            assert_eq!(encoding, want, "{accept}");
            let content_type = reply.headers().get(CONTENT_TYPE).unwrap().to_str().unwrap();
            assert!(content_type.starts_with("text/javascript"), "{accept}: {content_type}");
            assert_eq!(reply.headers()["cache-control"], "no-cache", "{accept}");
            assert_eq!(reply.headers()["access-control-allow-origin"], "*", "{accept}");
            let vary = reply.headers().get(VARY).unwrap().to_str().unwrap();
            assert!(vary.eq_ignore_ascii_case("accept-encoding"), "{accept}: {vary}");
            let body = bytes(reply).await;
            let mut plain = Vec::new();
            match want {
                Some("br") => {
                    brotli::Decompressor::new(&body[..], 4096).read_to_end(&mut plain).unwrap();
                }
                Some(_) => {
                    flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain).unwrap();
                }
                None => plain = body,
            }
            assert_eq!(plain, SCRIPT.as_bytes(), "{accept}");
        }
        let plain = get(dir.path(), "/plain.json", &[(ACCEPT_ENCODING, "br, gzip")]).await;
        assert_eq!(plain.headers().get(CONTENT_ENCODING), None);
        assert_eq!(bytes(plain).await, b"{}");
    }

    #[tokio::test]
    async fn a_compressed_file_revalidates_with_last_modified() {
        let dir = dist();
        let first = get(dir.path(), "/leadgate.js", &[(ACCEPT_ENCODING, "br")]).await;
        let modified = first.headers()[LAST_MODIFIED].to_str().unwrap().to_string();
        let again = get(
            dir.path(),
            "/leadgate.js",
            &[(ACCEPT_ENCODING, "br"), (IF_MODIFIED_SINCE, modified.as_str())],
        )
        .await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(bytes(again).await.is_empty());
    }
}
