//! Released positions, publish-release and the history expiry under real
//! threads. One publisher thread publishes to a topic while others
//! subscribe with their last id, read what is ready and leave (so the topic
//! is released and used again all the time), and, in the second test, the
//! keep-alive thread expires the history every 10 ms.
//!
//! What must hold (the hub docs' guarantees): the topic's offsets go on in
//! one epoch, 1, 2, 3, ... (a released topic goes on where it stood, and
//! one topic never exceeds the released table's bound); every subscriber
//! sees, per connection, a contiguous run of offsets after the position it
//! holds, or a visible `reset` (`too_old` only: never `unknown_epoch`,
//! `future` or `malformed`) and then a contiguous run after the reset's id.
//! Bounded in count and time.

#![expect(
    clippy::expect_used,
    reason = "test helpers: a failed expectation is the test failing"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ssekit::hub::Position;
use ssekit::{EncodedEvent, EventId, Hub, Resume};

const EVENTS: u64 = 20_000;
const LIMIT: Duration = Duration::from_secs(60);

#[path = "support/ready.rs"]
mod poll;

use poll::ready;

/// What one frame of a hub subscription is.
enum Frame {
    Marker(Position),
    Data(Position),
    Reset(String, Position),
}

fn frame(event: &EncodedEvent) -> Frame {
    let text = String::from_utf8_lossy(event.as_bytes()).into_owned();
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap_or_else(|| panic!("no id: {text:?}"));
    let position = Position::parse(id).unwrap_or_else(|| panic!("bad id {id:?}"));
    if text.contains("event: reset\n") {
        let reason = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap_or_default()
            .to_owned();
        Frame::Reset(reason, position)
    } else if text.contains("data: ") {
        Frame::Data(position)
    } else {
        Frame::Marker(position)
    }
}

/// A client: reconnects again and again with its last id; checks each
/// connection's frames.
fn client(hub: &Hub, done: &AtomicBool, start: Instant, removing: bool) -> (u64, u64) {
    let mut last: Option<Position> = None;
    let (mut data, mut resets) = (0u64, 0u64);
    let mut rounds = 0u32;
    while !done.load(Ordering::Relaxed) && start.elapsed() < LIMIT && rounds < 200_000 {
        rounds += 1;
        let from: Resume = last
            .map(|p| EventId::new(p.to_string()).expect("an id"))
            .into();
        let resuming = last.is_some();
        let mut sub = hub.subscribe("t", from).expect("topic").into_inner();
        let mut first = true;
        for _ in 0..(rounds % 4) + 1 {
            for event in ready(&mut sub) {
                match frame(&event) {
                    Frame::Marker(p) => {
                        assert!(first && !resuming, "a marker only first, on a fresh join");
                        last = Some(p);
                    }
                    Frame::Reset(reason, p) => {
                        assert!(first, "a reset only first");
                        if removing && reason == "unknown_epoch" {
                            // The topic was removed: a new epoch.
                            assert_ne!(last.map(Position::epoch), Some(p.epoch()));
                            resets += 1;
                            last = Some(p);
                            first = false;
                            continue;
                        }
                        assert_eq!(reason, "too_old", "from {last:?} to {p}");
                        if let Some(l) = last {
                            assert_eq!(l.epoch(), p.epoch(), "one epoch");
                            assert!(p.offset() > l.offset(), "a reset for a gap: {l} -> {p}");
                        }
                        resets += 1;
                        last = Some(p);
                    }
                    Frame::Data(p) => {
                        let l = last.expect("a position before data");
                        assert_eq!(l.epoch(), p.epoch(), "one epoch: {l} then {p}");
                        assert_eq!(p.offset(), l.offset() + 1, "contiguous: {l} then {p}");
                        data += 1;
                        last = Some(p);
                    }
                }
                first = false;
            }
            std::thread::yield_now();
        }
        drop(sub);
    }
    (data, resets)
}

fn run(hub: &Hub, removing: bool) {
    let done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let hub = hub.clone();
            let done = Arc::clone(&done);
            std::thread::spawn(move || client(&hub, &done, start, removing))
        })
        .collect();
    // A joiner that comes and goes at once: more releases.
    let joiner = {
        let hub = hub.clone();
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !done.load(Ordering::Relaxed) && start.elapsed() < LIMIT && n < 1_000_000 {
                n += 1;
                drop(hub.subscribe("t", Resume::Start).expect("topic"));
            }
        })
    };
    // With `removing`, a remover ends the topic now and then: its next
    // use starts a new epoch.
    let remover = {
        let hub = hub.clone();
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut n = 0u32;
            while removing
                && !done.load(Ordering::Relaxed)
                && start.elapsed() < LIMIT
                && n < 100_000
            {
                n += 1;
                hub.remove_topic("t");
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let mut epochs = std::collections::HashSet::new();
    let mut last: Option<Position> = None;
    for n in 1..=EVENTS {
        let published = hub.publish("t", n.to_string()).expect("topic");
        let p = Position::parse(published.id().as_str()).expect("an id");
        match last {
            Some(l) if l.epoch() == p.epoch() => {
                assert_eq!(
                    p.offset(),
                    l.offset() + 1,
                    "offsets go on where they stood: {l} then {p}"
                );
            }
            _ => {
                assert!(removing || last.is_none(), "one epoch: {last:?} then {p}");
                assert!(epochs.insert(p.epoch()), "a new epoch is new: {p}");
                assert_eq!(p.offset(), 1, "a new epoch starts at 1: {p}");
            }
        }
        last = Some(p);
        if n % 64 == 0 {
            std::thread::yield_now();
        }
        assert!(start.elapsed() < LIMIT, "bounded in time");
    }
    println!("{} epochs", epochs.len());
    done.store(true, Ordering::Relaxed);
    for c in clients {
        let (data, resets) = c.join().expect("client");
        println!("client: {data} events, {resets} resets");
    }
    joiner.join().expect("joiner");
    remover.join().expect("remover");
}

#[test]
fn released_topics_go_on_where_they_stood_under_racing_threads() {
    // History off: every publish without a subscriber releases the topic.
    let hub = Hub::builder()
        .history_events(0)
        .without_keep_alive()
        .build();
    run(&hub, false);
}

#[test]
fn expiring_histories_race_joins_and_publishes_without_a_silent_gap() {
    let hub = Hub::builder()
        .history_events(8)
        .history_ttl(Duration::from_millis(1))
        .without_keep_alive()
        .build();
    run(&hub, false);
}

#[test]
fn removals_race_releases_and_resumes_without_a_silent_gap() {
    let hub = Hub::builder()
        .history_events(4)
        .without_keep_alive()
        .build();
    run(&hub, true);
}
