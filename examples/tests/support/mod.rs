//! Starts the demo binaries on ephemeral loopback ports.

#![allow(
    dead_code,
    clippy::expect_used,
    reason = "each test binary uses a part of the support module; a failed step fails the test"
)]

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The four demo binaries.
pub(crate) const BINARIES: [(&str, &str); 4] = [
    ("axum", env!("CARGO_BIN_EXE_axum")),
    ("actix-web", env!("CARGO_BIN_EXE_actix-web")),
    ("warp", env!("CARGO_BIN_EXE_warp")),
    ("poem", env!("CARGO_BIN_EXE_poem")),
];

/// A running demo binary; killed on drop.
pub(crate) struct DemoProcess {
    pub(crate) name: &'static str,
    pub(crate) addr: SocketAddr,
    child: Child,
}

impl DemoProcess {
    /// Starts `binary --addr 127.0.0.1:0` and reads the address it announces.
    pub(crate) fn start(name: &'static str, binary: &str) -> Self {
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{name} announced its address within 20 s"));
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|rest| rest.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("{name} announced an address: {line:?}"));
        Self { name, addr, child }
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
