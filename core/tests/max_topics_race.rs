//! `max_topics` under racing creators: at most `HubBuilder::max_topics`
//! topics at once, also when creators in different shards race (each
//! holds only its shard's lock, so a look at the hub-wide count let both
//! create), and with `evict_idle_topics` racing them. Bounded: at most
//! `ROUNDS` rounds of two threads each, and 4 x `OPS` operations.

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

/// With `evict_idle_topics`, threads making new topics, publishing and
/// subscribing race the passes that let idle topics go: never more than
/// `max_topics` at once, no deadlock (every thread done within 60 s), and
/// every publish either succeeds or is refused as too many topics.
#[test]
fn eviction_racing_publishers_and_subscribers_keeps_the_bound() {
    const MAX: usize = 8;
    const OPS: usize = 3_000;
    let hub = evicting_hub(MAX);
    let racing = hub.clone();
    let over = sum_threads(4, move |who| {
        let hub = &racing;
        let mut over = 0usize;
        let mut held = Vec::new();
        for op in 0..OPS {
            let name = format!("t{}", (op * 7 + who * 13) % 40);
            match op % 3 {
                0 => {
                    if let Err(err) = hub.publish(&name, "x") {
                        assert!(err.is_too_many_topics(), "{err}");
                    }
                }
                1 => {
                    if let Ok(sub) = hub.subscribe(&name, Resume::Start) {
                        held.push(sub);
                    }
                    if held.len() > 2 {
                        drop(held.remove(0));
                    }
                }
                _ => {
                    if let Err(err) = hub.publish(&format!("new-{who}-{op}"), "y") {
                        assert!(err.is_too_many_topics(), "{err}");
                    }
                }
            }
            if hub.stats().topics > MAX as u64 {
                over += 1;
            }
        }
        over
    });
    assert_eq!(over, 0, "{over} looks saw more than {MAX} topics");
    assert!(hub.stats().evicted > 0, "the race made no eviction at all");
}

/// With `evict_idle_topics` and no subscriber anywhere, new topics made
/// concurrently are never refused: the place an eviction makes goes to
/// the creator that made it, not to whichever creator comes next (the
/// demos answered 9 of 8 000 concurrent posts to new rooms `503` when
/// each creator evicted and then competed for the place; soak 15).
#[test]
fn concurrent_new_topics_with_eviction_are_never_refused_while_topics_are_idle() {
    const MAX: usize = 64;
    const EACH: usize = 300;
    let hub = evicting_hub(MAX);
    for i in 0..MAX {
        hub.publish(&format!("old{i}"), "x").expect("below the cap");
    }
    let racing = hub.clone();
    let refused = sum_threads(8, move |who| {
        (0..EACH)
            .filter(|i| racing.publish(&format!("new-{who}-{i}"), "y").is_err())
            .count()
    });
    assert_eq!(refused, 0, "{refused} of {} new topics refused", 8 * EACH);
    let stats = hub.stats();
    assert_eq!(stats.topics, MAX as u64);
    // One per new topic, or more: a topic evicted before its first
    // publish took its lock is made again.
    assert!(stats.evicted >= 8 * EACH as u64, "{}", stats.evicted);
}

/// Runs `threads` threads of `work(who)` and sums what they return, each
/// within 60 s of the start (a deadlock fails the test, not hangs it).
fn sum_threads(threads: usize, work: impl Fn(usize) -> usize + Send + Sync + 'static) -> usize {
    let work = Arc::new(work);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    for who in 0..threads {
        let work = Arc::clone(&work);
        let done_tx = done_tx.clone();
        std::thread::spawn(move || {
            let _ = done_tx.send(work(who));
        });
    }
    drop(done_tx);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    (0..threads)
        .map(|_| {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match done_rx.recv_timeout(left) {
                Ok(n) => n,
                Err(_) => panic!("a thread panicked, or did not finish within 60 s (a deadlock?)"),
            }
        })
        .sum()
}

/// A hub of at most `max` topics that evicts idle ones.
fn evicting_hub(max: usize) -> Hub {
    Hub::builder()
        .max_topics(max)
        .evict_idle_topics(true)
        .without_keep_alive()
        .build()
}
