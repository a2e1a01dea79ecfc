//! The Redis backplane on a real `redis-server` (started by the test on a
//! free loopback port): two hubs in one process stand for two instances.
//! Every event is read back through the independent parser and checked:
//! exactly once, in order, with the same ids everywhere.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a step that fails fails the test, and its message says which step"
)]

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use ssekit::{EventStream, Hub, Resume, Subscription};
use ssekit_conformance::parser::{Oracle, Parsed};
use ssekit_e2e::redis_server::{Persistence, RedisServer};
use ssekit_redis::RedisBackplane;
use tokio::time::timeout;

/// Every test ends within this, whatever happens.
const LIMIT: Duration = Duration::from_secs(60);

fn hub(url: &str) -> Hub {
    hub_keeping_epochs(url, false)
}

/// [`hub`], with [`ssekit_redis::RedisBuilder::keep_epochs_across_restarts`].
fn hub_keeping_epochs(url: &str, keep: bool) -> Hub {
    let backplane = RedisBackplane::builder(url)
        .publish_timeout(Duration::from_millis(500))
        .check_interval(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(200))
        .keep_epochs_across_restarts(keep)
        .build()
        .expect("a backplane");
    Hub::builder().backplane(backplane).build()
}

/// A subscriber read through the independent parser.
struct Client {
    stream: EventStream<Subscription>,
    oracle: Oracle,
    /// Events dispatched (type, data, last event id).
    events: Vec<(String, String, String)>,
    ended: bool,
}

impl Client {
    fn new(hub: &Hub, topic: &str, from: impl Into<Resume>) -> Self {
        Self {
            stream: hub.subscribe(topic, from).expect("subscribe"),
            oracle: Oracle::new(),
            events: Vec::new(),
            ended: false,
        }
    }

    /// Reads until `done` holds or the stream ends (bounded by the caller's
    /// timeout).
    async fn read_until(&mut self, done: impl Fn(&[(String, String, String)]) -> bool) {
        while !done(&self.events) && !self.ended {
            match self.stream.next().await {
                Some(frame) => {
                    for parsed in self.oracle.feed(&frame) {
                        if let Parsed::Event {
                            ty,
                            data,
                            last_event_id,
                        } = parsed
                        {
                            self.events.push((ty, data, last_event_id));
                        }
                    }
                }
                None => self.ended = true,
            }
        }
    }

    /// Waits for the position marker to be read (the join done).
    async fn joined(&mut self) {
        // The marker dispatches nothing; one frame means the read is done.
        if let Some(frame) = self.stream.next().await {
            for parsed in self.oracle.feed(&frame) {
                if let Parsed::Event {
                    ty,
                    data,
                    last_event_id,
                } = parsed
                {
                    self.events.push((ty, data, last_event_id));
                }
            }
        }
    }

    fn datas(&self) -> Vec<&str> {
        self.events.iter().map(|(_, d, _)| d.as_str()).collect()
    }
}

/// Publishes `data` on `topic` and reads until `client` has one more event,
/// within `within` (the expectation `what` names the step).
async fn publish_and_read(
    hub: &Hub,
    client: &mut Client,
    topic: &str,
    data: &str,
    within: Duration,
    what: &str,
) {
    hub.publish_async(topic, data.to_owned())
        .await
        .expect("publish");
    let wanted = client.events.len() + 1;
    timeout(within, client.read_until(|e| e.len() == wanted))
        .await
        .expect(what);
}

fn numbered(prefix: &str, range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

/// Publishes, retrying (a fresh attempt every 50 ms) while Redis is down.
async fn publish_retrying(hub: &Hub, topic: &str, data: &str) -> ssekit::Published {
    loop {
        match hub.publish_async(topic, data.to_owned()).await {
            Ok(published) => return published,
            Err(err) => {
                assert!(err.backplane().is_some(), "{err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_ids_history_and_live_events() {
    let redis = RedisServer::start(Persistence::None);
    timeout(LIMIT, async {
        let (a, b) = (hub(&redis.url()), hub(&redis.url()));
        let mut on_b = Client::new(&b, "room", Resume::Start);
        on_b.joined().await;
        let mut ids = Vec::new();
        for data in numbered("m", 1..=5) {
            ids.push(
                a.publish_async("room", data)
                    .await
                    .expect("publish")
                    .id()
                    .clone(),
            );
        }
        on_b.read_until(|e| e.len() == 5).await;
        assert_eq!(on_b.datas(), numbered("m", 1..=5));
        let seen: Vec<&str> = on_b.events.iter().map(|(_, _, id)| id.as_str()).collect();
        let published: Vec<&str> = ids.iter().map(ssekit::EventId::as_str).collect();
        assert_eq!(seen, published, "the same ids on both instances");
        // Resume on A from an id B handed out.
        let mut on_a = Client::new(&a, "room", Some(ids[1].clone()));
        on_a.read_until(|e| e.len() == 3).await;
        assert_eq!(on_a.datas(), numbered("m", 3..=5));
        // Both get what either publishes next, once.
        b.publish_async("room", "from b").await.expect("publish");
        a.publish_async("room", "from a").await.expect("publish");
        on_a.read_until(|e| e.len() == 5).await;
        on_b.read_until(|e| e.len() == 7).await;
        assert_eq!(&on_a.datas()[3..], ["from b", "from a"]);
        assert_eq!(&on_b.datas()[5..], ["from b", "from a"]);
        // Ids from nowhere get the reset signal, with this Redis's position.
        let mut lost = Client::new(&b, "room", ssekit::event_id!("0123456789ab-3"));
        lost.read_until(|e| !e.is_empty()).await;
        assert_eq!(lost.events[0].0, "reset");
        assert_eq!(lost.events[0].1, "unknown_epoch");
        assert_eq!(lost.events[0].2, on_b.events[6].2);
    })
    .await
    .expect("within the time limit");
}

/// Two apps on two databases of one Redis, same prefix and topic: keys are
/// per database, Pub/Sub channels are not, so the database is part of the
/// channel's name. Before it was, each publish of one app ended the other's
/// streams as an "epoch change".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_on_two_databases_of_one_redis_do_not_hear_each_other() {
    let redis = RedisServer::start(Persistence::None);
    timeout(LIMIT, async {
        let one = hub(&format!("{}/1", redis.url()));
        let two = hub(&format!("{}/2", redis.url()));
        let mut on_one = Client::new(&one, "room", Resume::Start);
        on_one.joined().await;
        let mut on_two = Client::new(&two, "room", Resume::Start);
        on_two.joined().await;
        for data in numbered("two", 1..=5) {
            two.publish_async("room", data).await.expect("publish");
        }
        on_two.read_until(|e| e.len() == 5).await;
        assert_eq!(on_two.datas(), numbered("two", 1..=5));
        publish_and_read(
            &one,
            &mut on_one,
            "room",
            "one",
            Duration::from_secs(10),
            "db 1's own event",
        )
        .await;
        assert!(!on_one.ended, "db 1's stream still open");
        assert_eq!(on_one.datas(), ["one"], "nothing of db 2's");
        assert_eq!(
            on_one.events[0].2.rsplit_once('-').map(|(_, n)| n),
            Some("1")
        );
    })
    .await
    .expect("within the time limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_publishers_on_two_instances_keep_offsets_unique_and_contiguous() {
    let redis = RedisServer::start(Persistence::None);
    timeout(LIMIT, async {
        let (a, b) = (hub(&redis.url()), hub(&redis.url()));
        let mut on_a = Client::new(&a, "race", Resume::Start);
        let mut on_b = Client::new(&b, "race", Resume::Start);
        on_a.joined().await;
        on_b.joined().await;
        let mut tasks = Vec::new();
        for (h, hub) in [&a, &b].into_iter().enumerate() {
            for t in 0..4 {
                let hub = hub.clone();
                tasks.push(tokio::spawn(async move {
                    let mut offsets = Vec::new();
                    for i in 0..50 {
                        let published = hub
                            .publish_async("race", format!("{h}.{t}.{i}"))
                            .await
                            .expect("publish");
                        offsets.push(published.offset());
                    }
                    offsets
                }));
            }
        }
        let mut offsets = Vec::new();
        for task in tasks {
            offsets.extend(task.await.expect("a publisher"));
        }
        offsets.sort_unstable();
        assert_eq!(offsets, (1..=400).collect::<Vec<u64>>());
        on_a.read_until(|e| e.len() == 400).await;
        on_b.read_until(|e| e.len() == 400).await;
        assert_eq!(on_a.events, on_b.events, "one order, the same ids, on both");
        for (i, (_, _, id)) in on_a.events.iter().enumerate() {
            assert!(id.ends_with(&format!("-{}", i + 1)), "{id} at {i}");
        }
        // Each publisher's own events stay in its order.
        for h in 0..2 {
            for t in 0..4 {
                let mine: Vec<&str> = on_a
                    .datas()
                    .into_iter()
                    .filter(|d| d.starts_with(&format!("{h}.{t}.")))
                    .collect();
                assert_eq!(
                    mine,
                    numbered(&format!("{h}.{t}."), 0..=49)
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                );
            }
        }
    })
    .await
    .expect("within the time limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_live_message_is_filled_from_the_stream() {
    let redis = RedisServer::start(Persistence::None);
    timeout(LIMIT, async {
        let (a, b) = (hub(&redis.url()), hub(&redis.url()));
        let mut on_b = Client::new(&b, "gap", Resume::Start);
        on_b.joined().await;
        let first = a.publish_async("gap", "one").await.expect("publish");
        // Stored as the script would, but never published on the channel:
        // Pub/Sub lost it.
        let epoch = first
            .id()
            .as_str()
            .split_once('-')
            .expect("an id")
            .0
            .to_owned();
        let client = redis::Client::open(redis.url()).expect("a client");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        // Both in one transaction, as the script does: a check between the
        // two would see a top with no event (a hole, which ends the streams).
        let top = first.offset() + 1;
        let (_, _): (u64, String) = redis::pipe()
            .atomic()
            .cmd("HINCRBY")
            .arg("ssekit:meta:gap")
            .arg("top")
            .arg(1)
            .cmd("XADD")
            .arg("ssekit:log:gap")
            .arg(format!("{top}-0"))
            .arg("e")
            .arg(format!("id: {epoch}-{top}\ndata: lost\n\n"))
            .query_async(&mut conn)
            .await
            .expect("HINCRBY and XADD");
        // The periodic check of the top delivers the lost last message...
        on_b.read_until(|e| e.len() == 2).await;
        assert_eq!(on_b.datas(), ["one", "lost"]);
        // ... and the next live one follows it, once.
        a.publish_async("gap", "three").await.expect("publish");
        on_b.read_until(|e| e.len() == 3).await;
        assert_eq!(on_b.datas(), ["one", "lost", "three"]);
        assert_eq!(on_b.events[1].2, format!("{epoch}-2"));
    })
    .await
    .expect("within the time limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_with_persistence_loses_nothing_and_resets_nobody() {
    let mut redis = RedisServer::start(Persistence::Aof);
    timeout(LIMIT, async {
        // `appendfsync always`: Redis loses nothing it acknowledged, so the
        // topics may keep their epochs across its restart.
        let (a, b) = (
            hub_keeping_epochs(&redis.url(), true),
            hub_keeping_epochs(&redis.url(), true),
        );
        let mut on_b = Client::new(&b, "aof", Resume::Start);
        on_b.joined().await;
        for data in numbered("m", 1..=10) {
            a.publish_async("aof", data).await.expect("publish");
        }
        on_b.read_until(|e| e.len() == 10).await;
        redis.stop();
        // Down: a typed error, within the timeout (the test's limit bounds it).
        let err = a
            .publish_async("aof", "while down")
            .await
            .expect_err("Redis is down");
        assert!(err.backplane().is_some(), "{err}");
        redis.restart();
        for data in numbered("m", 11..=20) {
            publish_retrying(&a, "aof", &data).await;
        }
        on_b.read_until(|e| e.len() == 20).await;
        assert!(!on_b.ended, "the open stream stayed open");
        assert_eq!(on_b.datas(), numbered("m", 1..=20));
        assert!(
            on_b.events.iter().all(|(ty, _, _)| ty == "message"),
            "no reset"
        );
        // A client that left at m5 resumes on the other instance, no reset.
        let m5 = on_b.events[4].2.clone();
        let mut again = Client::new(&a, "aof", ssekit::EventId::new(m5).expect("an id"));
        again.read_until(|e| e.len() == 15).await;
        assert_eq!(again.datas(), numbered("m", 6..=20));
    })
    .await
    .expect("within the time limit");
}

/// A Redis that comes back with older data (a snapshot, as RDB
/// persistence loads after a crash) starts a new epoch: no id is given
/// twice, and a client that saw what was lost gets `reset`, not the new
/// events under the old ids. (Before, the topic kept its epoch and the lost
/// offsets went to new events.) With `keep_epochs_across_restarts` the old
/// epoch stays: the ids are given again, as that setting documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_back_with_older_data_starts_a_new_epoch_and_gives_no_id_twice() {
    let mut redis = RedisServer::start(Persistence::None);
    timeout(LIMIT, async {
        for keep in [false, true] {
            let topic = format!("older-{keep}");
            let before = hub_keeping_epochs(&redis.url(), keep);
            let mut ids = Vec::new();
            for (i, data) in numbered("m", 1..=20).into_iter().enumerate() {
                if i == 10 {
                    redis.snapshot();
                }
                ids.push(
                    before
                        .publish_async(&topic, data)
                        .await
                        .expect("publish")
                        .id()
                        .clone(),
                );
            }
            drop(before);
            redis.restart(); // it loads the snapshot: m1..m10
            let after = hub_keeping_epochs(&redis.url(), keep);
            let mut again = Vec::new();
            for data in numbered("n", 1..=15) {
                again.push(publish_retrying(&after, &topic, &data).await.id().clone());
            }
            let reused = again.iter().filter(|id| ids.contains(id)).count();
            // A client that saw m12, resuming once n1..n15 are there.
            let m12 = ids[11].clone();
            let mut client = Client::new(&after, &topic, m12);
            client.read_until(|e| !e.is_empty()).await;
            if keep {
                assert_eq!(reused, 10, "kept epoch: m11..m20's ids given again");
            } else {
                assert_eq!(reused, 0, "no id given twice: {again:?} after {ids:?}");
                let (ty, data, _) = &client.events[0];
                assert_eq!((ty.as_str(), data.as_str()), ("reset", "unknown_epoch"));
            }
        }
    })
    .await
    .expect("within the time limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_without_persistence_resets_and_never_sends_a_wrong_event() {
    let mut redis = RedisServer::start(Persistence::None);
    timeout(LIMIT, async {
        let (a, b) = (hub(&redis.url()), hub(&redis.url()));
        let mut on_b = Client::new(&b, "mem", Resume::Start);
        on_b.joined().await;
        for data in numbered("old", 1..=5) {
            a.publish_async("mem", data).await.expect("publish");
        }
        on_b.read_until(|e| e.len() == 5).await;
        let last_old = on_b.events[4].2.clone();
        redis.restart(); // everything lost
        let first_new = publish_retrying(&a, "mem", "new1").await;
        assert_eq!(first_new.offset(), 1, "a new epoch starts at 1");
        assert_ne!(
            first_new.id().as_str().split_once('-').map(|p| p.0),
            last_old.split_once('-').map(|p| p.0),
            "a new epoch"
        );
        // The open stream ends (so its client resumes) without any event
        // of the new epoch under an old id.
        on_b.read_until(|_| false).await;
        assert!(on_b.ended);
        assert_eq!(on_b.datas(), numbered("old", 1..=5));
        // Resuming with the old id, on either instance: reset, then live.
        for hub in [&a, &b] {
            let mut again = Client::new(
                hub,
                "mem",
                ssekit::EventId::new(last_old.clone()).expect("an id"),
            );
            again.read_until(|e| !e.is_empty()).await;
            assert_eq!(
                (again.events[0].0.as_str(), again.events[0].1.as_str()),
                ("reset", "unknown_epoch")
            );
            assert_eq!(again.events[0].2, first_new.id().as_str());
        }
        // The service is back without restarting anything.
        // Published before or after its read: either way, once.
        let mut live = Client::new(&b, "mem", first_new.id().clone());
        a.publish_async("mem", "new2").await.expect("publish");
        live.read_until(|e| e.len() == 1).await;
        assert_eq!(live.datas(), ["new2"]);
    })
    .await
    .expect("within the time limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_is_a_timeout_not_a_hang_and_open_streams_stay_open() {
    let redis = RedisServer::start(Persistence::None);
    let outcome = timeout(LIMIT, async {
        let (a, b) = (hub(&redis.url()), hub(&redis.url()));
        let mut on_b = Client::new(&b, "hung", Resume::Start);
        on_b.joined().await;
        a.publish_async("hung", "before").await.expect("publish");
        on_b.read_until(|e| e.len() == 1).await;
        redis.freeze();
        // The publish timeout is 500 ms; the test's limit bounds the wait.
        let err = a
            .publish_async("hung", "during")
            .await
            .expect_err("Redis hangs");
        assert!(
            err.backplane()
                .is_some_and(ssekit::hub::BackplaneError::is_timeout),
            "{err}"
        );
        redis.thaw();
        publish_retrying(&a, "hung", "after").await;
        on_b.read_until(|e| e.last().is_some_and(|(_, d, _)| d == "after"))
            .await;
        assert!(!on_b.ended, "the open stream stayed open");
        // The publish that timed out may have been applied once Redis
        // resumed: then it arrives, once, in its place.
        let datas = on_b.datas();
        assert!(
            datas == ["before", "after"] || datas == ["before", "during", "after"],
            "{datas:?}"
        );
    })
    .await;
    redis.thaw();
    outcome.expect("within the time limit");
}

/// A `Last-Event-ID` that asks for more than the replay cap in bytes costs
/// Redis and the hub no more than the cap: the read script stops at it and
/// the subscriber gets `reset` (`replay_limit`); within the cap it replays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_over_the_replay_bytes_is_capped_in_redis() {
    use ssekit::hub::Backplane as _;
    let redis = RedisServer::start(Persistence::None);
    timeout(LIMIT, async {
        let backplane = RedisBackplane::builder(redis.url())
            .publish_timeout(Duration::from_millis(500))
            .build()
            .expect("a backplane");
        // A second backplane on the same Redis, to read as a hub would.
        let reader = RedisBackplane::builder(redis.url())
            .build()
            .expect("a backplane");
        let hub = Hub::builder()
            .backplane(backplane)
            .replay_bytes(3 * 1024)
            .build();
        let payload = "x".repeat(1024);
        let mut ids = Vec::new();
        for _ in 0..5 {
            let published = hub
                .publish_async("big", payload.clone())
                .await
                .expect("publish");
            ids.push(published.id().clone());
        }
        // After the first: four events of 1 KiB, over 3 KiB.
        let mut over = Client::new(&hub, "big", Some(ids[0].clone()));
        over.read_until(|e| !e.is_empty()).await;
        assert_eq!(
            (over.events[0].0.as_str(), over.events[0].1.as_str()),
            ("reset", "replay_limit")
        );
        // The script itself returned none of them.
        let after = ssekit::hub::Position::parse(ids[0].as_str()).expect("a position");
        let snapshot = reader
            .read("big", Some(after), 1_000, 3 * 1024)
            .await
            .expect("read");
        assert!(snapshot.is_over_limit() && snapshot.events().is_empty());
        // After the third: two events, within the cap.
        let mut within = Client::new(&hub, "big", Some(ids[2].clone()));
        within.read_until(|e| e.len() == 2).await;
        assert!(
            within
                .events
                .iter()
                .all(|(ty, data, _)| ty == "message" && data == &payload)
        );
    })
    .await
    .expect("within the time limit");
}

/// A loopback TCP proxy in front of Redis that can go silent on the
/// Pub/Sub connections open so far (those whose client sent `SUBSCRIBE`):
/// their bytes are dropped both ways and their sockets stay open, as when a
/// NAT or load balancer forgets an idle flow without closing it. New
/// connections are forwarded as usual.
struct SilencingProxy {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<ProxiedConn>>>,
    accept: tokio::task::JoinHandle<()>,
}

struct ProxiedConn {
    pubsub: Arc<AtomicBool>,
    silent: Arc<AtomicBool>,
    pumps: [tokio::task::JoinHandle<()>; 2],
}

impl SilencingProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let conns = Arc::new(Mutex::new(Vec::new()));
        let list = Arc::clone(&conns);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    continue;
                };
                let pubsub = Arc::new(AtomicBool::new(false));
                let silent = Arc::new(AtomicBool::new(false));
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let pumps = [
                    tokio::spawn(pump(
                        client_read,
                        server_write,
                        Some(Arc::clone(&pubsub)),
                        Arc::clone(&silent),
                    )),
                    tokio::spawn(pump(server_read, client_write, None, Arc::clone(&silent))),
                ];
                list.lock().expect("the connection list").push(ProxiedConn {
                    pubsub,
                    silent,
                    pumps,
                });
            }
        });
        Self {
            addr,
            conns,
            accept,
        }
    }

    fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// Silences the Pub/Sub connections open now; how many.
    fn silence_pubsub(&self) -> usize {
        let conns = self.conns.lock().expect("the connection list");
        let mut n = 0;
        for conn in conns.iter() {
            if conn.pubsub.load(SeqCst) {
                conn.silent.store(true, SeqCst);
                n += 1;
            }
        }
        n
    }

    /// Pub/Sub connections made so far.
    fn pubsub_connections(&self) -> usize {
        let conns = self.conns.lock().expect("the connection list");
        conns.iter().filter(|c| c.pubsub.load(SeqCst)).count()
    }
}

impl Drop for SilencingProxy {
    fn drop(&mut self) {
        self.accept.abort();
        if let Ok(conns) = self.conns.lock() {
            for conn in conns.iter() {
                for pump in &conn.pumps {
                    pump.abort();
                }
            }
        }
    }
}

/// Copies one direction of a proxied connection; marks it Pub/Sub when the
/// client sends `SUBSCRIBE`; drops the bytes once it is silent.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mark: Option<Arc<AtomicBool>>,
    silent: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some(mark) = &mark {
            if buf[..n].windows(9).any(|w| w == b"SUBSCRIBE") {
                mark.store(true, SeqCst);
            }
        }
        if silent.load(SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_dropped_pubsub_connection_is_found_by_ping_and_replaced() {
    let redis = RedisServer::start(Persistence::None);
    timeout(LIMIT, async {
        let upstream: SocketAddr = redis
            .url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .parse()
            .expect("the server's address");
        let proxy = SilencingProxy::start(upstream).await;
        // The listening instance goes through the proxy. Its periodic check
        // is far beyond this test's bounds: only live delivery can bring an
        // event within them.
        let backplane = RedisBackplane::builder(proxy.url())
            .publish_timeout(Duration::from_millis(500))
            .check_interval(Duration::from_secs(3600))
            .ping_interval(Duration::from_millis(200))
            .max_backoff(Duration::from_millis(200))
            .build()
            .expect("a backplane");
        let listening = Hub::builder().backplane(backplane).build();
        let publishing = hub(&redis.url());

        let mut client = Client::new(&listening, "quiet", Resume::Start);
        client.joined().await;
        // The topic's channel subscribed, through the proxy.
        timeout(Duration::from_secs(10), async {
            while proxy.pubsub_connections() == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("a Pub/Sub connection subscribes the topic");
        // Live delivery works, through the proxy.
        let ten = Duration::from_secs(10);
        publish_and_read(
            &publishing,
            &mut client,
            "quiet",
            "before",
            ten,
            "the first event, live",
        )
        .await;
        assert_eq!(proxy.pubsub_connections(), 1);

        // The Pub/Sub connection goes silent, its socket open.
        assert_eq!(proxy.silence_pubsub(), 1);
        // Found by a PING that is not answered (within 200 ms + 500 ms),
        // replaced, resubscribed and caught up: the event arrives once.
        let silent = "the event published while the connection was silent";
        publish_and_read(
            &publishing,
            &mut client,
            "quiet",
            "after",
            Duration::from_secs(15),
            silent,
        )
        .await;
        assert_eq!(client.datas(), ["before", "after"]);
        assert!(
            proxy.pubsub_connections() >= 2,
            "a new Pub/Sub connection was made"
        );
        // And live delivery goes on over the new connection.
        let live = "a live event over the new connection";
        publish_and_read(&publishing, &mut client, "quiet", "later", ten, live).await;
        assert_eq!(client.datas(), ["before", "after", "later"]);
        assert!(!client.ended, "the stream stayed open");
    })
    .await
    .expect("within the time limit");
}
