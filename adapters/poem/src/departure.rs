//! Noticing that a client left, without writing to its idle stream.
//!
//! hyper reads the client's FIN while it writes a response and ends the
//! connection future with an "unexpected EOF" error, as under axum; but poem
//! 3.1's `serve_connection` then starts a graceful shutdown and awaits the
//! same connection again, and hyper takes up the response where it left off.
//! [`NoticeDepartures`] makes a connection's writes and flushes fail, without
//! a system call, once it has read the client's end of stream: hyper flushes
//! on that second poll and drops the response, as it does under axum.

use std::any::Any;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use poem::http::uri::Scheme;
use poem::listener::{Acceptor, Listener};
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Wraps a poem [`Listener`] or [`Acceptor`] so that a response on a
/// connection whose client has closed it ends at once: an idle
/// [`SseResponse`](crate::SseResponse) is dropped, and a handler waiting on
/// `Sender::closed()` stops, with nothing written to the idle stream.
///
/// When the inner acceptor yields a `tokio::net::TcpStream` (poem's
/// `TcpListener` does), it also turns Nagle's algorithm off
/// (`TCP_NODELAY`): with it on, an event written while the previous one is
/// unacknowledged waits for the client's delayed ACK, up to 40 ms on Linux.
/// An acceptor that wraps the stream in a type of its own should set it
/// itself.
///
/// ```
/// use poem::listener::TcpListener;
/// use poem::{Route, Server};
/// use ssekit_poem::NoticeDepartures;
///
/// let server = Server::new(NoticeDepartures::new(TcpListener::bind("127.0.0.1:0")));
/// let app = Route::new();
/// # drop((server, app));
/// ```
#[derive(Debug)]
#[must_use]
pub struct NoticeDepartures<T>(T);

impl<T> NoticeDepartures<T> {
    /// Wraps a listener or an acceptor.
    pub fn new(inner: T) -> Self {
        Self(inner)
    }
}

impl<L: Listener> Listener for NoticeDepartures<L> {
    type Acceptor = NoticeDepartures<L::Acceptor>;

    fn into_acceptor(self) -> impl Future<Output = io::Result<Self::Acceptor>> + Send {
        let listener = self.0;
        async move { listener.into_acceptor().await.map(NoticeDepartures) }
    }
}

impl<A: Acceptor> Acceptor for NoticeDepartures<A> {
    type Io = DepartureIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    fn accept(
        &mut self,
    ) -> impl Future<Output = io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)>> + Send {
        let accept = self.0.accept();
        async move {
            let (io, local, remote, scheme) = accept.await?;
            if let Some(tcp) = (&io as &dyn Any).downcast_ref::<tokio::net::TcpStream>() {
                // Failing, it leaves the events a little later, as without
                // ssekit.
                let _ = tcp.set_nodelay(true);
            }
            let io = DepartureIo {
                io,
                read_eof: false,
            };
            Ok((io, local, remote, scheme))
        }
    }
}

/// A connection whose writes fail once it has read the client's end of
/// stream; see [`NoticeDepartures`].
#[derive(Debug)]
pub struct DepartureIo<T> {
    io: T,
    read_eof: bool,
}

fn departed() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the client closed the connection",
    )
}

impl<T: AsyncRead + Unpin> AsyncRead for DepartureIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let wanted = buf.remaining() > 0;
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && wanted && buf.filled().len() == before {
            self.read_eof = true;
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for DepartureIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.read_eof {
            return Poll::Ready(Err(departed()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.read_eof {
            return Poll::Ready(Err(departed()));
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.read_eof {
            return Poll::Ready(Err(departed()));
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use poem::listener::{Acceptor as _, TcpAcceptor};
    use tokio::time::timeout;

    use super::NoticeDepartures;

    /// Accepted plain TCP connections have Nagle's algorithm off.
    #[tokio::test]
    async fn accepted_connections_have_tcp_nodelay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut acceptor = NoticeDepartures::new(TcpAcceptor::from_tokio(listener).unwrap());
        let five = Duration::from_secs(5);
        let (client, accepted) = tokio::join!(
            timeout(five, tokio::net::TcpStream::connect(addr)),
            timeout(five, acceptor.accept())
        );
        let _client = client.unwrap().unwrap();
        let (io, ..) = accepted.unwrap().unwrap();
        assert!(io.io.nodelay().unwrap());
    }
}
