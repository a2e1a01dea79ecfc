//! The seed demos of `shared/SEEDS.md`, corrected, written once against
//! `ssekit` only. Each binary in `src/bin/` (`axum`, `actix-web`, `warp`,
//! `poem`) serves these same handlers on the same routes:
//!
//! | route | seed | what |
//! |---|---|---|
//! | `GET /` | | the demo page |
//! | `GET /chunk` | 1 | chunked HTML, `<h1>i</h1>` for i = 0..9, 1 s apart |
//! | `GET /sse` | 1 | `data: <now, RFC 3339>` every 2 s until the client leaves |
//! | `GET /ping` | 2 | `id: <n>`/`event: ping`/`data: <unix s>` every 500 ms until the client leaves |
//! | `GET /ai/sse` | 3 | `Hello, world!` three times, 2 s apart, then the end |
//! | `GET /count` | 4 | `data: i` for i = 0..99, 200 ms apart |
//! | `GET /stream` | 4 | 100 JSON messages, 200 ms apart |
//! | `GET /events` | 5 | `data: i` for i = 0..4, 1 s apart |
//! | `GET /format` | 5 | the format sequence: `message`, `update`, `new_data` |
//! | `GET /chat?prompt=…` | | an answer streamed word by word, then `event: done` |
//! | `GET /rooms/{room}` | | the room's messages, resumable (`Last-Event-ID` or `?last_event_id=`) |
//! | `POST /rooms/{room}` | | publishes the UTF-8 text body to the room, answers its event id; what a browser's `EventSource` gets is the text with each `\r\n` or lone `\r` turned into `\n` (SSE has no other line end) |
//!
//! The rooms live in one process-wide [`ssekit::Hub`] ([`hub`]) that keeps
//! the last [`ROOM_HISTORY_EVENTS`] messages of each room (at most
//! [`ROOM_HISTORY_BYTES`], for [`ROOM_HISTORY_TTL`] after the last one; on
//! Redis, Redis's own expiry of a day), so
//! a client that reconnects with the last id it saw gets exactly what it
//! missed; at most [`MAX_ROOMS`] rooms at once (beyond, the least recently
//! used room nobody listens to goes; `503` when every room has a listener); a room's
//! stream asks for a reconnect within [`ROOM_RETRY`]. A room is the path's
//! rest after `/rooms/`, percent-decoded (`/rooms/caf%C3%A9` is `café`); bad
//! percent-encoding, and a name the hub refuses (empty, too long, a control
//! character), is `400`. A `POST` body must be
//! UTF-8 text of 1 to [`MAX_POST_BYTES`] bytes, else `400`.
//!
//! Every timed route takes `?interval_ms=N` (1 to 3 600 000) instead of its
//! seed's interval.
//!
//! One function, [`answer`], routes and validates every request for all four
//! binaries, so they answer alike: `404` for an unknown path, `405` with
//! `Allow: GET, HEAD` for another method (`GET, HEAD, POST` on a room), `400` with a one-line
//! `text/plain` reason for a bad query value or `Last-Event-ID`, and the
//! `GET` answer without its body for `HEAD`. No client value is used
//! unchecked: intervals are bounded, resume points are checked additions.
//!
//! What the seeds got wrong, and why it cannot happen here: the trailing space
//! in `event: ping ` (an [`EventType`] is taken literally and the handler uses
//! a `const` literal), the single newline after `data: i` (the encoder always
//! ends an event with the blank line), buffering behind nginx
//! (`X-Accel-Buffering: no` on every stream), `Connection` over HTTP/2
//! (never sent), and one id for several `/ping` events a second (the id
//! counts the events).

use std::borrow::Cow;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, stream};
use ssekit::{CancellationToken, ChunkedBody, Event, EventId, EventStream, EventType, Shutdown};
use tokio::io::{AsyncRead, AsyncWrite};

/// The demo page, served at `/`.
pub const PAGE: &str = include_str!("../assets/index.html");

/// The stream type of every SSE demo.
pub type DemoStream = Pin<Box<dyn Stream<Item = Event> + Send>>;
/// The stream type of the chunked demo.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// The longest `interval_ms` a route accepts: one hour.
pub const MAX_INTERVAL_MS: u64 = 3_600_000;

/// The `Allow` header of every route but the rooms (RFC 9110 §10.2.1):
/// they are read-only.
pub const ALLOW: &str = "GET, HEAD";

/// The `Allow` header of `/rooms/{room}`.
pub const ROOM_ALLOW: &str = "GET, HEAD, POST";

/// The largest message a `POST /rooms/{room}` accepts, in bytes.
pub const MAX_POST_BYTES: usize = 64 * 1024;

/// The messages each room keeps for clients that reconnect.
pub const ROOM_HISTORY_EVENTS: usize = 1000;

/// The bytes of history each room keeps at most: [`ROOM_HISTORY_EVENTS`]
/// of the largest messages ([`MAX_POST_BYTES`], plus each one's `id:` and
/// `data:` lines; a message's line breaks each add a `data: ` prefix, so a
/// room of large many-line messages keeps fewer). With [`MAX_ROOMS`], it
/// bounds the demo's history at about 4 GiB. (Until session 12 it was
/// 4 MiB for 1 024 rooms, the same bound: a room kept only 63 of the
/// largest messages.)
pub const ROOM_HISTORY_BYTES: usize = ROOM_HISTORY_EVENTS * (MAX_POST_BYTES + 128);

/// How long a room keeps its history after its last message: then the
/// history goes, and a room nobody listens to is released
/// ([`ssekit::HubBuilder::history_ttl`]), so rooms made once cannot hold
/// [`MAX_ROOMS`] for good.
pub const ROOM_HISTORY_TTL: Duration = Duration::from_secs(60 * 60);

/// The rooms in memory at once; a new room beyond lets the least recently
/// used room nobody listens to go
/// ([`ssekit::HubBuilder::evict_idle_topics`]: its history with it, so a
/// client that resumes there later gets `reset`), and is `503` while every
/// room has a listener.
pub const MAX_ROOMS: usize = 64;

/// The `retry:` a room's stream sends: how soon a browser reconnects.
pub const ROOM_RETRY: Duration = Duration::from_secs(1);

/// The demos' one hub, shared by every request of the process: in memory,
/// or on the Redis given with `--redis URL` ([`ssekit_redis`]), whose
/// history keeps [`ROOM_HISTORY_EVENTS`] per room as well.
pub fn hub() -> &'static ssekit::Hub {
    static HUB: std::sync::OnceLock<ssekit::Hub> = std::sync::OnceLock::new();
    HUB.get_or_init(|| {
        let builder = ssekit::Hub::builder()
            .history_events(ROOM_HISTORY_EVENTS)
            .history_bytes(ROOM_HISTORY_BYTES)
            .replay_events(ROOM_HISTORY_EVENTS)
            .replay_bytes(ROOM_HISTORY_BYTES)
            .history_ttl(ROOM_HISTORY_TTL)
            .max_topics(MAX_ROOMS)
            .evict_idle_topics(true);
        let backplane = REDIS
            .get()
            .and_then(|slot| slot.lock().ok().and_then(|mut slot| slot.take()));
        match backplane {
            Some(backplane) => builder.backplane(backplane),
            None => builder,
        }
        .build()
    })
}

/// The Redis backplane of `--redis URL`, set by [`listen`] before the hub is
/// made.
/// The hub takes it when it is made.
static REDIS: std::sync::OnceLock<std::sync::Mutex<Option<ssekit_redis::RedisBackplane>>> =
    std::sync::OnceLock::new();

/// Connects the demo's hub to the Redis at `url`: the backplane's tasks run
/// on a runtime of their own (one thread), whatever the framework's is.
fn use_redis(url: &str, durable: bool) -> Result<(), String> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    let runtime = match RUNTIME.get() {
        Some(runtime) => runtime,
        None => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("ssekit-redis")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the Redis runtime: {e}"))?;
            RUNTIME.get_or_init(|| runtime)
        }
    };
    let _entered = runtime.enter();
    let backplane = ssekit_redis::RedisBackplane::builder(url)
        .history_events(ROOM_HISTORY_EVENTS as u64)
        .keep_epochs_across_restarts(durable)
        .build()
        .map_err(|e| format!("bad --redis {url:?}: {e}"))?;
    REDIS
        .set(std::sync::Mutex::new(Some(backplane)))
        .map_err(|_| "--redis given twice".to_owned())
}

/// Query parameters of the timed routes, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    /// Replaces the route's interval, in milliseconds, from 1 to
    /// [`MAX_INTERVAL_MS`].
    pub interval_ms: Option<u64>,
    /// The chat prompt (`/chat`).
    pub prompt: Option<String>,
}

impl Params {
    /// Parses a raw query string (without the `?`). Parameters other than
    /// `interval_ms` and `prompt` are ignored, as browsers and proxies add
    /// their own (cache busters).
    ///
    /// # Errors
    ///
    /// [`BadRequest`] naming the parameter and why: bad percent-encoding, not
    /// UTF-8, given more than once, or an `interval_ms` that is not a whole
    /// number from 1 to [`MAX_INTERVAL_MS`].
    pub fn parse(query: &str) -> Result<Self, BadRequest> {
        let mut params = Self::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(raw_name).ok_or_else(|| {
                BadRequest("invalid query string: a parameter name has bad percent-encoding or is not UTF-8".to_owned())
            })?;
            let slot = match name.as_str() {
                "interval_ms" => Param::IntervalMs,
                "prompt" => Param::Prompt,
                _ => continue,
            };
            let value = percent_decode(raw_value)
                .ok_or_else(|| slot.bad("bad percent-encoding or not UTF-8"))?;
            match slot {
                Param::IntervalMs => {
                    if params.interval_ms.is_some() {
                        return Err(slot.bad("given more than once"));
                    }
                    params.interval_ms = Some(parse_interval(&value)?);
                }
                Param::Prompt => {
                    if params.prompt.is_some() {
                        return Err(slot.bad("given more than once"));
                    }
                    params.prompt = Some(value);
                }
            }
        }
        Ok(params)
    }

    fn interval(&self, seed: Duration) -> Duration {
        self.interval_ms.map_or(seed, Duration::from_millis)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Param {
    IntervalMs,
    Prompt,
}

impl Param {
    fn name(self) -> &'static str {
        match self {
            Param::IntervalMs => "interval_ms",
            Param::Prompt => "prompt",
        }
    }

    /// The one format of every refused query value.
    fn bad(self, why: &str) -> BadRequest {
        BadRequest(format!("invalid query parameter `{}`: {why}", self.name()))
    }
}

fn parse_interval(value: &str) -> Result<u64, BadRequest> {
    value
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| value.parse::<u64>().ok())
        .flatten()
        .filter(|ms| (1..=MAX_INTERVAL_MS).contains(ms))
        .ok_or_else(|| {
            Param::IntervalMs.bad(&format!(
                "must be a whole number of milliseconds from 1 to {MAX_INTERVAL_MS}"
            ))
        })
}

/// Percent-decodes a query's `raw` name or value: `%XX` is a byte, and `+`
/// a space (`application/x-www-form-urlencoded`). `None` for a `%` not
/// followed by two hex digits, or bytes that are not UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut input = raw.bytes();
    while let Some(b) = input.next() {
        bytes.push(match b {
            b'+' => b' ',
            b'%' => {
                let hi = char::from(input.next()?).to_digit(16)?;
                let lo = char::from(input.next()?).to_digit(16)?;
                u8::try_from(hi * 16 + lo).ok()?
            }
            b => b,
        });
    }
    String::from_utf8(bytes).ok()
}

/// What a request to the demo gets, decided once for every framework: each
/// binary only turns it into its framework's response.
#[derive(Debug)]
pub enum Answer {
    /// `200`, the demo page ([`PAGE`], `text/html; charset=utf-8`).
    Page,
    /// `200`, the chunked HTML demo.
    Chunk(ChunkedBody<ChunkStream>),
    /// `200`, an event stream.
    Sse(EventStream<DemoStream>),
    /// `200`, a room's event stream.
    Room(EventStream<ssekit::Subscription>),
    /// `200`, a one-line `text/plain; charset=utf-8` body (the id of a
    /// message just posted).
    Text(String),
    /// A refusal, before any body.
    Refused(Refusal),
}

impl Answer {
    /// The body's length when it is known before it is sent (the page, a
    /// refusal); `None` for the streams. A `HEAD` answer carries it as
    /// `Content-Length`, as the `GET` answer does.
    pub fn content_length(&self) -> Option<u64> {
        let len = match self {
            Answer::Page => PAGE.len(),
            Answer::Refused(refusal) => refusal.message.len(),
            Answer::Text(text) => text.len(),
            Answer::Chunk(_) | Answer::Sse(_) | Answer::Room(_) => return None,
        };
        u64::try_from(len).ok()
    }
}

/// A refused request: its status, the `Allow` header for a `405`, and a
/// one-line `text/plain; charset=utf-8` body saying why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `400`, `404`, `405`, `408` or `503`.
    pub status: u16,
    /// A header to send with it, as a lowercase name and a value: `allow`
    /// ([`ALLOW`] or [`ROOM_ALLOW`]) on a `405`, `retry-after` on a `503`.
    pub header: Option<(&'static str, &'static str)>,
    /// The body: what was wrong.
    pub message: String,
}

/// The content type of every refusal body, and of [`Answer::Text`].
pub const REFUSAL_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

impl Refusal {
    /// A `503`: the server cannot take the request now; `why` follows
    /// "service unavailable: ". `Retry-After: 1`: the rooms are full until
    /// one is let go, Redis is back within its reconnect, and a client or
    /// load balancer that sees the shutdown's `503` goes to another instance.
    fn unavailable(why: impl std::fmt::Display) -> Self {
        Self {
            status: 503,
            header: Some(("retry-after", "1")),
            message: format!("service unavailable: {why}"),
        }
    }
}

impl From<BadRequest> for Refusal {
    fn from(BadRequest(message): BadRequest) -> Self {
        Self {
            status: 400,
            header: None,
            message,
        }
    }
}

/// Whether [`answer_with_body`] needs the request's body: only a `POST` to
/// a room reads one. Other requests are answered without reading theirs.
pub fn needs_body(method: &str, path: &str) -> bool {
    method == "POST" && path.starts_with(ROOMS_PREFIX)
}

const ROOMS_PREFIX: &str = "/rooms/";

/// Why a request body could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// Longer than [`MAX_POST_BYTES`].
    TooLarge,
    /// The connection failed while the body was read.
    Unreadable,
    /// The body ended before the length its `Content-Length` declared: the
    /// client's upload was cut off.
    Truncated,
    /// The body did not arrive within [`limits::BODY_READ_TIMEOUT`]: `408`.
    TimedOut,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge => write!(f, "invalid body: longer than {MAX_POST_BYTES} bytes"),
            BodyError::Unreadable => f.write_str("invalid body: could not be read"),
            BodyError::Truncated => f.write_str(
                "invalid body: shorter than its Content-Length (the upload was cut off)",
            ),
            BodyError::TimedOut => write!(
                f,
                "request timeout: the body did not arrive within {} s",
                limits::BODY_READ_TIMEOUT.as_secs()
            ),
        }
    }
}

impl std::error::Error for BodyError {}

impl From<BodyError> for Refusal {
    /// `408` for a body that did not arrive in time, else `400`.
    fn from(err: BodyError) -> Self {
        Self {
            status: if err == BodyError::TimedOut { 408 } else { 400 },
            header: None,
            message: err.to_string(),
        }
    }
}

/// Reads a request body given as a stream of chunks (each framework's body
/// stream), keeping at most [`MAX_POST_BYTES`]: it stops reading as soon as
/// the body is longer. `content_length` is the request's `Content-Length`
/// header, if any: a body that ends short of it was cut off, and is refused
/// rather than published in part. (hyper's servers report that as an error
/// of the stream already; actix-http 3 ends the stream as if the body were
/// complete when the client closes its side of the connection. A chunked
/// upload cut off there still looks complete, and cannot be told apart.)
///
/// A `Content-Length` over [`MAX_POST_BYTES`] is refused before anything
/// is read, and the whole body must arrive within
/// [`limits::BODY_READ_TIMEOUT`]: an upload that stalls does not hold its
/// connection (one of `--max-connections`) for ever.
///
/// # Errors
///
/// [`BodyError::TooLarge`] past [`MAX_POST_BYTES`] (declared or read),
/// [`BodyError::Unreadable`] when a chunk is an error,
/// [`BodyError::Truncated`] when the body ends before its `Content-Length`,
/// [`BodyError::TimedOut`] when it has not ended in time.
pub async fn read_body<S, B, E>(body: S, content_length: Option<&[u8]>) -> Result<Bytes, BodyError>
where
    S: Stream<Item = Result<B, E>>,
    B: bytes::Buf,
{
    // (A malformed header is the server's to refuse; it is not read here.)
    let declared = content_length
        .and_then(|value| std::str::from_utf8(value).ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|declared| declared > MAX_POST_BYTES as u64) {
        return Err(BodyError::TooLarge);
    }
    let read_all = async {
        let mut body = std::pin::pin!(body);
        let mut read = bytes::BytesMut::new();
        while let Some(chunk) = body.next().await {
            let mut chunk = chunk.map_err(|_| BodyError::Unreadable)?;
            if chunk.remaining() > MAX_POST_BYTES.saturating_sub(read.len()) {
                return Err(BodyError::TooLarge);
            }
            while chunk.has_remaining() {
                let piece = chunk.chunk();
                let len = piece.len();
                read.extend_from_slice(piece);
                chunk.advance(len);
            }
        }
        Ok(read)
    };
    let read = tokio::time::timeout(limits::BODY_READ_TIMEOUT, read_all)
        .await
        .map_err(|_| BodyError::TimedOut)??;
    if declared.is_some_and(|declared| (read.len() as u64) < declared) {
        return Err(BodyError::Truncated);
    }
    Ok(read.freeze())
}

/// Answers a request: the routing, validation and refusals of every demo
/// binary, so that all four answer each request the same way.
///
/// `method` is the request method, `path` the request target's path as sent
/// (not decoded), `query` its raw query string (`""` when absent) and
/// `last_event_id` the values of every `Last-Event-ID` header.
///
/// In order: an unknown path is `404`; a method other than `GET` or `HEAD`
/// is `405` with `Allow: GET, HEAD`; then a bad query value or `Last-Event-ID`
/// is `400` (on a room, the hub answers any `Last-Event-ID` or
/// `last_event_id`: one it cannot resume from is a `reset` event, never a
/// `400`). A `HEAD` request gets the `GET` answer: the servers send its
/// status and headers without the body. A `POST` to a room is answered as
/// with an empty body (`400`): use [`answer_with_body`] for it.
pub fn answer<'a, I>(method: &str, path: &str, query: &str, last_event_id: I) -> Answer
where
    I: IntoIterator<Item = &'a [u8]>,
{
    answer_with_body(method, path, query, last_event_id, Ok::<&[u8], _>(&[]))
}

/// [`answer`], with the request's body, read (when [`needs_body`] says so)
/// by [`read_body`]; pass an empty body otherwise.
///
/// `/rooms/{room}` answers `GET` and `HEAD` with the room's stream and
/// `POST` by publishing the body, any other method is `405` with
/// `Allow: GET, HEAD, POST`; an invalid room name or body is `400`.
pub fn answer_with_body<'a, I>(
    method: &str,
    path: &str,
    query: &str,
    last_event_id: I,
    body: Result<impl AsRef<[u8]>, BodyError>,
) -> Answer
where
    I: IntoIterator<Item = &'a [u8]>,
{
    enum Route<'p> {
        Page,
        Chunk,
        Sse(Demo),
        Room(&'p str),
    }
    let route = match path {
        "/" => Route::Page,
        "/chunk" => Route::Chunk,
        path => match (Demo::from_path(path), path.strip_prefix(ROOMS_PREFIX)) {
            (Some(demo), _) => Route::Sse(demo),
            (None, Some(room)) => Route::Room(room),
            (None, None) => {
                return Answer::Refused(Refusal {
                    status: 404,
                    header: None,
                    message: "not found: see / for the routes".to_owned(),
                });
            }
        },
    };
    if let Route::Room(room) = route {
        return answer_room(method, room, query, last_event_id, body);
    }
    if method != "GET" && method != "HEAD" {
        return not_allowed(ALLOW);
    }
    let outcome = match route {
        Route::Page => return Answer::Page,
        Route::Chunk => Params::parse(query)
            .map(|params| Answer::Chunk(chunk(&params).shutdown(shutdown_token().clone()))),
        Route::Sse(demo) => Params::parse(query).and_then(|params| {
            let last = ssekit::last_event_id::parse(last_event_id)
                .map_err(|err| BadRequest(err.to_string()))?;
            demo.stream(&params, last)
                .map(|stream| Answer::Sse(stream.shutdown(Shutdown::new(shutdown_token().clone()))))
        }),
        Route::Room(_) => return not_allowed(ROOM_ALLOW),
    };
    outcome.unwrap_or_else(|bad| Answer::Refused(bad.into()))
}

fn not_allowed(allow: &'static str) -> Answer {
    Answer::Refused(Refusal {
        status: 405,
        header: Some(("allow", allow)),
        message: format!("method not allowed: this route answers {allow}"),
    })
}

/// `/rooms/{room}`: `GET`/`HEAD` subscribe (resuming after `Last-Event-ID`
/// or `?last_event_id=`), `POST` publishes the body.
fn answer_room<'a, I>(
    method: &str,
    room: &str,
    query: &str,
    last_event_id: I,
    body: Result<impl AsRef<[u8]>, BodyError>,
) -> Answer
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let room = room_name(room);
    let outcome = match (method, room) {
        ("GET" | "HEAD" | "POST", Err(bad)) => Err(bad.into()),
        ("GET" | "HEAD", Ok(room)) => {
            let from = ssekit::Resume::from_request(last_event_id, Some(query));
            hub()
                .subscribe(&room, from)
                .map(|stream| {
                    Answer::Room(
                        stream
                            .retry(ROOM_RETRY)
                            .shutdown(Shutdown::new(shutdown_token().clone())),
                    )
                })
                .map_err(|err| hub_refusal(&err))
        }
        ("POST", Ok(room)) => post_text(body).and_then(|text| {
            hub()
                .publish(&room, Event::new(text))
                .map(|published| Answer::Text(published.id().as_str().to_owned()))
                .map_err(|err| hub_refusal(&err))
        }),
        _ => return not_allowed(ROOM_ALLOW),
    };
    outcome.unwrap_or_else(Answer::Refused)
}

/// The refusal for a hub error: `503` when the hub cannot take the request
/// now (it holds [`MAX_ROOMS`] rooms, or the backplane did not answer in
/// time), else `400` (an invalid room name).
fn hub_refusal(err: &ssekit::HubError) -> Refusal {
    if err.is_too_many_topics() {
        Refusal::unavailable(err)
    } else if err.backplane().is_some() {
        // A publish that timed out may still run in Redis.
        Refusal::unavailable(format_args!(
            "{err} (the message may have been published all the same)"
        ))
    } else {
        BadRequest(err.to_string()).into()
    }
}

/// [`answer_with_body`], for the servers: the same answers, and a `POST` to
/// a room on a hub with a backplane (`--redis`) waits for the backplane
/// (`200` with the id, or `503` with the reason when Redis did not answer
/// in time). Every binary calls this one.
pub fn answer_async<'a, I>(
    method: &str,
    path: &str,
    query: &str,
    last_event_id: I,
    body: Result<impl AsRef<[u8]>, BodyError>,
) -> ssekit::hub::BoxFuture<Answer>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let room = path.strip_prefix(ROOMS_PREFIX);
    if let (Some(room), "POST", Some(_)) = (room, method, REDIS.get()) {
        let published = room_name(room)
            .map_err(Refusal::from)
            .and_then(|room| Ok(hub().publish_async(&room, Event::new(post_text(body)?))));
        return Box::pin(async move {
            let publishing = match published {
                Ok(publishing) => publishing,
                Err(refusal) => return Answer::Refused(refusal),
            };
            match publishing.await {
                Ok(published) => Answer::Text(published.id().as_str().to_owned()),
                Err(err) => Answer::Refused(hub_refusal(&err)),
            }
        });
    }
    let answer = answer_with_body(method, path, query, last_event_id, body);
    Box::pin(std::future::ready(answer))
}

/// A room's name: the path's rest after `/rooms/`, percent-decoded, as the
/// frameworks' path extractors give it: `/rooms/caf%C3%A9` (what a browser
/// sends for `café`) and `/rooms/café` are one room, and so are
/// `/rooms/%61bc` and `/rooms/abc`. Bad percent-encoding, or bytes that are
/// not UTF-8, is `400`, and so is a `.` or `..` segment (also as `%2e`): a
/// browser, `fetch` or curl removes those from a path before sending it, so
/// such a room could be reached only by raw clients, and `/rooms/./x` would
/// be room `x` to a browser and `./x` to them
/// ([`ssekit::hub::topic_from_path`], which also checks the name as the hub
/// does).
fn room_name(raw: &str) -> Result<Cow<'_, str>, BadRequest> {
    ssekit::hub::topic_from_path(raw).map_err(|err| BadRequest(err.to_string()))
}

/// A room message: 1 to [`MAX_POST_BYTES`] bytes of UTF-8 text, from the
/// body as read, and not once shutdown began (`503`): in memory the hub goes
/// with the process and its streams have ended, so the message would reach
/// nobody; on Redis this instance takes no new work either (the client, or
/// its load balancer, posts to another one), as the hyper-based servers
/// already close their idle connections then.
fn post_text(body: Result<impl AsRef<[u8]>, BodyError>) -> Result<String, Refusal> {
    if shutdown_token().is_cancelled() {
        return Err(Refusal::unavailable(
            "the server is shutting down; the message was not published",
        ));
    }
    let body = body?;
    let body = body.as_ref();
    if body.is_empty() {
        return Err(BadRequest("invalid body: empty".to_owned()).into());
    }
    std::str::from_utf8(body)
        .map(str::to_owned)
        .map_err(|_| BadRequest("invalid body: not UTF-8".to_owned()).into())
}

/// The SSE demos, by route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demo {
    /// `/sse`: SEEDS 1's ticker.
    Ticker,
    /// `/ping`: SEEDS 2.
    Ping,
    /// `/ai/sse`: SEEDS 3.
    AiAnswer,
    /// `/count`: SEEDS 4.
    Count,
    /// `/stream`: SEEDS 4's JSON messages.
    Json,
    /// `/events`: SEEDS 5.
    Events,
    /// `/format`: SEEDS 5's format sequence.
    Format,
    /// `/chat`: an answer streamed word by word.
    Chat,
}

impl Demo {
    /// Every SSE demo with its route.
    pub const ALL: [(&'static str, Demo); 8] = [
        ("/sse", Demo::Ticker),
        ("/ping", Demo::Ping),
        ("/ai/sse", Demo::AiAnswer),
        ("/count", Demo::Count),
        ("/stream", Demo::Json),
        ("/events", Demo::Events),
        ("/format", Demo::Format),
        ("/chat", Demo::Chat),
    ];

    /// The demo served at `path`.
    pub fn from_path(path: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, demo)| *demo)
    }

    /// The demo's event stream.
    ///
    /// # Errors
    ///
    /// [`BadRequest`] when the request cannot be answered with a stream (a
    /// chat without a prompt): the binaries answer it `400 Bad Request`
    /// before any event, as a real chat API does.
    pub fn stream(
        self,
        params: &Params,
        last_event_id: Option<EventId>,
    ) -> Result<EventStream<DemoStream>, BadRequest> {
        Ok(match self {
            Demo::Ticker => ticker(params.interval(Duration::from_secs(2))),
            Demo::Ping => ping(
                params.interval(Duration::from_millis(500)),
                resume_ping(last_event_id.as_ref())?,
            ),
            Demo::AiAnswer => paced(
                vec![Event::new("Hello, world!"); 3],
                params.interval(Duration::from_secs(2)),
                Pace::SleepFirst,
            ),
            Demo::Count => paced(
                (0..100).map(|i| Event::new(i.to_string())).collect(),
                params.interval(Duration::from_millis(200)),
                Pace::SleepAfter,
            ),
            Demo::Json => paced(
                (0..100)
                    .filter_map(|i| {
                        Event::json(&serde_json::json!({"Name": format!("Name{i}"), "Value": format!("Value{i}")})).ok()
                    })
                    .collect(),
                params.interval(Duration::from_millis(200)),
                Pace::SleepAfter,
            ),
            Demo::Events => paced(
                (0..5).map(|i| Event::new(i.to_string())).collect(),
                params.interval(Duration::from_secs(1)),
                Pace::SleepAfter,
            ),
            Demo::Format => paced(format_events(), params.interval(Duration::ZERO), Pace::SleepAfter),
            Demo::Chat => {
                let prompt = params.prompt.as_deref().unwrap_or("").trim();
                if prompt.is_empty() {
                    return Err(Param::Prompt.bad("missing: ask with /chat?prompt=..."));
                }
                if prompt.chars().count() > MAX_PROMPT_CHARS {
                    return Err(Param::Prompt.bad(&format!(
                        "longer than {MAX_PROMPT_CHARS} characters"
                    )));
                }
                chat(
                    prompt,
                    params.interval(Duration::from_millis(50)),
                    last_event_id.as_ref(),
                )?
            }
        })
    }
}

/// The longest prompt `/chat` accepts.
pub const MAX_PROMPT_CHARS: usize = 2000;

/// A request refused before the first event; answered `400 Bad Request` with
/// this text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadRequest {}

/// When a paced stream sleeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pace {
    /// Sleep, then send (SEEDS 3).
    SleepFirst,
    /// Send, then sleep (SEEDS 4, 5).
    SleepAfter,
}

/// Sends `events` `interval` apart, then ends. Nothing runs once the client
/// has gone: the stream is dropped with the response.
fn paced(events: Vec<Event>, interval: Duration, pace: Pace) -> EventStream<DemoStream> {
    let stream = stream::iter(events.into_iter().enumerate()).then(move |(i, event)| async move {
        if pace == Pace::SleepFirst || i > 0 {
            tokio::time::sleep(interval).await;
        }
        event
    });
    EventStream::new(Box::pin(stream))
}

/// SEEDS 5's format sequence.
fn format_events() -> Vec<Event> {
    const UPDATE: EventType = EventType::from_static("update");
    const NEW_DATA: EventType = EventType::from_static("new_data");
    vec![
        Event::new("This is a message").event(EventType::from_static("message")),
        Event::new("This is an update")
            .event(UPDATE)
            .id(EventId::from_static("123")),
        Event::new("This is some new data")
            .event(NEW_DATA)
            .id(EventId::from_static("456"))
            .retry(Duration::from_millis(2000)),
    ]
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a time since the Unix epoch (UTC).
pub fn rfc3339(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// SEEDS 1's ticker: the time every `interval` until the client leaves.
/// A push-style handler, like the Go original: the loop ends when the
/// client does, even while it waits for the next tick.
fn ticker(interval: Duration) -> EventStream<DemoStream> {
    let (tx, events) = ssekit::channel(4);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                () = tx.closed() => break,
                _ = tick.tick() => {
                    if tx.send(Event::new(rfc3339(unix_now()))).await.is_err() {
                        break;
                    }
                }
            }
        }
        tracing::info!("/sse: the client left");
    });
    EventStream::new(Box::pin(events.into_inner()))
}

/// The refusal of a `Last-Event-ID` that this stream never sent.
fn foreign_id(what: &str) -> BadRequest {
    BadRequest(format!(
        "invalid Last-Event-ID header: not an id of this stream ({what})"
    ))
}

/// Where `/ping` resumes: after `Last-Event-ID: n`, at `n + 1`. An id that
/// is not a whole number, or the last one there is, was never sent.
fn resume_ping(last_event_id: Option<&EventId>) -> Result<u64, BadRequest> {
    let Some(id) = last_event_id else {
        return Ok(0);
    };
    id.as_str()
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| id.as_str().parse::<u64>().ok())
        .flatten()
        .and_then(|n| n.checked_add(1))
        .ok_or_else(|| foreign_id(&format!("a whole number below {}", u64::MAX)))
}

/// SEEDS 2: `id: <n>`, `event: ping` (no trailing space), `data: <unix s>`.
/// The seed's id was the unix second too, so several events a second shared
/// one id; here the id counts the events (from `first`, one past the
/// client's `Last-Event-ID`), so it identifies one event and a reconnecting
/// client carries on where it was.
fn ping(interval: Duration, first: u64) -> EventStream<DemoStream> {
    const PING: EventType = EventType::from_static("ping");
    let (tx, events) = ssekit::channel(4);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        let mut next = Some(first);
        while let Some(n) = next {
            tokio::select! {
                () = tx.closed() => break,
                _ = tick.tick() => {
                    let now = unix_now().as_secs().to_string();
                    let Ok(event) = Event::new(now).event(PING).try_id(n.to_string()) else { break };
                    if tx.send(event).await.is_err() {
                        break;
                    }
                    next = n.checked_add(1);
                }
            }
        }
        tracing::info!("/ping: the client left");
    });
    EventStream::new(Box::pin(events.into_inner()))
}

/// The canned answer to a chat prompt.
pub fn chat_answer(prompt: &str) -> String {
    let prompt = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    let asked = if prompt.is_empty() {
        "nothing in particular".to_owned()
    } else {
        format!("\u{201c}{prompt}\u{201d}")
    };
    format!(
        "You asked about {asked}. Server-sent events let a server push text to the browser \
         over one long HTTP response: each event is a few lines of text ending in a blank line, \
         and the browser's EventSource reconnects by itself, sending the last event id it saw."
    )
}

/// An answer streamed like a chat API: `{"delta": "<word> "}` events with
/// ids, then `event: done`. A client that reconnects with `Last-Event-ID: n`
/// resumes after word `n`.
///
/// # Errors
///
/// [`BadRequest`] for a `Last-Event-ID` that is not the number of a word of
/// this answer.
fn chat(
    prompt: &str,
    interval: Duration,
    last_event_id: Option<&EventId>,
) -> Result<EventStream<DemoStream>, BadRequest> {
    const DONE: EventType = EventType::from_static("done");
    let answer = chat_answer(prompt);
    // Deltas concatenate to the answer: the first word, then " word" each.
    let deltas: Vec<String> = answer
        .split(' ')
        .enumerate()
        .map(|(i, word)| {
            if i == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            }
        })
        .collect();
    let last = deltas.len().saturating_sub(1);
    let start = match last_event_id {
        None => 0,
        Some(id) => id
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| id.as_str().parse::<usize>().ok())
            .flatten()
            .filter(|n| *n <= last)
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| foreign_id(&format!("a word number from 0 to {last}")))?,
    };
    let mut events: Vec<Event> = deltas
        .into_iter()
        .enumerate()
        .skip(start)
        .filter_map(|(i, delta)| {
            let event = Event::json(&serde_json::json!({ "delta": delta })).ok()?;
            event.try_id(i.to_string()).ok()
        })
        .collect();
    if let Ok(done) = Event::json(&serde_json::json!({"finish_reason": "stop"})) {
        events.push(done.event(DONE));
    }
    Ok(paced(events, interval, Pace::SleepFirst))
}

/// SEEDS 1's `ChunkDemo`: an HTML page written `<h1>` by `<h1>`.
pub fn chunk(params: &Params) -> ChunkedBody<ChunkStream> {
    let interval = params.interval(Duration::from_secs(1));
    let pieces = std::iter::once("<html><body>".to_owned())
        .chain((0..10).map(|i| format!("<h1>{i}</h1>")))
        .chain(std::iter::once("</body></html>".to_owned()));
    let stream = stream::iter(pieces.enumerate()).then(move |(i, piece)| async move {
        if (2..=10).contains(&i) {
            tokio::time::sleep(interval).await;
        }
        Bytes::from(piece)
    });
    ChunkedBody::html(Box::pin(stream))
}

/// Command-line options of every demo binary.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--addr`: where to listen (default `127.0.0.1:8080`).
    pub addr: std::net::SocketAddr,
    /// `--max-connections`: open connections at once (default
    /// [`limits::MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// `--redis URL`: the rooms run on this Redis, shared with every demo
    /// started with the same URL (default: in memory, this process only).
    pub redis: Option<String>,
    /// `--redis-durable`: that Redis loses nothing it acknowledged
    /// (`appendfsync always`, no failover to a lagging replica), so the
    /// rooms keep their history across its restarts
    /// ([`ssekit_redis::RedisBuilder::keep_epochs_across_restarts`]).
    pub redis_durable: bool,
}

/// The usage text of every demo binary.
pub const USAGE: &str = "usage: <demo> [--addr ADDR]

Serves the ssekit demos (open http://ADDR/ in a browser).

options:
  --addr ADDR   where to listen (default 127.0.0.1:8080; port 0 picks a free one)
  --max-connections N
                open connections at once (default 10000; the rest wait)
  --redis URL   run the rooms on this Redis (redis://HOST:PORT), shared with
                every demo started with the same URL
  --redis-durable
                that Redis loses nothing it acknowledged (appendfsync always):
                rooms keep their history across its restarts (else a restart
                is a reset)
  -h, --help    print this help and exit";

/// Why the command line gives no [`Options`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoOptions {
    /// `--help` or `-h`: print [`USAGE`], exit 0.
    Help,
    /// A bad command line: print this and [`USAGE`], exit 2.
    Usage(String),
}

/// Parses `--addr ADDR` (or `--addr=ADDR`), `--help` and `-h` (help
/// wins wherever it stands).
///
/// # Errors
///
/// [`NoOptions::Help`] when help is asked for, [`NoOptions::Usage`] for an
/// unknown argument, a missing value or a bad address.
pub fn options<I>(args: I) -> Result<Options, NoOptions>
where
    I: IntoIterator<Item = String>,
{
    let args: Vec<String> = args.into_iter().collect();
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        return Err(NoOptions::Help);
    }
    let mut addr = std::net::SocketAddr::from(([127, 0, 0, 1], 8080));
    let mut max_connections = limits::MAX_CONNECTIONS;
    let mut redis = None;
    let mut redis_durable = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--redis-durable" {
            redis_durable = true;
            continue;
        }
        let (name, value) = match arg.split_once('=') {
            Some((name @ ("--addr" | "--max-connections" | "--redis"), value)) => {
                (name.to_owned(), value.to_owned())
            }
            None if arg == "--addr" || arg == "--max-connections" || arg == "--redis" => {
                let value = args
                    .next()
                    .ok_or_else(|| NoOptions::Usage(format!("{arg} needs a value")))?;
                (arg, value)
            }
            _ => return Err(NoOptions::Usage(format!("unknown argument {arg:?}"))),
        };
        if name == "--redis" {
            redis = Some(value);
        } else if name == "--addr" {
            addr = value
                .parse()
                .map_err(|e| NoOptions::Usage(format!("bad --addr {value:?}: {e}")))?;
        } else {
            max_connections = value
                .parse()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    NoOptions::Usage(format!(
                        "bad --max-connections {value:?}: a whole number from 1 to 1000000"
                    ))
                })?;
        }
    }
    Ok(Options {
        addr,
        max_connections,
        redis,
        redis_durable,
    })
}

/// The connection limit from the command line (`--max-connections`), once
/// [`listen`] has parsed it; [`limits::MAX_CONNECTIONS`] before.
pub fn max_connections() -> usize {
    MAX_CONNECTIONS
        .get()
        .copied()
        .unwrap_or(limits::MAX_CONNECTIONS)
}

static MAX_CONNECTIONS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Parses the options, binds the listening socket and announces it: the
/// start of every demo binary. The socket is non-blocking, so any runtime can
/// adopt it. On failure, says why and gives the exit code.
///
/// # Errors
///
/// Exit code 0 after `--help`, 2 for a usage error, 1 when the address
/// cannot be bound.
pub fn listen(framework: &str) -> Result<std::net::TcpListener, std::process::ExitCode> {
    let options = options(std::env::args().skip(1)).map_err(|no| match no {
        NoOptions::Help => {
            println!("{}", USAGE.replace("<demo>", framework));
            std::process::ExitCode::SUCCESS
        }
        NoOptions::Usage(problem) => {
            eprintln!("{problem}\n{}", USAGE.replace("<demo>", framework));
            std::process::ExitCode::from(2)
        }
    })?;
    if let Some(url) = &options.redis {
        use_redis(url, options.redis_durable).map_err(|problem| {
            eprintln!("{problem}");
            std::process::ExitCode::from(2)
        })?;
    }
    let listener = std::net::TcpListener::bind(options.addr)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|err| {
            eprintln!("cannot listen on {}: {err}", options.addr);
            std::process::ExitCode::FAILURE
        })?;
    let _ = MAX_CONNECTIONS.set(options.max_connections);
    announce(framework, listener.local_addr().unwrap_or(options.addr));
    Ok(listener)
}

/// [`listen`], as a tokio listener (call it inside the runtime).
///
/// # Errors
///
/// As [`listen`].
pub fn tokio_listener(framework: &str) -> Result<tokio::net::TcpListener, std::process::ExitCode> {
    tokio::net::TcpListener::from_std(listen(framework)?).map_err(|err| {
        eprintln!("cannot use the listening socket: {err}");
        std::process::ExitCode::FAILURE
    })
}

/// The limits every demo server sets where its framework lets it; the
/// README's "Security notes" lists which framework takes which.
pub mod limits {
    use std::time::Duration;

    /// Open connections at once; the next waits in the kernel's backlog
    /// until one closes. (actix-web counts per worker thread.) An event
    /// stream holds its connection for as long as it is open, so the bound
    /// is high: 10 000 streams fit in a 20 000-descriptor limit, but for
    /// actix-web, whose departure watch takes a second descriptor each (give
    /// it a few dozen more, or `--max-connections 9900`).
    pub const MAX_CONNECTIONS: usize = 10_000;
    /// How long a client may take to send a request head (the slow-loris
    /// bound): the connection is closed when it is not complete by then.
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// How long a client may take to send a request body (at most
    /// [`MAX_POST_BYTES`](super::MAX_POST_BYTES)) once its head is read:
    /// `408` when it has not ended by then.
    pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// How soon a new connection must have been answered (see
    /// [`ConnectionDeadlines`](super::ConnectionDeadlines)): the time for a
    /// request head and its body.
    pub const FIRST_ANSWER_WITHIN: Duration = HEADER_READ_TIMEOUT.saturating_add(BODY_READ_TIMEOUT);
    /// How long a write may wait for the client to take any byte before the
    /// connection is closed (see
    /// [`ConnectionDeadlines`](super::ConnectionDeadlines)): nginx's default
    /// `send_timeout`.
    pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);
    /// The largest HTTP/2 header list (HPACK-decoded) a client may send.
    pub const H2_MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;
    /// Concurrent HTTP/2 streams per connection.
    pub const H2_MAX_CONCURRENT_STREAMS: u32 = 100;
    /// The largest HTTP/1.1 request head, in bytes (actix-web's fixed limit;
    /// poem keeps hyper's default, about 400 KiB).
    pub const H1_MAX_HEAD_BYTES: usize = 128 * 1024;
    /// Header fields in one HTTP/1.1 request head (hyper's default; actix-web
    /// takes 96, fixed).
    pub const H1_MAX_HEADERS: usize = 100;
}

/// An accepted connection with two deadlines, so that no client holds it
/// (one of `--max-connections`, and the kernel's buffers) for ever:
///
/// - **to be answered**: if nothing has been written to it
///   [`limits::FIRST_ANSWER_WITHIN`] after it was accepted, its next read
///   fails and the server closes it. A client that sends nothing, or half a
///   request head, would otherwise hold it: hyper's servers start their head
///   timeout only once they know the protocol, and wait for the first bytes
///   to tell HTTP/1.1 from HTTP/2 with no timeout; poem sets no head timeout
///   at all. (A connection that was answered once and then trickles its next
///   head is not bounded by this.)
/// - **to take bytes** (nginx's `send_timeout`): once answered, a write that
///   has waited [`limits::SEND_TIMEOUT`] for the client to take any byte
///   fails, and the server closes the connection. A client that stops
///   reading an event stream would otherwise hold it, with a full socket
///   buffer (megabytes of kernel memory), after its hub subscription was
///   dropped as slow: the stream's end can never be written.
///
/// Each timer lives only while it runs: from accept to the first write, and
/// from a write the client did not take to the next one it took. An open
/// stream that its client reads costs nothing more.
#[derive(Debug)]
pub struct ConnectionDeadlines<S> {
    io: S,
    /// Before the first write, the answer's deadline; after it, the send
    /// deadline while a write waits.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    answered: bool,
}

impl<S> ConnectionDeadlines<S> {
    /// `io`, just accepted.
    pub fn new(io: S) -> Self {
        Self {
            io,
            timer: Some(Box::pin(tokio::time::sleep(limits::FIRST_ANSWER_WITHIN))),
            answered: false,
        }
    }

    /// `io`, already known to have sent something (the answer's deadline is
    /// kept elsewhere): only the send deadline.
    pub fn sending(io: S) -> Self {
        Self {
            io,
            timer: None,
            answered: true,
        }
    }

    /// The connection itself.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// After a write: a byte taken ends the answer's deadline and any send
    /// deadline; a write that must wait starts the send deadline (once
    /// answered), and fails once it has passed.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        match written {
            Poll::Ready(Ok(1..)) => {
                self.answered = true;
                self.timer = None;
            }
            Poll::Pending if self.answered => {
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limits::SEND_TIMEOUT)));
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client took no bytes within the send timeout",
                    )));
                }
            }
            _ => {}
        }
        written
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ConnectionDeadlines<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if let (false, Some(timer)) = (this.answered, this.timer.as_mut()) {
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no request answered within the head and body timeouts",
                )));
            }
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ConnectionDeadlines<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The token that ends every open event stream of the demo: cancelled by
/// [`shutdown_signal`]; each SSE answer carries it
/// ([`EventStream::shutdown`]), so on shutdown every stream writes a
/// jittered `retry:` and ends its body cleanly, and the server's graceful
/// shutdown completes at once.
pub fn shutdown_token() -> &'static CancellationToken {
    static TOKEN: std::sync::OnceLock<CancellationToken> = std::sync::OnceLock::new();
    TOKEN.get_or_init(CancellationToken::new)
}

/// Completes when the process gets `SIGINT` (Ctrl-C) or `SIGTERM`, after
/// cancelling [`shutdown_token`]: give it to the framework's graceful
/// shutdown. A second signal during the graceful shutdown ends the process
/// at once (exit code 130), without waiting for the responses still open.
pub async fn shutdown_signal() {
    wait_for_signal().await;
    tracing::info!("shutting down: ending the open streams (a second signal exits at once)");
    shutdown_token().cancel();
    tokio::spawn(async {
        wait_for_signal().await;
        tracing::warn!("second signal: exiting without waiting for the open responses");
        std::process::exit(130);
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                () = interrupt => {}
                _ = terminate.recv() => {}
            }
        }
        Err(err) => {
            tracing::warn!("cannot listen for SIGTERM ({err}); Ctrl-C still shuts down");
            interrupt.await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// How long a graceful shutdown waits for open responses before it gives
/// up on them; the event streams end at once, so this bounds only a
/// response the client does not read.
pub const GRACEFUL_SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

/// Serves `service` on `listener` with hyper (HTTP/1.1 and h2c) and the
/// [`limits`]: what `axum::serve` and `warp::serve` do, plus the settings
/// they do not expose, and `TCP_NODELAY` on every connection. Runs until
/// `shutdown` completes, then stops accepting, lets every open connection
/// finish (hyper's graceful shutdown: idle keep-alive connections close,
/// responses run to their end; the event streams end on [`shutdown_token`])
/// for at most [`GRACEFUL_SHUTDOWN_LIMIT`], and returns.
///
/// # Errors
///
/// None today: a failed `accept` (out of file descriptors) is logged and
/// retried after 100 ms, a failed connection is logged at debug level.
pub async fn serve_hyper<S, B>(
    listener: tokio::net::TcpListener,
    service: S,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()>
where
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = hyper::Response<B>,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits::HEADER_READ_TIMEOUT)
        .max_headers(limits::H1_MAX_HEADERS)
        .max_buf_size(limits::H1_MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits::H2_MAX_HEADER_LIST_SIZE)
        .max_concurrent_streams(limits::H2_MAX_CONCURRENT_STREAMS);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(max_connections()));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                tracing::warn!("accept failed, retrying in 100 ms: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Events leave at once (see the ssekit-axum README): with Nagle's
        // algorithm on, an event written while the previous one is
        // unacknowledged waits for the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let connection = graceful.watch(
            builder
                .serve_connection_with_upgrades(
                    TokioIo::new(ConnectionDeadlines::new(stream)),
                    service.clone(),
                )
                .into_owned(),
        );
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!("connection ended with an error: {err}");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(GRACEFUL_SHUTDOWN_LIMIT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "graceful shutdown: connections still open after {GRACEFUL_SHUTDOWN_LIMIT:?}"
        );
    }
    Ok(())
}

/// The exit code for a server's outcome.
pub fn exit_code<E: std::fmt::Display>(outcome: Result<(), E>) -> std::process::ExitCode {
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("server error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Sets up logging and prints where the server listens (the tests read this
/// line to find an ephemeral port). A panic, which no request should cause,
/// is logged as one line, without a backtrace.
fn announce(framework: &str, addr: std::net::SocketAddr) {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .try_init();
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        tracing::error!("panicked at {location}: {}", message.replace('\n', " "));
    }));
    println!("ssekit {framework} demo listening on http://{addr}/");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The send deadline: a write the client takes nothing of for
    /// [`limits::SEND_TIMEOUT`] fails; one it takes a byte of in time goes
    /// on, and the deadline starts again at the next wait.
    #[tokio::test(start_paused = true)]
    async fn a_write_the_client_does_not_take_fails_after_the_send_timeout() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (server, mut client) = tokio::io::duplex(64);
        let mut server = ConnectionDeadlines::new(server);
        server.write_all(b"head").await.unwrap();
        let mut four = [0; 4];
        client.read_exact(&mut four).await.unwrap();
        // The buffer takes 64 bytes; the rest waits for the client.
        let mut write = Box::pin(server.write_all(&[b'x'; 200]));
        let step = limits::SEND_TIMEOUT - Duration::from_secs(1);
        assert!(
            tokio::time::timeout(step, write.as_mut()).await.is_err(),
            "waiting"
        );
        let mut some = [0; 64];
        client.read_exact(&mut some).await.unwrap();
        // Taken in time: the next wait has the whole timeout again.
        assert!(
            tokio::time::timeout(step, write.as_mut()).await.is_err(),
            "waiting again"
        );
        let err = tokio::time::timeout(Duration::from_secs(2), write.as_mut())
            .await
            .expect("failed within the timeout")
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    }

    /// The answer's deadline: a connection nothing was written to fails its
    /// read [`limits::FIRST_ANSWER_WITHIN`] after it was made.
    #[tokio::test(start_paused = true)]
    async fn a_connection_not_answered_in_time_fails_its_read() {
        use tokio::io::AsyncReadExt as _;
        let (server, _client) = tokio::io::duplex(64);
        let mut server = ConnectionDeadlines::new(server);
        let mut byte = [0; 1];
        let err = tokio::time::timeout(
            limits::FIRST_ANSWER_WITHIN + Duration::from_secs(1),
            server.read(&mut byte),
        )
        .await
        .expect("failed within the deadline")
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(1_795_424_182)),
            "2026-11-23T08:56:22Z"
        );
    }

    #[test]
    fn every_route_is_found() {
        for (path, demo) in Demo::ALL {
            assert_eq!(Demo::from_path(path), Some(demo));
        }
        assert_eq!(Demo::from_path("/nope"), None);
    }

    #[test]
    fn query_values_are_validated() {
        let params = Params::parse("interval_ms=250&prompt=what+is%20SSE%3F&_=1").unwrap();
        assert_eq!(params.interval_ms, Some(250));
        assert_eq!(params.prompt.as_deref(), Some("what is SSE?"));
        assert_eq!(Params::parse("").unwrap(), Params::default());
        assert_eq!(
            Params::parse("interval%5Fms=3600000").unwrap().interval_ms,
            Some(MAX_INTERVAL_MS)
        );
        let range = "invalid query parameter `interval_ms`: must be a whole number of milliseconds from 1 to 3600000";
        for bad in [
            "interval_ms=0",
            "interval_ms=3600001",
            "interval_ms=18446744073709551616",
            "interval_ms=-1",
            "interval_ms=+5",
            "interval_ms=",
            "interval_ms",
            "interval_ms=1e3",
        ] {
            assert_eq!(Params::parse(bad).unwrap_err().0, range, "{bad}");
        }
        assert_eq!(
            Params::parse("interval_ms=1&interval_ms=2").unwrap_err().0,
            "invalid query parameter `interval_ms`: given more than once"
        );
        assert_eq!(
            Params::parse("prompt=%E").unwrap_err().0,
            "invalid query parameter `prompt`: bad percent-encoding or not UTF-8"
        );
        assert_eq!(
            Params::parse("prompt=%C3%28").unwrap_err().0,
            "invalid query parameter `prompt`: bad percent-encoding or not UTF-8"
        );
        assert!(Params::parse("%zz=1").is_err());
        // Unknown parameters are ignored, whatever their value.
        assert_eq!(Params::parse("other=%zz").unwrap(), Params::default());
    }

    #[test]
    fn resume_points_never_overflow() {
        let id = |s: &'static str| EventId::from_static(s);
        assert_eq!(resume_ping(None).unwrap(), 0);
        assert_eq!(resume_ping(Some(&id("41"))).unwrap(), 42);
        assert!(resume_ping(Some(&id("18446744073709551615"))).is_err());
        assert!(resume_ping(Some(&id("18446744073709551616"))).is_err());
        assert!(resume_ping(Some(&id("-1"))).is_err());
        assert!(resume_ping(Some(&id("+1"))).is_err());
        assert!(
            chat(
                "hi",
                Duration::from_millis(1),
                Some(&id("18446744073709551615"))
            )
            .is_err()
        );
        assert!(chat("hi", Duration::from_millis(1), Some(&id("abc"))).is_err());
        let last = chat_answer("hi").split(' ').count() - 1;
        let last_id = EventId::new(last.to_string()).unwrap();
        assert!(chat("hi", Duration::from_millis(1), Some(&last_id)).is_ok());
        let past = EventId::new((last + 1).to_string()).unwrap();
        assert!(chat("hi", Duration::from_millis(1), Some(&past)).is_err());
    }

    #[test]
    fn routing_refuses_in_one_order() {
        let refusal = |answer: Answer| match answer {
            Answer::Refused(refusal) => refusal,
            other => panic!("refused: {other:?}"),
        };
        let none = std::iter::empty::<&[u8]>;
        assert_eq!(refusal(answer("POST", "/nope", "", none())).status, 404);
        let wrong_method = refusal(answer("POST", "/sse", "interval_ms=0", none()));
        assert_eq!(
            (wrong_method.status, wrong_method.header),
            (405, Some(("allow", ALLOW)))
        );
        assert_eq!(
            refusal(answer("HEAD", "/sse", "interval_ms=0", none())).status,
            400
        );
        assert!(matches!(
            answer("HEAD", "/", "interval_ms=0", none()),
            Answer::Page
        ));
        let twice = refusal(answer("GET", "/chat", "prompt=hi", [&b"1"[..], &b"2"[..]]));
        assert_eq!(
            twice.message,
            "invalid Last-Event-ID header: sent more than once"
        );
    }

    #[test]
    fn command_line() {
        let args = |list: &[&str]| options(list.iter().map(|s| (*s).to_owned()));
        assert_eq!(args(&["--addr", "127.0.0.1:0"]).unwrap().addr.port(), 0);
        assert_eq!(args(&["--addr=127.0.0.1:9"]).unwrap().addr.port(), 9);
        assert_eq!(args(&["--help"]).unwrap_err(), NoOptions::Help);
        assert_eq!(args(&["--addr", "x", "-h"]).unwrap_err(), NoOptions::Help);
        assert_eq!(
            args(&["--bogus"]).unwrap_err(),
            NoOptions::Usage("unknown argument \"--bogus\"".to_owned())
        );
        assert!(matches!(args(&["--addr"]), Err(NoOptions::Usage(_))));
        assert_eq!(args(&[]).unwrap().redis, None);
        let url = "redis://127.0.0.1:6379";
        assert_eq!(args(&["--redis", url]).unwrap().redis.as_deref(), Some(url));
        assert_eq!(
            args(&[&format!("--redis={url}")]).unwrap().redis.as_deref(),
            Some(url)
        );
        assert!(matches!(args(&["--redis"]), Err(NoOptions::Usage(_))));
        assert!(!args(&["--redis", url]).unwrap().redis_durable);
        assert!(
            args(&["--redis", url, "--redis-durable"])
                .unwrap()
                .redis_durable
        );
    }
}
