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

use actix_web::dev::Extensions;
use tokio::io::Interest;

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

impl Departure {
    /// Resolves when the client has closed the connection.
    pub(crate) fn departed(&self) -> Pin<Box<dyn Future<Output = ()>>> {
        let watched = Rc::clone(&self.watched);
        Box::pin(async move { wait_for_peer_close(&watched).await })
    }
}
