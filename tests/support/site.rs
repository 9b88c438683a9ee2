//! A customer's web server on its own 127.0.0.1 port: it serves the landing pages a test puts
//! there, each with the `Content-Security-Policy` the test chooses (a nonce, Trusted Types, no
//! `'wasm-unsafe-eval'`), and, when asked, a copy of the built widget. Its origin differs from
//! the relay's, so leads cross origins as on a real site (the relay must allow [`Site::origin`]).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One file: content type, CSP header (if any), body.
type File = (&'static str, Option<String>, Vec<u8>);

/// The server; it stops when dropped.
pub struct Site {
    port: u16,
    files: Arc<Mutex<HashMap<String, File>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Site {
    /// A site with no files yet, listening.
    pub fn start() -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let files: Arc<Mutex<HashMap<String, File>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, flag) = (files.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let files = shared.clone();
                        std::thread::spawn(move || answer(stream, &files));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Site { port, files, stop, thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The same server as `http://localhost:PORT`: another origin than the relay's
    /// `http://127.0.0.1:...`, like a landing page and a CDN on different hosts.
    pub fn localhost_origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// Serves `html` at `/name`, with `csp` as its `Content-Security-Policy` header.
    pub fn page(&self, name: &str, csp: Option<&str>, html: String) {
        self.put(name, ("text/html; charset=utf-8", csp.map(String::from), html.into_bytes()));
    }

    /// Serves a script at `/name`.
    pub fn script(&self, name: &str, js: &str) {
        self.put(name, ("text/javascript", None, js.as_bytes().to_vec()));
    }

    /// Serves a copy of the built widget: `/leadgate.js` and `/leadgate_bg.wasm`.
    pub fn widget(&self) {
        let dist = super::dist_dir();
        for (name, content_type) in
            [("leadgate.js", "text/javascript"), ("leadgate_bg.wasm", "application/wasm")]
        {
            self.put(name, (content_type, None, std::fs::read(dist.join(name)).unwrap()));
        }
    }

    fn put(&self, name: &str, file: File) {
        self.files.lock().unwrap().insert(format!("/{name}"), file);
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(stream: TcpStream, files: &Mutex<HashMap<String, File>>) {
    let Some((mut reader, request_line)) = super::read_request_line(&stream) else { return };
    // The headers are not needed; read them so the browser sees a complete exchange.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let found = files.lock().unwrap().get(path).cloned();
    let (status, content_type, csp, body) = match found {
        Some((content_type, csp, body)) => ("200 OK", content_type, csp, body),
        None => ("404 Not Found", "text/plain", None, b"not found".to_vec()),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(csp) = csp {
        head += &format!("Content-Security-Policy: {csp}\r\n");
    }
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(b"\r\n");
    let _ = stream.write_all(&body);
}
