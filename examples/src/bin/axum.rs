//! Run with: `cargo run -p ssekit-examples --bin axum [-- --addr 127.0.0.1:8080]`,
//! then open <http://127.0.0.1:8080/>.
//!
//! Every request goes to one fallback handler: [`ssekit_examples::answer`]
//! decides (route, method, query, `Last-Event-ID`), this file only turns its
//! answer into an axum response, so the four binaries answer alike. Served
//! by [`ssekit_examples::serve_hyper`] with the limits of
//! [`ssekit_examples::limits`].

use std::process::ExitCode;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use hyper_util::service::TowerToHyperService;
use ssekit_axum::{ChunkedResponse, SseResponse};
use ssekit_examples::{Answer, PAGE, REFUSAL_CONTENT_TYPE};

async fn handle(request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let uri = &parts.uri;
    let body = if ssekit_examples::needs_body(parts.method.as_str(), uri.path()) {
        ssekit_examples::read_body(
            body.into_data_stream(),
            parts
                .headers
                .get(header::CONTENT_LENGTH)
                .map(HeaderValue::as_bytes),
        )
        .await
    } else {
        Ok(Bytes::new())
    };
    let answer = ssekit_examples::answer_async(
        parts.method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        parts
            .headers
            .get_all(ssekit::last_event_id::HEADER_NAME)
            .into_iter()
            .map(HeaderValue::as_bytes),
        body,
    )
    .await;
    match answer {
        Answer::Page => Html(PAGE).into_response(),
        Answer::Chunk(body) => ChunkedResponse::from(body).into_response(),
        Answer::Sse(stream) => SseResponse::from(stream).into_response(),
        Answer::Room(stream) => SseResponse::from(stream).into_response(),
        Answer::Text(text) => {
            ([(header::CONTENT_TYPE, REFUSAL_CONTENT_TYPE)], text).into_response()
        }
        Answer::Refused(refusal) => {
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = (
                status,
                [(header::CONTENT_TYPE, REFUSAL_CONTENT_TYPE)],
                refusal.message,
            )
                .into_response();
            if let Some((name, value)) = refusal.header {
                response.headers_mut().insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            response
        }
    }
}

/// The demo on axum: every route through one handler.
fn app() -> Router {
    Router::new().fallback(handle)
}

#[tokio::main]
async fn main() -> ExitCode {
    match ssekit_examples::tokio_listener("axum") {
        Ok(listener) => ssekit_examples::exit_code(
            ssekit_examples::serve_hyper(
                listener,
                TowerToHyperService::new(app()),
                ssekit_examples::shutdown_signal(),
            )
            .await,
        ),
        Err(code) => code,
    }
}
