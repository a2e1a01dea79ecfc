//! The independent SSE parser: the [`sse-stream`](https://docs.rs/sse-stream)
//! crate (the decoder of the official MCP Rust SDK), run in process.
//!
//! sse-stream decodes raw event blocks; [`Oracle`] adds the one piece of
//! `EventSource` state the WHATWG algorithm keeps across blocks, the last
//! event ID string, so that what it reports is what a browser's
//! `MessageEvent`s carry. It was chosen after checking it against the spec's
//! parsing rules ([`spec_cases`], run by `tests/tests/oracle.rs`): line
//! endings CR, LF and CRLF (also split across reads), one leading BOM, one
//! leading space stripped, `retry` digits only, an `id` holding NUL ignored,
//! an unfinished block discarded at the end, a block without `data` not
//! dispatched, an empty `data` dispatched.
//!
//! Where it deviates from the spec (see [`SpecCase::rust_oracle_agrees`]):
//!
//! - invalid UTF-8 in a field ends the stream with an error; the spec decodes
//!   it to U+FFFD. ssekit writes only `&str`, so the conformance suite never
//!   sends any; the case is checked against Node's `eventsource-parser` by
//!   `cargo xtask e2e`.
//! - comments are not reported (`EventSource` does not report them either):
//!   scenarios that check keep-alive comments read them from the raw bytes.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_util::Stream;
use sse_stream::{Sse, SseByteStream};

/// What the parser reports, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A dispatched event, as a browser's `MessageEvent` would carry it.
    Event {
        /// The event type (`"message"` when no `event` field was given).
        ty: String,
        /// The data.
        data: String,
        /// The client's last event ID after this event.
        last_event_id: String,
    },
    /// A valid `retry` field.
    Retry {
        /// Milliseconds.
        ms: u64,
    },
    /// Something the parser refused (invalid UTF-8); the stream ends there.
    Error {
        /// The parser's message.
        message: String,
    },
}

impl Parsed {
    /// A `message` event with the given data and last event id.
    pub fn message(data: &str, last_event_id: &str) -> Self {
        Self::Event {
            ty: "message".to_owned(),
            data: data.to_owned(),
            last_event_id: last_event_id.to_owned(),
        }
    }

    /// The data, if this is an event.
    pub fn data(&self) -> Option<&str> {
        match self {
            Self::Event { data, .. } => Some(data),
            _ => None,
        }
    }
}

/// The bytes fed so far and not yet taken by the decoder.
#[derive(Debug, Default)]
struct Inbox {
    chunks: VecDeque<Bytes>,
    ended: bool,
}

/// The decoder's input: whatever [`Oracle::feed`] put in the shared inbox.
#[derive(Debug)]
struct Input(Arc<Mutex<Inbox>>);

impl Stream for Input {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut inbox = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match inbox.chunks.pop_front() {
            Some(chunk) => Poll::Ready(Some(Ok(chunk))),
            None if inbox.ended => Poll::Ready(None),
            // Polled again by `Oracle::drain` after the next feed.
            None => Poll::Pending,
        }
    }
}

/// One stream being parsed: feed it bytes in any chunking, read what they
/// completed.
pub struct Oracle {
    inbox: Arc<Mutex<Inbox>>,
    decoder: Pin<Box<SseByteStream<Input>>>,
    last_event_id: String,
    done: bool,
}

impl std::fmt::Debug for Oracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oracle")
            .field("last_event_id", &self.last_event_id)
            .finish_non_exhaustive()
    }
}

impl Default for Oracle {
    fn default() -> Self {
        Self::new()
    }
}

impl Oracle {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        Self {
            decoder: Box::pin(SseByteStream::new(Input(Arc::clone(&inbox)))),
            inbox,
            last_event_id: String::new(),
            done: false,
        }
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Feeds bytes of the stream; returns what they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Parsed> {
        self.inbox().chunks.push_back(Bytes::copy_from_slice(bytes));
        self.drain()
    }

    /// Ends the stream; returns what that completed (an unfinished block is
    /// discarded, as the spec says).
    pub fn end(&mut self) -> Vec<Parsed> {
        self.inbox().ended = true;
        self.drain()
    }

    /// The last event ID buffer, as a browser's `EventSource` keeps it: set
    /// by an `id` field even in a block that dispatches nothing (what it
    /// sends as `Last-Event-ID` when it reconnects).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Parses one whole stream from a fresh state.
    pub fn parse_all(bytes: &[u8]) -> Vec<Parsed> {
        let mut oracle = Self::new();
        let mut out = oracle.feed(bytes);
        out.extend(oracle.end());
        out
    }

    /// Decodes every block the input so far completes.
    fn drain(&mut self) -> Vec<Parsed> {
        let mut out = Vec::new();
        let mut cx = Context::from_waker(Waker::noop());
        while !self.done {
            match self.decoder.as_mut().poll_next(&mut cx) {
                Poll::Ready(Some(Ok(block))) => self.block(block, &mut out),
                Poll::Ready(Some(Err(err))) => {
                    out.push(Parsed::Error {
                        message: err.to_string(),
                    });
                    self.done = true;
                }
                Poll::Ready(None) => self.done = true,
                Poll::Pending => break,
            }
        }
        out
    }

    /// The WHATWG dispatch step for one block sse-stream decoded.
    fn block(&mut self, block: Sse, out: &mut Vec<Parsed>) {
        if let Some(id) = block.id {
            self.last_event_id = id;
        }
        if let Some(ms) = block.retry {
            out.push(Parsed::Retry { ms });
        }
        if let Some(data) = block.data {
            let ty = block
                .event
                .filter(|ty| !ty.is_empty())
                .unwrap_or_else(|| "message".to_owned());
            out.push(Parsed::Event {
                ty,
                data,
                last_event_id: self.last_event_id.clone(),
            });
        }
    }
}

/// One parsing rule of the WHATWG "interpreting an event stream" algorithm,
/// as input bytes and what `EventSource` reports for them.
#[derive(Debug)]
pub struct SpecCase {
    /// What the case checks.
    pub name: &'static str,
    /// The whole stream.
    pub input: &'static [u8],
    /// The events (and retry values) a spec-following parser reports.
    pub expected: Vec<Parsed>,
    /// Whether [`Oracle`] reports exactly `expected`. Where it does not, the
    /// case is documented here and checked against Node's parser in
    /// `cargo xtask e2e`.
    pub rust_oracle_agrees: bool,
}

/// The spec's parsing rules, as cases for any parser.
///
/// Spec: <https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>
pub fn spec_cases() -> Vec<SpecCase> {
    let m = Parsed::message;
    let case = |name, input, expected| SpecCase {
        name,
        input,
        expected,
        rust_oracle_agrees: true,
    };
    vec![
        case("lf line endings", b"data: a\n\n", vec![m("a", "")]),
        case("crlf line endings", b"data: a\r\n\r\n", vec![m("a", "")]),
        case(
            "cr line endings",
            b"data: a\r\rdata: b\r\r",
            vec![m("a", ""), m("b", "")],
        ),
        case(
            "mixed line endings",
            b"data: a\rdata: b\ndata: c\r\n\n",
            vec![m("a\nb\nc", "")],
        ),
        case(
            "leading bom is skipped",
            b"\xEF\xBB\xBFdata: a\n\n",
            vec![m("a", "")],
        ),
        case(
            "a second bom is content",
            b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n",
            vec![m("b", "")],
        ),
        case(
            "one leading space is stripped",
            b"data:  a\n\n",
            vec![m(" a", "")],
        ),
        case("no space is fine", b"data:a\n\n", vec![m("a", "")]),
        case(
            "several data lines join with lf",
            b"data: a\ndata:\ndata: b\n\n",
            vec![m("a\n\nb", "")],
        ),
        case(
            "empty data is dispatched",
            b"data\n\ndata:\n\n",
            vec![m("", ""), m("", "")],
        ),
        case(
            "a block without data is not dispatched",
            b"event: x\n\n",
            vec![],
        ),
        case(
            "event type",
            b"event: add\ndata: a\n\ndata: b\n\n",
            vec![
                Parsed::Event {
                    ty: "add".to_owned(),
                    data: "a".to_owned(),
                    last_event_id: String::new(),
                },
                m("b", ""),
            ],
        ),
        case(
            "the last event id persists and an empty id resets it",
            b"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
            vec![m("a", "1"), m("b", "1"), m("c", "")],
        ),
        case(
            "an id without data still sets the last event id",
            b"id: 7\n\ndata: a\n\n",
            vec![m("a", "7")],
        ),
        case(
            "an id holding nul is ignored",
            b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
            vec![m("a", "1"), m("b", "1")],
        ),
        case(
            "retry takes ascii digits only",
            b"retry: 1500\n\nretry: 15x\n\nretry: -1\n\nretry: \n\n",
            vec![Parsed::Retry { ms: 1500 }],
        ),
        case(
            "comments are ignored",
            b": hi\n:\ndata: a\n\n",
            vec![m("a", "")],
        ),
        case(
            "unknown fields are ignored",
            b"foo: bar\ndata: a\n\n",
            vec![m("a", "")],
        ),
        case(
            "the field name is the whole line without a colon",
            b"data\ndata: a\n\n",
            vec![m("\na", "")],
        ),
        case(
            "an unfinished block is discarded at the end",
            b"data: a\n\ndata: b\n",
            vec![m("a", "")],
        ),
        case(
            "data without a line ending is discarded at the end",
            b"data: a",
            vec![],
        ),
        SpecCase {
            name: "invalid utf-8 becomes U+FFFD",
            input: b"data: a\xFFb\n\n",
            expected: vec![m("a\u{FFFD}b", "")],
            rust_oracle_agrees: false,
        },
    ]
}
