//! The independent SSE parser: npm's `eventsource-parser` (the parser behind
//! the `eventsource` package, which models browsers' `EventSource`), run by
//! Node.js in a child process (`tests/js/sse-parse.mjs`).
//!
//! Why not a Rust crate: `eventsource-stream` is unmaintained, fails on a
//! leading BOM and stalls on CR-only line endings; `reqwest-eventsource`
//! always sends an empty `Last-Event-ID`. eventsource-parser is maintained and
//! follows the WHATWG algorithm, including all three line endings and the BOM.

use std::path::PathBuf;
use std::process::Stdio;

use base64::Engine as _;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// What the parser reports, in stream order.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Parsed {
    /// A dispatched event, as a browser's `MessageEvent` would carry it.
    Event {
        /// The event type (`"message"` when no `event` field was given).
        #[serde(rename = "type")]
        ty: String,
        /// The data.
        data: String,
        /// The client's last event ID after this event.
        #[serde(rename = "lastEventId")]
        last_event_id: String,
    },
    /// A comment line's text.
    Comment {
        /// The text after `:` (and one space).
        text: String,
    },
    /// A valid `retry` field.
    Retry {
        /// Milliseconds.
        ms: u64,
    },
    /// Something the parser refused (an unknown field, a bad retry value).
    Error {
        /// eventsource-parser's error type.
        #[serde(rename = "type")]
        ty: String,
        /// Its message.
        message: String,
    },
    /// End of the answer to one request (internal).
    Ack,
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

/// One parser process; one stream at a time (see [`JsParser::reset`]).
#[derive(Debug)]
pub struct JsParser {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

impl JsParser {
    /// Starts `node tests/js/sse-parse.mjs`.
    ///
    /// # Panics
    ///
    /// When Node.js or the npm packages are missing, with the command that
    /// installs them.
    pub async fn start() -> Self {
        let dir = script();
        assert!(
            dir.join("node_modules/eventsource-parser").exists(),
            "the independent SSE parser is not installed: run `npm ci --prefix tests/js` \
             (cargo xtask ci does it)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("sse-parse.mjs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("Node.js (`node`) must be on PATH for the conformance suite");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        Self {
            _child: child,
            stdin,
            stdout,
        }
    }

    async fn request(&mut self, line: String) -> Vec<Parsed> {
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("write to parser");
        self.stdin.write_all(b"\n").await.expect("write to parser");
        self.stdin.flush().await.expect("flush parser");
        let mut out = Vec::new();
        loop {
            let line = self
                .stdout
                .next_line()
                .await
                .expect("read from parser")
                .expect("the parser process ended");
            let parsed: Parsed = serde_json::from_str(&line).expect("parser output is JSON");
            if parsed == Parsed::Ack {
                return out;
            }
            out.push(parsed);
        }
    }

    /// Feeds bytes of the stream; returns what they completed.
    pub async fn feed(&mut self, bytes: &[u8]) -> Vec<Parsed> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        self.request(format!(r#"{{"op":"feed","b64":"{b64}"}}"#))
            .await
    }

    /// Ends the stream (flushes a trailing partial UTF-8 sequence).
    pub async fn end(&mut self) -> Vec<Parsed> {
        self.request(r#"{"op":"end"}"#.to_owned()).await
    }

    /// Starts a new stream: fresh decoder, buffers and last event id.
    pub async fn reset(&mut self) {
        let rest = self.request(r#"{"op":"reset"}"#.to_owned()).await;
        assert!(rest.is_empty(), "reset reported {rest:?}");
    }

    /// Parses one whole stream from a fresh state.
    pub async fn parse_all(&mut self, bytes: &[u8]) -> Vec<Parsed> {
        self.reset().await;
        let mut out = self.feed(bytes).await;
        out.extend(self.end().await);
        out
    }
}
