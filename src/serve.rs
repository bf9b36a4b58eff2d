//! The HTTP/1.1 server behind every server kensa runs (the loopback fake Heroku, the
//! `kensa sso` sign-in page): one request per connection, and each connection bounded by
//! one deadline for reading the request and writing the answer, a head and a body limit.
//! A client that stalls (headers sent, body withheld) loses its connection at the
//! deadline; it never holds up another request, nor kensa's exit: connection threads are
//! never waited for, and dropping the [`Server`] stops it at once.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The most a request's head (request line and headers) may take.
pub const HEAD_LIMIT: usize = 64 * 1024;
/// The most connections served at once; more are closed unanswered.
const MAX_CONNECTIONS: usize = 64;

/// One request, read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    /// Names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// An answer: status, headers and body (`Content-Length` and `Connection: close` are
/// added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: &serde_json::Value) -> Response {
        Response::new(status, "application/json", body.to_string())
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What bounds each connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From accepting the connection to the last byte of the answer.
    pub deadline: Duration,
    /// The largest request body read; a larger one is answered 413.
    pub body: usize,
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A server on 127.0.0.1 and a free port, serving until dropped.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Connections being served.
    open: Arc<AtomicUsize>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(
        limits: Limits,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> io::Result<Server> {
        Server::start_at(0, limits, handler)
    }

    /// [`Server::start`] on `port` when it is free, else on a free one.
    pub fn start_at(
        port: u16,
        limits: Limits,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> io::Result<Server> {
        let listener =
            TcpListener::bind(("127.0.0.1", port)).or_else(|_| TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let acceptor = {
            let (stop, open) = (stop.clone(), open.clone());
            thread::Builder::new()
                .name("kensa-serve".into())
                .spawn(move || accept(listener, &stop, &open, limits, handler))?
        };
        Ok(Server {
            addr,
            stop,
            open,
            acceptor: Some(acceptor),
        })
    }

    /// Stops accepting, then gives the connections being served up to `within` to finish
    /// (an answer still being written gets out); returns then, whatever they do.
    pub fn finish(self, within: Duration) {
        let until = Instant::now() + within;
        self.stop.store(true, Ordering::SeqCst);
        while self.open.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor out of accept(): it sees the flag and returns at once.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept(
    listener: TcpListener,
    stop: &AtomicBool,
    open: &Arc<AtomicUsize>,
    limits: Limits,
    handler: Arc<Handler>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        let (count, handler) = (open.clone(), handler.clone());
        // Never joined: a connection ends by its own deadline, whatever the client does.
        let spawned = thread::Builder::new()
            .name("kensa-conn".into())
            .spawn(move || {
                let _ = serve(stream, limits, &*handler);
                count.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A stream whose every read and write must end by the connection's deadline: a client
/// that sends or takes one byte at a time cannot stretch it.
pub struct Deadlined {
    stream: TcpStream,
    until: Instant,
}

impl Deadlined {
    /// `stream`, which must be done with within `within` from now.
    pub fn new(stream: TcpStream, within: Duration) -> Deadlined {
        Deadlined {
            stream,
            until: Instant::now() + within,
        }
    }

    fn left(&self) -> io::Result<Duration> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection's deadline passed",
            ))
        } else {
            Ok(left)
        }
    }
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

impl Write for Deadlined {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.left()?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

fn serve(stream: TcpStream, limits: Limits, handler: &Handler) -> io::Result<()> {
    let until = Instant::now() + limits.deadline;
    let mut writer = Deadlined {
        stream: stream.try_clone()?,
        until,
    };
    let mut reader = BufReader::new(Deadlined { stream, until });
    let response = match read_request(&mut reader, &mut writer, limits.body) {
        Ok(request) => handler(&request),
        Err(Refusal::Status(status, why)) => Response::new(status, "text/plain", why),
        Err(Refusal::Io(e)) => return Err(e),
    };
    write_response(&mut writer, &response)?;
    let _ = writer.stream.shutdown(Shutdown::Both);
    Ok(())
}

enum Refusal {
    /// A malformed or oversized request: answered with this status and reason.
    Status(u16, &'static str),
    /// The connection failed or its deadline passed: nothing more to say.
    Io(io::Error),
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Refusal {
        Refusal::Io(e)
    }
}

/// Reads one request: the head up to [`HEAD_LIMIT`], then a body by `Content-Length` or
/// chunked encoding, up to `body_limit`. Answers `Expect: 100-continue` first.
pub fn read_request_from(
    reader: &mut impl BufRead,
    body_limit: usize,
) -> Result<Request, (u16, &'static str)> {
    read_request(reader, &mut io::sink(), body_limit).map_err(|e| match e {
        Refusal::Status(status, why) => (status, why),
        Refusal::Io(_) => (400, "the request ended early"),
    })
}

fn read_request(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
    body_limit: usize,
) -> Result<Request, Refusal> {
    let mut head_left = HEAD_LIMIT;
    let request_line = read_line(reader, &mut head_left)?;
    let mut words = request_line.split(' ').filter(|w| !w.is_empty());
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next())
    else {
        return Err(Refusal::Status(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(Refusal::Status(505, "only HTTP/1.x is served"));
    }
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut head_left)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(Refusal::Status(400, "malformed header line"));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = match request.header("content-length") {
        None => None,
        Some(v) => Some(
            v.parse::<usize>()
                .map_err(|_| Refusal::Status(400, "malformed Content-Length"))?,
        ),
    };
    if length.is_some_and(|n| n > body_limit) {
        return Err(Refusal::Status(413, "the body is too large"));
    }
    if (chunked || length.is_some_and(|n| n > 0))
        && request
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }
    request.body = if chunked {
        read_chunked(reader, body_limit)?
    } else {
        let mut body = vec![0; length.unwrap_or(0)];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(request)
}

/// One CRLF- (or LF-) terminated line of the head, counted against what is left of it.
fn read_line(reader: &mut impl BufRead, left: &mut usize) -> Result<String, Refusal> {
    let mut line = Vec::new();
    let read = reader.take(*left as u64 + 1).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Err(Refusal::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    if read > *left {
        return Err(Refusal::Status(431, "the request head is too large"));
    }
    if line.last() != Some(&b'\n') {
        return Err(Refusal::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    *left -= read;
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| Refusal::Status(400, "the request head is not UTF-8"))
}

fn read_chunked(reader: &mut impl BufRead, limit: usize) -> Result<Vec<u8>, Refusal> {
    let mut body = Vec::new();
    let mut line_budget = HEAD_LIMIT;
    loop {
        let size_line = read_line(reader, &mut line_budget)?;
        let size = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| Refusal::Status(400, "malformed chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line.
            while !read_line(reader, &mut line_budget)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > limit {
            return Err(Refusal::Status(413, "the body is too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        read_line(reader, &mut line_budget)?;
    }
}

fn write_response(out: &mut impl Write, response: &Response) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    out.write_all(head.as_bytes())?;
    out.write_all(&response.body)?;
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(deadline: Duration) -> Limits {
        Limits {
            deadline,
            body: 1024,
        }
    }

    fn echo(server_deadline: Duration) -> Server {
        Server::start(limits(server_deadline), |req| {
            Response::new(
                200,
                "text/plain",
                format!("{} {} {}", req.method, req.target, req.body.len()),
            )
        })
        .unwrap()
    }

    fn exchange(server: &Server, raw: &[u8]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(raw).unwrap();
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    }

    #[test]
    fn serves_lengths_chunks_and_expect_continue() {
        let server = echo(Duration::from_secs(5));
        let text = exchange(
            &server,
            b"POST /a?b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        );
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.ends_with("POST /a?b 3"), "{text}");
        let text = exchange(
            &server,
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        );
        assert!(text.ends_with("POST / 5"), "{text}");
        let text = exchange(
            &server,
            b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz",
        );
        assert!(
            text.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"),
            "{text}"
        );
    }

    #[test]
    fn refuses_oversized_and_malformed_requests() {
        let server = echo(Duration::from_secs(5));
        let text = exchange(&server, b"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
        assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
        let text = exchange(&server, b"nonsense\r\n\r\n");
        assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
        let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
        huge.extend(vec![b'a'; HEAD_LIMIT + 10]);
        huge.extend(b"\r\n\r\n");
        let text = exchange(&server, &huge);
        assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
    }

    #[test]
    fn a_stalled_client_is_cut_off_and_others_are_served_meanwhile() {
        let server = echo(Duration::from_millis(300));
        let mut stalled = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        stalled
            .write_all(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab")
            .unwrap();
        // Served while the stalled one waits for its body.
        let text = exchange(&server, b"GET /other HTTP/1.1\r\n\r\n");
        assert!(text.ends_with("GET /other 0"), "{text}");
        // The stalled connection is closed by its deadline (read returns 0 bytes).
        stalled
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        assert_eq!(stalled.read_to_end(&mut rest).unwrap(), 0);
    }

    #[test]
    fn finishing_waits_for_an_answer_but_not_past_the_limit() {
        let server = echo(Duration::from_secs(3600));
        let mut stalled = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        stalled.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let started = Instant::now();
        server.finish(Duration::from_millis(200));
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn dropping_the_server_does_not_wait_for_a_stalled_client() {
        let server = echo(Duration::from_secs(3600));
        let mut stalled = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        stalled
            .write_all(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(server);
            done.send(()).unwrap();
        });
        finished
            .recv_timeout(Duration::from_secs(5))
            .expect("drop returned although a client stalls");
    }
}
