use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use ssekit::{ChunkItem, ChunkedBody, EventItem, EventStream};
use warp::reply::{Reply, Response};

/// `warp::reply::stream` needs a `Sync` stream; a handler's stream rarely is.
/// The stream is only ever polled through `&mut`, so a `Mutex` around it is
/// never contended: it only lends the `Sync` bound.
struct SyncStream<S>(Mutex<Pin<Box<S>>>);

impl<S: Stream<Item = Bytes>> Stream for SyncStream<S> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let inner = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        inner.as_mut().poll_next(cx).map(|item| item.map(Ok))
    }
}

fn streaming<S>(stream: S) -> Response
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    warp::reply::stream(SyncStream(Mutex::new(Box::pin(stream)))).into_response()
}

/// An [`ssekit::EventStream`] as a warp reply: status 200, the headers of
/// [`ssekit::RESPONSE_HEADERS`], and each event written as soon as it is
/// ready.
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
#[must_use = "a reply does nothing unless returned from a filter"]
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

impl<S> Reply for SseResponse<S>
where
    S: Stream + Send + 'static,
    S::Item: EventItem,
{
    fn into_response(self) -> Response {
        let mut response = streaming(self.0);
        for (name, value) in ssekit::RESPONSE_HEADERS {
            response.headers_mut().insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        response
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
#[must_use = "a reply does nothing unless returned from a filter"]
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

impl<S> Reply for ChunkedResponse<S>
where
    S: Stream + Send + 'static,
    S::Item: ChunkItem,
{
    fn into_response(self) -> Response {
        let Ok(content_type) = HeaderValue::from_str(self.0.content_type()) else {
            // ChunkedBody validates its content type; this cannot happen.
            return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let extra = self.0.extra_headers();
        let mut response = streaming(self.0);
        response.headers_mut().insert(CONTENT_TYPE, content_type);
        for (name, value) in extra {
            response.headers_mut().insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        response
    }
}
