//! The tests that need programs besides the Rust toolchain: Node.js (the
//! second independent SSE parser, and playwright-core driving Chromium),
//! nginx, Chromium and `redis-server` (the Redis backplane's tests start
//! their own, [`redis_server::RedisServer`]). Run them with `cargo xtask e2e`, which installs the
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

use std::path::{Path, PathBuf};

pub mod node;
pub mod redis_server;

pub use ssekit_conformance::demo::DemoProcess;

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

/// The frameworks: the one list, `[workspace.metadata.ssekit] frameworks` in
/// the root `Cargo.toml`. Each has a demo binary of the same name.
pub fn frameworks() -> Vec<String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap_or_else(|e| panic!("read Cargo.toml: {e}"));
    let list = manifest
        .split("[workspace.metadata.ssekit]")
        .nth(1)
        .and_then(|section| section.split_once("frameworks"))
        .and_then(|(_, rest)| rest.split_once('['))
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .unwrap_or_else(|| panic!("[workspace.metadata.ssekit] frameworks in Cargo.toml"));
    list.split(',')
        .map(|item| item.trim().trim_matches('"').to_owned())
        .filter(|name| !name.is_empty())
        .collect()
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
