//! The memory an idle hub subscriber costs: the process's resident memory
//! with 20 000 subscriptions served as an adapter serves them
//! (`EventStream<Subscription>`, boxed as the frameworks box a response
//! body), each polled until it idles (the position marker handed on; the
//! hub sends the keep-alive, so no timer is armed), minus without them.
//! Resident memory, not
//! allocated bytes: it counts the allocator's own overhead too.
#![cfg(target_os = "linux")]

use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::task::noop_waker_ref;
use ssekit::{Hub, Resume};

/// The bound for all of ssekit's memory per idle subscriber is
/// 1 KiB; the framework's connection comes on top, for ssekit and for the
/// built-ins alike.
const BOUND: u64 = 1024;

#[path = "support/resident.rs"]
mod resident;

use resident::resident_kib;

#[tokio::test(flavor = "current_thread")]
async fn an_idle_subscriber_costs_under_a_kib() {
    const N: u64 = 20_000;
    let hub = Hub::new();
    // The topic exists, with its history, before the count starts.
    hub.publish("room", "first").expect("valid topic");
    let mut context = Context::from_waker(noop_waker_ref());
    let mut streams = Vec::with_capacity(20_000);
    let before = resident_kib().expect("VmRSS in /proc/self/status");
    for _ in 0..N {
        let mut stream = Box::pin(hub.subscribe("room", Resume::Start).expect("valid topic"));
        // The position marker, handed on (and dropped, as once written).
        match stream.as_mut().poll_next(&mut context) {
            Poll::Ready(Some(frame)) => assert!(frame.starts_with(b"id: ")),
            other => panic!("the position marker first, got {other:?}"),
        }
        // Idle: waiting for events (and the hub's keep-alive).
        assert!(stream.as_mut().poll_next(&mut context).is_pending());
        streams.push(stream);
    }
    let after = resident_kib().expect("VmRSS in /proc/self/status");
    let per_subscriber = after.saturating_sub(before) * 1024 / N;
    assert_eq!(hub.stats().subscribers, N);
    println!("resident memory per idle subscriber: {per_subscriber} B");
    assert!(
        per_subscriber <= BOUND,
        "an idle subscriber costs {per_subscriber} B, over {BOUND} B"
    );
    drop(streams);
    assert_eq!(hub.stats().subscribers, 0);
}
