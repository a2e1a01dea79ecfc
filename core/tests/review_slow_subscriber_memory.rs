//! Review (session 11): what a subscriber that never reads really costs,
//! against the hub docs' memory table: "a subscriber's queue |
//! `HubBuilder::subscriber_queue_bytes` (default 1 MiB); a subscriber that
//! never reads costs at most this".
//!
//! The queue's bound counts the encoded bytes of each queued event
//! (`event.len()`), not what holding it costs: a `VecDeque` slot (a
//! 32-byte `Bytes`), the event's own allocation (`with_id` allocates
//! `38 + body` bytes), and the shared-bytes header the first clone makes.
//! For small events (a chat line, a counter) that is several times the
//! counted bytes. Here the history is off, so the queued events are held by
//! the subscriber alone, as events that have left the history are.
//!
//! Resident memory, as `core/tests/subscriber_memory.rs` measures (no
//! counting allocator: the workspace forbids `unsafe`). RSS can only
//! under-count here (freed memory reused), never over-count the queue.
#![cfg(target_os = "linux")]

use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::task::noop_waker_ref;
use ssekit::{Hub, Resume};

/// `VmRSS` of `/proc/self/status`, in KiB.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::test(flavor = "current_thread")]
async fn a_subscriber_that_never_reads_costs_at_most_its_queue_bound() {
    // The documented default.
    const BOUND: usize = 1 << 20;
    let hub = Hub::builder()
        .history_events(0)
        .subscriber_queue_bytes(BOUND)
        .without_keep_alive()
        .build();
    let mut context = Context::from_waker(noop_waker_ref());
    let mut stream = Box::pin(hub.subscribe("room", Resume::Start).expect("valid topic"));
    // The position marker, then idle: it never reads again.
    let marker = match stream.as_mut().poll_next(&mut context) {
        Poll::Ready(Some(frame)) => frame,
        other => panic!("the position marker first, got {other:?}"),
    };
    let epoch_len = "0123456789ab".len();
    assert!(marker.starts_with(b"id: "));
    assert!(stream.as_mut().poll_next(&mut context).is_pending());

    let before = resident_kib().expect("VmRSS");
    // Publish small events while the next one still fits in the bound:
    // `id: <epoch>-<n>\n` + `data: x\n\n`.
    let mut queued = 0usize;
    let mut n: u64 = 0;
    loop {
        let next = 4 + epoch_len + 1 + (n + 1).to_string().len() + 1 + "data: x\n\n".len();
        if queued + next > BOUND {
            break;
        }
        let published = hub.publish("room", "x").expect("valid topic");
        n += 1;
        assert_eq!(published.offset(), n);
        assert_eq!(published.subscribers(), 1, "still queued at event {n}");
        queued += next;
        assert!(n < 1_000_000, "bounded loop");
    }
    let after = resident_kib().expect("VmRSS");
    let stats = hub.stats();
    assert_eq!(stats.slow_drops, 0, "not dropped: within its bound");
    assert_eq!(stats.subscribers, 1);
    let cost = after.saturating_sub(before) * 1024;
    println!(
        "{n} events queued, {queued} bytes counted against a bound of {BOUND}; \
         resident memory grew by {cost} bytes ({:.2}x the bound)",
        cost as f64 / BOUND as f64
    );
    // A little slack for the allocator's rounding of what the bound does
    // count; the rest must be within the bound.
    assert!(
        cost <= (BOUND + BOUND / 8) as u64,
        "a subscriber that never reads costs {cost} B, over its bound of {BOUND} B"
    );
    drop(stream);
}
