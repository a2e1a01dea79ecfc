//! Run with: `cargo run -p ssekit-examples --bin actix-web [-- --addr 127.0.0.1:8080]`,
//! then open <http://127.0.0.1:8080/>.
//!
//! Every request goes to one default service: [`ssekit_examples::answer`]
//! decides (route, method, query, `Last-Event-ID`), this file only turns its
//! answer into an actix-web response, so the four binaries answer alike.

use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::error::DispatchError;
use actix_http::{HttpService, Protocol};
use actix_service::{ServiceFactoryExt as _, map_config};
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{AppConfig, Extensions, fn_service};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::rt::net::TcpStream;
use actix_web::web::Bytes;
use actix_web::{App, HttpRequest, HttpResponse, Responder as _, web};
use ssekit_actix_web::{ChunkedResponse, SseResponse};
use ssekit_examples::{Answer, ConnectionDeadlines, PAGE, REFUSAL_CONTENT_TYPE, limits};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// `HEAD` gets the `GET` answer; the adapter's responses drop their body
/// for it.
async fn handle(request: HttpRequest, payload: web::Payload) -> HttpResponse {
    let token = HANDLING.token();
    respond(&request, payload)
        .await
        .map_body(|_, body| Handled {
            body,
            _token: token,
        })
        .map_into_boxed_body()
}

/// The answer to one request, as an actix-web response.
async fn respond(request: &HttpRequest, payload: web::Payload) -> HttpResponse {
    let uri = request.uri();
    let body = if ssekit_examples::needs_body(request.method().as_str(), uri.path()) {
        ssekit_examples::read_body(
            payload,
            request
                .headers()
                .get(header::CONTENT_LENGTH)
                .map(HeaderValue::as_bytes),
        )
        .await
    } else {
        Ok(Bytes::new())
    };
    let answer = ssekit_examples::answer_async(
        request.method().as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        request
            .headers()
            .get_all(ssekit::last_event_id::HEADER_NAME)
            .map(HeaderValue::as_bytes),
        body,
    )
    .await;
    match answer {
        Answer::Page => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(PAGE),
        Answer::Chunk(body) => ChunkedResponse::from(body)
            .respond_to(request)
            .map_into_boxed_body(),
        Answer::Sse(stream) => SseResponse::from(stream)
            .respond_to(request)
            .map_into_boxed_body(),
        Answer::Room(stream) => SseResponse::from(stream)
            .respond_to(request)
            .map_into_boxed_body(),
        Answer::Text(text) => HttpResponse::Ok()
            .content_type(REFUSAL_CONTENT_TYPE)
            .body(text),
        Answer::Refused(refusal) => {
            let mut response = HttpResponse::build(
                StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
            );
            response.insert_header((header::CONTENT_TYPE, REFUSAL_CONTENT_TYPE));
            if let Some(header) = refusal.header {
                response.insert_header(header);
            }
            response.body(refusal.message)
        }
    }
}

/// The server `HttpServer::listen_auto_h2c` builds (HTTP/1.1, and HTTP/2
/// with prior knowledge), with the demo's limits and its two connection
/// deadlines ([`ssekit_examples::ConnectionDeadlines`]), which `HttpServer`
/// cannot take:
///
/// - a connection that sends nothing within [`limits::FIRST_ANSWER_WITHIN`]
///   is closed. actix-http peeks at the first bytes for the HTTP/2 preface
///   with no timeout, before any of its own timers start, so a client that
///   connects and stays silent would hold one of `--max-connections` for
///   ever. Past the first bytes, actix-http's timers take over
///   (`client_request_timeout` for the head, the demo's for a body).
/// - a write that waits [`limits::SEND_TIMEOUT`] for the client to take a
///   byte closes the connection (actix-http has no write timeout).
fn serve(
    listener: std::net::TcpListener,
    workers: usize,
    per_worker: usize,
) -> std::io::Result<actix_web::dev::Server> {
    let addr = listener.local_addr()?;
    let server = actix_web::dev::Server::build()
        .workers(workers)
        .max_concurrent_connections(per_worker)
        // Our signal handler ends the event streams first, then stops the
        // server gracefully (actix-web's own would wait for the streams).
        .disable_signals()
        .shutdown_timeout(ssekit_examples::GRACEFUL_SHUTDOWN_LIMIT.as_secs())
        .listen("ssekit-demo", listener, move || {
            let app = App::new().default_service(web::to(handle));
            let http = HttpService::build()
                .client_request_timeout(limits::HEADER_READ_TIMEOUT)
                // `HttpServer`'s default: a closing connection gets 1 s to
                // take its last bytes.
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                // A stream whose client left ends at once, with nothing
                // written to it.
                .on_connect_ext(|io: &Connection, extensions: &mut Extensions| {
                    ssekit_actix_web::on_connect(io.get_ref(), extensions);
                })
                // The app reads no connection info, so `AppConfig`'s
                // defaults (its fallback host and address) go unread.
                .finish(map_config(app, |()| AppConfig::default()));
            fn_service(protocol).and_then(http)
        })?;
    Ok(server.run())
}

/// An accepted connection with the send deadline.
type Connection = ConnectionDeadlines<TcpStream>;

/// A new connection's protocol, once it has sent something (or closed), as
/// `tcp_auto_h2c` tells it: HTTP/2 when its first bytes are the start of
/// the HTTP/2 preface, else HTTP/1.1. Dropped if it has sent nothing within
/// [`limits::FIRST_ANSWER_WITHIN`].
async fn protocol(
    io: TcpStream,
) -> Result<(Connection, Protocol, Option<SocketAddr>), DispatchError> {
    // The part of the preface (RFC 9113 §3.4) actix-http peeks at.
    const H2_PREFACE: &[u8] = b"PRI * HTTP/2";
    let mut first = [0; H2_PREFACE.len()];
    let protocol =
        match tokio::time::timeout(limits::FIRST_ANSWER_WITHIN, io.peek(&mut first)).await {
            Ok(Ok(_)) if first == H2_PREFACE => Protocol::Http2,
            Ok(Ok(_)) => Protocol::Http1,
            Ok(Err(err)) => return Err(DispatchError::Io(err)),
            Err(_) => return Err(DispatchError::SlowRequestTimeout),
        };
    let peer = io.peer_addr().ok();
    Ok((ConnectionDeadlines::sending(io), protocol, peer))
}

/// The requests being answered, from their start until their response's
/// body is done (an event stream's body is done once the stream ended):
/// the shutdown waits for them, as the hyper-based servers' graceful
/// shutdown does, before it stops actix-web (which stops without waiting,
/// see `main`). So every stream's final event and last chunk are written
/// however many streams are open, and a post to a room on a Redis that hangs
/// gets its `503` instead of a closed connection.
static HANDLING: std::sync::LazyLock<TaskTracker> = std::sync::LazyLock::new(TaskTracker::new);

/// A response body that counts in [`HANDLING`] until it is dropped, which
/// actix-http does once it has written it all (or the client left).
struct Handled {
    body: BoxBody,
    _token: TaskTrackerToken,
}

impl MessageBody for Handled {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// How long the responses get to flush their last bytes once their bodies
/// are done, before actix-web stops (see `main`).
const ACTIX_FLUSH: Duration = Duration::from_millis(200);

#[actix_web::main]
async fn main() -> ExitCode {
    let listener = match ssekit_examples::listen("actix-web") {
        Ok(listener) => listener,
        Err(code) => return code,
    };
    // actix-web's connection limit is per worker: `--max-connections N` is
    // shared out among them, so that the process holds at most N. A full
    // worker accepts again only once it is two under its share
    // (actix-server 2.6, actix-web#2703), never with a share of 1: so at
    // most N / 2 workers, each with a share of 2 or more (N = 1 is one
    // worker that, once full, stays full).
    let max_connections = ssekit_examples::max_connections().max(1);
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(max_connections / 2)
        .max(1);
    let per_worker = max_connections / workers;
    let server = match serve(listener, workers, per_worker) {
        Ok(server) => server,
        Err(err) => return ssekit_examples::exit_code(Err(err)),
    };
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        ssekit_examples::shutdown_signal().await;
        // actix-web's graceful stop also waits for every idle keep-alive
        // connection, up to its shutdown timeout; the event streams have
        // ended on the token, so wait for the responses still being written
        // (up to the same limit), give them a moment to flush, then stop
        // without waiting for idle connections.
        handle.pause().await; // no new connections from here on
        HANDLING.close();
        let _ =
            tokio::time::timeout(ssekit_examples::GRACEFUL_SHUTDOWN_LIMIT, HANDLING.wait()).await;
        tokio::time::sleep(ACTIX_FLUSH).await;
        handle.stop(false).await;
    });
    ssekit_examples::exit_code(server.await)
}
