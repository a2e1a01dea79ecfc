//! The scenarios, each generic over the [`Framework`] under test. Every public
//! function here is instantiated for every framework by
//! `tests/conformance.rs` (see [`crate::for_each_scenario`]).

use std::sync::Arc;
use std::time::Duration;

use crate::Framework;
use crate::client::{SseReader, Version, dechunk, get, raw_get};
use crate::fixtures::{self, Fixtures};
use crate::parser::{Oracle, Parsed};

/// Lists every scenario, once: `for_each_scenario!(my_macro!(args))` calls
/// `my_macro!(args; headers, field_encoding_round_trips, …)`.
#[macro_export]
macro_rules! for_each_scenario {
    ($m:ident ! ( $($args:tt)* )) => {
        $m!(
            $($args)*;
            headers,
            field_encoding_round_trips,
            json_round_trips,
            events_arrive_incrementally,
            keep_alive_when_idle,
            no_keep_alive_while_events_flow,
            disconnect_is_noticed_while_idle,
            last_event_id_reaches_handler,
                        hostile_last_event_id_is_refused,
            repeated_last_event_id_is_refused,
            initial_retry_comes_first,
            large_event_arrives_intact,
            concurrent_streams_complete,
            http2_prior_knowledge,
            compression_middleware_keeps_streaming,
            chunked_body_streams,
            stream_end_is_clean,
            error_item_ends_stream_and_is_logged,
            error_before_first_event_is_http_error,
            ready_events_share_frames_up_to_the_cap,
        );
    };
}

/// The `gated` fixture's contract: event 1 arrives while the handler still
/// waits at the gate, event 2 after the test opens it, then the end.
async fn expect_gated_events(reader: &mut SseReader, gate: &crate::fixtures::Gate) {
    assert_eq!(
        reader.next_event().await,
        Some(Parsed::message("event 1", ""))
    );
    gate.open();
    assert_eq!(
        reader.next_event().await,
        Some(Parsed::message("event 2", ""))
    );
    assert_eq!(reader.next_event().await, None);
}

async fn start<F: Framework>() -> (Arc<Fixtures>, crate::TestServer) {
    let fixtures = Fixtures::new();
    let server = F::serve(Arc::clone(&fixtures)).await;
    (fixtures, server)
}

/// Status 200 and the SSE header set, read as raw bytes: no `Connection`, no
/// `Access-Control-Allow-Origin`.
pub async fn headers<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let reply = raw_get(server.addr, "/sse/count/0", b"").await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert!(reply.head.starts_with("HTTP/1.1 200"), "{}", reply.head);
    assert_eq!(
        reply.header_values("content-type"),
        ["text/event-stream"],
        "{}",
        reply.head
    );
    assert_eq!(
        reply.header_values("cache-control"),
        ["no-cache"],
        "{}",
        reply.head
    );
    assert_eq!(
        reply.header_values("x-accel-buffering"),
        ["no"],
        "{}",
        reply.head
    );
    assert!(
        reply.header_values("connection").is_empty(),
        "no Connection header: {}",
        reply.head
    );
    assert!(
        reply
            .header_values("access-control-allow-origin")
            .is_empty(),
        "no CORS by default: {}",
        reply.head
    );
    assert!(
        reply.header_values("content-length").is_empty(),
        "a stream has no length: {}",
        reply.head
    );
}

/// Every field value comes back exactly as sent, through the independent
/// parser: line breaks of all three kinds, a lone CR that tries to start a
/// field, a trailing newline, a leading space, unicode, empty data, ids
/// (including the empty id that resets), comments with line breaks, retry,
/// event types, setters called twice and JSON holding newlines.
pub async fn field_encoding_round_trips<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let mut reader = SseReader::new(get(server.addr, "/sse/fields/0", &[], Version::Http1).await);
    assert_eq!(reader.reply.status, 200);
    let mut expected = Vec::new();
    let mut comment_lines = Vec::new();
    for (event, parsed) in fixtures::field_cases() {
        for comment in event.comments() {
            for line in comment.split("\r\n").flat_map(|l| l.split(['\r', '\n'])) {
                comment_lines.push(if line.is_empty() {
                    ":\n".to_owned()
                } else {
                    format!(": {line}\n")
                });
            }
        }
        expected.push(parsed);
    }
    let got = reader.rest().await;
    let raw = String::from_utf8_lossy(&reader.raw);
    assert_eq!(got, expected, "raw stream: {raw:?}");
    for line in comment_lines {
        assert!(
            raw.contains(&line),
            "comment line {line:?} missing from the raw stream: {raw:?}"
        );
    }
}

/// JSON event data round-trips through serde.
pub async fn json_round_trips<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let mut reader = SseReader::new(get(server.addr, "/sse/json/0", &[], Version::Http1).await);
    let mut got = Vec::new();
    while let Some(event) = reader.next_event().await {
        let data = event.data().expect("event data").to_owned();
        assert!(!data.contains('\n'), "JSON is one line: {data:?}");
        got.push(serde_json::from_str::<fixtures::NameValue>(&data).expect("valid JSON"));
    }
    assert_eq!(got, fixtures::json_messages());
}

/// Event 1 reaches the client while the handler is still blocked before
/// producing event 2: nothing buffers.
pub async fn events_arrive_incrementally<F: Framework>() {
    let (fixtures, server) = start::<F>().await;
    let (key, gate) = fixtures.gate();
    let mut reader = SseReader::new(
        get(
            server.addr,
            &format!("/sse/gated/{key}"),
            &[],
            Version::Http1,
        )
        .await,
    );
    expect_gated_events(&mut reader, &gate).await;
}

/// While the handler is idle, keep-alive comments arrive (interval 50 ms).
/// They are lone comment lines, invisible to every client.
pub async fn keep_alive_when_idle<F: Framework>() {
    let (fixtures, server) = start::<F>().await;
    let (key, gate) = fixtures.gate();
    let mut reader = SseReader::new(
        get(
            server.addr,
            &format!("/sse/idle/{key}"),
            &[],
            Version::Http1,
        )
        .await,
    );
    assert_eq!(
        reader.next_event().await,
        Some(Parsed::message("start", ""))
    );
    // The parser does not report comments (nor does `EventSource`): read
    // the bytes until two keep-alives followed the event, and no event came
    // in between.
    reader.read_raw_until(b"data: start\n\n:\n:\n").await;
    gate.open();
    assert_eq!(reader.next_event().await, Some(Parsed::message("end", "")));
    assert_eq!(reader.next_event().await, None);
}

/// No keep-alive is written while events flow (60 events 5 ms apart, keep-alive 1 s).
pub async fn no_keep_alive_while_events_flow<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let mut reader = SseReader::new(get(server.addr, "/sse/flowing/0", &[], Version::Http1).await);
    let items = reader.rest().await;
    let expected: Vec<Parsed> = (0..60)
        .map(|i| Parsed::message(&i.to_string(), ""))
        .collect();
    assert_eq!(items, expected);
}

/// The handler's sender observes the client leaving within 1 s, while idle
/// (default keep-alive of 15 s, so no write reveals it).
pub async fn disconnect_is_noticed_while_idle<F: Framework>() {
    let (fixtures, server) = start::<F>().await;
    let (key, gate) = fixtures.gate();
    let mut reader = SseReader::new(
        get(
            server.addr,
            &format!("/sse/disconnect/{key}"),
            &[],
            Version::Http1,
        )
        .await,
    );
    assert_eq!(
        reader.next_event().await,
        Some(Parsed::message("hello", ""))
    );
    drop(reader);
    let report = gate.next_report(Duration::from_secs(1)).await;
    assert_eq!(
        report.as_deref(),
        Some("closed"),
        "the handler noticed the client leaving within 1 s"
    );
}

/// `Last-Event-ID` reaches the handler, absent and empty alike mean none.
pub async fn last_event_id_reaches_handler<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    for (header, expected) in [
        (Some("41".as_bytes()), "41"),
        (Some("ünï-7 ✓".as_bytes()), "ünï-7 ✓"),
        (Some(b"".as_slice()), "<none>"),
        (None, "<none>"),
    ] {
        let headers: Vec<(&str, &[u8])> =
            header.map(|h| ("last-event-id", h)).into_iter().collect();
        let mut reader = SseReader::new(
            get(
                server.addr,
                "/sse/last-event-id/0",
                &headers,
                Version::Http1,
            )
            .await,
        );
        assert_eq!(reader.reply.status, 200);
        assert_eq!(
            reader.next_event().await,
            Some(Parsed::message(expected, ""))
        );
    }
}

/// Over-long (2 KiB) and non-UTF-8 `Last-Event-ID` headers get `400` with
/// the reason, and the server goes on serving.
pub async fn hostile_last_event_id_is_refused<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let long = format!("Last-Event-ID: {}\r\n", "7".repeat(2048));
    for (header, reason) in [
        (long.as_bytes(), "longer than 1024 bytes"),
        (b"Last-Event-ID: \xff\xfe\x80\r\n".as_slice(), "not UTF-8"),
    ] {
        let mut reply = raw_get(server.addr, "/sse/last-event-id/0", header).await;
        assert_eq!(reply.status, 400, "{}", reply.head);
        reply.read_until(reason.as_bytes()).await;
        let body = String::from_utf8_lossy(&reply.rest);
        assert!(body.contains(reason), "the reason is in the body: {body:?}");
        assert!(!body.contains("data:"), "no event leaks: {body:?}");
    }
    let mut reader =
        SseReader::new(get(server.addr, "/sse/last-event-id/0", &[], Version::Http1).await);
    assert_eq!(
        reader.next_event().await,
        Some(Parsed::message("<none>", ""))
    );
}

/// A 1 MiB event of many lines arrives intact, then two events of one
/// ~96 KiB line each, ready together (the actix-web adapter hands such lines
/// on uncopied, between their prefix and their end).
pub async fn large_event_arrives_intact<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let mut reader = SseReader::new(get(server.addr, "/sse/large/0", &[], Version::Http1).await);
    let first = reader.next_event().await.expect("the large event");
    let data = first.data().expect("data");
    assert!(data.len() >= 1_000_000, "{} bytes", data.len());
    assert!(data == fixtures::large_data(), "the 1 MiB data is intact");
    let long = fixtures::long_line_data();
    assert!(
        reader.next_event().await == Some(Parsed::message(&long, "1")),
        "the first long line is intact, with its id"
    );
    assert!(
        reader.next_event().await == Some(Parsed::message(&long, "1")),
        "the second long line is intact (the id carries over)"
    );
    assert_eq!(
        reader.next_event().await,
        Some(Parsed::message("after", "1"))
    );
    assert_eq!(reader.next_event().await, None);
}

/// 200 concurrent streams all complete with exactly their events.
pub async fn concurrent_streams_complete<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let addr = server.addr;
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            tokio::spawn(async move {
                let mut reply = get(addr, "/sse/count/0", &[], Version::Http1).await;
                assert_eq!(reply.status, 200);
                reply.bytes().await
            })
        })
        .collect();
    let expected: Vec<Parsed> = (0..10)
        .map(|i| Parsed::message(&i.to_string(), &i.to_string()))
        .collect();
    for task in tasks {
        let raw = task.await.expect("client task");
        assert_eq!(Oracle::parse_all(&raw), expected);
    }
}

/// HTTP/2 with prior knowledge (h2c): events arrive, and no
/// connection-specific header is sent.
pub async fn http2_prior_knowledge<F: Framework>() {
    let (fixtures, server) = start::<F>().await;
    let (key, gate) = fixtures.gate();
    let reply = get(
        server.addr,
        &format!("/sse/gated/{key}"),
        &[],
        Version::Http2,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert_eq!(reply.header("x-accel-buffering"), Some("no"));
    for name in [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    ] {
        assert!(reply.headers.get(name).is_none(), "HTTP/2 forbids {name}");
    }
    let mut reader = SseReader::new(reply);
    expect_gated_events(&mut reader, &gate).await;
}

/// With the framework's usual compression middleware in front and a client
/// that accepts gzip: where the middleware compresses event streams
/// ([`Framework::COMPRESSES_EVENT_STREAMS`]) the body is gzip and events
/// still arrive one by one, each decompressed as it comes; where it refuses
/// them, the body passes through uncompressed.
pub async fn compression_middleware_keeps_streaming<F: Framework>() {
    let (fixtures, server) = start::<F>().await;
    let (key, gate) = fixtures.gate();
    let reply = get(
        server.addr,
        &format!("/sse/gated/{key}"),
        &[("accept-encoding", b"gzip")],
        Version::Http1,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    if F::COMPRESSES_EVENT_STREAMS {
        assert_eq!(
            reply.header("content-encoding"),
            Some("gzip"),
            "{}'s middleware compresses event streams",
            F::NAME
        );
        assert!(reply.is_gzip());
    } else {
        assert!(
            matches!(reply.header("content-encoding"), None | Some("identity")),
            "{}'s middleware passes event streams through: content-encoding {:?}",
            F::NAME,
            reply.header("content-encoding")
        );
        assert!(!reply.is_gzip());
    }
    let mut reader = SseReader::new(reply);
    expect_gated_events(&mut reader, &gate).await;
}

/// The chunked body: its content type, chunks one by one.
pub async fn chunked_body_streams<F: Framework>() {
    let (fixtures, server) = start::<F>().await;
    let (key, gate) = fixtures.gate();
    let mut reply = get(
        server.addr,
        &format!("/chunked/page/{key}"),
        &[],
        Version::Http1,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
    assert_eq!(reply.header("x-accel-buffering"), Some("no"));
    let mut seen = Vec::new();
    while !seen.ends_with(b"<h1>0</h1>") {
        let chunk = reply
            .chunk()
            .await
            .expect("the first chunks before the gate opens");
        seen.extend_from_slice(&chunk);
    }
    gate.open();
    seen.extend_from_slice(&reply.bytes().await);
    assert_eq!(
        String::from_utf8_lossy(&seen),
        "<html><body><h1>0</h1><h1>1</h1></body></html>"
    );
}

/// The response ends cleanly after the last event: the terminating chunk is
/// on the wire and the parser sees every event.
pub async fn stream_end_is_clean<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let mut raw = raw_get(server.addr, "/sse/count/0", b"").await;
    raw.read_until(b"0\r\n\r\n").await;
    assert!(
        raw.rest.ends_with(b"\r\n0\r\n\r\n"),
        "terminating chunk: {:?}",
        String::from_utf8_lossy(&raw.rest)
    );

    let mut reader = SseReader::new(get(server.addr, "/sse/count/0", &[], Version::Http1).await);
    let items = reader.rest().await;
    assert_eq!(items.len(), 10, "{items:?}");
}

/// An error item from the user's stream ends the response cleanly after the
/// events before it, and the error is logged.
pub async fn error_item_ends_stream_and_is_logged<F: Framework>() {
    let (fixtures, server) = start::<F>().await;
    let (key, gate) = fixtures.gate();
    let mut reader = SseReader::new(
        get(
            server.addr,
            &format!("/sse/error-item/{key}"),
            &[],
            Version::Http1,
        )
        .await,
    );
    let items = reader.rest().await;
    assert_eq!(items, [Parsed::message("before", "")]);
    let message = fixtures::error_item_message(&gate);
    for _ in 0..50 {
        if crate::logs_contain(&message) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the stream's error {message:?} was not logged: no captured tracing output contains it \
         within 1 s{}",
        if crate::logs_captured() {
            ""
        } else {
            " (and no log capture is installed)"
        }
    );
}

/// A handler that refuses before its first event answers an ordinary HTTP
/// error, not a broken stream.
pub async fn error_before_first_event_is_http_error<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let mut reply = get(server.addr, "/sse/refuse/0", &[], Version::Http1).await;
    assert_eq!(reply.status, 401);
    assert_ne!(reply.header("content-type"), Some("text/event-stream"));
    assert_eq!(reply.bytes().await, b"no token");
}

/// Two `Last-Event-ID` headers are refused with `400`: which one would be
/// the client's?
pub async fn repeated_last_event_id_is_refused<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let mut reply = raw_get(
        server.addr,
        "/sse/last-event-id/0",
        b"Last-Event-ID: 1\r\nLast-Event-ID: 2\r\n",
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.head);
    reply.read_until(b"sent more than once").await;
    let body = String::from_utf8_lossy(&reply.rest);
    assert!(
        body.contains("sent more than once"),
        "the reason is in the body: {body:?}"
    );
}

/// `EventStream::retry` sends `retry:` before the first event.
pub async fn initial_retry_comes_first<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let mut reader = SseReader::new(get(server.addr, "/sse/retry/0", &[], Version::Http1).await);
    let items = reader.rest().await;
    assert_eq!(
        items,
        [
            Parsed::Retry { ms: 3000 },
            Parsed::message("after retry", "")
        ]
    );
    assert!(
        reader.raw.starts_with(b"retry: 3000\n\n"),
        "{:?}",
        String::from_utf8_lossy(&reader.raw)
    );
}

/// The batching cap of `EventStream`: ready events are joined into one frame
/// until it holds this many bytes (its docs say 64 KiB).
const BATCH_CAP: usize = 64 * 1024;

/// 300 events of about 1 KiB, all ready at once: they arrive intact and in
/// order; several share a frame (one HTTP/1.1 chunk each, read from the raw
/// socket); and no frame grows past the cap by more than one event.
pub async fn ready_events_share_frames_up_to_the_cap<F: Framework>() {
    let (_fixtures, server) = start::<F>().await;
    let mut reply = raw_get(server.addr, "/sse/burst/0", b"").await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    reply.read_until(b"\r\n0\r\n\r\n").await;
    let chunks = dechunk(&reply.rest);
    let body: Vec<u8> = chunks.concat();
    let expected: Vec<Parsed> = (0..fixtures::BURST_EVENTS)
        .map(|i| Parsed::message(&fixtures::burst_data(i), ""))
        .collect();
    assert!(
        Oracle::parse_all(&body) == expected,
        "the {} events arrive intact and in order",
        fixtures::BURST_EVENTS
    );
    let events_per_chunk: Vec<usize> = chunks
        .iter()
        .map(|chunk| chunk.windows(6).filter(|w| w == b"data: ").count())
        .collect();
    assert!(
        events_per_chunk.iter().any(|&n| n > 1),
        "ready events share frames; events per chunk: {events_per_chunk:?}"
    );
    let event_len = fixtures::burst_data(0).len() + "data: \n\n".len();
    let largest = chunks.iter().map(Vec::len).max().unwrap_or(0);
    assert!(
        largest < BATCH_CAP + event_len,
        "no frame past the {BATCH_CAP}-byte cap by more than one event: largest {largest} bytes"
    );
}
