//! [`Hub`]: topics, encode-once fan-out, and resume after reconnect with no
//! gap and no duplicate.
//!
//! Publishers call [`Hub::publish`] from any task or thread; it never waits
//! for a subscriber. Each event is encoded once, given the id
//! `<epoch>-<offset>` and handed to every subscriber as the same shared
//! bytes. A request handler calls [`Hub::subscribe`] with the client's
//! `Last-Event-ID` (or `?last_event_id=`, see [`Resume`]) and returns the
//! [`EventStream`] through its framework's adapter, unchanged.
//!
//! ```
//! use futures_util::StreamExt;
//! use ssekit::{Event, Hub, Resume};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ssekit::HubError> {
//! let hub = Hub::new();
//!
//! // A browser connects for the first time: it gets its position, then live events.
//! let mut first = hub.subscribe("room-1", Resume::Start)?;
//! let published = hub.publish("room-1", Event::new("hello"))?;
//! let frame = first.next().await.unwrap(); // the position marker and "hello", one frame
//! let text = String::from_utf8(frame.to_vec()).unwrap();
//! assert!(text.ends_with(&format!("id: {}\ndata: hello\n\n", published.id())));
//! drop(first); // the connection is cut
//!
//! // Meanwhile, two more events.
//! hub.publish("room-1", "missed 1")?;
//! hub.publish("room-1", Event::new("missed 2"))?;
//!
//! // The browser reconnects with `Last-Event-ID: <id of "hello">`: it gets
//! // exactly what it missed, then live events.
//! let mut again = hub.subscribe("room-1", Some(published.id().clone()))?;
//! let frame = again.next().await.unwrap();
//! let text = String::from_utf8(frame.to_vec()).unwrap();
//! assert!(text.contains("data: missed 1\n\n") && text.ends_with("data: missed 2\n\n"));
//!
//! // An id the hub cannot resume from: a visible `reset` event first.
//! let mut lost = hub.subscribe("room-1", ssekit::event_id!("garbage"))?;
//! let text = String::from_utf8(lost.next().await.unwrap().to_vec()).unwrap();
//! assert!(text.contains("event: reset\ndata: malformed\n\n"));
//!
//! // Serving it: return the stream through an adapter, e.g. with axum
//! // `async fn room(State(hub): State<Hub>, Path(room): Path<String>,
//! //     ResumeFrom(from): ResumeFrom) -> Response {
//! //     match hub.subscribe(&room, from) {
//! //         Ok(stream) => SseResponse::from(stream).into_response(),
//! //         Err(e) if e.is_invalid_topic() => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
//! //         Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
//! //     } }`
//! // When clients choose the topic (a room in the path), bound what they
//! // can make: `HubBuilder::max_topics` (65 536 by default, each with up
//! // to 4 MiB of history, `HubBuilder::history_bytes`),
//! // `HubBuilder::history_ttl` (none by default) and
//! // `HubBuilder::evict_idle_topics` (off by default), and check the name
//! // with `hub::check_topic` before reading a request body. `.` and `..`
//! // are topics too, but a browser removes them from a URL path:
//! // `hub::topic_from_path` refuses them, for a raw path or warp's segments.
//! // (each adapter's `ResumeFrom` docs show the route on its framework).
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! | what | guarantee |
//! |------|-----------|
//! | order | one order per topic: every subscriber sees a topic's events in the order of their offsets |
//! | live delivery | every event published after a subscriber joined reaches it exactly once, unless its queue went over its bound (then its stream ends, see below) |
//! | resume | with `Last-Event-ID: <epoch>-<n>` whose events after `n` are all in the history and within the replay cap, the subscriber receives exactly `n+1 ..= top` then live events, no gap and no duplicate, even while publishers race the join (join and publish take the same per-topic lock) |
//! | reset | with any other id (see [`ResetReason`]): a first event `event: reset`, `data: <reason>`, `id: <epoch>-<top>`, then live events from `top + 1`; never a partial replay |
//! | position | a subscriber that joins without an id first receives `id: <epoch>-<top>` alone (no data, so no message is dispatched by an `EventSource` or a parser that follows the spec; some client libraries, such as Python's httpx-sse, hand it on as an event with empty data): the browser stores it, so a reconnect before the first event still resumes with no gap, even when the topic was released meanwhile (its only subscriber left) |
//! | release | a released topic, used again, goes on where it stood: same epoch, next offset, no history. So a subscriber holding its last id (or the marker of a topic released before its first event) resumes with no gap; one further behind gets `reset` with `too_old`. The hub keeps where released topics stood, as many as [`HubBuilder::max_topics`] (at most 65 536), shared out among the shards (with fewer than one per shard, only that many shards keep one), the oldest of a shard forgotten first; a forgotten topic starts a new epoch (`unknown_epoch`) |
//! | slow subscriber | when its queue would go over [`HubBuilder::subscriber_queue_bytes`] (an event bigger than the bound still goes to a subscriber with nothing queued or being written), its queue is freed and its stream ends cleanly after what it already took; counted in [`HubStats::slow_drops`] and logged once; the browser reconnects and resumes from the history, so nothing is lost while the history covers it |
//! | shutdown | with [`EventStream::shutdown`](crate::EventStream::shutdown), once its token is cancelled a subscriber still connected gets what is queued for it then (up to 1 MiB), then the final event and a clean end; what is published later reaches it when it resumes (from the history of the next instance, or through a [`Backplane`]) |
//! | keep-alive | a topic that has sent nothing for about [`HubBuilder::keep_alive`]'s interval (15 s by default; give or take a quarter of it, at least 10 ms) gets its keep-alive comment, from one thread for the process: every subscriber with nothing queued receives it; it is a comment, so no client sees a message. A subscriber still joining through a [`Backplane`] gets none until the backplane's read is done |
//! | after a restart | a topic's epoch is minted when its log starts (first use, or use after [`Hub::remove_topic`] or after its released position was forgotten); ids of an older epoch get `reset` with `unknown_epoch` |
//!
//! Memory, each bound configurable on [`HubBuilder`]:
//!
//! | piece | bound |
//! |-------|-------|
//! | history per topic | [`HubBuilder::history_events`] events and [`HubBuilder::history_bytes`] bytes, oldest dropped first |
//! | a replay | [`HubBuilder::replay_events`] events and [`HubBuilder::replay_bytes`] bytes (in memory, shared with the history; with a [`Backplane`], read for the join and capped by the backplane before it is sent); beyond them, `reset` |
//! | a subscriber's queue | [`HubBuilder::subscriber_queue_bytes`] (default 1 MiB), each event counted as its bytes plus 128 for holding it; a subscriber that never reads costs at most this, or one event bigger than it (which a subscriber with nothing queued or still being written still gets) (`core/tests/slow_subscriber_memory.rs` measures it). Events it has taken count until it comes back for more, so a subscriber that reads slowly may be dropped with up to half the bound truly waiting |
//! | an idle subscriber | under 1 KiB of ssekit's own (321 bytes resident on 64-bit Linux, measured by `core/tests/subscriber_memory.rs`: the stream and its queue; no timer, see keep-alive above) |
//! | a topic | released as soon as it has neither subscribers nor history (with history off, when its last subscriber leaves, or after a publish while it has none), or by [`Hub::remove_topic`]; with [`HubBuilder::history_ttl`], its history goes a ttl after its last publish |
//! | topics | at most [`HubBuilder::max_topics`] (default 65 536) at once; one more is a [`HubError`], or, with [`HubBuilder::evict_idle_topics`], first lets the least recently used topics nobody subscribes to go (their history with them: a resume there is a `reset`). Besides, where as many released topics stood (at most 65 536): a position and its name's hash, about 110 bytes each resident, 7 MiB at most (`core/tests/released_memory.rs`) |
//! | a hostile `Last-Event-ID` | parsed in one pass over at most 1024 bytes; never costs more than the replay cap |
//!
//! # Ids
//!
//! The hub owns the `id` field: it is the event's position, `<epoch>-<offset>`
//! with a 12-hex-digit epoch and a decimal offset counted from 1 per topic
//! (`<epoch>-0` is the position before the first event). An id the caller
//! set on the event is replaced (the caller learns the real one from
//! [`Published::id`]), because a browser sends back whatever id it saw last and
//! only a position can be resumed from.
//!
//! # Design
//!
//! Topics live in shards (by name hash), each a small map behind its own
//! lock, held only to find or create a topic; each topic has its own lock for
//! its log and its subscriber list. So publishers to different topics never
//! share a lock, and nothing is built on `tokio::sync::broadcast`. Each
//! subscriber has its own queue: a publisher appends the shared bytes and
//! wakes the subscriber only if it was waiting, so a subscriber wakes once for
//! everything queued, takes it all under one lock, and the [`EventStream`]
//! writes it as one frame. A publish wakes its subscribers after the
//! topic's lock is released, in the order of the topic's list (a
//! subscriber that leaves is replaced in it by the last one): a publish
//! that wakes 64 or more from inside tokio's multi-thread runtime hands the
//! wake-ups to one `ssekit-hub-wake` thread for the process (started on
//! first use, asleep while there is nothing to wake), because woken from a
//! worker they would go to its local run queue, whose LIFO slot and
//! overflow to the global queue serve some subscribers far more often than
//! others (measured: the slowest of 1 000 was 50-60 ms behind, against
//! 19-26 ms when woken in order). For a busy topic,
//! [`EventStream::coalesce`] on the subscription makes that frame gather
//! what comes within a set delay too: fewer writes, at up to that delay
//! (what waits counts against the subscriber's queue bound).
//!
//! The keep-alive is the hub's, not each stream's: a per-stream timer would
//! cost each idle subscriber 112 bytes and a timer-wheel entry. Every
//! event goes to all of a topic's subscribers, so one mark per topic says
//! when they were last written to; one `ssekit-hub-ping` thread for the
//! process (started on the first subscribe to a hub with a keep-alive)
//! looks at each such hub's topics every quarter of its interval (at least
//! 10 ms; not while the hub has no subscriber) and hands the keep-alive to
//! the subscribers of the topics that have been quiet for the interval.
//!
//! ## Backplane seam
//!
//! By default the topic's `Log` (private, `hub/topic.rs`) assigns positions
//! and keeps history, in memory. [`HubBuilder::backplane`] replaces it with
//! a [`Backplane`] (e.g. the `ssekit-redis` crate) shared by several
//! instances: it assigns `(epoch, offset)` atomically, keeps the history and
//! delivers `(position, encoded bytes)` to every instance through a
//! [`Feed`]; each instance runs the same local fan-out, with the check that
//! each delivery is `last + 1` (duplicates dropped, gaps filled by the
//! backplane, another epoch ends the local streams so that they resume with
//! `reset`), and answers joins from the backplane's history. Publishing then
//! waits for the backplane: [`Hub::publish_async`] (which also works without
//! one). The split and the join merge are in [`backplane`].
//!
//! ## Ending subscriptions
//!
//! A subscription ends when its stream is dropped (the client left), when it
//! goes over its queue bound, or when [`Hub::remove_topic`] removes its topic;
//! in the last two cases its stream yields what it already took and then
//! ends cleanly (the adapter writes the final chunk). All three go through one
//! internal `close` of the subscriber's queue, which is where a shutdown signal
//! (a `tokio_util::sync::CancellationToken`) plugs in.
//!
//! # Observability
//!
//! `tracing`: subscribe (`debug`, with the outcome: replayed count or reset
//! reason), slow-subscriber drops (`warn`, once per subscriber), topics
//! created and released (`debug`). Counts: [`Hub::stats`] and
//! [`Hub::topic_stats`], a snapshot of plain numbers rather than the `metrics`
//! facade: it adds no dependency, works without a recorder installed, is
//! exact (tests assert on it), and exports to any system (a `/metrics`
//! handler copies it out).

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::event::{EncodedEvent, Event, EventId, EventType};
use crate::last_event_id::Resume;
use crate::stream::{EventStream, KeepAlive};

pub mod backplane;
mod heartbeat;
mod subscription;
mod topic;
mod wake;

#[cfg(test)]
mod tests;

pub use backplane::{
    Backplane, BackplaneError, BoxFuture, Delivery, Epoch, Feed, Position, Snapshot,
};
pub use subscription::Subscription;
pub use topic::MAX_TOPIC_LEN;

use subscription::{Join, Offer, SubShared};
use topic::{Limits, Log, Lookup, Released, Topic, TopicProblem, TopicState};
use wake::Wakes;

/// The `event` type of the reset signal: `event: reset`.
pub const RESET_EVENT_TYPE: EventType = EventType::from_static("reset");

/// Why a subscriber could not resume and got a `reset` event instead. The
/// event's data is [`ResetReason::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResetReason {
    /// Not an id of this hub's form (`<12 hex digits>-<offset>`), or not a
    /// valid header value at all (too long, not UTF-8, repeated): `malformed`.
    Malformed,
    /// Another epoch: the topic's history was lost since (a restart, the
    /// topic removed, or its released position forgotten), or the id is
    /// from elsewhere: `unknown_epoch`.
    UnknownEpoch,
    /// Older than the history: `too_old`.
    TooOld,
    /// Beyond the last event published: `future`.
    Future,
    /// More to replay than the replay cap allows: `replay_limit`.
    ReplayLimit,
}

impl ResetReason {
    /// The reset event's data.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownEpoch => "unknown_epoch",
            Self::TooOld => "too_old",
            Self::Future => "future",
            Self::ReplayLimit => "replay_limit",
        }
    }
}

impl fmt::Display for ResetReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from the hub: an invalid topic name, or a new topic over
/// [`HubBuilder::max_topics`].
///
/// ```
/// let hub = ssekit::Hub::new();
/// let err = hub.publish("", "x").unwrap_err();
/// assert!(err.is_invalid_topic());
/// assert_eq!(err.to_string(), "invalid topic: empty");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubError(Kind);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    InvalidTopic(TopicProblem),
    TooManyTopics(usize),
    Backplane(BackplaneError),
    NeedsAsync,
}

impl HubError {
    /// The topic name was empty, longer than [`MAX_TOPIC_LEN`] bytes, or held
    /// a control character (C0, DEL or C1), a line or paragraph separator
    /// (U+2028, U+2029) or a bidirectional formatting character (U+061C,
    /// U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069); or, from
    /// [`topic_from_path`], its text was not percent-encoded UTF-8 or had a
    /// `.` or `..` segment.
    #[must_use]
    pub fn is_invalid_topic(&self) -> bool {
        matches!(self.0, Kind::InvalidTopic(_))
    }

    /// The topic did not exist and the hub already holds
    /// [`HubBuilder::max_topics`] topics.
    #[must_use]
    pub fn is_too_many_topics(&self) -> bool {
        matches!(self.0, Kind::TooManyTopics(_))
    }

    /// The hub's [`Backplane`] failed (or timed out) while publishing.
    #[must_use]
    pub fn backplane(&self) -> Option<&BackplaneError> {
        match &self.0 {
            Kind::Backplane(err) => Some(err),
            _ => None,
        }
    }

    /// [`Hub::publish`] was called on a hub with a [`Backplane`]: publishing
    /// through one waits for it, use [`Hub::publish_async`].
    #[must_use]
    pub fn is_needs_async(&self) -> bool {
        matches!(self.0, Kind::NeedsAsync)
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::InvalidTopic(problem) => fmt::Display::fmt(problem, f),
            Kind::TooManyTopics(max) => write!(f, "too many topics: the hub holds {max} already"),
            Kind::Backplane(err) => fmt::Display::fmt(err, f),
            Kind::NeedsAsync => f.write_str(
                "this hub publishes through a backplane: use publish_async, which waits for it",
            ),
        }
    }
}

impl std::error::Error for HubError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Kind::Backplane(err) => Some(err),
            _ => None,
        }
    }
}

/// What [`Hub::publish`] tells the publisher: the event's position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    id: EventId,
    offset: u64,
    subscribers: usize,
}

impl Published {
    /// The id the event was sent with, `<epoch>-<offset>`.
    #[must_use]
    pub fn id(&self) -> &EventId {
        &self.id
    }

    /// The offset: 1 for a topic's first event, then one more each time.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How many subscribers it was queued to (with a backplane: local
    /// subscribers of this instance that got it at once; the others get it
    /// through the backplane's feed).
    #[must_use]
    pub fn subscribers(&self) -> usize {
        self.subscribers
    }
}

/// Counts since the hub was made (and two gauges), from [`Hub::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubStats {
    /// Topics in memory now.
    pub topics: u64,
    /// Open subscriptions now.
    pub subscribers: u64,
    /// Events published (through this hub, with a backplane).
    pub published: u64,
    /// Live events yielded to subscribers (counted as they are taken).
    pub delivered: u64,
    /// Events replayed to resuming subscribers.
    pub replayed: u64,
    /// Subscriptions that resumed from an id (possibly with nothing to replay).
    pub resumed: u64,
    /// Reset signals sent, by reason.
    pub resets: ResetCounts,
    /// Subscribers ended for going over their queue's byte bound.
    pub slow_drops: u64,
    /// Topics let go to make room for a new one
    /// ([`HubBuilder::evict_idle_topics`]).
    pub evicted: u64,
}

/// Reset signals sent, by [`ResetReason`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResetCounts {
    /// [`ResetReason::Malformed`].
    pub malformed: u64,
    /// [`ResetReason::UnknownEpoch`].
    pub unknown_epoch: u64,
    /// [`ResetReason::TooOld`].
    pub too_old: u64,
    /// [`ResetReason::Future`].
    pub future: u64,
    /// [`ResetReason::ReplayLimit`].
    pub replay_limit: u64,
}

impl ResetCounts {
    /// The count for `reason`.
    #[must_use]
    pub fn get(&self, reason: ResetReason) -> u64 {
        match reason {
            ResetReason::Malformed => self.malformed,
            ResetReason::UnknownEpoch => self.unknown_epoch,
            ResetReason::TooOld => self.too_old,
            ResetReason::Future => self.future,
            ResetReason::ReplayLimit => self.replay_limit,
        }
    }
}

/// One topic's numbers, from [`Hub::topic_stats`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicStats {
    /// Open subscriptions to it.
    pub subscribers: usize,
    /// Events in its history.
    pub history_events: usize,
    /// Bytes in its history.
    pub history_bytes: usize,
    /// The position of its last event, `<epoch>-<offset>` (`<epoch>-0`
    /// before the first).
    pub last_id: EventId,
}

#[derive(Default)]
pub(crate) struct Counters {
    topics: AtomicU64,
    subscribers: AtomicU64,
    published: AtomicU64,
    pub(crate) delivered: AtomicU64,
    replayed: AtomicU64,
    resumed: AtomicU64,
    resets: [AtomicU64; 5],
    slow_drops: AtomicU64,
    evicted: AtomicU64,
}

const fn reset_index(reason: ResetReason) -> usize {
    match reason {
        ResetReason::Malformed => 0,
        ResetReason::UnknownEpoch => 1,
        ResetReason::TooOld => 2,
        ResetReason::Future => 3,
        ResetReason::ReplayLimit => 4,
    }
}

/// Builds a [`Hub`] with chosen bounds.
///
/// ```
/// let hub = ssekit::Hub::builder()
///     .history_events(1_000)
///     .history_bytes(4 << 20)
///     .replay_events(1_000)
///     .replay_bytes(1 << 20)
///     .subscriber_queue_bytes(1 << 20)
///     .build();
/// # drop(hub);
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct HubBuilder {
    limits: Limits,
    queue_bytes: usize,
    shards: usize,
    max_topics: usize,
    evict_idle: bool,
    history_ttl: Option<Duration>,
    keep_alive: Option<KeepAlive>,
    backplane: BackplaneSlot,
}

/// The builder's backplane, if any (`Debug` without requiring it of the
/// backplane).
#[derive(Clone, Default)]
struct BackplaneSlot(Option<Arc<dyn Backplane>>);

impl fmt::Debug for BackplaneSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

impl Default for HubBuilder {
    fn default() -> Self {
        Self {
            limits: Limits {
                history_events: 1_000,
                history_bytes: 4 << 20,
                replay_events: 1_000,
                replay_bytes: 1 << 20,
            },
            queue_bytes: 1 << 20,
            shards: 64,
            max_topics: 65_536,
            evict_idle: false,
            history_ttl: None,
            keep_alive: Some(KeepAlive::new()),
            backplane: BackplaneSlot::default(),
        }
    }
}

impl HubBuilder {
    /// Most events kept per topic for resume (default 1 000); 0 keeps none.
    pub fn history_events(mut self, n: usize) -> Self {
        self.limits.history_events = n;
        self
    }

    /// Most bytes kept per topic for resume (default 4 MiB).
    pub fn history_bytes(mut self, n: usize) -> Self {
        self.limits.history_bytes = n;
        self
    }

    /// Drops a topic's history once nothing was published to it for `ttl`
    /// (by default never), and releases the topic if it has no subscriber.
    /// One look every quarter ttl (at least every 10 ms, at most every day)
    /// does it: a history goes `ttl` after the last publish at the
    /// earliest, two looks later at the latest (`1.25 ttl` where a quarter
    /// ttl is within those bounds). Without it, a topic with history stays in memory until
    /// [`Hub::remove_topic`], so clients that choose topic names could fill
    /// [`max_topics`](Self::max_topics) for good. A subscriber that comes
    /// back with the id of the topic's last event still resumes with no gap;
    /// one further behind gets `reset` (`too_old`). One thread for the
    /// process does it (the keep-alive's), started when the hub is built.
    /// With a [`Backplane`], the history is the backplane's and this does
    /// nothing (set the backplane's own expiry).
    ///
    /// ```
    /// use std::time::Duration;
    /// # fn main() -> Result<(), ssekit::HubError> {
    /// let hub = ssekit::Hub::builder().history_ttl(Duration::from_millis(50)).build();
    /// hub.publish("room", "hi")?;
    /// let start = std::time::Instant::now();
    /// while hub.topic_stats("room").is_some() && start.elapsed() < Duration::from_secs(10) {
    ///     std::thread::sleep(Duration::from_millis(10));
    /// }
    /// assert!(hub.topic_stats("room").is_none(), "released with its history");
    /// # Ok(())
    /// # }
    /// ```
    pub fn history_ttl(mut self, ttl: Duration) -> Self {
        self.history_ttl = Some(ttl);
        self
    }

    /// Most events one resume replays (default 1 000); beyond, `reset`.
    pub fn replay_events(mut self, n: usize) -> Self {
        self.limits.replay_events = n;
        self
    }

    /// Most bytes one resume replays (default 1 MiB); beyond, `reset`.
    pub fn replay_bytes(mut self, n: usize) -> Self {
        self.limits.replay_bytes = n;
        self
    }

    /// Most bytes waiting for one subscriber (default 1 MiB): over it, the
    /// subscriber's stream ends so that it reconnects and resumes. Each
    /// waiting event counts its encoded bytes plus 128 for holding it (its
    /// queue slot, its allocation and the shared header of its bytes), so
    /// that a subscriber that never reads holds at most this much, small
    /// events included. An event bigger than the bound is still queued for
    /// a subscriber with nothing queued or still being written (else it
    /// would end them all): the bound is then that one event.
    pub fn subscriber_queue_bytes(mut self, n: usize) -> Self {
        self.queue_bytes = n;
        self
    }

    /// Most topics in memory at once (default 65 536): a publish or subscribe
    /// that would create one more fails with
    /// [`HubError::is_too_many_topics`]. With the history bounds, this bounds
    /// the hub's memory when clients choose topic names.
    pub fn max_topics(mut self, n: usize) -> Self {
        self.max_topics = n;
        self
    }

    /// When a new topic would be one more than
    /// [`max_topics`](Self::max_topics), first let the least recently used
    /// topics that nobody subscribes to go (default: off, the new topic is
    /// refused). Used means published or subscribed to. A topic that goes
    /// loses its history as with [`Hub::remove_topic`]: a client resuming
    /// there gets `reset` (`unknown_epoch`). A topic with a subscriber never
    /// goes; while every topic has one, a new topic is still
    /// [`HubError::is_too_many_topics`].
    ///
    /// The hub looks for them in one pass over its topics and lets go
    /// `max_topics / 64` of them at once (at least 1, at most 1 024), so a
    /// client making new names costs a pass per batch, not per name; after
    /// a pass that found none, new topics are refused for a second without
    /// another. The place of the first topic to go is the new topic's, so
    /// concurrent new topics do not take each other's. For a service whose
    /// clients choose topics, this (with [`history_ttl`](Self::history_ttl))
    /// keeps one client that makes names by the thousand from keeping every
    /// new topic out.
    ///
    /// ```
    /// let hub = ssekit::Hub::builder().max_topics(2).evict_idle_topics(true).build();
    /// hub.publish("a", "1")?;
    /// hub.publish("b", "2")?;
    /// let _listening = hub.subscribe("a", ssekit::Resume::Start)?;
    /// hub.publish("c", "3")?; // "b" (idle) goes, "a" (listened to) stays
    /// assert!(hub.topic_stats("b").is_none());
    /// assert!(hub.topic_stats("a").is_some());
    /// assert_eq!(hub.stats().evicted, 1);
    /// # Ok::<(), ssekit::HubError>(())
    /// ```
    pub fn evict_idle_topics(mut self, on: bool) -> Self {
        self.evict_idle = on;
        self
    }

    /// Number of topic shards (default 64, at least 1).
    pub fn shards(mut self, n: usize) -> Self {
        self.shards = n.max(1);
        self
    }

    /// The keep-alive of the hub's streams (default [`KeepAlive::new`]: `:\n`
    /// after 15 s). The hub writes it to the subscribers of a topic that
    /// has sent nothing for the interval (give or take a quarter of it, at
    /// least 10 ms), from one thread for the process, so that an idle
    /// subscriber needs no timer of its own; the streams [`Hub::subscribe`]
    /// returns then have no keep-alive of their own (see there). That
    /// thread keeps real time, not tokio's clock: a paused test clock
    /// (`tokio::time::pause`) does not bring the keep-alive sooner.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ssekit::{Hub, KeepAlive};
    ///
    /// let hub = Hub::builder()
    ///     .keep_alive(KeepAlive::new().interval(Duration::from_secs(30)))
    ///     .build();
    /// # drop(hub);
    /// ```
    pub fn keep_alive(mut self, keep_alive: KeepAlive) -> Self {
        self.keep_alive = Some(keep_alive);
        self
    }

    /// No keep-alive on the hub's streams.
    pub fn without_keep_alive(mut self) -> Self {
        self.keep_alive = None;
        self
    }

    /// Shares the hub's topics with other instances through `backplane`
    /// (e.g. `ssekit-redis`): positions and history come from it, and
    /// publishing goes through it with [`Hub::publish_async`]. See
    /// [`backplane`] for the split. The history bounds of this builder then
    /// apply to replays only (the backplane keeps the history);
    /// [`HubBuilder::replay_events`] is also the most a join reads.
    pub fn backplane(mut self, backplane: impl Backplane) -> Self {
        self.backplane = BackplaneSlot(Some(Arc::new(backplane)));
        self
    }

    /// Makes the hub (and attaches it to its backplane, if any).
    pub fn build(self) -> Hub {
        let inner = Arc::new(Inner {
            shards: (0..self.shards).map(|_| Mutex::default()).collect(),
            hasher: std::hash::RandomState::new(),
            limits: self.limits,
            queue_bytes: self.queue_bytes,
            max_topics: self.max_topics,
            evict_idle: self.evict_idle,
            keep_alive: self.keep_alive,
            heartbeat: OnceLock::new(),
            fruitless_pass: Mutex::new(None),
            stats: Counters::default(),
            backplane: self.backplane.0,
        });
        if let Some(backplane) = &inner.backplane {
            backplane.attach(Feed {
                hub: Arc::downgrade(&inner),
            });
        } else if let Some(ttl) = self.history_ttl {
            if !heartbeat::expire(Arc::downgrade(&inner), ttl) {
                tracing::warn!(
                    "ssekit hub: no thread to expire histories; they stay until removed"
                );
            }
        }
        Hub { inner }
    }
}

/// One shard of the hub's topics.
#[derive(Default)]
struct ShardMap {
    topics: HashMap<Arc<str>, Arc<Topic>>,
    /// Where this shard's released topics stood.
    released: Released,
}

type Shard = Mutex<ShardMap>;

/// How long after a pass that found no idle topic to evict the next pass
/// waits (a new topic meanwhile is refused as if eviction were off).
const EVICT_RETRY: Duration = Duration::from_secs(1);

/// The most positions of released topics a hub keeps, whatever
/// `max_topics` (about 110 bytes each, resident).
const MAX_RELEASED: usize = 65_536;

pub(crate) struct Inner {
    shards: Box<[Shard]>,
    hasher: std::hash::RandomState,
    limits: Limits,
    queue_bytes: usize,
    max_topics: usize,
    /// `HubBuilder::evict_idle_topics`.
    evict_idle: bool,
    /// When a pass to evict idle topics last found none.
    fruitless_pass: Mutex<Option<Instant>>,
    /// The keep-alive of the hub's streams.
    pub(crate) keep_alive: Option<KeepAlive>,
    /// Whether the keep-alive thread sends the keep-alives (decided on the
    /// first subscribe; if not, each stream has its own timer).
    heartbeat: OnceLock<bool>,
    pub(crate) stats: Counters,
    backplane: Option<Arc<dyn Backplane>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A publish/subscribe hub of SSE topics; see [the module docs](self) for the
/// guarantees. Cloning is cheap and gives another handle to the same hub.
///
/// ```
/// let hub = ssekit::Hub::new();
/// let published = hub.publish("news", "first")?;
/// assert_eq!(published.offset(), 1);
/// assert!(published.id().as_str().ends_with("-1"));
/// # Ok::<(), ssekit::HubError>(())
/// ```
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("limits", &self.inner.limits)
            .field("subscriber_queue_bytes", &self.inner.queue_bytes)
            .field("shards", &self.inner.shards.len())
            .field("backplane", &self.inner.backplane.is_some())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub with the default bounds (see [`HubBuilder`]).
    #[must_use]
    pub fn new() -> Self {
        HubBuilder::default().build()
    }

    /// A builder to choose the bounds.
    pub fn builder() -> HubBuilder {
        HubBuilder::default()
    }

    /// Publishes `event` to `topic`: gives it the id `<epoch>-<offset>`
    /// (replacing any id it had), encodes it once, keeps it in the history
    /// and queues the same bytes to every subscriber. Never waits for a
    /// subscriber; callable from any task or thread.
    ///
    /// `event` is an [`Event`] or its data: a `String` (taken as it is) or a
    /// `&'static str`; a borrowed `&str` is copied first (`text.to_owned()`),
    /// as the event outlives the call.
    ///
    /// A publish after a [`Shutdown`](crate::Shutdown)'s token was cancelled
    /// still succeeds: it goes to the history and to the subscribers whose
    /// streams have not ended yet. An application that stops refuses new
    /// messages itself (the demos answer `503`).
    ///
    /// # Errors
    ///
    /// [`HubError::is_invalid_topic`] for an invalid topic name;
    /// [`HubError::is_too_many_topics`] for a new topic over
    /// [`HubBuilder::max_topics`]; [`HubError::is_needs_async`] on a hub with
    /// a [`Backplane`] (use [`Hub::publish_async`]).
    pub fn publish(&self, topic: &str, event: impl Into<Event>) -> Result<Published, HubError> {
        check_topic(topic)?;
        if self.inner.backplane.is_some() {
            return Err(HubError(Kind::NeedsAsync));
        }
        let mut event = event.into();
        event.id = None;
        let body = event.encode();
        self.inner.publish(topic, &body)
    }

    /// Publishes `event` to `topic`, on any hub: without a backplane it is
    /// [`Hub::publish`] (ready at once); with one, it resolves once the
    /// backplane has assigned the event's position and stored it, or fails
    /// with the backplane's error within the backplane's own timeout (it
    /// never hangs). The event is then on its way to every instance; the
    /// local subscribers get it at once. The future is boxed (one
    /// allocation) and owns what it needs, so it can be spawned. A publish that failed may still
    /// have been stored (the answer was lost): treat it as "unknown", not
    /// "not published".
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ssekit::HubError> {
    /// let hub = ssekit::Hub::new();
    /// let published = hub.publish_async("news", "first").await?;
    /// assert_eq!(published.offset(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Hub::publish`], and [`HubError::backplane`] when the backplane
    /// failed or timed out. A new topic is never refused here with a
    /// backplane: topics are created by subscribers.
    pub fn publish_async(
        &self,
        topic: &str,
        event: impl Into<Event>,
    ) -> BoxFuture<Result<Published, HubError>> {
        let inner = Arc::clone(&self.inner);
        let topic = topic.to_owned();
        let mut event = event.into();
        event.id = None;
        let body = event.encode();
        Box::pin(async move {
            check_topic(&topic)?;
            let Some(backplane) = inner.backplane.clone() else {
                return inner.publish(&topic, &body);
            };
            let position = backplane
                .publish(&topic, body.clone())
                .await
                .map_err(|err| HubError(Kind::Backplane(err)))?;
            inner.stats.published.fetch_add(1, Ordering::Relaxed);
            let event = with_id(position, &body);
            let subscribers = match inner.deliver(&topic, position, &event) {
                Delivery::Delivered(n) => n,
                _ => 0,
            };
            Ok(Published {
                id: position_id(position),
                offset: position.offset,
                subscribers,
            })
        })
    }

    /// Subscribes to `topic`, resuming after `from` (the client's
    /// `Last-Event-ID`, or `?last_event_id=`; see [`Resume`]): replays
    /// exactly the events after it, or sends a `reset` event when that is not
    /// possible, then every live event. Returns the [`EventStream`] to give
    /// to the adapter (set [`EventStream::retry`] as you like). The topic is
    /// created if needed.
    ///
    /// The stream has no keep-alive timer of its own: the hub writes the
    /// keep-alive to a quiet topic's subscribers (see
    /// [`HubBuilder::keep_alive`]; only if the hub's keep-alive thread
    /// could not be started does each stream get its own timer). So
    /// [`EventStream::without_keep_alive`] on it does not silence the hub's
    /// (build the hub with [`HubBuilder::without_keep_alive`] for that),
    /// and [`EventStream::keep_alive`] adds the stream's own timer to the
    /// hub's keep-alive.
    ///
    /// With a [`Backplane`], the subscriber is registered at once and its
    /// stream first reads the backplane's history (see [`backplane`]); if
    /// that read fails, the stream ends without an event and the client
    /// retries. No keep-alive is written while that read is under way
    /// (bounded by the backplane's own timeout).
    ///
    /// # Errors
    ///
    /// [`HubError::is_invalid_topic`] for an invalid topic name;
    /// [`HubError::is_too_many_topics`] for a new topic over
    /// [`HubBuilder::max_topics`].
    pub fn subscribe(
        &self,
        topic: &str,
        from: impl Into<Resume>,
    ) -> Result<EventStream<Subscription>, HubError> {
        check_topic(topic)?;
        let stream = EventStream::new(Arc::clone(&self.inner).subscribe(topic, from.into())?);
        Ok(match &self.inner.keep_alive {
            Some(keep_alive) if !self.inner.sends_keep_alives(keep_alive) => {
                stream.keep_alive(keep_alive.clone())
            }
            _ => stream.without_keep_alive(),
        })
    }

    /// Removes a topic: drops its history (its next use starts a new epoch)
    /// and ends each of its subscriptions cleanly after the events it has
    /// already taken. Returns whether the topic was in memory; where a
    /// released topic stood is forgotten either way. With a
    /// [`Backplane`], only this instance's side goes: the history stays in
    /// the backplane, and the topic's next subscriber reads it as before.
    ///
    /// ```
    /// let hub = ssekit::Hub::new();
    /// hub.publish("room", "hi")?;
    /// assert!(hub.remove_topic("room"));
    /// assert!(hub.topic_stats("room").is_none());
    /// # Ok::<(), ssekit::HubError>(())
    /// ```
    pub fn remove_topic(&self, topic: &str) -> bool {
        let removed = {
            let hash = self.inner.hasher.hash_one(topic);
            let mut shard = lock(self.inner.shard_of(hash));
            // Its next use starts a new epoch, even if it had none in memory.
            shard.released.take(hash);
            shard.topics.remove(topic)
        };
        let Some(removed) = removed else {
            return false;
        };
        if let Some(backplane) = &self.inner.backplane {
            backplane.unwatch(topic);
        }
        self.inner.stats.topics.fetch_sub(1, Ordering::Relaxed);
        let subscribers = {
            let mut state = lock(&removed.state);
            state.removed = true;
            std::mem::take(&mut state.subscribers)
        };
        self.inner
            .stats
            .subscribers
            .fetch_sub(subscribers.len() as u64, Ordering::Relaxed);
        for sub in &subscribers {
            sub.slot.store(usize::MAX, Ordering::Relaxed);
            sub.close();
        }
        tracing::debug!(
            topic,
            ended = subscribers.len(),
            "ssekit hub: topic removed"
        );
        true
    }

    /// The hub's counts now.
    #[must_use]
    pub fn stats(&self) -> HubStats {
        let s = &self.inner.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let reset = |r: ResetReason| get(&s.resets[reset_index(r)]);
        HubStats {
            topics: get(&s.topics),
            subscribers: get(&s.subscribers),
            published: get(&s.published),
            delivered: get(&s.delivered),
            replayed: get(&s.replayed),
            resumed: get(&s.resumed),
            resets: ResetCounts {
                malformed: reset(ResetReason::Malformed),
                unknown_epoch: reset(ResetReason::UnknownEpoch),
                too_old: reset(ResetReason::TooOld),
                future: reset(ResetReason::Future),
                replay_limit: reset(ResetReason::ReplayLimit),
            },
            slow_drops: get(&s.slow_drops),
            evicted: get(&s.evicted),
        }
    }

    /// One topic's numbers, if it is in memory (an invalid name is simply
    /// not there). With a backplane: the local subscribers and the last
    /// position fanned out here, once known (the history, kept by the
    /// backplane, counts as empty).
    #[must_use]
    pub fn topic_stats(&self, topic: &str) -> Option<TopicStats> {
        let found = lock(self.inner.shard(topic)).topics.get(topic).cloned()?;
        let state = lock(&found.state);
        let (history_events, history_bytes) = state.log.history_size();
        let top = match (&self.inner.backplane, state.fed) {
            (None, _) => state.log.top_position(),
            (Some(_), Some(fed)) => fed,
            (Some(_), None) => return None,
        };
        Some(TopicStats {
            subscribers: state.subscribers.len(),
            history_events,
            history_bytes,
            last_id: position_id(top),
        })
    }
}

/// Checks a topic name as [`Hub::publish`] and [`Hub::subscribe`] do: 1 to
/// [`MAX_TOPIC_LEN`] bytes, no control character (C0, DEL or C1), no line
/// or paragraph separator (U+2028, U+2029) and no bidirectional formatting
/// character (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069).
/// For a handler that takes the topic from the client and wants to refuse
/// a bad one before it reads a request body.
///
/// # Errors
///
/// An error for which [`HubError::is_invalid_topic`] holds, saying why.
///
/// ```
/// use ssekit::hub::check_topic;
///
/// assert!(check_topic("room-1").is_ok());
/// assert!(check_topic("café").is_ok());
/// let err = check_topic("a\nb").unwrap_err();
/// assert!(err.is_invalid_topic());
/// assert_eq!(err.to_string(), "invalid topic: control character at byte 1");
/// ```
pub fn check_topic(topic: &str) -> Result<(), HubError> {
    topic::check_topic(topic).map_err(|p| HubError(Kind::InvalidTopic(p)))
}

/// A topic from the raw text of a request path, as a client sent it:
/// percent-decoded as UTF-8 (`+` is itself, as in a path), with no `.` or
/// `..` segment, then checked as [`check_topic`] does. A browser, `fetch`
/// or curl removes dot segments (also `%2e`) before sending, so such a
/// topic would be reached only by raw clients, and `/rooms/./x` would be
/// topic `x` to a browser and `./x` to them. A text over three times
/// [`MAX_TOPIC_LEN`] is refused before any decoding.
///
/// For warp, whose `path!` and `path::param` hand a segment on as sent
/// (`ssekit-warp`'s `topic` filter calls this), or a topic taken from
/// `http::Uri::path`. axum's, actix-web's and poem's path extractors
/// decode already: check what they give with [`check_topic`], not this
/// (decoding twice would make `%2541` the topic `A`).
///
/// # Errors
///
/// An error for which [`HubError::is_invalid_topic`] holds, saying why.
///
/// ```
/// use ssekit::hub::topic_from_path;
///
/// assert_eq!(topic_from_path("caf%C3%A9")?, "café");
/// assert_eq!(topic_from_path("lobby")?, "lobby"); // borrowed: nothing to decode
/// let err = topic_from_path("a%0Aevent:%20x").unwrap_err();
/// assert!(err.is_invalid_topic());
/// assert_eq!(err.to_string(), "invalid topic: control character at byte 1");
/// assert_eq!(
///     topic_from_path("%2e%2e").unwrap_err().to_string(),
///     "invalid topic: a `.` or `..` segment, which browsers remove from a path"
/// );
/// # Ok::<(), ssekit::HubError>(())
/// ```
pub fn topic_from_path(raw: &str) -> Result<std::borrow::Cow<'_, str>, HubError> {
    topic::topic_from_path(raw).map_err(|p| HubError(Kind::InvalidTopic(p)))
}

/// The [`EventId`] of a position (always valid: hex digits, `-`, digits).
fn position_id(position: Position) -> EventId {
    EventId::new(position.to_string()).unwrap_or_else(|_| EventId::from_static(""))
}

/// What follows the `id` line of the position marker: the blank line that
/// ends the event.
static BLANK_LINE: EncodedEvent = EncodedEvent(Bytes::from_static(b"\n"));

/// `id: <position>\n` followed by the encoded event without id.
fn with_id(position: Position, body: &EncodedEvent) -> EncodedEvent {
    // `id: ` + 12 hex digits + `-` + at most 20 digits + `\n`: one
    // allocation for the whole event, the id written straight into it.
    let mut bytes = BytesMut::with_capacity(38 + body.len());
    // Writing into a `BytesMut` cannot fail.
    let _ = writeln!(bytes, "id: {position}");
    bytes.extend_from_slice(body.as_bytes());
    EncodedEvent(bytes.freeze())
}

/// What a join finds in a backplane's [`Snapshot`] for a `Last-Event-ID`:
/// the same answers as the in-memory log's lookup.
fn snapshot_lookup(after: &str, snapshot: &Snapshot, limits: &Limits) -> Lookup {
    let top = snapshot.top;
    let (position, missed) = match topic::behind(after, top) {
        Ok(behind) => behind,
        Err(lookup) => return lookup,
    };
    if missed > limits.replay_events as u64 || snapshot.over_limit {
        return Lookup::Reset(ResetReason::ReplayLimit);
    }
    // Exactly `position + 1 ..= top`, contiguous; anything else means the
    // history no longer holds the first of them.
    let mut expected = position.offset;
    let mut bytes = 0usize;
    let mut replay = Vec::with_capacity(snapshot.events.len());
    for (offset, event) in &snapshot.events {
        if *offset <= expected {
            continue;
        }
        if Some(*offset) != expected.checked_add(1) {
            return Lookup::Reset(ResetReason::TooOld);
        }
        expected = *offset;
        bytes = bytes.saturating_add(event.len());
        if bytes > limits.replay_bytes {
            return Lookup::Reset(ResetReason::ReplayLimit);
        }
        replay.push(event.clone());
        if expected == top.offset {
            break;
        }
    }
    if expected != top.offset {
        return Lookup::Reset(ResetReason::TooOld);
    }
    Lookup::Resume(replay)
}

impl Inner {
    /// Whether the keep-alive thread sends this hub's keep-alives (asked to
    /// on the first call).
    fn sends_keep_alives(self: &Arc<Self>, keep_alive: &KeepAlive) -> bool {
        *self
            .heartbeat
            .get_or_init(|| heartbeat::watch(Arc::downgrade(self), keep_alive.get_interval()))
    }

    fn shard(&self, topic: &str) -> &Shard {
        self.shard_of(self.hasher.hash_one(topic))
    }

    /// The shard of a topic name's hash.
    fn shard_of(&self, hash: u64) -> &Shard {
        &self.shards[self.shard_index(hash)]
    }

    fn shard_index(&self, hash: u64) -> usize {
        let len = self.shards.len() as u64;
        // `hash % len < len <= usize::MAX`.
        usize::try_from(hash % len).unwrap_or(0)
    }

    /// The most [`Released`] positions shard `index` keeps: `max_topics`
    /// (at most [`MAX_RELEASED`]) shared out among the shards, so that
    /// the shards' caps add up to it exactly.
    fn released_cap(&self, index: usize) -> usize {
        let total = self.max_topics.min(MAX_RELEASED);
        let shards = self.shards.len();
        total / shards + usize::from(index < total % shards)
    }

    /// The topic, created if missing (and allowed).
    fn topic(&self, name: &str) -> Result<Arc<Topic>, HubError> {
        let hash = self.hasher.hash_one(name);
        let mut shard = lock(self.shard_of(hash));
        if let Some(topic) = shard.topics.get(name) {
            return Ok(Arc::clone(topic));
        }
        // Taken here, under this shard's lock only, so the count (not a
        // look at it) refuses the one too many when shards race.
        let max = self.max_topics as u64;
        let counted = self
            .stats
            .topics
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if !counted {
            // Lock order: one shard at a time, so this one is let go. An
            // evicted topic's place is handed over still counted, so that
            // another new topic cannot take it meanwhile.
            drop(shard);
            let handed_over = self.evict_idle && self.make_room().is_some_and(|n| n > 0);
            if !handed_over {
                tracing::warn!(
                    max = self.max_topics,
                    "ssekit hub: topic refused, too many topics"
                );
                return Err(HubError(Kind::TooManyTopics(self.max_topics)));
            }
            shard = lock(self.shard_of(hash));
            if let Some(topic) = shard.topics.get(name) {
                // Made meanwhile by another: the place goes back.
                self.stats.topics.fetch_sub(1, Ordering::Relaxed);
                return Ok(Arc::clone(topic));
            }
        }
        let name: Arc<str> = Arc::from(name);
        let log = shard.released.take(hash).map_or_else(Log::new, Log::after);
        tracing::debug!(topic = %name, epoch = %log.epoch, "ssekit hub: topic created");
        let topic = Arc::new(Topic {
            name: Arc::clone(&name),
            state: Mutex::new(TopicState {
                log,
                subscribers: Vec::new(),
                removed: false,
                wrote: false,
                quiet_since: None,
                published: false,
                stale_since: None,
                used: self.evict_idle.then(Instant::now),
                fed: None,
                synced_at: None,
            }),
        });
        shard.topics.insert(name, Arc::clone(&topic));
        drop(shard);
        if let Some(backplane) = &self.backplane {
            backplane.watch(&topic.name);
        }
        Ok(topic)
    }

    fn publish(&self, name: &str, body: &EncodedEvent) -> Result<Published, HubError> {
        loop {
            let topic = self.topic(name)?;
            let mut state = lock(&topic.state);
            if state.removed {
                continue;
            }
            let Some(position) = state.log.next_position() else {
                // 2^64 - 1 events in one epoch: start a new one.
                state.log = Log::new();
                continue;
            };
            let event = with_id(position, body);
            state.log.append(event.clone(), &self.limits);
            state.published = true;
            self.mark_used(&mut state);
            let (subscribers, wakes) = self.fan_out(&topic, &mut state, &event);
            // Kept neither by a subscriber nor by its history (history off,
            // or an event bigger than it): released, as after the last
            // subscriber leaves.
            let idle = state.is_idle();
            drop(state);
            wakes.wake();
            if idle {
                self.release_if_idle(&topic);
            }
            self.stats.published.fetch_add(1, Ordering::Relaxed);
            return Ok(Published {
                id: position_id(position),
                offset: position.offset,
                subscribers,
            });
        }
    }

    /// Offers `event` to every subscriber of the locked topic, removing
    /// those gone or over their bound; returns how many it was queued to,
    /// and the subscribers to wake once the topic's lock is released.
    fn fan_out(
        &self,
        topic: &Topic,
        state: &mut TopicState,
        event: &EncodedEvent,
    ) -> (usize, Wakes) {
        let (mut slow, mut gone) = (0u64, 0u64);
        let queue_bytes = self.queue_bytes;
        let mut wakes = Wakes::new(state.subscribers.len());
        state.wrote = true;
        let mut i = 0;
        while let Some(sub) = state.subscribers.get(i) {
            match sub.offer(event, queue_bytes, &mut wakes) {
                Offer::Queued => i += 1,
                Offer::Gone => {
                    // Dropped, and about to unsubscribe: not slow.
                    let sub = Arc::clone(sub);
                    state.remove(&sub);
                    gone += 1;
                }
                Offer::Overflowed => {
                    let sub = Arc::clone(sub);
                    state.remove(&sub);
                    slow += 1;
                    tracing::warn!(
                        topic = %topic.name,
                        bound = queue_bytes,
                        "ssekit hub: slow subscriber dropped (queue over its byte bound); \
                         its stream ends and the client resumes from the history"
                    );
                }
            }
        }
        if slow > 0 {
            self.stats.slow_drops.fetch_add(slow, Ordering::Relaxed);
        }
        if slow + gone > 0 {
            self.stats
                .subscribers
                .fetch_sub(slow + gone, Ordering::Relaxed);
        }
        (state.subscribers.len(), wakes)
    }

    /// Ends every subscription of the locked topic after what it took:
    /// how many, and the wakers to wake once the topic's lock is released.
    fn end_all(&self, state: &mut TopicState, keep: Option<&Arc<SubShared>>) -> (usize, Wakes) {
        let mut wakes = Wakes::new(state.subscribers.len());
        let mut ended = 0u64;
        let mut i = 0;
        while let Some(sub) = state.subscribers.get(i) {
            if keep.is_some_and(|k| Arc::ptr_eq(k, sub)) {
                i += 1;
                continue;
            }
            let sub = Arc::clone(sub);
            state.remove(&sub);
            if let Some(waker) = sub.end() {
                wakes.push(waker);
            }
            ended += 1;
        }
        if ended > 0 {
            self.stats.subscribers.fetch_sub(ended, Ordering::Relaxed);
        }
        (usize::try_from(ended).unwrap_or(usize::MAX), wakes)
    }

    /// The topic, if in memory and not removed.
    fn existing(&self, name: &str) -> Option<Arc<Topic>> {
        lock(self.shard(name)).topics.get(name).cloned()
    }

    /// [`Feed::deliver`].
    fn deliver(&self, name: &str, position: Position, event: &EncodedEvent) -> Delivery {
        let Some(topic) = self.existing(name) else {
            return Delivery::NotWatched;
        };
        let mut state = lock(&topic.state);
        let Some(fed) = state.fed.filter(|_| !state.removed) else {
            return Delivery::NotWatched;
        };
        if fed.epoch != position.epoch {
            let (ended, wakes) = self.end_all(&mut state, None);
            state.fed = None;
            state.synced_at = None;
            drop(state);
            wakes.wake();
            tracing::warn!(
                topic = name,
                from = %fed,
                to = %position,
                ended,
                "ssekit hub: the backplane's epoch changed (its history was lost); \
                 local subscriptions ended, their clients get reset"
            );
            return Delivery::EpochChanged;
        }
        if position.offset <= fed.offset {
            return Delivery::Duplicate;
        }
        if Some(position.offset) != fed.offset.checked_add(1) {
            return Delivery::Gap { after: fed };
        }
        state.fed = Some(position);
        let (subscribers, wakes) = self.fan_out(&topic, &mut state, event);
        drop(state);
        wakes.wake();
        Delivery::Delivered(subscribers)
    }

    /// [`Feed::position`].
    fn fed_position(&self, name: &str) -> Option<Position> {
        let topic = self.existing(name)?;
        let state = lock(&topic.state);
        state.fed.filter(|_| !state.removed)
    }

    /// [`Feed::is_watched`].
    fn has_topic(&self, name: &str) -> bool {
        self.existing(name)
            .is_some_and(|topic| !lock(&topic.state).removed)
    }

    /// [`Feed::topics`].
    fn watched_topics(&self) -> Vec<String> {
        self.topics()
            .iter()
            .map(|topic| topic.name.to_string())
            .collect()
    }

    /// Every topic in memory (each shard locked in turn, not together).
    pub(crate) fn topics(&self) -> Vec<Arc<Topic>> {
        let mut topics = Vec::new();
        for shard in &self.shards {
            topics.extend(lock(shard).topics.values().map(Arc::clone));
        }
        topics
    }

    /// [`Feed::end_topic`].
    fn end_fed_topic(&self, name: &str) {
        let Some(topic) = self.existing(name) else {
            return;
        };
        let mut state = lock(&topic.state);
        let (ended, wakes) = self.end_all(&mut state, None);
        state.fed = None;
        state.synced_at = None;
        drop(state);
        wakes.wake();
        tracing::info!(
            topic = name,
            ended,
            "ssekit hub: local subscriptions ended at the backplane's request; they resume"
        );
    }

    /// Ends a backplane join: `None` ends the subscription (the read
    /// failed), else the preface (replay, reset or position marker). Live
    /// events the read covered are dropped from the subscriber's queue.
    fn finish_join(
        &self,
        topic: &Arc<Topic>,
        shared: &Arc<SubShared>,
        join: &Join,
        read: Result<Snapshot, BackplaneError>,
    ) -> Option<std::collections::VecDeque<EncodedEvent>> {
        let snapshot = match read {
            Ok(snapshot) => snapshot,
            Err(err) => {
                tracing::warn!(
                    topic = %topic.name,
                    error = %err,
                    "ssekit hub: could not read the backplane's history; the stream ends and the client retries"
                );
                return None;
            }
        };
        let top = snapshot.top;
        let lookup = match &join.from {
            Resume::Start => None,
            Resume::After(id) => Some(snapshot_lookup(id.as_str(), &snapshot, &self.limits)),
            Resume::Invalid(_) => Some(Lookup::Reset(ResetReason::Malformed)),
        };
        let mut catch_up = false;
        let mut stale = false;
        // Subscribers ended under the topic's lock, woken after it.
        let mut woken = Wakes::new(0);
        // Where the subscriber's stream starts: the read's top, or for a
        // new subscriber of a topic already fed, where it was registered.
        let mut start = top;
        {
            let mut state = lock(&topic.state);
            // Ended while its read ran (an epoch change ended every
            // subscriber): its read says nothing about the feed now, which
            // a newer join may have set, so it leaves the topic alone. It
            // still gets its preface from the read (a reset, a replay of
            // events that were published, or its position), then its
            // stream ends and its client resumes from there.
            let ended_meanwhile = !shared.is_open();
            match join.joined_at.or(state.synced_at) {
                _ if ended_meanwhile => {}
                None => {
                    // The topic's first read: its live feed starts here.
                    state.fed = Some(top);
                    state.synced_at = Some(top);
                    catch_up = true;
                }
                Some(base) if base.epoch == top.epoch && base.offset <= top.offset => {
                    if lookup.is_none() {
                        // Live from registration: keep what queued since.
                        start = base;
                    } else {
                        shared.skip(top.offset - base.offset);
                    }
                }
                Some(base)
                    if join.joined_at.is_none()
                        && base.epoch == top.epoch
                        && top.offset < base.offset =>
                {
                    // Registered before the topic's first read, and this read
                    // ran in the backplane before another join's that set
                    // the feed: older, not lost data. Live from the feed's
                    // position; a resume would miss what lies between, so
                    // that stream ends and its client resumes afresh.
                    if lookup.is_none() {
                        start = base;
                    } else {
                        stale = true;
                    }
                }
                Some(base) => {
                    // The backplane's history changed under the live feed
                    // (lost data): adopt the read, end the others.
                    let ended;
                    (ended, woken) = self.end_all(&mut state, Some(shared));
                    shared.clear();
                    state.fed = Some(top);
                    state.synced_at = Some(top);
                    catch_up = true;
                    tracing::warn!(
                        topic = %topic.name,
                        from = %base,
                        to = %top,
                        ended,
                        "ssekit hub: the backplane's position moved back or changed epoch; \
                         local subscriptions ended, their clients get reset"
                    );
                }
            }
        }
        woken.wake();
        if let Some(backplane) = self.backplane.as_ref().filter(|_| catch_up) {
            backplane.catch_up(&topic.name);
        }
        if stale {
            tracing::debug!(
                topic = %topic.name,
                read = %top,
                "ssekit hub: a join's read was overtaken by another join's; the stream ends and the client resumes"
            );
            return None;
        }
        Some(self.preface(&topic.name, start, lookup))
    }

    /// The first events of a subscription: the position marker, the
    /// replay, or the reset event; counted and logged.
    fn preface(
        &self,
        name: &str,
        top: Position,
        lookup: Option<Lookup>,
    ) -> std::collections::VecDeque<EncodedEvent> {
        // Sized to what it holds: the deque is freed once the preface is
        // yielded.
        let one = |event: EncodedEvent| std::collections::VecDeque::from([event]);
        match lookup {
            None => {
                tracing::debug!(topic = name, position = %top, "ssekit hub: subscribed live");
                // The position alone: the browser stores it as its last
                // event id, so even a reconnect before the first event
                // resumes without a gap. Not dispatched (no data).
                one(with_id(top, &BLANK_LINE))
            }
            Some(Lookup::Resume(replay)) => {
                let n = replay.len() as u64;
                self.stats.resumed.fetch_add(1, Ordering::Relaxed);
                self.stats.replayed.fetch_add(n, Ordering::Relaxed);
                tracing::debug!(
                    topic = name,
                    replayed = n,
                    "ssekit hub: subscribed, resumed"
                );
                // The replay's own buffer becomes the preface.
                std::collections::VecDeque::from(replay)
            }
            Some(Lookup::Reset(reason)) => {
                self.stats.resets[reset_index(reason)].fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    topic = name,
                    reason = reason.as_str(),
                    position = %top,
                    "ssekit hub: subscribed after a reset"
                );
                one(Event::new(reason.as_str())
                    .event(RESET_EVENT_TYPE)
                    .id(position_id(top))
                    .encode())
            }
        }
    }

    fn subscribe(self: Arc<Self>, name: &str, from: Resume) -> Result<Subscription, HubError> {
        loop {
            let topic = self.topic(name)?;
            let mut state = lock(&topic.state);
            if state.removed {
                continue;
            }
            self.mark_used(&mut state);
            let shared = SubShared::new();
            let (preface, join) = if let Some(backplane) = &self.backplane {
                // Registered now, so that live events queue while the
                // history is read; the read resolves the preface.
                let joined_at = state.fed;
                state.add(Arc::clone(&shared));
                drop(state);
                let after = match &from {
                    Resume::After(id) => Position::parse(id.as_str()),
                    Resume::Start | Resume::Invalid(_) => None,
                };
                let read = backplane.read(
                    name,
                    after,
                    self.limits.replay_events,
                    self.limits.replay_bytes,
                );
                let join = Join {
                    read,
                    from,
                    joined_at,
                };
                (std::collections::VecDeque::new(), Some(Box::new(join)))
            } else {
                let lookup = match &from {
                    Resume::Start => None,
                    Resume::After(id) => Some(state.log.lookup(id.as_str(), &self.limits)),
                    Resume::Invalid(_) => Some(Lookup::Reset(ResetReason::Malformed)),
                };
                let preface = self.preface(&topic.name, state.log.top_position(), lookup);
                state.add(Arc::clone(&shared));
                drop(state);
                (preface, None)
            };
            self.stats.subscribers.fetch_add(1, Ordering::Relaxed);
            return Ok(Subscription {
                hub: Arc::clone(&self),
                topic,
                shared,
                preface_left: preface.len(),
                taken: preface,
                owed: 0,
                delivered: 0,
                ended: false,
                join,
            });
        }
    }

    /// Removes a subscriber (if a publisher has not already) and releases
    /// the topic when it is idle.
    pub(crate) fn unsubscribe(&self, topic: &Arc<Topic>, sub: &Arc<SubShared>) {
        let idle = {
            let mut state = lock(&topic.state);
            if state.remove(sub) {
                self.stats.subscribers.fetch_sub(1, Ordering::Relaxed);
            }
            state.is_idle() && !state.removed
        };
        if idle {
            self.release_if_idle(topic);
        }
    }

    /// Lets the least recently used topics without a subscriber go (see
    /// [`HubBuilder::evict_idle_topics`]); returns how many went, or `None`
    /// without looking when a pass less than [`EVICT_RETRY`] ago found
    /// none (every topic listened to: a client making new names then
    /// costs no pass over the topics each). One pass at a time. The first
    /// topic to go stays counted: its place is the caller's.
    fn make_room(&self) -> Option<usize> {
        let mut fruitless = lock(&self.fruitless_pass);
        if fruitless.is_some_and(|at| at.elapsed() < EVICT_RETRY) {
            return None;
        }
        let mut idle: Vec<(Instant, Arc<Topic>)> = Vec::new();
        for shard in &*self.shards {
            let shard = lock(shard);
            for topic in shard.topics.values() {
                // Lock order: shard, then topic. A topic busy now is in use.
                if let Ok(state) = topic.state.try_lock() {
                    if let (true, false, Some(used)) =
                        (state.subscribers.is_empty(), state.removed, state.used)
                    {
                        idle.push((used, Arc::clone(topic)));
                    }
                }
            }
        }
        // The oldest first, until a batch went (one may have been used or
        // released since the look).
        idle.sort_unstable_by_key(|(used, _)| *used);
        let batch = (self.max_topics / 64).clamp(1, 1024);
        let mut evicted = 0;
        for (_, topic) in &idle {
            if evicted == batch {
                break;
            }
            if self.evict(topic, evicted == 0) {
                evicted += 1;
            }
        }
        *fruitless = idle.is_empty().then(Instant::now);
        self.stats
            .evicted
            .fetch_add(evicted as u64, Ordering::Relaxed);
        tracing::debug!(
            evicted,
            "ssekit hub: the topics are full: let the least recently used ones nobody subscribes to go"
        );
        Some(evicted)
    }

    /// Notes a publish or subscribe as a use of the topic, for
    /// [`HubBuilder::evict_idle_topics`] (else nothing).
    fn mark_used(&self, state: &mut TopicState) {
        if self.evict_idle {
            state.used = Some(Instant::now());
        }
    }

    /// Removes `topic` if it is still in its shard with no subscriber,
    /// forgetting where it stood, as [`Hub::remove_topic`] does; with
    /// `hand_over`, its place stays counted (for a new topic).
    fn evict(&self, topic: &Arc<Topic>, hand_over: bool) -> bool {
        let hash = self.hasher.hash_one(&*topic.name);
        let mut shard = lock(self.shard_of(hash));
        if !shard
            .topics
            .get(&topic.name)
            .is_some_and(|t| Arc::ptr_eq(t, topic))
        {
            return false;
        }
        let mut state = lock(&topic.state);
        if !state.subscribers.is_empty() || state.removed {
            return false;
        }
        // Under both locks: a subscriber that found the topic before sees
        // it removed and looks again.
        state.removed = true;
        shard.released.take(hash);
        shard.topics.remove(&topic.name);
        drop(state);
        drop(shard);
        if let Some(backplane) = &self.backplane {
            backplane.unwatch(&topic.name);
        }
        if !hand_over {
            self.stats.topics.fetch_sub(1, Ordering::Relaxed);
        }
        tracing::debug!(topic = %topic.name, "ssekit hub: topic evicted");
        true
    }

    /// Releases a topic that has neither subscribers nor history (checked
    /// again under the locks), keeping where it stood.
    fn release_if_idle(&self, topic: &Arc<Topic>) {
        // Lock order: shard, then topic.
        let hash = self.hasher.hash_one(&*topic.name);
        let index = self.shard_index(hash);
        let mut shard = lock(&self.shards[index]);
        let mut state = lock(&topic.state);
        if state.is_idle() && !state.removed {
            state.removed = true;
            if shard
                .topics
                .get(&topic.name)
                .is_some_and(|t| Arc::ptr_eq(t, topic))
            {
                shard.topics.remove(&topic.name);
                // (With a backplane the positions are the backplane's.)
                if self.backplane.is_none() {
                    let top = state.log.top_position();
                    shard.released.keep(hash, top, self.released_cap(index));
                }
                self.stats.topics.fetch_sub(1, Ordering::Relaxed);
                tracing::debug!(topic = %topic.name, "ssekit hub: topic released");
                drop(state);
                drop(shard);
                if let Some(backplane) = &self.backplane {
                    backplane.unwatch(&topic.name);
                }
            }
        }
    }
}
