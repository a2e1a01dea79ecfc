//! The fan-out floor (`bench-floor`) keeps the benchmark contract's hub
//! routes, over real sockets: every subscriber gets every message once, in
//! order, `size` bytes each; a publish out of bounds is refused.
#![allow(
    clippy::expect_used,
    reason = "test support: a step that fails is the test failing, with its message"
)]

use std::time::Duration;

use ssekit_bench::client::{self, SseParser};

mod support;

use support::start;

#[tokio::test]
async fn every_subscriber_gets_every_message_once_in_order() {
    let server = start(env!("CARGO_BIN_EXE_bench-floor"), "limit");
    let mut streams = Vec::new();
    for _ in 0..3 {
        let stream = client::request(server.1, "GET", "/bench/hub")
            .await
            .expect("GET /bench/hub");
        assert_eq!(stream.status, 200);
        streams.push(stream);
    }
    let count = client::subscribers(server.1).await.expect("subscribers");
    assert_eq!(count, 3);
    let refused = client::request(server.1, "POST", "/bench/publish?n=10000000&size=1000000")
        .await
        .expect("POST /bench/publish");
    assert_eq!(refused.status, 400, "more than the floor keeps");
    let published = client::request(server.1, "POST", "/bench/publish?n=300&size=64&rate=0")
        .await
        .expect("POST /bench/publish");
    assert_eq!(published.status, 202);
    for mut stream in streams {
        let mut parser = SseParser::default();
        let mut seqs = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            while seqs.len() < 300 {
                let more = stream
                    .next(&mut |bytes| {
                        parser.feed(bytes, &mut |seen| {
                            assert_eq!(seen.data_len, 64, "data of exactly `size` bytes");
                            let head = String::from_utf8_lossy(seen.head()).into_owned();
                            let seq: u64 = head
                                .split(' ')
                                .next()
                                .and_then(|s| s.parse().ok())
                                .expect("<seq> first");
                            seqs.push(seq);
                        });
                    })
                    .await
                    .expect("read");
                assert!(more, "the stream ended");
            }
        })
        .await;
        assert!(read.is_ok(), "300 messages within 10 s; got {}", seqs.len());
        assert_eq!(seqs, (0..300).collect::<Vec<u64>>());
    }
}
