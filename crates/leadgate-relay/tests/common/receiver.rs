//! A webhook receiver on 127.0.0.1, over HTTP or HTTPS: answers each request with the next
//! scripted status (the last one repeats), after a delay if asked, keeps connections open
//! (HTTP/1.1 keep-alive) and counts them, records what came, and checks the Standard Webhooks
//! headers. [`TestCa`] makes the certificates of the HTTPS one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use leadgate_relay::WebhookSecret;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Whether the signature holds for `secret` and the timestamp is within 5 minutes.
    pub fn verify(&self, secret: &WebhookSecret) -> bool {
        let id = self.header("webhook-id").unwrap_or_default();
        let ts: u64 = self.header("webhook-timestamp").unwrap_or("0").parse().unwrap_or(0);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let signature = self.header("webhook-signature").unwrap_or_default();
        now.abs_diff(ts) < 300 && secret.verify(id, ts, self.body.as_bytes(), signature)
    }
}

/// The receiver; it runs until the test ends.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    statuses: Arc<Mutex<Vec<u16>>>,
    seen: Arc<Mutex<Vec<Received>>>,
    delay: Arc<Mutex<Duration>>,
    connections: Arc<AtomicUsize>,
}

impl Receiver {
    /// Starts an HTTP receiver answering `statuses` in turn (the last one for ever).
    pub fn start(statuses: &[u16]) -> Receiver {
        Receiver::listen(statuses, None)
    }

    /// Starts an HTTPS receiver that shows the certificate of `tls`.
    pub fn start_tls(statuses: &[u16], tls: Arc<rustls::ServerConfig>) -> Receiver {
        Receiver::listen(statuses, Some(tls))
    }

    fn listen(statuses: &[u16], tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}/hook", listener.local_addr().unwrap());
        let receiver = Receiver {
            url,
            statuses: Arc::new(Mutex::new(statuses.to_vec())),
            seen: Arc::new(Mutex::new(Vec::new())),
            delay: Arc::new(Mutex::new(Duration::ZERO)),
            connections: Arc::new(AtomicUsize::new(0)),
        };
        let me = receiver.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                me.connections.fetch_add(1, Ordering::SeqCst);
                let (me, tls) = (me.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    None => me.handle(stream),
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(config) else { return };
                        me.handle(rustls::StreamOwned::new(connection, stream));
                    }
                });
            }
        });
        receiver
    }

    /// From now on, answer `statuses`.
    pub fn answer(&self, statuses: &[u16]) {
        *self.statuses.lock().unwrap() = statuses.to_vec();
    }

    /// From now on, wait this long before answering (after recording the request).
    pub fn delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// How many connections were opened to it so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Everything received so far.
    pub fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Answers the requests of one connection until the client closes it; gives up quietly
    /// on a connection that breaks (a client that refused the certificate, or stopped
    /// waiting).
    fn handle(&self, stream: impl Read + Write) {
        let mut reader = BufReader::new(stream);
        while self.answer_one(&mut reader).is_some() {}
    }

    /// Reads one request and answers it; `None` when the connection ended or broke.
    fn answer_one(&self, reader: &mut BufReader<impl Read + Write>) -> Option<()> {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return None;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        let status = {
            let mut statuses = self.statuses.lock().unwrap();
            if statuses.len() > 1 {
                statuses.remove(0)
            } else {
                statuses[0]
            }
        };
        self.seen.lock().unwrap().push(Received {
            path,
            headers,
            body: String::from_utf8(body).unwrap(),
            at: Instant::now(),
            answered: status,
        });
        std::thread::sleep(*self.delay.lock().unwrap());
        let extra = match status {
            429 => "Retry-After: 0\r\n",
            300..=399 => "Location: https://elsewhere.example/hook\r\n",
            _ => "",
        };
        let stream = reader.get_mut();
        write!(stream, "HTTP/1.1 {status} X\r\n{extra}Content-Length: 0\r\n\r\n").ok()?;
        stream.flush().ok()
    }
}

/// A certificate authority for tests (rcgen), and the server configs of HTTPS receivers.
pub struct TestCa {
    /// The CA's certificate, PEM: what a relay is told to trust (`ca_file`).
    pub pem: String,
    issuer: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "leadgate test CA");
        let issuer = params.self_signed(&key).unwrap();
        TestCa { pem: issuer.pem(), issuer, key }
    }

    /// A server config with a certificate for 127.0.0.1 issued by this CA.
    pub fn server(&self) -> Arc<rustls::ServerConfig> {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = loopback_params().signed_by(&key, &self.issuer, &self.key).unwrap();
        server_config(cert, key)
    }

    /// A server config with a self-signed certificate for 127.0.0.1 (no CA vouches for it).
    pub fn self_signed() -> Arc<rustls::ServerConfig> {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = loopback_params().self_signed(&key).unwrap();
        server_config(cert, key)
    }
}

fn loopback_params() -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![rcgen::SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))];
    params
}

fn server_config(cert: rcgen::Certificate, key: rcgen::KeyPair) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    Arc::new(config)
}
