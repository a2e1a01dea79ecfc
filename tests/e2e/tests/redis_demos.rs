//! Two demo binaries of two different frameworks started with
//! `--redis URL` on one `redis-server` (the test's own, on a free loopback
//! port): a client that alternates between them, cutting its connection and
//! resuming with `Last-Event-ID`, gets every posted message exactly once, in
//! order, also across a Redis restart; without persistence, it gets `reset`
//! where the data was lost and never a wrong event, and the service comes
//! back without restarting the servers.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a step that fails fails the test, and its message says which step"
)]

use std::net::SocketAddr;
use std::time::Duration;

use ssekit_conformance::client::{SseReader, Version, dechunk, get, keep_alive_post};
use ssekit_conformance::parser::Parsed;
use ssekit_e2e::redis_server::{Persistence, RedisServer};
use ssekit_e2e::{DemoProcess, demo_binary, frameworks};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(120);

/// Two demos of two different frameworks on the Redis at `url`.
fn two_demos(url: &str) -> [DemoProcess; 2] {
    let names = frameworks();
    let (first, second) = (&names[0], &names[1]);
    [first, second]
        .map(|name| DemoProcess::start_with_args(name, &demo_binary(name), &["--redis", url]))
}

/// `POST /rooms/{room}`: the status and the body (the new event's id).
async fn post(addr: SocketAddr, room: &str, text: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST /rooms/{room} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: text/plain\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .await
        .expect("read the reply");
    let text = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a reply head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body.as_bytes())
            .into_iter()
            .map(|c| String::from_utf8_lossy(&c).into_owned())
            .collect()
    } else {
        body.to_owned()
    };
    (status, body)
}

/// Posts until the answer is `200` (`503` while Redis is down); returns the id.
async fn post_retrying(addr: SocketAddr, room: &str, text: &str) -> String {
    loop {
        match post(addr, room, text).await {
            (200, id) => return id,
            (503, reason) => {
                eprintln!("POST {text}: 503 {reason}; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (status, body) => panic!("POST {text}: {status} {body}"),
        }
    }
}

async fn subscribe(addr: SocketAddr, room: &str, last_id: Option<&str>) -> SseReader {
    let headers: Vec<(&str, &[u8])> = last_id
        .map(|id| vec![("last-event-id", id.as_bytes())])
        .unwrap_or_default();
    let reply = get(addr, &format!("/rooms/{room}"), &headers, Version::Http1).await;
    assert_eq!(reply.status, 200);
    let mut reader = SseReader::new(reply);
    if last_id.is_none() {
        // A new subscriber starts live from the position it is sent first
        // (with a backplane, the top its read found).
        reader.read_raw_until(b"id: ").await;
    }
    reader
}

/// `(type, data, id)` of the next event.
async fn next(reader: &mut SseReader) -> Option<(String, String, String)> {
    match reader.next_event().await? {
        Parsed::Event {
            ty,
            data,
            last_event_id,
        } => Some((ty, data, last_event_id)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_alternating_between_two_frameworks_gets_every_message_once_across_a_redis_restart()
 {
    // `appendfsync always`: the demos may keep the rooms' epochs across
    // Redis's restart (`--redis-durable`).
    let mut redis = RedisServer::start(Persistence::Aof);
    let names = frameworks();
    let demos = [&names[0], &names[1]].map(|name| {
        DemoProcess::start_with_args(
            name,
            &demo_binary(name),
            &["--redis", &redis.url(), "--redis-durable"],
        )
    });
    timeout(LIMIT, async {
        let mut posted = Vec::new();
        let mut received: Vec<(String, String, String)> = Vec::new();
        let mut last_id: Option<String> = None;
        for round in 0..8 {
            let here = &demos[round % 2];
            let there = &demos[(round + 1) % 2];
            let mut reader = subscribe(here.addr, "alt", last_id.as_deref()).await;
            if round == 4 {
                redis.restart(); // mid-stream, with its append-only file
            }
            // Five messages, posted to either instance.
            for i in 0..5 {
                let text = format!("r{round}m{i}");
                let to = if i % 2 == 0 { there } else { here };
                post_retrying(to.addr, "alt", &text).await;
                posted.push(text);
            }
            // Read some of what is owed, then cut the connection: the rest
            // comes on the other instance.
            let owed = posted.len() - received.len();
            eprintln!("round {round}: {owed} owed, reading 3");
            for _ in 0..owed.min(3) {
                let event = loop {
                    if let Some(event) = next(&mut reader).await {
                        break event;
                    }
                    // The stream ended (its join's read of the history fell
                    // in Redis's restart): reconnect, as a browser does.
                    eprintln!("round {round}: the stream ended; reconnecting");
                    reader = subscribe(here.addr, "alt", last_id.as_deref()).await;
                };
                last_id = Some(event.2.clone());
                received.push(event);
            }
        }
        let mut reader = subscribe(demos[0].addr, "alt", last_id.as_deref()).await;
        while received.len() < posted.len() {
            received.push(next(&mut reader).await.expect("an event"));
        }
        assert!(
            received.iter().all(|(ty, _, _)| ty == "message"),
            "no reset: {received:?}"
        );
        let datas: Vec<&str> = received.iter().map(|(_, d, _)| d.as_str()).collect();
        assert_eq!(datas, posted, "every message once, in order");
        let offsets: Vec<u64> = received
            .iter()
            .map(|(_, _, id)| {
                id.rsplit_once('-')
                    .and_then(|(_, o)| o.parse().ok())
                    .expect("an offset")
            })
            .collect();
        assert_eq!(offsets, (1..=40).collect::<Vec<u64>>());
    })
    .await
    .expect("within the time limit");
    drop(demos);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_persistence_a_redis_restart_resets_and_the_service_comes_back() {
    let mut redis = RedisServer::start(Persistence::None);
    let demos = two_demos(&redis.url());
    timeout(LIMIT, async {
        let mut reader = subscribe(demos[0].addr, "lost", None).await;
        for i in 0..3 {
            post_retrying(demos[1].addr, "lost", &format!("old{i}")).await;
        }
        let mut old = Vec::new();
        for _ in 0..3 {
            old.push(next(&mut reader).await.expect("an event"));
        }
        let last_old = old[2].2.clone();
        redis.restart(); // the data is gone
        let first_new = post_retrying(demos[1].addr, "lost", "new0").await;
        assert!(first_new.ends_with("-1"), "a new epoch: {first_new}");
        // The open stream never sends the new epoch's event under the old
        // one: it ends (the browser reconnects), or sends nothing more.
        let rest = timeout(Duration::from_secs(10), async {
            let mut rest = Vec::new();
            while let Some(event) = next(&mut reader).await {
                rest.push(event);
            }
            rest
        })
        .await
        .expect("the open stream ends once the epoch changed");
        assert!(rest.is_empty(), "no event after the loss: {rest:?}");
        // Resuming with the old id, on either framework: reset, then live.
        for demo in &demos {
            let mut again = subscribe(demo.addr, "lost", Some(&last_old)).await;
            let (ty, data, id) = next(&mut again).await.expect("the reset");
            assert_eq!((ty.as_str(), data.as_str()), ("reset", "unknown_epoch"));
            assert_eq!(id, first_new);
        }
        let mut live = subscribe(demos[0].addr, "lost", Some(&first_new)).await;
        post_retrying(demos[1].addr, "lost", "new1").await;
        let (ty, data, _) = next(&mut live).await.expect("live again");
        assert_eq!((ty.as_str(), data.as_str()), ("message", "new1"));
    })
    .await
    .expect("within the time limit");
    drop(demos);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_racing_on_two_frameworks_get_unique_contiguous_ids() {
    let redis = RedisServer::start(Persistence::None);
    let demos = two_demos(&redis.url());
    timeout(LIMIT, async {
        let mut listener = subscribe(demos[1].addr, "race", None).await;
        let mut posters = tokio::task::JoinSet::new();
        for (d, demo) in demos.iter().enumerate() {
            for p in 0..4 {
                let addr = demo.addr;
                posters.spawn(async move {
                    let mut ids = Vec::new();
                    for i in 0..25 {
                        ids.push(post_retrying(addr, "race", &format!("{d}.{p}.{i}")).await);
                    }
                    ids
                });
            }
        }
        let mut ids = Vec::new();
        while let Some(done) = posters.join_next().await {
            ids.extend(done.expect("a poster"));
        }
        let epochs: std::collections::BTreeSet<&str> = ids
            .iter()
            .filter_map(|id| id.split_once('-').map(|p| p.0))
            .collect();
        assert_eq!(epochs.len(), 1, "one epoch: {epochs:?}");
        let mut offsets: Vec<u64> = ids
            .iter()
            .filter_map(|id| id.split_once('-').and_then(|p| p.1.parse().ok()))
            .collect();
        offsets.sort_unstable();
        assert_eq!(offsets, (1..=200).collect::<Vec<u64>>());
        // The listener gets all 200, in offset order, each once.
        let mut seen = Vec::new();
        while seen.len() < 200 {
            seen.push(next(&mut listener).await.expect("an event").2);
        }
        let mut sorted = ids.clone();
        sorted.sort_by_key(|id| id.split_once('-').and_then(|p| p.1.parse::<u64>().ok()));
        assert_eq!(seen, sorted);
    })
    .await
    .expect("within the time limit");
    drop(demos);
}

/// A post still waiting on a Redis that hangs when the shutdown signal comes
/// gets its answer (`503`: the message may have been published) before the
/// instance exits, which it does within its graceful limit. (actix-web
/// stopped 200 ms after the signal and closed such a post's connection with
/// no answer before session 13.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_waiting_on_a_hung_redis_is_answered_before_the_instance_exits() {
    let redis = RedisServer::start(Persistence::None);
    let url = redis.url();
    let all = async {
        for name in frameworks() {
            let mut demo =
                DemoProcess::start_with_args(&name, &demo_binary(&name), &["--redis", &url]);
            let mut stream = tokio::net::TcpStream::connect(demo.addr)
                .await
                .expect("connect");
            let before = keep_alive_post(&mut stream, "hung", "before").await;
            assert_eq!(before, Some(200), "{name}");
            redis.freeze();
            let during =
                tokio::spawn(async move { keep_alive_post(&mut stream, "hung", "during").await });
            tokio::time::sleep(Duration::from_millis(300)).await;
            let exited = tokio::task::block_in_place(|| demo.terminate(Duration::from_secs(10)));
            let answer = during.await.expect("the post's task");
            redis.thaw();
            assert_eq!(
                answer,
                Some(503),
                "{name}: a post waiting on Redis at the shutdown signal"
            );
            assert!(exited, "{name} exited with a failure");
        }
    };
    timeout(LIMIT, all).await.expect("bounded in time");
}

/// A post that comes after the shutdown signal, on a connection kept alive
/// from before it, is refused on Redis too (`503`, or the connection
/// closed): the instance is going and takes no new work. (actix-web keeps
/// serving its open connections after the signal until its responses are
/// done, and answered `200` there before session 12.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_after_the_shutdown_signal_is_refused() {
    let redis = RedisServer::start(Persistence::None);
    let url = redis.url();
    let all = async {
        for name in frameworks() {
            let demo = DemoProcess::start_with_args(&name, &demo_binary(&name), &["--redis", &url]);
            let mut stream = tokio::net::TcpStream::connect(demo.addr)
                .await
                .expect("connect");
            let before = keep_alive_post(&mut stream, "closing", "before").await;
            assert_eq!(before, Some(200), "{name}");
            demo.signal_terminate();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let after = keep_alive_post(&mut stream, "closing", "after").await;
            assert!(
                matches!(after, None | Some(503)),
                "{name}: a post after the shutdown signal got {after:?}"
            );
        }
    };
    timeout(LIMIT, all).await.expect("bounded in time");
}
