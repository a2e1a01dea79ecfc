//! The tests that need programs besides the Rust toolchain: Node.js (the
//! second independent SSE parser, and playwright-core driving Chromium),
//! nginx and Chromium. Run them with `cargo xtask e2e`, which installs the
//! npm packages and builds the demo binaries first; `cargo xtask ci` runs it
//! too. Plain `cargo test` at the root leaves this crate out
//! (`default-members`).
//!
//! A missing program fails the test with the command that installs it: these
//! tests never skip.

#![allow(
    clippy::expect_used,
    clippy::missing_panics_doc,
    reason = "test support: a step that fails fails the test, and its message says which step"
)]

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub mod node;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|e| panic!("the workspace root: {e}"))
}

/// The path of `program`, found on `PATH` or in `extra_dirs`.
///
/// # Panics
///
/// When it is not installed, with `install`: the command that installs it.
pub fn require(program: &str, extra_dirs: &[&str], install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{program}` is not installed, and this end-to-end test needs it: {install}")
        })
}

/// The frameworks, one per folder of `adapters/`: each has a demo binary of
/// the same name.
pub fn frameworks() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("adapters"))
        .unwrap_or_else(|e| panic!("read adapters/: {e}"))
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// The demo binary of `framework`, built by `cargo xtask e2e`.
///
/// # Panics
///
/// When it has not been built, with the command that builds it.
pub fn demo_binary(framework: &str) -> PathBuf {
    // The test binary runs from `target/debug/deps/`; the demos are in
    // `target/debug/`.
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("the test binary's path: {e}"));
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from(framework), |dir| dir.join(framework));
    assert!(
        binary.is_file(),
        "the demo binary {} is not built: run `cargo build -p ssekit-examples --bins` \
         (`cargo xtask e2e` does)",
        binary.display()
    );
    binary
}

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
    /// Starts `framework`'s demo binary with `--addr 127.0.0.1:0` and reads
    /// the address it announces.
    ///
    /// # Panics
    ///
    /// When it does not start, or announces no address within 20 s.
    pub fn start(framework: &str) -> Self {
        let binary = demo_binary(framework);
        let mut child = Command::new(&binary)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("{framework}: piped stdout"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{framework} announced no address within 20 s"));
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|rest| rest.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("{framework} announced no address: {line:?}"));
        Self {
            name: framework.to_owned(),
            addr,
            child,
        }
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
