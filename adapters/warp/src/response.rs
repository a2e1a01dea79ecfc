use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use ssekit::{ChunkItem, EventItem};
use warp::reply::{Reply, Response};

use crate::types::{ChunkedResponse, SseResponse};

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

impl<S> Reply for SseResponse<S>
where
    S: Stream + Send + 'static,
    S::Item: EventItem,
{
    fn into_response(self) -> Response {
        let mut response = streaming(self.into_inner());
        for (name, value) in ssekit::RESPONSE_HEADERS {
            response.headers_mut().insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        response
    }
}

impl<S> Reply for ChunkedResponse<S>
where
    S: Stream + Send + 'static,
    S::Item: ChunkItem,
{
    fn into_response(self) -> Response {
        let body = self.into_inner();
        let Ok(content_type) = HeaderValue::from_str(body.content_type()) else {
            // ChunkedBody validates its content type; this cannot happen.
            return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let extra = body.extra_headers();
        let mut response = streaming(body);
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
