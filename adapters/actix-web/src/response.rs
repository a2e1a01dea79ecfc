use std::convert::Infallible;
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::http::header::ContentEncoding;
use actix_web::{HttpRequest, HttpResponse, Responder};
use futures_core::Stream;
use futures_util::StreamExt as _;
use ssekit::{ChunkItem, ChunkedBody, EventItem, EventStream};

/// An [`ssekit::EventStream`] as an actix-web response: status 200, the
/// headers of [`ssekit::RESPONSE_HEADERS`], and each event written as soon as
/// it is ready.
///
/// actix-web keeps writing a response after the client has closed the
/// connection and notices that it left only when a write fails. So unless
/// the stream chose otherwise ([`EventStream::disconnect_probe`]), the
/// response writes a lone `:\n` comment line after every [`DISCONNECT_PROBE`]
/// of idleness: the client's departure is then noticed within about half a
/// second, and a handler waiting on `Sender::closed()` stops.
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
        Self(stream)
    }
}

impl<S> std::fmt::Debug for SseResponse<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SseResponse").field(&self.0).finish()
    }
}

impl<S> Responder for SseResponse<S>
where
    S: Stream + 'static,
    S::Item: EventItem,
{
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        for header in ssekit::RESPONSE_HEADERS {
            response.insert_header(header);
        }
        let stream = self.0.default_disconnect_probe(DISCONNECT_PROBE);
        response
            .insert_header(ContentEncoding::Identity)
            .streaming(stream.map(Ok::<_, Infallible>))
    }
}

/// The idle interval after which [`SseResponse`] writes a comment line to
/// find out whether the client is still there (see [`SseResponse`]).
pub const DISCONNECT_PROBE: Duration = Duration::from_millis(250);

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

impl<S> Responder for ChunkedResponse<S>
where
    S: Stream + 'static,
    S::Item: ChunkItem,
{
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        response.insert_header(("content-type", self.0.content_type().to_owned()));
        for header in self.0.extra_headers() {
            response.insert_header(header);
        }
        response
            .insert_header(ContentEncoding::Identity)
            .streaming(self.0.map(Ok::<_, Infallible>))
    }
}
