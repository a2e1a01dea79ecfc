//! `cargo xtask bench`: servers that implement `shared/BENCH-CONTRACT.md` for
//! each framework, in three flavours, and the load client that drives them.
//!
//! Each framework has one server binary (`bench-axum`, `bench-warp`,
//! `bench-poem`, `bench-actix-web`) run as `bench-axum <flavour> <addr>`:
//!
//! - `builtin`: the framework's own SSE types (`axum::response::sse`,
//!   `warp::sse`, `poem::web::sse`, `actix_web_lab::sse`), and for the hub
//!   routes `tokio::sync::broadcast` with a `BroadcastStream` per subscriber;
//! - `ssekit`: ssekit through the framework's adapter, and for the hub
//!   routes `ssekit::Hub` (one topic, [`HUB_TOPIC`]);
//! - `limit`: `/bench/stream` only, the same bytes formatted in advance in
//!   64 KiB chunks and written through the framework's plain streaming body,
//!   with no SSE type: what the framework's body machinery can do at best.
//!
//! `/bench/stream` also takes `lines=L` (not in the contract): the data is
//! then lines of `L - 1` bytes and a `\n`, still `size` bytes in all.
//!
//! The shared pieces (query parsing, payloads, the hub) are here; the
//! framework code is in each binary.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::broadcast;

/// The flavours each server binary can serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// The framework's built-in SSE.
    Builtin,
    /// ssekit through the framework's adapter.
    Ssekit,
    /// Pre-formatted bytes, no SSE type.
    Limit,
}

impl Flavour {
    /// Parses `builtin`, `ssekit` or `limit`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "builtin" => Some(Self::Builtin),
            "ssekit" => Some(Self::Ssekit),
            "limit" => Some(Self::Limit),
            _ => None,
        }
    }
}

/// The command line of a server binary: `<flavour> <addr>`.
///
/// # Errors
///
/// A usage message when the arguments are missing or wrong.
pub fn server_args() -> Result<(Flavour, std::net::SocketAddr), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || "usage: bench-<framework> builtin|ssekit|limit 127.0.0.1:0".to_owned();
    let flavour = args
        .first()
        .and_then(|f| Flavour::parse(f))
        .ok_or_else(usage)?;
    let addr = args.get(1).and_then(|a| a.parse().ok()).ok_or_else(usage)?;
    Ok((flavour, addr))
}

/// Turns Nagle's algorithm off for the built-in flavour too when set to
/// `all` (an experiment; see [`bind`]).
pub const NODELAY_ENV: &str = "SSEKIT_BENCH_NODELAY";

/// The server's listening socket on `addr`, its accepted connections with
/// Nagle's algorithm off (`TCP_NODELAY`, inherited from the listening
/// socket) for `ssekit` and `limit`: ssekit's adapters set it on actix-web
/// and poem (their connection hooks) and its docs tell axum and warp users
/// to, and the limit is the same server with pre-formatted bytes. The
/// built-in flavour runs as the framework comes (Nagle on), unless
/// [`NODELAY_ENV`] is `all`.
///
/// # Errors
///
/// Creating, binding or listening on the socket.
pub fn bind(
    addr: std::net::SocketAddr,
    flavour: Flavour,
) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    let all = std::env::var(NODELAY_ENV).is_ok_and(|v| v == "all");
    socket.set_nodelay(flavour != Flavour::Builtin || all)?;
    // As `tokio::net::TcpListener::bind` (mio) does on Unix, with the
    // backlog it and `std::net::TcpListener::bind` use.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

/// Announces the bound address, as the contract asks, on the first line.
pub fn announce(addr: std::net::SocketAddr) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// The most events one `/bench/stream` may ask for.
pub const MAX_EVENTS: u64 = 10_000_000;
/// The largest `size` one `/bench/stream` or `/bench/publish` may ask for.
pub const MAX_SIZE: usize = 1 << 20;

/// The parameters of `/bench/stream`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamParams {
    /// Events.
    pub n: u64,
    /// Bytes of data per event.
    pub size: usize,
    /// Bytes per data line including its `\n` (0: one line).
    pub lines: usize,
}

fn query_map(query: Option<&str>) -> HashMap<&str, &str> {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .collect()
}

/// The parameters of `/bench/publish`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PublishParams {
    /// Messages.
    pub n: u64,
    /// Bytes per message.
    pub size: usize,
    /// Messages per second (0: as fast as possible).
    pub rate: u64,
}

impl PublishParams {
    /// When message `seq` is due, after the first: `None` at rate 0 (as
    /// fast as possible).
    #[must_use]
    pub fn due(&self, seq: u64) -> Option<Duration> {
        (self.rate > 0).then(|| Duration::from_secs_f64(seq as f64 / self.rate as f64))
    }

    /// Parses `n=M&size=S[&rate=R]`, refusing values out of bounds.
    #[must_use]
    pub fn parse(query: Option<&str>) -> Option<Self> {
        let map = query_map(query);
        let n: u64 = map.get("n")?.parse().ok()?;
        let size: usize = map.get("size")?.parse().ok()?;
        let rate: u64 = match map.get("rate") {
            Some(r) => r.parse().ok()?,
            None => 0,
        };
        (n <= MAX_EVENTS && size <= MAX_SIZE).then_some(Self { n, size, rate })
    }
}

impl StreamParams {
    /// Parses `n=N&size=S[&lines=L]`, refusing values out of bounds.
    #[must_use]
    pub fn parse(query: Option<&str>) -> Option<Self> {
        let map = query_map(query);
        let n: u64 = map.get("n")?.parse().ok()?;
        let size: usize = map.get("size")?.parse().ok()?;
        let lines: usize = match map.get("lines") {
            Some(l) => l.parse().ok()?,
            None => 0,
        };
        (n <= MAX_EVENTS && size <= MAX_SIZE && lines != 1).then_some(Self { n, size, lines })
    }
}

/// The data of every event of a stream: `size` ASCII bytes, with a `\n`
/// every `lines` bytes when `lines` is 2 or more. Made once per shape and
/// kept, at most [`MAX_SHAPES`] shapes at a time (a new one past them
/// starts the cache afresh; the streams that hold one keep it).
#[must_use]
pub fn payload(size: usize, lines: usize) -> Arc<str> {
    /// Each shape's data, by `(size, lines)`.
    type Shapes = HashMap<(usize, usize), Arc<str>>;
    static CACHE: OnceLock<Mutex<Shapes>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(data) = cache.get(&(size, lines)) {
        return Arc::clone(data);
    }
    let mut text = String::with_capacity(size);
    for i in 0..size {
        let line_end = lines >= 2 && i % lines == lines - 1 && i + 1 < size;
        let letter = b"abcdefghijklmnopqrstuvwxyz"[i % 26];
        text.push(if line_end { '\n' } else { char::from(letter) });
    }
    let data: Arc<str> = Arc::from(text);
    if cache.len() >= MAX_SHAPES {
        cache.clear();
    }
    cache.insert((size, lines), Arc::clone(&data));
    data
}

/// The most stream shapes whose data (and, for the limit, whose body) a
/// server keeps at once.
pub const MAX_SHAPES: usize = 16;

/// The largest `limit` body formatted in advance and kept; a bigger one is
/// formatted as it is sent.
pub const LIMIT_KEPT_BYTES: u64 = 256 << 20;

/// The bytes of one chunk of the `limit` flavour's body.
const LIMIT_CHUNK: usize = 64 * 1024;

/// The `/bench/stream` body of the `limit` flavour: its chunks of 64 KiB,
/// formatted in advance on the first request for a shape and kept (up to
/// [`MAX_SHAPES`] shapes, each up to [`LIMIT_KEPT_BYTES`]), so that later
/// runs measure only writing; a bigger body is formatted as it is sent.
#[must_use]
pub fn limit_chunks(params: StreamParams) -> LimitBody {
    static CACHE: OnceLock<Mutex<HashMap<StreamParams, Arc<Vec<Bytes>>>>> = OnceLock::new();
    let per_event = params.size as u64
        + 32
        + if params.lines >= 2 {
            (params.size / params.lines) as u64 * 6
        } else {
            0
        };
    let formatter = ChunkFormatter {
        data: payload(params.size, params.lines),
        n: params.n,
        next: 0,
        buf: Vec::new(),
    };
    if params.n.saturating_mul(per_event) > LIMIT_KEPT_BYTES {
        return LimitBody::Formatted(formatter);
    }
    let cache = CACHE.get_or_init(Mutex::default);
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    let chunks = match cache.get(&params) {
        Some(chunks) => Arc::clone(chunks),
        None => {
            let chunks = Arc::new(formatter.collect::<Vec<Bytes>>());
            if cache.len() >= MAX_SHAPES {
                cache.clear();
            }
            cache.insert(params, Arc::clone(&chunks));
            chunks
        }
    };
    LimitBody::Kept { chunks, next: 0 }
}

/// The chunks of a `limit` body, in order: see [`limit_chunks`].
#[derive(Debug)]
pub enum LimitBody {
    /// Formatted in advance.
    Kept {
        /// Every chunk.
        chunks: Arc<Vec<Bytes>>,
        /// The next one to send.
        next: usize,
    },
    /// Formatted as it is sent.
    Formatted(ChunkFormatter),
}

impl Iterator for LimitBody {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        match self {
            Self::Kept { chunks, next } => {
                let chunk = chunks.get(*next).cloned();
                *next += 1;
                chunk
            }
            Self::Formatted(formatter) => formatter.next(),
        }
    }
}

/// Formats a `/bench/stream` body (`id: i` and the data's lines, per
/// event) into chunks of 64 KiB.
#[derive(Debug)]
pub struct ChunkFormatter {
    data: Arc<str>,
    n: u64,
    next: u64,
    buf: Vec<u8>,
}

impl Iterator for ChunkFormatter {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        while self.buf.len() < LIMIT_CHUNK && self.next < self.n {
            self.buf.extend_from_slice(b"id: ");
            self.buf.extend_from_slice(self.next.to_string().as_bytes());
            self.buf.push(b'\n');
            for line in self.data.split('\n') {
                self.buf.extend_from_slice(b"data: ");
                self.buf.extend_from_slice(line.as_bytes());
                self.buf.push(b'\n');
            }
            self.buf.push(b'\n');
            self.next += 1;
        }
        if self.buf.is_empty() {
            return None;
        }
        let rest = if self.buf.len() > LIMIT_CHUNK {
            self.buf.split_off(LIMIT_CHUNK)
        } else {
            Vec::new()
        };
        Some(Bytes::from(std::mem::replace(&mut self.buf, rest)))
    }
}

/// The topic of `/bench/hub` on [`Hub::ssekit_subscribe`].
pub const HUB_TOPIC: &str = "bench";

/// The hub of the `/bench/hub` routes: for the built-in flavour the pattern
/// users write today, a `tokio::sync::broadcast` channel with one receiver
/// per subscriber ([`Hub::subscribe`]); for the ssekit flavour an
/// `ssekit::Hub` ([`Hub::ssekit_subscribe`]). A server process serves one
/// flavour, so one of the two has the subscribers; the publisher feeds the
/// `ssekit::Hub` only once it has had a subscriber, so the built-in servers
/// do no ssekit work.
#[derive(Clone, Debug)]
pub struct Hub {
    tx: broadcast::Sender<Arc<str>>,
    ssekit: ssekit::Hub,
    ssekit_used: Arc<AtomicBool>,
    coalesce: Duration,
}

/// The environment variable that makes the ssekit flavour's hub subscribers
/// coalesce bursts ([`ssekit::EventStream::coalesce`]), in milliseconds;
/// unset or 0: they do not (the default, which the fan-out table measures).
pub const COALESCE_ENV: &str = "SSEKIT_BENCH_COALESCE_MS";

/// The delay of [`COALESCE_ENV`]: zero when unset, and when not a whole
/// number of milliseconds, which is said on stderr.
#[must_use]
pub fn coalesce_from_env() -> Duration {
    let Ok(value) = std::env::var(COALESCE_ENV) else {
        return Duration::ZERO;
    };
    value.trim().parse().map_or_else(
        |_| {
            eprintln!("{COALESCE_ENV}={value:?} is not a whole number of milliseconds: ignored");
            Duration::ZERO
        },
        Duration::from_millis,
    )
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// Room for 4 096 messages per subscriber before it lags.
    #[must_use]
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(4096).0,
            // 64 MiB per subscriber: 63 messages of the largest size
            // (`MAX_SIZE`) with their ids, as the broadcast's 4 096 slots
            // hold them all; a subscriber reading one message while the
            // next comes stays.
            ssekit: ssekit::Hub::builder()
                .subscriber_queue_bytes(64 * MAX_SIZE)
                .build(),
            ssekit_used: Arc::new(AtomicBool::new(false)),
            coalesce: coalesce_from_env(),
        }
    }

    /// A new subscriber: subscribe before the response head is sent.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }

    /// A new subscriber of the `ssekit::Hub` (call it before the response
    /// head is sent): the stream to give to the adapter.
    ///
    /// # Errors
    ///
    /// The hub's error; none for [`HUB_TOPIC`], a valid topic.
    pub fn ssekit_subscribe(
        &self,
    ) -> Result<ssekit::EventStream<ssekit::Subscription>, ssekit::HubError> {
        self.ssekit_used.store(true, Ordering::Relaxed);
        let stream = self.ssekit.subscribe(HUB_TOPIC, ssekit::Resume::Start)?;
        Ok(stream.coalesce(self.coalesce))
    }

    /// The current number of subscribers, of both hubs (one of them has
    /// none).
    #[must_use]
    pub fn subscribers(&self) -> usize {
        let ssekit = usize::try_from(self.ssekit.stats().subscribers).unwrap_or(usize::MAX);
        self.tx.receiver_count().saturating_add(ssekit)
    }

    /// `/bench/publish?n=M&size=S&rate=R`: starts the publisher on the
    /// current tokio runtime. `false` when the query is invalid.
    #[must_use]
    pub fn publish(&self, query: Option<&str>) -> bool {
        let Some(params) = PublishParams::parse(query) else {
            return false;
        };
        let tx = self.tx.clone();
        let hub = self.ssekit.clone();
        let used = Arc::clone(&self.ssekit_used);
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            for seq in 0..params.n {
                match params.due(seq) {
                    Some(due) => tokio::time::sleep_until(start + due).await,
                    None => tokio::task::yield_now().await,
                }
                let text = message(seq, params.size);
                if used.load(Ordering::Relaxed) {
                    let _ = hub.publish(HUB_TOPIC, ssekit::Event::new(text));
                } else {
                    let _ = tx.send(text.into());
                }
            }
        });
        true
    }
}

/// `"<seq> <unix_nanos> <padding>"`, padded with ASCII to `size` bytes.
#[must_use]
pub fn message(seq: u64, size: usize) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut text = format!("{seq} {nanos} ");
    while text.len() < size {
        text.push('p');
    }
    text
}

pub mod chart;
pub mod client;

/// The data of one event as an application has it: a `String` of its own,
/// made fresh per event (as serializing or formatting would), handed to
/// every flavour alike.
#[must_use]
pub fn event_text(data: &str) -> String {
    data.to_owned()
}
