//! The seam between the [`Hub`](super::Hub) and a backplane that shares
//! topics between several instances (processes, machines).
//!
//! Without a backplane the hub keeps each topic's positions and history in
//! memory (the default). With one ([`HubBuilder::backplane`]), the split is:
//!
//! | the hub (every instance) | the backplane (shared, e.g. Redis) |
//! |--------------------------|------------------------------------|
//! | local subscribers, each with its queue bounded in bytes | positions: one epoch and one contiguous offset per topic, assigned atomically |
//! | local fan-out: the same shared bytes to every local subscriber | history, read on join ([`Backplane::read`]) |
//! | the `last + 1` check of every delivery, dedupe, and the join merge | the live feed to every instance ([`Feed::deliver`]) |
//! | `reset` signalling, slow-subscriber drops, shutdown | filling gaps and catching a lost last message ([`Backplane::catch_up`]) |
//!
//! A publish goes to the backplane ([`Hub::publish_async`]), which assigns
//! the position, stores the event (with its `id: <epoch>-<offset>` line) and
//! sends it to every instance; each instance's backplane task hands it to
//! its hub through the [`Feed`]. The hub fans an event out only if it is the
//! next one (`offset == last + 1` in the same epoch): a duplicate is
//! dropped, a gap is reported ([`Delivery::Gap`]) for the backplane to fill
//! from its history, and an event of another epoch (the backplane lost its
//! data) ends the topic's local subscriptions, so that their browsers
//! reconnect and get `reset` rather than a wrong event.
//!
//! A subscriber joining a topic is registered at once (live events queue
//! from then on) and its stream first awaits [`Backplane::read`]: the
//! history after its `Last-Event-ID` up to the top. The live events the read
//! already covered are skipped, so the replay and the live events meet with
//! no gap and no duplicate. A subscriber without an id starts live from
//! where the topic's feed was when it subscribed, or, for a topic's first
//! local subscriber, from the top its read found.
//!
//! [`HubBuilder::backplane`]: super::HubBuilder::backplane
//! [`Hub::publish_async`]: super::Hub::publish_async
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use ssekit::EncodedEvent;
//! use ssekit::hub::{Backplane, BackplaneError, BoxFuture, Epoch, Feed, Position, Snapshot};
//!
//! /// A backplane for one process: enough to show the seam.
//! #[derive(Default)]
//! struct Local {
//!     feed: Mutex<Option<Feed>>,
//!     log: Arc<Mutex<(Option<Epoch>, Vec<EncodedEvent>)>>,
//! }
//!
//! impl Backplane for Local {
//!     fn attach(&self, feed: Feed) {
//!         *self.feed.lock().unwrap() = Some(feed);
//!     }
//!     fn publish(&self, topic: &str, event: EncodedEvent) -> BoxFuture<Result<Position, BackplaneError>> {
//!         let mut log = self.log.lock().unwrap();
//!         let epoch = *log.0.get_or_insert_with(Epoch::mint);
//!         let position = Position::new(epoch, log.1.len() as u64 + 1);
//!         let stored = position.encode_with_id(&event);
//!         log.1.push(stored.clone());
//!         drop(log);
//!         if let Some(feed) = &*self.feed.lock().unwrap() {
//!             feed.deliver(topic, position, stored);
//!         }
//!         Box::pin(async move { Ok(position) })
//!     }
//!     // One topic, a few events: a real backplane stops at `max_events`
//!     // and `max_bytes` (see `Backplane::read`).
//!     fn read(&self, _topic: &str, after: Option<Position>, _max_events: usize, _max_bytes: usize) -> BoxFuture<Result<Snapshot, BackplaneError>> {
//!         let mut log = self.log.lock().unwrap();
//!         let epoch = *log.0.get_or_insert_with(Epoch::mint);
//!         let top = Position::new(epoch, log.1.len() as u64);
//!         let from = after.filter(|a| a.epoch() == epoch).map_or(0, |a| a.offset());
//!         let events = (from + 1..=top.offset())
//!             .filter_map(|o| Some((o, log.1.get(usize::try_from(o - 1).ok()?)?.clone())))
//!             .collect();
//!         Box::pin(async move { Ok(Snapshot::new(top, events)) })
//!     }
//!     fn watch(&self, _topic: &str) {}
//!     fn unwatch(&self, _topic: &str) {}
//!     fn catch_up(&self, _topic: &str) {}
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ssekit::HubError> {
//! use futures_util::StreamExt;
//! let hub = ssekit::Hub::builder().backplane(Local::default()).build();
//! let mut stream = hub.subscribe("room", ssekit::Resume::Start)?;
//! // The first frame, once the history was read: the position marker.
//! let marker = stream.next().await.unwrap();
//! assert!(std::str::from_utf8(&marker).unwrap().contains("-0\n"));
//! let first = hub.publish_async("room", "hello").await?;
//! let frame = stream.next().await.unwrap();
//! let text = std::str::from_utf8(&frame).unwrap();
//! assert_eq!(text, format!("id: {}\ndata: hello\n\n", first.id()));
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use crate::event::EncodedEvent;

use super::Inner;
pub use super::topic::{Epoch, Position};

/// A boxed, sendable future: what the [`Backplane`] methods return (no
/// `async fn` in the trait, so that it stays object safe).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a hub needs from a backplane. See [the module docs](self) for who
/// does what; the in-memory hub needs none.
///
/// Every method is called without any hub lock held. `watch`, `unwatch` and
/// `catch_up` must not block: they note the request (e.g. send it to the
/// backplane's own task) and return.
pub trait Backplane: Send + Sync + 'static {
    /// Called once, when the hub is built: the handle through which the
    /// backplane delivers events to this hub.
    fn attach(&self, feed: Feed);

    /// Publishes `event` (encoded, without an `id` line) to `topic`:
    /// assigns the next position atomically, stores
    /// [`Position::encode_with_id`] in the history (bounded), and sends those
    /// same bytes to every instance. Resolves to the position, or to an
    /// error within the backplane's own timeout; it must never hang.
    fn publish(
        &self,
        topic: &str,
        event: EncodedEvent,
    ) -> BoxFuture<Result<Position, BackplaneError>>;

    /// Reads `topic`: its top position (minting an epoch if the topic has
    /// none, so that every instance gives out the same one), and, when
    /// `after` is in the top's epoch and at most `max_events` behind the
    /// top, the stored events after it in order, each with its offset (as
    /// many as the history still holds; the oldest may be gone). When those
    /// events hold more than `max_bytes`, none of them: the snapshot made
    /// with [`Snapshot::over_limit`], so that what a client's
    /// `Last-Event-ID` asks for never costs more than the replay cap.
    fn read(
        &self,
        topic: &str,
        after: Option<Position>,
        max_events: usize,
        max_bytes: usize,
    ) -> BoxFuture<Result<Snapshot, BackplaneError>>;

    /// The hub has local subscribers for `topic` now: deliver its live
    /// events through the [`Feed`].
    fn watch(&self, topic: &str);

    /// The hub has no local subscriber for `topic` any more.
    fn unwatch(&self, topic: &str);

    /// The hub's position for `topic` ([`Feed::position`]) may be behind the
    /// backplane's top (a gap was seen, or the hub just learnt its
    /// position): read what follows and deliver it. A backplane also does
    /// this periodically for every watched topic, to catch a lost last
    /// message.
    fn catch_up(&self, topic: &str);
}

/// What a [`Backplane::read`] found: the topic's top position and the events
/// after the asked-for position.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub(crate) top: Position,
    pub(crate) events: Vec<(u64, EncodedEvent)>,
    pub(crate) over_limit: bool,
}

impl Snapshot {
    /// A topic at `top`, with `events` (offset, bytes with their `id` line)
    /// in increasing offsets.
    #[must_use]
    pub fn new(top: Position, events: Vec<(u64, EncodedEvent)>) -> Self {
        Self {
            top,
            events,
            over_limit: false,
        }
    }

    /// A topic at `top` whose events after the asked-for position hold more
    /// than the read's `max_bytes`: none are returned, and the joining
    /// subscriber gets `reset` (`replay_limit`).
    ///
    /// ```
    /// use ssekit::hub::{Epoch, Position, Snapshot};
    /// let snapshot = Snapshot::over_limit(Position::new(Epoch::mint(), 7));
    /// assert!(snapshot.is_over_limit() && snapshot.events().is_empty());
    /// ```
    #[must_use]
    pub fn over_limit(top: Position) -> Self {
        Self {
            top,
            events: Vec::new(),
            over_limit: true,
        }
    }

    /// Whether the events asked for were over the read's `max_bytes`.
    #[must_use]
    pub fn is_over_limit(&self) -> bool {
        self.over_limit
    }

    /// The topic's top position.
    #[must_use]
    pub fn top(&self) -> Position {
        self.top
    }

    /// The events read, with their offsets.
    #[must_use]
    pub fn events(&self) -> &[(u64, EncodedEvent)] {
        &self.events
    }
}

/// A backplane failed: it could not be reached in time, or it answered
/// something unexpected. Its display says what; [`BackplaneError::is_timeout`]
/// tells the timeout apart.
///
/// ```
/// let err = ssekit::hub::BackplaneError::timeout("publish");
/// assert!(err.is_timeout());
/// assert_eq!(err.to_string(), "backplane: publish timed out");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackplaneError {
    timeout: bool,
    detail: Arc<str>,
}

impl BackplaneError {
    /// `what` did not complete within the backplane's timeout.
    #[must_use]
    pub fn timeout(what: &str) -> Self {
        Self {
            timeout: true,
            detail: Arc::from(format!("{what} timed out")),
        }
    }

    /// The backplane failed; `error` says how.
    #[must_use]
    pub fn failed(error: &dyn std::error::Error) -> Self {
        Self {
            timeout: false,
            detail: Arc::from(error.to_string()),
        }
    }

    /// Whether the backplane did not answer within its timeout.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        self.timeout
    }
}

impl fmt::Display for BackplaneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "backplane: {}", self.detail)
    }
}

impl std::error::Error for BackplaneError {}

/// What [`Feed::deliver`] did with an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// The next event: queued to this many local subscribers.
    Delivered(usize),
    /// Already delivered (or covered by a join's read): dropped.
    Duplicate,
    /// Events between the hub's position and this one are missing: not
    /// delivered; the backplane should [`Backplane::catch_up`] from `after`.
    Gap {
        /// The hub's position for the topic.
        after: Position,
    },
    /// No local subscriber, or none has learnt its position yet: nothing to
    /// do (a joining subscriber reads the history itself).
    NotWatched,
    /// Another epoch: the backplane lost the topic's history. The topic's
    /// local subscriptions were ended (after what they already took), so
    /// that their clients reconnect and get `reset`, never a wrong event.
    EpochChanged,
}

/// The handle through which a [`Backplane`] delivers events to a hub, given
/// to [`Backplane::attach`]. It holds the hub weakly: once the hub is
/// dropped, every call does nothing.
#[derive(Clone)]
pub struct Feed {
    pub(crate) hub: Weak<Inner>,
}

impl fmt::Debug for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed")
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl Feed {
    /// Whether the hub still exists.
    #[must_use]
    pub fn is_alive(&self) -> bool {
        self.hub.strong_count() > 0
    }

    /// Delivers an event of `topic` at `position` (its bytes with their
    /// `id` line, as stored): fanned out to the local subscribers if it is
    /// the next one; see [`Delivery`].
    pub fn deliver(&self, topic: &str, position: Position, event: EncodedEvent) -> Delivery {
        match self.hub.upgrade() {
            Some(hub) => hub.deliver(topic, position, &event),
            None => Delivery::NotWatched,
        }
    }

    /// The position of the last event the hub fanned out for `topic`, if it
    /// has local subscribers and knows it.
    #[must_use]
    pub fn position(&self, topic: &str) -> Option<Position> {
        self.hub.upgrade()?.fed_position(topic)
    }

    /// Whether the hub has `topic` now (it has local subscribers): a
    /// backplane checks it before acting on [`Backplane::unwatch`], which can
    /// arrive after the topic was made again by a new subscriber.
    #[must_use]
    pub fn is_watched(&self, topic: &str) -> bool {
        self.hub.upgrade().is_some_and(|hub| hub.has_topic(topic))
    }

    /// The topics with local subscribers (to resubscribe after a
    /// reconnection, and for the periodic top check).
    #[must_use]
    pub fn topics(&self) -> Vec<String> {
        self.hub
            .upgrade()
            .map(|hub| hub.watched_topics())
            .unwrap_or_default()
    }

    /// Ends `topic`'s local subscriptions (after what they already took):
    /// the backplane lost the topic's history, or the hub is too far behind
    /// to catch up. Their clients reconnect and resume from the backplane,
    /// or get `reset`.
    pub fn end_topic(&self, topic: &str) {
        if let Some(hub) = self.hub.upgrade() {
            hub.end_fed_topic(topic);
        }
    }
}

/// Checks bytes a backplane stored for an event ([`Position::encode_with_id`]
/// of a [`Backplane::publish`]) and returns the event and its position: one
/// event (an `id: <position>` line, then lines without CR, ending with the
/// blank line, no blank line inside). Anything else is `None`, so that
/// bytes from a shared store never reach a stream unchecked.
///
/// ```
/// use ssekit::hub::{Epoch, Position, backplane::stored_event};
/// let p = Position::new(Epoch::mint(), 3);
/// let stored = p.encode_with_id(&ssekit::Event::new("hi").encode());
/// let (position, event) = stored_event(stored.clone().into_bytes()).unwrap();
/// assert_eq!((position, event), (p, stored));
/// assert!(stored_event(bytes::Bytes::from_static(b"data: no id\n\n")).is_none());
/// assert!(stored_event(bytes::Bytes::from_static(b"id: x-1\n\n")).is_none());
/// ```
#[must_use]
pub fn stored_event(bytes: bytes::Bytes) -> Option<(Position, EncodedEvent)> {
    let rest = bytes.strip_prefix(b"id: ")?;
    let line_end = memchr::memchr(b'\n', rest)?;
    let position = Position::parse(std::str::from_utf8(&rest[..line_end]).ok()?)?;
    let body = &rest[line_end + 1..];
    // One event: ends with "\n\n" (or the id line alone is followed by the
    // blank line), no CR, no blank line before the end.
    let ends = bytes.ends_with(b"\n\n");
    let inner = &bytes[..bytes.len().saturating_sub(1)];
    if !ends
        || memchr::memchr(b'\r', body).is_some()
        || memchr::memmem::find(&inner[..inner.len().saturating_sub(1)], b"\n\n").is_some()
    {
        return None;
    }
    Some((position, EncodedEvent(bytes)))
}
