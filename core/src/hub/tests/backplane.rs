//! The backplane seam, with a backplane in memory whose live feed the tests
//! drive by hand (deliver, drop, reorder, change epoch).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::*;

#[derive(Default)]
struct Fake {
    feed: Mutex<Option<Feed>>,
    /// Per topic: the epoch and the stored events (offset = index + 1).
    topics: Mutex<HashMap<String, (Epoch, Vec<EncodedEvent>)>>,
    /// Deliver each publish through the feed at once.
    live: AtomicBool,
    fail: AtomicBool,
    /// Reads run when they are made, not when they are awaited.
    eager: AtomicBool,
    catch_ups: Mutex<Vec<String>>,
}

#[derive(Clone, Default)]
struct Shared(Arc<Fake>);

impl Shared {
    fn feed(&self) -> Feed {
        self.0.feed.lock().unwrap().clone().unwrap()
    }
    fn stored(&self, topic: &str, offset: u64) -> (Position, EncodedEvent) {
        let topics = self.0.topics.lock().unwrap();
        let (epoch, events) = &topics[topic];
        let event = events[usize::try_from(offset - 1).unwrap()].clone();
        (Position::new(*epoch, offset), event)
    }
    fn lose_data(&self, topic: &str) {
        self.0.topics.lock().unwrap().remove(topic);
    }
}

impl Backplane for Shared {
    fn attach(&self, feed: Feed) {
        *self.0.feed.lock().unwrap() = Some(feed);
    }
    fn publish(
        &self,
        topic: &str,
        event: EncodedEvent,
    ) -> BoxFuture<Result<Position, BackplaneError>> {
        if self.0.fail.load(Ordering::Relaxed) {
            return Box::pin(async { Err(BackplaneError::timeout("publish")) });
        }
        let (position, stored) = {
            let mut topics = self.0.topics.lock().unwrap();
            let (epoch, events) = topics
                .entry(topic.to_owned())
                .or_insert_with(|| (Epoch::mint(), Vec::new()));
            let position = Position::new(*epoch, events.len() as u64 + 1);
            let stored = position.encode_with_id(&event);
            events.push(stored.clone());
            (position, stored)
        };
        if self.0.live.load(Ordering::Relaxed) {
            self.feed().deliver(topic, position, stored);
        }
        Box::pin(async move { Ok(position) })
    }
    fn read(
        &self,
        topic: &str,
        after: Option<Position>,
        max: usize,
        max_bytes: usize,
    ) -> BoxFuture<Result<Snapshot, BackplaneError>> {
        // Lazy, as a real backplane's read: it runs when the stream is
        // first polled, so live events may have queued since the join
        // (or, with `eager`, at once: it runs in the backplane before it
        // is awaited).
        let fake = Arc::clone(&self.0);
        let topic = topic.to_owned();
        let compute = move || {
            if fake.fail.load(Ordering::Relaxed) {
                return Err(BackplaneError::timeout("read"));
            }
            let mut topics = fake.topics.lock().unwrap();
            let (epoch, events) = topics
                .entry(topic)
                .or_insert_with(|| (Epoch::mint(), Vec::new()));
            let top = Position::new(*epoch, events.len() as u64);
            let mut out = Vec::new();
            if let Some(after) = after.filter(|a| a.epoch() == *epoch && a.offset() < top.offset())
            {
                let mut bytes = 0;
                for offset in after.offset() + 1..=top.offset().min(after.offset() + max as u64) {
                    let event: EncodedEvent = events[usize::try_from(offset - 1).unwrap()].clone();
                    bytes += event.len();
                    if bytes > max_bytes {
                        return Ok(Snapshot::over_limit(top));
                    }
                    out.push((offset, event));
                }
            }
            Ok(Snapshot::new(top, out))
        };
        if self.0.eager.load(Ordering::Relaxed) {
            let result = compute();
            Box::pin(async move { result })
        } else {
            Box::pin(async move { compute() })
        }
    }
    fn watch(&self, _topic: &str) {}
    fn unwatch(&self, _topic: &str) {}
    fn catch_up(&self, topic: &str) {
        self.0.catch_ups.lock().unwrap().push(topic.to_owned());
    }
}

fn hub_with(fake: &Shared) -> Hub {
    Hub::builder().backplane(fake.clone()).build()
}

fn datas(events: &[EncodedEvent]) -> Vec<String> {
    events.iter().filter_map(data_of).collect()
}

async fn publish(hub: &Hub, topic: &str, data: &str) -> Published {
    hub.publish_async(topic, data.to_owned()).await.unwrap()
}

#[tokio::test]
async fn a_join_meets_the_live_feed_with_no_gap_and_no_duplicate() {
    let fake = Shared::default();
    fake.0.live.store(true, Ordering::Relaxed);
    let hub = hub_with(&fake);
    let mut watcher = sub(&hub, "t", Resume::Start);
    let marker = ready(&mut watcher);
    assert_eq!(marker.len(), 1, "the position marker");
    let mut ids = Vec::new();
    for i in 1..=3 {
        ids.push(publish(&hub, "t", &format!("m{i}")).await.id().clone());
    }
    assert_eq!(datas(&ready(&mut watcher)), ["m1", "m2", "m3"]);
    // Registered at 3, resuming after 1; 4 is published before its read.
    let mut joiner = sub(&hub, "t", Some(ids[0].clone()));
    publish(&hub, "t", "m4").await;
    assert_eq!(datas(&ready(&mut joiner)), ["m2", "m3", "m4"]);
    publish(&hub, "t", "m5").await;
    assert_eq!(datas(&ready(&mut joiner)), ["m5"]);
    assert_eq!(datas(&ready(&mut watcher)), ["m4", "m5"]);
    assert_eq!(hub.stats().replayed, 3);
}

#[tokio::test]
async fn the_feed_drops_duplicates_and_reports_gaps() {
    let fake = Shared::default();
    let hub = hub_with(&fake);
    let mut s = sub(&hub, "t", Resume::Start);
    let feed = fake.feed();
    assert_eq!(
        feed.deliver(
            "t",
            Position::new(Epoch::mint(), 1),
            Event::new("x").encode()
        ),
        Delivery::NotWatched,
        "before the topic's first read"
    );
    ready(&mut s); // the read: the topic is at 0 and asks for a catch-up
    assert_eq!(*fake.0.catch_ups.lock().unwrap(), ["t"]);
    for i in 1..=3 {
        publish(&hub, "t", &format!("m{i}")).await; // not live: stored only
    }
    // The first publish was delivered locally by publish_async.
    assert_eq!(datas(&ready(&mut s)), ["m1", "m2", "m3"]);
    let (p2, e2) = fake.stored("t", 2);
    assert_eq!(feed.deliver("t", p2, e2), Delivery::Duplicate);
    let p3 = Position::parse(fake.stored("t", 3).0.id().as_str()).unwrap();
    let p5 = Position::new(p3.epoch(), 5);
    assert_eq!(
        feed.deliver("t", p5, p5.encode_with_id(&Event::new("five").encode())),
        Delivery::Gap { after: p3 }
    );
    assert!(ready(&mut s).is_empty());
    assert_eq!(feed.position("t"), Some(p3));
    assert_eq!(feed.topics(), ["t"]);
}

#[tokio::test]
async fn another_epoch_ends_the_local_streams_and_resumers_get_reset() {
    let fake = Shared::default();
    fake.0.live.store(true, Ordering::Relaxed);
    let hub = hub_with(&fake);
    let mut s = sub(&hub, "t", Resume::Start);
    ready(&mut s);
    let last = publish(&hub, "t", "before").await;
    fake.lose_data("t");
    publish(&hub, "t", "after").await; // a new epoch, delivered live
    let got = ready(&mut s);
    assert_eq!(datas(&got), ["before"], "never an event of the new epoch");
    assert!(s.ended, "the stream ended so that the client resumes");
    drop(s);
    let mut again = sub(&hub, "t", Some(last.id().clone()));
    let got = ready(&mut again);
    assert!(text(&got[0]).contains("event: reset\ndata: unknown_epoch\n"));
    assert_eq!(hub.stats().resets.unknown_epoch, 1);
}

#[tokio::test]
async fn a_failed_backplane_is_a_typed_error_and_a_failed_read_ends_the_stream() {
    let fake = Shared::default();
    let hub = hub_with(&fake);
    assert!(hub.publish("t", "x").unwrap_err().is_needs_async());
    fake.0.fail.store(true, Ordering::Relaxed);
    let err = hub.publish_async("t", "x").await.unwrap_err();
    assert!(err.backplane().is_some_and(BackplaneError::is_timeout));
    assert_eq!(err.to_string(), "backplane: publish timed out");
    let mut s = sub(&hub, "t", Resume::Start);
    assert!(ready(&mut s).is_empty());
    assert!(s.ended);
    assert!(
        hub.publish_async("", "x")
            .await
            .unwrap_err()
            .is_invalid_topic()
    );
}

#[tokio::test]
async fn a_resume_over_the_replay_bytes_is_a_reset_and_reads_nothing_more() {
    let fake = Shared::default();
    let hub = Hub::builder()
        .backplane(fake.clone())
        .replay_bytes(40)
        .build();
    let first = publish(&hub, "t", "1").await; // ~25 bytes with its id
    publish(&hub, "t", "2").await;
    publish(&hub, "t", "3").await;
    let mut s = sub(&hub, "t", first.id().clone());
    let preface = ready(&mut s);
    let text = String::from_utf8_lossy(&preface[0]).into_owned();
    assert!(text.contains("event: reset\ndata: replay_limit"), "{text}");

    // One event fits the cap: replayed.
    let mut s = sub(&hub, "t", fake.stored("t", 2).0.id().clone());
    assert_eq!(datas(&ready(&mut s)), ["3"]);
}

#[tokio::test]
async fn a_join_whose_read_was_overtaken_ends_nobody_else() {
    let fake = Shared::default();
    fake.0.eager.store(true, Ordering::Relaxed);
    let hub = hub_with(&fake);
    // B's read runs first (top 0); two events are stored; A's read runs
    // (top 2) and is awaited first: the feed starts at 2.
    let mut b_live = sub(&hub, "t", Resume::Start);
    let first = publish(&hub, "t", "m1").await;
    let mut b_resume = sub(&hub, "t", first.id().clone());
    publish(&hub, "t", "m2").await;
    let mut a = sub(&hub, "t", Resume::Start);
    assert_eq!(ready(&mut a).len(), 1, "A's position marker");
    // B's older reads: not lost data. The live one starts at the feed's
    // position; the resuming one ends (it would miss m2), and A goes on.
    let marker = ready(&mut b_live);
    assert_eq!(marker.len(), 1);
    assert!(
        String::from_utf8_lossy(&marker[0]).contains("-2\n"),
        "live from 2"
    );
    assert!(ready(&mut b_resume).is_empty());
    assert!(b_resume.ended, "the overtaken resume ends");
    let feed = fake.feed();
    let (p3, e3) = {
        let p = publish(&hub, "t", "m3").await;
        let position = Position::parse(p.id().as_str()).unwrap();
        (position, fake.stored("t", 3).1)
    };
    let _ = feed.deliver("t", p3, e3);
    assert_eq!(datas(&ready(&mut a)), ["m3"], "A was not ended");
    assert_eq!(datas(&ready(&mut b_live)), ["m3"]);
}

/// A join registered before an epoch change (so already ended by it)
/// whose read completes after a newer join set the new epoch's feed: it
/// ends, and nobody else (it used to be taken for lost data under the live
/// feed, which ended every subscriber of the new epoch).
#[tokio::test]
async fn a_stale_join_of_an_ended_subscriber_ends_nobody_of_the_new_epoch() {
    let fake = Shared::default();
    fake.0.live.store(true, Ordering::Relaxed);
    let hub = hub_with(&fake);
    let mut s0 = sub(&hub, "t", Resume::Start);
    assert_eq!(ready(&mut s0).len(), 1, "the first read: the feed starts");
    publish(&hub, "t", "before").await;
    // Registered at the old epoch's feed; its read not run yet.
    let mut s1 = sub(&hub, "t", Resume::Start);
    fake.lose_data("t");
    publish(&hub, "t", "after").await; // a new epoch: s0 and s1 end
    // A new subscriber joins the new epoch properly.
    let mut s2 = sub(&hub, "t", Resume::Start);
    let marker = ready(&mut s2);
    assert_eq!(marker.len(), 1, "s2's position marker");
    assert!(!s2.ended);
    // The ended s1's read completes only now.
    let _ = ready(&mut s1);
    publish(&hub, "t", "next").await;
    let got = ready(&mut s2);
    assert!(!s2.ended, "s2 was ended by s1's stale join");
    assert_eq!(datas(&got), ["next"]);
}
