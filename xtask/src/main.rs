//! `cargo xtask <command>`: the project's automation, in plain Rust.
//!
//! - `cargo xtask ci`: everything CI checks, in order, stopping at the first
//!   failure.
//! - `cargo xtask conformance [--framework NAME]... [--json FILE]`: the
//!   conformance matrix.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod bench;
mod conformance;
mod soak;
mod tidy;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci            everything CI checks, in order, stopping at the first failure:
                test dependencies (npm ci), fmt, clippy -D warnings, docs
                (-D warnings), tests, trybuild, conformance
  conformance   run the conformance suite and print the matrix (one row per
                scenario, one column per framework); exits non-zero on any FAIL
                options: --framework NAME (repeatable: axum, actix-web, warp, poem)
                                                  --json FILE (also write the matrix as JSON)
  bench         criterion benchmarks: each framework's built-in SSE against
                ssekit through its adapter, printed as ratios from one run
                options: --quick (shorter warm-up and measurement)
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

/// A CI step: commands, or the conformance matrix run in-process.
enum Work {
    Commands(&'static [Cmd]),
    Conformance,
}

struct Step {
    name: &'static str,
    work: Work,
}

const CI_STEPS: &[Step] = &[
    Step {
        name: "test dependencies (npm ci: the independent SSE parser, playwright-core)",
        work: Work::Commands(&[
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
        ]),
    },
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
        name: "tests (unit, doc, property, examples end to end: routes, nginx, Chromium)",
        work: Work::Commands(&[
            cargo(&["test", "--workspace", "--exclude", "ssekit-conformance"]),
            cargo(&[
                "test",
                "-p",
                "ssekit-conformance",
                "--lib",
                "--test",
                "encoder_properties",
                "--test",
                "builtin_comparison",
            ]),
            cargo(&["test", "-p", "ssekit-conformance", "--doc"]),
        ]),
    },
    Step {
        name: "trybuild",
        work: Work::Commands(&[cargo(&["test", "-p", "ssekit-conformance", "--test", "ui"])]),
    },
    Step {
        name: "conformance",
        work: Work::Conformance,
    },
];

fn run_commands(root: &Path, commands: &[Cmd]) -> Result<(), String> {
    for cmd in commands {
        let line = format!("{} {}", cmd.program, cmd.args.join(" "));
        println!("xtask ci: $ {line}");
        let status = Command::new(cmd.program)
            .args(cmd.args)
            .envs(cmd.env.iter().copied())
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
