//! The demo rooms (`GET`/`POST /rooms/{room}`) on all four demo binaries,
//! over real sockets: a posted message reaches the room's streams; a client
//! whose connection is cut resumes with `Last-Event-ID` (or
//! `?last_event_id=`) and gets every message once, in order; bad posts and
//! room names are `400` in the demos' one refusal format.
#![allow(
    clippy::expect_used,
    reason = "test support: a step that fails fails the test, and its message says which step"
)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use ssekit_conformance::client::{STEP_TIMEOUT, SseReader, Version, dechunk, get, keep_alive_post};
use ssekit_conformance::parser::Parsed;
use support::{BINARIES, DemoProcess};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A whole test, all four binaries: bounds a hung server.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A complete answer to a raw request.
#[derive(Debug)]
struct Plain {
    status: u16,
    head: String,
    body: String,
}

impl Plain {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends `method path` with `body` on a new connection (`Connection: close`)
/// and reads the whole answer.
async fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Plain {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut bytes = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    // A server may answer (and close) before reading a refused body.
    let _ = stream.write_all(&bytes).await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(STEP_TIMEOUT, async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                // A reset after the whole answer (the unread body).
                Err(_) if received.windows(4).any(|w| w == b"\r\n\r\n") => break,
                Err(e) => panic!("read the answer to {method} {path}: {e}"),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "{method} {path}: the answer within the step timeout"
    );
    let end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8(received[..end].to_vec()).expect("ASCII head");
    let rest = &received[end + 4..];
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest).concat()
    } else {
        rest.to_vec()
    };
    Plain {
        status,
        body: String::from_utf8(body).expect("UTF-8 body"),
        head,
    }
}

/// Posts `text` to `room`; the new event's id.
async fn post(addr: SocketAddr, room: &str, text: &str) -> String {
    let answer = request(addr, "POST", &format!("/rooms/{room}"), text.as_bytes()).await;
    assert_eq!(answer.status, 200, "POST /rooms/{room}: {answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        answer
            .body
            .split_once('-')
            .is_some_and(|(epoch, offset)| { epoch.len() == 12 && offset.parse::<u64>().is_ok() }),
        "an `<epoch>-<offset>` id: {:?}",
        answer.body
    );
    answer.body
}

/// Opens a room's stream; checks the head and the `retry:` of at most 1 s.
async fn subscribe(addr: SocketAddr, target: &str, last_event_id: Option<&str>) -> SseReader {
    let headers: Vec<(&str, &[u8])> = last_event_id
        .map(|id| ("last-event-id", id.as_bytes()))
        .into_iter()
        .collect();
    let reply = get(addr, target, &headers, Version::Http1).await;
    assert_eq!(reply.status.as_u16(), 200, "GET {target}");
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let mut reader = SseReader::new(reply);
    match reader.next().await {
        Some(Parsed::Retry { ms }) => assert!((1..=1000).contains(&ms), "retry {ms}"),
        other => panic!("GET {target}: a retry first, got {other:?}"),
    }
    reader
}

/// The next event's data and id.
async fn next(reader: &mut SseReader) -> (String, String) {
    let event = tokio::time::timeout(STEP_TIMEOUT, reader.next_event())
        .await
        .expect("the next event within the step timeout");
    match event {
        Some(Parsed::Event {
            ty,
            data,
            last_event_id,
        }) => {
            assert_eq!(ty, "message");
            (data, last_event_id)
        }
        other => panic!("an event, got {other:?}"),
    }
}

async fn each_binary<F, Fut>(check: F)
where
    F: Fn(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let all = async {
        for (name, binary) in BINARIES {
            let demo = DemoProcess::start(name, std::path::Path::new(binary));
            eprintln!("{name}");
            check(demo.addr).await;
        }
    };
    tokio::time::timeout(TEST_TIMEOUT, all)
        .await
        .expect("every binary within the test timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_reaches_every_stream_of_the_room() {
    each_binary(|addr| async move {
        let mut one = subscribe(addr, "/rooms/lobby", None).await;
        let mut two = subscribe(addr, "/rooms/lobby?_=1", None).await;
        let mut other = subscribe(addr, "/rooms/elsewhere", None).await;
        let texts = ["hello", "two\nlines", "ünïcödé ✓", " spaced "];
        let mut ids = Vec::new();
        for text in texts {
            ids.push(post(addr, "lobby", text).await);
        }
        post(addr, "elsewhere", "only here").await;
        for reader in [&mut one, &mut two] {
            for (text, id) in texts.iter().zip(&ids) {
                assert_eq!(next(reader).await, ((*text).to_owned(), id.clone()));
            }
        }
        assert_eq!(next(&mut other).await.0, "only here");
        // The largest message is accepted and arrives whole.
        let largest = "x".repeat(ssekit_examples::MAX_POST_BYTES);
        let id = post(addr, "lobby", &largest).await;
        assert_eq!(next(&mut one).await, (largest, id));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_is_its_percent_decoded_name() {
    each_binary(|addr| async move {
        // What a browser sends for `café`, and `abc` with an encoded `a`.
        let mut cafe = subscribe(addr, "/rooms/caf%C3%A9", None).await;
        let mut abc = subscribe(addr, "/rooms/%61bc", None).await;
        let mut plus = subscribe(addr, "/rooms/a+b", None).await;
        let id = post(addr, "caf%c3%a9", "same room").await;
        assert_eq!(next(&mut cafe).await, ("same room".to_owned(), id));
        let id = post(addr, "abc", "plain name").await;
        assert_eq!(next(&mut abc).await, ("plain name".to_owned(), id));
        // In a path `+` is itself, not a space.
        let id = post(addr, "a%2Bb", "plus").await;
        assert_eq!(next(&mut plus).await, ("plus".to_owned(), id));
    })
    .await;
}

/// A room keeps its last [`ssekit_examples::ROOM_HISTORY_EVENTS`] messages
/// even when each is as large as a post may be: a client that saw only the
/// first of one more gets all the others replayed, no `reset`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_keeps_its_last_messages_even_at_the_largest() {
    each_binary(|addr| async move {
        let kept = ssekit_examples::ROOM_HISTORY_EVENTS;
        let text = |i: usize| format!("{i:06}{}", "x".repeat(ssekit_examples::MAX_POST_BYTES - 6));
        let mut ids = Vec::with_capacity(kept + 1);
        for i in 0..=kept {
            ids.push(post(addr, "large", &text(i)).await);
        }
        let mut reader = subscribe(addr, "/rooms/large", Some(&ids[0])).await;
        for (i, id) in ids.iter().enumerate().skip(1) {
            let (data, got) = next(&mut reader).await;
            assert_eq!((&data[..6], &got), (&text(i)[..6], id), "message {i}");
            assert_eq!(data.len(), ssekit_examples::MAX_POST_BYTES, "message {i}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_resumes_every_message_once_in_order() {
    each_binary(|addr| async move {
        let mut reader = subscribe(addr, "/rooms/resume", None).await;
        let mut posted = Vec::new();
        for i in 0..5 {
            posted.push((format!("m{i}"), post(addr, "resume", &format!("m{i}")).await));
        }
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(next(&mut reader).await);
        }
        // The connection is cut; messages keep coming meanwhile.
        drop(reader);
        for i in 5..10 {
            posted.push((format!("m{i}"), post(addr, "resume", &format!("m{i}")).await));
        }
        let last = seen.last().map(|(_, id)| id.clone()).expect("three seen");
        let mut reader = subscribe(addr, "/rooms/resume", Some(&last)).await;
        while seen.len() < posted.len() {
            seen.push(next(&mut reader).await);
        }
        assert_eq!(seen, posted, "every message once, in order");
        // Cut again and resume through the query, as a first request can.
        drop(reader);
        posted.push(("m10".to_owned(), post(addr, "resume", "m10").await));
        let query = format!("/rooms/resume?last_event_id={}", posted[7].1);
        let mut reader = subscribe(addr, &query, None).await;
        let mut again = Vec::new();
        while again.len() < 3 {
            again.push(next(&mut reader).await);
        }
        assert_eq!(again, posted[8..].to_vec());
        // An id the hub cannot resume from: a visible reset, then live.
        let mut reader = subscribe(addr, "/rooms/resume", Some("nonsense")).await;
        let reset = tokio::time::timeout(STEP_TIMEOUT, reader.next_event())
            .await
            .expect("the reset within the step timeout");
        assert!(
            matches!(&reset, Some(Parsed::Event { ty, data, .. }) if ty == "reset" && data == "malformed"),
            "{reset:?}"
        );
        let id = post(addr, "resume", "after reset").await;
        assert_eq!(next(&mut reader).await, ("after reset".to_owned(), id));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_posts_and_room_names_are_refused() {
    each_binary(|addr| async move {
        let too_large = vec![b'a'; ssekit_examples::MAX_POST_BYTES + 1];
        let long_room = format!("/rooms/{}", "r".repeat(257));
        let dots = "invalid topic: a `.` or `..` segment, which browsers remove from a path";
        let cases: [(&str, &str, &[u8], u16, &str); 17] = [
            ("POST", "/rooms/refused", b"", 400, "invalid body: empty"),
            (
                "POST",
                "/rooms/refused",
                &too_large,
                400,
                "invalid body: longer than 65536 bytes",
            ),
            (
                "POST",
                "/rooms/refused",
                b"\xff\xfe",
                400,
                "invalid body: not UTF-8",
            ),
            ("POST", "/rooms/", b"hi", 400, "invalid topic: empty"),
            ("GET", "/rooms/", b"", 400, "invalid topic: empty"),
            (
                "POST",
                "/rooms/a%2",
                b"hi",
                400,
                "invalid topic: bad percent-encoding",
            ),
            (
                "GET",
                "/rooms/%FF",
                b"",
                400,
                "invalid topic: not UTF-8 once percent-decoded",
            ),
            // Decoded, a control character: the hub's own refusal.
            (
                "POST",
                "/rooms/a%0D%0Aevent:%20spoof",
                b"hi",
                400,
                "invalid topic: control character at byte 1",
            ),
            // A C1 control (NEL) and a bidirectional override, decoded.
            (
                "POST",
                "/rooms/a%C2%85",
                b"hi",
                400,
                "invalid topic: control character at byte 1",
            ),
            (
                "GET",
                "/rooms/%E2%80%AEevil",
                b"",
                400,
                "invalid topic: line separator or bidirectional formatting character at byte 0",
            ),
            // Dot segments, which a browser would remove, as sent and encoded.
            ("POST", "/rooms/.", b"hi", 400, dots),
            ("GET", "/rooms/..", b"", 400, dots),
            ("POST", "/rooms/%2e%2E", b"hi", 400, dots),
            ("POST", "/rooms/./x", b"hi", 400, dots),
            ("GET", "/rooms/a/../ping", b"", 400, dots),
            (
                "POST",
                &long_room,
                b"hi",
                400,
                "invalid topic: longer than 256 bytes",
            ),
            (
                "PUT",
                "/rooms/lobby",
                b"hi",
                405,
                "method not allowed: this route answers GET, HEAD, POST",
            ),
        ];
        for (method, path, body, status, message) in cases {
            let answer = request(addr, method, path, body).await;
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (status, message),
                "{method} {path}"
            );
            assert_eq!(
                answer.header("content-type"),
                Some("text/plain; charset=utf-8")
            );
            let allow = (status == 405).then_some("GET, HEAD, POST");
            assert_eq!(answer.header("allow"), allow, "{method} {path}");
        }
        // Nothing refused was published: a fresh stream resumes from before
        // the first post and sees only the good one.
        let id = post(addr, "refused", "good").await;
        let first = format!("{}-0", id.split_once('-').map_or("", |(epoch, _)| epoch));
        let mut reader = subscribe(addr, "/rooms/refused", Some(&first)).await;
        assert_eq!(next(&mut reader).await, ("good".to_owned(), id));
        // Other routes still refuse POST with their own Allow.
        let answer = request(addr, "POST", "/sse", b"x").await;
        assert_eq!(answer.status, 405);
        assert_eq!(answer.header("allow"), Some("GET, HEAD"));
    })
    .await;
}

/// An upload cut off before its `Content-Length` (the client closes its
/// side of the connection) is refused, never published in part: actix-http
/// ends such a body as if it were complete, so the demos check the length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_upload_is_not_published() {
    each_binary(|addr| async move {
        let mut reader = subscribe(addr, "/rooms/cut", None).await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "POST /rooms/cut HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\n\
             Content-Length: 10\r\n\r\nabc"
        );
        stream.write_all(head.as_bytes()).await.expect("send");
        stream.shutdown().await.expect("close the sending side");
        // Whatever the server answers (a 400, or nothing), it answers within
        // the step; then a whole post is the next event the room sees.
        let mut answer = Vec::new();
        let read = tokio::time::timeout(STEP_TIMEOUT, stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the cut upload's connection ends");
        assert!(
            !answer.starts_with(b"HTTP/1.1 200"),
            "a cut-off upload is not accepted: {:?}",
            String::from_utf8_lossy(&answer)
        );
        let id = post(addr, "cut", "whole").await;
        assert_eq!(next(&mut reader).await, ("whole".to_owned(), id));
    })
    .await;
}

/// Sends `head` (and `body`) on a new connection and reads until the server
/// closes it, within `within`: what it answered.
async fn answer_to(addr: SocketAddr, head: &str, body: &[u8], within: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    stream.write_all(body).await.expect("send the body");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        // A reset after the answer (the unread body) ends it too.
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "an answer, and the connection closed, in time"
    );
    String::from_utf8_lossy(&answer).into_owned()
}

/// An upload declared longer than a message may be is refused before it is
/// sent, and one that stalls is answered `408` once
/// [`ssekit_examples::limits::BODY_READ_TIMEOUT`] is up: neither holds its
/// connection (one of `--max-connections`) for ever. The four binaries at
/// once, so the test waits out the timeout once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_or_oversized_upload_is_refused_not_waited_for() {
    let demos: Vec<DemoProcess> = BINARIES
        .iter()
        .map(|(name, binary)| DemoProcess::start(name, std::path::Path::new(binary)))
        .collect();
    let checks = demos.iter().map(|demo| async move {
        let addr = demo.addr;
        let mut reader = subscribe(addr, "/rooms/stall", None).await;
        let head = |length: u64| {
            format!(
                "POST /rooms/stall HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\n\
                 Content-Length: {length}\r\nConnection: close\r\n\r\n"
            )
        };
        let huge = answer_to(addr, &head(1_000_000_000), b"", STEP_TIMEOUT).await;
        assert!(huge.starts_with("HTTP/1.1 400"), "{huge:?}");
        assert!(
            huge.ends_with("invalid body: longer than 65536 bytes"),
            "{huge:?}"
        );
        let within = ssekit_examples::limits::BODY_READ_TIMEOUT + STEP_TIMEOUT;
        let stalled = answer_to(addr, &head(10), b"a", within).await;
        assert!(stalled.starts_with("HTTP/1.1 408"), "{stalled:?}");
        assert!(
            stalled.ends_with("request timeout: the body did not arrive within 10 s"),
            "{stalled:?}"
        );
        // Neither was published: the next message is the room's first.
        let id = post(addr, "stall", "whole").await;
        assert_eq!(next(&mut reader).await, ("whole".to_owned(), id));
    });
    tokio::time::timeout(TEST_TIMEOUT, futures_util::future::join_all(checks))
        .await
        .expect("every binary within the test timeout");
}

/// With [`ssekit_examples::MAX_ROOMS`] rooms in memory, a new room lets
/// the least recently used room that nobody listens to go (a client that
/// resumes there gets `reset`, never a gap); only when every room has a
/// listener is a new room `503` (the server is full, the client did
/// nothing wrong), and the rooms there work on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hub_lets_an_idle_room_go_and_refuses_only_when_all_are_listened_to() {
    each_binary(|addr| async move {
        let max = ssekit_examples::MAX_ROOMS;
        let mut first = String::new();
        for i in 0..max {
            let id = post(addr, &format!("full{i}"), "x").await;
            if i == 0 {
                first = id;
            }
        }
        // Full of rooms nobody listens to: `full0`, the least recently
        // used, goes for the new one.
        post(addr, "one-more", "x").await;
        let mut reader = subscribe(addr, "/rooms/full0", Some(&first)).await;
        let event = tokio::time::timeout(STEP_TIMEOUT, reader.next_event())
            .await
            .expect("the reset within the step timeout");
        assert!(
            matches!(&event, Some(Parsed::Event { ty, data, .. }) if ty == "reset" && data == "unknown_epoch"),
            "{event:?}"
        );
        // Listeners on every room (`full0` has one already): a new room is
        // `503`, for a post and for a subscriber.
        let mut listeners = vec![reader];
        for i in (1..max).map(|i| format!("full{i}")).chain(["one-more".to_owned()]) {
            if listeners.len() == max {
                break;
            }
            listeners.push(subscribe(addr, &format!("/rooms/{i}"), None).await);
        }
        for method in ["POST", "GET"] {
            let answer = request(addr, method, "/rooms/yet-another", b"x").await;
            assert_eq!(answer.status, 503, "{method}: {answer:?}");
            assert_eq!(
                answer.body,
                format!("service unavailable: too many topics: the hub holds {max} already")
            );
            assert_eq!(answer.header("retry-after"), Some("1"), "{method}");
        }
        post(addr, "full1", "still here").await;
    })
    .await;
}

/// A post that comes after the shutdown signal, on a connection kept alive
/// from before it, is not published into the in-memory hub that goes with
/// the process: `503`, or the connection closed. actix-web keeps serving
/// for 200 ms after the signal (its demo's grace for streams), and
/// answered `200` there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_during_shutdown_is_refused() {
    let all = async {
        for (name, binary) in BINARIES {
            let demo = DemoProcess::start(name, std::path::Path::new(binary));
            let mut reader = subscribe(demo.addr, "/rooms/closing", None).await;
            let mut stream = TcpStream::connect(demo.addr).await.expect("connect");
            assert_eq!(
                keep_alive_post(&mut stream, "closing", "before").await,
                Some(200),
                "{name}"
            );
            assert_eq!(next(&mut reader).await.0, "before", "{name}");
            demo.signal_terminate();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let status = keep_alive_post(&mut stream, "closing", "after").await;
            assert!(
                matches!(status, None | Some(503)),
                "{name}: a post after the shutdown signal got {status:?}"
            );
        }
    };
    tokio::time::timeout(TEST_TIMEOUT, all)
        .await
        .expect("every binary within the test timeout");
}
