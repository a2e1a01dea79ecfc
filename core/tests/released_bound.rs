//! The released-positions bound: the hub keeps where released topics
//! stood, as many as [`HubBuilder::max_topics`] (at most 65 536), shared
//! out among the shards so that the shards' caps add up to it exactly
//! (rounding each up kept up to `shards - 1` more). Observed as a client
//! would: how many released topics resume in their epoch.

use ssekit::{EventId, Hub, Resume};

#[path = "support/ready.rs"]
mod poll;

use poll::ready;

#[test]
fn no_more_released_positions_are_kept_than_max_topics() {
    const MAX_TOPICS: usize = 1;
    let hub = Hub::builder()
        .max_topics(MAX_TOPICS)
        .shards(8)
        .without_keep_alive()
        .build();
    let names: Vec<String> = (0..16).map(|i| format!("room-{i}")).collect();
    let mut markers = Vec::new();
    for name in &names {
        let mut sub = hub
            .subscribe(name, Resume::Start)
            .expect("topic")
            .into_inner();
        let marker = String::from_utf8_lossy(ready(&mut sub)[0].as_bytes()).into_owned();
        markers.push(EventId::new(marker.trim_start_matches("id: ").trim_end()).expect("id"));
        drop(sub); // released: its position kept, or the oldest of its shard's forgotten
    }
    // Each topic, used again, goes on in its epoch while its position is
    // kept, else in a new one. A publish (the history keeps the topic in
    // memory) then `remove_topic` (which keeps nothing) leaves the other
    // kept positions as they are.
    let mut kept = 0;
    for (name, marker) in names.iter().zip(&markers) {
        let published = hub.publish(name, "x").expect("topic");
        let epoch = marker.as_str().trim_end_matches("-0");
        if published.id().as_str() == format!("{epoch}-1") {
            kept += 1;
        }
        assert!(hub.remove_topic(name));
    }
    assert!(
        kept <= MAX_TOPICS,
        "{kept} released positions kept with max_topics({MAX_TOPICS})"
    );
}
