//! The second independent SSE parser: npm's `eventsource-parser` (the parser
//! behind the `eventsource` package, which models browsers' `EventSource`),
//! run by Node.js in a child process (`tests/js/sse-parse.mjs`).
//!
//! It checks the cases where the in-process oracle (sse-stream, see
//! `ssekit_conformance::parser`) deviates from the spec, and reports comments.

use std::path::PathBuf;
use std::process::Stdio;

use base64::Engine as _;
use serde::Deserialize;
use ssekit_conformance::parser::Parsed;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// What the Node parser reports, in stream order.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum NodeParsed {
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

impl NodeParsed {
    /// The same item as the in-process oracle reports it; `None` for what it
    /// does not report (comments, and the errors eventsource-parser raises
    /// for unknown fields and bad retry values, which the spec ignores).
    pub fn as_oracle(&self) -> Option<Parsed> {
        match self {
            Self::Event {
                ty,
                data,
                last_event_id,
            } => Some(Parsed::Event {
                ty: ty.clone(),
                data: data.clone(),
                last_event_id: last_event_id.clone(),
            }),
            Self::Retry { ms } => Some(Parsed::Retry { ms: *ms }),
            Self::Comment { .. } | Self::Error { .. } | Self::Ack => None,
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
    crate::root().join("tests/js")
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
        let node = crate::require(
            "node",
            &[],
            "apt-get install -y nodejs npm (or any Node.js 18+ on PATH)",
        );
        assert!(
            dir.join("node_modules/eventsource-parser").exists(),
            "the Node SSE parser is not installed: run `npm ci --prefix tests/js` \
             (cargo xtask e2e does it)"
        );
        let mut child = Command::new(node)
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

    async fn request(&mut self, line: String) -> Vec<NodeParsed> {
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
            let parsed: NodeParsed = serde_json::from_str(&line).expect("parser output is JSON");
            if parsed == NodeParsed::Ack {
                return out;
            }
            out.push(parsed);
        }
    }

    /// Feeds bytes of the stream; returns what they completed.
    pub async fn feed(&mut self, bytes: &[u8]) -> Vec<NodeParsed> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        self.request(format!(r#"{{"op":"feed","b64":"{b64}"}}"#))
            .await
    }

    /// Ends the stream (flushes a trailing partial UTF-8 sequence).
    pub async fn end(&mut self) -> Vec<NodeParsed> {
        self.request(r#"{"op":"end"}"#.to_owned()).await
    }

    /// Starts a new stream: fresh decoder, buffers and last event id.
    pub async fn reset(&mut self) {
        let rest = self.request(r#"{"op":"reset"}"#.to_owned()).await;
        assert!(rest.is_empty(), "reset reported {rest:?}");
    }

    /// Parses one whole stream from a fresh state.
    pub async fn parse_all(&mut self, bytes: &[u8]) -> Vec<NodeParsed> {
        self.reset().await;
        let mut out = self.feed(bytes).await;
        out.extend(self.end().await);
        out
    }
}
