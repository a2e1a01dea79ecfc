//! `cargo xtask bench [--quick]`: the real-socket benchmark. Builds the
//! `ssekit-bench` crate in release mode and runs its load client, which
//! starts every server of `shared/BENCH-CONTRACT.md` (each framework's
//! built-in SSE, ssekit through its adapter, the pre-formatted limit),
//! drives them over loopback interleaved rep by rep, prints one table of
//! ratios and writes `target/bench/ratios.svg`; then the Redis backplane's
//! step (`bench-redis`: 1 000 subscribers over two instances sharing one
//! Redis, against the in-memory hub).
//!
//! `cargo xtask bench --criterion [--quick]`: the criterion micro-benchmark of
//! a 1,000-event response body without sockets, each framework's built-in
//! SSE against ssekit, as ratios read from criterion's `estimates.json`.

use std::path::Path;
use std::process::{Command, ExitCode};

use crate::frameworks;

/// Mean time in nanoseconds of one benchmark, from criterion's estimates.
fn mean_ns(root: &Path, group: &str, function: &str) -> Option<f64> {
    let path = root
        .join("target/criterion")
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["mean"]["point_estimate"].as_f64()
}

pub(crate) fn run(root: &Path, args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--criterion") {
        return criterion(root, args);
    }
    sockets(root, args)
}

/// The real-socket benchmark.
fn sockets(root: &Path, args: &[String]) -> ExitCode {
    eprintln!("xtask bench: building the benchmark servers and load client (release) ...");
    let built = Command::new("cargo")
        .args(["build", "--release", "-p", "ssekit-bench", "--bins"])
        .current_dir(root)
        .status();
    match built {
        Ok(status) if status.success() => {}
        Ok(status) => {
            eprintln!("xtask bench: cargo build failed ({status})");
            return ExitCode::FAILURE;
        }
        Err(err) => {
            eprintln!("xtask bench: could not run cargo build: {err}");
            return ExitCode::FAILURE;
        }
    }
    let mut load = Command::new(root.join("target/release/bench-load"));
    load.current_dir(root)
        .args(["--svg", "target/bench/ratios.svg"]);
    if args.iter().any(|a| a == "--quick") {
        load.arg("--quick");
    }
    let sockets = match load.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask bench: the load client reported failures ({status})");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("xtask bench: could not run bench-load: {err}");
            ExitCode::FAILURE
        }
    };
    let redis = redis_backplane(root, args.iter().any(|a| a == "--quick"));
    if sockets == ExitCode::SUCCESS {
        redis
    } else {
        sockets
    }
}

/// The Redis backplane step: publish-to-delivery p50/p99 and throughput with
/// 1 000 subscribers over two instances sharing one Redis (a `redis-server`
/// of its own), against the in-memory hub in the same run.
fn redis_backplane(root: &Path, quick: bool) -> ExitCode {
    let mut command = Command::new(root.join("target/release/bench-redis"));
    command.current_dir(root);
    if quick {
        command.arg("--quick");
    }
    match command.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask bench: the Redis backplane benchmark failed ({status})");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("xtask bench: could not run bench-redis: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The criterion micro-benchmark.
fn criterion(root: &Path, args: &[String]) -> ExitCode {
    let quick = args.iter().any(|a| a == "--quick");
    let mut command = Command::new("cargo");
    command
        .args([
            "bench",
            "-p",
            "ssekit-conformance",
            "--bench",
            "response_body",
            "--",
        ])
        .current_dir(root);
    if quick {
        command.args(["--warm-up-time", "1", "--measurement-time", "2"]);
    }
    eprintln!("xtask bench: building and running the benchmarks (release build) ...");
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => {
            eprintln!("xtask bench: cargo bench failed ({status})");
            return ExitCode::FAILURE;
        }
        Err(err) => {
            eprintln!("xtask bench: could not run cargo bench: {err}");
            return ExitCode::FAILURE;
        }
    }
    println!(
        "\nresponse body of 1,000 events (mean time per response; ratio > 1: ssekit is faster)"
    );
    println!(
        "{:<10}  {:>12}  {:>12}  {:>8}",
        "framework", "built-in", "ssekit", "ratio"
    );
    let names = match frameworks::list(root) {
        Ok(list) => list,
        Err(err) => {
            eprintln!("xtask bench: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut missing = false;
    for framework in names.iter().map(|f| f.name.as_str()) {
        let group = format!("response_body_{framework}");
        let builtin = mean_ns(root, &group, "builtin");
        let ssekit = mean_ns(root, &group, "ssekit");
        let fmt =
            |ns: Option<f64>| ns.map_or("n/a".to_owned(), |ns| format!("{:.1} µs", ns / 1000.0));
        let ratio = match (builtin, ssekit) {
            (Some(b), Some(s)) if s > 0.0 => format!("{:.2}x", b / s),
            (None, Some(_)) => "n/a (no built-in SSE)".to_owned(),
            _ => {
                missing = true;
                "missing".to_owned()
            }
        };
        println!(
            "{framework:<10}  {:>12}  {:>12}  {ratio:>8}",
            fmt(builtin),
            fmt(ssekit)
        );
    }
    if missing {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
