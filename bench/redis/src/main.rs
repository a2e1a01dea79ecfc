//! The Redis backplane's benchmark, a step of `cargo xtask bench`:
//! publish-to-delivery latency (p50, p99) and throughput with 1 000
//! subscribers spread over two instances sharing one Redis, against the
//! in-memory hub in the same run.
//!
//! The two instances are two `ssekit::Hub`s in this process, each with its
//! own `RedisBackplane` (its own connections); subscribers read each hub's
//! `EventStream` directly (no HTTP: this measures the hub and the backplane,
//! the socket benchmark measures the frameworks). It starts its own
//! `redis-server` on a free loopback port (persistence off) unless given
//! `--redis URL`.
//!
//! Run with: `cargo xtask bench` or `cargo xtask bench --only redis` (or,
//! after `cargo build --profile benchmark -p ssekit-bench-redis`,
//! `target/benchmark/bench-redis [--quick] [--redis URL]`).
#![expect(
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    reason = "statistics on counts and nanoseconds far below 2^52, rounded on purpose"
)]

use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use ssekit::{Hub, Resume};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

const SUBSCRIBERS: usize = 1_000;
const PAYLOAD: usize = 128;

/// One measured configuration.
struct Figures {
    p50: Duration,
    p99: Duration,
    publishes_per_s: f64,
    deliveries_per_s: f64,
}

/// A `redis-server` of our own; killed on drop.
struct OwnRedis {
    child: Child,
    dir: std::path::PathBuf,
    url: String,
}

impl OwnRedis {
    fn start() -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("a free port: {e}"))?
            .port();
        let dir = std::env::temp_dir().join(format!("ssekit-bench-redis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&dir)
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("cannot start redis-server ({e}): apt-get install -y redis-server")
            })?;
        let own = Self {
            child,
            dir,
            url: format!("redis://127.0.0.1:{port}"),
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                return Err("redis-server did not listen within 10 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(own)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn redis_hub(url: &str) -> Result<Hub, String> {
    let backplane = ssekit_redis::RedisBackplane::builder(url)
        .history_events(10_000)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Hub::builder()
        .backplane(backplane)
        .subscriber_queue_bytes(64 << 20)
        .build())
}

/// The send time carried by each event: nanoseconds since `base`, then
/// padding to [`PAYLOAD`] bytes.
fn payload(base: Instant) -> String {
    let mut text = format!("{};", base.elapsed().as_nanos());
    text.extend(std::iter::repeat_n('x', PAYLOAD.saturating_sub(text.len())));
    text
}

/// The send times in a frame's `data:` lines.
fn send_times(frame: &[u8]) -> impl Iterator<Item = u64> + '_ {
    frame.split(|b| *b == b'\n').filter_map(|line| {
        let rest = line.strip_prefix(b"data: ")?;
        let end = rest.iter().position(|b| *b == b';')?;
        std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
    })
}

/// Subscribes [`SUBSCRIBERS`] over `hubs`, then publishes `latency_n`
/// events paced 2 ms apart (latency), then `burst_n` with up to 64 in
/// flight (throughput), all from `hubs[0]`.
async fn measure(hubs: &[Hub], latency_n: usize, burst_n: usize) -> Result<Figures, String> {
    let base = Instant::now();
    let total = latency_n + burst_n;
    let joined = Arc::new(Barrier::new(SUBSCRIBERS + 1));
    let mut readers = JoinSet::new();
    for i in 0..SUBSCRIBERS {
        let mut stream = hubs[i % hubs.len()]
            .subscribe("bench", Resume::Start)
            .map_err(|e| e.to_string())?;
        let joined = Arc::clone(&joined);
        readers.spawn(async move {
            // The position marker: the join is done.
            let _ = stream.next().await;
            joined.wait().await;
            let mut latencies = Vec::with_capacity(total);
            let mut last = Instant::now();
            while latencies.len() < total {
                let Some(frame) = stream.next().await else {
                    break;
                };
                let now = base.elapsed().as_nanos() as u64;
                latencies.extend(send_times(&frame).map(|sent| now.saturating_sub(sent)));
                last = Instant::now();
            }
            (latencies, last)
        });
    }
    joined.wait().await;
    let publisher = &hubs[0];
    for _ in 0..latency_n {
        publisher
            .publish_async("bench", payload(base))
            .await
            .map_err(|e| e.to_string())?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let burst_start = Instant::now();
    let mut in_flight: JoinSet<Result<ssekit::Published, ssekit::HubError>> = JoinSet::new();
    for _ in 0..burst_n {
        if in_flight.len() >= 64 {
            if let Some(done) = in_flight.join_next().await {
                done.map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
            }
        }
        in_flight.spawn(publisher.publish_async("bench", payload(base)));
    }
    while let Some(done) = in_flight.join_next().await {
        done.map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
    let published = burst_start.elapsed();
    let mut latencies = Vec::new();
    let mut last_delivery = burst_start;
    let mut short = 0usize;
    let collect = async {
        while let Some(reader) = readers.join_next().await {
            let (mine, last) = reader.map_err(|e| e.to_string())?;
            if mine.len() < total {
                short += 1;
            }
            // The latency phase only: the burst measures throughput.
            latencies.extend(mine.into_iter().take(latency_n));
            last_delivery = last_delivery.max(last);
        }
        Ok::<(), String>(())
    };
    tokio::time::timeout(Duration::from_secs(120), collect)
        .await
        .map_err(|_| "the subscribers did not get every event within 120 s".to_owned())??;
    if short > 0 {
        return Err(format!("{short} subscribers ended before every event"));
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        Duration::from_nanos(latencies.get(i).copied().unwrap_or(0))
    };
    let delivered = last_delivery.duration_since(burst_start).as_secs_f64();
    Ok(Figures {
        p50: at(0.50),
        p99: at(0.99),
        publishes_per_s: burst_n as f64 / published.as_secs_f64(),
        deliveries_per_s: (burst_n * SUBSCRIBERS) as f64 / delivered,
    })
}

fn row(name: &str, f: &Figures) {
    println!(
        "{name:<28} {:>10.2} {:>10.2} {:>14.0} {:>16.0}",
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.publishes_per_s,
        f.deliveries_per_s
    );
}

/// The periodic check at scale: `topics` watched topics on one instance,
/// each given one event that is stored in Redis but never published live
/// (as when Pub/Sub loses the last message); the time until every
/// subscriber has it, with a check every 10 ms; then Redis's CPU time per
/// topic checked while nothing moves.
async fn lost_last_messages(url: &str, topics: usize) -> Result<(Duration, f64), String> {
    let checking = ssekit_redis::RedisBackplane::builder(url)
        .check_interval(Duration::from_millis(10))
        .build()
        .map_err(|e| e.to_string())?;
    let hub = Hub::builder().backplane(checking).build();
    let publisher = redis_hub(url)?;
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    let mut readers = JoinSet::new();
    let mut stored = Vec::with_capacity(topics);
    for t in 0..topics {
        let name = format!("check-{t}");
        let first = publisher
            .publish_async(&name, "first".to_owned())
            .await
            .map_err(|e| e.to_string())?;
        let mut stream = hub
            .subscribe(&name, Resume::Start)
            .map_err(|e| e.to_string())?;
        // The position marker: the join is done.
        stream.next().await.ok_or("a subscription ended")?;
        let epoch = first
            .id()
            .as_str()
            .split_once('-')
            .map(|(epoch, _)| epoch.to_owned())
            .ok_or("an id without epoch")?;
        stored.push((name, epoch, first.offset() + 1));
        readers.spawn(async move {
            while let Some(frame) = stream.next().await {
                if frame.windows(4).any(|w| w == b"lost") {
                    // Kept: the topic stays watched for the idle part.
                    return Some(stream);
                }
            }
            None
        });
    }
    // What the publish script stores, without its PUBLISH, for every topic
    // in one transaction (a check between a topic's two commands would see
    // a top with no event: a hole, which ends the streams).
    let mut inject = redis::pipe();
    inject.atomic();
    for (name, epoch, top) in &stored {
        inject
            .cmd("HINCRBY")
            .arg(format!("ssekit:meta:{name}"))
            .arg("top")
            .arg(1)
            .ignore()
            .cmd("XADD")
            .arg(format!("ssekit:log:{name}"))
            .arg(format!("{top}-0"))
            .arg("e")
            .arg(format!("id: {epoch}-{top}\ndata: lost\n\n"))
            .ignore();
    }
    let start = Instant::now();
    let (): () = inject
        .query_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let all = async {
        let mut kept = Vec::new();
        while let Some(joined) = readers.join_next().await {
            if let Ok(Some(stream)) = joined {
                kept.push(stream);
            }
        }
        kept
    };
    let kept = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .map_err(|_| "the lost messages were not all delivered within 60 s".to_owned())?;
    let got = kept.len();
    if got != topics {
        return Err(format!("{got} of {topics} lost messages delivered"));
    }
    let took = start.elapsed();
    // Then nothing moves: what the checks alone cost Redis.
    let (cpu0, commands0) = redis_cpu_and_commands(&mut conn).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu1, commands1) = redis_cpu_and_commands(&mut conn).await?;
    drop(kept);
    // Redis time per command of the checks (a command per topic checked).
    let per_check = (cpu1 - cpu0) / (commands1 - commands0).max(1.0);
    Ok((took, per_check))
}

/// `used_cpu_sys + used_cpu_user` (seconds) and `total_commands_processed`
/// of `INFO`.
async fn redis_cpu_and_commands(
    conn: &mut redis::aio::MultiplexedConnection,
) -> Result<(f64, f64), String> {
    let info: String = redis::cmd("INFO")
        .query_async(conn)
        .await
        .map_err(|e| e.to_string())?;
    let field = |wanted: &[&str]| -> f64 {
        info.lines()
            .filter_map(|line| {
                let (name, value) = line.trim().split_once(':')?;
                wanted
                    .contains(&name)
                    .then(|| value.parse::<f64>().ok())
                    .flatten()
            })
            .sum()
    };
    Ok((
        field(&["used_cpu_sys", "used_cpu_user"]),
        field(&["total_commands_processed"]),
    ))
}

async fn run(url: &str, quick: bool) -> Result<(), String> {
    let (latency_n, burst_n) = if quick { (50, 500) } else { (200, 5_000) };
    println!(
        "\nhub: {SUBSCRIBERS} subscribers, {PAYLOAD}-byte events; latency: {latency_n} events 2 ms apart; \
         throughput: {burst_n} events, 64 publishes in flight"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>14} {:>16}",
        "hub", "p50 ms", "p99 ms", "publishes/s", "deliveries/s"
    );
    let memory = measure(
        &[Hub::builder().subscriber_queue_bytes(64 << 20).build()],
        latency_n,
        burst_n,
    )
    .await?;
    row("in memory, one instance", &memory);
    let hubs = [redis_hub(url)?, redis_hub(url)?];
    let redis = measure(&hubs, latency_n, burst_n).await?;
    row("Redis, two instances", &redis);
    let topics = if quick { 500 } else { 2_000 };
    let (took, per_check) = lost_last_messages(url, topics).await?;
    println!(
        "\nperiodic check of {topics} watched topics every 10 ms: a lost last message on each, all delivered in {:.0} ms; \
         Redis time per topic checked while nothing moves: {:.1} µs",
        took.as_secs_f64() * 1e3,
        per_check * 1e6
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let given = args
        .iter()
        .position(|a| a == "--redis")
        .and_then(|i| args.get(i + 1).cloned());
    let own = match given {
        Some(_) => None,
        None => match OwnRedis::start() {
            Ok(own) => Some(own),
            Err(err) => {
                eprintln!("bench-redis: {err}");
                return ExitCode::FAILURE;
            }
        },
    };
    let url = given.unwrap_or_else(|| own.as_ref().map(|o| o.url.clone()).unwrap_or_default());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bench-redis: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(&url, quick));
    drop(own);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench-redis: {err}");
            ExitCode::FAILURE
        }
    }
}
