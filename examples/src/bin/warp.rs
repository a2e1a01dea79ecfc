//! Run with: `cargo run -p ssekit-examples --bin warp [-- --addr 127.0.0.1:8080]`,
//! then open <http://127.0.0.1:8080/>.
//!
//! Every request goes to one filter chain that never rejects:
//! [`ssekit_examples::answer`] decides (route, method, query,
//! `Last-Event-ID`), this file only turns its answer into a warp reply, so
//! the four binaries answer alike. Served by [`ssekit_examples::serve_hyper`]
//! with the limits of [`ssekit_examples::limits`].

use std::process::ExitCode;

use hyper::service::Service as _;
use hyper_util::service::TowerToHyperService;
use ssekit_examples::{Answer, PAGE, REFUSAL_CONTENT_TYPE};
use ssekit_warp::{ChunkedResponse, SseResponse};
use warp::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Reply as _};

fn respond(answer: Answer) -> Response {
    match answer {
        Answer::Page => warp::reply::html(PAGE).into_response(),
        Answer::Chunk(body) => ChunkedResponse::from(body).into_response(),
        Answer::Sse(stream) => SseResponse::from(stream).into_response(),
        Answer::Room(stream) => SseResponse::from(stream).into_response(),
        Answer::Text(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(REFUSAL_CONTENT_TYPE),
            );
            response
        }
        Answer::Refused(refusal) => {
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = warp::reply::with_status(refusal.message, status).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(REFUSAL_CONTENT_TYPE),
            );
            if let Some((name, value)) = refusal.header {
                headers.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            response
        }
    }
}

/// The `GET` answer's status and headers, without its body. hyper drops the
/// body of a `HEAD` answer over HTTP/1.1 but sends it over HTTP/2, where a
/// client takes it for a protocol error; warp, unlike axum's router, leaves
/// it there. So the body goes here, and the length it had stays.
fn without_body(answer: Answer) -> Response {
    let length = answer.content_length();
    let mut response = respond(answer);
    if let Some(length) = length {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    *response.body_mut() = Default::default();
    response
}

/// Answers one request; the body is read only when the route needs it.
async fn handle<S, B>(
    method: Method,
    path: FullPath,
    query: String,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: bytes::Buf,
{
    let body = if ssekit_examples::needs_body(method.as_str(), path.as_str()) {
        ssekit_examples::read_body(
            body,
            headers
                .get(header::CONTENT_LENGTH)
                .map(HeaderValue::as_bytes),
        )
        .await
    } else {
        Ok(bytes::Bytes::new())
    };
    let answer = ssekit_examples::answer_async(
        method.as_str(),
        path.as_str(),
        &query,
        headers
            .get_all(ssekit::last_event_id::HEADER_NAME)
            .into_iter()
            .map(HeaderValue::as_bytes),
        body,
    )
    .await;
    if method == Method::HEAD {
        without_body(answer)
    } else {
        respond(answer)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // The raw query, or "" without one (`query::raw` rejects an absent query).
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let routes = warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(handle);

    let warp_service = TowerToHyperService::new(warp::service(routes));
    // warp's path filters panic on a request target with no path (the
    // authority form, `GET host:80 HTTP/1.1`, which hyper lets through):
    // such a request gets the answer the other servers give it, and warp
    // never sees it.
    let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
        let served = if request.uri().path_and_query().is_some() {
            Ok(warp_service.call(request))
        } else {
            let method = request.method().as_str();
            Err(respond(ssekit_examples::answer(
                method,
                "",
                "",
                std::iter::empty(),
            )))
        };
        async move {
            match served {
                Ok(served) => served.await,
                Err(pathless) => Ok(pathless),
            }
        }
    });
    match ssekit_examples::tokio_listener("warp") {
        Ok(listener) => ssekit_examples::exit_code(
            ssekit_examples::serve_hyper(listener, service, ssekit_examples::shutdown_signal())
                .await,
        ),
        Err(code) => code,
    }
}
