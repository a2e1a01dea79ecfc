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
///
/// Costs one duplicated descriptor registered with the worker's reactor per
/// connection, and no task: the response body itself waits for the
/// descriptor's readiness, so nothing runs until the peer closes (or sends
/// more bytes, such as a pipelined request). Connections that are not plain TCP (TLS, Unix sockets) are left
/// alone: on them a departed client is noticed by the keep-alive, see
/// [`SseResponse`](crate::SseResponse).
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
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let Ok(fd) = tcp.as_fd().try_clone_to_owned() else {
        return;
    };
    // Registered with the reactor of the worker that serves the connection:
    // the response body that waits on it is polled on that worker too.
    let _entered = runtime.enter();
    let Ok(watched) = tokio::net::TcpStream::from_std(std::net::TcpStream::from(fd)) else {
        return;
    };
    extensions.insert(Departure {
        watched: Rc::new(watched),
    });
}

/// Waits until the peer has closed its side (or the socket failed); bytes it
/// sends meanwhile are left for actix-web to read.
async fn wait_for_peer_close(socket: &tokio::net::TcpStream) {
    loop {
        match socket.ready(Interest::READABLE).await {
            Ok(ready) if ready.is_read_closed() || ready.is_write_closed() => return,
            Ok(_) => {
                // Readable because of bytes, not a close: clear the readiness
                // without reading them, and wait for the next change.
                let _ = socket.try_io(Interest::READABLE, || {
                    Err::<(), _>(io::ErrorKind::WouldBlock.into())
                });
            }
            Err(_) => return,
        }
    }
}

/// The watched duplicate of a connection's socket, kept in the connection's
/// data until the connection is dropped.
pub(crate) struct Departure {
    watched: Rc<tokio::net::TcpStream>,
}

/// Resolves when the client has closed the connection; never, for a
/// connection [`on_connect`] does not watch.
///
/// It peeks at the watched duplicate, which consumes nothing: end of stream
/// (or an error) means the client left. Bytes waiting there (a pipelined
/// request, which actix-web reads only after this response) hide a close
/// behind them from a peek, so then it waits for the socket's readiness
/// flags instead (`EPOLLRDHUP`), in a boxed future made only then. The
/// first poll of a response usually costs one peek that finds nothing (the
/// request's own bytes left the duplicate marked readable); the wait itself
/// costs nothing. It takes the duplicate's one reader-waker slot: sound, as
/// actix-web answers a connection's requests one at a time, so at most one
/// `Departed` waits on a connection.
pub(crate) struct Departed {
    watched: Option<Rc<tokio::net::TcpStream>>,
    behind_bytes: Option<Pin<Box<dyn Future<Output = ()>>>>,
}

impl Departed {
    pub(crate) fn new(departure: Option<&Departure>) -> Self {
        Self {
            watched: departure.map(|d| Rc::clone(&d.watched)),
            behind_bytes: None,
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
                let watched = Rc::clone(watched);
                let behind_bytes = this
                    .behind_bytes
                    .insert(Box::pin(async move { wait_for_peer_close(&watched).await }));
                behind_bytes.as_mut().poll(cx)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::dev::ServerHandle;
    use actix_web::{App, HttpServer, Responder as _, web};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;
    use tokio::sync::mpsc;
    use tokio::time::timeout;

    use crate::SseResponse;

    /// Where the route hands each stream's push channel to the test.
    type Senders = mpsc::UnboundedSender<ssekit::Sender>;

    /// An idle stream (keep-alive 15 s: nothing is written while a test
    /// waits) whose sender goes to the test.
    async fn idle(
        req: actix_web::HttpRequest,
        senders: web::Data<Senders>,
    ) -> actix_web::HttpResponse {
        let (tx, events) = ssekit::channel(1);
        let _ = senders.send(tx);
        SseResponse::from(events).respond_to(&req)
    }

    /// A server on 127.0.0.1:0 with the adapter's `on_connect`, a raw
    /// client with an idle stream open on it (its response head read), and
    /// that stream's sender.
    async fn open_idle() -> (ServerHandle, TcpStream, ssekit::Sender) {
        let (senders, mut opened) = mpsc::unbounded_channel();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(senders.clone()))
                .route("/idle", web::get().to(idle))
        })
        .on_connect(super::on_connect)
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let mut client = TcpStream::connect(addr).await.expect("connect");
        client
            .write_all(b"GET /idle HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("request");
        let mut head = [0u8; 512];
        let n = client.read(&mut head).await.expect("response head");
        assert!(
            head[..n].starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&head[..n])
        );
        let tx = opened.recv().await.expect("the stream's sender");
        (handle, client, tx)
    }

    /// Closes the client's side (its FIN; the socket stays open, as a full
    /// close with unread bytes would send a reset, which actix-web notices
    /// itself) and says whether the stream's sender saw it within 5 s.
    async fn noticed_after_fin(client: &mut TcpStream, tx: &ssekit::Sender) -> bool {
        client.shutdown().await.expect("shutdown");
        timeout(Duration::from_secs(5), tx.closed()).await.is_ok()
    }

    /// The watch itself, on a connection whose server side nobody reads:
    /// bytes alone are no departure, and the FIN behind them is one (the
    /// peek sees the bytes, not the FIN, so this takes the readiness wait).
    #[actix_web::test]
    async fn a_close_behind_unread_bytes_is_a_departure() {
        timeout(Duration::from_secs(20), async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
            let mut client = TcpStream::connect(listener.local_addr().expect("local addr"))
                .await
                .expect("connect");
            let (server_side, _) = listener.accept().expect("accept");
            let duplicate = server_side.try_clone().expect("dup");
            duplicate.set_nonblocking(true).expect("non-blocking");
            let departure = super::Departure {
                watched: std::rc::Rc::new(TcpStream::from_std(duplicate).expect("register")),
            };
            let mut departed = std::pin::pin!(super::Departed::new(Some(&departure)));
            client.write_all(&[b'x'; 1024]).await.expect("bytes");
            let early = timeout(Duration::from_millis(100), departed.as_mut()).await;
            assert!(early.is_err(), "bytes are not a departure");
            client.shutdown().await.expect("shutdown");
            let noticed = timeout(Duration::from_secs(5), departed).await;
            assert!(noticed.is_ok(), "the FIN behind the bytes is");
            drop(server_side);
        })
        .await
        .expect("bounded");
    }

    #[actix_web::test]
    async fn a_client_that_closes_is_noticed_without_a_write() {
        timeout(Duration::from_secs(20), async {
            let (handle, mut client, tx) = open_idle().await;
            assert!(noticed_after_fin(&mut client, &tx).await);
            handle.stop(false).await;
        })
        .await
        .expect("bounded");
    }

    #[actix_web::test]
    async fn bytes_after_the_request_are_no_departure_and_a_close_behind_them_is() {
        timeout(Duration::from_secs(20), async {
            let (handle, mut client, tx) = open_idle().await;
            // A pipelined request, which actix-web reads only after this
            // response (the bytes may sit in the socket until then).
            let pipelined = b"GET /idle HTTP/1.1\r\nhost: x\r\n\r\n";
            client.write_all(pipelined).await.expect("pipelined bytes");
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(!tx.is_closed(), "bytes are not a departure");
            tx.send(ssekit::Event::new("still here"))
                .await
                .expect("the stream is open");
            let mut seen = Vec::new();
            while !seen.windows(16).any(|w| w == b"data: still here") {
                let mut buf = [0u8; 1024];
                let n = client.read(&mut buf).await.expect("read");
                assert!(n > 0, "the stream ended");
                seen.extend_from_slice(&buf[..n]);
            }
            assert!(noticed_after_fin(&mut client, &tx).await);
            handle.stop(false).await;
        })
        .await
        .expect("bounded");
    }
}
