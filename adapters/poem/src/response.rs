use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt as _;
use poem::{Body, IntoResponse, Response};
use ssekit::{ChunkItem, EventItem};

use crate::types::{ChunkedResponse, SseResponse};

/// A fast disconnect probe interval, for servers that do not use
/// [`NoticeDepartures`](crate::NoticeDepartures): pass it to
/// [`ssekit::EventStream::disconnect_probe`] to notice a departed client
/// within about half a second, at the cost of a write to every idle stream
/// every 250 ms. Not used unless you pass it.
pub const DISCONNECT_PROBE: Duration = Duration::from_millis(250);

impl<S> IntoResponse for SseResponse<S>
where
    S: Stream + Send + 'static,
    S::Item: EventItem,
{
    fn into_response(self) -> Response {
        let stream = self.into_inner();
        let mut response = Response::builder();
        for (name, value) in ssekit::RESPONSE_HEADERS {
            response = response.header(name, value);
        }
        response.body(Body::from_bytes_stream(stream.map(Ok::<_, std::io::Error>)))
    }
}

impl<S> IntoResponse for ChunkedResponse<S>
where
    S: Stream + Send + 'static,
    S::Item: ChunkItem,
{
    fn into_response(self) -> Response {
        let body = self.into_inner();
        let mut response =
            Response::builder().header("content-type", body.content_type().to_owned());
        for (name, value) in body.extra_headers() {
            response = response.header(name, value);
        }
        response.body(Body::from_bytes_stream(body.map(Ok::<_, std::io::Error>)))
    }
}
