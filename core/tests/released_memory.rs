//! The memory of the hub's released-positions table, against its docs
//! ("about 110 bytes each resident"): each shard's table is a
//! `HashMap<u64, (Position, u64)>` (33 bytes a bucket, 2 048 buckets for a
//! cap of 1 024) and an order `VecDeque<(u64, u64)>` that grows to
//! `2 cap + 1` entries before it is compacted. Resident memory, as
//! `core/tests/subscriber_memory.rs` measures.
#![cfg(target_os = "linux")]

use ssekit::Hub;

#[path = "support/resident.rs"]
mod resident;

use resident::resident_kib;

#[test]
fn a_kept_released_position_costs_about_110_bytes() {
    const KEPT: u64 = 65_536;
    // Defaults (64 shards, max_topics 65 536), history off: each publish
    // to a new topic releases it at once, and its position is kept.
    let hub = Hub::builder()
        .history_events(0)
        .without_keep_alive()
        .build();
    // Warm the allocator with the per-publish garbage first.
    for i in 0..1_000 {
        hub.publish(&format!("warm-{i}"), "x").expect("topic");
    }
    let before = resident_kib().expect("VmRSS");
    // More than the bound: every shard's table fills, forgets and compacts.
    for i in 0..(KEPT * 2) {
        hub.publish(&format!("room-{i}"), "x").expect("topic");
    }
    let after = resident_kib().expect("VmRSS");
    assert_eq!(hub.stats().topics, 0, "all released");
    let per = after.saturating_sub(before) * 1024 / KEPT;
    println!("resident memory per kept released position: {per} B");
    assert!(
        per <= 130,
        "a kept position costs {per} B, documented about 110"
    );
}
