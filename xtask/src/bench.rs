//! `cargo xtask bench [--quick]`: the real-socket benchmark. Builds the
//! `ssekit-bench` crate (profile `benchmark`) and runs its load client, which
//! starts every server of `shared/BENCH-CONTRACT.md` (each framework's
//! built-in SSE, ssekit through its adapter, the pre-formatted limit),
//! drives them over loopback interleaved rep by rep, prints one table of
//! ratios and writes `target/bench/ratios.svg`; then, except with `--quick`,
//! the Redis backplane's step (crate `ssekit-bench-redis`, binary
//! `bench-redis`: 1 000 subscribers over two instances sharing one Redis,
//! against the in-memory hub).
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

/// The profile the benchmark binaries are built with (see the workspace
/// `Cargo.toml`), and so their directory under `target/`.
const PROFILE: &str = "benchmark";

/// Builds one package's binaries with [`PROFILE`].
fn build(root: &Path, package: &str) -> Result<(), ExitCode> {
    eprintln!("xtask bench: building {package} (profile {PROFILE}) ...");
    let built = Command::new("cargo")
        .args(["build", "--profile", PROFILE, "-p", package, "--bins"])
        .current_dir(root)
        .status();
    match built {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => {
            eprintln!("xtask bench: cargo build -p {package} failed ({status})");
            Err(ExitCode::FAILURE)
        }
        Err(err) => {
            eprintln!("xtask bench: could not run cargo build: {err}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Runs one built benchmark binary with `args`.
fn run_binary(root: &Path, name: &str, args: &[&str]) -> ExitCode {
    match Command::new(root.join("target").join(PROFILE).join(name))
        .args(args)
        .current_dir(root)
        .status()
    {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask bench: {name} reported failures ({status})");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("xtask bench: could not run {name}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The real-socket benchmark, then (unless `--quick`) the Redis step.
///
/// `--only SECTION` (repeatable: `stream`, `idle`, `fanout`, `redis`) and
/// `--framework NAME` and `--shape LABEL` (repeatable) narrow the run; they
/// go to the load client as they are, and so do `--no-pin` (servers and client share
/// every CPU instead of half each) and `--keep-rep-movsb`. `--quick` skips the Redis step unless `--only redis`
/// asks for it: the quick run is the socket table, and building redis-rs
/// would take a third of its time.
fn sockets(root: &Path, args: &[String]) -> ExitCode {
    let quick = args.iter().any(|a| a == "--quick");
    let only: Vec<&str> = args
        .windows(2)
        .filter(|w| w[0] == "--only")
        .map(|w| w[1].as_str())
        .collect();
    let socket_sections = ["stream", "idle", "fanout"];
    let run_sockets = only.is_empty() || only.iter().any(|s| socket_sections.contains(s));
    let run_redis = if only.is_empty() {
        !quick
    } else {
        only.contains(&"redis")
    };
    let mut outcome = ExitCode::SUCCESS;
    if run_sockets {
        if let Err(code) = build(root, "ssekit-bench") {
            return code;
        }
        let mut load_args = vec!["--svg", "target/bench/ratios.svg"];
        if quick {
            load_args.push("--quick");
        }
        for flag in ["--no-pin", "--keep-rep-movsb"] {
            if args.iter().any(|a| a == flag) {
                load_args.push(flag);
            }
        }
        for pair in args.windows(2) {
            let narrows = pair[0] == "--framework"
                || pair[0] == "--shape"
                || (pair[0] == "--only" && socket_sections.contains(&pair[1].as_str()));
            if narrows {
                load_args.extend([pair[0].as_str(), pair[1].as_str()]);
            }
        }
        outcome = run_binary(root, "bench-load", &load_args);
    }
    if run_redis {
        if let Err(code) = build(root, "ssekit-bench-redis") {
            return code;
        }
        let redis = run_binary(root, "bench-redis", if quick { &["--quick"] } else { &[] });
        if outcome == ExitCode::SUCCESS {
            outcome = redis;
        }
    } else {
        eprintln!(
            "xtask bench: the Redis step is not part of this run (`cargo xtask bench` runs it; `cargo xtask bench --only redis` alone)"
        );
    }
    outcome
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
