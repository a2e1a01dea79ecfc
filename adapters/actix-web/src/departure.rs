//! Noticing that a client left, without writing to its idle stream.
//!
//! actix-web reads the client's FIN but goes on writing a streaming response,
//! and drops it only when a write fails. [`on_connect`] watches each plain TCP
//! connection for the FIN instead: it registers a duplicate of the socket's
//! descriptor with the worker's reactor for readability, and
//! `EPOLLRDHUP` reports the peer's close without consuming any byte that
//! actix-web has yet to read. An [`SseResponse`](crate::SseResponse) on a
//! watched connection ends as soon as the peer closes.

use std::any::Any;
use std::future::Future;
use std::io;
use std::os::fd::AsFd as _;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::dev::Extensions;
use tokio::io::{Interest, ReadBuf};

/// Registers each plain TCP connection so that an [`SseResponse`](crate::SseResponse)
/// on it ends as soon as the client closes the connection, with nothing
/// written to the idle stream. Pass it to [`HttpServer::on_connect`](actix_web::HttpServer::on_connect).
/// It also turns Nagle's algorithm off (`TCP_NODELAY`): with it on, an event
/// written while the previous one is unacknowledged waits for the client's
/// delayed ACK, up to 40 ms on Linux.
///
/// Costs one duplicated descriptor registered with the worker's reactor per
/// connection, and no task: the response body itself waits for its readiness,
/// so nothing runs until the peer closes (or sends more bytes, such as a
/// pipelined request). Other connections (TLS, Unix sockets) are left alone:
/// on them a departed client is noticed by the keep-alive, see [`SseResponse`](crate::SseResponse).
///
/// ```
/// use actix_web::{App, HttpServer};
///
/// # fn main() -> std::io::Result<()> {
/// let server = HttpServer::new(|| App::new())
///     .on_connect(ssekit_actix_web::on_connect)
///     .bind("127.0.0.1:0")?;
/// # drop(server);
/// # Ok(())
/// # }
/// ```
pub fn on_connect(connection: &dyn Any, extensions: &mut Extensions) {
    let Some(tcp) = connection.downcast_ref::<tokio::net::TcpStream>() else {
        return;
    };
    // Failing, it leaves the events a little later, as without ssekit.
    let _ = tcp.set_nodelay(true);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let Ok(fd) = tcp.as_fd().try_clone_to_owned() else {
        return;
    };
    // Registered with the reactor of the worker that serves the connection:
    // the response body that waits on it is polled on that worker too.
    let _entered = runtime.enter();
    let watched = tokio::net::TcpStream::from_std(std::net::TcpStream::from(fd));
    let Ok(watched) = watched.map(Rc::new) else {
        return;
    };
    extensions.insert(Departure { watched });
}

/// Waits, boxed, until the peer has closed its side (or the socket failed);
/// bytes it sends meanwhile are left for actix-web (their readiness cleared).
fn until_closed(socket: Rc<tokio::net::TcpStream>) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        loop {
            match socket.ready(Interest::READABLE).await {
                Ok(ready) if ready.is_read_closed() || ready.is_write_closed() => return,
                Ok(_) => {
                    let _ = socket.try_io(Interest::READABLE, || {
                        Err::<(), _>(io::ErrorKind::WouldBlock.into())
                    });
                }
                Err(_) => return,
            }
        }
    })
}

/// The watched duplicate of a connection's socket, kept in the connection's
/// data until the connection is dropped.
pub(crate) struct Departure {
    watched: Rc<tokio::net::TcpStream>,
}

/// Resolves when the client has closed the connection (never, unwatched).
/// It peeks at the watched duplicate, consuming nothing: end of stream or an
/// error means the client left. Bytes there (a pipelined request) would hide
/// a close behind them from a peek, so then it waits for the readiness flags
/// (`EPOLLRDHUP`), boxed. A peek takes the duplicate's one reader-waker slot:
/// fine for HTTP/1.1, one response at a time; an HTTP/2 response waits for
/// the flags from the start (every one of them is woken by the close).
pub(crate) struct Departed {
    watched: Option<Rc<tokio::net::TcpStream>>,
    behind_bytes: Option<Pin<Box<dyn Future<Output = ()>>>>,
}

impl Departed {
    pub(crate) fn new(departure: Option<&Departure>, http2: bool) -> Self {
        let watched = departure.map(|d| Rc::clone(&d.watched));
        let behind_bytes = watched.clone().filter(|_| http2).map(until_closed);
        Self {
            watched,
            behind_bytes,
        }
    }
}

impl Future for Departed {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let Some(watched) = &this.watched else {
            return Poll::Pending;
        };
        if let Some(behind_bytes) = this.behind_bytes.as_mut() {
            return behind_bytes.as_mut().poll(cx);
        }
        let mut byte = [0u8; 1];
        match watched.poll_peek(cx, &mut ReadBuf::new(&mut byte)) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(0) | Err(_)) => Poll::Ready(()),
            Poll::Ready(Ok(_)) => {
                let closed = this.behind_bytes.insert(until_closed(Rc::clone(watched)));
                closed.as_mut().poll(cx)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt as _;
    use tokio::time::timeout;

    /// The watch on a connection nobody reads: bytes alone are no departure,
    /// and the FIN behind them is one (a peek sees the bytes, not the FIN).
    #[actix_web::test]
    async fn a_close_behind_unread_bytes_is_a_departure() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let connect = tokio::net::TcpStream::connect(listener.local_addr().expect("addr"));
        let five = Duration::from_secs(5);
        let mut client = timeout(five, connect).await.expect("bound");
        let (server_side, _) = listener.accept().expect("accept");
        let duplicate = server_side.try_clone().expect("dup");
        duplicate.set_nonblocking(true).expect("non-blocking");
        let watched = tokio::net::TcpStream::from_std(duplicate)
            .expect("register")
            .into();
        let watch = super::Departure { watched };
        let mut departed = std::pin::pin!(super::Departed::new(Some(&watch), false));
        let client = client.as_mut().expect("connect");
        client.write_all(&[b'x'; 1024]).await.expect("bytes");
        let early = timeout(Duration::from_millis(100), departed.as_mut()).await;
        assert!(early.is_err(), "bytes are no departure");
        client.shutdown().await.expect("FIN");
        assert!(timeout(five, departed).await.is_ok());
    }
}
