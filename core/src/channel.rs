//! Push-style handlers: [`channel`] gives a [`Sender`] for a task to push
//! events through and the [`EventStream`] to return as the response.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::event::Event;
use crate::stream::EventStream;

/// Makes a bounded channel of events: a [`Sender`] for the task that produces
/// them, and the [`EventStream`] to return from the handler (with the default
/// keep-alive; change it with [`EventStream::keep_alive`]).
///
/// When the client goes away, the framework drops the response body and with
/// it the receiving end: from then on [`Sender::send`] fails with
/// [`SendError`], and [`Sender::closed`] completes. That is the Rust form of
/// Go's `<-r.Context().Done()`: a producing loop waits on both, so it stops
/// even while it has nothing to send.
///
/// `capacity` is how many events may wait to be written; 0 is taken as 1.
///
/// ```
/// use std::time::Duration;
/// use ssekit::Event;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (tx, stream) = ssekit::channel(16);
/// tokio::spawn(async move {
///     let mut tick = tokio::time::interval(Duration::from_secs(2));
///     loop {
///         tokio::select! {
///             _ = tx.closed() => break, // the client left
///             _ = tick.tick() => {
///                 if tx.send(Event::new("tick")).await.is_err() {
///                     break;
///                 }
///             }
///         }
///     }
/// });
/// // return `stream` from the handler, through the framework's adapter
/// # drop(stream);
/// # }
/// ```
pub fn channel(capacity: usize) -> (Sender, EventStream<PushedEvents>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (Sender { tx }, EventStream::new(PushedEvents { rx }))
}

/// The sending half of [`channel`]. Cloning gives another sender to the same
/// stream; the stream ends when every sender is dropped.
#[derive(Clone)]
pub struct Sender {
    tx: mpsc::Sender<Event>,
}

impl Sender {
    /// Sends an event, waiting while the channel is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] once the client has gone (the stream was dropped); the
    /// event is handed back in it.
    pub async fn send(&self, event: Event) -> Result<(), SendError> {
        self.tx
            .send(event)
            .await
            .map_err(|mpsc::error::SendError(event)| SendError { event, full: false })
    }

    /// Sends an event if there is room now.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the client has gone or the channel is full
    /// ([`SendError::is_full`]); the event is handed back in it.
    pub fn try_send(&self, event: Event) -> Result<(), SendError> {
        self.tx.try_send(event).map_err(|err| match err {
            mpsc::error::TrySendError::Full(event) => SendError { event, full: true },
            mpsc::error::TrySendError::Closed(event) => SendError { event, full: false },
        })
    }

    /// Completes when the client has gone (the stream was dropped).
    ///
    /// Cancel-safe: use it in `tokio::select!` beside the work of the loop.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }

    /// Whether the client has gone.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// The events a [`Sender`] pushes: the receiving half of [`channel`], inside
/// the [`EventStream`] a push-style handler returns
/// (`SseResponse<ssekit::PushedEvents>`).
pub struct PushedEvents {
    rx: mpsc::Receiver<Event>,
}

impl Stream for PushedEvents {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

impl fmt::Debug for PushedEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushedEvents").finish_non_exhaustive()
    }
}

/// An event that could not be sent: the client has gone, or (from
/// [`Sender::try_send`]) the channel is full. The event is not lost: take it
/// back with [`SendError::into_event`].
pub struct SendError {
    event: Event,
    full: bool,
}

impl SendError {
    /// Whether the channel was full (only from [`Sender::try_send`]); otherwise
    /// the client has gone.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Whether the client has gone.
    #[must_use]
    pub fn is_disconnected(&self) -> bool {
        !self.full
    }

    /// The event that was not sent.
    pub fn into_event(self) -> Event {
        self.event
    }
}

impl fmt::Debug for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("full", &self.full)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.full {
            f.write_str("event not sent: the stream's buffer is full")
        } else {
            f.write_str("event not sent: the client has gone")
        }
    }
}

impl std::error::Error for SendError {}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::StreamExt;

    use super::*;

    #[tokio::test]
    async fn events_flow_then_drop_closes() {
        let (tx, mut stream) = channel(0);
        tx.send(Event::new("a")).await.unwrap();
        assert_eq!(&stream.next().await.unwrap()[..], b"data: a\n\n");
        assert!(!tx.is_closed());
        drop(stream);
        tokio::time::timeout(Duration::from_secs(1), tx.closed())
            .await
            .unwrap();
        let err = tx.send(Event::new("b")).await.unwrap_err();
        assert!(err.is_disconnected());
        assert_eq!(err.into_event().get_data(), Some("b"));
    }

    #[tokio::test]
    async fn try_send_reports_full() {
        let (tx, _stream) = channel(1);
        tx.try_send(Event::new("a")).unwrap();
        let err = tx.try_send(Event::new("b")).unwrap_err();
        assert!(err.is_full());
        assert_eq!(
            err.to_string(),
            "event not sent: the stream's buffer is full"
        );
    }

    #[tokio::test]
    async fn stream_ends_when_senders_drop() {
        let (tx, mut stream) = channel(4);
        let tx2 = tx.clone();
        tx2.send(Event::new("x")).await.unwrap();
        drop((tx, tx2));
        assert_eq!(&stream.next().await.unwrap()[..], b"data: x\n\n");
        assert!(stream.next().await.is_none());
    }
}
