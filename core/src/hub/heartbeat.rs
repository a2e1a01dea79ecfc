//! The hub's keep-alive: one comment per quiet topic, not one timer per
//! subscriber.
//!
//! A stream's own keep-alive ([`crate::KeepAlive`] on an [`EventStream`])
//! needs a timer per stream: 112 bytes and a timer-wheel entry for each idle
//! subscriber. A hub knows when each topic last wrote to all of its
//! subscribers (every event goes to all of them), so it keeps one time per
//! topic instead: the hub thread (see [`super::wake`]) looks at the watched
//! hubs every quarter of their keep-alive interval and, for each topic that
//! has subscribers and has fanned nothing out for the interval, hands every
//! subscriber that has nothing queued the keep-alive comment and wakes it.
//! A quiet topic's subscribers so get a keep-alive `interval` to
//! `1.25 * interval` after its last event (or after its last keep-alive);
//! a subscriber that joined meanwhile may get its first one sooner.
//!
//! [`EventStream`]: crate::EventStream

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::wake::Wakes;
use super::{Inner, lock};

/// A hub the hub thread sends keep-alives for.
pub(crate) struct Watched {
    hub: Weak<Inner>,
    interval: Duration,
    due: Instant,
}

impl Watched {
    pub(crate) fn new(hub: Weak<Inner>, interval: Duration) -> Self {
        let mut watched = Self {
            hub,
            interval,
            due: Instant::now(),
        };
        watched.due += watched.period();
        watched
    }

    /// When the hub's topics are looked at next.
    pub(crate) fn due(&self) -> Instant {
        self.due
    }

    /// How often the hub's topics are looked at: a quarter of the interval.
    fn period(&self) -> Duration {
        (self.interval / 4).max(crate::KeepAlive::MIN_INTERVAL)
    }

    /// Sends the keep-alives due at `now`; whether the hub is still there.
    pub(crate) fn tick(&mut self, now: Instant) -> bool {
        if now < self.due {
            return true;
        }
        let Some(hub) = self.hub.upgrade() else {
            return false;
        };
        hub.heartbeat(now, self.interval);
        self.due = now + self.period();
        true
    }
}

impl Inner {
    /// Hands the keep-alive to the subscribers of every topic that has
    /// fanned nothing out for `interval` by `now`; returns how many topics.
    pub(crate) fn heartbeat(&self, now: Instant, interval: Duration) -> usize {
        let mut pinged = 0;
        for shard in &self.shards {
            // Not holding the shard's lock while taking the topics' locks.
            let topics: Vec<_> = lock(shard).values().map(Arc::clone).collect();
            for topic in topics {
                let mut state = lock(&topic.state);
                if state.removed
                    || state.subscribers.is_empty()
                    || now.saturating_duration_since(state.last_write) < interval
                {
                    continue;
                }
                state.last_write = now;
                let mut wakes = Wakes::new(state.subscribers.len());
                for sub in &state.subscribers {
                    sub.ping(&mut wakes);
                }
                drop(state);
                wakes.wake_here();
                pinged += 1;
            }
        }
        pinged
    }
}
