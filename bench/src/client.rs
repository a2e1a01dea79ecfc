//! The load client's HTTP/1.1 and SSE reading: raw TCP, no framework.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use memchr::memchr;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// One event as the load client sees it.
#[derive(Debug)]
pub struct Seen {
    /// The `id` field, if any.
    pub id: Option<u64>,
    /// Bytes of data, lines joined with `\n`.
    pub data_len: usize,
    head: [u8; HEAD],
    head_len: usize,
}

/// How many bytes of an event's data [`Seen::head`] keeps.
const HEAD: usize = 64;

impl Default for Seen {
    fn default() -> Self {
        Self {
            id: None,
            data_len: 0,
            head: [0; HEAD],
            head_len: 0,
        }
    }
}

impl Seen {
    /// The first bytes of the data (up to 64).
    #[must_use]
    pub fn head(&self) -> &[u8] {
        &self.head[..self.head_len]
    }

    fn keep(&mut self, bytes: &[u8]) {
        let take = bytes.len().min(HEAD - self.head_len);
        self.head[self.head_len..self.head_len + take].copy_from_slice(&bytes[..take]);
        self.head_len += take;
    }
}

/// An incremental event-stream parser: lines split at `\n` (a `\r` before it
/// is dropped), fields `id` and `data`, comments ignored, a blank line
/// dispatches.
///
/// Written for speed, as the load client must read faster than the fastest
/// server writes: line ends are found sixteen bytes at a time,
/// an event allocates nothing, and numbers are read from the bytes.
#[derive(Debug, Default)]
pub struct SseParser {
    partial: Vec<u8>,
    current: Seen,
    has_data: bool,
}

impl SseParser {
    #[inline]
    fn line(&mut self, line: &[u8], out: &mut impl FnMut(Seen)) {
        let line = match line.split_last() {
            Some((b'\r', rest)) => rest,
            _ => line,
        };
        // The common line first, without looking for the colon.
        if line.len() >= 6 && line[..6] == *b"data: " {
            self.data(&line[6..]);
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
            b"id" => self.current.id = decimal(value),
            _ => {}
        }
    }

    #[inline]
    fn data(&mut self, value: &[u8]) {
        if self.has_data {
            self.current.data_len += 1;
            if self.current.head_len < HEAD {
                self.current.keep(b"\n");
            }
        }
        self.has_data = true;
        self.current.data_len += value.len();
        if self.current.head_len < HEAD {
            self.current.keep(value);
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
        for end in Newlines::new(data) {
            self.line(&data[start..end], out);
            start = end + 1;
        }
        self.partial.extend_from_slice(&data[start..]);
    }
}

/// A chunk-size line's size: hex digits, then optional whitespace, `\r`
/// or `;extensions`.
fn chunk_size(line: &[u8]) -> Option<usize> {
    let end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    if end == 0 || end > 15 {
        return None;
    }
    let rest = &line[end..];
    if !matches!(rest.first(), None | Some(b'\r' | b';' | b' ' | b'\t')) {
        return None;
    }
    line[..end].iter().try_fold(0usize, |n, &b| {
        let digit = char::from(b).to_digit(16)?;
        n.checked_mul(16)?.checked_add(digit as usize)
    })
}

/// A decimal `u64`; `None` when empty, not all digits or too large.
fn decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// The positions of `\n` in a buffer, found a word (sixteen bytes) at a time:
/// for lines of a few bytes this is several times cheaper than a `memchr`
/// call per line, whose set-up costs more than the scan. After
/// [`Newlines::WORDS_BEFORE_MEMCHR`] words without one, `memchr` skips the
/// rest of a long line.
struct Newlines<'a> {
    data: &'a [u8],
    /// Where the next word starts.
    next_at: usize,
    /// Where the word of `mask` starts.
    base: usize,
    /// The `\n` bytes of that word not yet given, as [`newline_mask`] marks them.
    mask: u128,
}

impl<'a> Newlines<'a> {
    const WORDS_BEFORE_MEMCHR: usize = 2;

    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            next_at: 0,
            base: 0,
            mask: 0,
        }
    }

    /// The word at `at`, padded with zeros (never `\n`) past the end.
    #[inline]
    fn word(&self, at: usize) -> u128 {
        if let Some(word) = self
            .data
            .get(at..at + WORD)
            .and_then(|w| <[u8; WORD]>::try_from(w).ok())
        {
            return u128::from_le_bytes(word);
        }
        let mut bytes = [0u8; WORD];
        let rest = self.data.get(at..).unwrap_or_default();
        bytes[..rest.len()].copy_from_slice(rest);
        u128::from_le_bytes(bytes)
    }
}

/// Bytes per word of [`Newlines`].
const WORD: usize = 16;

/// The high bit of each byte of `word` that is `\n`, and no other bit.
#[inline]
fn newline_mask(word: u128) -> u128 {
    const LOW7: u128 = u128::from_ne_bytes([0x7f; WORD]);
    let x = word ^ u128::from_ne_bytes([b'\n'; WORD]);
    // A byte's high bit ends set exactly when that byte of `x` is zero:
    // adding 0x7f to its low seven bits sets the high bit unless they are
    // all zero, and `| x` catches a set high bit of `x` itself.
    !(((x & LOW7) + LOW7) | x | LOW7)
}

impl Iterator for Newlines<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        let mut empty = 0;
        loop {
            if self.mask != 0 {
                let at = self.base + (self.mask.trailing_zeros() / 8) as usize;
                self.mask &= self.mask - 1;
                return Some(at);
            }
            if self.next_at >= self.data.len() {
                return None;
            }
            if empty == Self::WORDS_BEFORE_MEMCHR {
                // A long line: skip to its end at memchr's speed.
                let at = self.next_at;
                self.next_at = self.data.len();
                let end = at + memchr(b'\n', &self.data[at..])?;
                self.next_at = end;
            }
            self.base = self.next_at;
            self.mask = newline_mask(self.word(self.next_at));
            self.next_at += WORD;
            empty += 1;
        }
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
                        let size =
                            chunk_size(line).ok_or_else(|| io::Error::other("bad chunk size"))?;
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
    use memchr::memchr_iter;

    fn parse_split(input: &[u8], at: usize) -> Vec<(Option<u64>, usize, Vec<u8>)> {
        let mut parser = SseParser::default();
        let mut seen = Vec::new();
        let mut out = |s: Seen| seen.push((s.id, s.data_len, s.head().to_vec()));
        parser.feed(&input[..at], &mut out);
        parser.feed(&input[at..], &mut out);
        seen
    }

    #[test]
    fn newlines_are_found_at_every_position() {
        for len in 0..100 {
            for first in 0..len {
                for second in [None, Some(first + 1), Some(len - 1)] {
                    let mut data = vec![b'x'; len];
                    data[first] = b'\n';
                    if let Some(at) = second.filter(|&at| at < len && at != first) {
                        data[at] = b'\n';
                    }
                    // Bytes that differ from `\n` in one bit only.
                    for (i, b) in data.iter_mut().enumerate() {
                        if *b != b'\n' {
                            *b = [b'\x0b', b'\x08', b'\x8a', b'\x0e', b'\x00'][i % 5];
                        }
                    }
                    let expected: Vec<usize> = memchr_iter(b'\n', &data).collect();
                    assert_eq!(Newlines::new(&data).collect::<Vec<_>>(), expected);
                }
            }
        }
    }

    #[test]
    fn chunk_sizes_and_ids() {
        assert_eq!(chunk_size(b"1a\r"), Some(26));
        assert_eq!(chunk_size(b"FFFF;ext=1\r"), Some(0xffff));
        assert_eq!(chunk_size(b"0"), Some(0));
        assert_eq!(chunk_size(b"\r"), None);
        assert_eq!(chunk_size(b"1g\r"), None);
        assert_eq!(chunk_size(b"ffffffffffffffff\r"), None);
        assert_eq!(decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(decimal(b"18446744073709551616"), None);
        assert_eq!(decimal(b"-1"), None);
        assert_eq!(decimal(b""), None);
    }

    #[test]
    fn parses_at_every_split() {
        let input = b"id: 1\ndata: abc\n\n:\nid: 2\r\ndata: a\ndata: \ndata:b\n\n";
        for at in 0..input.len() {
            assert_eq!(
                parse_split(input, at),
                vec![
                    (Some(1), 3, b"abc".to_vec()),
                    (Some(2), 4, b"a\n\nb".to_vec())
                ],
                "split at {at}"
            );
        }
        // A head keeps the first 64 bytes of the data, newlines included.
        let long = format!("data: {}\ndata: {}\n\n", "a".repeat(40), "b".repeat(40));
        let seen = parse_split(long.as_bytes(), 50);
        let head = format!("{}\n{}", "a".repeat(40), "b".repeat(23));
        assert_eq!(seen, vec![(None, 81, head.into_bytes())]);
    }
}
