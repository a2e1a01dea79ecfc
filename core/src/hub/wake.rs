//! Waking the subscribers of one publish: after the topic's lock is
//! released, and in the topic's order.
//!
//! A publish to a big topic wakes many subscriber tasks at once. Woken from
//! a worker thread of tokio's multi-thread runtime, each task goes to that
//! worker's local run queue (256 tasks; the last one woken goes to its LIFO
//! slot and runs next). When the local queue is full, tokio moves half of it
//! to the runtime's global queue, which the worker reads only every few
//! dozen tasks while its local queue has any. So the subscribers of a big
//! topic are served at very different rates: with 1 000 subscribers of a
//! topic published to 500 times a second on one worker (tokio 1.54), some
//! subscribers were woken 196 times and others 14, and the last ones took
//! 50-60 ms to get an event, where a pass over all of them took about 12 ms.
//! Woken from a thread that is not a worker, tasks enter the global queue in
//! the order woken and are run in that order: the same run had every
//! subscriber woken 23-30 times and the last one 19-26 ms behind.
//!
//! So a publish that wakes [`HAND_OFF`] subscribers or more from inside a
//! multi-thread runtime's context (tokio tells a worker from the other
//! threads of a runtime only inside itself, so a `block_on` or blocking
//! thread hands off too, at the cost of a thread hop) hands its wakers to
//! one thread for the whole process, which wakes them (started on first
//! use, then blocked on its channel while there is nothing to wake: no CPU).
//! Smaller wake-ups, and wake-ups outside such a runtime (a `current_thread`
//! runtime, as actix-web's, keeps its run queue in order already), happen in
//! place.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Sender};
use std::task::Waker;

use tokio::runtime::{Handle, RuntimeFlavor};

/// The fewest wake-ups handed to the wake thread: a quarter of a tokio
/// worker's local run queue. Below it the hand-off (a channel send and a
/// thread wake-up, a few microseconds) would cost more than the order it
/// keeps.
pub(crate) const HAND_OFF: usize = 64;

/// The most wakers room is made for at first (16 bytes each): under load
/// most of a big topic's subscribers are not waiting, and its whole count
/// would make each publish allocate (and with glibc, map and unmap) that
/// much.
const FIRST_ROOM: usize = 1024;

/// The wakers of the subscribers one publish queued an event to and that
/// were waiting for one.
pub(crate) struct Wakes {
    wakers: Vec<Waker>,
    /// How many subscribers are offered the event: room for that many (up
    /// to [`FIRST_ROOM`]) is made with the first waker.
    offered: usize,
}

impl Wakes {
    /// For a publish offered to `offered` subscribers.
    pub(crate) fn new(offered: usize) -> Self {
        Self {
            wakers: Vec::new(),
            offered,
        }
    }

    pub(crate) fn push(&mut self, waker: Waker) {
        if self.wakers.capacity() == 0 {
            self.wakers.reserve_exact(self.offered.clamp(1, FIRST_ROOM));
        }
        self.wakers.push(waker);
    }

    /// Wakes them all: through the wake thread when there are
    /// [`HAND_OFF`] or more and this thread is in a multi-thread runtime's
    /// context, else here.
    pub(crate) fn wake(self) {
        let mut wakers = self.wakers;
        if wakers.len() >= HAND_OFF && in_multi_thread_runtime() {
            if let Some(thread) = wake_thread() {
                match thread.send(wakers) {
                    Ok(()) => return,
                    // The thread ended (it does not, while the process
                    // runs): wake here.
                    Err(mpsc::SendError(back)) => wakers = back,
                }
            }
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Wakes them all here, each apart: for a thread of the hub's own,
    /// which a waker that panics (not tokio's) must not stop.
    pub(crate) fn wake_here(self) {
        wake_each(self.wakers);
    }
}

fn in_multi_thread_runtime() -> bool {
    Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() != RuntimeFlavor::CurrentThread)
}

/// The wake thread's channel; `None` if the thread could not be started
/// (then every wake happens in place).
fn wake_thread() -> Option<&'static Sender<Vec<Waker>>> {
    static THREAD: OnceLock<Option<Sender<Vec<Waker>>>> = OnceLock::new();
    THREAD
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Vec<Waker>>();
            let spawned = std::thread::Builder::new()
                .name("ssekit-hub-wake".to_owned())
                .spawn(move || rx.into_iter().for_each(wake_each));
            match spawned {
                Ok(_) => Some(tx),
                Err(err) => {
                    tracing::warn!(
                        error = %err,
                        "ssekit hub: could not start the wake thread; subscribers are woken in place"
                    );
                    None
                }
            }
        })
        .as_ref()
}

/// Wakes each of `wakers`, in order.
fn wake_each(wakers: Vec<Waker>) {
    for waker in wakers {
        // A waker that panics (not tokio's) must not leave the rest of the
        // batch, or every later one, unwoken.
        let _ = catch_unwind(AssertUnwindSafe(|| waker.wake()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::task::Wake;
    use std::time::{Duration, Instant};

    use super::*;

    /// Records the name of the thread it was woken on.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Option<String>>>);

    impl Wake for Recorder {
        fn wake(self: Arc<Self>) {
            let name = std::thread::current().name().map(str::to_owned);
            self.0.lock().unwrap().push(name);
        }
    }

    /// Wakes `n` recorders through [`Wakes`]; the thread names they were
    /// woken on, once all were (bounded in time).
    fn wake_n(n: usize) -> Vec<Option<String>> {
        let recorders: Vec<Arc<Recorder>> = (0..n).map(|_| Arc::default()).collect();
        let mut wakes = Wakes::new(n);
        for r in &recorders {
            wakes.push(Waker::from(Arc::clone(r)));
        }
        wakes.wake();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut names = Vec::new();
        for r in &recorders {
            loop {
                if let Some(name) = r.0.lock().unwrap().first() {
                    names.push(name.clone());
                    break;
                }
                assert!(Instant::now() < deadline, "a waker was never woken");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        names
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn many_wakes_in_a_multi_thread_runtime_go_through_the_wake_thread() {
        let names = wake_n(HAND_OFF);
        assert!(
            names
                .iter()
                .all(|n| n.as_deref() == Some("ssekit-hub-wake")),
            "{names:?}"
        );
        // Fewer are woken in place.
        let here = std::thread::current().name().map(str::to_owned);
        assert!(wake_n(HAND_OFF - 1).iter().all(|n| *n == here));
    }

    #[tokio::test]
    async fn wakes_in_a_current_thread_runtime_or_none_happen_in_place() {
        let here = std::thread::current().name().map(str::to_owned);
        assert!(wake_n(HAND_OFF * 2).iter().all(|n| *n == here));
        let outside = std::thread::spawn(|| {
            let here = std::thread::current().name().map(str::to_owned);
            wake_n(HAND_OFF * 2).iter().all(|n| *n == here)
        });
        assert!(outside.join().unwrap());
    }
}
