//! The seed demos of `shared/SEEDS.md`, corrected, written once against
//! `ssekit` only. Each binary in `src/bin/` (`axum`, `actix-web`, `warp`,
//! `poem`) serves these same handlers on the same routes:
//!
//! | route | seed | what |
//! |---|---|---|
//! | `GET /` | | the demo page |
//! | `GET /chunk` | 1 | chunked HTML, `<h1>i</h1>` for i = 0..9, 1 s apart |
//! | `GET /sse` | 1 | `data: <now, RFC 3339>` every 2 s until the client leaves |
//! | `GET /ping` | 2 | `id`/`event: ping`/`data` every 500 ms until the client leaves |
//! | `GET /ai/sse` | 3 | `Hello, world!` three times, 2 s apart, then the end |
//! | `GET /count` | 4 | `data: i` for i = 0..99, 200 ms apart |
//! | `GET /stream` | 4 | 100 JSON messages, 200 ms apart |
//! | `GET /events` | 5 | `data: i` for i = 0..4, 1 s apart |
//! | `GET /format` | 5 | the format sequence: `message`, `update`, `new_data` |
//! | `GET /chat?prompt=…` | | an answer streamed word by word, then `event: done` |
//!
//! Every timed route takes `?interval_ms=N` instead of its seed's interval.
//!
//! What the seeds got wrong, and why it cannot happen here: the trailing space
//! in `event: ping ` (an [`EventType`] is taken literally and the handler uses
//! a `const` literal), the single newline after `data: i` (the encoder always
//! ends an event with the blank line), buffering behind nginx
//! (`X-Accel-Buffering: no` on every stream), and `Connection` over HTTP/2
//! (never sent).

use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, stream};
use serde::Deserialize;
use ssekit::{ChunkedBody, Event, EventId, EventStream, EventType};

/// The demo page, served at `/`.
pub const PAGE: &str = include_str!("../assets/index.html");

/// The stream type of every SSE demo.
pub type DemoStream = Pin<Box<dyn Stream<Item = Event> + Send>>;
/// The stream type of the chunked demo.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// Query parameters every route accepts.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Params {
    /// Replaces the route's interval, in milliseconds (at most one hour).
    pub interval_ms: Option<u64>,
    /// The chat prompt (`/chat`).
    pub prompt: Option<String>,
}

impl Params {
    fn interval(&self, seed: Duration) -> Duration {
        self.interval_ms
            .map_or(seed, |ms| Duration::from_millis(ms.min(3_600_000)))
    }
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
            Demo::Ping => ping(params.interval(Duration::from_millis(500))),
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
                    return Err(BadRequest("missing prompt: ask with /chat?prompt=...".to_owned()));
                }
                if prompt.chars().count() > MAX_PROMPT_CHARS {
                    return Err(BadRequest(format!("prompt longer than {MAX_PROMPT_CHARS} characters")));
                }
                chat(prompt, params.interval(Duration::from_millis(50)), last_event_id)
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

/// SEEDS 2: `id: <unix s>`, `event: ping` (no trailing space), `data: <unix s>`.
fn ping(interval: Duration) -> EventStream<DemoStream> {
    const PING: EventType = EventType::from_static("ping");
    let (tx, events) = ssekit::channel(4);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                () = tx.closed() => break,
                _ = tick.tick() => {
                    let now = unix_now().as_secs().to_string();
                    let Ok(event) = Event::new(now.clone()).event(PING).try_id(now) else { break };
                    if tx.send(event).await.is_err() {
                        break;
                    }
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
fn chat(
    prompt: &str,
    interval: Duration,
    last_event_id: Option<EventId>,
) -> EventStream<DemoStream> {
    const DONE: EventType = EventType::from_static("done");
    let answer = chat_answer(prompt);
    // Deltas concatenate to the answer: the first word, then " word" each.
    let deltas = answer.split(' ').enumerate().map(|(i, word)| {
        if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        }
    });
    let resume_after: Option<usize> = last_event_id.and_then(|id| id.as_str().parse().ok());
    let start = resume_after.map_or(0, |n| n + 1);
    let mut events: Vec<Event> = deltas
        .enumerate()
        .skip(start)
        .filter_map(|(i, delta)| {
            Event::json(&serde_json::json!({ "delta": delta }))
                .ok()
                .map(|e| {
                    e.id(EventId::new(i.to_string()).unwrap_or_else(|_| EventId::from_static("")))
                })
        })
        .collect();
    if let Ok(done) = Event::json(&serde_json::json!({"finish_reason": "stop"})) {
        events.push(done.event(DONE));
    }
    paced(events, interval, Pace::SleepFirst)
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
}

/// Parses `--addr ADDR` (or `--addr=ADDR`).
///
/// # Errors
///
/// A usage message for an unknown argument or a bad address.
pub fn options() -> Result<Options, String> {
    let mut addr = std::net::SocketAddr::from(([127, 0, 0, 1], 8080));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.split_once('=') {
            Some(("--addr", value)) => value.to_owned(),
            None if arg == "--addr" => args.next().ok_or("--addr needs a value")?,
            _ => {
                return Err(format!(
                    "unknown argument {arg:?}\nusage: [--addr 127.0.0.1:8080]"
                ));
            }
        };
        addr = value
            .parse()
            .map_err(|e| format!("bad --addr {value:?}: {e}"))?;
    }
    Ok(Options { addr })
}

/// Parses the options, binds the listening socket and announces it: the
/// start of every demo binary. The socket is non-blocking, so any runtime can
/// adopt it. On failure, says why and gives the exit code.
///
/// # Errors
///
/// Exit code 2 for a usage error, 1 when the address cannot be bound.
pub fn listen(framework: &str) -> Result<std::net::TcpListener, std::process::ExitCode> {
    let options = options().map_err(|usage| {
        eprintln!("{usage}");
        std::process::ExitCode::from(2)
    })?;
    let listener = std::net::TcpListener::bind(options.addr)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|err| {
            eprintln!("cannot listen on {}: {err}", options.addr);
            std::process::ExitCode::FAILURE
        })?;
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
/// line to find an ephemeral port).
fn announce(framework: &str, addr: std::net::SocketAddr) {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .try_init();
    println!("ssekit {framework} demo listening on http://{addr}/");
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
