use std::convert::Infallible;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use futures_util::StreamExt as _;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use ssekit::{ChunkItem, EventItem};

use crate::types::{ChunkedResponse, SseResponse};

impl<S> IntoResponse for SseResponse<S>
where
    S: Stream + Send + 'static,
    S::Item: EventItem,
{
    fn into_response(self) -> Response {
        let stream = self.into_inner();
        let mut response = Response::new(Body::from_stream(stream.map(Ok::<_, Infallible>)));
        for (name, value) in ssekit::RESPONSE_HEADERS {
            response.headers_mut().insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        response
    }
}

impl<S> IntoResponse for ChunkedResponse<S>
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
        let mut response = Response::new(Body::from_stream(body.map(Ok::<_, Infallible>)));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, content_type);
        for (name, value) in extra {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        response
    }
}
