use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_core::Stream as _;
use futures_util::StreamExt;

use super::*;

mod backplane;
mod released_collisions;

fn text(event: &EncodedEvent) -> String {
    String::from_utf8_lossy(event.as_bytes()).into_owned()
}

/// The offset in an encoded event's `id: <epoch>-<offset>` line.
fn offset_of(event: &EncodedEvent) -> Option<u64> {
    let t = text(event);
    let id = t.lines().find_map(|l| l.strip_prefix("id: "))?;
    id.rsplit_once('-')?.1.parse().ok()
}

fn data_of(event: &EncodedEvent) -> Option<String> {
    text(event)
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .map(str::to_owned)
}

/// The events ready now, without waiting.
fn ready(sub: &mut Subscription) -> Vec<EncodedEvent> {
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut out = Vec::new();
    while let Poll::Ready(Some(event)) = Pin::new(&mut *sub).poll_next(&mut cx) {
        out.push(event);
    }
    out
}

fn sub(hub: &Hub, topic: &str, from: impl Into<Resume>) -> Subscription {
    hub.subscribe(topic, from).unwrap().into_inner()
}

#[test]
fn publish_gives_contiguous_positions_and_replaces_the_callers_id() {
    let hub = Hub::new();
    let a = hub
        .publish("t", Event::new("a").id(EventId::from_static("mine")))
        .unwrap();
    let b = hub.publish("t", "b").unwrap();
    let other = hub.publish("u", "c").unwrap();
    assert_eq!((a.offset(), b.offset(), other.offset()), (1, 2, 1));
    let (epoch, one) = a.id().as_str().split_once('-').unwrap();
    assert_eq!(one, "1");
    assert_eq!(epoch.len(), 12);
    assert_eq!(b.id().as_str(), format!("{epoch}-2"));
    assert_eq!(a.subscribers(), 0);
    let stats = hub.topic_stats("t").unwrap();
    assert_eq!(stats.history_events, 2);
    assert_eq!(stats.last_id, *b.id());
    // The history holds the hub's id, not the caller's.
    let mut s = sub(&hub, "t", EventId::new(format!("{epoch}-0")).unwrap());
    let replay = ready(&mut s);
    assert_eq!(text(&replay[0]), format!("id: {epoch}-1\ndata: a\n\n"));
}

#[test]
fn a_live_subscriber_gets_its_position_then_every_event() {
    let hub = Hub::new();
    let first = hub.publish("t", "before").unwrap();
    let mut s = sub(&hub, "t", Resume::Start);
    let p = hub.publish("t", "after").unwrap();
    let got = ready(&mut s);
    assert_eq!(got.len(), 2);
    assert_eq!(text(&got[0]), format!("id: {}\n\n", first.id()));
    assert_eq!(text(&got[1]), format!("id: {}\ndata: after\n\n", p.id()));
    assert_eq!(p.subscribers(), 1);
    assert!(ready(&mut s).is_empty());
}

#[test]
fn a_position_before_any_event_is_epoch_dash_zero() {
    let hub = Hub::new();
    let mut s = sub(&hub, "t", Resume::Start);
    let marker = text(&ready(&mut s)[0]);
    assert!(
        marker.starts_with("id: ") && marker.ends_with("-0\n\n"),
        "{marker}"
    );
    let zero = EventId::new(marker.trim_start_matches("id: ").trim_end()).unwrap();
    hub.publish("t", "1").unwrap();
    let mut again = sub(&hub, "t", zero);
    assert_eq!(data_of(&ready(&mut again)[0]).as_deref(), Some("1"));
}

#[test]
fn resume_replays_exactly_the_missed_events_then_live() {
    let hub = Hub::new();
    let ids: Vec<EventId> = (1..=5)
        .map(|i| hub.publish("t", i.to_string()).unwrap().id().clone())
        .collect();
    let mut s = sub(&hub, "t", ids[1].clone());
    hub.publish("t", "6").unwrap();
    let got = ready(&mut s);
    let offsets: Vec<_> = got.iter().map(|e| offset_of(e).unwrap()).collect();
    assert_eq!(offsets, [3, 4, 5, 6]);
    // At the top: nothing to replay, no reset.
    let mut top = sub(&hub, "t", ids[4].clone());
    assert_eq!(ready(&mut top).len(), 1, "only event 6");
    let stats = hub.stats();
    assert_eq!(stats.resumed, 2);
    assert_eq!(stats.replayed, 3 + 1);
    assert_eq!(stats.resets, ResetCounts::default());
}

fn reset_of(sub: &mut Subscription) -> (String, String) {
    let first = ready(sub).remove(0);
    let t = text(&first);
    assert!(t.contains("event: reset\n"), "{t}");
    let id = t
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .to_owned();
    (data_of(&first).unwrap(), id)
}

#[test]
fn unrecoverable_ids_get_a_reset_then_live() {
    // History 3 (offsets 4..=6 of 6), replay cap 2.
    type Case = (&'static str, fn(&str) -> Resume);
    let cases: [Case; 6] = [
        ("malformed", |_| EventId::from_static("hello").into()),
        ("unknown_epoch", |_| {
            EventId::from_static("000000000000-3").into()
        }),
        ("too_old", |e| {
            EventId::new(format!("{e}-2")).unwrap().into()
        }),
        ("future", |e| EventId::new(format!("{e}-7")).unwrap().into()),
        ("replay_limit", |e| {
            EventId::new(format!("{e}-3")).unwrap().into()
        }),
        ("malformed", |_| {
            crate::last_event_id::parse_one(b"\xff").into()
        }),
    ];
    let mut resets = ResetCounts::default();
    for (reason, from) in cases {
        let hub = Hub::builder().history_events(3).replay_events(2).build();
        for i in 1..=6 {
            hub.publish("t", i.to_string()).unwrap();
        }
        let top = hub.topic_stats("t").unwrap().last_id;
        let epoch = top.as_str().split_once('-').unwrap().0.to_owned();
        let from = from(&epoch);
        let mut s = sub(&hub, "t", from.clone());
        assert_eq!(
            reset_of(&mut s),
            (reason.to_owned(), top.as_str().to_owned()),
            "{from:?}"
        );
        let live = hub.publish("t", "live").unwrap();
        let next = ready(&mut s);
        assert_eq!(next.len(), 1);
        assert_eq!(offset_of(&next[0]), Some(live.offset()));
        let counts = hub.stats().resets;
        resets.malformed += counts.malformed;
        resets.unknown_epoch += counts.unknown_epoch;
        resets.too_old += counts.too_old;
        resets.future += counts.future;
        resets.replay_limit += counts.replay_limit;
    }
    assert_eq!(resets.get(ResetReason::Malformed), 2);
    assert_eq!(resets.unknown_epoch, 1);
    assert_eq!(resets.too_old, 1);
    assert_eq!(resets.future, 1);
    assert_eq!(resets.replay_limit, 1);
}

#[test]
fn the_reset_id_resumes_with_no_gap() {
    let hub = Hub::new();
    hub.publish("t", "old").unwrap();
    let mut s = sub(&hub, "t", EventId::from_static("junk"));
    let (_, id) = reset_of(&mut s);
    drop(s);
    hub.publish("t", "while away").unwrap();
    let mut again = sub(&hub, "t", EventId::new(id).unwrap());
    let got = ready(&mut again);
    assert_eq!(got.len(), 1);
    assert_eq!(data_of(&got[0]).as_deref(), Some("while away"));
}

#[test]
fn hostile_last_event_ids_never_panic_and_reset() {
    let hub = Hub::new();
    let p = hub.publish("t", "x").unwrap();
    let epoch = p.id().as_str().split_once('-').unwrap().0.to_owned();
    let big = vec![b'7'; 4096];
    let headers: Vec<Vec<u8>> = vec![
        big,
        b"\xff\xfe\xfd".to_vec(),
        format!("{epoch}-{}", "9".repeat(40)).into_bytes(),
        format!("{epoch}-18446744073709551616").into_bytes(),
        format!("{epoch}-18446744073709551615").into_bytes(),
        format!("{epoch}--1").into_bytes(),
        b"-1".to_vec(),
        b"ffffffffffff-1".to_vec(),
        b"a\0b".to_vec(),
        "é-1".as_bytes().to_vec(),
    ];
    for header in &headers {
        let from = Resume::from_request([header.as_slice()], None);
        let mut s = sub(&hub, "t", from);
        let (reason, _) = reset_of(&mut s);
        assert!(
            ["malformed", "future", "unknown_epoch"].contains(&reason.as_str()),
            "{reason}"
        );
    }
    let from = Resume::from_request(
        std::iter::empty(),
        Some(&format!("last_event_id={}", "%FF".repeat(2000))),
    );
    assert_eq!(reset_of(&mut sub(&hub, "t", from)).0, "malformed");
}

#[test]
fn replay_is_capped_in_bytes() {
    let hub = Hub::builder().replay_bytes(20).build();
    let first = hub.publish("t", "1").unwrap(); // each event is ~25 bytes with its id
    hub.publish("t", "2").unwrap();
    let mut s = sub(&hub, "t", first.id().clone());
    assert_eq!(reset_of(&mut s).0, "replay_limit");
}

#[test]
fn an_event_bigger_than_the_bound_reaches_subscribers_with_nothing_waiting() {
    let hub = Hub::builder().subscriber_queue_bytes(1_000).build();
    let mut reader = sub(&hub, "t", Resume::Start);
    let mut idle = sub(&hub, "t", Resume::Start);
    ready(&mut reader);
    ready(&mut idle);
    let big = "x".repeat(4_000);
    let p = hub.publish("t", big).unwrap();
    assert_eq!(p.subscribers(), 2, "both had nothing waiting");
    assert_eq!(ready(&mut reader).len(), 1);
    // The reader has written it off once it comes back for more; the idle
    // one still holds it, so the next event takes it over its bound.
    let next = hub.publish("t", "small").unwrap();
    assert_eq!(next.subscribers(), 1);
    let got: Vec<String> = ready(&mut reader).iter().filter_map(data_of).collect();
    assert_eq!(got, ["small"]);
    assert_eq!(hub.stats().slow_drops, 1);
}

#[tokio::test]
async fn a_slow_subscriber_is_dropped_at_its_bound_others_keep_everything() {
    let hub = Hub::builder().subscriber_queue_bytes(1_000).build();
    let mut slow = sub(&hub, "t", Resume::Start);
    let mut fast = sub(&hub, "t", Resume::Start);
    ready(&mut slow); // the marker
    ready(&mut fast);
    let payload = "x".repeat(80); // ~100 bytes with the id line
    let mut fast_got = Vec::new();
    let mut last_slow = None;
    for i in 0..50 {
        let p = hub.publish("t", format!("{i}{payload}")).unwrap();
        if i == 3 {
            // The slow one reads a little, then never again.
            last_slow = ready(&mut slow).last().and_then(offset_of);
        }
        fast_got.extend(ready(&mut fast));
        assert!(p.subscribers() >= 1, "the fast one stays");
    }
    let offsets: Vec<u64> = fast_got.iter().filter_map(offset_of).collect();
    assert_eq!(offsets, (1..=50).collect::<Vec<_>>());
    // The slow one took 1..=4, then its queue went over 1000 bytes: it ends
    // cleanly, without what no longer fit, and costs nothing more.
    assert_eq!(last_slow, Some(4));
    let rest = ready(&mut slow);
    assert!(rest.is_empty(), "the overflowed queue was freed: {rest:?}");
    assert!(slow.next().await.is_none(), "its stream ends");
    let stats = hub.stats();
    assert_eq!(stats.slow_drops, 1);
    assert_eq!(stats.subscribers, 1);
    assert_eq!(hub.topic_stats("t").unwrap().subscribers, 1);
    drop(slow);
    assert_eq!(
        hub.stats().subscribers,
        1,
        "dropping it again counts nothing"
    );
    // It reconnects from its last id and gets everything it missed.
    let id = EventId::new(format!(
        "{}-4",
        fast_got[0].as_bytes()[4..16]
            .iter()
            .map(|&b| b as char)
            .collect::<String>()
    ))
    .unwrap();
    let mut back = sub(&hub, "t", id);
    let offsets: Vec<u64> = ready(&mut back).iter().filter_map(offset_of).collect();
    assert_eq!(offsets, (5..=50).collect::<Vec<_>>());
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_subscriber_wakes_once_for_everything_queued() {
    let hub = Hub::new();
    let mut s = sub(&hub, "t", Resume::Start);
    ready(&mut s);
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut s).poll_next(&mut cx).is_pending());
    for i in 0..100 {
        hub.publish("t", i.to_string()).unwrap();
    }
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    let mut n = 0;
    while let Poll::Ready(Some(_)) = Pin::new(&mut s).poll_next(&mut cx) {
        n += 1;
    }
    assert_eq!(n, 100);
    assert_eq!(hub.stats().delivered, 100);
}

#[tokio::test]
async fn the_event_stream_writes_everything_queued_as_one_frame() {
    let hub = Hub::new();
    let mut stream = hub.subscribe("t", Resume::Start).unwrap();
    stream.next().await.unwrap(); // the marker
    for i in 0..10 {
        hub.publish("t", i.to_string()).unwrap();
    }
    let frame = stream.next().await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&frame).matches("data: ").count(),
        10
    );
}

#[test]
fn topics_are_released_when_idle_and_go_on_where_they_stood() {
    let hub = Hub::builder().history_events(0).build();
    let s = sub(&hub, "t", Resume::Start);
    let p = hub.publish("t", "1").unwrap();
    assert_eq!(hub.stats().topics, 1);
    drop(s);
    assert_eq!(hub.stats().topics, 0);
    assert!(hub.topic_stats("t").is_none());
    // The next use goes on where it stood: the last id resumes with no
    // gap (nothing was missed), and the offsets go on.
    let mut s = sub(&hub, "t", p.id().clone());
    assert!(ready(&mut s).is_empty(), "no reset, no replay");
    let next = hub.publish("t", "2").unwrap();
    assert_eq!(next.offset(), 2);
    assert_eq!(data_of(&ready(&mut s)[0]).as_deref(), Some("2"));

    // A topic with history stays after its subscribers left.
    let kept = Hub::new();
    let p = kept.publish("k", "1").unwrap();
    drop(sub(&kept, "k", Resume::Start));
    assert_eq!(kept.topic_stats("k").unwrap().last_id, *p.id());
    // Subscribing to a topic nobody publishes to does not leave it behind.
    drop(sub(&kept, "nobody", Resume::Start));
    assert!(kept.topic_stats("nobody").is_none());
    assert_eq!(kept.stats().topics, 1);
}

/// The position marker of a topic with no event yet, `<epoch>-0`.
fn marker_of(sub: &mut Subscription) -> EventId {
    let marker = text(&ready(sub)[0]);
    assert!(marker.ends_with("-0\n\n"), "{marker}");
    EventId::new(marker.trim_start_matches("id: ").trim_end()).unwrap()
}

#[test]
fn a_topic_released_before_its_first_event_goes_on_in_its_epoch() {
    // A lone subscriber leaves with the marker; the topic is released;
    // the first post comes while nobody listens: the marker resumes it.
    let hub = Hub::new();
    let mut s = sub(&hub, "lobby", Resume::Start);
    let zero = marker_of(&mut s);
    drop(s);
    assert!(hub.topic_stats("lobby").is_none(), "released");
    let p = hub.publish("lobby", "hello").unwrap();
    let epoch = zero.as_str().trim_end_matches("-0");
    assert_eq!(p.id().as_str(), format!("{epoch}-1"));
    let mut back = sub(&hub, "lobby", zero.clone());
    let replay = ready(&mut back);
    assert_eq!(
        replay.len(),
        1,
        "{:?}",
        replay.iter().map(text).collect::<Vec<_>>()
    );
    assert_eq!(data_of(&replay[0]).as_deref(), Some("hello"));
    drop(back);
    assert_eq!(
        lock(hub.inner.shard("lobby")).released.len(),
        0,
        "taken back"
    );

    // Released again and again before any event: still the same epoch.
    let mut s = sub(&hub, "quiet", Resume::Start);
    let zero = marker_of(&mut s);
    drop(s);
    let mut s = sub(&hub, "quiet", Resume::Start);
    assert_eq!(marker_of(&mut s), zero);
    drop(s);

    // `remove_topic` forgets it: the next use starts a new epoch.
    hub.remove_topic("quiet");
    let mut s = sub(&hub, "quiet", zero);
    assert_eq!(reset_of(&mut s).0, "unknown_epoch");

    // A topic released after events (no history kept) goes on after its
    // last offset: no position is given twice, and what went with its
    // history is `too_old`.
    let bare = Hub::builder().history_events(0).build();
    let mut s = sub(&bare, "t", Resume::Start);
    let zero = marker_of(&mut s);
    bare.publish("t", "1").unwrap();
    drop(s);
    assert!(bare.topic_stats("t").is_none(), "released");
    let mut s = sub(&bare, "t", zero);
    assert_eq!(reset_of(&mut s).0, "too_old");
    assert_eq!(bare.publish("t", "2").unwrap().offset(), 2);
}

#[test]
fn the_epochs_of_released_empty_topics_are_bounded() {
    // `max_topics` in all: here 2, in one shard. The oldest is forgotten.
    let hub = Hub::builder().max_topics(2).shards(1).build();
    let mut markers = Vec::new();
    for name in ["a", "b", "c"] {
        let mut s = sub(&hub, name, Resume::Start);
        markers.push(marker_of(&mut s));
    }
    assert_eq!(lock(hub.inner.shard("a")).released.len(), 2);
    for (name, marker) in [("b", &markers[1]), ("c", &markers[2])] {
        let mut s = sub(&hub, name, Resume::Start);
        assert_eq!(&marker_of(&mut s), marker, "{name} kept its epoch");
    }
    let mut a = sub(&hub, "a", markers[0].clone());
    assert_eq!(reset_of(&mut a).0, "unknown_epoch", "forgotten");
}

#[test]
fn histories_expire_a_ttl_after_the_last_publish_and_idle_topics_go() {
    use std::time::Instant;
    let hub = Hub::new();
    let ttl = Duration::from_secs(60);
    let t0 = Instant::now();
    let last = hub.publish("idle", "1").unwrap();
    let mut s = sub(&hub, "busy", Resume::Start);
    hub.publish("busy", "1").unwrap();
    // The first look notes both publishes; nothing goes before a ttl.
    assert_eq!(hub.inner.expire_stale(t0, ttl), 0);
    assert_eq!(hub.inner.expire_stale(t0 + ttl / 2, ttl), 0);
    hub.publish("busy", "2").unwrap();
    assert_eq!(
        hub.inner
            .expire_stale(t0 + ttl - Duration::from_millis(1), ttl),
        0
    );
    // A ttl after the look that saw its publish: "idle" loses its history
    // and, with no subscriber, goes; "busy" was published since.
    assert_eq!(hub.inner.expire_stale(t0 + ttl, ttl), 1);
    assert!(hub.topic_stats("idle").is_none(), "released");
    assert_eq!(hub.topic_stats("busy").unwrap().history_events, 2);
    // "busy" keeps its subscriber, so it stays, without history.
    assert_eq!(
        hub.inner
            .expire_stale(t0 + ttl - Duration::from_millis(1) + ttl, ttl),
        1
    );
    assert_eq!(hub.topic_stats("busy").unwrap().history_events, 0);
    assert_eq!(ready(&mut s).len(), 3, "marker and both events, still live");
    // Coming back to "idle": its last id resumes with no gap; an older one
    // is `too_old`; the offsets go on.
    let mut back = sub(&hub, "idle", last.id().clone());
    assert!(ready(&mut back).is_empty());
    let zero = format!("{}-0", last.id().as_str().trim_end_matches("-1"));
    let mut behind = sub(&hub, "idle", EventId::new(zero).unwrap());
    assert_eq!(reset_of(&mut behind).0, "too_old");
    assert_eq!(hub.publish("idle", "2").unwrap().offset(), 2);
}

#[test]
fn a_publish_that_leaves_a_topic_with_nothing_releases_it() {
    // History off and no subscriber: nothing keeps the topic, so clients
    // naming topics cannot fill `max_topics` by publishing.
    // One shard, so it keeps the two released positions `max_topics(2)`
    // allows, whichever shard the names fall in.
    let hub = Hub::builder()
        .history_events(0)
        .max_topics(2)
        .shards(1)
        .build();
    let first = hub.publish("a", "1").unwrap();
    assert!(hub.topic_stats("a").is_none(), "released at once");
    for name in ["b", "c", "d"] {
        hub.publish(name, "1").unwrap();
    }
    assert_eq!(hub.stats().topics, 0);
    // The two released last go on where they stood; "a", the oldest of
    // three, was forgotten, so it starts a new epoch.
    assert_eq!(hub.publish("d", "2").unwrap().offset(), 2);
    assert_eq!(hub.publish("c", "2").unwrap().offset(), 2);
    let again = hub.publish("a", "2").unwrap();
    assert_eq!(again.offset(), 1);
    assert_ne!(again.id().as_str(), first.id().as_str());
    // An event bigger than the whole history empties it too.
    let small = Hub::builder().history_bytes(16).build();
    small.publish("c", "x".repeat(64)).unwrap();
    assert!(small.topic_stats("c").is_none());
}

#[test]
fn released_positions_stay_bounded_however_topics_come_and_go() {
    let mut released = topic::Released::default();
    let at = |offset| topic::Position::new(topic::Epoch::mint(), offset);
    for round in 0..1_000_u64 {
        released.keep(round % 7, at(round), 4);
        if round % 3 == 0 {
            released.take(round % 7);
        }
        assert!(released.len() <= 4);
        assert!(
            released.order_len() <= 2 * 4 + 1,
            "{}",
            released.order_len()
        );
    }
    // The newest are the ones kept.
    released.keep(100, at(1), 2);
    released.keep(101, at(2), 2);
    assert_eq!(released.take(101).map(topic::Position::offset), Some(2));
    assert_eq!(released.take(100).map(topic::Position::offset), Some(1));
}

#[test]
fn invalid_topics_are_typed_errors() {
    let hub = Hub::new();
    for bad in ["", "a\nb", &"x".repeat(MAX_TOPIC_LEN + 1)] {
        let e = hub.publish(bad, "x").unwrap_err();
        assert!(e.is_invalid_topic());
        assert!(
            hub.subscribe(bad, Resume::Start)
                .unwrap_err()
                .is_invalid_topic()
        );
    }
    assert_eq!(
        hub.publish("a\tb", "x").unwrap_err().to_string(),
        "invalid topic: control character at byte 1"
    );
    // C1 controls (NEL here) are control characters too; the byte is where
    // the character starts.
    assert_eq!(
        hub.publish("é\u{85}", "x").unwrap_err().to_string(),
        "invalid topic: control character at byte 2"
    );
    for spoof in [
        "a\u{2028}b",
        "a\u{2029}",
        "\u{202E}evil",
        "x\u{2066}y",
        "\u{200F}",
        "\u{61C}",
    ] {
        let e = hub.publish(spoof, "x").unwrap_err();
        assert!(e.is_invalid_topic(), "{spoof:?}");
        assert!(
            e.to_string().starts_with(
                "invalid topic: line separator or bidirectional formatting character at byte "
            ),
            "{e}"
        );
    }
    // Other non-ASCII text is a name like any other.
    for good in ["café", "日本語", "a\u{200B}b", "emoji 🎉"] {
        hub.publish(good, "x").unwrap();
    }
    assert_eq!(hub.stats().topics, 4);
}

/// The keep-alive thread writes the keep-alive to a quiet topic's subscribers;
/// their streams have no timer of their own.
#[tokio::test]
async fn an_idle_subscription_keeps_alive_without_a_timer_of_its_own() {
    let hub = Hub::builder()
        .keep_alive(KeepAlive::new().interval(Duration::from_millis(40)))
        .build();
    let mut stream = hub.subscribe("t", Resume::Start).unwrap();
    assert!(stream.get_keep_alive().is_none());
    stream.next().await.unwrap(); // the marker
    let frame = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a keep-alive within 10 s")
        .unwrap();
    assert_eq!(&frame[..], b":\n");
    assert_eq!(hub.stats().delivered, 0, "a keep-alive is not an event");
    // Events still come, after as many keep-alives as the wait took.
    let published = hub.publish("t", "after").unwrap();
    let text = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the event within 10 s")
            .unwrap();
        if &frame[..] != b":\n" {
            break String::from_utf8(frame.to_vec()).unwrap();
        }
    };
    assert_eq!(text, format!("id: {}\ndata: after\n\n", published.id()));
    assert_eq!(
        hub.inner.heartbeat.get(),
        Some(&true),
        "the thread looks at it"
    );
    // Without a keep-alive, neither the hub nor the stream writes one.
    let quiet = Hub::builder().without_keep_alive().build();
    assert!(
        quiet
            .subscribe("t", Resume::Start)
            .unwrap()
            .get_keep_alive()
            .is_none()
    );
    assert!(
        quiet.inner.heartbeat.get().is_none(),
        "the thread never looks at it"
    );
    // Any interval is taken, up to the longest there is.
    let never = Hub::builder()
        .keep_alive(KeepAlive::new().interval(Duration::MAX))
        .build();
    let mut stream = never.subscribe("t", Resume::Start).unwrap();
    assert!(stream.next().await.unwrap().starts_with(b"id: "));
    assert_eq!(
        never
            .inner
            .heartbeat(std::time::Instant::now(), Duration::MAX),
        0
    );
}

/// Which topics get the keep-alive, looked at at given instants (the
/// interval is an hour, so the keep-alive thread's own looks, every quarter
/// of it, never come during the test).
#[test]
fn the_keep_alive_goes_to_quiet_topics_with_subscribers_and_idle_queues() {
    const HOUR: Duration = Duration::from_secs(3600);
    let hub = Hub::builder()
        .keep_alive(KeepAlive::new().interval(HOUR).text("hi"))
        .build();
    let t0 = std::time::Instant::now() + HOUR;
    let mut quiet = sub(&hub, "quiet", Resume::Start);
    let mut busy = sub(&hub, "busy", Resume::Start);
    hub.publish("lonely", "no subscriber").unwrap();
    assert_eq!(ready(&mut quiet).len() + ready(&mut busy).len(), 2); // the markers
    // The first look counts the quiet from then on.
    assert_eq!(hub.inner.heartbeat(t0, HOUR), 0);
    // An event to "busy": its quiet starts again at the next look.
    hub.publish("busy", "event").unwrap();
    assert_eq!(hub.inner.heartbeat(t0 + HOUR, HOUR), 1);
    assert_eq!(
        ready(&mut quiet).iter().map(text).collect::<Vec<_>>(),
        [": hi\n"]
    );
    let got = ready(&mut busy);
    assert_eq!(got.len(), 1);
    assert_eq!(data_of(&got[0]).as_deref(), Some("event"));
    // Not again before another hour of quiet.
    assert_eq!(hub.inner.heartbeat(t0 + HOUR * 3 / 2, HOUR), 0);
    assert_eq!(hub.inner.heartbeat(t0 + HOUR * 2, HOUR), 2);
    assert_eq!(ready(&mut quiet).len() + ready(&mut busy).len(), 2);
    // A subscriber with an event still queued is not given a keep-alive.
    hub.publish("quiet", "unread").unwrap();
    assert_eq!(hub.inner.heartbeat(t0 + HOUR * 3, HOUR), 1); // "busy"
    assert_eq!(hub.inner.heartbeat(t0 + HOUR * 5, HOUR), 2);
    let got = ready(&mut quiet);
    assert_eq!(got.len(), 1);
    assert_eq!(data_of(&got[0]).as_deref(), Some("unread"));
    // Two keep-alives due while it did not read: one is written.
    assert_eq!(
        ready(&mut busy).iter().map(text).collect::<Vec<_>>(),
        [": hi\n"]
    );
    assert_eq!(hub.stats().delivered, 2, "keep-alives are not events");
}

#[tokio::test(start_paused = true)]
async fn a_coalescing_subscription_takes_a_burst_in_one_frame() {
    let hub = Hub::new();
    let mut stream = hub
        .subscribe("t", Resume::Start)
        .unwrap()
        .coalesce(Duration::from_millis(20));
    stream.next().await.unwrap(); // the marker
    let publisher = hub.clone();
    tokio::spawn(async move {
        for i in 0..5 {
            publisher.publish("t", i.to_string()).unwrap();
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    });
    let start = tokio::time::Instant::now();
    let frame = stream.next().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(20));
    let text = String::from_utf8_lossy(&frame);
    assert_eq!(text.matches("data: ").count(), 5, "{text}");
    assert_eq!(hub.stats().delivered, 5);
}

/// A small deterministic generator for the property-style tests.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

/// Publishers on several threads race subscribers that join (live, or
/// resuming from a random earlier position) at random moments: every
/// subscriber sees offsets `from + 1 ..= total` exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_racing_concurrent_publishers_have_no_gap_and_no_duplicate() {
    const PUBLISHERS: u64 = 3;
    const PER_PUBLISHER: u64 = 400;
    const TOTAL: u64 = PUBLISHERS * PER_PUBLISHER;
    for seed in 1..=8u64 {
        let hub = Hub::builder()
            .history_events(2_000)
            .replay_events(2_000)
            .build();
        let published: Arc<Mutex<Vec<EventId>>> = Arc::default();
        let threads: Vec<_> = (0..PUBLISHERS)
            .map(|p| {
                let hub = hub.clone();
                let published = Arc::clone(&published);
                std::thread::spawn(move || {
                    for i in 0..PER_PUBLISHER {
                        let id = hub.publish("race", format!("{p}:{i}")).unwrap();
                        lock(&published).push(id.id().clone());
                        if i % 50 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut joiners = Vec::new();
        for _ in 0..12 {
            tokio::task::yield_now().await;
            let from: Resume = {
                let ids = lock(&published);
                if ids.is_empty() || rng.next(3) == 0 {
                    Resume::Start
                } else {
                    let pick = usize::try_from(rng.next(ids.len() as u64)).unwrap();
                    ids[pick].clone().into()
                }
            };
            let mut stream = hub.subscribe("race", from.clone()).unwrap().into_inner();
            joiners.push(tokio::spawn(async move {
                let mut offsets = Vec::new();
                let mut first_position = None;
                while offsets.last().copied().unwrap_or(0) < TOTAL {
                    let event = tokio::time::timeout(Duration::from_secs(20), stream.next())
                        .await
                        .expect("events keep coming")
                        .expect("the stream stays open");
                    match (data_of(&event), offset_of(&event)) {
                        (Some(_), Some(offset)) => offsets.push(offset),
                        (None, Some(position)) => first_position = Some(position),
                        other => panic!("unexpected {other:?}"),
                    }
                }
                (from, first_position, offsets)
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
        for joiner in joiners {
            let (from, marker, offsets) = joiner.await.unwrap();
            let start = match (&from, marker) {
                (Resume::After(id), None) => id
                    .as_str()
                    .rsplit_once('-')
                    .unwrap()
                    .1
                    .parse::<u64>()
                    .unwrap(),
                (Resume::Start, Some(position)) => position,
                other => panic!("unexpected start {other:?}"),
            };
            assert_eq!(
                offsets,
                ((start + 1)..=TOTAL).collect::<Vec<_>>(),
                "seed {seed}, from {from:?}"
            );
        }
        assert_eq!(hub.stats().published, TOTAL);
        assert_eq!(hub.stats().resets, ResetCounts::default());
    }
}

#[test]
fn a_dropped_subscription_is_not_counted_slow() {
    let hub = Hub::builder().history_events(0).build();
    let s = sub(&hub, "t", Resume::Start);
    // The publisher finds it closed before it unsubscribed.
    s.shared.close();
    let p = hub.publish("t", "x").unwrap();
    assert_eq!(p.subscribers(), 0);
    let stats = hub.stats();
    assert_eq!((stats.slow_drops, stats.subscribers), (0, 0));
    drop(s);
    assert_eq!(hub.stats().subscribers, 0);
    assert_eq!(hub.stats().topics, 0, "released once idle");
}

#[test]
fn an_idle_subscriber_gives_back_its_burst_buffers() {
    let hub = Hub::new();
    let mut s = sub(&hub, "t", Resume::Start);
    for i in 0..1_000 {
        hub.publish("t", i.to_string()).unwrap();
    }
    assert_eq!(ready(&mut s).len(), 1_001);
    assert!(s.taken.capacity() <= 4);
    assert_eq!(s.preface_left, 0);
}

#[tokio::test]
async fn topics_are_capped_and_removable() {
    let hub = Hub::builder().max_topics(2).build();
    hub.publish("a", "1").unwrap();
    let mut live = hub.subscribe("b", Resume::Start).unwrap();
    let err = hub.publish("c", "1").unwrap_err();
    assert!(err.is_too_many_topics() && !err.is_invalid_topic());
    assert_eq!(err.to_string(), "too many topics: the hub holds 2 already");
    assert!(
        hub.subscribe("c", Resume::Start)
            .unwrap_err()
            .is_too_many_topics()
    );
    // Existing topics still work.
    hub.publish("a", "2").unwrap();
    hub.publish("b", "x").unwrap();

    // Removing a topic ends its subscriptions cleanly after what they took.
    assert!(hub.remove_topic("b"));
    assert!(!hub.remove_topic("b"));
    let frame = live.next().await.unwrap();
    assert!(String::from_utf8_lossy(&frame).ends_with("data: x\n\n"));
    assert!(live.next().await.is_none());
    drop(live);
    let stats = hub.stats();
    assert_eq!((stats.topics, stats.subscribers), (1, 0));
    hub.publish("c", "1").unwrap();
}

#[test]
fn with_eviction_the_least_recently_used_idle_topics_make_room() {
    let hub = Hub::builder().max_topics(4).evict_idle_topics(true).build();
    let mut marks = Vec::new();
    for name in ["t0", "t1", "t2", "t3"] {
        marks.push(hub.publish(name, "1").unwrap().id().clone());
        // Distinct use times, whatever the clock's resolution.
        std::thread::sleep(Duration::from_millis(2));
    }
    // A subscribe is a use: t0 is now the most recently used but one.
    drop(sub(&hub, "t0", Resume::Start));
    std::thread::sleep(Duration::from_millis(2));
    let listening = sub(&hub, "t2", Resume::Start);
    // Full: the least recently used topic nobody listens to goes (one: a
    // batch is `max_topics / 64`, at least 1).
    hub.publish("new1", "1").unwrap();
    assert!(hub.topic_stats("t1").is_none(), "t1 was the oldest use");
    for kept in ["t0", "t2", "t3", "new1"] {
        assert!(hub.topic_stats(kept).is_some(), "{kept} kept");
    }
    let stats = hub.stats();
    assert_eq!((stats.topics, stats.evicted), (4, 1));
    // Its history went with it: a resume there is a reset, not a gap. (The
    // topic it makes again takes t3's room: the oldest idle one now.)
    let mut late = sub(&hub, "t1", marks[1].clone());
    assert_eq!(reset_of(&mut late).0, "unknown_epoch");
    assert!(hub.topic_stats("t3").is_none());
    assert_eq!(hub.stats().evicted, 2);
    drop(late);
    // Subscribed-to topics never go: with every topic listened to, a new
    // one is refused.
    let held: Vec<_> = ["t0", "new1", "t4"]
        .iter()
        .map(|name| sub(&hub, name, Resume::Start))
        .collect();
    assert_eq!(hub.stats().topics, 4);
    let err = hub.publish("new2", "1").unwrap_err();
    assert!(err.is_too_many_topics(), "{err}");
    assert_eq!(hub.stats().evicted, 2);
    // That pass found nothing: for a second, no other pass is made.
    assert_eq!(hub.inner.make_room(), None);
    // t2 is idle now (its history keeps it), but within that second a new
    // topic is refused without a look.
    drop(listening);
    assert!(hub.publish("new2", "1").unwrap_err().is_too_many_topics());
    // A second later, the next new topic looks again and finds t2.
    *lock(&hub.inner.fruitless_pass) = std::time::Instant::now().checked_sub(EVICT_RETRY);
    hub.publish("new2", "1").unwrap();
    assert!(hub.topic_stats("t2").is_none());
    assert_eq!(hub.stats().evicted, 3);
    drop(held);
}

#[test]
fn eviction_lets_a_batch_go_and_is_off_by_default() {
    let hub = Hub::builder()
        .max_topics(128)
        .evict_idle_topics(true)
        .build();
    for i in 0..128 {
        hub.publish(&format!("t{i}"), "1").unwrap();
    }
    hub.publish("new", "1").unwrap();
    // 128 / 64 = 2 at once: room for the next new topic too.
    assert_eq!(hub.stats().evicted, 2);
    hub.publish("new2", "1").unwrap();
    assert_eq!(hub.stats().evicted, 2);
    assert_eq!(hub.stats().topics, 128);

    let hub = Hub::builder().max_topics(1).build();
    hub.publish("a", "1").unwrap();
    assert!(hub.publish("b", "1").unwrap_err().is_too_many_topics());
    assert!(hub.topic_stats("a").is_some());
    assert_eq!(hub.stats().evicted, 0);
}

/// Random `Last-Event-ID` values and queries built from the characters that
/// matter (hex digits, digits, `-`, `%`, `+`, high bytes), 20 000 of them:
/// never a panic; each answer is a replay of exactly the events after a
/// valid position, or a reset, never more than the replay cap.
#[test]
fn random_resume_values_never_panic_and_stay_within_the_cap() {
    const ALPHABET: &[u8] = b"0123456789abcdef-%+F\xff\xc3 ";
    let hub = Hub::builder().history_events(50).replay_events(20).build();
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(hub.publish("t", i.to_string()).unwrap().id().clone());
    }
    let epoch = ids[0].as_str().split_once('-').unwrap().0.to_owned();
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    for case in 0..20_000u64 {
        let len = usize::try_from(rng.next(40)).unwrap();
        let mut value: Vec<u8> = (0..len)
            .map(|_| ALPHABET[usize::try_from(rng.next(ALPHABET.len() as u64)).unwrap()])
            .collect();
        if case % 3 == 0 {
            // Often of the right shape: this epoch, a random offset.
            value = format!("{epoch}-{}", rng.next(130)).into_bytes();
        }
        let from = if case % 2 == 0 {
            Resume::from_request([value.as_slice()], None)
        } else {
            let query = format!("last_event_id={}", String::from_utf8_lossy(&value));
            Resume::from_request(std::iter::empty(), Some(&query))
        };
        let mut s = sub(&hub, "t", from.clone());
        let got = ready(&mut s);
        if from == Resume::Start {
            assert_eq!(got.len(), 1, "the position marker");
            assert_eq!(data_of(&got[0]), None);
            continue;
        }
        if got
            .first()
            .is_some_and(|e| text(e).contains("event: reset\n"))
        {
            assert_eq!(got.len(), 1);
            continue;
        }
        assert!(got.len() <= 20, "{from:?}: {} events", got.len());
        let after: u64 = from
            .id()
            .and_then(|id| id.as_str().rsplit_once('-'))
            .and_then(|(_, o)| o.parse().ok())
            .expect("a resume comes from a valid position");
        let offsets: Vec<u64> = got.iter().filter_map(offset_of).collect();
        assert_eq!(offsets, ((after + 1)..=100).collect::<Vec<_>>(), "{from:?}");
    }
    // Every outcome was reached.
    let stats = hub.stats();
    assert!(stats.resumed > 500, "{stats:?}");
    let r = &stats.resets;
    assert!(
        r.malformed > 1_000 && r.too_old > 500 && r.future > 500,
        "{r:?}"
    );
    assert!(r.replay_limit > 500 && r.unknown_epoch == 0, "{r:?}");
}

/// What an idle subscriber holds, by construction: the response stream, its
/// shared queue (in an `Arc`) and at most `IDLE_CAPACITY` queue slots on
/// each side (no keep-alive timer: the hub sends the keep-alives).
#[test]
fn an_idle_subscriber_is_under_a_kibibyte() {
    use std::mem::size_of;
    let slots = 2 * 4 * size_of::<EncodedEvent>();
    let total = size_of::<EventStream<Subscription>>()
        + 2 * size_of::<usize>()
        + size_of::<subscription::SubShared>()
        + slots
        + size_of::<Arc<SubShared>>(); // its slot in the topic's list
    eprintln!(
        "idle subscriber: {total} bytes (stream {}, shared {}, slots {slots})",
        size_of::<EventStream<Subscription>>(),
        size_of::<subscription::SubShared>(),
    );
    assert!(total <= 1024, "{total}");
}

/// A publish that wakes more subscribers than [`wake::HAND_OFF`] from inside
/// a multi-thread runtime (their wakers go through the wake thread): every
/// subscriber still gets every event once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_big_fan_out_from_a_runtime_worker_reaches_every_subscriber_in_order() {
    const SUBSCRIBERS: usize = 3 * wake::HAND_OFF;
    const EVENTS: u64 = 50;
    let hub = Hub::new();
    let mut readers = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let mut stream = hub.subscribe("big", Resume::Start).unwrap().into_inner();
        readers.push(tokio::spawn(async move {
            let mut offsets = Vec::new();
            while offsets.len() < usize::try_from(EVENTS).unwrap() {
                let event = tokio::time::timeout(Duration::from_secs(20), stream.next())
                    .await
                    .expect("events keep coming")
                    .expect("the stream stays open");
                if data_of(&event).is_some() {
                    offsets.extend(offset_of(&event));
                }
            }
            offsets
        }));
    }
    let publisher = {
        let hub = hub.clone();
        tokio::spawn(async move {
            for i in 0..EVENTS {
                hub.publish("big", i.to_string()).unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    publisher.await.unwrap();
    for reader in readers {
        assert_eq!(reader.await.unwrap(), (1..=EVENTS).collect::<Vec<_>>());
    }
    assert_eq!(
        hub.stats().delivered,
        EVENTS * u64::try_from(SUBSCRIBERS).unwrap()
    );
}
