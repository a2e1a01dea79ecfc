//! `max_topics` under racing creators: at most `HubBuilder::max_topics`
//! topics at once, also when creators in different shards race (each
//! holds only its shard's lock, so a look at the hub-wide count let both
//! create). Bounded: at most `ROUNDS` rounds of two threads each.

use std::sync::{Arc, Barrier};

use ssekit::{Hub, Resume};

const ROUNDS: usize = 20_000;

#[test]
fn no_more_topics_than_max_topics_at_once() {
    let hub = Hub::builder()
        .max_topics(1)
        .history_events(0)
        .without_keep_alive()
        .build();
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|who| {
            let hub = hub.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut over = 0usize;
                for round in 0..ROUNDS {
                    barrier.wait();
                    let sub = hub.subscribe(&format!("r{round}-{who}"), Resume::Start);
                    barrier.wait();
                    // Both hold their subscription now: how many topics?
                    if who == 0 && hub.stats().topics > 1 {
                        over += 1;
                    }
                    barrier.wait();
                    drop(sub);
                }
                over
            })
        })
        .collect();
    let over: usize = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    assert_eq!(
        over, 0,
        "{over} of {ROUNDS} rounds held 2 topics at once with max_topics(1)"
    );
}
