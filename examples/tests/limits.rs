//! `--max-connections N` holds the process to N open connections on every
//! binary (actix-web's own limit is per worker: 2 workers served 2 N), and
//! the server serves again once connections close.
#![allow(
    clippy::expect_used,
    reason = "test support: a step that fails fails the test, and its message says which step"
)]

mod support;

use std::time::Duration;

use support::{BINARIES, DemoProcess};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Opens a `/sse` stream and waits, at most `wait`, for its response head:
/// the connection, if it was served.
async fn open_stream(addr: std::net::SocketAddr, wait: Duration) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /sse HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(wait, async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        Some(())
    })
    .await
    .ok()
    .flatten()
    .map(|()| stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_holds_for_the_whole_process() {
    const MAX: usize = 4;
    for (name, binary) in BINARIES {
        let demo = DemoProcess::start_with_args(
            name,
            std::path::Path::new(binary),
            &["--max-connections", &MAX.to_string()],
        );
        let mut served = Vec::new();
        for _ in 0..MAX {
            let stream = open_stream(demo.addr, Duration::from_secs(10)).await;
            served.push(stream.expect("served: under the limit"));
        }
        // Over the limit: the next ones wait (in the listen backlog).
        let mut over = 0;
        for _ in 0..MAX {
            if open_stream(demo.addr, Duration::from_millis(500))
                .await
                .is_some()
            {
                over += 1;
            }
        }
        assert_eq!(
            over, 0,
            "{name}: {over} connections served over --max-connections {MAX}"
        );
        // They leave: the next is served. (One leaving is enough on the
        // hyper servers; actix-server 2.6 wakes its accept loop only once a
        // full worker is two connections under its share, actix-web#2703.)
        served.clear();
        assert!(
            open_stream(demo.addr, Duration::from_secs(10))
                .await
                .is_some(),
            "{name}: served once the connections closed"
        );
    }
}
