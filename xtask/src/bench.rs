//! `cargo xtask bench`: runs the criterion benchmarks and prints each
//! framework's built-in SSE against ssekit through that framework's adapter,
//! as ratios measured in the same run (read from criterion's
//! `estimates.json`, not from its text output).

use std::path::Path;
use std::process::{Command, ExitCode};

use crate::conformance::FRAMEWORKS;

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
    let mut missing = false;
    for (framework, _) in FRAMEWORKS {
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
