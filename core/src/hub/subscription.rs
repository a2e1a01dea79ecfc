//! One subscriber: a queue bounded in bytes that publishers fill without
//! waiting, and the [`Subscription`] stream that drains it.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

use crate::event::EncodedEvent;

use super::Inner;
use super::backplane::{BackplaneError, BoxFuture, Snapshot};
use super::topic::{Position, Topic};
use super::wake::Wakes;
use crate::last_event_id::Resume;

/// A joining subscription of a backplane hub: the history read under way.
pub(crate) struct Join {
    pub(crate) read: BoxFuture<Result<Snapshot, BackplaneError>>,
    pub(crate) from: Resume,
    /// The topic's position when the subscriber was registered.
    pub(crate) joined_at: Option<Position>,
}

/// The most queue slots an idle subscriber keeps allocated.
const IDLE_CAPACITY: usize = 4;

/// What a publisher and the subscriber share.
pub(crate) struct SubShared {
    /// Index in the topic's subscriber list; `usize::MAX` once removed.
    /// Written only under the topic's lock.
    pub(crate) slot: AtomicUsize,
    queue: Mutex<Queue>,
}

struct Queue {
    events: VecDeque<EncodedEvent>,
    /// What is queued plus what the subscriber took and has not yet
    /// written off (see `Subscription::owed`), each event counted by
    /// `queued_cost`: never less than what is held.
    bytes: usize,
    waker: Option<Waker>,
    state: End,
    /// Offers still to drop: live events a backplane join's read already
    /// covered (0 without a backplane).
    skip: u64,
    /// The hub's keep-alive is due (see `heartbeat`): written next unless
    /// events come first.
    ping: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Open,
    /// Over its byte bound: ends after what it already took.
    Overflowed,
    /// Ended by the hub (room for shutdown): ends after what it took.
    Closed,
}

/// What a queued event counts against its subscriber's bound besides its
/// bytes: its slot in the queue (with room for the queue's doubling), and
/// the allocation and shared header of its bytes, which the subscriber may
/// hold alone once the history has let the event go. Without it, a
/// subscriber that never reads small events (a chat line: about 30 bytes)
/// held four times its bound.
const QUEUED_EVENT_COST: usize = 128;

/// What `event` counts against its subscriber's bound while it waits.
fn queued_cost(event: &EncodedEvent) -> usize {
    event.len().saturating_add(QUEUED_EVENT_COST)
}

/// What happened when a publisher offered an event to a subscriber.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    Queued,
    /// Over the bound: the queue was emptied and the subscriber will end.
    Overflowed,
    /// Already ended.
    Gone,
}

impl SubShared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            slot: AtomicUsize::new(usize::MAX),
            queue: Mutex::new(Queue {
                events: VecDeque::new(),
                bytes: 0,
                waker: None,
                state: End::Open,
                skip: 0,
                ping: false,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `event` unless that would take the subscriber over
    /// `max_bytes`; never waits for the subscriber. Adds its waker to
    /// `wakes` only if it was waiting, so a subscriber wakes once for
    /// everything queued meanwhile.
    pub(crate) fn offer(&self, event: &EncodedEvent, max_bytes: usize, wakes: &mut Wakes) -> Offer {
        let mut queue = self.lock();
        if queue.state != End::Open {
            return Offer::Gone;
        }
        if queue.skip > 0 {
            queue.skip -= 1;
            return Offer::Queued;
        }
        let offer = match queue.bytes.checked_add(queued_cost(event)) {
            // An event bigger than the bound still goes to a subscriber
            // with nothing waiting: else it would end every subscriber.
            Some(bytes) if bytes <= max_bytes || queue.bytes == 0 => {
                queue.bytes = bytes;
                queue.events.push_back(event.clone());
                Offer::Queued
            }
            _ => {
                queue.state = End::Overflowed;
                queue.events = VecDeque::new();
                queue.bytes = 0;
                Offer::Overflowed
            }
        };
        // Woken once the topic's lock is released (see `Wakes`).
        if let Some(waker) = queue.waker.take() {
            wakes.push(waker);
        }
        offer
    }

    /// Asks for the hub's keep-alive to be written, unless events are
    /// waiting (they will do); adds the waker to `wakes` if it was waiting.
    pub(crate) fn ping(&self, wakes: &mut Wakes) {
        let mut queue = self.lock();
        if queue.state != End::Open || !queue.events.is_empty() {
            return;
        }
        queue.ping = true;
        if let Some(waker) = queue.waker.take() {
            wakes.push(waker);
        }
    }

    /// Drops the next `n` live events: the `n` queued first, then as many
    /// offers as remain (a backplane join's read already covered them).
    pub(crate) fn skip(&self, n: u64) {
        let mut queue = self.lock();
        let mut left = n;
        while left > 0 {
            let Some(event) = queue.events.pop_front() else {
                break;
            };
            queue.bytes = queue.bytes.saturating_sub(queued_cost(&event));
            left -= 1;
        }
        queue.skip = left;
    }

    /// Empties the queue (a backplane join adopted a new position).
    pub(crate) fn clear(&self) {
        let mut queue = self.lock();
        queue.events = VecDeque::new();
        queue.bytes = 0;
        queue.skip = 0;
    }

    /// Whether the subscription is still open: not ended by the hub, by
    /// an overflow or by its own departure.
    pub(crate) fn is_open(&self) -> bool {
        self.lock().state == End::Open
    }

    /// Ends the subscription after what it already took (for shutdown).
    pub(crate) fn close(&self) {
        if let Some(waker) = self.end() {
            waker.wake();
        }
    }

    /// [`close`](Self::close), the waker (if it was waiting) left to the
    /// caller to wake once it holds no lock of the hub's.
    pub(crate) fn end(&self) -> Option<Waker> {
        let mut queue = self.lock();
        if queue.state == End::Open {
            queue.state = End::Closed;
        }
        queue.waker.take()
    }
}

/// A hub subscription: the stream of encoded events of one topic for one
/// subscriber, as given by [`Hub::subscribe`](super::Hub::subscribe) wrapped
/// in an [`EventStream`](crate::EventStream).
///
/// It yields, in order: the preface (the replayed events, or the `reset`
/// event, or the position marker; see [the hub docs](super)), then every
/// event published to the topic after the join, each exactly once, and
/// while the topic is quiet the hub's keep-alive comment (an
/// [`EncodedEvent`] that is a comment line, `:\n` by default, not an
/// event: it carries no id and is not counted as delivered). It ends
/// (returns `None`) when it fell more than its byte bound behind, so that
/// the client reconnects and resumes from the history. Dropping it
/// unsubscribes.
pub struct Subscription {
    pub(crate) hub: Arc<Inner>,
    pub(crate) topic: Arc<Topic>,
    pub(crate) shared: Arc<SubShared>,
    /// Events not yet yielded: first the preface (replayed events, or the
    /// reset / position event: shared with the history, bounded by the
    /// replay cap, not counted in the queue's bound), then live events
    /// taken from the queue.
    pub(crate) taken: VecDeque<EncodedEvent>,
    /// How many events at the front of `taken` are the preface.
    pub(crate) preface_left: usize,
    /// Bytes yielded from `taken` since the queue's count was last lowered.
    pub(crate) owed: usize,
    /// Yielded events not yet added to the hub's `delivered` count (added
    /// at each take from the queue, and before this would overflow).
    pub(crate) delivered: u32,
    pub(crate) ended: bool,
    /// With a backplane: the history read to await before anything else.
    pub(crate) join: Option<Box<Join>>,
}

impl Subscription {
    /// The topic's name.
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.topic.name
    }

    fn flush_delivered(&mut self) {
        if self.delivered > 0 {
            self.hub
                .stats
                .delivered
                .fetch_add(u64::from(self.delivered), Ordering::Relaxed);
            self.delivered = 0;
        }
    }

    /// The next event already taken (the preface first), with its
    /// accounting: a live event's bytes are owed back to the queue and it
    /// counts as delivered; preface events are not the queue's.
    fn next_taken(&mut self) -> Option<EncodedEvent> {
        let event = self.taken.pop_front()?;
        if self.preface_left > 0 {
            self.preface_left -= 1;
            if self.preface_left == 0 && self.taken.is_empty() {
                // Replays are one-off: free their buffer.
                self.taken = VecDeque::new();
            }
        } else {
            self.owed = self.owed.saturating_add(queued_cost(&event));
            self.count_delivered();
        }
        Some(event)
    }

    /// Counts one yielded event as delivered.
    fn count_delivered(&mut self) {
        if self.delivered == u32::MAX {
            self.flush_delivered();
        }
        self.delivered += 1;
    }
}

impl Stream for Subscription {
    type Item = EncodedEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<EncodedEvent>> {
        let this = &mut *self;
        if let Some(join) = this.join.as_mut() {
            let result = match join.read.as_mut().poll(cx) {
                Poll::Ready(result) => result,
                Poll::Pending => return Poll::Pending,
            };
            if let Some(join) = this.join.take() {
                match this
                    .hub
                    .finish_join(&this.topic, &this.shared, &join, result)
                {
                    Some(preface) => {
                        this.preface_left = preface.len();
                        this.taken = preface;
                    }
                    None => this.ended = true,
                }
            }
        }
        if let Some(event) = this.next_taken() {
            return Poll::Ready(Some(event));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        this.flush_delivered();
        let mut queue = this.shared.lock();
        queue.bytes = queue.bytes.saturating_sub(std::mem::take(&mut this.owed));
        if !queue.events.is_empty() {
            // Take everything queued in one go: one lock per wake-up.
            std::mem::swap(&mut queue.events, &mut this.taken);
            queue.ping = false;
            drop(queue);
            return Poll::Ready(this.next_taken());
        }
        if queue.state != End::Open {
            drop(queue);
            this.ended = true;
            return Poll::Ready(None);
        }
        if std::mem::take(&mut queue.ping) {
            if let Some(keep_alive) = &this.hub.keep_alive {
                drop(queue);
                // Not an event: neither owed to the queue nor delivered.
                return Poll::Ready(Some(EncodedEvent(keep_alive.frame())));
            }
        }
        match &mut queue.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        // Going idle: give back what a burst grew, so that an idle
        // subscriber stays small.
        if queue.events.capacity() > IDLE_CAPACITY {
            queue.events = VecDeque::new();
        }
        drop(queue);
        if this.taken.capacity() > IDLE_CAPACITY {
            this.taken = VecDeque::new();
        }
        Poll::Pending
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.flush_delivered();
        self.shared.close();
        self.hub.unsubscribe(&self.topic, &self.shared);
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic.name)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
