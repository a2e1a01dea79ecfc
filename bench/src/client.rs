//! The load client's HTTP/1.1 and SSE reading: raw TCP, no framework.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use memchr::{memchr, memchr_iter};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// One event as the load client sees it.
#[derive(Debug, Default)]
pub struct Seen {
    /// The `id` field, if any.
    pub id: Option<u64>,
    /// Bytes of data, lines joined with `\n`.
    pub data_len: usize,
    /// The first bytes of the data (up to 64).
    pub head: Vec<u8>,
}

/// An incremental event-stream parser: lines split at `\n` (a `\r` before it
/// is dropped), fields `id` and `data`, comments ignored, a blank line
/// dispatches.
#[derive(Debug, Default)]
pub struct SseParser {
    partial: Vec<u8>,
    current: Seen,
    has_data: bool,
}

impl SseParser {
    fn line(&mut self, line: &[u8], out: &mut impl FnMut(Seen)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // The common line first, without looking for the colon.
        if let Some(value) = line.strip_prefix(b"data: ") {
            self.data(value);
            return;
        }
        if line.is_empty() {
            if self.has_data || self.current.id.is_some() {
                out(std::mem::take(&mut self.current));
            }
            self.has_data = false;
            return;
        }
        let (name, value) = match memchr(b':', line) {
            Some(0) => return,
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => self.data(value),
            b"id" => {
                self.current.id = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            _ => {}
        }
    }

    fn data(&mut self, value: &[u8]) {
        if self.has_data {
            self.current.data_len += 1;
            if self.current.head.len() < 64 {
                self.current.head.push(b'\n');
            }
        }
        self.has_data = true;
        self.current.data_len += value.len();
        let room = 64usize.saturating_sub(self.current.head.len());
        if room > 0 {
            self.current
                .head
                .extend_from_slice(&value[..value.len().min(room)]);
        }
    }

    /// Feeds body bytes; calls `out` for every complete event.
    pub fn feed(&mut self, mut data: &[u8], out: &mut impl FnMut(Seen)) {
        if !self.partial.is_empty() {
            match memchr(b'\n', data) {
                None => {
                    self.partial.extend_from_slice(data);
                    return;
                }
                Some(i) => {
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(&data[..i]);
                    self.line(&line, out);
                    line.clear();
                    self.partial = line;
                    data = &data[i + 1..];
                }
            }
        }
        let mut start = 0;
        for end in memchr_iter(b'\n', data) {
            self.line(&data[start..end], out);
            start = end + 1;
        }
        self.partial.extend_from_slice(&data[start..]);
    }
}

/// Where the chunked decoder stands.
#[derive(Debug)]
enum Chunked {
    Size(Vec<u8>),
    Data(usize),
    DataEnd(usize),
    Done,
}

/// A response body being read: chunked or until end of stream.
#[derive(Debug)]
pub struct Response {
    stream: TcpStream,
    buf: Vec<u8>,
    chunked: Option<Chunked>,
    /// Body bytes still to come, for a `Content-Length` body.
    length: Option<usize>,
    /// The status code.
    pub status: u16,
    leftover: Vec<u8>,
}

/// The read buffer of [`request`]: one stream's throughput is measured with
/// reads this large.
pub const STREAM_READ: usize = 256 * 1024;

/// Connects and sends a request with no body; the body is read in
/// [`STREAM_READ`] bytes at a time.
///
/// # Errors
///
/// I/O errors, or a response head that is not HTTP/1.1.
pub async fn request(addr: SocketAddr, method: &str, path: &str) -> io::Result<Response> {
    request_with(addr, method, path, STREAM_READ).await
}

/// [`request`] with a read buffer of `read_buffer` bytes: thousands of
/// fan-out or idle subscribers each take a small one (a 256 KiB buffer per
/// connection is an mmap and munmap each, which slowed opening 5 000).
///
/// # Errors
///
/// As [`request`].
pub async fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    read_buffer: usize,
) -> io::Result<Response> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut buf = vec![0u8; read_buffer.max(1024)];
    let mut head = Vec::new();
    let end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "no response head",
            ));
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > 64 * 1024 {
            return Err(io::Error::other("response head too long"));
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other("bad status line"))?;
    let chunked = text.contains("transfer-encoding: chunked");
    let length = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    Ok(Response {
        stream,
        buf,
        chunked: chunked.then(|| Chunked::Size(Vec::new())),
        length: if chunked { None } else { length },
        status,
        leftover: head[end..].to_vec(),
    })
}

impl Response {
    /// Reads the next body bytes into `out`; `false` at the end of the body.
    ///
    /// # Errors
    ///
    /// I/O errors and malformed chunked framing.
    pub async fn next(&mut self, out: &mut impl FnMut(&[u8])) -> io::Result<bool> {
        if self.length == Some(0) {
            return Ok(false);
        }
        let n = if self.leftover.is_empty() {
            if matches!(self.chunked, Some(Chunked::Done)) {
                return Ok(false);
            }
            let n = self.stream.read(&mut self.buf).await?;
            if n == 0 {
                return match self.chunked {
                    None => Ok(false),
                    Some(_) => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "end of stream inside a chunked body",
                    )),
                };
            }
            n
        } else {
            let leftover = std::mem::take(&mut self.leftover);
            let n = leftover.len().min(self.buf.len());
            self.buf[..n].copy_from_slice(&leftover[..n]);
            self.leftover = leftover[n..].to_vec();
            n
        };
        let Some(state) = self.chunked.as_mut() else {
            if let Some(left) = self.length.as_mut() {
                let take = (*left).min(n);
                out(&self.buf[..take]);
                *left -= take;
                return Ok(*left > 0);
            }
            out(&self.buf[..n]);
            return Ok(true);
        };
        let mut data = &self.buf[..n];
        while !data.is_empty() {
            match state {
                Chunked::Size(line) => match memchr(b'\n', data) {
                    None => {
                        line.extend_from_slice(data);
                        data = &[];
                    }
                    Some(i) => {
                        line.extend_from_slice(&data[..i]);
                        data = &data[i + 1..];
                        let text = String::from_utf8_lossy(line);
                        let hex = text.trim().split(';').next().unwrap_or("");
                        let size = usize::from_str_radix(hex, 16)
                            .map_err(|_| io::Error::other("bad chunk size"))?;
                        *state = if size == 0 {
                            Chunked::Done
                        } else {
                            Chunked::Data(size)
                        };
                    }
                },
                Chunked::Data(left) => {
                    let take = (*left).min(data.len());
                    out(&data[..take]);
                    data = &data[take..];
                    *left -= take;
                    if *left == 0 {
                        *state = Chunked::DataEnd(2);
                    }
                }
                Chunked::DataEnd(left) => {
                    let take = (*left).min(data.len());
                    data = &data[take..];
                    *left -= take;
                    if *left == 0 {
                        *state = Chunked::Size(Vec::new());
                    }
                }
                Chunked::Done => data = &[],
            }
        }
        Ok(!matches!(self.chunked, Some(Chunked::Done)))
    }

    /// Closes the connection with a FIN, as a client that leaves cleanly
    /// does: bytes that have arrived are read first (closing a socket with
    /// unread bytes sends a reset, which every server notices at once).
    pub fn close(self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.stream.try_read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        drop(self);
    }

    /// The whole body, for short responses.
    ///
    /// # Errors
    ///
    /// As [`Response::next`].
    pub async fn body(mut self) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        while self.next(&mut |b| all.extend_from_slice(b)).await? {}
        Ok(all)
    }
}

/// `GET /bench/subscribers`, parsed.
///
/// # Errors
///
/// I/O errors and a body that is not a number.
pub async fn subscribers(addr: SocketAddr) -> io::Result<usize> {
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        request(addr, "GET", "/bench/subscribers"),
    )
    .await
    .map_err(|_| io::Error::other("timeout"))??;
    let body = tokio::time::timeout(Duration::from_secs(5), response.body())
        .await
        .map_err(|_| io::Error::other("timeout"))??;
    String::from_utf8_lossy(&body)
        .trim()
        .parse()
        .map_err(|_| io::Error::other("subscribers: not a number"))
}

/// Now, in nanoseconds since the Unix epoch.
#[must_use]
pub fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_split(input: &[u8], at: usize) -> Vec<(Option<u64>, usize)> {
        let mut parser = SseParser::default();
        let mut seen = Vec::new();
        let mut out = |s: Seen| seen.push((s.id, s.data_len));
        parser.feed(&input[..at], &mut out);
        parser.feed(&input[at..], &mut out);
        seen
    }

    #[test]
    fn parses_at_every_split() {
        let input = b"id: 1\ndata: abc\n\n:\nid: 2\r\ndata: a\ndata: \ndata:b\n\n";
        for at in 0..input.len() {
            assert_eq!(
                parse_split(input, at),
                vec![(Some(1), 3), (Some(2), 4)],
                "split at {at}"
            );
        }
    }
}
