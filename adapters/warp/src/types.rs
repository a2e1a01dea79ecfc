//! The adapter's public types, the same four in every ssekit adapter (tidy
//! checks the names and constructors): the response wrappers around
//! [`ssekit::EventStream`] and [`ssekit::ChunkedBody`], and the
//! `Last-Event-ID` extractor with its rejection. Their framework traits are
//! in `response.rs` and `extract.rs`.

use std::fmt;

use ssekit::last_event_id::InvalidLastEventId;
use ssekit::{ChunkedBody, EventId, EventStream};

/// An [`ssekit::EventStream`] as a warp reply: status 200, the headers of
/// [`ssekit::RESPONSE_HEADERS`], and each event written as soon as it is
/// ready. The stream must be `Send`.
///
/// ```
/// use futures_util::{StreamExt, stream};
/// use ssekit::{Event, EventStream};
/// use ssekit_warp::SseResponse;
/// use warp::Filter;
///
/// let route = warp::path("events").and(warp::get()).map(|| {
///     SseResponse::from(EventStream::new(stream::iter(["a", "b"]).map(Event::new)))
/// });
/// # let _ = route;
/// ```
#[must_use = "a response does nothing unless returned from a handler"]
pub struct SseResponse<S>(EventStream<S>);

impl<S: Send> SseResponse<S> {
    /// Wraps an event stream.
    pub fn new(stream: EventStream<S>) -> Self {
        Self(stream)
    }
}

impl<S> SseResponse<S> {
    /// The wrapped stream.
    pub fn into_inner(self) -> EventStream<S> {
        self.0
    }
}

impl<S: Send> From<EventStream<S>> for SseResponse<S> {
    fn from(stream: EventStream<S>) -> Self {
        Self::new(stream)
    }
}

impl<S> fmt::Debug for SseResponse<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SseResponse").field(&self.0).finish()
    }
}

/// An [`ssekit::ChunkedBody`] as a warp reply: status 200, its content type
/// and `X-Accel-Buffering: no`, each chunk written as it comes.
///
/// ```
/// use futures_util::stream;
/// use ssekit::ChunkedBody;
/// use ssekit_warp::ChunkedResponse;
/// use warp::Filter;
///
/// let route = warp::path("page").map(|| ChunkedResponse::from(ChunkedBody::html(stream::iter(["<h1>0</h1>"]))));
/// # let _ = route;
/// ```
#[must_use = "a response does nothing unless returned from a handler"]
pub struct ChunkedResponse<S>(ChunkedBody<S>);

impl<S: Send> ChunkedResponse<S> {
    /// Wraps a chunked body.
    pub fn new(body: ChunkedBody<S>) -> Self {
        Self(body)
    }
}

impl<S> ChunkedResponse<S> {
    /// The wrapped body.
    pub fn into_inner(self) -> ChunkedBody<S> {
        self.0
    }
}

impl<S: Send> From<ChunkedBody<S>> for ChunkedResponse<S> {
    fn from(body: ChunkedBody<S>) -> Self {
        Self::new(body)
    }
}

impl<S> fmt::Debug for ChunkedResponse<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChunkedResponse").field(&self.0).finish()
    }
}

/// The `Last-Event-ID` request header: `LastEventId(None)` when it is
/// absent or empty, `LastEventId(Some(id))` when valid. Extracted by
/// [`last_event_id()`](crate::last_event_id()).
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

/// The rejection of an invalid `Last-Event-ID` header;
/// [`recover`](crate::recover) answers it with `400 Bad Request`.
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
