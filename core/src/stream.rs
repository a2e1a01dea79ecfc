//! [`EventStream`]: any stream of events as a stream of wire bytes, with
//! keep-alive, an initial `retry` and batching of events that are ready
//! together.

use std::fmt;
use std::future::Future as _;
use std::mem;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::encode;
use crate::event::{EncodedEvent, Event};
use crate::shutdown::{Shutdown, ShutdownSignal};

mod sealed {
    pub trait Sealed {}
}

/// What an [`EventStream`] accepts as stream items: [`Event`],
/// [`EncodedEvent`], or a `Result` of either whose error implements
/// [`std::error::Error`].
///
/// An `Err` item ends the response: it is logged through `tracing` at the
/// `error` level and the body ends cleanly after the events before it.
///
/// The trait is sealed: raw bytes cannot be passed off as an event, so every
/// byte an `EventStream` writes comes from ssekit's encoder.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an SSE event",
    label = "this stream yields `{Self}`, not events",
    note = "an `EventStream` needs a stream of `ssekit::Event` or `ssekit::EncodedEvent`, or of `Result<_, E>` of those with `E: std::error::Error`",
    note = "map your items first, e.g. `stream.map(ssekit::Event::new)` for text"
)]
pub trait EventItem: sealed::Sealed {
    /// The event, or the error that ends the stream, already logged.
    #[doc(hidden)]
    fn into_frame(self) -> Result<Frame, ItemFailed>;
}

/// One item, ready to be written: an event still to be encoded, or the bytes
/// of an [`EncodedEvent`].
#[doc(hidden)]
#[derive(Debug)]
pub enum Frame {
    /// Encoded straight into the frame being built.
    Event(Event),
    /// Already encoded, shared.
    Encoded(Bytes),
}

/// Marker for an item that ended the stream; the cause is already logged.
#[doc(hidden)]
#[derive(Debug)]
pub struct ItemFailed(());

impl sealed::Sealed for Event {}
impl EventItem for Event {
    #[inline]
    fn into_frame(self) -> Result<Frame, ItemFailed> {
        Ok(Frame::Event(self))
    }
}

impl sealed::Sealed for EncodedEvent {}
impl EventItem for EncodedEvent {
    #[inline]
    fn into_frame(self) -> Result<Frame, ItemFailed> {
        Ok(Frame::Encoded(self.0))
    }
}

impl<T: EventItem, E: std::error::Error> sealed::Sealed for Result<T, E> {}
impl<T: EventItem, E: std::error::Error> EventItem for Result<T, E> {
    #[inline]
    fn into_frame(self) -> Result<Frame, ItemFailed> {
        match self {
            Ok(item) => item.into_frame(),
            Err(error) => Err(item_failed(&error)),
        }
    }
}

/// Logs an item's error: out of line, so that the path of every event stays
/// small enough to inline.
#[cold]
#[inline(never)]
fn item_failed(error: &dyn std::error::Error) -> ItemFailed {
    tracing::error!(
        error = %ErrorChain(error),
        "ssekit: the event stream yielded an error; ending the response"
    );
    ItemFailed(())
}

/// Displays an error with its sources: `outer: inner: innermost`.
struct ErrorChain<'a>(&'a dyn std::error::Error);

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Keep-alive: a comment line written after a period without events, so that
/// proxies and load balancers that cut idle connections leave the stream open,
/// and so that a client that has gone away is noticed by the next write.
///
/// The default writes `:\n` after 15 seconds of idleness. It is a lone comment
/// line, *not* followed by a blank line: every client ignores it, whereas
/// `: ping\n\n` (comment plus blank line) is surfaced as an empty message by
/// some clients (fetch-event-source, httpx-sse). Every event sent restarts the
/// timer, so no keep-alive is written while events flow.
///
/// ```
/// use std::time::Duration;
/// use ssekit::KeepAlive;
///
/// let keep_alive = KeepAlive::new().interval(Duration::from_secs(5)).text("keep-alive");
/// assert_eq!(keep_alive.get_interval(), Duration::from_secs(5));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct KeepAlive {
    interval: Duration,
    bytes: Bytes,
}

impl KeepAlive {
    /// The shortest interval; shorter ones are raised to it.
    pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

    /// The longest interval, a day; longer ones are lowered to it (for no
    /// keep-alive at all, use [`EventStream::without_keep_alive`]).
    pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

    /// `:\n` after 15 seconds of idleness.
    pub fn new() -> Self {
        Self {
            interval: Duration::from_secs(15),
            bytes: Bytes::from_static(b":\n"),
        }
    }

    /// Sets how long the stream may be idle before a keep-alive is written;
    /// at least [`KeepAlive::MIN_INTERVAL`], at most
    /// [`KeepAlive::MAX_INTERVAL`].
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.clamp(Self::MIN_INTERVAL, Self::MAX_INTERVAL);
        self
    }

    /// Sets the comment text (`: <text>\n`; several lines if it has line
    /// breaks, never a field).
    pub fn text(mut self, text: &str) -> Self {
        self.bytes = encode::comment_lines(text);
        self
    }

    /// The idle interval.
    #[must_use]
    pub fn get_interval(&self) -> Duration {
        self.interval
    }

    /// The bytes written on each keep-alive.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes written on each keep-alive, shared.
    pub(crate) fn frame(&self) -> Bytes {
        self.bytes.clone()
    }
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for KeepAlive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeepAlive")
            .field("interval", &self.interval)
            .field("bytes", &String::from_utf8_lossy(&self.bytes))
            .finish()
    }
}

/// The most bytes of ready events joined into one frame.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// From this size on, an event is not joined with others: an
/// [`EncodedEvent`] is handed on as its own shared `Bytes`, uncopied, and an
/// [`Event`] that would not fit in the frame being built is encoded into an
/// allocation of its own rather than growing (and so copying) the frame.
/// Below it, joining saves the framework a chunk header, an iovec and a poll
/// per event, which costs more than copying the bytes.
pub(crate) const SHARE_THRESHOLD: usize = 8 * 1024;

pin_project! {
    /// A stream of events, as the stream of wire bytes a response body writes.
    ///
    /// Wraps any [`Stream`] whose items are [`EventItem`]s: [`Event`],
    /// [`EncodedEvent`], or `Result` of those. Each web framework's ssekit
    /// adapter turns an `EventStream` into a response with the headers of
    /// [`crate::RESPONSE_HEADERS`].
    ///
    /// - **Keep-alive**: on by default, see [`KeepAlive`].
    /// - **Initial `retry`**: [`EventStream::retry`] sends `retry: <ms>` first.
    /// - **Batching**: small events that are ready at the same time are
    ///   encoded into one frame (up to 64 KiB), which saves the framework a
    ///   chunk and a poll per event under load; an event of 8 KiB or more is
    ///   its own frame, and an [`EncodedEvent`] of that size is handed on as
    ///   its shared bytes, never copied. An event that is ready never waits
    ///   for one that is not.
    /// - **End of stream**: when the inner stream ends, the body ends cleanly
    ///   (the final chunk is written, the HTTP/2 stream closed). A browser's
    ///   `EventSource` then reconnects after its retry time, sending
    ///   `Last-Event-ID`; answer `204 No Content` to such a request to make it
    ///   stop for good. An `Err` item ends the body in the same way, after
    ///   logging the error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_util::{stream, StreamExt};
    /// use ssekit::{Event, EventStream, KeepAlive};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let events = stream::iter(["a", "b"]).map(Event::new);
    /// let mut body = EventStream::new(events)
    ///     .retry(Duration::from_secs(3))
    ///     .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)));
    ///
    /// assert_eq!(&body.next().await.unwrap()[..], b"retry: 3000\n\n");
    /// assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\ndata: b\n\n");
    /// assert!(body.next().await.is_none());
    /// # }
    /// ```
    #[must_use = "streams do nothing unless polled; return it from a handler"]
    pub struct EventStream<S> {
        #[pin]
        inner: S,
        // Boxed so that the stream is `Unpin` whenever `S` is; made on the
        // first idle poll, so a stream that never idles never allocates it.
        timer: Option<Pin<Box<Sleep>>>,
        // When the last frame was written, if after the timer was set (with
        // coalescing, always); while a burst gathers on the keep-alive's
        // timer, the time of the write the keep-alive is due after.
        last_frame: Option<Instant>,
        // Keep-alive, probe, coalescing: shared by the streams that keep
        // the same ones (see `Settings`).
        settings: Arc<Settings>,
        // Whether a long data line is handed on uncopied (see
        // `EventStream::pass_long_lines`).
        long_lines: bool,
        // A frame written on the next poll: the `retry` preamble before
        // anything else, later a large frame taken after a batch.
        pending: Option<Bytes>,
        // The pending frame is such a line: its line and event end (`\n\n`)
        // come next, before anything else.
        line_open: bool,
        shutdown: Option<ShutdownSignal>,
        // Buffers of batches already handed on, to build the next batches
        // in once the framework has written them; empty while idle.
        spares: Spares,
        done: bool,
        turn: Turn,
    }
}

/// Where the stream is between bursts of events (for
/// [`EventStream::coalesce`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Turn {
    /// Handing events on, or about to look for them.
    Busy,
    /// The last poll found nothing to hand on.
    Idle,
    /// Woken after an idle turn: waiting for the burst to gather.
    Gathering,
}

/// The disconnect probe: unset (an adapter may choose), off, or an interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    Unset,
    Off,
    Every(Duration),
}

/// What a probe writes when keep-alive is off: a lone comment line.
static PROBE: Bytes = Bytes::from_static(b":\n");

/// What a stream is set to, apart from its state. Streams keep a shared
/// one (`EventStream::new`'s defaults, or those without keep-alive, as a
/// hub's streams have) until a setter changes them to others, which gives
/// the stream its own copy: 8 bytes per stream instead of 72. (A setting an adapter
/// sets on every stream would give each stream its own copy: the long
/// lines flag, which actix-web's sets, stays the stream's own.)
#[derive(Clone, Debug, PartialEq, Eq)]
struct Settings {
    keep_alive: Option<KeepAlive>,
    probe: Probe,
    /// How long the first event after an idle turn waits for others to
    /// leave with it, in microseconds; 0: not at all.
    coalesce_us: u32,
}

/// `EventStream::new`'s settings, shared.
static DEFAULT_SETTINGS: LazyLock<Arc<Settings>> = LazyLock::new(|| {
    Arc::new(Settings {
        keep_alive: Some(KeepAlive::new()),
        probe: Probe::Unset,
        coalesce_us: 0,
    })
});

/// The default settings without keep-alive, shared.
static QUIET_SETTINGS: LazyLock<Arc<Settings>> = LazyLock::new(|| {
    Arc::new(Settings {
        keep_alive: None,
        ..(**DEFAULT_SETTINGS).clone()
    })
});

impl<S> EventStream<S>
where
    S: Stream,
    S::Item: EventItem,
{
    /// Wraps a stream of events, with the default [`KeepAlive`].
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            timer: None,
            last_frame: None,
            settings: Arc::clone(&DEFAULT_SETTINGS),
            long_lines: false,
            pending: None,
            line_open: false,
            shutdown: None,
            spares: Spares::default(),
            done: false,
            turn: Turn::Busy,
        }
    }
}

impl<S> EventStream<S> {
    /// Changes the stream's settings: to a shared copy when they come out
    /// as one of the shared ones, else to its own (made only if it had none).
    fn update(&mut self, change: impl FnOnce(&mut Settings)) {
        let mut next = (*self.settings).clone();
        change(&mut next);
        if next == *self.settings {
            return;
        }
        let shared = [&*DEFAULT_SETTINGS, &*QUIET_SETTINGS];
        if let Some(shared) = shared.into_iter().find(|s| s.as_ref() == &next) {
            self.settings = Arc::clone(shared);
        } else if let Some(own) = Arc::get_mut(&mut self.settings) {
            *own = next;
        } else {
            self.settings = Arc::new(next);
        }
    }

    /// Sets the keep-alive.
    pub fn keep_alive(mut self, keep_alive: KeepAlive) -> Self {
        self.update(|settings| settings.keep_alive = Some(keep_alive));
        self
    }

    /// Turns keep-alive off: nothing is written while the inner stream is idle
    /// (and a client that left is noticed only on the next event).
    pub fn without_keep_alive(mut self) -> Self {
        self.update(|settings| settings.keep_alive = None);
        self
    }

    /// Sets the disconnect probe: while the stream is idle, a lone comment
    /// line (`:\n`, or the keep-alive text) every `interval`, whatever the
    /// keep-alive interval; `None` turns it off.
    ///
    /// Some servers (actix-web; poem) keep writing a response after the
    /// client has closed its side and notice that it left only when a write
    /// fails, which over TCP is the second write after the client left. A
    /// probe bounds that: the client's departure is noticed within about two
    /// intervals, so a handler waiting on [`Sender::closed`](crate::Sender::closed)
    /// stops even while it has nothing to send. It costs a write per idle
    /// stream per interval, so no adapter sets one by default: the actix-web
    /// and poem adapters notice the client's FIN without writing
    /// (`ssekit_actix_web::on_connect`, `ssekit_poem::NoticeDepartures`), and
    /// this is the opt-in fallback where they cannot (e.g. actix-web over TLS).
    pub fn disconnect_probe(mut self, interval: Option<Duration>) -> Self {
        let probe = match interval {
            Some(interval) => {
                Probe::Every(interval.clamp(KeepAlive::MIN_INTERVAL, KeepAlive::MAX_INTERVAL))
            }
            None => Probe::Off,
        };
        self.update(|settings| settings.probe = probe);
        self
    }

    /// Sets the disconnect probe to `interval` unless
    /// [`EventStream::disconnect_probe`] was called: for adapters of servers
    /// that notice a departed client only when a write fails.
    pub fn default_disconnect_probe(self, interval: Duration) -> Self {
        if self.settings.probe == Probe::Unset {
            self.disconnect_probe(Some(interval))
        } else {
            self
        }
    }

    /// The disconnect probe interval in force, if any.
    #[must_use]
    pub fn get_disconnect_probe(&self) -> Option<Duration> {
        match self.settings.probe {
            Probe::Every(interval) => Some(interval),
            Probe::Unset | Probe::Off => None,
        }
    }

    /// Woken after an idle turn, with coalescing on: whether to wait for the
    /// burst to gather, the timer set if so. An event `delay` or more after
    /// the last write goes at once; a sooner one waits until `delay` after
    /// that write, but never past the keep-alive's (or probe's) due time (so
    /// a keep-alive that is due waits for nothing). With a
    /// keep-alive the last write is read off its timer (see the idle part of
    /// `poll_next`) and kept in `last_frame` while the timer serves the
    /// wait; without one, `last_frame` holds it.
    fn gather(
        timer: &mut Option<Pin<Box<Sleep>>>,
        last_frame: &mut Option<Instant>,
        idle_interval: Option<Duration>,
        delay: Duration,
    ) -> Turn {
        let last_write = match (timer.as_ref(), idle_interval) {
            (Some(timer), Some(interval)) => {
                last_frame.or_else(|| timer.deadline().checked_sub(interval))
            }
            _ => *last_frame,
        };
        let Some(last) = last_write else {
            return Turn::Busy;
        };
        let wake_at = last + idle_interval.map_or(delay, |interval| delay.min(interval));
        if wake_at <= Instant::now() {
            return Turn::Busy;
        }
        *last_frame = Some(last);
        match timer {
            Some(timer) => timer.as_mut().reset(wake_at),
            None => *timer = Some(Box::pin(tokio::time::sleep_until(wake_at))),
        }
        Turn::Gathering
    }

    /// How long the stream may be idle before something is written, and what.
    /// (Borrowed: most polls only look at it; the bytes are cloned when
    /// written.)
    fn idle_write(keep_alive: Option<&KeepAlive>, probe: Probe) -> Option<(Duration, &Bytes)> {
        let probe = match probe {
            Probe::Every(interval) => Some(interval),
            Probe::Unset | Probe::Off => None,
        };
        match (keep_alive, probe) {
            (None, None) => None,
            (Some(k), None) => Some((k.interval, &k.bytes)),
            (None, Some(p)) => Some((p, &PROBE)),
            (Some(k), Some(p)) => Some((k.interval.min(p), &k.bytes)),
        }
    }

    /// Hands the data of a long event (one line of 32 KiB or more, no line
    /// break) on as it is, as a frame of its own between the lines before it
    /// and its end, instead of copying it behind its `data: ` prefix. The
    /// bytes on the wire are the same; there are three frames where there
    /// was one. Off by default: it pays where the server copies every frame
    /// into its own write buffer anyway (actix-web, whose adapter turns it
    /// on), not where the server writes frames as they are (hyper).
    ///
    /// ```
    /// use futures_util::StreamExt as _;
    /// # tokio_test_block_on(async {
    /// let long = "x".repeat(64 * 1024);
    /// let at = long.as_ptr();
    /// let events = futures_util::stream::iter([ssekit::Event::new(long)]);
    /// let frames: Vec<_> = ssekit::EventStream::new(events)
    ///     .pass_long_lines(true)
    ///     .collect()
    ///     .await;
    /// assert_eq!(&frames[0][..], b"data: ");
    /// assert_eq!(frames[1].as_ptr(), at); // the event's own data, not a copy
    /// assert_eq!(&frames[2][..], b"\n\n");
    /// # });
    /// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
    /// # }
    /// ```
    pub fn pass_long_lines(mut self, on: bool) -> Self {
        self.long_lines = on;
        self
    }

    /// Starts the stream with `retry: <ms>`, telling the client how long to
    /// wait before it reconnects. Written as soon as the body is polled (on
    /// a stream already polled: before its next frame, or, in the middle of
    /// a long data line, not at all, as it cannot go inside an event).
    pub fn retry(mut self, retry: Duration) -> Self {
        if self.line_open {
            return self;
        }
        let preamble = encode::encode(&Event::default().retry(retry));
        self.pending = Some(match self.pending.take() {
            None => preamble,
            Some(frame) => {
                let mut joined = BytesMut::with_capacity(preamble.len() + frame.len());
                joined.extend_from_slice(&preamble);
                joined.extend_from_slice(&frame);
                joined.freeze()
            }
        });
        self
    }

    /// Lets the events of a burst leave together: an event that comes less
    /// than `delay` after the stream's last write (with a keep-alive, or
    /// after the stream first went idle) waits until `delay` after it, and
    /// then it and every event that came meanwhile are handed on at once, as
    /// one write. An event after a quieter spell goes at once, and
    /// a stream that always has events ready never waits. `Duration::ZERO`
    /// (the default) turns it off. Delays are kept to the microsecond, up to
    /// about 71 minutes.
    ///
    /// It trades latency for writes: each write is a system call, and with
    /// many subscribers to a busy topic they are most of a server's work. A
    /// stream that receives events more often than every `delay` is written
    /// about once per `delay`, each event (and the stream's end) up to
    /// `delay` late. The keep-alive keeps its interval: a wait ends when the
    /// stream's keep-alive is due (a hub stream has none of its own: the
    /// hub's keep-alive goes through the wait like an event, and the wait
    /// takes a timer of its own). For a hub subscription, what waits is still in its
    /// queue, whose byte bound
    /// ([`HubBuilder::subscriber_queue_bytes`](crate::HubBuilder::subscriber_queue_bytes))
    /// must hold what the topic publishes in `delay`, with room to spare, or
    /// the subscriber is dropped as slow. A [`shutdown`](Self::shutdown)
    /// does not wait for a burst to gather: what has gathered is written at
    /// once, then the final event.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_util::StreamExt as _;
    /// # tokio::runtime::Builder::new_current_thread()
    /// #     .enable_all().start_paused(true).build().unwrap().block_on(async {
    /// let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<ssekit::Event>();
    /// let events = futures_util::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|e| (e, rx)) });
    /// let mut stream = Box::pin(ssekit::EventStream::new(events).coalesce(Duration::from_millis(20)));
    /// let start = tokio::time::Instant::now();
    /// tokio::spawn(async move {
    ///     for text in ["a", "b", "c"] {
    ///         tx.send(ssekit::Event::new(text)).unwrap();
    ///         tokio::time::sleep(Duration::from_millis(5)).await;
    ///     }
    /// });
    /// let frame = stream.next().await.unwrap();
    /// assert_eq!(&frame[..], b"data: a\n\ndata: b\n\ndata: c\n\n"); // one write
    /// assert_eq!(start.elapsed(), Duration::from_millis(20));
    /// # });
    /// ```
    pub fn coalesce(mut self, delay: Duration) -> Self {
        let us = u32::try_from(delay.as_micros()).unwrap_or(u32::MAX);
        self.update(|settings| settings.coalesce_us = us);
        self
    }

    /// Ends the stream when the application shuts down: once the
    /// [`Shutdown`]'s token is cancelled, the stream writes its final event
    /// (by default a jittered `retry:` hint) and the body ends cleanly.
    /// Events the inner stream has ready then (a hub subscriber's queue, a
    /// channel's backlog: up to 1 MiB) are written first, so a subscriber
    /// still connected gets what was published before the shutdown; events
    /// the inner stream would have to wait for are not, and a hub
    /// subscriber resumes them from history when it reconnects.
    ///
    /// Takes a [`Shutdown`] or, for the default final event, its
    /// [`CancellationToken`](crate::CancellationToken) alone (as
    /// [`ChunkedBody::shutdown`](crate::ChunkedBody::shutdown) does):
    ///
    /// ```
    /// use ssekit::{CancellationToken, Event, EventStream};
    /// use futures_util::StreamExt as _;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let token = CancellationToken::new();
    /// let events = futures_util::stream::pending::<Event>();
    /// let mut stream = Box::pin(EventStream::new(events).shutdown(token.clone()));
    /// token.cancel(); // on SIGTERM
    /// let last = stream.next().await.unwrap();
    /// assert!(last.starts_with(b"retry: "));
    /// assert!(stream.next().await.is_none()); // the body ends
    /// # });
    /// ```
    pub fn shutdown(mut self, shutdown: impl Into<Shutdown>) -> Self {
        self.shutdown = Some(shutdown.into().into_signal());
        self
    }

    /// The keep-alive in force, if any.
    #[must_use]
    pub fn get_keep_alive(&self) -> Option<&KeepAlive> {
        self.settings.keep_alive.as_ref()
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner stream.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> fmt::Debug for EventStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("inner", &std::any::type_name::<S>())
            .field("keep_alive", &self.settings.keep_alive)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// The frame being built from the events that are ready together.
/// The capacity of a batch buffer: a whole batch plus the event that ends it.
const BATCH_CAPACITY: usize = MAX_BATCH_BYTES + SHARE_THRESHOLD;

/// The first capacity of a batch being joined when no spare is free.
const MIN_JOINED: usize = 4 * 1024;

/// How many batch buffers a busy stream keeps for reuse.
const MAX_SPARES: usize = 8;

/// Buffers of frames already handed on, each the empty rest of a batch
/// buffer, sharing its allocation. Once the framework has written and dropped
/// a frame, its buffer is reclaimed whole for the next batch: no allocation,
/// and memory that is already mapped and in cache (a fresh 72 KiB allocation
/// per batch costs the allocator's trim and the kernel's page faults every
/// time). A stream keeps spares only while it is busy: they are dropped as
/// soon as it waits for events.
#[derive(Default)]
#[expect(
    clippy::box_collection,
    reason = "8 bytes in every stream instead of the Vec's 24; allocated only by streams of large batches"
)]
struct Spares(Option<Box<Vec<BytesMut>>>);

impl Spares {
    /// An empty buffer of [`BATCH_CAPACITY`] whose frame is gone, if any.
    fn reclaim(&mut self) -> Option<BytesMut> {
        let spares = self.0.as_mut()?;
        let i = spares
            .iter_mut()
            .position(|spare| spare.try_reclaim(BATCH_CAPACITY))?;
        Some(spares.swap_remove(i))
    }

    /// An empty buffer of [`BATCH_CAPACITY`]: a spare whose frame is gone,
    /// or a new one.
    fn take(&mut self) -> BytesMut {
        self.reclaim()
            .unwrap_or_else(|| BytesMut::with_capacity(BATCH_CAPACITY))
    }

    /// Encodes an event too large to join a batch into a frame of its own:
    /// in a batch buffer when it fills at least half of one (so a queued
    /// frame never holds more than twice its size), else in an exactly
    /// sized allocation.
    fn encode_large(&mut self, event: &Event, hint: usize) -> Bytes {
        if !(BATCH_CAPACITY / 2..=BATCH_CAPACITY).contains(&hint) {
            return encode::encode(event);
        }
        let mut buf = self.take();
        encode::encode_into(event, hint, &mut buf);
        let frame = buf.split().freeze();
        self.keep(buf);
        frame
    }

    /// Keeps the rest of a batch buffer whose frame was just split off.
    fn keep(&mut self, rest: BytesMut) {
        let spares = self.0.get_or_insert_default();
        if spares.len() == MAX_SPARES {
            spares.swap_remove(0);
        }
        spares.push(rest);
    }

    fn clear(&mut self) {
        self.0 = None;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |spares| spares.len())
    }
}

/// What follows a batch as a frame of its own.
enum Large {
    /// A whole encoded event.
    Frame(Bytes),
    /// The data of one long line, uncopied: the batch ends with the lines
    /// before it, and [`encode::LONG_LINE_END`] comes after it.
    Line(Bytes),
}

#[derive(Default)]
struct Batch {
    /// Encoded events joined so far.
    joined: BytesMut,
    /// A lone small [`EncodedEvent`], not yet copied: if nothing joins it,
    /// it is handed on as it is.
    held: Option<Bytes>,
}

impl Batch {
    #[inline]
    fn len(&self) -> usize {
        self.joined.len() + self.held.as_ref().map_or(0, Bytes::len)
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.held.is_none()
    }

    /// Adds a frame; returns it as its own `Bytes` instead when it is large:
    /// it must then follow the batch, which ends. With `long_lines`, the
    /// data of one long line is handed on as it is.
    #[inline]
    fn push(&mut self, frame: Frame, spares: &mut Spares, long_lines: bool) -> Option<Large> {
        match frame {
            Frame::Event(mut event) => {
                let hint = encode::size_hint(&event);
                if hint >= SHARE_THRESHOLD {
                    if let Some(line) = long_lines
                        .then(|| encode::take_long_line(&mut event))
                        .flatten()
                    {
                        // The lines before the data end this batch; the data
                        // follows as it is.
                        self.make_room(spares, hint - line.len());
                        encode::encode_head_into(&event, &mut self.joined);
                        return Some(Large::Line(line));
                    }
                    return Some(Large::Frame(spares.encode_large(&event, hint)));
                }
                self.make_room(spares, hint);
                encode::encode_into(&event, hint, &mut self.joined);
                None
            }
            Frame::Encoded(bytes) => {
                if bytes.len() >= SHARE_THRESHOLD {
                    Some(Large::Frame(bytes))
                } else if self.is_empty() {
                    self.held = Some(bytes);
                    None
                } else {
                    self.make_room(spares, bytes.len());
                    self.joined.extend_from_slice(&bytes);
                    None
                }
            }
        }
    }

    /// Before a small event of about `need` bytes is joined: when it is the
    /// second one, moves the batch into a buffer with room for a whole batch
    /// if a spare is free (so the frame is not copied as it grows), else
    /// makes room for a few events at a time. A lone event keeps an exactly
    /// sized allocation.
    #[inline]
    fn make_room(&mut self, spares: &mut Spares, need: usize) {
        // Most calls: the first event, or a batch already in a whole buffer.
        if self.held.is_none()
            && (self.joined.is_empty() || self.joined.capacity() >= MAX_BATCH_BYTES)
        {
            return;
        }
        self.grow(spares, need);
    }

    /// [`make_room`](Self::make_room) for a batch not yet in a whole buffer
    /// or with a lone event held.
    #[inline(never)]
    fn grow(&mut self, spares: &mut Spares, need: usize) {
        if self.joined.capacity() < MAX_BATCH_BYTES {
            let len = self.len();
            // Room for the held event (if any) and this one?
            let short = self.joined.capacity() < len + need;
            let grown = (len * 8).clamp(MIN_JOINED, BATCH_CAPACITY);
            // A written batch buffer if one is free; a whole batch buffer
            // (which becomes a spare when the frame is handed on) once the
            // batch is clearly a large one; else room for a few events at a
            // time, so that two events of a fan-out do not take a whole
            // batch's allocation.
            let whole = if short && grown >= MAX_BATCH_BYTES / 2 {
                Some(spares.take())
            } else {
                spares.reclaim()
            };
            match whole {
                Some(mut room) => {
                    room.extend_from_slice(&self.joined);
                    self.joined = room;
                }
                None if short => {
                    self.joined
                        .reserve((len + need).max(grown) - self.joined.len());
                }
                None => {}
            }
        }
        if let Some(held) = self.held.take() {
            self.joined.extend_from_slice(&held);
        }
    }

    /// The frame, if any event was added; the rest of a batch buffer is
    /// kept in `spares`.
    fn finish(mut self, spares: &mut Spares) -> Option<Bytes> {
        match self.held {
            Some(held) => Some(held),
            None if self.joined.is_empty() => None,
            None if self.joined.capacity() >= MAX_BATCH_BYTES => {
                let frame = self.joined.split().freeze();
                spares.keep(self.joined);
                Some(frame)
            }
            None => Some(self.joined.freeze()),
        }
    }
}

impl<S> Stream for EventStream<S>
where
    S: Stream,
    S::Item: EventItem,
{
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut this = self.project();
        let settings = &**this.settings;
        if let Some(pending) = this.pending.take() {
            if let Some(shutdown) = this.shutdown.as_mut() {
                shutdown.drained(pending.len());
            }
            return Poll::Ready(Some(pending));
        }
        // A long data line was just handed on: its end comes first, alone if
        // the stream ends now, else joined by the next events.
        let line_end = mem::take(this.line_open).then(|| Bytes::from_static(encode::LONG_LINE_END));
        if *this.done {
            // After the last events, the shutdown's final event, if it came.
            return Poll::Ready(line_end.or_else(|| {
                this.shutdown
                    .as_mut()
                    .and_then(ShutdownSignal::take_farewell)
            }));
        }
        // Once the shutdown came, what the inner stream has ready now is
        // written (up to `DRAIN_BYTES`), not waited for, then the final event.
        let mut limit = MAX_BATCH_BYTES;
        let mut closing = false;
        if let Some(shutdown) = this.shutdown.as_mut() {
            if shutdown.poll_fired(cx) {
                closing = true;
                limit = limit.min(shutdown.drain_left());
                *this.done |= limit == 0;
            }
        }

        // (Idle and gathering turns follow a poll that handed nothing on, so
        // no long line is open then.)
        if *this.turn != Turn::Busy && line_end.is_none() && !closing {
            if *this.turn == Turn::Idle && settings.coalesce_us > 0 {
                *this.turn = Self::gather(
                    this.timer,
                    this.last_frame,
                    Self::idle_write(settings.keep_alive.as_ref(), settings.probe)
                        .map(|(interval, _)| interval),
                    Duration::from_micros(u64::from(settings.coalesce_us)),
                );
            }
            if *this.turn == Turn::Gathering {
                if let Some(timer) = this.timer.as_mut() {
                    if timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
        *this.turn = Turn::Busy;

        // Take every event that is ready now, without waiting for any.
        let mut batch = Batch {
            held: line_end,
            ..Batch::default()
        };
        while !*this.done && batch.len() < limit {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => match item.into_frame() {
                    Ok(frame) => match batch.push(frame, this.spares, *this.long_lines) {
                        None => {}
                        Some(Large::Frame(large)) => {
                            *this.pending = Some(large);
                            break;
                        }
                        Some(Large::Line(line)) => {
                            *this.pending = Some(line);
                            *this.line_open = true;
                            break;
                        }
                    },
                    Err(ItemFailed(())) => *this.done = true,
                },
                Poll::Ready(None) => *this.done = true,
                Poll::Pending => {
                    // Closing: nothing more is waited for.
                    *this.done |= closing;
                    break;
                }
            }
        }
        let idle_write = Self::idle_write(settings.keep_alive.as_ref(), settings.probe);
        if let Some(frame) = batch.finish(this.spares).or_else(|| this.pending.take()) {
            if let (true, Some(shutdown)) = (closing, this.shutdown.as_mut()) {
                shutdown.drained(frame.len());
            }
            if (idle_write.is_some() && this.timer.is_some()) || settings.coalesce_us > 0 {
                // Not a timer reset per frame (a timer-wheel update each):
                // the timer, when it fires, moves itself to this instant plus
                // the interval. Coalescing reads it too.
                *this.last_frame = Some(Instant::now());
            }
            return Poll::Ready(Some(frame));
        }
        // Done or idle: the spares' memory goes back now, not when the next
        // burst comes.
        this.spares.clear();
        if *this.done {
            return Poll::Ready(
                this.shutdown
                    .as_mut()
                    .and_then(ShutdownSignal::take_farewell),
            );
        }

        // Idle: keep-alive (or disconnect probe).
        let Some((interval, bytes)) = idle_write else {
            *this.turn = Turn::Idle;
            return Poll::Pending;
        };
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                *this.turn = Turn::Idle;
                return Poll::Pending;
            }
            let now = Instant::now();
            match this.last_frame.take() {
                // Something was written since the timer was set: idle only
                // from then on.
                Some(last) if last + interval > now => timer.as_mut().reset(last + interval),
                _ => {
                    timer.as_mut().reset(now + interval);
                    return Poll::Ready(Some(bytes.clone()));
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = usize::from(self.pending.is_some());
        if self.done {
            let farewell = self
                .shutdown
                .as_ref()
                .is_some_and(ShutdownSignal::farewell_due);
            (
                pending,
                Some(pending + usize::from(self.line_open) + usize::from(farewell)),
            )
        } else {
            (pending, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use futures_util::{StreamExt, stream};
    use tokio::sync::mpsc;
    use tokio_stream_like::ReceiverStream;

    use super::*;
    use crate::event::{EventId, EventType};

    /// A tiny stand-in for tokio-stream's `ReceiverStream`.
    mod tokio_stream_like {
        use super::*;
        pub(super) struct ReceiverStream<T>(pub(super) mpsc::UnboundedReceiver<T>);
        impl<T> Stream for ReceiverStream<T> {
            type Item = T;
            fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
                self.0.poll_recv(cx)
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alive_when_idle() {
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
        let start = Instant::now();
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(start.elapsed(), Duration::from_secs(15));
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        drop(tx);
        assert!(body.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn events_reset_the_keep_alive_timer() {
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)));
        let start = Instant::now();
        tokio::spawn(async move {
            for i in 0..5 {
                tokio::time::sleep(Duration::from_secs(6)).await;
                tx.send(Event::new(i.to_string())).unwrap();
            }
            // then idle for good, tx kept alive until the test ends
            std::future::pending::<()>().await;
        });
        for i in 0..5 {
            let frame = body.next().await.unwrap();
            assert_eq!(
                frame,
                Bytes::from(format!("data: {i}\n\n")),
                "no keep-alive while events flow"
            );
        }
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(40),
            "keep-alive counted from the last event"
        );
    }

    #[test]
    fn streams_share_their_settings_until_one_changes_them() {
        let quiet = || EventStream::new(stream::pending::<Event>()).without_keep_alive();
        let plain = EventStream::new(stream::pending::<Event>());
        assert!(Arc::ptr_eq(&plain.settings, &DEFAULT_SETTINGS));
        let (a, b) = (
            quiet().coalesce(Duration::ZERO),
            quiet().pass_long_lines(true),
        );
        assert!(Arc::ptr_eq(&a.settings, &QUIET_SETTINGS));
        assert!(Arc::ptr_eq(&b.settings, &QUIET_SETTINGS));
        let own = EventStream::new(stream::pending::<Event>())
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(5)));
        assert!(!Arc::ptr_eq(&own.settings, &DEFAULT_SETTINGS));
        assert_eq!(
            own.get_keep_alive().map(KeepAlive::get_interval),
            Some(Duration::from_secs(5))
        );
        // The shared ones are unchanged.
        assert_eq!(
            EventStream::new(stream::pending::<Event>())
                .get_keep_alive()
                .map(KeepAlive::get_interval),
            Some(Duration::from_secs(15))
        );
        assert!(quiet().get_keep_alive().is_none());
        let probed = quiet().disconnect_probe(Some(Duration::from_secs(1)));
        assert_eq!(probed.get_disconnect_probe(), Some(Duration::from_secs(1)));
        assert_eq!(quiet().get_disconnect_probe(), None);
    }

    /// The longest interval there is is lowered to a day: a stream that
    /// wrote after its timer was set reaches its keep-alive without an
    /// instant overflowing.
    #[tokio::test(start_paused = true)]
    async fn the_longest_keep_alive_interval_is_a_day() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let events = stream::unfold(rx, |mut rx| async { rx.recv().await.map(|e| (e, rx)) });
        let mut body = Box::pin(
            EventStream::new(events)
                .keep_alive(KeepAlive::new().interval(Duration::MAX))
                .disconnect_probe(Some(Duration::MAX)),
        );
        assert_eq!(
            body.get_keep_alive().map(KeepAlive::get_interval),
            Some(KeepAlive::MAX_INTERVAL)
        );
        assert_eq!(body.get_disconnect_probe(), Some(KeepAlive::MAX_INTERVAL));
        tx.send(Event::new("a")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\n");
        assert!(pending_now(&mut body).await); // the timer is set
        tx.send(Event::new("b")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: b\n\n");
        let start = tokio::time::Instant::now();
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(start.elapsed(), KeepAlive::MAX_INTERVAL);
    }

    #[tokio::test(start_paused = true)]
    async fn custom_keep_alive_text_and_none() {
        let mut body = EventStream::new(stream::pending::<Event>()).keep_alive(
            KeepAlive::new()
                .interval(Duration::from_millis(5))
                .text("ka"),
        );
        assert_eq!(&body.next().await.unwrap()[..], b": ka\n");

        let mut silent = EventStream::new(stream::pending::<Event>()).without_keep_alive();
        let waited = tokio::time::timeout(Duration::from_secs(3600), silent.next()).await;
        assert!(waited.is_err(), "nothing is written without keep-alive");
    }

    #[tokio::test(start_paused = true)]
    async fn disconnect_probe_writes_while_idle_and_defaults_only_when_unset() {
        let mut body = EventStream::new(stream::pending::<Event>())
            .default_disconnect_probe(Duration::from_millis(250));
        assert_eq!(
            body.get_disconnect_probe(),
            Some(Duration::from_millis(250))
        );
        let start = Instant::now();
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(start.elapsed(), Duration::from_millis(250));

        let body = EventStream::new(stream::pending::<Event>())
            .disconnect_probe(None)
            .default_disconnect_probe(Duration::from_millis(250));
        assert_eq!(
            body.get_disconnect_probe(),
            None,
            "an explicit choice wins over the adapter's default"
        );

        let mut body = EventStream::new(stream::pending::<Event>())
            .without_keep_alive()
            .disconnect_probe(Some(Duration::from_secs(1)));
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
    }

    #[tokio::test]
    async fn retry_set_after_a_poll_goes_before_the_next_frame() {
        let large = "x".repeat(100_000);
        let events = stream::iter([Event::new("a"), Event::new(large.clone())]);
        let mut body = EventStream::new(events);
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\n");
        // The large event is now the pending frame.
        let mut body = body.retry(Duration::from_secs(2));
        let frame = body.next().await.unwrap();
        assert_eq!(
            frame,
            [&b"retry: 2000\n\ndata: "[..], large.as_bytes(), b"\n\n"].concat()
        );
        assert!(body.next().await.is_none());
    }

    #[tokio::test]
    async fn ready_events_are_batched_and_retry_comes_first() {
        let events = stream::iter(0..3).map(|i| Event::new(i.to_string()));
        let frames: Vec<Bytes> = EventStream::new(events)
            .retry(Duration::from_secs(1))
            .collect()
            .await;
        assert_eq!(
            frames,
            vec![
                Bytes::from_static(b"retry: 1000\n\n"),
                Bytes::from_static(b"data: 0\n\ndata: 1\n\ndata: 2\n\n"),
            ]
        );
    }

    #[tokio::test]
    async fn a_ready_event_never_waits_for_the_next() {
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx));
        tx.send(Event::new("1")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: 1\n\n");
    }

    #[tokio::test]
    async fn batches_are_bounded() {
        // Small events: joined up to the cap, then a new frame.
        let events = stream::iter(0..2000).map(|i| Event::new(format!("{i:0>90}")));
        let frames: Vec<Bytes> = EventStream::new(events).collect().await;
        assert!(frames.len() > 1, "2000 x 98 bytes is more than one frame");
        for frame in &frames[..frames.len() - 1] {
            assert!(frame.len() >= MAX_BATCH_BYTES, "only the cap ends a batch");
            assert!(
                frame.len() < MAX_BATCH_BYTES + 98,
                "one event past the cap at most"
            );
        }
        let total: usize = frames.iter().map(Bytes::len).sum();
        assert_eq!(total, 2000 * 98);

        // Large events: each one its own frame, none joined.
        let big = "x".repeat(40 * 1024);
        let events = stream::iter(0..4).map(move |_| Event::new(big.clone()));
        let frames: Vec<Bytes> = EventStream::new(events).collect().await;
        assert_eq!(frames.len(), 4);
        assert!(frames.iter().all(|f| f.len() == 40 * 1024 + 8));
    }

    #[tokio::test]
    async fn a_written_batch_buffer_is_reused_and_idle_streams_keep_none() {
        let events = stream::iter(0..3000).map(|i| Event::new(format!("{i:0>90}")));
        let mut body = EventStream::new(events);
        let first = body.next().await.unwrap();
        assert!(first.len() >= MAX_BATCH_BYTES);
        assert_eq!(body.spares.len(), 1, "a full batch's buffer is kept");
        let second = body.next().await.unwrap();
        assert_eq!(body.spares.len(), 2, "the first frame is still held");
        let first_at = first.as_ptr();
        drop(first);
        let third = body.next().await.unwrap();
        // The first buffer is still owned by its spare, so the same address
        // means it was reused, not freed and allocated again.
        assert_eq!(
            third.as_ptr(),
            first_at,
            "the written frame's buffer is reused"
        );
        assert_eq!(body.spares.len(), 2, "no new buffer");
        drop((second, third));

        // A large event is encoded into a spare too; waiting for the next
        // event drops every spare.
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx));
        tx.send(Event::new("z".repeat(40 * 1024))).unwrap();
        let frame = body.next().await.unwrap();
        assert_eq!(frame.len(), 40 * 1024 + 8);
        assert_eq!(body.spares.len(), 1);
        let waiting = tokio::time::timeout(Duration::from_millis(10), body.next()).await;
        assert!(waiting.is_err(), "nothing to send");
        assert!(body.spares.0.is_none(), "an idle stream holds no buffer");
    }

    #[tokio::test]
    async fn large_event_after_small_ones_is_its_own_frame_in_order() {
        let big = "y".repeat(2 * SHARE_THRESHOLD);
        let events = vec![
            Event::new("a"),
            Event::new("b"),
            Event::new(big.clone()),
            Event::new("c"),
        ];
        let frames: Vec<Bytes> = EventStream::new(stream::iter(events)).collect().await;
        assert_eq!(
            frames,
            vec![
                Bytes::from_static(b"data: a\n\ndata: b\n\n"),
                Bytes::from(format!("data: {big}\n\n")),
                Bytes::from_static(b"data: c\n\n"),
            ]
        );
    }

    #[tokio::test]
    async fn a_long_data_line_is_handed_on_uncopied_in_order_when_asked() {
        let events = |first: String, second: String| {
            vec![
                Event::new("a"),
                Event::new(first)
                    .id(EventId::from(7))
                    .event(EventType::new("big").unwrap()),
                Event::new(second),
                Event::new("c"),
            ]
        };
        let first = "x".repeat(encode::LONG_LINE);
        let second = "y".repeat(encode::LONG_LINE + 1);
        let (first_at, second_at) = (first.as_ptr(), second.as_ptr());
        let expected: Vec<u8> = events(first.clone(), second.clone())
            .iter()
            .flat_map(|e| e.encode().to_vec())
            .collect();

        // By default each long event is encoded into a frame of its own.
        let frames: Vec<Bytes> =
            EventStream::new(stream::iter(events(first.clone(), second.clone())))
                .collect()
                .await;
        assert_eq!(frames.concat(), expected);
        assert_eq!(frames.len(), 4);

        let frames: Vec<Bytes> = EventStream::new(stream::iter(events(first, second)))
            .pass_long_lines(true)
            .collect()
            .await;
        assert_eq!(frames.concat(), expected, "the same bytes as encoded whole");
        assert_eq!(&frames[0][..], b"data: a\n\nid: 7\nevent: big\ndata: ");
        assert_eq!(frames[1].as_ptr(), first_at, "the data itself, not a copy");
        assert_eq!(&frames[2][..], b"\n\ndata: ");
        assert_eq!(frames[3].as_ptr(), second_at, "the data itself, not a copy");
        assert_eq!(&frames[4][..], b"\n\ndata: c\n\n");
        assert_eq!(frames.len(), 5);

        // Shorter, or with a line break: encoded into a frame as before.
        let half = "b".repeat(encode::LONG_LINE / 2);
        let short = Event::new("s".repeat(encode::LONG_LINE - 1));
        let broken = Event::new(format!("{half}\r{half}"));
        for event in [short, broken] {
            let encoded = event.encode().into_bytes();
            let frames: Vec<Bytes> = EventStream::new(stream::iter([event]))
                .pass_long_lines(true)
                .collect()
                .await;
            assert_eq!(frames, vec![encoded]);
        }
    }

    #[tokio::test]
    async fn a_long_line_is_ended_before_the_stream_ends_or_shuts_down() {
        let long = "x".repeat(encode::LONG_LINE);
        // The source ends right after it.
        let mut body =
            EventStream::new(stream::iter([Event::new(long.clone())])).pass_long_lines(true);
        assert_eq!(&body.next().await.unwrap()[..], b"data: ");
        assert_eq!(body.next().await.unwrap().len(), long.len());
        assert_eq!(&body.next().await.unwrap()[..], b"\n\n");
        assert!(body.next().await.is_none());

        // Shutdown fires while the data is being written: the line and event
        // end first, then the final event.
        let token = crate::CancellationToken::new();
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx))
            .pass_long_lines(true)
            .shutdown(Shutdown::new(token.clone()).final_event(&Event::new("bye")));
        tx.send(Event::new(long.clone())).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: ");
        assert_eq!(body.next().await.unwrap().len(), long.len());
        token.cancel();
        assert_eq!(&body.next().await.unwrap()[..], b"\n\n");
        assert_eq!(&body.next().await.unwrap()[..], b"data: bye\n\n");
        assert!(body.next().await.is_none());
    }

    #[tokio::test]
    async fn large_encoded_events_pass_through_uncopied_between_small_ones() {
        let big = Event::new("z".repeat(SHARE_THRESHOLD)).encode();
        let big_ptr = big.as_bytes().as_ptr();
        let items = vec![
            Event::new("a").encode(),
            Event::new("b").encode(),
            big.clone(),
            big,
            Event::new("c").encode(),
        ];
        let frames: Vec<Bytes> = EventStream::new(stream::iter(items)).collect().await;
        assert_eq!(frames.len(), 4);
        assert_eq!(
            &frames[0][..],
            b"data: a\n\ndata: b\n\n",
            "small ones joined"
        );
        assert_eq!(frames[1].as_ptr(), big_ptr, "shared, not copied");
        assert_eq!(frames[2].as_ptr(), big_ptr, "shared, not copied");
        assert_eq!(&frames[3][..], b"data: c\n\n");
    }

    #[tokio::test]
    async fn small_encoded_events_are_joined_with_events() {
        let items: Vec<Result<EncodedEvent, io::Error>> =
            vec![Ok(Event::new("a").encode()), Ok(Event::new("b").encode())];
        let mut body = EventStream::new(stream::iter(items).chain(stream::pending()));
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\ndata: b\n\n");
    }

    #[tokio::test]
    async fn error_item_ends_the_stream_after_the_events_before_it() {
        let items: Vec<Result<Event, io::Error>> = vec![
            Ok(Event::new("a")),
            Err(io::Error::other("boom")),
            Ok(Event::new("never")),
        ];
        let frames: Vec<Bytes> = EventStream::new(stream::iter(items)).collect().await;
        assert_eq!(frames, vec![Bytes::from_static(b"data: a\n\n")]);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_writes_the_final_event_then_ends() {
        use tokio_util::sync::CancellationToken;

        let token = CancellationToken::new();
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .shutdown(crate::Shutdown::new(token.clone()));
        tx.send(Event::new("a")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\n");
        let cancel = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            cancel.cancel();
        });
        let start = Instant::now();
        let last = body.next().await.unwrap();
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(5),
            "no keep-alive first"
        );
        let text = std::str::from_utf8(&last).unwrap();
        let ms: u64 = text
            .strip_prefix("retry: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (500..=3000).contains(&ms),
            "default jittered retry, got {ms}"
        );
        assert!(body.next().await.is_none(), "the body ends");
        assert!(body.next().await.is_none(), "and stays ended");

        let token = CancellationToken::new();
        token.cancel();
        let mut body = EventStream::new(stream::pending::<Event>())
            .shutdown(crate::Shutdown::new(token).without_final_event());
        assert!(body.next().await.is_none(), "no final event when asked");

        let token = CancellationToken::new();
        token.cancel();
        let mut body = EventStream::new(stream::pending::<Event>()).shutdown(
            crate::Shutdown::new(token).final_event(&Event::default().try_event("bye").unwrap()),
        );
        assert_eq!(&body.next().await.unwrap()[..], b"event: bye\n\n");
        assert!(body.next().await.is_none());
    }

    #[tokio::test]
    async fn encoded_events_pass_through_without_copy() {
        let encoded = Event::new("shared").encode();
        let ptr = encoded.as_bytes().as_ptr();
        let mut body = EventStream::new(stream::iter([encoded]));
        let frame = body.next().await.unwrap();
        assert_eq!(frame.as_ptr(), ptr);
    }

    /// Polls once: whether the stream has nothing to hand on now.
    async fn pending_now<S: Stream + Unpin>(stream: &mut S) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(stream.poll_next_unpin(cx).is_pending())).await
    }

    #[tokio::test(start_paused = true)]
    async fn coalesce_hands_a_burst_on_in_one_write_after_the_delay() {
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .coalesce(Duration::from_millis(10));
        // Idle first: the keep-alive timer is armed.
        assert!(pending_now(&mut body).await);
        let start = Instant::now();
        let sender = tokio::spawn(async move {
            for text in ["a", "b", "c"] {
                tx.send(Event::new(text)).unwrap();
                tokio::time::sleep(Duration::from_millis(4)).await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            tx.send(Event::new("d")).unwrap();
            tx
        });
        let frame = body.next().await.unwrap();
        assert_eq!(&frame[..], b"data: a\n\ndata: b\n\ndata: c\n\n");
        assert_eq!(start.elapsed(), Duration::from_millis(10));
        // An event a second after the last write goes at once; the
        // keep-alive is still 15 s after the last write.
        let frame = body.next().await.unwrap();
        assert_eq!(&frame[..], b"data: d\n\n");
        assert_eq!(start.elapsed(), Duration::from_millis(12 + 1000));
        let written = Instant::now();
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(written.elapsed(), Duration::from_secs(15));
        drop(sender.await.unwrap());
        assert!(body.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn coalesce_sends_at_once_after_a_quiet_spell_then_once_per_delay() {
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx)).coalesce(Duration::from_millis(10));
        assert!(pending_now(&mut body).await);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let start = Instant::now();
        tx.send(Event::new("a")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\n");
        assert_eq!(start.elapsed(), Duration::ZERO);
        let sender = tokio::spawn(async move {
            for text in ["b", "c"] {
                tokio::time::sleep(Duration::from_millis(3)).await;
                tx.send(Event::new(text)).unwrap();
            }
            tx
        });
        assert_eq!(&body.next().await.unwrap()[..], b"data: b\n\ndata: c\n\n");
        assert_eq!(start.elapsed(), Duration::from_millis(10));
        drop(sender.await.unwrap());
        assert!(body.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn coalesce_keeps_the_keep_alive_interval() {
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .coalesce(Duration::from_millis(10));
        let start = Instant::now();
        assert!(pending_now(&mut body).await);
        tokio::time::sleep(Duration::from_secs(5)).await;
        tx.send(Event::new("a")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\n");
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        // Polls that find nothing (a server may poll for its own reasons)
        // neither write nor move the keep-alive.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert!(pending_now(&mut body).await);
        }
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(start.elapsed(), Duration::from_secs(20));
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(start.elapsed(), Duration::from_secs(35));
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn coalesce_keeps_the_keep_alive_due_across_an_empty_wait() {
        let mut body = EventStream::new(stream::pending::<Event>())
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .coalesce(Duration::from_millis(10));
        let start = Instant::now();
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(start.elapsed(), Duration::from_secs(15));
        // A poll that finds nothing soon after that write starts a wait on
        // the keep-alive's timer; when it ends, the keep-alive is still due
        // 15 s after the last one.
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert!(pending_now(&mut body).await);
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn coalesce_never_postpones_the_keep_alive() {
        // A delay longer than the keep-alive's interval: the wait ends when
        // the keep-alive is due, and the event goes instead of it.
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(1)))
            .coalesce(Duration::from_secs(5));
        let start = Instant::now();
        assert!(pending_now(&mut body).await);
        tokio::time::sleep(Duration::from_millis(500)).await;
        tx.send(Event::new("a")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\n");
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        drop(tx);
    }

    #[tokio::test]
    async fn shutdown_writes_what_is_ready_first_and_waits_for_nothing_more() {
        let token = tokio_util::sync::CancellationToken::new();
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx))
            .shutdown(crate::Shutdown::new(token.clone()).final_event(&Event::new("bye")));
        tx.send(Event::new("a")).unwrap();
        tx.send(Event::new("b")).unwrap();
        token.cancel();
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\ndata: b\n\n");
        let (_, upper) = body.size_hint();
        assert_eq!(upper, Some(1), "the final event is all that is left");
        assert_eq!(&body.next().await.unwrap()[..], b"data: bye\n\n");
        tx.send(Event::new("late")).unwrap();
        assert!(
            body.next().await.is_none(),
            "nothing sent after it is waited for"
        );
        assert!(body.next().await.is_none(), "and it stays ended");
    }

    #[tokio::test]
    async fn shutdown_writes_at_most_a_bounded_backlog() {
        let token = tokio_util::sync::CancellationToken::new();
        token.cancel();
        // Always ready, never ending: only the bound stops the backlog.
        let event = Event::new("x".repeat(1000));
        let mut body = EventStream::new(stream::repeat(event))
            .shutdown(crate::Shutdown::new(token).final_event(&Event::new("bye")));
        let mut written = 0;
        let mut last = Bytes::new();
        for _ in 0..10_000 {
            let Some(frame) = body.next().await else {
                break;
            };
            written += frame.len();
            last = frame;
        }
        assert_eq!(&last[..], b"data: bye\n\n");
        assert!(body.next().await.is_none());
        assert!(
            (crate::shutdown::DRAIN_BYTES..=crate::shutdown::DRAIN_BYTES + MAX_BATCH_BYTES + 2000)
                .contains(&written),
            "{written} bytes"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn coalesce_lets_a_shutdown_through_at_once() {
        let token = tokio_util::sync::CancellationToken::new();
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx))
            .coalesce(Duration::from_secs(1))
            .shutdown(crate::Shutdown::new(token.clone()).without_final_event());
        tx.send(Event::new("a")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\n");
        assert!(pending_now(&mut body).await);
        tx.send(Event::new("b")).unwrap();
        assert!(pending_now(&mut body).await, "b waits for the burst");
        let start = Instant::now();
        token.cancel();
        assert_eq!(
            &body.next().await.unwrap()[..],
            b"data: b\n\n",
            "what gathered is written at once"
        );
        assert!(body.next().await.is_none(), "then the shutdown ends it");
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn coalesce_ends_the_stream_after_what_it_gathered() {
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx)).coalesce(Duration::from_millis(10));
        tx.send(Event::new("a")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\n");
        assert!(pending_now(&mut body).await);
        let start = Instant::now();
        tx.send(Event::new("b")).unwrap();
        drop(tx);
        assert_eq!(&body.next().await.unwrap()[..], b"data: b\n\n");
        assert_eq!(start.elapsed(), Duration::from_millis(10));
        assert!(body.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn coalesce_counts_a_probe_as_a_write() {
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx))
            .without_keep_alive()
            .disconnect_probe(Some(Duration::from_secs(1)))
            .coalesce(Duration::from_millis(10));
        let start = Instant::now();
        assert_eq!(&body.next().await.unwrap()[..], b":\n");
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert!(pending_now(&mut body).await);
        tx.send(Event::new("a")).unwrap();
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            tx.send(Event::new("b")).unwrap();
            tx
        });
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\ndata: b\n\n");
        assert_eq!(start.elapsed(), Duration::from_millis(1010));
        drop(sender.await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn coalesce_never_delays_events_that_are_ready() {
        let events = (0..1000).map(|i| Event::new(i.to_string()));
        let start = Instant::now();
        let frames: Vec<Bytes> = EventStream::new(stream::iter(events))
            .coalesce(Duration::from_millis(10))
            .collect()
            .await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        let text: Vec<u8> = frames.concat();
        assert_eq!(text.windows(7).filter(|w| w == b"data: 9").count(), 111);
    }

    #[tokio::test(start_paused = true)]
    async fn coalesce_without_keep_alive_goes_by_the_last_write() {
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let mut body = EventStream::new(ReceiverStream(rx))
            .without_keep_alive()
            .coalesce(Duration::from_millis(10));
        let start = Instant::now();
        tx.send(Event::new("a")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: a\n\n");
        assert!(pending_now(&mut body).await);
        // Soon after a write: waits until the delay after it.
        tokio::time::sleep(Duration::from_millis(4)).await;
        tx.send(Event::new("b")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: b\n\n");
        assert_eq!(start.elapsed(), Duration::from_millis(10));
        // Ready while busy (not polled to idle in between): no wait.
        tx.send(Event::new("c")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: c\n\n");
        assert_eq!(start.elapsed(), Duration::from_millis(10));
        assert!(pending_now(&mut body).await);
        // After a quiet spell: at once.
        tokio::time::sleep(Duration::from_secs(1)).await;
        tx.send(Event::new("d")).unwrap();
        assert_eq!(&body.next().await.unwrap()[..], b"data: d\n\n");
        assert_eq!(start.elapsed(), Duration::from_millis(1010));
        drop(tx);
        assert!(body.next().await.is_none());
    }
}
