//! What a hub subscriber that never reads costs, against its queue bound
//! (`HubBuilder::subscriber_queue_bytes`, default 1 MiB): at most the
//! bound, small events included. Each queued event counts its encoded
//! bytes plus what holding it costs (a queue slot, its allocation, the
//! shared header of its bytes); counting the bytes alone let small events
//! (a chat line, a counter) hold four times the bound. The history is off,
//! so the queued events are held by the subscriber alone, as events that
//! have left the history are.
//!
//! Resident memory, as `core/tests/subscriber_memory.rs` measures (no
//! counting allocator: the workspace forbids `unsafe`). RSS can only
//! under-count here (freed memory reused), never over-count the queue.
#![cfg(target_os = "linux")]

use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::task::noop_waker_ref;
use ssekit::{Hub, Resume};

#[path = "support/resident.rs"]
mod resident;

use resident::resident_kib;

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
    assert!(marker.starts_with(b"id: "));
    assert!(stream.as_mut().poll_next(&mut context).is_pending());

    let before = resident_kib().expect("VmRSS");
    // Small events (`id: <epoch>-<n>\n` + `data: x\n\n`, about 30 bytes)
    // until the subscriber is dropped at its bound; resident memory is
    // read every 64 events while it holds them.
    let mut peak = before;
    let mut n: u64 = 0;
    loop {
        let published = hub.publish("room", "x").expect("valid topic");
        n += 1;
        assert_eq!(published.offset(), n);
        if published.subscribers() == 0 {
            break;
        }
        if n % 64 == 0 {
            peak = peak.max(resident_kib().expect("VmRSS"));
        }
        assert!(n < 1_000_000, "bounded loop");
    }
    let stats = hub.stats();
    assert_eq!(stats.slow_drops, 1, "dropped at its bound");
    assert!(n > 1_000, "dropped after {n} events of about 30 bytes");
    let cost = peak.saturating_sub(before) * 1024;
    println!(
        "dropped at event {n}; resident memory grew by {cost} bytes while it held them ({:.2}x the bound of {BOUND})",
        cost as f64 / BOUND as f64
    );
    // A little slack for the allocator's rounding; the rest must be
    // within the bound.
    assert!(
        cost <= (BOUND + BOUND / 8) as u64,
        "a subscriber that never reads costs {cost} B, over its bound of {BOUND} B"
    );
    drop(stream);
}
