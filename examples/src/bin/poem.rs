//! Run with: `cargo run -p ssekit-examples --bin poem [-- --addr 127.0.0.1:8080]`,
//! then open <http://127.0.0.1:8080/>.
//!
//! Every request goes to one endpoint: [`ssekit_examples::answer`] decides
//! (route, method, query, `Last-Event-ID`), this file only turns its answer
//! into a poem response, so the four binaries answer alike. Served with the
//! limits of [`ssekit_examples::limits`] that poem lets a program set.

use std::io;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};

use poem::http::uri::Scheme;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::Html;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Body, IntoResponse as _, Request, Response, handler};
use ssekit_examples::{Answer, ConnectionDeadlines, PAGE, REFUSAL_CONTENT_TYPE, limits};
use ssekit_poem::{ChunkedResponse, NoticeDepartures, SseResponse};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A `HEAD` request gets the `GET` answer's status and headers without its
/// body. hyper drops the body of a `HEAD` answer over HTTP/1.1 but sends it
/// over HTTP/2, where a client takes it for a protocol error; poem, unlike
/// axum's router, leaves it there. So the body goes here, and the length it
/// had stays.
#[handler]
async fn handle(request: &Request, body: Body) -> Response {
    let uri = request.uri();
    let body = if ssekit_examples::needs_body(request.method().as_str(), uri.path()) {
        ssekit_examples::read_body(
            body.into_bytes_stream(),
            request
                .headers()
                .get(header::CONTENT_LENGTH)
                .map(HeaderValue::as_bytes),
        )
        .await
    } else {
        Ok(bytes::Bytes::new())
    };
    let answer = ssekit_examples::answer_async(
        request.method().as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        request
            .headers()
            .get_all(ssekit::last_event_id::HEADER_NAME)
            .into_iter()
            .map(HeaderValue::as_bytes),
        body,
    )
    .await;
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
        Answer::Room(stream) => SseResponse::from(stream).into_response(),
        Answer::Text(text) => Response::builder()
            .header(header::CONTENT_TYPE, REFUSAL_CONTENT_TYPE)
            .body(text),
        Answer::Refused(refusal) => {
            let mut response = Response::builder()
                .status(StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST))
                .header(header::CONTENT_TYPE, REFUSAL_CONTENT_TYPE);
            if let Some((name, value)) = refusal.header {
                response = response.header(name, value);
            }
            response.body(refusal.message)
        }
    }
}

/// A [`TcpAcceptor`] that keeps at most [`limits::MAX_CONNECTIONS`]
/// connections open (poem's server has no such setting): the next
/// connection waits in the kernel's backlog until one closes.
struct Limited {
    inner: TcpAcceptor,
    permits: Arc<Semaphore>,
}

impl Acceptor for Limited {
    type Io = Counted;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Counted, LocalAddr, RemoteAddr, Scheme)> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        let (stream, local, remote, scheme) = self.inner.accept().await?;
        // `NoticeDepartures` sets it on a plain `TcpStream` only, and this
        // acceptor wraps the stream: events leave at once (see the
        // ssekit-poem docs).
        let _ = stream.set_nodelay(true);
        Ok((
            Counted {
                stream: ConnectionDeadlines::new(stream),
                _permit: permit,
            },
            local,
            remote,
            scheme,
        ))
    }
}

/// A connection holding one of [`Limited`]'s permits until it closes, and
/// closed when a deadline passes (see [`ConnectionDeadlines`]).
struct Counted {
    stream: ConnectionDeadlines<TcpStream>,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let listener = match ssekit_examples::tokio_listener("poem") {
        Ok(listener) => listener,
        Err(code) => return code,
    };
    match TcpAcceptor::from_tokio(listener) {
        Ok(inner) => ssekit_examples::exit_code(
            // `NoticeDepartures`: a stream whose client left ends at once,
            // with nothing written to it (see ssekit-poem).
            poem::Server::new_with_acceptor(NoticeDepartures::new(Limited {
                inner,
                permits: Arc::new(Semaphore::new(ssekit_examples::max_connections())),
            }))
            .http2_max_header_list_size(limits::H2_MAX_HEADER_LIST_SIZE)
            .http2_max_concurrent_streams(limits::H2_MAX_CONCURRENT_STREAMS)
            .run_with_graceful_shutdown(
                handle,
                ssekit_examples::shutdown_signal(),
                Some(ssekit_examples::GRACEFUL_SHUTDOWN_LIMIT),
            )
            .await,
        ),
        Err(err) => ssekit_examples::exit_code(Err(err)),
    }
}
