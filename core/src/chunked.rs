//! [`ChunkedBody`]: a plain streamed response that is not SSE, such as an
//! HTML page written piece by piece (the classic "chunk demo").
//!
//! Over HTTP/1.1 it goes out with `Transfer-Encoding: chunked`, each item of
//! the stream written and flushed as it comes; over HTTP/2 as DATA frames.

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio_util::sync::CancellationToken;

use crate::error::{Field, InvalidValue, Problem};
use crate::shutdown::{Shutdown, ShutdownSignal};

mod sealed {
    pub trait Sealed {}
}

/// What a [`ChunkedBody`] accepts as stream items: [`Bytes`], `String`,
/// `&'static str`, `Vec<u8>`, or a `Result` of those whose error implements
/// [`std::error::Error`] (an `Err` is logged and ends the body).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a body chunk",
    note = "a `ChunkedBody` needs a stream of `Bytes`, `String`, `&'static str` or `Vec<u8>`, or `Result` of those"
)]
pub trait ChunkItem: sealed::Sealed {
    /// The chunk, or `None` for an error that ends the body (already logged).
    #[doc(hidden)]
    fn into_chunk(self) -> Option<Bytes>;
}

macro_rules! chunk_item {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {}
        impl ChunkItem for $ty {
            fn into_chunk(self) -> Option<Bytes> {
                Some(Bytes::from(self))
            }
        }
    )*};
}
chunk_item!(Bytes, String, &'static str, Vec<u8>);

impl<T: ChunkItem, E: std::error::Error> sealed::Sealed for Result<T, E> {}
impl<T: ChunkItem, E: std::error::Error> ChunkItem for Result<T, E> {
    fn into_chunk(self) -> Option<Bytes> {
        match self {
            Ok(chunk) => chunk.into_chunk(),
            Err(error) => {
                tracing::error!(%error, "ssekit: the chunked body yielded an error; ending the response");
                None
            }
        }
    }
}

pin_project! {
    /// A streamed body with its content type, for responses that are not
    /// event streams. Each adapter turns it into a response with
    /// `Content-Type: <content type>` and `X-Accel-Buffering: no`, writing each
    /// chunk as soon as the stream yields it.
    ///
    /// ```
    /// use futures_util::stream;
    /// use ssekit::ChunkedBody;
    ///
    /// let page = ChunkedBody::html(stream::iter(["<html><body>", "<h1>0</h1>", "</body></html>"]));
    /// assert_eq!(page.content_type(), "text/html; charset=utf-8");
    ///
    /// let bad = ChunkedBody::new("text/html\r\nx-evil: 1", stream::iter(["x"]));
    /// assert!(bad.is_err());
    /// ```
    #[must_use = "streams do nothing unless polled; return it from a handler"]
    pub struct ChunkedBody<S> {
        content_type: Cow<'static, str>,
        #[pin]
        inner: S,
        done: bool,
        // Set by `shutdown`: ends the body when it fires (no final bytes).
        shutdown: Option<ShutdownSignal>,
    }
}

impl<S> ChunkedBody<S>
where
    S: Stream,
    S::Item: ChunkItem,
{
    /// A body with the given content type.
    ///
    /// # Errors
    ///
    /// [`InvalidValue`] when `content_type` has a byte that a header value
    /// cannot carry (only visible ASCII and spaces are accepted).
    pub fn new(content_type: impl Into<Cow<'static, str>>, inner: S) -> Result<Self, InvalidValue> {
        let content_type = content_type.into();
        if let Some(at) = content_type
            .bytes()
            .position(|b| !(b == b' ' || b.is_ascii_graphic()))
        {
            return Err(InvalidValue::new(
                Field::ContentType,
                Problem::NotVisibleAscii,
                at,
            ));
        }
        Ok(Self {
            content_type,
            inner,
            done: false,
            shutdown: None,
        })
    }

    /// A `text/html; charset=utf-8` body.
    pub fn html(inner: S) -> Self {
        Self {
            content_type: Cow::Borrowed("text/html; charset=utf-8"),
            inner,
            done: false,
            shutdown: None,
        }
    }

    /// A `text/plain; charset=utf-8` body.
    pub fn text(inner: S) -> Self {
        Self {
            content_type: Cow::Borrowed("text/plain; charset=utf-8"),
            inner,
            done: false,
            shutdown: None,
        }
    }
}

impl<S> ChunkedBody<S> {
    /// The content type.
    #[must_use]
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Ends the body cleanly when `token` is cancelled (the last chunk on
    /// HTTP/1.1, `END_STREAM` on HTTP/2), so that the server's graceful
    /// shutdown does not wait for a body that never ends by itself, nor cut
    /// it. The same token as the event streams' [`Shutdown`](crate::Shutdown).
    ///
    /// ```
    /// use futures_util::{StreamExt, stream};
    /// use ssekit::{CancellationToken, ChunkedBody};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let token = CancellationToken::new();
    /// let mut page = ChunkedBody::html(stream::iter(["<p>1</p>"]).chain(stream::pending()))
    ///     .shutdown(token.clone());
    /// assert_eq!(&page.next().await.unwrap()[..], b"<p>1</p>");
    /// token.cancel();
    /// assert!(page.next().await.is_none(), "ended");
    /// # }
    /// ```
    pub fn shutdown(mut self, token: CancellationToken) -> Self {
        self.shutdown = Some(Shutdown::new(token).without_final_event().into_signal());
        self
    }

    /// The response headers besides the content type.
    #[must_use]
    pub fn extra_headers(&self) -> [(&'static str, &'static str); 1] {
        [("x-accel-buffering", "no")]
    }
}

impl<S> fmt::Debug for ChunkedBody<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkedBody")
            .field("content_type", &self.content_type)
            .field("inner", &std::any::type_name::<S>())
            .finish_non_exhaustive()
    }
}

impl<S> Stream for ChunkedBody<S>
where
    S: Stream,
    S::Item: ChunkItem,
{
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut this = self.project();
        if let Some(shutdown) = this.shutdown.as_mut() {
            if shutdown.poll_fired(cx) {
                *this.shutdown = None;
                *this.done = true;
            }
        }
        while !*this.done {
            match this.inner.as_mut().poll_next(cx) {
                // An empty chunk would read as the end of a chunked body: skip it.
                Poll::Ready(Some(item)) => match item.into_chunk() {
                    Some(chunk) if chunk.is_empty() => {}
                    Some(chunk) => return Poll::Ready(Some(chunk)),
                    None => *this.done = true,
                },
                Poll::Ready(None) => *this.done = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(None)
    }
}
