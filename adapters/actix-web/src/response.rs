use std::convert::Infallible;
use std::time::Duration;

use actix_web::body::{self, BoxBody};
use actix_web::http::header::ContentEncoding;
use actix_web::http::{Method, Version};
use actix_web::{HttpRequest, HttpResponse, Responder};
use futures_core::Stream;
use futures_util::StreamExt as _;
use ssekit::{ChunkItem, EventItem};

use crate::departure::{Departed, Departure};
use crate::types::{ChunkedResponse, SseResponse};

/// A fast disconnect probe interval, for connections [`on_connect`](crate::on_connect)
/// cannot watch (TLS): pass it to [`ssekit::EventStream::disconnect_probe`]
/// to notice a departed client within about half a second, at the cost of a
/// write to every idle stream every 250 ms. Not used unless you pass it.
pub const DISCONNECT_PROBE: Duration = Duration::from_millis(250);

impl<S> Responder for SseResponse<S>
where
    S: Stream + 'static,
    S::Item: EventItem,
{
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        // Ends when the client has left, if `on_connect` watches the connection.
        let departed = Departed::new(
            req.conn_data::<Departure>(),
            req.version() == Version::HTTP_2,
        );
        // actix-web copies every frame into its write buffer: a long data
        // line is better handed to it uncopied than copied twice.
        let stream = self.into_inner().pass_long_lines(true).take_until(departed);
        let mut response = HttpResponse::Ok();
        for header in ssekit::RESPONSE_HEADERS {
            response.insert_header(header);
        }
        let response = response
            .insert_header(ContentEncoding::Identity)
            .streaming(stream.map(Ok::<_, Infallible>));
        without_body_for_head(req, response)
    }
}

impl<S> Responder for ChunkedResponse<S>
where
    S: Stream + 'static,
    S::Item: ChunkItem,
{
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let body = self.into_inner();
        let mut response = HttpResponse::Ok();
        response.insert_header(("content-type", body.content_type().to_owned()));
        for header in body.extra_headers() {
            response.insert_header(header);
        }
        let response = response
            .insert_header(ContentEncoding::Identity)
            .streaming(body.map(Ok::<_, Infallible>));
        without_body_for_head(req, response)
    }
}

/// actix-web writes no body for `HEAD`, but still runs a streaming body to
/// its end before it reads the connection's next request: an endless event
/// stream would hold the connection for good. So a `HEAD` answer drops its
/// body (no `Content-Length`, no `Transfer-Encoding`, as hyper answers).
fn without_body_for_head(req: &HttpRequest, response: HttpResponse) -> HttpResponse {
    if req.method() == Method::HEAD {
        response.map_body(|_, _| BoxBody::new(body::None::new()))
    } else {
        response
    }
}
