//! Idle streams cost nothing and departures are noticed, on every framework,
//! over real sockets: each `bench-<framework> ssekit` server, unchanged
//! defaults, a raw TCP client on `/bench/hub`.
#![allow(
    clippy::expect_used,
    reason = "test support: a step that fails is the test failing, with its message"
)]

use std::net::SocketAddr;
use std::time::Duration;

use ssekit_bench::client;

mod support;

use support::start;

async fn subscribers_become(addr: SocketAddr, target: usize) -> bool {
    for _ in 0..400 {
        if client::subscribers(addr).await.ok() == Some(target) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// With the defaults (keep-alive every 15 s), nothing may be written to an
/// idle stream for the first 1.5 s: the 250 ms disconnect probe the
/// actix-web and poem adapters used to default to wrote 6 times in that
/// window. Then the client leaves, and the server must notice it (its
/// subscriber count drops) without any write.
async fn idle_stream_is_silent_and_departure_is_noticed(bin: &str) {
    let server = start(bin, "ssekit");
    let mut stream = client::request(server.1, "GET", "/bench/hub")
        .await
        .expect("GET /bench/hub");
    assert_eq!(stream.status, 200);
    assert!(subscribers_become(server.1, 1).await, "{bin}: subscribed");
    let mut written = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    let read = loop {
        let read = tokio::time::timeout_at(
            deadline,
            stream.next(&mut |bytes| written.extend_from_slice(bytes)),
        )
        .await;
        match read {
            Ok(Ok(true)) => {}
            other => break other,
        }
    };
    // The hub's position marker (`id: <epoch>-<top>`, no data) is written
    // once when the subscriber joins; anything else is an idle write.
    let text = String::from_utf8_lossy(&written);
    let marker_only = text
        .split_terminator('\n')
        .all(|line| line.is_empty() || line.starts_with("id: "))
        && text.matches("id: ").count() <= 1;
    assert!(
        read.is_err() && marker_only,
        "{bin}: wrote {text:?} to an idle stream within 1.5 s (keep-alive is 15 s)"
    );
    stream.close();
    assert!(
        subscribers_become(server.1, 0).await,
        "{bin}: the departed idle client was not noticed within 10 s"
    );
}

#[tokio::test]
async fn axum() {
    idle_stream_is_silent_and_departure_is_noticed(env!("CARGO_BIN_EXE_bench-axum")).await;
}

#[tokio::test]
async fn warp() {
    idle_stream_is_silent_and_departure_is_noticed(env!("CARGO_BIN_EXE_bench-warp")).await;
}

#[tokio::test]
async fn poem() {
    idle_stream_is_silent_and_departure_is_noticed(env!("CARGO_BIN_EXE_bench-poem")).await;
}

#[tokio::test]
async fn actix_web() {
    idle_stream_is_silent_and_departure_is_noticed(env!("CARGO_BIN_EXE_bench-actix-web")).await;
}
