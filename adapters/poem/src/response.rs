use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt as _;
use poem::{Body, IntoResponse, Response};
use ssekit::{ChunkItem, ChunkedBody, EventItem, EventStream};

/// An [`ssekit::EventStream`] as a poem response: status 200, the headers of
/// [`ssekit::RESPONSE_HEADERS`], and each event written as soon as it is
/// ready.
///
/// poem's server keeps a response going after the client has closed the
/// connection and notices that it left only when a write fails. So unless
/// the stream chose otherwise ([`EventStream::disconnect_probe`]), the
/// response writes a lone `:\n` comment line after every [`DISCONNECT_PROBE`]
/// of idleness: the client's departure is then noticed within about half a
/// second, and a handler waiting on `Sender::closed()` stops.
///
/// ```
/// use futures_util::{StreamExt, stream};
/// use poem::{Route, get, handler};
/// use ssekit::{Event, EventStream};
/// use ssekit_poem::SseResponse;
///
/// #[handler]
/// fn events() -> SseResponse<impl futures_core::Stream<Item = Event>> {
///     EventStream::new(stream::iter(["a", "b"]).map(Event::new)).into()
/// }
/// let app = Route::new().at("/events", get(events));
/// # drop(app);
/// ```
#[must_use = "a response does nothing unless returned from a handler"]
pub struct SseResponse<S>(EventStream<S>);

impl<S: Send> SseResponse<S> {
    /// Wraps an event stream. The stream must be `Send`: the server may
    /// write the response from any of its threads.
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
        Self(stream)
    }
}

impl<S> std::fmt::Debug for SseResponse<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SseResponse").field(&self.0).finish()
    }
}

impl<S> IntoResponse for SseResponse<S>
where
    S: Stream + Send + 'static,
    S::Item: EventItem,
{
    fn into_response(self) -> Response {
        let mut response = Response::builder();
        for (name, value) in ssekit::RESPONSE_HEADERS {
            response = response.header(name, value);
        }
        let stream = self.0.default_disconnect_probe(DISCONNECT_PROBE);
        response.body(Body::from_bytes_stream(stream.map(Ok::<_, std::io::Error>)))
    }
}

/// The idle interval after which [`SseResponse`] writes a comment line to
/// find out whether the client is still there (see [`SseResponse`]).
pub const DISCONNECT_PROBE: Duration = Duration::from_millis(250);

/// An [`ssekit::ChunkedBody`] as a poem response: status 200, its content
/// type and `X-Accel-Buffering: no`, each chunk written as it comes.
///
/// ```
/// use futures_util::stream;
/// use poem::{Route, get, handler};
/// use ssekit::ChunkedBody;
/// use ssekit_poem::ChunkedResponse;
///
/// #[handler]
/// fn page() -> ChunkedResponse<impl futures_core::Stream<Item = &'static str>> {
///     ChunkedBody::html(stream::iter(["<h1>0</h1>"])).into()
/// }
/// let app = Route::new().at("/", get(page));
/// # drop(app);
/// ```
#[must_use = "a response does nothing unless returned from a handler"]
pub struct ChunkedResponse<S>(ChunkedBody<S>);

impl<S> From<ChunkedBody<S>> for ChunkedResponse<S> {
    fn from(body: ChunkedBody<S>) -> Self {
        Self(body)
    }
}

impl<S> std::fmt::Debug for ChunkedResponse<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ChunkedResponse").field(&self.0).finish()
    }
}

impl<S> IntoResponse for ChunkedResponse<S>
where
    S: Stream + Send + 'static,
    S::Item: ChunkItem,
{
    fn into_response(self) -> Response {
        let mut response =
            Response::builder().header("content-type", self.0.content_type().to_owned());
        for (name, value) in self.0.extra_headers() {
            response = response.header(name, value);
        }
        response.body(Body::from_bytes_stream(self.0.map(Ok::<_, std::io::Error>)))
    }
}
