//! `cargo xtask <command>`: the project's automation, in plain Rust.
//!
//! - `cargo xtask ci`: everything CI checks, in order, stopping at the first
//!   failure: npm packages of the test suite, fmt, clippy, docs, tests.

use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci      everything CI checks, in order: test dependencies (npm ci), fmt,
          clippy -D warnings, docs (-D warnings), all tests";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("xtask: unknown command {other:?}\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn root() -> std::path::PathBuf {
    let manifest = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or(manifest.clone(), std::path::Path::to_path_buf)
}

struct Step {
    name: &'static str,
    program: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const CI_STEPS: &[Step] = &[
    Step {
        name: "test dependencies: the independent SSE parser (npm ci --prefix tests/js)",
        program: "npm",
        args: &["ci", "--prefix", "tests/js", "--no-audit", "--no-fund"],
        env: &[],
    },
    Step {
        name: "test dependencies: playwright-core (npm ci --prefix examples/browser)",
        program: "npm",
        args: &[
            "ci",
            "--prefix",
            "examples/browser",
            "--no-audit",
            "--no-fund",
        ],
        env: &[],
    },
    Step {
        name: "fmt",
        program: "cargo",
        args: &["fmt", "--all", "--check"],
        env: &[],
    },
    Step {
        name: "clippy",
        program: "cargo",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        name: "docs",
        program: "cargo",
        args: &["doc", "--workspace", "--no-deps"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
    Step {
        name: "tests",
        program: "cargo",
        args: &["test", "--workspace"],
        env: &[],
    },
];

fn ci() -> ExitCode {
    let start = Instant::now();
    for (i, step) in CI_STEPS.iter().enumerate() {
        println!("xtask ci [{}/{}] {} ...", i + 1, CI_STEPS.len(), step.name);
        let step_start = Instant::now();
        let status = Command::new(step.program)
            .args(step.args)
            .envs(step.env.iter().copied())
            .current_dir(root())
            .status();
        match status {
            Ok(status) if status.success() => {
                println!(
                    "xtask ci [{}/{}] {}: ok ({:.0?})",
                    i + 1,
                    CI_STEPS.len(),
                    step.name,
                    step_start.elapsed()
                );
            }
            Ok(status) => {
                eprintln!("xtask ci: FAILED at step {:?} ({status})", step.name);
                return ExitCode::FAILURE;
            }
            Err(err) => {
                eprintln!(
                    "xtask ci: FAILED at step {:?}: could not run {}: {err}",
                    step.name, step.program
                );
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "xtask ci: all {} steps passed in {:.0?}",
        CI_STEPS.len(),
        start.elapsed()
    );
    ExitCode::SUCCESS
}
