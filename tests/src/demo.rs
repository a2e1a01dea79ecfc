//! Starts a demo binary of `examples/` on an ephemeral loopback port.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running demo binary; killed on drop.
#[derive(Debug)]
pub struct DemoProcess {
    /// Which framework it serves with.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl DemoProcess {
    /// Sends `SIGTERM` (through `kill`) and returns at once: the graceful
    /// shutdown starts.
    ///
    /// # Panics
    ///
    /// When `kill` cannot be run or fails.
    pub fn signal_terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {}", self.name);
    }

    /// Starts `binary --addr 127.0.0.1:0` and reads the address it announces.
    ///
    /// # Panics
    ///
    /// When it does not start, or announces no address within 20 s.
    pub fn start(name: &str, binary: &Path) -> Self {
        Self::start_with_args(name, binary, &[])
    }

    /// [`DemoProcess::start`] with more arguments (e.g. `--redis URL`).
    ///
    /// # Panics
    ///
    /// As [`DemoProcess::start`].
    pub fn start_with_args(name: &str, binary: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{name} announced no address within 20 s"));
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|rest| rest.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("{name} announced no address: {line:?}"));
        Self {
            name: name.to_owned(),
            addr,
            child,
        }
    }
}

impl DemoProcess {
    /// Sends `SIGTERM` (through `kill`, so no signal crate is needed) and
    /// waits, at most `limit`, for the process to exit; returns whether it
    /// exited successfully.
    ///
    /// # Panics
    ///
    /// When `kill` cannot be run or the process is still running after `limit`.
    pub fn terminate(&mut self, limit: Duration) -> bool {
        self.signal_terminate();
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the demo") {
                return status.success();
            }
            assert!(
                start.elapsed() < limit,
                "{} still running {limit:?} after SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
