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

use actix_web::dev::Extensions;
use tokio::io::Interest;
use tokio::sync::{oneshot, watch};

/// Registers each plain TCP connection so that an [`SseResponse`](crate::SseResponse)
/// on it ends as soon as the client closes the connection, with nothing
/// written to the idle stream. Pass it to [`HttpServer::on_connect`](actix_web::HttpServer::on_connect).
///
/// Costs one duplicated descriptor and one idle task per connection; nothing
/// runs until the peer closes (or sends more bytes, such as a pipelined
/// request). Connections that are not plain TCP (TLS, Unix sockets) are left
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
    // Registering needs the runtime's context; `from_std` keeps the
    // descriptor's non-blocking flag, which it shares with actix-web's copy.
    let _entered = runtime.enter();
    let Ok(watched) = tokio::net::TcpStream::from_std(std::net::TcpStream::from(fd)) else {
        return;
    };
    let (departed_tx, departed_rx) = watch::channel(false);
    let (guard, connection_dropped) = oneshot::channel::<()>();
    runtime.spawn(async move {
        let peer_closed = wait_for_peer_close(&watched);
        tokio::pin!(peer_closed);
        tokio::select! {
            () = &mut peer_closed => {
                let _ = departed_tx.send(true);
            }
            // actix-web dropped the connection (and its extensions): stop
            // watching, and close the duplicate so the socket can close.
            _ = connection_dropped => {}
        }
    });
    extensions.insert(Departure {
        departed: departed_rx,
        _guard: guard,
    });
}

/// Waits until the peer has closed its side (FIN or reset), consuming nothing.
async fn wait_for_peer_close(socket: &tokio::net::TcpStream) {
    loop {
        match socket.ready(Interest::READABLE).await {
            Ok(ready) if ready.is_read_closed() || ready.is_write_closed() => return,
            Ok(_) => {
                // Readable without a close: bytes for actix-web to read. Clear
                // the readiness without reading, and wait for the next change.
                let _ = socket.try_io(Interest::READABLE, || {
                    Err::<(), _>(io::ErrorKind::WouldBlock.into())
                });
            }
            Err(_) => return,
        }
    }
}

/// What [`on_connect`] leaves in a connection's extensions.
pub(crate) struct Departure {
    departed: watch::Receiver<bool>,
    /// Dropped with the connection: stops the watcher.
    _guard: oneshot::Sender<()>,
}

impl Departure {
    /// A future that completes when the peer has closed the connection.
    pub(crate) fn departed(&self) -> Pin<Box<dyn Future<Output = ()>>> {
        let mut departed = self.departed.clone();
        Box::pin(async move {
            if departed.wait_for(|gone| *gone).await.is_err() {
                // The watcher stopped with the connection: the response is
                // being dropped anyway.
                std::future::pending::<()>().await;
            }
        })
    }
}
