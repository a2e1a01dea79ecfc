//! A `redis-server` of the test's own: on a free loopback port, in a
//! temporary directory, stopped (and its directory removed) on drop. No test
//! depends on a Redis started by hand.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::require;

/// Whether the server writes its data to disk (an append-only file, synced
/// on every write) or keeps it in memory only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// `--appendonly yes --appendfsync always`: a restart keeps everything.
    Aof,
    /// `--appendonly no --save ''`: a restart loses everything.
    None,
}

/// A running `redis-server`; stopped on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    persistence: Persistence,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free loopback port, in a new temporary directory.
    ///
    /// # Panics
    ///
    /// When `redis-server` is not installed (with the command that installs
    /// it) or does not answer `PING` within 10 s.
    pub fn start(persistence: Persistence) -> Self {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ssekit-redis-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the temporary directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut server = Self {
            port,
            dir,
            persistence,
            child: None,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server (`SIGTERM`: it writes what it must and exits) and
    /// waits for it, at most 10 s.
    ///
    /// # Panics
    ///
    /// When it does not exit in time.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let start = Instant::now();
        while child.try_wait().expect("wait for redis-server").is_none() {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis-server still running 10 s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Writes a snapshot of the data now (`SAVE`, to `dump.rdb` in its
    /// directory), which the server loads when it starts again: a restart
    /// then brings back this older data, as Redis's default RDB persistence
    /// does after a crash.
    ///
    /// # Panics
    ///
    /// When the server does not answer `+OK` within 10 s.
    pub fn snapshot(&self) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .expect("connect to redis-server");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        stream.write_all(b"SAVE\r\n").expect("send SAVE");
        let mut reply = [0u8; 5];
        stream.read_exact(&mut reply).expect("the answer to SAVE");
        assert_eq!(&reply, b"+OK\r\n", "SAVE");
    }

    /// Freezes the server (`SIGSTOP`): connections stay open, nothing is
    /// answered, as with a Redis that hangs. [`RedisServer::thaw`] resumes it.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Resumes a frozen server (`SIGCONT`).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server runs");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} redis-server");
    }

    /// Starts the server again (stopping it first if it runs), same port,
    /// same directory, and waits until it answers `PING`.
    ///
    /// # Panics
    ///
    /// As [`RedisServer::start`].
    pub fn restart(&mut self) {
        self.stop();
        let program = require(
            "redis-server",
            &["/usr/bin", "/usr/sbin"],
            "apt-get install -y redis-server (.ci/run installs it)",
        );
        let appendonly = match self.persistence {
            Persistence::Aof => "yes",
            Persistence::None => "no",
        };
        let child = Command::new(program)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", "", "--appendonly", appendonly])
            .args(["--appendfsync", "always", "--daemonize", "no"])
            .args(["--loglevel", "warning"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let start = Instant::now();
        loop {
            if ping(addr) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not answer PING on {addr} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
