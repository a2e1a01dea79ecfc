//! The hub scenarios ([`ssekit::Hub`] behind each framework's adapter), each
//! generic over a [`HubFramework`]; `tests/hub.rs` instantiates every one for
//! every framework (see [`crate::for_each_hub_scenario`]).
//!
//! The server is real (`127.0.0.1:0`), the clients are the harness's hyper
//! clients and raw TCP, and every stream is read through the independent
//! parser, as a browser's `EventSource` would see it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ssekit::{Event, Hub};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::client::{STEP_TIMEOUT, SseReader, Version, get};
use crate::parser::{Oracle, Parsed};
use crate::{Framework, TestServer};

/// A framework that can serve a hub.
pub trait HubFramework: Framework {
    /// Serves, on `127.0.0.1:0` until the returned server is dropped,
    /// `GET /hub/{topic}` → `hub.subscribe(topic, from)` where `from` is the
    /// adapter's `ResumeFrom` (`Last-Event-ID` header, else
    /// `?last_event_id=`), through the adapter's response type; an invalid
    /// topic answers `400` with the reason.
    fn serve_hub(hub: Hub) -> impl Future<Output = TestServer> + Send {
        Self::serve_hub_route(HubRoute::new(hub))
    }

    /// Like [`HubFramework::serve_hub`], each stream as `route` says
    /// ([`hub_route`]).
    fn serve_hub_route(route: HubRoute) -> impl Future<Output = TestServer> + Send;

    /// Like [`HubFramework::serve_hub`], each stream ended by `shutdown`
    /// ([`ssekit::EventStream::shutdown`]), and the server run under the
    /// framework's own graceful shutdown, started by the same token (axum
    /// `with_graceful_shutdown`, warp `graceful`, poem
    /// `run_with_graceful_shutdown` without a timeout, actix-web
    /// `ServerHandle::stop(true)`). The returned server's `finished`
    /// completes when the framework's graceful shutdown has completed.
    fn serve_hub_graceful(
        hub: Hub,
        shutdown: ssekit::Shutdown,
    ) -> impl Future<Output = GracefulServer> + Send;
}

/// What every driver's hub route serves: `route.hub.subscribe(topic, from)`,
/// ended by the route's `shutdown` when given and coalescing as it says;
/// `Err` is the reason for a `400`.
///
/// # Errors
///
/// An invalid topic, with the hub's reason.
pub fn hub_route(
    route: &HubRoute,
    topic: &str,
    from: ssekit::Resume,
) -> Result<ssekit::EventStream<ssekit::Subscription>, String> {
    let stream = route
        .hub
        .subscribe(topic, from)
        .map_err(|err| err.to_string())?
        .coalesce(route.coalesce);
    Ok(match &route.shutdown {
        Some(shutdown) => stream.shutdown(shutdown.clone()),
        None => stream,
    })
}

/// The state of a driver's hub route.
#[derive(Clone, Debug)]
pub struct HubRoute {
    /// The hub.
    pub hub: Hub,
    /// Ends each stream, for the graceful-shutdown scenario.
    pub shutdown: Option<ssekit::Shutdown>,
    /// [`ssekit::EventStream::coalesce`] on each stream (zero: off).
    pub coalesce: Duration,
}

impl HubRoute {
    /// The plain route: no shutdown, no coalescing.
    #[must_use]
    pub fn new(hub: Hub) -> Self {
        Self {
            hub,
            shutdown: None,
            coalesce: Duration::ZERO,
        }
    }
}

/// A server under its framework's graceful shutdown.
#[derive(Debug)]
pub struct GracefulServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Completes when the framework's graceful shutdown has completed.
    pub finished: tokio::sync::oneshot::Receiver<()>,
}

/// Lists every hub scenario, once: `for_each_hub_scenario!(my_macro!(args))`
/// calls `my_macro!(args; hub_fan_out_reaches_every_subscriber_in_order, …)`.
#[macro_export]
macro_rules! for_each_hub_scenario {
    ($m:ident ! ( $($args:tt)* )) => {
        $m!(
            $($args)*;
            hub_fan_out_reaches_every_subscriber_in_order,
            hub_resume_after_cut_replays_exactly_the_missed_events,
            hub_lone_subscriber_resumes_after_the_topic_was_released,
            hub_query_last_event_id_on_first_request,
            hub_reset_for_unknown_id,
            hub_reset_for_too_old_id,
            hub_reset_for_foreign_epoch,
            hub_reset_for_malformed_ids,
            hub_invalid_topic_is_400,
            hub_non_reading_client_is_dropped_reading_one_stays,
            hub_thousand_reconnects_deliver_every_event_once_in_order,
            graceful_shutdown_ends_open_streams_cleanly,
            hub_shutdown_writes_what_was_published_before_it,
            hub_coalesced_bursts_arrive_whole_and_in_order,
            hub_keep_alive_while_the_topic_is_quiet,
            hub_streams_of_a_closed_h2_connection_end_at_once,
        );
    };
}

async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &[u8])]) -> SseReader {
    open_with(addr, path, headers, Version::Http1).await
}

async fn open_with(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &[u8])],
    version: Version,
) -> SseReader {
    let reader = SseReader::new(get(addr, path, headers, version).await);
    assert_eq!(reader.reply.status, 200, "GET {path}");
    assert_eq!(
        reader.reply.header("content-type"),
        Some("text/event-stream")
    );
    reader
}

/// The next event as `(type, data, last event id)`.
async fn next(reader: &mut SseReader) -> (String, String, String) {
    match reader.next_event().await {
        Some(Parsed::Event {
            ty,
            data,
            last_event_id,
        }) => (ty, data, last_event_id),
        other => panic!("expected an event, got {other:?}"),
    }
}

/// The next event, which must be a message; `(data, last event id)`.
async fn next_message(reader: &mut SseReader) -> (String, String) {
    let (ty, data, id) = next(reader).await;
    assert_eq!(ty, "message", "{data:?}");
    (data, id)
}

fn epoch_of(id: &ssekit::EventId) -> String {
    id.as_str()
        .split_once('-')
        .map(|(epoch, _)| epoch.to_owned())
        .expect("<epoch>-<offset>")
}

/// Publishes `data` for each of `range` to `topic`; returns the ids.
fn publish_range(hub: &Hub, topic: &str, range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range
        .map(|i| {
            hub.publish(topic, Event::new(i.to_string()))
                .expect("valid topic")
                .id()
                .as_str()
                .to_owned()
        })
        .collect()
}

/// The subscribers of a quiet topic get the hub's keep-alive comments
/// (`HubBuilder::keep_alive`, every 50 ms here), over HTTP/1.1 and HTTP/2
/// alike, and then the topic's next event. (That the hub, not a timer per
/// stream, sends them, the hub's unit tests check.)
pub async fn hub_keep_alive_while_the_topic_is_quiet<F: HubFramework>() {
    let hub = Hub::builder()
        .keep_alive(ssekit::KeepAlive::new().interval(Duration::from_millis(50)))
        .build();
    let server = F::serve_hub(hub.clone()).await;
    let mut readers = Vec::new();
    for version in [Version::Http1, Version::Http2] {
        readers.push(open_with(server.addr, "/hub/quiet", &[], version).await);
    }
    let joined_at = hub.topic_stats("quiet").expect("the topic exists").last_id;
    for reader in &mut readers {
        // The position marker, then two keep-alives and nothing else.
        reader
            .read_raw_until(format!("id: {joined_at}\n\n:\n:\n").as_bytes())
            .await;
    }
    let id = publish_range(&hub, "quiet", 1..=1).remove(0);
    for reader in &mut readers {
        assert_eq!(next_message(reader).await, ("1".to_owned(), id.clone()));
    }
    assert_eq!(hub.stats().delivered, 2, "keep-alives are not events");
}

/// Three subscribers (two HTTP/1.1, one HTTP/2) each receive all 50
/// events, in order, with the ids the publisher was given.
pub async fn hub_fan_out_reaches_every_subscriber_in_order<F: HubFramework>() {
    let hub = Hub::new();
    let server = F::serve_hub(hub.clone()).await;
    let mut readers = Vec::new();
    for version in [Version::Http1, Version::Http1, Version::Http2] {
        readers.push(open_with(server.addr, "/hub/fan", &[], version).await);
    }
    assert_eq!(hub.topic_stats("fan").map(|t| t.subscribers), Some(3));
    let ids = publish_range(&hub, "fan", 1..=50);
    for reader in &mut readers {
        for (i, id) in (1..=50).zip(&ids) {
            assert_eq!(next_message(reader).await, (i.to_string(), id.clone()));
        }
    }
}

/// Subscribers whose streams coalesce bursts (20 ms; one HTTP/1.1, one
/// HTTP/2) receive every event of bursts published faster than that, once,
/// in order, with the ids the publisher was given; an event after a pause
/// too. (That a burst leaves in one write, and when, the unit tests of
/// `EventStream::coalesce` check, on a paused clock.)
pub async fn hub_coalesced_bursts_arrive_whole_and_in_order<F: HubFramework>() {
    let hub = Hub::new();
    let server = F::serve_hub_route(HubRoute {
        coalesce: Duration::from_millis(20),
        ..HubRoute::new(hub.clone())
    })
    .await;
    let mut readers = Vec::new();
    for version in [Version::Http1, Version::Http2] {
        readers.push(open_with(server.addr, "/hub/burst", &[], version).await);
    }
    assert_eq!(hub.topic_stats("burst").map(|t| t.subscribers), Some(2));
    let mut ids = Vec::new();
    for burst in 0..10u32 {
        ids.extend(publish_range(
            &hub,
            "burst",
            burst * 20 + 1..=burst * 20 + 20,
        ));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    for reader in &mut readers {
        for (i, id) in (1..=200).zip(&ids) {
            assert_eq!(next_message(reader).await, (i.to_string(), id.clone()));
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let last = publish_range(&hub, "burst", 201..=201);
    for reader in &mut readers {
        assert_eq!(
            next_message(reader).await,
            ("201".to_owned(), last[0].clone())
        );
    }
}

/// A client reads 5 events, its connection is cut, 5 more are published,
/// and it reconnects with `Last-Event-ID` of the last event it saw: it
/// receives exactly events 6 to 10, then live ones.
pub async fn hub_resume_after_cut_replays_exactly_the_missed_events<F: HubFramework>() {
    let hub = Hub::new();
    let server = F::serve_hub(hub.clone()).await;
    let mut reader = open(server.addr, "/hub/cut", &[]).await;
    publish_range(&hub, "cut", 1..=5);
    let mut last = String::new();
    for i in 1..=5 {
        let (data, id) = next_message(&mut reader).await;
        assert_eq!(data, i.to_string());
        last = id;
    }
    drop(reader);
    publish_range(&hub, "cut", 6..=10);
    let mut reader = open(
        server.addr,
        "/hub/cut",
        &[("last-event-id", last.as_bytes())],
    )
    .await;
    for i in 6..=10 {
        assert_eq!(next_message(&mut reader).await.0, i.to_string());
    }
    publish_range(&hub, "cut", 11..=11);
    assert_eq!(next_message(&mut reader).await.0, "11");
    assert_eq!(hub.stats().replayed, 5);
}

/// A topic's only subscriber leaves before the first event, with only the
/// position marker (`<epoch>-0`); the topic is released (no subscriber, no
/// history); the first event is published while nobody listens. The
/// browser's reconnect with the marker gets that event, not a reset. (A
/// short keep-alive: a server that does not watch for departures notices
/// one when it next writes.)
pub async fn hub_lone_subscriber_resumes_after_the_topic_was_released<F: HubFramework>() {
    let hub = Hub::builder()
        .keep_alive(ssekit::KeepAlive::new().interval(Duration::from_millis(20)))
        .build();
    let server = F::serve_hub(hub.clone()).await;
    let mut reader = open(server.addr, "/hub/lone", &[]).await;
    reader.read_raw_until(b"-0\n\n").await;
    let marker = reader.last_event_id().to_owned();
    assert!(marker.ends_with("-0"), "the position marker: {marker:?}");
    drop(reader);
    // Bounded: the server notices the departure and the topic goes.
    assert!(
        released_in_time(&hub, "lone").await,
        "the topic released once its only subscriber left"
    );
    let published = publish_range(&hub, "lone", 1..=1);
    let mut reader = open(
        server.addr,
        "/hub/lone",
        &[("last-event-id", marker.as_bytes())],
    )
    .await;
    assert_eq!(
        next_message(&mut reader).await,
        ("1".to_owned(), published[0].clone())
    );
}

/// Many streams on one HTTP/2 connection; the client cancels them
/// (`RST_STREAM`) and closes the connection (`GOAWAY`, then the socket):
/// the server notices at once that every one of them left (the topic is
/// released), not at their next keep-alive (15 s, longer than the step
/// timeout). On actix-web this takes the adapter's `on_connect` watch (the
/// hub harness had none, and without it all stayed subscribed).
pub async fn hub_streams_of_a_closed_h2_connection_end_at_once<F: HubFramework>() {
    const STREAMS: usize = 100;
    let hub = Hub::new();
    let server = F::serve_hub(hub.clone()).await;
    let tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let (sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("HTTP/2 handshake");
    let conn = tokio::spawn(conn);
    let mut responses = Vec::new();
    for _ in 0..STREAMS {
        let request = http::Request::get(format!("http://{}/hub/h2", server.addr))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .expect("request");
        let response = tokio::time::timeout(STEP_TIMEOUT, sender.clone().send_request(request))
            .await
            .expect("a response head within the step timeout")
            .expect("HTTP/2 response");
        assert_eq!(response.status(), 200);
        responses.push(response);
    }
    wait_for_subscribers(&hub, "h2", STREAMS).await;
    // Dropping a response cancels its stream (`RST_STREAM`); hyper and
    // poem drop such a stream's body at once, actix-web at its next write.
    drop(responses);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // No more requests: the client closes the connection (`GOAWAY`, then
    // the socket), as a browser does with an idle one.
    drop(sender);
    let _ = tokio::time::timeout(STEP_TIMEOUT, conn)
        .await
        .expect("the client's connection closed within the step timeout");
    assert!(
        released_in_time(&hub, "h2").await,
        "{}: every stream of the closed connection left: {:?}",
        F::NAME,
        hub.topic_stats("h2")
    );
}

/// `?last_event_id=` on the first request resumes like the header; when
/// both are sent (a browser's reconnect to the same URL), the header wins.
pub async fn hub_query_last_event_id_on_first_request<F: HubFramework>() {
    let hub = Hub::new();
    let server = F::serve_hub(hub.clone()).await;
    let ids = publish_range(&hub, "q", 1..=5);
    let mut reader = open(
        server.addr,
        &format!("/hub/q?last_event_id={}", ids[1]),
        &[],
    )
    .await;
    for i in 3..=5 {
        assert_eq!(next_message(&mut reader).await.0, i.to_string());
    }
    let mut reader = open(
        server.addr,
        &format!("/hub/q?x=1&last_event_id={}", ids[0]),
        &[("last-event-id", ids[3].as_bytes())],
    )
    .await;
    publish_range(&hub, "q", 6..=6);
    assert_eq!(next_message(&mut reader).await.0, "5");
    assert_eq!(next_message(&mut reader).await.0, "6");
}

/// Subscribes with `from` (header, or query when `query`), expects a first
/// `reset` event with `reason` whose id is the topic's top, then live events.
async fn expect_reset(addr: SocketAddr, hub: &Hub, topic: &str, from: &[u8], reason: &str) {
    let top = hub
        .topic_stats(topic)
        .expect("the topic has history")
        .last_id;
    let mut reader = open(addr, &format!("/hub/{topic}"), &[("last-event-id", from)]).await;
    assert_eq!(
        next(&mut reader).await,
        (
            "reset".to_owned(),
            reason.to_owned(),
            top.as_str().to_owned()
        ),
        "Last-Event-ID {:?}",
        String::from_utf8_lossy(&from[..from.len().min(40)])
    );
    let live = hub.publish(topic, "live").expect("valid topic");
    assert_eq!(
        next_message(&mut reader).await,
        ("live".to_owned(), live.id().as_str().to_owned())
    );
}

/// A well-formed id of this epoch that the hub never gave (beyond the last
/// event): `reset` with `future`, then live.
pub async fn hub_reset_for_unknown_id<F: HubFramework>() {
    let hub = Hub::new();
    let server = F::serve_hub(hub.clone()).await;
    let ids = publish_range(&hub, "u", 1..=3);
    let epoch = epoch_of(&ssekit::EventId::new(ids[0].clone()).expect("id"));
    let unknown = format!("{epoch}-999");
    expect_reset(server.addr, &hub, "u", unknown.as_bytes(), "future").await;
}

/// An id evicted from the history: `reset` with `too_old`, never a partial
/// replay.
pub async fn hub_reset_for_too_old_id<F: HubFramework>() {
    let hub = Hub::builder().history_events(5).build();
    let server = F::serve_hub(hub.clone()).await;
    let ids = publish_range(&hub, "old", 1..=10);
    expect_reset(server.addr, &hub, "old", ids[1].as_bytes(), "too_old").await;
}

/// An id of another epoch (another hub, or before a restart):
/// `reset` with `unknown_epoch`.
pub async fn hub_reset_for_foreign_epoch<F: HubFramework>() {
    let other = Hub::new();
    let foreign = other.publish("e", "elsewhere").expect("valid topic");
    let hub = Hub::new();
    let server = F::serve_hub(hub.clone()).await;
    publish_range(&hub, "e", 1..=3);
    expect_reset(
        server.addr,
        &hub,
        "e",
        foreign.id().as_str().as_bytes(),
        "unknown_epoch",
    )
    .await;
}

/// Malformed and hostile ids (not of the hub's form, 4 KiB, not UTF-8,
/// overflowing digits, negative), in the header or the query: `reset` with
/// `malformed`, status 200, never a panic.
pub async fn hub_reset_for_malformed_ids<F: HubFramework>() {
    let hub = Hub::new();
    let server = F::serve_hub(hub.clone()).await;
    let ids = publish_range(&hub, "m", 1..=3);
    let epoch = epoch_of(&ssekit::EventId::new(ids[0].clone()).expect("id"));
    let hostile: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        vec![b'7'; 4096],
        b"\xff\xfe\x80".to_vec(),
        format!("{epoch}-{}", "9".repeat(40)).into_bytes(),
        format!("{epoch}--3").into_bytes(),
        b"-1".to_vec(),
    ];
    for from in &hostile {
        expect_reset(server.addr, &hub, "m", from, "malformed").await;
    }
    // In the query: not UTF-8 once decoded, and 4 KiB.
    for query in [
        "last_event_id=%FF%FE",
        &format!("last_event_id={}", "7".repeat(4096)),
    ] {
        let mut reader = open(server.addr, &format!("/hub/m?{query}"), &[]).await;
        let (ty, data, _) = next(&mut reader).await;
        assert_eq!((ty.as_str(), data.as_str()), ("reset", "malformed"));
    }
    assert_eq!(hub.stats().resets.malformed, 8);
}

/// An invalid topic answers `400` with the hub's reason: one longer than
/// 256 bytes, and control characters, a line separator and a right-to-left
/// override sent percent-encoded, which each framework's path extractor
/// (on warp, `ssekit_warp::topic`) decodes before the hub sees them. A
/// percent-encoded name is the decoded one's topic.
pub async fn hub_invalid_topic_is_400<F: HubFramework>() {
    let hub = Hub::new();
    let server = F::serve_hub(hub.clone()).await;
    let long = "x".repeat(ssekit::hub::MAX_TOPIC_LEN + 1);
    for (topic, reason) in [
        (long.as_str(), "invalid topic: longer than 256 bytes"),
        (
            "a%0Aevent:%20spoof",
            "invalid topic: control character at byte 1",
        ),
        ("%00", "invalid topic: control character at byte 0"),
        (
            "a%E2%80%A8b",
            "invalid topic: line separator or bidirectional formatting character at byte 1",
        ),
        (
            "%E2%80%AEtxt",
            "invalid topic: line separator or bidirectional formatting character at byte 0",
        ),
    ] {
        let mut reply = get(server.addr, &format!("/hub/{topic}"), &[], Version::Http1).await;
        assert_eq!(reply.status, 400, "/hub/{topic}");
        let body = String::from_utf8(reply.bytes().await).expect("UTF-8 reason");
        assert!(body.contains(reason), "/hub/{topic}: {body}");
    }
    assert_eq!(hub.stats().topics, 0);
    // Decoded: `caf%C3%A9` is the topic `café`.
    let mut reader = open(server.addr, "/hub/caf%C3%A9", &[]).await;
    hub.publish("café", "au lait").expect("publish");
    assert_eq!(next_message(&mut reader).await.0, "au lait");
}

/// Opens `GET path` over raw TCP with a tiny receive buffer and never reads
/// the body.
async fn non_reading_client(addr: SocketAddr, path: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream = socket.connect(addr).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    stream
}

/// One client never reads; another reads everything. Published events of
/// 8 KiB, paced by the reading client: the non-reading one is dropped once
/// its queue is over its 64 KiB bound (its stream ends with the final chunk),
/// counted once, while the reading one receives every event in order and is
/// never dropped.
pub async fn hub_non_reading_client_is_dropped_reading_one_stays<F: HubFramework>() {
    const MAX_EVENTS: u64 = 4_000; // 32 MiB at most
    let hub = Hub::builder().subscriber_queue_bytes(64 * 1024).build();
    let server = F::serve_hub(hub.clone()).await;
    let mut slow = non_reading_client(server.addr, "/hub/slow").await;
    let mut reader = open(server.addr, "/hub/slow", &[]).await;
    // Both are subscribed once the reader's head arrived and the topic
    // counts two (the raw client's request may still be in flight).
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    while hub.topic_stats("slow").map(|t| t.subscribers) != Some(2)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hub.topic_stats("slow").map(|t| t.subscribers), Some(2));

    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(u64::MAX));
    let reading = {
        let (received, total) = (Arc::clone(&received), Arc::clone(&total));
        tokio::spawn(async move {
            let payload_len = 8 * 1024;
            let mut n = 0u64;
            while n < total.load(Ordering::SeqCst) {
                let (data, _) = next_message(&mut reader).await;
                n += 1;
                let (index, payload) = data.split_once(':').expect("index:payload");
                assert_eq!(index, n.to_string(), "in order, none missing");
                assert_eq!(payload.len(), payload_len);
                received.store(n, Ordering::SeqCst);
            }
            // The connection stays open (and subscribed) until the test
            // has checked the subscriber count.
            (n, reader)
        })
    };
    let payload = "x".repeat(8 * 1024);
    let mut published = 0u64;
    let mut after_drop = 0;
    while published < MAX_EVENTS && after_drop < 20 && !stop.load(Ordering::SeqCst) {
        // Stay at most 2 events ahead of the reading client. The hub counts
        // what a subscriber took from its queue until it comes back for more,
        // so up to twice the events in flight count against its bound:
        // 2 x 3 x 8 KiB stays under 64 KiB, even when the machine is slow.
        let mut waited = Duration::ZERO;
        while received.load(Ordering::SeqCst) + 2 < published {
            assert!(waited < STEP_TIMEOUT, "the reading client keeps up");
            tokio::time::sleep(Duration::from_millis(1)).await;
            waited += Duration::from_millis(1);
        }
        // The reader stops after the last event: tell it the total before
        // publishing that event, or it could read it first and wait for one
        // more that never comes.
        let dropped_before = hub.stats().slow_drops > 0;
        if published + 1 == MAX_EVENTS || (dropped_before && after_drop + 1 == 20) {
            total.store(published + 1, Ordering::SeqCst);
        }
        published += 1;
        hub.publish("slow", format!("{published}:{payload}"))
            .expect("valid topic");
        if hub.stats().slow_drops > 0 {
            after_drop += 1;
        }
    }
    stop.store(true, Ordering::SeqCst);
    assert_eq!(
        total.load(Ordering::SeqCst),
        published,
        "the total was announced"
    );
    assert_eq!(
        hub.stats().slow_drops,
        1,
        "the non-reading client was dropped at its bound within {published} events"
    );
    assert_eq!(
        hub.topic_stats("slow").map(|t| t.subscribers),
        Some(1),
        "the reading client is still subscribed"
    );
    let (n, reader) = tokio::time::timeout(STEP_TIMEOUT, reading)
        .await
        .expect("the reading client finishes")
        .expect("the reading client saw every event in order");
    assert_eq!(n, published);
    drop(reader);
    eprintln!(
        "{}: the non-reading client was dropped after {published} events of 8 KiB",
        F::NAME
    );

    // The dropped client's response ended cleanly: the final chunk.
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::time::timeout(STEP_TIMEOUT, slow.read(&mut buf))
            .await
            .expect("the dropped client's response ends")
            .expect("read");
        if read == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..read]);
        if tail.ends_with(b"\r\n0\r\n\r\n") {
            break;
        }
        let keep = tail.len().saturating_sub(16);
        tail.drain(..keep);
    }
    assert!(
        tail.ends_with(b"\r\n0\r\n\r\n"),
        "chunked body ends with the final chunk: {:?}",
        String::from_utf8_lossy(&tail)
    );
}

/// One client reconnects 1 000 times while events are published
/// continuously, each time with the last id it saw, as `EventSource` does
/// (reading 0 to 3 events per connection): it receives every event exactly
/// once, in order, and never a reset.
pub async fn hub_thousand_reconnects_deliver_every_event_once_in_order<F: HubFramework>() {
    const RECONNECTS: u32 = 1_000;
    const MAX_EVENTS: u64 = 200_000;
    let hub = Hub::builder()
        .history_events(usize::try_from(MAX_EVENTS).unwrap_or(usize::MAX))
        .history_bytes(64 << 20)
        .replay_events(usize::try_from(MAX_EVENTS).unwrap_or(usize::MAX))
        .replay_bytes(64 << 20)
        .build();
    let server = F::serve_hub(hub.clone()).await;
    let done = Arc::new(AtomicBool::new(false));
    let mut publisher = {
        let (hub, done) = (hub.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let mut n = 0u64;
            while !done.load(Ordering::SeqCst) && n < MAX_EVENTS {
                n += 1;
                hub.publish("re", n.to_string()).expect("valid topic");
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            n
        })
    };
    let mut seen: Vec<u64> = Vec::new();
    let mut last_id: Option<String> = None;
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut random_below = |bound: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % bound
    };
    // 1 000 cut connections, then one that reads to the end.
    for connection in 0..=RECONNECTS {
        let end = if connection == RECONNECTS {
            done.store(true, Ordering::SeqCst);
            let publisher = tokio::time::timeout(STEP_TIMEOUT, &mut publisher)
                .await
                .expect("the publisher stops")
                .expect("the publisher did not panic");
            Some(publisher)
        } else {
            None
        };
        // The first connection reads at least one event, so that the client
        // has an id (the parser does not report the id-only position marker).
        let target = match (end, &last_id) {
            (Some(_), _) => u64::MAX,
            (None, None) => 1 + random_below(3),
            (None, Some(_)) => random_below(4),
        };
        let headers: Vec<(&str, &[u8])> = match &last_id {
            Some(id) => vec![("last-event-id", id.as_bytes())],
            None => Vec::new(),
        };
        let mut reply = get(server.addr, "/hub/re", &headers, Version::Http1).await;
        assert_eq!(reply.status, 200);
        let mut parser = Oracle::new();
        let finished = |seen: &[u64]| end.is_some_and(|end| seen.last() == Some(&end));
        let mut got = 0u64;
        'reading: while got < target && !finished(&seen) {
            let chunk = reply.chunk().await.expect("the stream stays open");
            for item in parser.feed(&chunk) {
                match item {
                    Parsed::Event {
                        ty,
                        data,
                        last_event_id,
                    } => {
                        assert_eq!(ty, "message", "no reset, connection {connection}: {data}");
                        seen.push(data.parse().expect("a number"));
                        last_id = Some(last_event_id);
                        got += 1;
                        // Cut mid-chunk: the rest of this chunk is lost, as
                        // when a connection drops.
                        if got >= target || finished(&seen) {
                            break 'reading;
                        }
                    }
                    Parsed::Error { message } => panic!("parser error: {message}"),
                    _ => {}
                }
            }
        }
        drop(reply);
    }
    let published = hub.stats().published;
    let first = *seen.first().expect("events were received");
    assert_eq!(
        seen,
        (first..=published).collect::<Vec<_>>(),
        "every event from the first one seen, exactly once, in order"
    );
    assert_eq!(hub.stats().resets, ssekit::ResetCounts::default());
    eprintln!(
        "{}: {RECONNECTS} reconnects, events {first}..={published} each received once",
        F::NAME
    );
    assert!(
        hub.stats().resumed >= u64::from(RECONNECTS),
        "{:?}",
        hub.stats()
    );
}

/// A hub served with a graceful shutdown whose final event is
/// `retry: 1500`, its token, and a subscribed reader of `/hub/{topic}` per
/// version.
async fn graceful_hub<F: HubFramework>(
    topic: &str,
    versions: &[Version],
) -> (
    Hub,
    ssekit::CancellationToken,
    GracefulServer,
    Vec<SseReader>,
) {
    let hub = Hub::new();
    let token = ssekit::CancellationToken::new();
    let shutdown =
        ssekit::Shutdown::new(token.clone()).retry(Duration::from_millis(1500), Duration::ZERO);
    let server = F::serve_hub_graceful(hub.clone(), shutdown).await;
    let mut readers = Vec::new();
    for &version in versions {
        let path = format!("/hub/{topic}");
        readers.push(SseReader::new(get(server.addr, &path, &[], version).await));
    }
    wait_for_subscribers(&hub, topic, readers.len()).await;
    (hub, token, server, readers)
}

/// Reads each reader to the end of its body (a reset or a cut body fails
/// the client's read, and with it the scenario), expecting `rest`; then
/// waits for the framework's graceful shutdown to complete.
async fn expect_clean_ends<F: HubFramework>(
    server: GracefulServer,
    mut readers: Vec<SseReader>,
    rest: &[Parsed],
) {
    for (i, reader) in readers.iter_mut().enumerate() {
        assert_eq!(
            reader.rest().await,
            rest,
            "{}: stream {i}: what was left, then a clean end",
            F::NAME
        );
    }
    drop(readers);
    tokio::time::timeout(STEP_TIMEOUT, server.finished)
        .await
        .expect("the framework's graceful shutdown completes once the streams have ended")
        .expect("the server task reported its end");
}

/// Shutdown: open streams, over HTTP/1.1 and HTTP/2, get the final event
/// (`retry:`) after what they were sent, then a clean end of body (the last
/// chunk; `END_STREAM`), and the framework's graceful shutdown completes.
pub async fn graceful_shutdown_ends_open_streams_cleanly<F: HubFramework>() {
    let versions = [Version::Http1, Version::Http1, Version::Http2];
    let (hub, token, server, mut readers) = graceful_hub::<F>("bye", &versions).await;
    hub.publish("bye", "last words").expect("valid topic");
    for reader in &mut readers {
        let event = reader.next_event().await.expect("the published event");
        assert_eq!(event.data(), Some("last words"));
    }
    token.cancel();
    expect_clean_ends::<F>(server, readers, &[Parsed::Retry { ms: 1500 }]).await;
}

/// Shutdown right after a burst: events published before the token is
/// cancelled, and still queued for a subscriber when its stream sees the
/// shutdown, are written before the final event. (They are published and
/// the token cancelled with no await between, so the connections' tasks
/// run after both; until session 13 the queued events were dropped and the
/// stream wrote only its final event.)
pub async fn hub_shutdown_writes_what_was_published_before_it<F: HubFramework>() {
    const BURST: usize = 100;
    let versions = [Version::Http1, Version::Http2];
    let (hub, token, server, readers) = graceful_hub::<F>("burst", &versions).await;
    let mut expected: Vec<Parsed> = (0..BURST)
        .map(|i| {
            let text = format!("m{i}");
            let published = hub.publish("burst", text.clone()).expect("valid topic");
            Parsed::message(&text, published.id().as_str())
        })
        .collect();
    token.cancel();
    expected.push(Parsed::Retry { ms: 1500 });
    expect_clean_ends::<F>(server, readers, &expected).await;
}

/// Whether `topic` was released (no subscriber, no history) within the step
/// timeout.
async fn released_in_time(hub: &Hub, topic: &str) -> bool {
    let released = async {
        while hub.topic_stats(topic).is_some() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(STEP_TIMEOUT, released).await.is_ok()
}

async fn wait_for_subscribers(hub: &Hub, topic: &str, n: usize) {
    let start = std::time::Instant::now();
    while hub.topic_stats(topic).map_or(0, |t| t.subscribers) < n {
        assert!(
            start.elapsed() < STEP_TIMEOUT,
            "{n} subscribers joined in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
