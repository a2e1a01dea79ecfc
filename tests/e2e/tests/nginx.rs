//! A real nginx as a reverse proxy in front of each demo binary.
//!
//! SEEDS 3's production failure: behind nginx, whose proxy buffering is on by
//! default, the events of a stream arrived all at once at its end. ssekit
//! fixes it in the library (`X-Accel-Buffering: no` on every event stream),
//! so here nginx runs a *plain* config — `proxy_pass` and
//! `proxy_http_version 1.1`, buffering left on — and events still arrive one
//! by one; one run uses the seed's hand-tuned config.
//!
//! Measured while writing this test: nginx 1.22 (Debian 12) passes these small
//! chunked events through one by one even when told to ignore the header
//! (`proxy_ignore_headers X-Accel-Buffering`), so with this nginx the header
//! is a safeguard rather than the fix, and no control run here can show the
//! seed's failure.
//!
//! Needs nginx on PATH or in /usr/sbin (`apt-get install nginx`; `.ci/run`
//! installs it) and the demo binaries (`cargo xtask e2e` builds them). Traffic stays on 127.0.0.1.

#![allow(
    clippy::expect_used,
    reason = "test support: a step that fails fails the test, and its message says which step"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ssekit_conformance::client::{SseReader, Version, get};
use ssekit_conformance::parser::Parsed;
use ssekit_e2e::{DemoProcess, demo_binary, frameworks, require};

const PLAIN: &str = "proxy_http_version 1.1;";
const SEED_TUNED: &str = "proxy_http_version 1.1; proxy_set_header Connection ''; proxy_buffering off; \
                          proxy_cache off; chunked_transfer_encoding off;";

fn nginx_binary() -> PathBuf {
    require(
        "nginx",
        &["/usr/sbin", "/usr/local/sbin"],
        "apt-get install -y nginx (.ci/run does it)",
    )
}

struct Nginx {
    addr: SocketAddr,
    child: Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn start_nginx(dir: &Path, backend: SocketAddr, location: &str) -> Nginx {
    std::fs::create_dir_all(dir).expect("nginx dir");
    let port = free_port();
    let d = dir.display();
    let config = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://{backend};\n      \
         {location}\n    }}\n  }}\n}}\n"
    );
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config).expect("write nginx.conf");
    let child = Command::new(nginx_binary())
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .spawn()
        .expect("start nginx");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx listens within 10 s; see {d}/error.log"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Nginx { addr, child }
}

/// Reads `/events?interval_ms=300` through the proxy: the 5 events, and how far
/// apart the first and the last arrived.
async fn events_through(proxy: SocketAddr) -> (Vec<String>, Duration) {
    let reply = get(proxy, "/events?interval_ms=300", &[], Version::Http1).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let mut reader = SseReader::new(reply);
    let mut data = Vec::new();
    let mut first = None;
    let mut last = Instant::now();
    while let Some(item) = reader.next().await {
        if let Parsed::Event { data: d, .. } = item {
            last = Instant::now();
            first.get_or_insert(last);
            data.push(d);
        }
    }
    (data, last - first.unwrap_or(last))
}

fn scratch(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("nginx-{name}-{}", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_flow_one_by_one_through_a_default_nginx() {
    let test = async {
        let expected: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        for name in frameworks() {
            let demo = DemoProcess::start(&name, &demo_binary(&name));
            let nginx = start_nginx(&scratch(&name), demo.addr, PLAIN);
            let (data, spread) = events_through(nginx.addr).await;
            assert_eq!(data, expected, "{name}");
            // Sent 300 ms apart: 1.2 s from the first to the last. Buffered,
            // they would arrive together at the end.
            assert!(
                spread >= Duration::from_millis(600),
                "{name}: events arrived one by one through nginx (spread {spread:?})"
            );
        }
    };
    tokio::time::timeout(Duration::from_secs(120), test)
        .await
        .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_flow_through_the_seeds_hand_tuned_nginx() {
    let test = async {
        let demo = DemoProcess::start("axum", &demo_binary("axum"));
        let nginx = start_nginx(&scratch("tuned"), demo.addr, SEED_TUNED);
        let (data, spread) = events_through(nginx.addr).await;
        assert_eq!(data.len(), 5);
        assert!(
            spread >= Duration::from_millis(600),
            "events arrived one by one (spread {spread:?})"
        );
    };
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("bounded in time");
}

/// Graceful shutdown behind a default nginx: the upstream demo gets
/// `SIGTERM` while a stream is open through the proxy; the client gets the
/// final `retry:` event and a clean end of the chunked body, not a `502` or a
/// cut connection ("upstream prematurely closed").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_shutdown_ends_streams_cleanly_through_nginx() {
    let test = async {
        for name in frameworks() {
            let mut demo = DemoProcess::start(&name, &demo_binary(&name));
            let nginx = start_nginx(&scratch(&format!("shutdown-{name}")), demo.addr, PLAIN);
            let reply = get(nginx.addr, "/sse?interval_ms=100", &[], Version::Http1).await;
            assert_eq!(reply.status, 200, "{name}");
            let mut reader = SseReader::new(reply);
            let first = reader.next_event().await;
            assert!(first.is_some(), "{name}: the ticker runs through nginx");
            let exited = tokio::task::spawn_blocking(move || {
                let ok = demo.terminate(Duration::from_secs(10));
                (demo, ok)
            })
            .await
            .expect("terminate task");
            assert!(
                exited.1,
                "{name}: the demo exits with success after SIGTERM"
            );
            // `rest` fails the test if nginx cuts the body (the client's read
            // errors); a clean end returns what came before it.
            let rest = reader.rest().await;
            assert!(
                matches!(rest.last(), Some(Parsed::Retry { .. })),
                "{name}: the final event is the retry hint, then a clean end: {rest:?}"
            );
        }
    };
    tokio::time::timeout(Duration::from_secs(120), test)
        .await
        .expect("bounded in time");
}
