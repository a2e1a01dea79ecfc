//! `/bench/publish` at the contract's largest size reaches every hub
//! subscriber of every server, ssekit and built-in: a message as big as a
//! default hub queue bound once ended every ssekit subscriber.
#![allow(
    clippy::expect_used,
    reason = "test support: a step that fails is the test failing, with its message"
)]

use std::time::Duration;

use ssekit_bench::MAX_SIZE;
use ssekit_bench::client::{self, SseParser};

mod support;

use support::start;

async fn largest_messages_arrive_whole(bin: &str, flavour: &str) {
    let server = start(bin, flavour);
    let mut stream = client::request(server.1, "GET", "/bench/hub")
        .await
        .expect("GET /bench/hub");
    assert_eq!(stream.status, 200);
    let publish = format!("/bench/publish?n=3&size={MAX_SIZE}&rate=0");
    let response = client::request(server.1, "POST", &publish)
        .await
        .expect("POST /bench/publish");
    assert_eq!(response.status, 202, "{bin} {flavour}");
    let mut parser = SseParser::default();
    let mut sizes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while sizes.len() < 3 {
            let more = stream
                .next(&mut |bytes| parser.feed(bytes, &mut |seen| sizes.push(seen.data_len)))
                .await
                .expect("read");
            if !more {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "{bin} {flavour}: 3 messages within 20 s");
    assert_eq!(
        sizes, [MAX_SIZE; 3],
        "{bin} {flavour}: every message, whole"
    );
}

macro_rules! servers {
    ($($name:ident = $bin:literal),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                for flavour in ["ssekit", "builtin"] {
                    largest_messages_arrive_whole(env!(concat!("CARGO_BIN_EXE_", $bin)), flavour).await;
                }
            }
        )*
    };
}

servers!(
    axum = "bench-axum",
    warp = "bench-warp",
    poem = "bench-poem",
    actix_web = "bench-actix-web",
);
