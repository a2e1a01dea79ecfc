//! What a hash collision in the released-positions table can do. Two
//! topic names whose keyed hashes collide share one entry: whichever comes
//! back first takes the other's position (its epoch, its offset). A real
//! collision cannot be made here (the hub's hasher is randomly keyed), so
//! the tests move an entry from one name's hash to the other's, which is
//! exactly what a collision does. What must hold: a client that presents
//! a topic's own ids to that topic never gets a silent gap or a duplicate,
//! only a visible `reset`.

use super::*;

/// Makes `to` take over `from`'s released position, as if their hashes
/// collided.
fn collide(hub: &Hub, from: &str, to: &str) {
    let (hf, ht) = (
        hub.inner.hasher.hash_one(from),
        hub.inner.hasher.hash_one(to),
    );
    // One shard: both names in it.
    let index = hub.inner.shard_index(hf);
    let mut shard = lock(&hub.inner.shards[index]);
    let top = shard.released.take(hf).expect("from's position is kept");
    shard.released.keep(ht, top, hub.inner.released_cap(index));
}

fn position_of(id: &EventId) -> Position {
    Position::parse(id.as_str()).expect("a position")
}

#[test]
fn a_collided_lineage_resumes_a_topic_with_a_visible_reset_never_a_gap() {
    let hub = Hub::builder()
        .shards(1)
        .history_events(0)
        .without_keep_alive()
        .build();
    // A's client holds A's last event.
    let mut x = sub(&hub, "a", Resume::Start);
    let published: Vec<Published> = (1..=5)
        .map(|i| hub.publish("a", i.to_string()).unwrap())
        .collect();
    let a5 = published[4].clone();
    assert_eq!(a5.offset(), 5);
    assert_eq!(ready(&mut x).len(), 6, "marker and five events");
    drop(x); // A released at 5
    // B collides with A: B goes on after A's 5, in A's epoch.
    collide(&hub, "a", "b");
    let b6 = hub.publish("b", "b6").unwrap();
    assert_eq!(position_of(b6.id()).epoch(), position_of(a5.id()).epoch());
    assert_eq!(b6.offset(), 6);
    hub.publish("b", "b7").unwrap(); // B released again at 7 (history off)
    // A collides back: A goes on after B's 7.
    collide(&hub, "b", "a");
    let mut back = sub(&hub, "a", a5.id().clone());
    let (reason, _) = reset_of(&mut back);
    assert_eq!(
        reason, "too_old",
        "B's 6 and 7 are not A's: a reset, not a resume"
    );
}

#[test]
fn a_collided_topic_with_history_replays_only_its_own_events() {
    let hub = Hub::builder().shards(1).without_keep_alive().build();
    // B's client holds B's marker, B released before its first event.
    let mut y = sub(&hub, "b", Resume::Start);
    let marker = text(&ready(&mut y)[0]);
    let b0 = EventId::new(marker.trim_start_matches("id: ").trim_end()).unwrap();
    drop(y);
    // A collides and takes B's position; A publishes (and keeps history).
    collide(&hub, "b", "a");
    hub.publish("a", "a1").unwrap();
    // B, used again, has no position kept (A holds the lineage): new epoch.
    let mut again = sub(&hub, "b", b0.clone());
    assert_eq!(reset_of(&mut again).0, "unknown_epoch");
    drop(again);
    // Had A then been released and B taken its position, B's `<e>-0` is
    // behind A's event: `too_old`, not a replay of A's event.
    hub.remove_topic("b"); // released already: this forgets its position
    hub.remove_topic("a");
    let mut y = sub(&hub, "b", Resume::Start);
    let marker = text(&ready(&mut y)[0]);
    let b0 = EventId::new(marker.trim_start_matches("id: ").trim_end()).unwrap();
    drop(y);
    collide(&hub, "b", "a");
    let small = hub.publish("a", "x".repeat(8 << 20)).unwrap(); // bigger than the history: A released
    assert!(hub.topic_stats("a").is_none());
    collide(&hub, "a", "b");
    let mut back = sub(&hub, "b", b0);
    assert_eq!(reset_of(&mut back).0, "too_old", "never A's event as B's");
    assert_eq!(small.offset(), 1);
}
