//! The hub's keep-alive: one comment per quiet topic, not one timer per
//! subscriber.
//!
//! A stream's own keep-alive ([`crate::KeepAlive`] on an [`EventStream`])
//! needs a timer per stream: 112 bytes and a timer-wheel entry for each idle
//! subscriber. A hub knows when each topic last wrote to all of its
//! subscribers (every event goes to all of them), so it keeps one mark per
//! topic instead: one thread for the process (`ssekit-hub-ping`, started on
//! the first subscribe to a hub with a keep-alive) looks at the topics of
//! each such hub every `period` (a quarter of its keep-alive interval, at
//! least [`MIN_PERIOD`]), and hands the keep-alive comment to every
//! subscriber (with nothing queued) of each topic that has fanned nothing
//! out since it was last seen quiet an interval before, and wakes it.
//!
//! A look notes a topic's last write no sooner than it happened and at most
//! `period` later, and counts the quiet from `period` before it, so a quiet
//! topic's subscribers get a keep-alive between `interval - period` and
//! `interval + period` after its last event or keep-alive (plus the time
//! the look itself takes); a subscriber that joined meanwhile may get its
//! first one sooner. Looks are skipped while a hub has no subscriber, and
//! a hub's entry goes when the hub is dropped.
//!
//! The same thread expires the history of a hub with
//! [`HubBuilder::history_ttl`](super::HubBuilder::history_ttl): it looks at
//! the hub's topics every `period` (a quarter of the ttl, within the same
//! bounds) and drops the history of each topic nothing was published to
//! since a look a ttl or more before (so from the first look after its
//! last publish); a topic left with no subscriber is then released. A
//! history goes `ttl` after the topic's last publish at the earliest (give
//! or take the time a look takes), two looks later at the latest.
//!
//! [`EventStream`]: crate::EventStream

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use super::topic::Topic;
use super::wake::Wakes;
use super::{Inner, lock};

/// The shortest time between two looks at a hub's topics.
const MIN_PERIOD: Duration = Duration::from_millis(10);

/// The longest time between two looks (so that any interval, up to
/// `Duration::MAX`, gives instants that exist).
const MAX_PERIOD: Duration = Duration::from_secs(24 * 60 * 60);

/// How often a hub with keep-alive `interval` is looked at.
fn period(interval: Duration) -> Duration {
    (interval / 4).clamp(MIN_PERIOD, MAX_PERIOD)
}

/// Has the keep-alive thread send `hub`'s keep-alives, at `interval` of
/// quiet per topic, until the hub is dropped. Whether it will (the thread
/// runs).
pub(crate) fn watch(hub: Weak<Inner>, interval: Duration) -> bool {
    send(Watched::new(hub, Job::KeepAlive, interval, Instant::now()))
}

/// Has the thread expire the histories of `hub`'s topics `ttl` after their
/// last publish, until the hub is dropped. Whether it will.
pub(crate) fn expire(hub: Weak<Inner>, ttl: Duration) -> bool {
    send(Watched::new(hub, Job::Expire, ttl, Instant::now()))
}

fn send(watched: Watched) -> bool {
    thread().is_some_and(|thread| thread.send(watched).is_ok())
}

/// The keep-alive thread's channel; `None` if the thread could not be
/// started (then each hub stream keeps its own keep-alive timer).
fn thread() -> Option<&'static Sender<Watched>> {
    static THREAD: OnceLock<Option<Sender<Watched>>> = OnceLock::new();
    THREAD
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Watched>();
            let spawned = std::thread::Builder::new()
                .name("ssekit-hub-ping".to_owned())
                .spawn(move || run(&rx));
            match spawned {
                Ok(_) => Some(tx),
                Err(err) => {
                    tracing::warn!(
                        error = %err,
                        "ssekit hub: could not start the keep-alive thread; each stream keeps its own timer"
                    );
                    None
                }
            }
        })
        .as_ref()
}

/// The keep-alive thread: asleep on its channel until the next look is due.
fn run(new: &Receiver<Watched>) {
    let mut watched: Vec<Watched> = Vec::new();
    loop {
        let next = match watched.iter().map(|hub| hub.due).min() {
            None => new.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(due) => new.recv_timeout(due.saturating_duration_since(Instant::now())),
        };
        match next {
            Ok(hub) => watched.push(hub),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // A look that panicked (it runs no user code but wakers, each
        // caught apart, and a dropped hub's `Drop`) ends that hub's entry,
        // not the thread.
        watched.retain_mut(|hub| {
            catch_unwind(AssertUnwindSafe(|| hub.look(Instant::now()))).unwrap_or_else(|_| {
                tracing::error!(
                    job = hub.job.as_str(),
                    "ssekit hub: a look panicked; that hub gets no more of its kind"
                );
                false
            })
        });
    }
}

/// What the thread does for a hub.
#[derive(Clone, Copy)]
enum Job {
    /// Sends the keep-alive to quiet topics, every `interval` of quiet.
    KeepAlive,
    /// Drops the history of topics unpublished for `interval`.
    Expire,
}

impl Job {
    const fn as_str(self) -> &'static str {
        match self {
            Self::KeepAlive => "keep-alive",
            Self::Expire => "history expiry",
        }
    }
}

/// A hub the thread looks at, for one job.
struct Watched {
    hub: Weak<Inner>,
    job: Job,
    interval: Duration,
    due: Instant,
}

impl Watched {
    fn new(hub: Weak<Inner>, job: Job, interval: Duration, now: Instant) -> Self {
        Self {
            hub,
            job,
            interval,
            due: now + period(interval),
        }
    }

    /// Sends the keep-alives due by `now` if a look is due; whether the
    /// hub is still there.
    fn look(&mut self, now: Instant) -> bool {
        if self.hub.strong_count() == 0 {
            return false;
        }
        if now < self.due {
            return true;
        }
        let Some(hub) = self.hub.upgrade() else {
            return false;
        };
        // The topics, then the hub let go before any topic is looked at (and
        // taken again only to release one), so that a hub dropped meanwhile
        // is freed here only rarely. The keep-alive skips a hub with no
        // subscriber.
        let wanted = match self.job {
            Job::KeepAlive => hub.stats.subscribers.load(Ordering::Relaxed) > 0,
            Job::Expire => true,
        };
        let topics = if wanted { hub.topics() } else { Vec::new() };
        drop(hub);
        match self.job {
            Job::KeepAlive => {
                for topic in &topics {
                    ping_if_quiet(topic, now, self.interval);
                }
            }
            Job::Expire => {
                let release = |topic: &Arc<Topic>| {
                    if let Some(hub) = self.hub.upgrade() {
                        hub.release_if_idle(topic);
                    }
                };
                expire_stale(&topics, now, self.interval, release);
            }
        }
        self.due = Instant::now() + period(self.interval);
        true
    }
}

/// Drops the history of each of `topics` that nothing was published to
/// for `ttl` before `now` (counted from the first look after its last
/// publish, the latest that publish can have been), and has `release`
/// release those left with neither history nor subscriber. Returns how
/// many it released or dropped the history of.
fn expire_stale(
    topics: &[Arc<Topic>],
    now: Instant,
    ttl: Duration,
    release: impl Fn(&Arc<Topic>),
) -> usize {
    let mut expired = 0;
    for topic in topics {
        let mut state = lock(&topic.state);
        if std::mem::take(&mut state.published) {
            state.stale_since = Some(now);
            continue;
        }
        let since = *state.stale_since.get_or_insert(now);
        if state.removed || now.saturating_duration_since(since) < ttl {
            continue;
        }
        let had_history = state.log.has_history();
        state.log.clear_history();
        let idle = state.is_idle();
        drop(state);
        if had_history {
            tracing::debug!(topic = %topic.name, "ssekit hub: history expired");
        }
        if idle {
            release(topic);
        }
        expired += usize::from(had_history || idle);
    }
    expired
}

#[cfg(test)]
impl Inner {
    /// [`expire_stale`] on every topic, as the thread does.
    pub(crate) fn expire_stale(&self, now: Instant, ttl: Duration) -> usize {
        expire_stale(&self.topics(), now, ttl, |topic| {
            self.release_if_idle(topic);
        })
    }
}

/// Looks at one topic at `now`: notes a write since the last look, or
/// hands the keep-alive to its subscribers if it has been quiet for
/// `interval` (counted from `period` before the look that first saw it
/// quiet, the latest its last write can have been). Returns whether it
/// did.
fn ping_if_quiet(topic: &Topic, now: Instant, interval: Duration) -> bool {
    let mut state = lock(&topic.state);
    if std::mem::take(&mut state.wrote) {
        state.quiet_since = Some(now.checked_sub(period(interval)).unwrap_or(now));
        return false;
    }
    let quiet_since = *state.quiet_since.get_or_insert(now);
    if state.removed
        || state.subscribers.is_empty()
        || now.saturating_duration_since(quiet_since) < interval
    {
        return false;
    }
    state.quiet_since = Some(now);
    let mut wakes = Wakes::new(state.subscribers.len());
    for sub in &state.subscribers {
        sub.ping(&mut wakes);
    }
    drop(state);
    wakes.wake_here();
    true
}

#[cfg(test)]
impl Inner {
    /// Looks at every topic at `now` as the keep-alive thread does;
    /// returns how many got the keep-alive.
    pub(crate) fn heartbeat(&self, now: Instant, interval: Duration) -> usize {
        self.topics()
            .iter()
            .filter(|topic| ping_if_quiet(topic, now, interval))
            .count()
    }
}
