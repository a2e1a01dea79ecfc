//! The ssekit conformance suite.
//!
//! Scenarios ([`scenarios`]) are written once against `ssekit` and a
//! [`Framework`] driver; each framework contributes one small driver file in
//! [`frameworks`] that serves the [`fixtures`] on `127.0.0.1:0`. The test
//! binary `tests/conformance.rs` instantiates every scenario for every
//! framework, so test names read `axum::keep_alive_when_idle`.
//!
//! Clients are real: hyper's HTTP/1.1 and HTTP/2 clients, raw TCP where the
//! exact bytes matter, and an independent SSE parser in process ([`parser`]).

#![allow(
    clippy::expect_used,
    clippy::missing_panics_doc,
    reason = "test support: a step that fails fails the test, and its message says which step"
)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub mod client;
pub mod demo;
pub mod fixtures;
pub mod frameworks;
pub mod parser;
pub mod scenarios;

pub use fixtures::Fixtures;

/// A web framework under test.
pub trait Framework {
    /// The name used in test names and reports.
    const NAME: &'static str;

    /// Whether the framework's usual compression middleware (the one the
    /// driver puts in front) compresses `text/event-stream` responses; where
    /// it does not, they pass through uncompressed.
    const COMPRESSES_EVENT_STREAMS: bool;

    /// Serves the fixture routes on `127.0.0.1:0` until the returned server
    /// is dropped:
    ///
    /// - `GET /sse/{name}/{gate}` → [`Fixtures::sse`] through the adapter's
    ///   response type and `LastEventId` extractor;
    /// - `GET /chunked/{name}/{gate}` → [`Fixtures::chunked`] through the
    ///   adapter's chunked-body conversion;
    ///
    /// with the framework's usual compression middleware in front, and HTTP/2
    /// (h2c prior knowledge) where its server supports it.
    fn serve(fixtures: Arc<Fixtures>) -> impl Future<Output = TestServer> + Send;
}

/// A running test server; dropping it stops the server.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl TestServer {
    /// A server at `addr`, stopped by `stop`.
    pub fn new(addr: SocketAddr, stop: impl FnOnce() + Send + 'static) -> Self {
        Self {
            addr,
            stop: Some(Box::new(stop)),
        }
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// The longest a scenario may take.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a scenario with logging captured, bounded by [`SCENARIO_TIMEOUT`].
///
/// # Panics
///
/// When the scenario panics or times out.
pub async fn run(scenario: impl Future<Output = ()>) {
    init_logging();
    tokio::time::timeout(SCENARIO_TIMEOUT, scenario)
        .await
        .expect("the scenario finished within its time bound");
}

static LOGS: OnceLock<Arc<Mutex<String>>> = OnceLock::new();

#[derive(Clone)]
struct LogWriter(Arc<Mutex<String>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        eprint!("{text}");
        self.0.lock().expect("log buffer").push_str(&text);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the process-wide log capture (once).
pub fn init_logging() {
    let logs = LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(String::new()));
        let writer = LogWriter(Arc::clone(&buffer));
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        // Another subscriber may be set already (then logs are not captured and
        // the log assertions say so).
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    });
    let _ = logs;
}

/// Whether this process captures logs (another subscriber may have been
/// installed first).
pub fn logs_captured() -> bool {
    LOGS.get().is_some()
}

/// Whether anything logged so far contains `needle`.
pub fn logs_contain(needle: &str) -> bool {
    LOGS.get()
        .is_some_and(|logs| logs.lock().expect("log buffer").contains(needle))
}

/// The workspace README's code, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
