//! Starts a demo binary with its stderr captured, talks raw HTTP/1.1 to it
//! over loopback TCP, and at the end checks that it still serves and never
//! logged a panic.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest any one exchange may take.
pub(crate) const EXCHANGE_BOUND: Duration = Duration::from_secs(20);

/// A running demo binary; killed on drop.
pub(crate) struct Server {
    pub(crate) name: &'static str,
    pub(crate) addr: SocketAddr,
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts `binary --addr 127.0.0.1:0` and reads the address it announces.
    pub(crate) fn start(name: &'static str, binary: &str) -> Self {
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut buf) {
                sink.lock()
                    .expect("stderr lock")
                    .extend_from_slice(&buf[..n]);
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining, so the server never blocks on a full pipe.
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{name} announced its address within 20 s"));
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|rest| rest.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("{name} announced an address: {line:?}"));
        Self {
            name,
            addr,
            child,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    /// Checks that the server still answers an ordinary request in full,
    /// stops it, and fails when its stderr shows a panic.
    pub(crate) fn finish(mut self) {
        let reply = exchange(self.addr, &get("/format?interval_ms=1", &[]));
        assert_eq!(
            reply.status, 200,
            "{}: still serving after the scenario",
            self.name
        );
        assert!(
            reply.text().ends_with("data: This is some new data\n\n"),
            "{}: a complete answer after the scenario: {:?}",
            self.name,
            reply.text()
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        let stderr =
            String::from_utf8_lossy(&self.stderr.lock().expect("stderr lock")).into_owned();
        assert!(
            !stderr.contains("panicked"),
            "{}: the server panicked:\n{stderr}",
            self.name
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `GET` request for `target` that closes the connection after the answer.
pub(crate) fn get(target: &str, headers: &[(&str, &[u8])]) -> Vec<u8> {
    request("GET", target, headers, b"")
}

/// A request with `Host`, `Connection: close`, the given headers and body.
pub(crate) fn request(
    method: &str,
    target: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Vec<u8> {
    let mut bytes =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")
            .into_bytes();
    for (name, value) in headers {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

/// One parsed HTTP/1.1 response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The value of header `name` (lower case), if sent once or more.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Connects with the exchange bound as read and write timeouts.
pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the demo");
    stream
        .set_read_timeout(Some(EXCHANGE_BOUND))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(EXCHANGE_BOUND))
        .expect("write timeout");
    stream
}

/// Sends `request` (write errors are ignored: a server may refuse and close
/// before it has read everything) and reads until the server closes the
/// connection; a reset after some bytes counts as the end.
pub(crate) fn exchange_raw(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    let _ = stream.write_all(request);
    let _ = stream.flush();
    read_to_close(&mut stream)
}

/// Reads until the peer closes (or resets) the connection, at most
/// [`EXCHANGE_BOUND`] in all.
pub(crate) fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let start = Instant::now();
    let mut bytes = Vec::new();
    let mut buf = [0; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset && !bytes.is_empty() => {
                break;
            }
            Err(err) => panic!("reading the answer: {err} (after {} bytes)", bytes.len()),
        }
        assert!(
            start.elapsed() < EXCHANGE_BOUND,
            "the answer ended within the bound"
        );
    }
    bytes
}

/// Sends `request` and parses the one answer it gets.
pub(crate) fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let bytes = exchange_raw(addr, request);
    let (reply, rest) = parse(&bytes, false).unwrap_or_else(|| {
        panic!(
            "a complete HTTP/1.1 answer: {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    assert!(
        rest.is_empty(),
        "nothing after the answer: {:?}",
        String::from_utf8_lossy(rest)
    );
    reply
}

/// Reads from `stream` until `done` holds for the bytes so far.
pub(crate) fn read_until(stream: &mut TcpStream, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let start = Instant::now();
    let mut bytes = Vec::new();
    let mut buf = [0; 4096];
    while !done(&bytes) {
        let n = stream.read(&mut buf).expect("more of the answer");
        assert!(
            n > 0,
            "the server closed early: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.extend_from_slice(&buf[..n]);
        assert!(
            start.elapsed() < EXCHANGE_BOUND,
            "the answer came within the bound"
        );
    }
    bytes
}

/// Where the head of an answer ends (after the blank line).
pub(crate) fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// The status line and headers of an answer.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    /// Where the body starts.
    pub(crate) end: usize,
}

/// Parses the status line and headers of `bytes`.
pub(crate) fn parse_head(bytes: &[u8]) -> Option<Head> {
    let end = head_end(bytes)?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let headers = lines
        .filter(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Head {
        status,
        headers,
        end,
    })
}

/// Parses one answer off the front of `bytes`: its body framed by
/// `Content-Length`, chunked encoding, or the end of the connection. With
/// `head_request`, the answer has no body whatever its headers say.
pub(crate) fn parse(bytes: &[u8], head_request: bool) -> Option<(Reply, &[u8])> {
    let Head {
        status,
        headers,
        end,
    } = parse_head(bytes)?;
    let rest = &bytes[end..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let (body, rest) = if head_request {
        (Vec::new(), rest)
    } else if find("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        let mut rest = rest;
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[line_end + 2..];
            if size == 0 {
                let trailer_end = rest.windows(2).position(|w| w == b"\r\n")?;
                break (body, &rest[trailer_end + 2..]);
            }
            body.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
    } else if let Some(length) = find("content-length") {
        let length: usize = length.parse().ok()?;
        (rest.get(..length)?.to_vec(), &rest[length..])
    } else {
        (rest.to_vec(), &rest[rest.len()..])
    };
    Some((
        Reply {
            status,
            headers,
            body,
        },
        rest,
    ))
}

/// Sends `bytes` one at a time, `gap` apart.
pub(crate) fn trickle(stream: &mut TcpStream, bytes: &[u8], gap: Duration) {
    for byte in bytes {
        stream.write_all(&[*byte]).expect("send one byte");
        std::thread::sleep(gap);
    }
}
