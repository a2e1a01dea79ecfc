//! The load client of `cargo xtask bench`: starts every server binary (each
//! framework's built-in SSE, ssekit through its adapter, the limit), drives
//! them over loopback with raw TCP, interleaved rep by rep, and prints one
//! table of ratios; writes an SVG chart.
//!
//! Run with: `cargo xtask bench [--quick]` (or, after
//! `cargo build --profile benchmark -p ssekit-bench`,
//! `target/benchmark/bench-load [--quick] [--svg PATH] [--only SECTION]
//! [--framework NAME] [--shape LABEL] [--no-pin]`).
#![expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "statistics on counts, sizes and nanoseconds far below 2^52, rounded on purpose"
)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssekit_bench::client::{self, SseParser};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const FRAMEWORKS: [&str; 4] = ["axum", "warp", "poem", "actix-web"];
const FLAVOURS: [&str; 3] = ["builtin", "ssekit", "limit"];
/// The fan-out floor's server (`bench-floor`), which has no framework.
const FLOOR: &str = "floor";

/// One running server process.
struct Server {
    framework: &'static str,
    flavour: &'static str,
    addr: SocketAddr,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(framework: &'static str, flavour: &'static str) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let dir = exe.parent().ok_or("no directory")?;
        let bin = dir.join(format!("bench-{framework}"));
        let mut command = match pinning() {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpus.servers]).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        if let Some(tunables) = rep_movsb_off() {
            command.env("GLIBC_TUNABLES", tunables);
        }
        let mut child = command
            .args([flavour, "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("{framework} {flavour}: unexpected first line {line:?}"))?;
        Ok(Self {
            framework,
            flavour,
            addr,
            child,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn name(&self) -> String {
        format!("{} {}", self.framework, self.flavour)
    }
}

/// The size of the run.
#[derive(Clone, Copy)]
struct Plan {
    stream_bytes: usize,
    stream_reps: usize,
    fanout_reps: usize,
    idle_streams: usize,
    idle_window: Duration,
    /// When, after the idle streams opened, their memory is read a second
    /// time: past the first keep-alive (15 s on every server; ssekit's hub
    /// sends it within a quarter interval more, by 18.75 s), when every
    /// flavour has written to each stream at least once.
    steady_after: Option<Duration>,
    departure_bound: Duration,
}

const QUICK: Plan = Plan {
    stream_bytes: 32 << 20,
    stream_reps: 3,
    fanout_reps: 1,
    idle_streams: 1000,
    idle_window: Duration::from_secs(1),
    steady_after: None,
    departure_bound: Duration::from_millis(1500),
};

const FULL: Plan = Plan {
    stream_bytes: 32 << 20,
    stream_reps: 5,
    fanout_reps: 3,
    idle_streams: 5000,
    idle_window: Duration::from_secs(10),
    steady_after: Some(Duration::from_secs(20)),
    departure_bound: Duration::from_secs(20),
};

/// A `/bench/stream` shape: (label, size, lines).
const SHAPES: [(&str, usize, usize); 5] = [
    ("64 B", 64, 0),
    ("1 KiB", 1024, 0),
    ("4 KiB", 4096, 0),
    ("64 KiB", 65536, 0),
    ("4 KiB in 16 B lines", 4096, 16),
];

/// One `/bench/stream` run: events per second, with every id and length
/// checked.
async fn stream_run(addr: SocketAddr, n: u64, size: usize, lines: usize) -> Result<f64, String> {
    let path = format!("/bench/stream?n={n}&size={size}&lines={lines}");
    let start = Instant::now();
    let run = async {
        let mut response = client::request(addr, "GET", &path)
            .await
            .map_err(|e| e.to_string())?;
        if response.status != 200 {
            return Err(format!("status {}", response.status));
        }
        let mut parser = SseParser::default();
        let mut expected = 0u64;
        let mut bad = 0u64;
        let mut on_event = |seen: client::Seen| {
            if seen.id != Some(expected) || seen.data_len != size {
                bad += 1;
            }
            expected += 1;
        };
        while response
            .next(&mut |bytes| parser.feed(bytes, &mut on_event))
            .await
            .map_err(|e| e.to_string())?
        {}
        if bad > 0 || expected != n {
            return Err(format!("{bad} bad events, {expected} of {n}"));
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .map_err(|_| "timed out".to_owned())??;
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Opens `count` streams on `/bench/hub`, `parallel` at a time; each
/// connection is returned once its response head has arrived.
async fn open_hub_streams(addr: SocketAddr, count: usize) -> Vec<client::Response> {
    // At most 100 connects in flight: the servers listen with tokio's
    // default backlog, and 200 overflowed it (the kernel's ListenOverflows
    // count grew), leaving a SYN to be sent again after 1 s.
    let gate = Arc::new(Semaphore::new(100));
    let mut set = JoinSet::new();
    for _ in 0..count {
        let gate = Arc::clone(&gate);
        set.spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            tokio::time::timeout(
                Duration::from_secs(10),
                client::request_with(addr, "GET", "/bench/hub", 16 * 1024),
            )
            .await
            .ok()?
            .ok()
        });
    }
    let mut out = Vec::with_capacity(count);
    while let Some(joined) = set.join_next().await {
        if let Ok(Some(response)) = joined {
            out.push(response);
        }
    }
    out
}

/// Waits (bounded) until the server's subscriber count meets `ok`; the time
/// it took, or `None` if it did not happen within `bound`.
async fn wait_subscribers(
    addr: SocketAddr,
    ok: impl Fn(usize) -> bool,
    bound: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < bound {
        if client::subscribers(addr).await.is_ok_and(&ok) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

/// Fan-out latencies of one run.
struct Fanout {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// p99 over the first 80 % of the messages by sequence number only:
    /// mostly delivered before subscribers have had the last message and
    /// close their connections, so mostly without the server's work of
    /// tearing them down (a subscriber far behind gets some of them during
    /// it).
    p99_early_ms: f64,
    missing: usize,
    /// Server CPU per delivery (ns), from the publish request until every
    /// subscriber has read every message.
    cpu_ns_per_delivery: Option<f64>,
    /// This load client's CPU over the same span, in % of its one thread:
    /// near 100, the client's own reading bounds the latencies it measures
    /// (an average: short saturated stretches hide in it).
    client_busy_percent: Option<f64>,
}

async fn fanout_run(
    pid: u32,
    addr: SocketAddr,
    subs: usize,
    messages: u64,
    rate: u64,
) -> Result<Fanout, String> {
    let streams = open_hub_streams(addr, subs).await;
    if streams.len() != subs {
        return Err(format!("{} of {subs} subscribers connected", streams.len()));
    }
    if wait_subscribers(addr, |n| n >= subs, Duration::from_secs(20))
        .await
        .is_none()
    {
        return Err("subscribers not registered".to_owned());
    }
    let mut set = JoinSet::new();
    for mut response in streams {
        set.spawn(async move {
            let mut parser = SseParser::default();
            // (latency in ns, whether the message is among the first 80 %)
            let mut latencies: Vec<(u64, bool)> = Vec::with_capacity(messages as usize);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while (latencies.len() as u64) < messages {
                let mut on_event = |seen: client::Seen| {
                    let now = client::unix_nanos();
                    let text = String::from_utf8_lossy(seen.head());
                    let mut fields = text.split(' ');
                    let seq: Option<u64> = fields.next().and_then(|t| t.parse().ok());
                    let sent: Option<u128> = fields.next().and_then(|t| t.parse().ok());
                    if let (Some(seq), Some(sent)) = (seq, sent) {
                        let ns = now.saturating_sub(sent);
                        let early = seq.saturating_mul(5) < messages.saturating_mul(4);
                        latencies.push((u64::try_from(ns).unwrap_or(u64::MAX), early));
                    }
                };
                match tokio::time::timeout_at(
                    deadline,
                    response.next(&mut |bytes| parser.feed(bytes, &mut on_event)),
                )
                .await
                {
                    Ok(Ok(true)) => {}
                    _ => break,
                }
            }
            // Kept open until every subscriber is done: a client leaving
            // early would have the server (and this client) tear its
            // connection down while the others still wait for messages.
            (latencies, response)
        });
    }
    let cpu_before = cpu_ns(pid);
    let client_before = cpu_ns(std::process::id());
    let published = Instant::now();
    let publish = format!("/bench/publish?n={messages}&size=128&rate={rate}");
    let response = client::request(addr, "POST", &publish)
        .await
        .map_err(|e| e.to_string())?;
    if response.status != 202 {
        return Err(format!("publish: status {}", response.status));
    }
    drop(response);
    let mut all: Vec<u64> = Vec::with_capacity(subs * messages as usize);
    let mut early: Vec<u64> = Vec::with_capacity(subs * messages as usize * 4 / 5 + subs);
    let mut done = Vec::with_capacity(subs);
    while let Some(joined) = set.join_next().await {
        if let Ok((latencies, response)) = joined {
            done.push(response);
            all.extend(latencies.iter().map(|&(ns, _)| ns));
            early.extend(latencies.iter().filter(|&&(_, e)| e).map(|&(ns, _)| ns));
        }
    }
    let span = published.elapsed();
    let cpu_after = cpu_ns(pid);
    // The client runs on one thread (see `main`).
    let client_busy_percent = client_before
        .zip(cpu_ns(std::process::id()))
        .map(|(a, b)| b.saturating_sub(a) as f64 / span.as_nanos() as f64 * 100.0);
    drop(done);
    let expected = subs * messages as usize;
    let missing = expected.saturating_sub(all.len());
    let cpu_ns_per_delivery = cpu_before
        .zip(cpu_after)
        .map(|(a, b)| b.saturating_sub(a) as f64 / expected.max(1) as f64);
    all.sort_unstable();
    early.sort_unstable();
    Ok(Fanout {
        p50_ms: percentile_ms(&all, 0.50),
        p99_ms: percentile_ms(&all, 0.99),
        max_ms: percentile_ms(&all, 1.0),
        p99_early_ms: percentile_ms(&early, 0.99),
        missing,
        cpu_ns_per_delivery,
        client_busy_percent,
    })
}

/// The `p` quantile of sorted nanoseconds, in ms (NaN when empty).
fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1e6
}

/// `/proc/PID/status` VmRSS in KiB.
fn rss_kib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time of every thread of a process so far, in nanoseconds (the first
/// field of each thread's `schedstat`: time on a CPU).
fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    for task in tasks.flatten() {
        // A thread that ended since the listing is skipped.
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}

/// Idle cost and departure notice of one server.
struct Idle {
    kib_per_stream: f64,
    /// The same after the first keep-alive ([`Plan::steady_after`]).
    steady_kib_per_stream: Option<f64>,
    cpu_percent: f64,
    notice: Option<Duration>,
}

/// Idle streams held open at once at most: servers are measured in groups
/// that fit (all eight at once in the quick run, two at a time in the full
/// one), which keeps the client under its open-file limit.
const IDLE_STREAMS_AT_ONCE: usize = 10_000;

/// One server's idle streams, open.
struct Holding {
    before_kib: f64,
    streams: Vec<client::Response>,
}

/// Idle cost and departure notice of a group of servers, measured side by
/// side: the streams are opened server by server, then every server's RSS
/// and CPU are read over the same idle window (an idle server does no work,
/// so a neighbour cannot disturb it), then one client leaves each server
/// and each server's notice is timed.
async fn idle_group(servers: &[&Server], plan: Plan) -> Vec<Result<Idle, String>> {
    let mut holding = Vec::with_capacity(servers.len());
    for server in servers {
        holding.push(idle_open(server, plan).await);
    }
    let opened = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after: Vec<Option<f64>> = servers.iter().map(|s| rss_kib(s.pid())).collect();
    let t0: Vec<Option<u64>> = servers.iter().map(|s| cpu_ns(s.pid())).collect();
    let start = Instant::now();
    tokio::time::sleep(plan.idle_window).await;
    let elapsed = start.elapsed().as_secs_f64();
    let t1: Vec<Option<u64>> = servers.iter().map(|s| cpu_ns(s.pid())).collect();
    let steady: Vec<Option<f64>> = match plan.steady_after {
        Some(after) => {
            tokio::time::sleep_until(opened + after).await;
            servers.iter().map(|s| rss_kib(s.pid())).collect()
        }
        None => vec![None; servers.len()],
    };
    let mut departures = JoinSet::new();
    for (k, (server, held)) in servers.iter().zip(&mut holding).enumerate() {
        let Ok(held) = held else { continue };
        let addr = server.addr;
        let Ok(registered) = client::subscribers(addr).await else {
            continue;
        };
        if let Some(leaving) = held.streams.pop() {
            leaving.close();
        }
        let bound = plan.departure_bound;
        departures.spawn(async move {
            let notice = wait_subscribers(addr, |n| n < registered, bound).await;
            (k, notice)
        });
    }
    let mut notices = vec![None; servers.len()];
    while let Some(joined) = departures.join_next().await {
        if let Ok((k, notice)) = joined {
            notices[k] = notice;
        }
    }
    holding
        .into_iter()
        .enumerate()
        .map(|(k, held)| {
            let held = held?;
            let count = held.streams.len() + 1;
            let after = after[k].ok_or("no RSS")?;
            let (t0, t1) = t0[k].zip(t1[k]).ok_or("no CPU")?;
            Ok(Idle {
                kib_per_stream: (after - held.before_kib) / count as f64,
                steady_kib_per_stream: steady[k].map(|kib| (kib - held.before_kib) / count as f64),
                cpu_percent: t1.saturating_sub(t0) as f64 / 1e9 / elapsed * 100.0,
                notice: notices[k],
            })
        })
        .collect()
}

/// Opens one server's idle streams and waits until it has registered them.
async fn idle_open(server: &Server, plan: Plan) -> Result<Holding, String> {
    let before_kib = rss_kib(server.pid()).ok_or("no RSS")?;
    let streams = open_hub_streams(server.addr, plan.idle_streams).await;
    let count = streams.len();
    if wait_subscribers(server.addr, |n| n >= count, Duration::from_secs(30))
        .await
        .is_none()
    {
        return Err("idle subscribers not registered".to_owned());
    }
    Ok(Holding {
        before_kib,
        streams,
    })
}

/// The median of one measure over one server's samples under one key (a
/// stream shape, a fan-out setting); `None` when that server or key did
/// not run.
fn median_of<T>(
    samples: &BTreeMap<(usize, usize), Vec<T>>,
    server: Option<usize>,
    key: usize,
    measure: impl Fn(&T) -> Option<f64>,
) -> Option<f64> {
    let runs = samples.get(&(server?, key))?;
    Some(median(&runs.iter().filter_map(measure).collect::<Vec<_>>()))
}

/// The median of one server's samples for one shape; NaN when there are
/// none (a server or shape not run).
fn median_at(
    samples: &BTreeMap<(usize, usize), Vec<f64>>,
    server: Option<usize>,
    shape: usize,
) -> f64 {
    median_of(samples, server, shape, |v| Some(*v)).unwrap_or(f64::NAN)
}

fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn spread(values: &[f64]) -> f64 {
    let med = median(values);
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    if med > 0.0 {
        (hi - lo) / med * 100.0
    } else {
        f64::NAN
    }
}

fn fmt_rate(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else {
        format!("{:.0}k", x / 1e3)
    }
}

/// Which CPUs the servers and this client run on.
struct Cpus {
    servers: String,
    client: String,
}

/// The CPU split, made once: with two CPUs or more and `taskset` at hand,
/// the servers get the first half and the client the rest, so that the
/// client's reading never takes CPU from the server it measures (on two
/// CPUs, both used to share both: a server's events/s then depended on how
/// much CPU the client's parsing left it). `--no-pin` or a missing
/// `taskset` leaves both to the scheduler.
fn pinning() -> Option<&'static Cpus> {
    static CPUS: std::sync::OnceLock<Option<Cpus>> = std::sync::OnceLock::new();
    CPUS.get_or_init(|| {
        if std::env::args().any(|a| a == "--no-pin") {
            return None;
        }
        // The CPUs this process may run on (not always 0..n).
        let allowed: Vec<usize> = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                let list = status
                    .lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?
                    .trim()
                    .to_owned();
                let mut cpus = Vec::new();
                for part in list.split(',') {
                    match part.split_once('-') {
                        Some((a, b)) => cpus.extend(a.parse::<usize>().ok()?..=b.parse().ok()?),
                        None => cpus.push(part.parse().ok()?),
                    }
                }
                Some(cpus)
            })
            .unwrap_or_default();
        if allowed.len() < 2 {
            return None;
        }
        let (servers, client) = allowed.split_at(allowed.len() / 2);
        let list = |cpus: &[usize]| {
            cpus.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let cpus = Cpus {
            servers: list(servers),
            client: list(client),
        };
        // Pins this process while it has one thread: the runtime's threads,
        // made next, inherit it.
        let pinned = Command::new("taskset")
            .args(["-p", "-c", &cpus.client, &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !pinned {
            eprintln!(
                "bench-load: `taskset -p -c {}` failed (is util-linux installed?); servers and client share every CPU",
                cpus.client
            );
            return None;
        }
        Some(cpus)
    })
    .as_ref()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = check_args(&args) {
        return code;
    }
    let cpus = pinning();
    // One thread: a multi-thread runtime's worker serves the tasks it woke
    // at very different rates (its LIFO slot runs the last one woken next,
    // and a full local queue of 256 moves half of itself to the global
    // queue, read only every few dozen tasks), so with 1 000 readers it read
    // some streams far later than others, and that unfairness was added to
    // the fan-out latencies of every server. A single-threaded runtime runs
    // woken tasks in order.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("bench-load: runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(cpus) = cpus {
        eprintln!(
            "bench-load: servers on CPU {}, this client on CPU {}",
            cpus.servers, cpus.client
        );
    }
    if let Some(tunables) = rep_movsb_off() {
        eprintln!(
            "bench-load: an AMD CPU: servers run with GLIBC_TUNABLES={tunables} (glibc bug 30994; --keep-rep-movsb to leave it)"
        );
    }
    runtime.block_on(run())
}

/// glibc's copy without `rep movsb`, for every server alike, on AMD CPUs
/// (unless `--keep-rep-movsb`, or `GLIBC_TUNABLES` is set already). glibc
/// (2.36 here) copies 2 112 bytes to 512 KiB with `rep movsb`, which on
/// AMD's CPUs runs some 25 times slower when the destination is 1 to 31
/// bytes past a multiple of 4 KiB from the source (glibc bug 30994;
/// measured here at 1.5-2.4 GB/s against 40-67 otherwise). Whether an
/// event's copy hits that depends on where the allocator put two buffers,
/// so it made one flavour of a server pay it and not another: ssekit on
/// poem at 4 KiB took 4 000-4 300 ns of CPU per event against poem's
/// built-in's 2 900, and 1 700-1 800 with the vector copy, the built-in
/// unchanged (`bench/results/measurements-session15.md`).
fn rep_movsb_off() -> Option<&'static str> {
    static TUNABLES: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *TUNABLES.get_or_init(|| {
        let amd = std::fs::read_to_string("/proc/cpuinfo")
            .is_ok_and(|info| info.contains("AuthenticAMD"));
        let kept = std::env::args().any(|a| a == "--keep-rep-movsb")
            || std::env::var_os("GLIBC_TUNABLES").is_some();
        (cfg!(target_arch = "x86_64") && amd && !kept)
            .then_some("glibc.cpu.x86_rep_movsb_threshold=0x10000000")
    })
}

/// The command line, for `--help` and for an argument it does not know.
const USAGE: &str = "usage: bench-load [--quick] [--no-pin] [--keep-rep-movsb] [--svg FILE] \
[--framework NAME]... [--only stream|idle|fanout]... [--shape LABEL]...
  --quick          the short plan (about 30 s), else the full one (about 3 min)
  --no-pin         servers and this client share every CPU (default: a CPU split with taskset)
  --keep-rep-movsb on an AMD CPU, leave glibc's `rep movsb` copy on in the servers (default:
                   off for all alike, GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=0x10000000)
  --svg FILE       where the chart goes (default target/bench/ratios.svg)
  --framework NAME axum, warp, poem, actix-web or floor (repeatable; default: all)
  --only SECTION   one section of the run (repeatable; default: all)
  --shape LABEL    one stream shape, e.g. \"64 KiB\" (repeatable; default: all)";

/// `None` when the arguments are fine; else the exit code after the usage
/// was printed (0 for `--help`).
fn check_args(args: &[String]) -> Option<ExitCode> {
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                return Some(ExitCode::SUCCESS);
            }
            "--quick" | "--no-pin" | "--keep-rep-movsb" => {}
            "--svg" | "--framework" | "--only" | "--shape" => {
                if rest.next().is_none() {
                    eprintln!("{arg} needs a value\n{USAGE}");
                    return Some(ExitCode::from(2));
                }
            }
            other => {
                eprintln!("unknown argument {other:?}\n{USAGE}");
                return Some(ExitCode::from(2));
            }
        }
    }
    None
}

async fn run() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let svg = args
        .iter()
        .position(|a| a == "--svg")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "target/bench/ratios.svg".to_owned());
    let plan = if quick { QUICK } else { FULL };
    // `--framework NAME` (repeatable), `--only stream|idle|fanout` and `--shape`
    // narrow the run, for profiling one part; the default runs everything.
    let values = |flag: &str| -> Vec<&str> {
        args.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    };
    let chosen = values("--framework");
    let only = values("--only");
    let runs = |section: &str| only.is_empty() || only.contains(&section);
    // `--shape LABEL` (repeatable, e.g. "64 KiB"): only those stream shapes.
    let shapes = values("--shape");
    let started = Instant::now();

    let mut servers = Vec::new();
    for framework in FRAMEWORKS
        .into_iter()
        .filter(|f| chosen.is_empty() || chosen.contains(f))
    {
        for flavour in FLAVOURS {
            match Server::start(framework, flavour) {
                Ok(server) => servers.push(server),
                Err(err) => {
                    eprintln!("bench-load: {err}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let mut failed = false;

    // The limit formats each shape's body on its first request: not timed.
    for server in servers
        .iter()
        .filter(|s| s.flavour == "limit" && runs("stream"))
    {
        for &(label, size, lines) in &SHAPES {
            if !shapes.is_empty() && !shapes.contains(&label) {
                continue;
            }
            let n = (plan.stream_bytes / size).clamp(1000, 500_000) as u64;
            if let Err(err) = stream_run(server.addr, n, size, lines).await {
                eprintln!("bench-load: {} warm-up {size}: {err}", server.name());
                failed = true;
            }
        }
    }

    // 1. One stream: events/s per shape, servers interleaved rep by rep.
    let mut rates: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    // Server CPU per event (ns), which the client's own speed does not bound.
    let mut costs: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    for rep in 0..plan.stream_reps * usize::from(runs("stream")) {
        for (shape, &(label, size, lines)) in SHAPES.iter().enumerate() {
            if !shapes.is_empty() && !shapes.contains(&label) {
                continue;
            }
            let n = (plan.stream_bytes / size).clamp(1000, 500_000) as u64;
            for k in 0..servers.len() {
                let i = (k + rep) % servers.len();
                let cpu_before = cpu_ns(servers[i].pid());
                match stream_run(servers[i].addr, n, size, lines).await {
                    Ok(rate) => {
                        rates.entry((i, shape)).or_default().push(rate);
                        if let (Some(a), Some(b)) = (cpu_before, cpu_ns(servers[i].pid())) {
                            let per_event = b.saturating_sub(a) as f64 / n as f64;
                            costs.entry((i, shape)).or_default().push(per_event);
                        }
                    }
                    Err(err) => {
                        eprintln!("bench-load: {} stream {size}: {err}", servers[i].name());
                        failed = true;
                    }
                }
            }
        }
        eprintln!(
            "bench-load: stream rep {} done ({:.0} s)",
            rep + 1,
            started.elapsed().as_secs_f64()
        );
    }

    // The hub routes: built-in and ssekit only.
    let hub_servers: Vec<usize> = (0..servers.len())
        .filter(|&i| servers[i].flavour != "limit")
        .collect();

    // 2. Idle streams and departure, on servers that no fan-out has used
    //    yet (a built-in that does not notice departures would still hold
    //    the fan-out's subscribers).
    let mut idle: BTreeMap<usize, Idle> = BTreeMap::new();
    let group = (IDLE_STREAMS_AT_ONCE / plan.idle_streams).max(1);
    let idle_servers: Vec<usize> = hub_servers
        .iter()
        .copied()
        .filter(|_| runs("idle"))
        .collect();
    for chunk in idle_servers.chunks(group) {
        let members: Vec<&Server> = chunk.iter().map(|&i| &servers[i]).collect();
        for (&i, result) in chunk.iter().zip(idle_group(&members, plan).await) {
            match result {
                Ok(result) => {
                    idle.insert(i, result);
                }
                Err(err) => {
                    eprintln!("bench-load: {} idle: {err}", servers[i].name());
                    failed = true;
                }
            }
        }
    }
    eprintln!(
        "bench-load: idle done ({:.0} s)",
        started.elapsed().as_secs_f64()
    );

    // 3. Fan-out: built-in and ssekit, and the floor (no framework; see
    //    `bench-floor`), unless `--framework` leaves it out.
    let mut fanout_servers = hub_servers.clone();
    if runs("fanout") && (chosen.is_empty() || chosen.contains(&FLOOR)) {
        match Server::start(FLOOR, "limit") {
            Ok(server) => {
                fanout_servers.push(servers.len());
                servers.push(server);
            }
            Err(err) => {
                eprintln!("bench-load: {err}");
                failed = true;
            }
        }
    }
    let fanouts: [(usize, u64, u64); 2] = [(1000, 200, 500), (5000, 20, 50)];
    let mut fan: BTreeMap<(usize, usize), Vec<Fanout>> = BTreeMap::new();
    for rep in 0..plan.fanout_reps * usize::from(runs("fanout")) {
        for (f, &(subs, messages, rate)) in fanouts.iter().enumerate() {
            for k in 0..fanout_servers.len() {
                let i = fanout_servers[(k + rep) % fanout_servers.len()];
                // Every run on a fresh server process: a server that has not
                // noticed the clients of an earlier step or run (poem's and
                // actix-web-lab's built-ins notice only at their next write)
                // would otherwise still feed them.
                match Server::start(servers[i].framework, servers[i].flavour) {
                    Ok(fresh) => servers[i] = fresh,
                    Err(err) => {
                        eprintln!("bench-load: {err}");
                        failed = true;
                        continue;
                    }
                }
                match fanout_run(servers[i].pid(), servers[i].addr, subs, messages, rate).await {
                    Ok(result) => fan.entry((i, f)).or_default().push(result),
                    Err(err) => {
                        eprintln!("bench-load: {} fan-out {subs}: {err}", servers[i].name());
                        failed = true;
                    }
                }
            }
        }
        eprintln!(
            "bench-load: fan-out rep {} done ({:.0} s)",
            rep + 1,
            started.elapsed().as_secs_f64()
        );
    }

    // The table.
    let index = |framework: &str, flavour: &str| {
        servers
            .iter()
            .position(|s| s.framework == framework && s.flavour == flavour)
    };
    println!(
        "\n# ssekit vs each framework's built-in SSE ({} run, loopback, {} reps of one stream, medians; {})\n",
        if quick { "quick" } else { "full" },
        plan.stream_reps,
        pinning().map_or_else(
            || "servers and client unpinned".to_owned(),
            |c| format!(
                "servers on CPU {}, load client on CPU {}",
                c.servers, c.client
            )
        ) + if rep_movsb_off().is_some() {
            "; servers without glibc's `rep movsb` copy (an AMD CPU)"
        } else {
            ""
        }
    );
    println!(
        "## One stream, events/s (ratio: ssekit / built-in; vs limit: ssekit / pre-formatted bytes)\n"
    );
    println!(
        "| framework | shape | built-in | ssekit | limit | ssekit / built-in | ssekit / best built-in | ssekit / limit | spread |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut chart: Vec<(String, String, f64)> = Vec::new();
    for (shape, &(label, size, _)) in SHAPES.iter().enumerate() {
        let best_builtin = FRAMEWORKS
            .iter()
            .map(|fw| median_at(&rates, index(fw, "builtin"), shape))
            .filter(|x| x.is_finite())
            .fold(f64::NAN, f64::max);
        for framework in FRAMEWORKS {
            let get = |flavour: &str| median_at(&rates, index(framework, flavour), shape);
            let spread_of = |flavour: &str| {
                index(framework, flavour)
                    .and_then(|i| rates.get(&(i, shape)))
                    .map_or(f64::NAN, |v| spread(v))
            };
            let (b, s, l) = (get("builtin"), get("ssekit"), get("limit"));
            if b.is_nan() && s.is_nan() && l.is_nan() {
                continue; // not run (`--only`, `--framework`)
            }
            println!(
                "| {framework} | {label} | {} | {} ({:.0} MB/s) | {} | **{:.2}x** | {:.2}x | {:.2}x | ±{:.0}% / ±{:.0}% |",
                fmt_rate(b),
                fmt_rate(s),
                s * size as f64 / 1e6,
                fmt_rate(l),
                s / b,
                s / best_builtin,
                s / l,
                spread_of("builtin") / 2.0,
                spread_of("ssekit") / 2.0,
            );
            chart.push((framework.to_owned(), label.to_owned(), s / b));
        }
    }
    println!("\n## One stream, server CPU per event (ns, median; all of the server's threads)\n");
    println!(
        "Where events/s are bound by the load client (a ratio near 1.0 to the limit), this shows which server does less work per event.\n"
    );
    println!("| framework | shape | built-in | ssekit | limit | ssekit / built-in |");
    println!("|---|---|---|---|---|---|");
    for (shape, &(label, _, _)) in SHAPES.iter().enumerate() {
        for framework in FRAMEWORKS {
            let get = |flavour: &str| median_at(&costs, index(framework, flavour), shape);
            let (b, s, l) = (get("builtin"), get("ssekit"), get("limit"));
            if b.is_nan() && s.is_nan() && l.is_nan() {
                continue;
            }
            println!(
                "| {framework} | {label} | {b:.0} | {s:.0} | {l:.0} | **{:.2}x** |",
                s / b
            );
        }
    }
    let coalesce = ssekit_bench::coalesce_from_env();
    println!(
        "\n## Fan-out, 128 B messages: latency p50 / p99 / max (ms), missing deliveries{}\n",
        if coalesce.is_zero() {
            String::new()
        } else {
            format!(
                " (ssekit's subscribers coalesce bursts: {} ms, from {})",
                coalesce.as_millis(),
                ssekit_bench::COALESCE_ENV
            )
        }
    );
    println!(
        "| framework | subscribers x messages | built-in | ssekit | p99 ratio (built-in / ssekit) | p99 of the first 80 % of messages, built-in / ssekit (ratio) | server CPU per delivery, ns, built-in / ssekit | load client's CPU, % of its one thread, built-in / ssekit run |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (f, &(subs, messages, rate)) in fanouts.iter().enumerate() {
        for framework in FRAMEWORKS {
            // The median over one server's runs of one measure, if it ran.
            let at = |flavour: &str, measure: fn(&Fanout) -> Option<f64>| {
                median_of(&fan, index(framework, flavour), f, measure)
            };
            let get = |flavour: &str| {
                let missing = index(framework, flavour)
                    .and_then(|i| fan.get(&(i, f)))
                    .map(|runs| runs.iter().map(|r| r.missing).sum::<usize>())?;
                Some((
                    at(flavour, |r| Some(r.p50_ms))?,
                    at(flavour, |r| Some(r.p99_ms))?,
                    at(flavour, |r| Some(r.max_ms))?,
                    missing,
                ))
            };
            let show = |v: Option<(f64, f64, f64, usize)>| {
                v.map_or("n/a".to_owned(), |(a, b, c, m)| {
                    format!("{a:.2} / {b:.2} / {c:.2}, {m} missing")
                })
            };
            let (b, s) = (get("builtin"), get("ssekit"));
            if b.is_none() && s.is_none() {
                continue;
            }
            let ratio = match (b, s) {
                (Some(b), Some(s)) => format!("{:.2}x", b.1 / s.1),
                _ => "n/a".to_owned(),
            };
            // Built-in and ssekit of one measure; NaN where one did not run.
            let both = |measure: fn(&Fanout) -> Option<f64>| {
                ["builtin", "ssekit"].map(|flavour| at(flavour, measure).unwrap_or(f64::NAN))
            };
            let [eb, es] = both(|r| Some(r.p99_early_ms));
            let [cb, cs] = both(|r| r.cpu_ns_per_delivery);
            let [bb, bs] = both(|r| r.client_busy_percent);
            println!(
                "| {framework} | {subs} x {messages} at {rate}/s | {} | {} | {ratio} | {eb:.2} / {es:.2} ({:.2}x) | {cb:.0} / {cs:.0} | {bb:.0} / {bs:.0} |",
                show(b),
                show(s),
                eb / es,
            );
        }
    }
    if let Some(floor) = index(FLOOR, "limit").filter(|i| fan.keys().any(|k| k.0 == *i)) {
        println!(
            "\nThe floor: `bench-floor`, no framework, no async runtime, no SSE type; one thread writes each message, formatted once, to every subscriber, in passes (one `writev` per subscriber per pass unless its socket is full), a message published during a pass going to the subscribers not yet reached. Its p99 is what a server doing nothing but the writes reached on this machine in this run.\n"
        );
        println!(
            "| subscribers x messages | p50 / p99 / max ms | p99 of the first 80 % of messages | server CPU per delivery, ns | load client's CPU, % of its one thread |"
        );
        println!("|---|---|---|---|---|");
        for (f, &(subs, messages, rate)) in fanouts.iter().enumerate() {
            let at = |measure: fn(&Fanout) -> Option<f64>| {
                median_of(&fan, Some(floor), f, measure).unwrap_or(f64::NAN)
            };
            let missing: usize = fan
                .get(&(floor, f))
                .map_or(0, |runs| runs.iter().map(|r| r.missing).sum());
            println!(
                "| {subs} x {messages} at {rate}/s | {:.2} / {:.2} / {:.2}, {missing} missing | {:.2} | {:.0} | {:.0} |",
                at(|r| Some(r.p50_ms)),
                at(|r| Some(r.p99_ms)),
                at(|r| Some(r.max_ms)),
                at(|r| Some(r.p99_early_ms)),
                at(|r| r.cpu_ns_per_delivery),
                at(|r| r.client_busy_percent),
            );
        }
    }
    println!(
        "\n## {} idle streams: server RSS and CPU; time until a departed idle client is noticed (bound {} s)\n",
        plan.idle_streams,
        plan.departure_bound.as_secs_f64()
    );
    let steady_column = plan.steady_after.map(|after| {
        format!(
            " KB per stream {} s after opening, past the first keep-alive, built-in / ssekit |",
            after.as_secs()
        )
    });
    println!(
        "| framework | KB per stream built-in / ssekit |{} CPU % of a core built-in / ssekit | departure noticed built-in / ssekit |",
        steady_column.as_deref().unwrap_or("")
    );
    println!(
        "|---|---|{}---|---|",
        if steady_column.is_some() { "---|" } else { "" }
    );
    for framework in FRAMEWORKS {
        let get = |flavour: &str| index(framework, flavour).and_then(|i| idle.get(&i));
        let notice = |r: Option<&Idle>| {
            r.map_or("n/a".to_owned(), |r| {
                r.notice
                    .map_or(format!("> {} s", plan.departure_bound.as_secs_f64()), |d| {
                        format!("{:.0} ms", d.as_secs_f64() * 1000.0)
                    })
            })
        };
        let (b, s) = (get("builtin"), get("ssekit"));
        if b.is_none() && s.is_none() {
            continue;
        }
        let steady = |r: Option<&Idle>| {
            r.and_then(|r| r.steady_kib_per_stream)
                .map_or(f64::NAN, |kib| kib * 1.024)
        };
        let steady_cell = if steady_column.is_some() {
            format!(" {:.1} / {:.1} |", steady(b), steady(s))
        } else {
            String::new()
        };
        println!(
            "| {framework} | {:.1} / {:.1} |{steady_cell} {:.1} / {:.1} | {} / {} |",
            b.map_or(f64::NAN, |r| r.kib_per_stream * 1.024),
            s.map_or(f64::NAN, |r| r.kib_per_stream * 1.024),
            b.map_or(f64::NAN, |r| r.cpu_percent),
            s.map_or(f64::NAN, |r| r.cpu_percent),
            notice(b),
            notice(s),
        );
    }
    println!(
        "\nbench-load: {:.0} s in all; chart: {svg}",
        started.elapsed().as_secs_f64()
    );
    if let Err(err) = ssekit_bench::chart::write(&svg, &chart) {
        eprintln!("bench-load: chart: {err}");
        failed = true;
    }
    drop(servers);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
