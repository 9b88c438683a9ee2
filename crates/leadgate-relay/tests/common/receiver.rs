//! A webhook receiver on 127.0.0.1: answers each request with the next scripted status (the
//! last one repeats), records what came, and checks the Standard Webhooks headers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use leadgate_relay::WebhookSecret;
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
}

impl Receiver {
    /// Starts a receiver answering `statuses` in turn (the last one for ever).
    pub fn start(statuses: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let receiver = Receiver {
            url,
            statuses: Arc::new(Mutex::new(statuses.to_vec())),
            seen: Arc::new(Mutex::new(Vec::new())),
        };
        let me = receiver.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let me = me.clone();
                std::thread::spawn(move || me.handle(stream));
            }
        });
        receiver
    }

    /// From now on, answer `statuses`.
    pub fn answer(&self, statuses: &[u16]) {
        *self.statuses.lock().unwrap() = statuses.to_vec();
    }

    /// Everything received so far.
    pub fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    fn handle(&self, mut stream: std::net::TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
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
        reader.read_exact(&mut body).unwrap();
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
        let extra = if status == 429 { "Retry-After: 0\r\n" } else { "" };
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
}
