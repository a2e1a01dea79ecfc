//! [`Shutdown`]: ending every open event stream when the application stops.
//!
//! An SSE response never ends by itself, so a server's graceful shutdown,
//! which waits for open responses to finish, waits for ever (axum and hyper
//! do; poem does without a timeout; actix-web drops the connections after
//! 30 s, cutting each stream without its final chunk, which a proxy such as
//! nginx reports to its client as `502`). [`EventStream::shutdown`] ties a
//! stream to a [`CancellationToken`]: when the token is cancelled, the stream
//! writes a final event and ends its body cleanly (the final chunk on
//! HTTP/1.1, `END_STREAM` on HTTP/2), so the server's graceful shutdown
//! completes as soon as the bytes are out.
//!
//! The final event is, by default, a `retry:` hint chosen at random between
//! [`Shutdown::DEFAULT_RETRY_MIN`] and `DEFAULT_RETRY_MIN + DEFAULT_RETRY_JITTER`
//! for each stream, so that thousands of browsers do not reconnect to the
//! next instance in the same millisecond.
//!
//! [`EventStream::shutdown`]: crate::EventStream::shutdown

use std::fmt;
use std::future::Future as _;
use std::hash::{BuildHasher as _, RandomState};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Context;
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::encode;
use crate::event::{EncodedEvent, Event};

/// How an [`EventStream`](crate::EventStream) ends when the application
/// shuts down: the token that says so, and the final event written before
/// the body ends.
///
/// Give every stream a clone of one token (or a
/// [`child_token`](CancellationToken::child_token)), cancel it when the
/// shutdown signal arrives, and let the framework's own graceful shutdown
/// wait for the responses: they end at once.
///
/// ```
/// use std::time::Duration;
/// use futures_util::{StreamExt, stream};
/// use ssekit::{Event, EventStream, Shutdown};
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let token = CancellationToken::new();
/// let mut body = EventStream::new(stream::pending::<Event>())
///     .shutdown(Shutdown::new(token.clone()).retry(Duration::from_secs(2), Duration::ZERO));
///
/// token.cancel();
/// assert_eq!(&body.next().await.unwrap()[..], b"retry: 2000\n\n");
/// assert!(body.next().await.is_none(), "then the body ends");
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct Shutdown {
    token: CancellationToken,
    // Shared by every stream the `Shutdown` is given to: one pointer each.
    farewell: Arc<Farewell>,
}

#[derive(Clone, Debug)]
enum Farewell {
    Nothing,
    Retry { min: Duration, jitter: Duration },
    Event(Bytes),
}

impl Shutdown {
    /// The shortest reconnection delay of the default final event.
    pub const DEFAULT_RETRY_MIN: Duration = Duration::from_millis(500);
    /// The spread of the default final event's reconnection delay.
    pub const DEFAULT_RETRY_JITTER: Duration = Duration::from_millis(2_500);

    /// Ends the stream when `token` is cancelled, after the default final
    /// event: `retry: <ms>`, with `ms` drawn for each stream between
    /// [`Shutdown::DEFAULT_RETRY_MIN`] and that plus
    /// [`Shutdown::DEFAULT_RETRY_JITTER`].
    pub fn new(token: CancellationToken) -> Self {
        Self {
            token,
            farewell: Arc::new(Farewell::Retry {
                min: Self::DEFAULT_RETRY_MIN,
                jitter: Self::DEFAULT_RETRY_JITTER,
            }),
        }
    }

    /// Sets the final event to `retry: <ms>` with `ms` drawn uniformly, for
    /// each stream, between `min` and `min + jitter` (whole milliseconds).
    /// A zero `jitter` gives every stream the same delay.
    pub fn retry(mut self, min: Duration, jitter: Duration) -> Self {
        self.farewell = Arc::new(Farewell::Retry { min, jitter });
        self
    }

    /// Sets the final event (for example one with an `event` type the page
    /// listens for, to say that the server is restarting).
    pub fn final_event(mut self, event: &Event) -> Self {
        self.farewell = Arc::new(Farewell::Event(encode::encode(event)));
        self
    }

    /// Sets the final event to one already encoded (shared, not copied).
    pub fn final_encoded(mut self, event: EncodedEvent) -> Self {
        self.farewell = Arc::new(Farewell::Event(event.into_bytes()));
        self
    }

    /// Ends the body without a final event.
    pub fn without_final_event(mut self) -> Self {
        self.farewell = Arc::new(Farewell::Nothing);
        self
    }

    /// The token that ends the streams.
    #[must_use]
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Whether the shutdown has begun.
    #[must_use]
    pub fn is_started(&self) -> bool {
        self.token.is_cancelled()
    }

    pub(crate) fn into_signal(self) -> ShutdownSignal {
        ShutdownSignal {
            state: State::Waiting(Box::pin(self.token.cancelled_owned())),
            farewell: self.farewell,
        }
    }
}

/// [`Shutdown::new`]: the default final event.
impl From<CancellationToken> for Shutdown {
    fn from(token: CancellationToken) -> Self {
        Self::new(token)
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("started", &self.is_started())
            .field("farewell", &self.farewell)
            .finish()
    }
}

/// The most bytes of events that are ready when the shutdown comes (a hub
/// subscriber's queue, a channel's backlog) written before the final event:
/// a hub subscriber's whole default queue
/// ([`HubBuilder::subscriber_queue_bytes`](crate::HubBuilder::subscriber_queue_bytes)).
pub(crate) const DRAIN_BYTES: usize = 1 << 20;

/// The per-stream state: the pending cancellation, then what is left to
/// write before the stream ends.
pub(crate) struct ShutdownSignal {
    state: State,
    farewell: Arc<Farewell>,
}

enum State {
    /// Boxed: the future is `!Unpin`.
    Waiting(Pin<Box<WaitForCancellationFutureOwned>>),
    /// Fired: at most `left` more bytes of ready events, then the final
    /// event.
    Draining { left: usize },
    /// The final event was taken.
    Said,
}

impl ShutdownSignal {
    /// Whether the shutdown has fired (it stays fired); while it has not,
    /// `cx` is woken when it does.
    pub(crate) fn poll_fired(&mut self, cx: &mut Context<'_>) -> bool {
        let State::Waiting(cancelled) = &mut self.state else {
            return true;
        };
        if cancelled.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.state = State::Draining { left: DRAIN_BYTES };
        true
    }

    /// How many more bytes of ready events may be written before the final
    /// event (only once fired).
    pub(crate) fn drain_left(&self) -> usize {
        match self.state {
            State::Draining { left } => left,
            State::Waiting(_) | State::Said => 0,
        }
    }

    /// Counts `bytes` written since the shutdown fired.
    pub(crate) fn drained(&mut self, bytes: usize) {
        if let State::Draining { left } = &mut self.state {
            *left = left.saturating_sub(bytes);
        }
    }

    /// Whether the final event is still to be taken after firing (for a
    /// size hint).
    pub(crate) fn farewell_due(&self) -> bool {
        matches!(self.state, State::Draining { .. }) && !matches!(*self.farewell, Farewell::Nothing)
    }

    /// The final event to write, once, after the shutdown fired: `None`
    /// before it fired, after it was taken, or when there is none.
    pub(crate) fn take_farewell(&mut self) -> Option<Bytes> {
        if !matches!(self.state, State::Draining { .. }) {
            return None;
        }
        self.state = State::Said;
        match &*self.farewell {
            Farewell::Nothing => None,
            Farewell::Event(bytes) => Some(bytes.clone()),
            Farewell::Retry { min, jitter } => {
                let delay = min.saturating_add(random_below(*jitter));
                Some(encode::encode(&Event::default().retry(delay)))
            }
        }
    }
}

impl fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Waiting(_) => "waiting",
            State::Draining { .. } => "draining",
            State::Said => "said",
        };
        f.debug_struct("ShutdownSignal")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

/// A duration drawn uniformly from `0..=max`, in whole milliseconds. Not
/// cryptographic: std's randomly keyed hasher over a process-wide counter,
/// which is all a reconnection jitter needs.
fn random_below(max: Duration) -> Duration {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if max_ms == 0 {
        return Duration::ZERO;
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one(n);
    Duration::from_millis(random % max_ms.saturating_add(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_range_and_spreads() {
        let max = Duration::from_millis(1000);
        let draws: Vec<Duration> = (0..200).map(|_| random_below(max)).collect();
        assert!(draws.iter().all(|d| *d <= max));
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert!(
            distinct.len() > 50,
            "only {} distinct delays",
            distinct.len()
        );
        assert_eq!(random_below(Duration::ZERO), Duration::ZERO);
        assert!(random_below(Duration::MAX) <= Duration::MAX);
    }
}
