//! The demos' graceful shutdown ends every open response, not only the
//! event streams: a `/chunk` page that would take an hour gets its last
//! chunk, and the process exits at once instead of after the 5 s limit.
#![allow(
    clippy::expect_used,
    reason = "test support: a step that fails fails the test, and its message says which step"
)]

mod support;

use std::time::Duration;

use support::{BINARIES, DemoProcess};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const STEP: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_page_ends_cleanly_on_shutdown() {
    for (name, binary) in BINARIES {
        let mut demo = DemoProcess::start(name, std::path::Path::new(binary));
        let mut stream = TcpStream::connect(demo.addr).await.expect("connect");
        let request = format!(
            "GET /chunk?interval_ms=3600000 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            demo.addr
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        // The head and the first pieces (`<html><body>`, `<h1>0</h1>`).
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&received).contains("<h1>0</h1>") {
            let n = tokio::time::timeout(STEP, stream.read(&mut buf))
                .await
                .expect("the first pieces within the step")
                .expect("read");
            assert!(n > 0, "{name}: closed before the first pieces");
            received.extend_from_slice(&buf[..n]);
        }
        // The next piece is an hour away: shut down now.
        let exited = tokio::task::spawn_blocking(move || {
            let clean = demo.terminate(Duration::from_secs(3));
            (demo, clean)
        });
        let rest = tokio::time::timeout(STEP, async {
            let mut rest = Vec::new();
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break rest,
                    Ok(n) => rest.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await
        .expect("the page ends within the step");
        received.extend_from_slice(&rest);
        assert!(
            received.ends_with(b"\r\n0\r\n\r\n"),
            "{name}: the page's last chunk, got {:?}",
            String::from_utf8_lossy(&received)
        );
        let (_demo, clean) = exited.await.expect("terminate");
        assert!(clean, "{name}: exited with success within 3 s");
    }
}
