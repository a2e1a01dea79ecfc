//! Real HTTP clients: hyper's HTTP/1.1 and HTTP/2 (h2c prior knowledge)
//! connections, and raw bytes over TCP where the exact wire matters.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::parser::{Oracle, Parsed};

/// How long a client waits for the next piece of a response before the test
/// fails. Generous: it bounds a hung test, it does not measure speed.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP version of a [`get`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.1.
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (h2c).
    Http2,
}

/// A response being read. Dropping it closes the connection.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers as received.
    pub headers: HeaderMap,
    body: Incoming,
    gunzip: Option<flate2::write::GzDecoder<Vec<u8>>>,
    conn: JoinHandle<()>,
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

/// `GET path` on a new connection.
///
/// # Panics
///
/// On any connection failure, or when the response head takes longer than
/// [`STEP_TIMEOUT`].
pub async fn get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &[u8])],
    version: Version,
) -> Reply {
    let tcp = TcpStream::connect(addr)
        .await
        .expect("connect to the test server");
    tcp.set_nodelay(true).expect("nodelay");
    let io = TokioIo::new(tcp);
    // HTTP/1.1: origin-form target plus Host, as browsers send; HTTP/2: the
    // full URI, which becomes the :authority and :path pseudo-headers.
    let mut request = match version {
        Version::Http1 => Request::get(path).header("host", addr.to_string()),
        Version::Http2 => Request::get(format!("http://{addr}{path}")),
    };
    for (name, value) in headers {
        request = request.header(*name, HeaderValue::from_bytes(value).expect("header value"));
    }
    let request = request.body(Empty::<Bytes>::new()).expect("request");
    let fut = async move {
        match version {
            Version::Http1 => {
                let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
                    .await
                    .expect("HTTP/1.1 handshake");
                let conn = tokio::spawn(async move {
                    let _ = conn.await;
                });
                let response = sender
                    .send_request(request)
                    .await
                    .expect("HTTP/1.1 response");
                (response, conn)
            }
            Version::Http2 => {
                let (mut sender, conn) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                        .await
                        .expect("HTTP/2 handshake");
                let conn = tokio::spawn(async move {
                    let _ = conn.await;
                });
                let response = sender.send_request(request).await.expect("HTTP/2 response");
                (response, conn)
            }
        }
    };
    let (response, conn) = tokio::time::timeout(STEP_TIMEOUT, fut)
        .await
        .expect("response head within the step timeout");
    let (parts, body) = response.into_parts();
    let gunzip = match parts
        .headers
        .get("content-encoding")
        .map(HeaderValue::as_bytes)
    {
        Some(b"gzip") => Some(flate2::write::GzDecoder::new(Vec::new())),
        None | Some(b"identity") => None,
        Some(other) => panic!(
            "unexpected content-encoding {:?}",
            String::from_utf8_lossy(other)
        ),
    };
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
        gunzip,
        conn,
    }
}

impl Reply {
    /// The next piece of the body (decompressed if gzip), `None` at its end.
    /// Pieces that decompress to nothing are skipped.
    ///
    /// # Panics
    ///
    /// When nothing arrives within [`STEP_TIMEOUT`], or the body fails.
    pub async fn chunk(&mut self) -> Option<Bytes> {
        loop {
            let frame = tokio::time::timeout(STEP_TIMEOUT, self.body.frame())
                .await
                .expect("next body frame within the step timeout");
            let Some(frame) = frame else {
                if let Some(gz) = self.gunzip.take() {
                    let rest = gz.finish().expect("gzip stream ends cleanly");
                    if !rest.is_empty() {
                        return Some(Bytes::from(rest));
                    }
                }
                return None;
            };
            let frame = frame.expect("body frame without error");
            let Ok(data) = frame.into_data() else {
                continue;
            };
            match &mut self.gunzip {
                None => return Some(data),
                Some(gz) => {
                    gz.write_all(&data).expect("gzip data");
                    gz.flush().expect("gzip flush");
                    let out = std::mem::take(gz.get_mut());
                    if !out.is_empty() {
                        return Some(Bytes::from(out));
                    }
                }
            }
        }
    }

    /// Whether the body is compressed (and decompressed by [`Reply::chunk`]).
    pub fn is_gzip(&self) -> bool {
        self.gunzip.is_some()
    }

    /// The rest of the body.
    pub async fn bytes(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(chunk) = self.chunk().await {
            all.extend_from_slice(&chunk);
        }
        all
    }

    /// The header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header value"))
    }
}

/// An event stream read through the independent parser ([`Oracle`]).
#[derive(Debug)]
pub struct SseReader {
    /// The response.
    pub reply: Reply,
    parser: Oracle,
    pending: std::collections::VecDeque<Parsed>,
    /// Every body byte received so far.
    pub raw: Vec<u8>,
    ended: bool,
}

impl SseReader {
    /// Reads `reply` through a fresh parser.
    pub fn new(reply: Reply) -> Self {
        Self {
            reply,
            parser: Oracle::new(),
            pending: Default::default(),
            raw: Vec::new(),
            ended: false,
        }
    }

    /// Reads one more piece of the body; `false` at its end.
    async fn read_more(&mut self) -> bool {
        if self.ended {
            return false;
        }
        match self.reply.chunk().await {
            Some(chunk) => {
                self.raw.extend_from_slice(&chunk);
                self.pending.extend(self.parser.feed(&chunk));
            }
            None => {
                self.ended = true;
                self.pending.extend(self.parser.end());
            }
        }
        true
    }

    /// The next parsed item, `None` when the body ended.
    pub async fn next(&mut self) -> Option<Parsed> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if !self.read_more().await {
                return None;
            }
        }
    }

    /// Reads until the raw body received so far contains `needle` (the
    /// parser does not report comments: keep-alives are checked on the
    /// bytes). Parsed items read meanwhile stay queued for [`SseReader::next`].
    ///
    /// # Panics
    ///
    /// When the body ends first, naming what was missing.
    pub async fn read_raw_until(&mut self, needle: &[u8]) {
        while !self.raw.windows(needle.len()).any(|w| w == needle) {
            assert!(
                self.read_more().await,
                "the body ended without {:?}; received: {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&self.raw)
            );
        }
    }

    /// The parser's last event ID buffer ([`Oracle::last_event_id`]).
    pub fn last_event_id(&self) -> &str {
        self.parser.last_event_id()
    }

    /// The next event, skipping retry values; panics on a parser error.
    pub async fn next_event(&mut self) -> Option<Parsed> {
        loop {
            match self.next().await? {
                item @ Parsed::Event { .. } => return Some(item),
                Parsed::Error { message } => {
                    panic!("the parser refused the stream: {message}")
                }
                Parsed::Retry { .. } => {}
            }
        }
    }

    /// Everything until the body ends.
    pub async fn rest(&mut self) -> Vec<Parsed> {
        let mut out = Vec::new();
        while let Some(item) = self.next().await {
            out.push(item);
        }
        out
    }
}

/// A response read as raw bytes from the socket.
#[derive(Debug)]
pub struct RawReply {
    /// Status code from the status line.
    pub status: u16,
    /// The status line and header lines exactly as received, without the
    /// blank line.
    pub head: String,
    /// Bytes received after the head (the body as sent: chunked framing included).
    pub rest: Vec<u8>,
    /// The connection, to read more.
    pub stream: TcpStream,
}

impl RawReply {
    /// Header values, by case-insensitive name.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.head
            .split("\r\n")
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    /// Reads until `needle` appears after the head, or the connection closes.
    pub async fn read_until(&mut self, needle: &[u8]) {
        let mut buf = [0u8; 8192];
        while !self.rest.windows(needle.len()).any(|w| w == needle) {
            let n = tokio::time::timeout(STEP_TIMEOUT, self.stream.read(&mut buf))
                .await
                .expect("raw read within the step timeout")
                .expect("raw read");
            if n == 0 {
                return;
            }
            self.rest.extend_from_slice(&buf[..n]);
        }
    }
}

/// The chunks of an HTTP/1.1 chunked body, as framed on the wire (the
/// terminating empty chunk excluded).
///
/// # Panics
///
/// When the framing is malformed.
pub fn dechunk(mut body: &[u8]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size line");
        let size_text = std::str::from_utf8(&body[..line_end]).expect("ASCII chunk size");
        let size_text = size_text.split(';').next().unwrap_or(size_text).trim();
        let size = usize::from_str_radix(size_text, 16).expect("a hexadecimal chunk size");
        body = &body[line_end + 2..];
        if size == 0 {
            return chunks;
        }
        assert!(body.len() >= size + 2, "a complete chunk of {size} bytes");
        chunks.push(body[..size].to_vec());
        assert_eq!(&body[size..size + 2], b"\r\n", "CR LF after a chunk");
        body = &body[size + 2..];
    }
}

/// Sends `GET path HTTP/1.1` with the given extra header lines, byte for byte,
/// and reads the response head.
pub async fn raw_get(addr: SocketAddr, path: &str, extra_headers: &[u8]) -> RawReply {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to the test server");
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n")
            .into_bytes();
    request.extend_from_slice(extra_headers);
    request.extend_from_slice(b"\r\n");
    stream.write_all(&request).await.expect("raw write");
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    let end = loop {
        if let Some(pos) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = tokio::time::timeout(STEP_TIMEOUT, stream.read(&mut buf))
            .await
            .expect("raw response head within the step timeout")
            .expect("raw read");
        assert!(
            n > 0,
            "connection closed before the response head: {:?}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(received[..end].to_vec()).expect("ASCII response head");
    let rest = received[end + 4..].to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code in the status line");
    RawReply {
        status,
        head,
        rest,
        stream,
    }
}

/// Posts `text` to `/rooms/{room}` on a connection kept alive, and reads
/// one answer (within [`STEP_TIMEOUT`]): its status, or `None` when the
/// server closed the connection instead.
///
/// # Panics
///
/// When neither comes within the step timeout.
pub async fn keep_alive_post(stream: &mut TcpStream, room: &str, text: &str) -> Option<u16> {
    let request = format!(
        "POST /rooms/{room} HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let answer = tokio::time::timeout(STEP_TIMEOUT, async {
        loop {
            let end = received.windows(4).position(|w| w == b"\r\n\r\n");
            if let Some(end) = end {
                let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if received.len() >= end + 4 + length {
                    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
                    received.drain(..end + 4 + length);
                    return status;
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    answer.expect("an answer or a close within the step timeout")
}
