//! The adapter's public types, the same four in every ssekit adapter (tidy
//! checks the names and constructors): the response wrappers around
//! [`ssekit::EventStream`] and [`ssekit::ChunkedBody`], and the
//! `Last-Event-ID` extractor with its rejection. Their framework traits are
//! in `response.rs` and `extract.rs`.

use std::fmt;

use ssekit::last_event_id::InvalidLastEventId;
use ssekit::{ChunkedBody, EventId, EventStream};

/// An [`ssekit::EventStream`] as an actix-web response: status 200, the
/// headers of [`ssekit::RESPONSE_HEADERS`], and each event written as soon
/// as it is ready. actix-web runs each worker on one thread, so the stream
/// need not be `Send`.
///
/// actix-web keeps writing a response after the client has closed the
/// connection and notices that it left only when a write fails. Register
/// [`on_connect`](crate::on_connect) with `HttpServer::on_connect` and
/// the response ends as soon as the client closes the connection, with
/// nothing written to the idle stream; a handler waiting on
/// `Sender::closed()` stops. Without it (or over TLS) a departed client is
/// noticed by the keep-alive writes, or sooner with an opt-in
/// [`ssekit::EventStream::disconnect_probe`] of
/// [`DISCONNECT_PROBE`](crate::DISCONNECT_PROBE).
///
/// It also carries `Content-Encoding: identity`, actix-web's documented way
/// to keep the `Compress` middleware off a response: `Compress` would
/// otherwise hold events back inside its encoder until enough bytes pile up.
///
/// ```
/// use actix_web::{App, web};
/// use futures_util::{StreamExt, stream};
/// use ssekit::{Event, EventStream};
/// use ssekit_actix_web::SseResponse;
///
/// async fn events() -> SseResponse<impl futures_core::Stream<Item = Event>> {
///     EventStream::new(stream::iter(["a", "b"]).map(Event::new)).into()
/// }
/// let app = App::new().route("/events", web::get().to(events));
/// # drop(app);
/// ```
#[must_use = "a response does nothing unless returned from a handler"]
pub struct SseResponse<S>(EventStream<S>);

impl<S> SseResponse<S> {
    /// Wraps an event stream.
    pub fn new(stream: EventStream<S>) -> Self {
        Self(stream)
    }

    /// The wrapped stream.
    pub fn into_inner(self) -> EventStream<S> {
        self.0
    }
}

impl<S> From<EventStream<S>> for SseResponse<S> {
    fn from(stream: EventStream<S>) -> Self {
        Self::new(stream)
    }
}

impl<S> fmt::Debug for SseResponse<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SseResponse").field(&self.0).finish()
    }
}

/// An [`ssekit::ChunkedBody`] as an actix-web response: status 200, its
/// content type and `X-Accel-Buffering: no`, each chunk written as it comes
/// (and kept away from `Compress`, like [`SseResponse`]).
///
/// ```
/// use futures_util::stream;
/// use ssekit::ChunkedBody;
/// use ssekit_actix_web::ChunkedResponse;
///
/// async fn page() -> ChunkedResponse<impl futures_core::Stream<Item = &'static str>> {
///     ChunkedBody::html(stream::iter(["<h1>0</h1>"])).into()
/// }
/// let app = actix_web::App::new().route("/", actix_web::web::get().to(page));
/// # drop(app);
/// ```
#[must_use = "a response does nothing unless returned from a handler"]
pub struct ChunkedResponse<S>(ChunkedBody<S>);

impl<S> ChunkedResponse<S> {
    /// Wraps a chunked body.
    pub fn new(body: ChunkedBody<S>) -> Self {
        Self(body)
    }

    /// The wrapped body.
    pub fn into_inner(self) -> ChunkedBody<S> {
        self.0
    }
}

impl<S> From<ChunkedBody<S>> for ChunkedResponse<S> {
    fn from(body: ChunkedBody<S>) -> Self {
        Self::new(body)
    }
}

impl<S> fmt::Debug for ChunkedResponse<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChunkedResponse").field(&self.0).finish()
    }
}

/// Extracts the `Last-Event-ID` request header: `LastEventId(None)` when it
/// is absent or empty, `LastEventId(Some(id))` when valid.
///
/// An invalid header (longer than 1024 bytes, not UTF-8, sent twice) is
/// rejected with `400 Bad Request` and a plain-text reason; see
/// [`ssekit::last_event_id`].
///
/// ```
/// use ssekit_actix_web::LastEventId;
///
/// async fn handler(LastEventId(last): LastEventId) -> String {
///     match last {
///         Some(id) => format!("resuming after {id}"),
///         None => "from the start".to_owned(),
///     }
/// }
/// let app = actix_web::App::new().route("/", actix_web::web::get().to(handler));
/// # drop(app);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<EventId>);

impl LastEventId {
    /// Parses the values of a request's `Last-Event-ID` headers.
    pub(crate) fn parse<'a>(
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, LastEventIdRejection> {
        ssekit::last_event_id::parse(values)
            .map(Self)
            .map_err(LastEventIdRejection)
    }
}

/// The rejection of an invalid `Last-Event-ID` header: `400 Bad Request`
/// with the reason as plain text.
#[derive(Debug)]
pub struct LastEventIdRejection(pub InvalidLastEventId);

impl fmt::Display for LastEventIdRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for LastEventIdRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
