//! Run with: `cargo run -p ssekit-examples --bin poem [-- --addr 127.0.0.1:8080]`,
//! then open <http://127.0.0.1:8080/>.
//!
//! Every request goes to one endpoint: [`ssekit_examples::answer`] decides
//! (route, method, query, `Last-Event-ID`), this file only turns its answer
//! into a poem response, so the four binaries answer alike.

use std::process::ExitCode;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::listener::TcpAcceptor;
use poem::web::Html;
use poem::{Body, IntoResponse as _, Request, Response, handler};
use ssekit_examples::{Answer, PAGE, REFUSAL_CONTENT_TYPE, limits};
use ssekit_poem::{ChunkedResponse, SseResponse};

/// A `HEAD` request gets the `GET` answer's status and headers without its
/// body. hyper drops the body of a `HEAD` answer over HTTP/1.1 but sends it
/// over HTTP/2, where a client takes it for a protocol error; poem, unlike
/// axum's router, leaves it there. So the body goes here, and the length it
/// had stays.
#[handler]
fn handle(request: &Request) -> Response {
    let uri = request.uri();
    let answer = ssekit_examples::answer(
        request.method().as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        request
            .headers()
            .get_all(ssekit::last_event_id::HEADER_NAME)
            .into_iter()
            .map(HeaderValue::as_bytes),
    );
    if request.method() == Method::HEAD {
        let length = answer.content_length();
        let mut response = respond(answer);
        if let Some(length) = length {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        response.set_body(Body::empty());
        response
    } else {
        respond(answer)
    }
}

fn respond(answer: Answer) -> Response {
    match answer {
        Answer::Page => Html(PAGE).into_response(),
        Answer::Chunk(body) => ChunkedResponse::from(body).into_response(),
        Answer::Sse(stream) => SseResponse::from(stream).into_response(),
        Answer::Refused(refusal) => {
            let mut response = Response::builder()
                .status(StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST))
                .header(header::CONTENT_TYPE, REFUSAL_CONTENT_TYPE);
            if let Some(allow) = refusal.allow {
                response = response.header(header::ALLOW, allow);
            }
            response.body(refusal.message)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let listener = match ssekit_examples::tokio_listener("poem") {
        Ok(listener) => listener,
        Err(code) => return code,
    };
    match TcpAcceptor::from_tokio(listener) {
        Ok(acceptor) => ssekit_examples::exit_code(
            poem::Server::new_with_acceptor(acceptor)
                .http2_max_header_list_size(limits::H2_MAX_HEADER_LIST_SIZE)
                .http2_max_concurrent_streams(limits::H2_MAX_CONCURRENT_STREAMS)
                .run(handle)
                .await,
        ),
        Err(err) => ssekit_examples::exit_code(Err(err)),
    }
}
