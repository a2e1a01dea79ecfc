//! The fixture handlers, written once against `ssekit` only. Every framework
//! driver serves them unchanged:
//!
//! - `GET /sse/{name}/{gate}`: [`Fixtures::sse`], the adapter's response
//!   wrapper around the returned `EventStream`, the adapter's `LastEventId`
//!   extractor in front;
//! - `GET /chunked/{name}/{gate}`: [`Fixtures::chunked`], the adapter's
//!   chunked-body conversion.
//!
//! `gate` names a [`Gate`]: a gate the test opens to let a handler go on,
//! and a channel on which the handler reports what it observed. (Not to be
//! confused with the adapters' disconnect gate, which writes on idleness.)

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use ssekit::{ChunkedBody, Event, EventId, EventStream, EventType, KeepAlive};
use tokio::sync::{Semaphore, mpsc};

/// The stream type every SSE fixture returns.
pub type FixtureStream = Pin<Box<dyn Stream<Item = Result<Event, FixtureError>> + Send>>;
/// The stream type every chunked fixture returns.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// An error a fixture stream yields on purpose.
#[derive(Debug)]
pub struct FixtureError(pub String);

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FixtureError {}

/// A handler's refusal before the first event: an ordinary HTTP error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status code.
    pub status: u16,
    /// Plain-text body.
    pub message: String,
}

/// A gate and a report channel shared by a test and a fixture handler.
#[derive(Debug)]
pub struct Gate {
    gate: Semaphore,
    reports_tx: mpsc::UnboundedSender<String>,
    reports_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>,
}

impl Gate {
    /// Lets the handler pass one [`Gate::wait`].
    pub fn open(&self) {
        self.gate.add_permits(1);
    }

    /// Waits until the test calls [`Gate::open`].
    pub async fn wait(&self) {
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
    }

    /// Reports an observation to the test.
    pub fn report(&self, what: impl Into<String>) {
        let _ = self.reports_tx.send(what.into());
    }

    /// The next report, if one comes within `within`.
    pub async fn next_report(&self, within: Duration) -> Option<String> {
        let mut rx = self.reports_rx.lock().await;
        tokio::time::timeout(within, rx.recv()).await.ok().flatten()
    }
}

/// The state behind every fixture route.
#[derive(Debug, Default)]
pub struct Fixtures {
    gates: Mutex<HashMap<u64, Arc<Gate>>>,
    next: AtomicU64,
}

/// Data of the long one-line events of `large`: 96 KiB or so, no line
/// break (what `EventStream::pass_long_lines` hands on uncopied).
pub fn long_line_data() -> String {
    "one long line: ünïcødé and ✓ ".repeat(3000)
}

/// Data of the 1 MiB event of `large`.
pub fn large_data() -> String {
    let mut data = String::with_capacity(1 << 20);
    let mut i = 0u32;
    while data.len() < (1 << 20) - 64 {
        data.push_str(&format!("line {i:07} of a large event: ünïcødé and ✓\n"));
        i += 1;
    }
    data.truncate(data.trim_end_matches('\n').len());
    data
}

/// How many events the `burst` fixture has ready at once.
pub const BURST_EVENTS: usize = 300;

/// The data of event `i` of the `burst` fixture: about 1 KiB, so that the
/// burst (about 300 KiB) is several times the batching cap.
pub fn burst_data(i: usize) -> String {
    format!("{i:04} {}", "x".repeat(1000))
}

/// What the `fields` fixture sends, and what the client must see.
pub fn field_cases() -> Vec<(Event, crate::parser::Parsed)> {
    use crate::parser::Parsed;
    let ev = |ty: &str, data: &str, last: &str| Parsed::Event {
        ty: ty.to_owned(),
        data: data.to_owned(),
        last_event_id: last.to_owned(),
    };
    let ok = |r: Result<Event, ssekit::InvalidValue>| r.expect("valid fixture field");
    vec![
        (
            Event::new("line 1\nline 2\nline 3"),
            ev("message", "line 1\nline 2\nline 3", ""),
        ),
        (
            Event::new("crlf\r\nis one break"),
            ev("message", "crlf\nis one break", ""),
        ),
        (
            Event::new("x\revent: spoof"),
            ev("message", "x\nevent: spoof", ""),
        ),
        (
            Event::new("x\r\nid: 666\r\rdata: y"),
            ev("message", "x\nid: 666\n\ndata: y", ""),
        ),
        (Event::new("trailing\n"), ev("message", "trailing\n", "")),
        (
            Event::new(" leading space"),
            ev("message", " leading space", ""),
        ),
        (
            Event::new("ünïcødé ✓ 🚀 \u{2028} \u{feff}bom \0nul"),
            ev("message", "ünïcødé ✓ 🚀 \u{2028} \u{feff}bom \0nul", ""),
        ),
        (Event::new(""), ev("message", "", "")),
        (
            ok(Event::new("with id").try_id("42")),
            ev("message", "with id", "42"),
        ),
        (Event::new("keeps id"), ev("message", "keeps id", "42")),
        (
            ok(Event::new("empty id").try_id("")),
            ev("message", "empty id", ""),
        ),
        (
            Event::new("after comment").comment("comment 1\ncomment 2\r\ndata: not data"),
            ev("message", "after comment", ""),
        ),
        (
            Event::default().retry(Duration::from_millis(2500)),
            Parsed::Retry { ms: 2500 },
        ),
        (
            Event::new("typed").event(EventType::from_static("update")),
            ev("update", "typed", ""),
        ),
        (
            ok(ok(Event::new("first")
                .data("second")
                .event(EventType::from_static("a"))
                .event(EventType::from_static("b"))
                .try_id("1"))
            .try_id("2")),
            ev("b", "second", "2"),
        ),
        (
            Event::json(&serde_json::json!({"text": "multi\nline\r\n", "n": 1})).expect("json"),
            ev("message", r#"{"n":1,"text":"multi\nline\r\n"}"#, "2"),
        ),
    ]
}

/// The JSON messages of the `json` fixture.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[expect(non_snake_case, reason = "the field names of SEEDS 4's JSON messages")]
pub struct NameValue {
    /// `Name<i>`.
    pub Name: String,
    /// `Value<i>`.
    pub Value: String,
}

/// The messages the `json` fixture sends.
pub fn json_messages() -> Vec<NameValue> {
    (0..5)
        .map(|i| NameValue {
            Name: format!("Name{i}"),
            Value: if i == 3 {
                format!("Value{i}\nwith a newline")
            } else {
                format!("Value{i}")
            },
        })
        .collect()
}

/// Runs `f` on a task, giving it a sender; the stream yields what it sends.
fn pushed<F, Fut>(f: F) -> FixtureStream
where
    F: FnOnce(mpsc::Sender<Result<Event, FixtureError>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(f(tx));
    Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

impl Fixtures {
    /// New shared state.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A new gate, with its key for the route.
    pub fn gate(&self) -> (u64, Arc<Gate>) {
        let key = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let gate = Arc::new(Gate {
            gate: Semaphore::new(0),
            reports_tx,
            reports_rx: tokio::sync::Mutex::new(reports_rx),
        });
        self.gates
            .lock()
            .expect("gate map")
            .insert(key, Arc::clone(&gate));
        (key, gate)
    }

    fn get_gate(&self, key: u64) -> Arc<Gate> {
        self.gates
            .lock()
            .expect("gate map")
            .get(&key)
            .cloned()
            .unwrap_or_else(|| {
                // A route without a gate still works; its gate never opens.
                let (tx, rx) = mpsc::unbounded_channel();
                Arc::new(Gate {
                    gate: Semaphore::new(0),
                    reports_tx: tx,
                    reports_rx: tokio::sync::Mutex::new(rx),
                })
            })
    }

    /// The SSE fixture `name`.
    ///
    /// # Errors
    ///
    /// [`Refusal`] for an unknown fixture (404) and for `refuse` (401): a
    /// handler that fails before its first event answers a plain HTTP error.
    pub fn sse(
        &self,
        name: &str,
        gate: u64,
        last_event_id: Option<EventId>,
    ) -> Result<EventStream<FixtureStream>, Refusal> {
        let gate = self.get_gate(gate);
        let stream: FixtureStream = match name {
            "fields" => Box::pin(futures_util::stream::iter(
                field_cases().into_iter().map(|(e, _)| Ok(e)),
            )),
            "json" => {
                Box::pin(futures_util::stream::iter(json_messages().into_iter().map(
                    |m| Event::json(&m).map_err(|e| FixtureError(e.to_string())),
                )))
            }
            "gated" => pushed(|tx| async move {
                let _ = tx.send(Ok(Event::new("event 1"))).await;
                gate.wait().await;
                let _ = tx.send(Ok(Event::new("event 2"))).await;
            }),
            "idle" => {
                let stream = pushed(|tx| async move {
                    let _ = tx.send(Ok(Event::new("start"))).await;
                    gate.wait().await;
                    let _ = tx.send(Ok(Event::new("end"))).await;
                });
                return Ok(EventStream::new(stream)
                    .keep_alive(KeepAlive::new().interval(Duration::from_millis(50))));
            }
            "flowing" => {
                let stream = pushed(|tx| async move {
                    for i in 0..60 {
                        let _ = tx.send(Ok(Event::new(i.to_string()))).await;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                });
                // The adapters' disconnect gate (250 ms on actix-web and poem)
                // writes on idleness like keep-alive; give both the same 1 s so a
                // scheduling hiccup between events cannot look like idleness.
                return Ok(EventStream::new(stream)
                    .keep_alive(KeepAlive::new().interval(Duration::from_secs(1)))
                    .disconnect_probe(Some(Duration::from_secs(1))));
            }
            "disconnect" => {
                // The push channel a real handler uses; default keep-alive (15 s),
                // so nothing is written while the test waits for the report.
                let (tx, events) = ssekit::channel(4);
                tokio::spawn(async move {
                    if tx.send(Event::new("hello")).await.is_err() {
                        gate.report("send failed");
                        return;
                    }
                    tokio::select! {
                        () = tx.closed() => {
                            let failed = tx.send(Event::new("too late")).await.is_err();
                            gate.report(if failed { "closed" } else { "closed but send succeeded" });
                        }
                        () = tokio::time::sleep(Duration::from_secs(60)) => gate.report("not noticed"),
                    }
                });
                Box::pin(events.into_inner().map(Ok))
            }
            "retry" => {
                let events = futures_util::stream::iter([Ok(Event::new("after retry"))]);
                return Ok(EventStream::new(Box::pin(events) as FixtureStream)
                    .retry(Duration::from_millis(3000)));
            }
            "last-event-id" => {
                let data =
                    last_event_id.map_or_else(|| "<none>".to_owned(), |id| id.as_str().to_owned());
                Box::pin(futures_util::stream::iter([Ok(Event::new(data))]))
            }
            "burst" => Box::pin(futures_util::stream::iter(
                (0..BURST_EVENTS).map(|i| Ok(Event::new(burst_data(i)))),
            )),
            "large" => Box::pin(futures_util::stream::iter([
                Ok(Event::new(large_data())),
                Ok(Event::new(long_line_data()).id(1.into())),
                Ok(Event::new(long_line_data())),
                Ok(Event::new("after")),
            ])),
            "count" => pushed(|tx| async move {
                for i in 0..10_u64 {
                    let _ = tx.send(Ok(Event::new(i.to_string()).id(i.into()))).await;
                    tokio::task::yield_now().await;
                }
            }),
            "error-item" => Box::pin(futures_util::stream::iter([
                Ok(Event::new("before")),
                Err(FixtureError(format!(
                    "fixture failure #{}",
                    Arc::as_ptr(&gate) as usize
                ))),
                Ok(Event::new("after")),
            ])),
            "refuse" => {
                return Err(Refusal {
                    status: 401,
                    message: "no token".to_owned(),
                });
            }
            _ => {
                return Err(Refusal {
                    status: 404,
                    message: format!("no fixture {name:?}"),
                });
            }
        };
        Ok(EventStream::new(stream))
    }

    /// The chunked fixture `name`.
    ///
    /// # Errors
    ///
    /// [`Refusal`] 404 for an unknown fixture.
    pub fn chunked(&self, name: &str, gate: u64) -> Result<ChunkedBody<ChunkStream>, Refusal> {
        let gate = self.get_gate(gate);
        match name {
            "page" => {
                let (tx, mut rx) = mpsc::channel::<Bytes>(4);
                tokio::spawn(async move {
                    let _ = tx.send(Bytes::from_static(b"<html><body>")).await;
                    let _ = tx.send(Bytes::from_static(b"<h1>0</h1>")).await;
                    gate.wait().await;
                    let _ = tx.send(Bytes::from_static(b"<h1>1</h1>")).await;
                    let _ = tx.send(Bytes::from_static(b"</body></html>")).await;
                });
                let stream: ChunkStream =
                    Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
                Ok(ChunkedBody::html(stream))
            }
            _ => Err(Refusal {
                status: 404,
                message: format!("no fixture {name:?}"),
            }),
        }
    }
}

/// The error message the `error-item` fixture for `gate` logs.
pub fn error_item_message(gate: &Arc<Gate>) -> String {
    format!("fixture failure #{}", Arc::as_ptr(gate) as usize)
}
