//! A lead receiver whose faults the test controls, on its own 127.0.0.1 port (so it can be
//! down while the landing page is up): it answers scripted statuses, or forwards to the relay,
//! which stores the lead. Every POST it sees is recorded.

use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One POST the receiver saw.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// When, since the receiver was created.
    pub at: Duration,
    /// The `Idempotency-Key` header, if any.
    pub key: Option<String>,
    /// The request line's path (beacons carry `?idempotency_key=`).
    pub path: String,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct Shared {
    script: VecDeque<(u16, Option<u64>)>,
    always: Option<u16>,
    attempts: Vec<Attempt>,
}

/// The receiver. Its endpoint is `url()/v1/leads`.
pub struct Receiver {
    port: u16,
    relay: Arc<Mutex<String>>,
    shared: Arc<Mutex<Shared>>,
    born: Instant,
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Receiver {
    /// A receiver, up; [`Receiver::forward_to`] names the relay behind it.
    pub fn start() -> Receiver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut receiver = Receiver {
            port,
            relay: Arc::default(),
            shared: Arc::default(),
            born: Instant::now(),
            running: None,
        };
        receiver.up();
        receiver
    }

    /// Forwards the leads it accepts to the relay at `url`.
    pub fn forward_to(&self, url: &str) {
        *self.relay.lock().unwrap() = url.to_string();
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT/v1/leads`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/v1/leads", self.port)
    }

    /// Answers these statuses (with an optional `Retry-After`) to the next POSTs, in order,
    /// before forwarding again.
    pub fn fail_next(&self, statuses: &[(u16, Option<u64>)]) {
        self.shared.lock().unwrap().script.extend(statuses.iter().copied());
    }

    /// Answers `status` to every POST from now on.
    pub fn always_answer(&self, status: u16) {
        self.shared.lock().unwrap().always = Some(status);
    }

    /// Every POST so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.shared.lock().unwrap().attempts.clone()
    }

    /// Stops listening: connections are refused, as with a server that is down.
    pub fn down(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            thread.join().unwrap();
        }
    }

    /// Listens again, on the same port.
    pub fn up(&mut self) {
        if self.running.is_some() {
            return;
        }
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, shared, relay, born) =
            (stop.clone(), self.shared.clone(), self.relay.clone(), self.born);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let shared = shared.clone();
                        let relay = relay.lock().unwrap().clone();
                        std::thread::spawn(move || handle(stream, &shared, &relay, born));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        self.running = Some((stop, thread));
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.down();
    }
}

fn handle(stream: TcpStream, shared: &Mutex<Shared>, relay: &str, born: Instant) {
    let Some((mut reader, request_line)) = super::read_request_line(&stream) else { return };
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let (mut length, mut origin, mut key, mut content_type) = (0, None, None, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_string();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "origin" => origin = Some(value),
                "idempotency-key" => key = Some(value),
                "content-type" => content_type = Some(value),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let (status, retry_after, answer) = if method == "OPTIONS" {
        (204, None, String::new())
    } else if path.starts_with("/v1/events") {
        // The widget's funnel beacons: passed on, not lead attempts.
        forward(&format!("{relay}/v1/events"), &body, None, content_type.as_deref())
    } else {
        let scripted = {
            let mut s = shared.lock().unwrap();
            s.script.pop_front().or(s.always.map(|status| (status, None)))
        };
        let (status, retry_after, answer) = match scripted {
            Some((status, retry_after)) => (status, retry_after, "{\"error\":\"scripted\"}".into()),
            // To the relay's intake whatever the path (`/v1/nurture` too), with the query as
            // sent: a beacon's `?idempotency_key=` goes on, and the relay takes `text/plain`
            // only with it.
            None => {
                let query = path.find('?').map_or("", |at| &path[at..]);
                let url = format!("{relay}/v1/leads{query}");
                forward(&url, &body, key.as_deref(), content_type.as_deref())
            }
        };
        shared.lock().unwrap().attempts.push(Attempt { at: born.elapsed(), key, path, status });
        (status, retry_after, answer)
    };
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Access-Control-Allow-Methods: POST, OPTIONS\r\n\
         Access-Control-Allow-Headers: content-type, idempotency-key\r\n\
         Access-Control-Expose-Headers: Retry-After\r\nConnection: close\r\n",
        answer.len()
    );
    if let Some(origin) = origin {
        head += &format!("Access-Control-Allow-Origin: {origin}\r\n");
    }
    if let Some(seconds) = retry_after {
        head += &format!("Retry-After: {seconds}\r\n");
    }
    let mut stream = stream;
    let _ = stream.write_all((head + "\r\n" + &answer).as_bytes());
}

fn forward(
    url: &str,
    body: &[u8],
    key: Option<&str>,
    content_type: Option<&str>,
) -> (u16, Option<u64>, String) {
    let mut request =
        ureq::post(url).set("Content-Type", content_type.unwrap_or("application/json"));
    if let Some(key) = key {
        request = request.set("Idempotency-Key", key);
    }
    match request.send_bytes(body) {
        Ok(r) => (r.status(), None, r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(status, r)) => (status, None, r.into_string().unwrap_or_default()),
        Err(e) => (502, None, format!("{{\"error\":\"{e}\"}}")),
    }
}
