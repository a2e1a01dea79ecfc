use std::convert::Infallible;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use futures_util::StreamExt as _;
use http::header::{HeaderName, HeaderValue};
use ssekit::{ChunkItem, ChunkedBody, EventItem, EventStream};

/// An [`ssekit::EventStream`] as an axum response: status 200, the headers of
/// [`ssekit::RESPONSE_HEADERS`], and each event written as soon as it is
/// ready.
///
/// ```
/// use axum::{Router, routing::get};
/// use futures_util::stream;
/// use ssekit::{Event, EventStream};
/// use ssekit_axum::SseResponse;
///
/// async fn events() -> SseResponse<impl futures_core::Stream<Item = Event>> {
///     EventStream::new(stream::iter(["a", "b"]).map(Event::new)).into()
/// }
/// # use futures_util::StreamExt;
/// let app: Router = Router::new().route("/events", get(events));
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
        let mut response = Response::new(Body::from_stream(self.0.map(Ok::<_, Infallible>)));
        for (name, value) in ssekit::RESPONSE_HEADERS {
            response.headers_mut().insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        response
    }
}

/// An [`ssekit::ChunkedBody`] as an axum response: status 200, its content
/// type and `X-Accel-Buffering: no`, each chunk written as it comes.
///
/// ```
/// use axum::response::IntoResponse;
/// use futures_util::stream;
/// use ssekit::ChunkedBody;
/// use ssekit_axum::ChunkedResponse;
///
/// let response = ChunkedResponse::from(ChunkedBody::html(stream::iter(["<h1>0</h1>"]))).into_response();
/// assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
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
        let Ok(content_type) = HeaderValue::from_str(self.0.content_type()) else {
            // ChunkedBody validates its content type; this cannot happen.
            return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let extra = self.0.extra_headers();
        let mut response = Response::new(Body::from_stream(self.0.map(Ok::<_, Infallible>)));
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, content_type);
        for (name, value) in extra {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        response
    }
}
