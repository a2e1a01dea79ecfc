//! `cargo xtask <command>`: the project's automation, in plain Rust.
//!
//! - `cargo xtask ci`: everything CI checks, in order, stopping at the first
//!   failure.
//! - `cargo xtask conformance [--framework NAME]... [--json FILE]`: the
//!   conformance matrix.
//! - `cargo xtask e2e`: the tests that need Node.js, nginx, Chromium and
//!   `redis-server`.
//! - `cargo xtask builtin-comparison`: measures the frameworks' built-in SSE
//!   encoders and writes the README's comparison table.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod bench;
mod comparison;
mod conformance;
mod frameworks;
mod soak;
mod tidy;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci            everything CI checks, in order, stopping at the first failure:
                fmt, clippy -D warnings, docs (-D warnings), tests (unit, doc,
                property, trybuild, tidy), conformance, e2e
  e2e           the tests that need programs besides the Rust toolchain:
                Node.js and npm (a second SSE parser, playwright-core), nginx,
                Chromium, redis-server; fails with what to install when one
                is missing
  builtin-comparison
                the frameworks' built-in SSE encoders against ssekit on the
                edge cases; rewrites the README's table
  conformance   run the conformance suite and print the matrix (one row per
                scenario, one column per framework); exits non-zero on any FAIL
                options: --framework NAME (repeatable; the names of
                [workspace.metadata.ssekit] frameworks in Cargo.toml)
                --json FILE (also write the matrix as JSON)
  bench         real-socket benchmark (BENCH-CONTRACT): each framework's built-in
                SSE, ssekit through its adapter and the pre-formatted limit,
                one table of ratios from one run; writes target/bench/ratios.svg;
                then the Redis backplane (needs redis-server): p50/p99 and
                throughput, 1 000 subscribers over two instances vs in memory
                options: --quick (shorter, without the Redis step; under 3
                           minutes from a clean checkout)
                         --only stream|idle|fanout|redis (repeatable)
                         --framework NAME (repeatable)
                         --shape LABEL (repeatable: '64 B', '1 KiB', '4 KiB',
                           '64 KiB', '4 KiB in 16 B lines')
                         --no-pin (servers and load client share every CPU;
                           by default servers get half the CPUs, the client the rest)
                         --criterion (the in-process response-body micro-benchmark)
  soak-shutdown graceful shutdown under load: each demo binary (release) with
                N open streams gets SIGTERM; prints the exit time, how every
                stream ended and what a new request gets
                options: --streams N (default 10000), --framework NAME";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("conformance") => conformance::run(&root, &args[1..]),
        Some("e2e") => e2e(&root),
        Some("builtin-comparison") => comparison::run(&root),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("soak-shutdown") => soak::run(&root, &args[1..]),
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
fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or(manifest.clone(), Path::to_path_buf)
}

/// One command of a CI step.
struct Cmd {
    program: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const fn cargo(args: &'static [&'static str]) -> Cmd {
    Cmd {
        program: "cargo",
        args,
        env: &[],
    }
}

/// A CI step: commands, the conformance matrix, or the end-to-end tests.
enum Work {
    Commands(&'static [Cmd]),
    Conformance,
    E2e,
}

struct Step {
    name: &'static str,
    work: Work,
}

const CI_STEPS: &[Step] = &[
    Step {
        name: "fmt",
        work: Work::Commands(&[cargo(&["fmt", "--all", "--check"])]),
    },
    Step {
        name: "clippy",
        work: Work::Commands(&[cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])]),
    },
    Step {
        name: "docs",
        work: Work::Commands(&[Cmd {
            program: "cargo",
            args: &["doc", "--workspace", "--no-deps"],
            env: &[("RUSTDOCFLAGS", "-D warnings")],
        }]),
    },
    Step {
        name: "tests (unit, doc, property, oracle, trybuild, tidy, examples' routes)",
        work: Work::Commands(&[
            cargo(&[
                "test",
                "--workspace",
                "--exclude",
                "ssekit-conformance",
                "--exclude",
                "ssekit-e2e",
            ]),
            cargo(&[
                "test",
                "-p",
                "ssekit-conformance",
                "--lib",
                "--bins",
                "--test",
                "encoder_properties",
                "--test",
                "oracle",
                "--test",
                "ui",
                "--test",
                "hub",
            ]),
            cargo(&["test", "-p", "ssekit-conformance", "--doc"]),
        ]),
    },
    Step {
        name: "conformance",
        work: Work::Conformance,
    },
    Step {
        name: "end to end (Node.js, nginx, Chromium, redis-server)",
        work: Work::E2e,
    },
];

/// `cargo xtask e2e`: npm packages, the demo binaries, then the tests.
const E2E: &[Cmd] = &[
    Cmd {
        program: "npm",
        args: &["ci", "--prefix", "tests/js", "--no-audit", "--no-fund"],
        env: &[],
    },
    Cmd {
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
    cargo(&["build", "-p", "ssekit-examples", "--bins"]),
    cargo(&["test", "-p", "ssekit-e2e"]),
];

fn e2e(root: &Path) -> ExitCode {
    if Command::new("npm").arg("--version").output().is_err() {
        eprintln!(
            "xtask e2e: `npm` is not installed, and the end-to-end tests need Node.js and npm: \
             apt-get install -y nodejs npm (then also nginx and chromium; .ci/run installs them)"
        );
        return ExitCode::FAILURE;
    }
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "xtask e2e: `redis-server` is not installed, and the Redis backplane's end-to-end \
             tests need it (they start their own on a free loopback port): \
             apt-get install -y redis-server (.ci/run installs it)"
        );
        return ExitCode::FAILURE;
    }
    match run_commands(root, E2E) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask e2e: {err}");
            ExitCode::FAILURE
        }
    }
}

/// What every dev-profile cargo that xtask runs (`ci`, `e2e`, `conformance`,
/// `builtin-comparison`) adds to its environment. On a CI
/// machine (`CI` set, and not to `false` or `0`) incremental compilation is
/// off: a fresh clone builds each crate once, and the incremental caches
/// took 2.2 GB of the 7.2 GB target directory that a fresh run of `.ci/run`
/// left, on a disk shared with the rest of the machine.
pub(crate) fn ci_cargo_env() -> Option<(&'static str, &'static str)> {
    std::env::var("CI")
        .ok()
        .filter(|ci| !matches!(ci.as_str(), "" | "0" | "false"))
        .map(|_| ("CARGO_INCREMENTAL", "0"))
}

fn run_commands(root: &Path, commands: &[Cmd]) -> Result<(), String> {
    for cmd in commands {
        let line = format!("{} {}", cmd.program, cmd.args.join(" "));
        println!("xtask ci: $ {line}");
        let status = Command::new(cmd.program)
            .args(cmd.args)
            .envs(cmd.env.iter().copied().chain(ci_cargo_env()))
            .current_dir(root)
            .status()
            .map_err(|err| format!("could not run `{line}`: {err}"))?;
        if !status.success() {
            return Err(format!("`{line}` failed ({status})"));
        }
    }
    Ok(())
}

fn ci(root: &Path) -> ExitCode {
    let start = Instant::now();
    let count = CI_STEPS.len();
    for (i, step) in CI_STEPS.iter().enumerate() {
        println!("xtask ci [{}/{count}] {} ...", i + 1, step.name);
        let step_start = Instant::now();
        let result = match &step.work {
            Work::Commands(commands) => run_commands(root, commands),
            Work::Conformance => {
                if conformance::run(root, &[]) == ExitCode::SUCCESS {
                    Ok(())
                } else {
                    Err("the conformance matrix has failures".to_owned())
                }
            }
            Work::E2e => {
                if e2e(root) == ExitCode::SUCCESS {
                    Ok(())
                } else {
                    Err("the end-to-end tests failed".to_owned())
                }
            }
        };
        match result {
            Ok(()) => println!(
                "xtask ci [{}/{count}] {}: ok ({:.0?})",
                i + 1,
                step.name,
                step_start.elapsed()
            ),
            Err(err) => {
                eprintln!(
                    "xtask ci: FAILED at step {}/{count} \"{}\": {err}",
                    i + 1,
                    step.name
                );
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "xtask ci: all {count} steps passed in {:.0?}",
        start.elapsed()
    );
    ExitCode::SUCCESS
}
