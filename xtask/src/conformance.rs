//! `cargo xtask conformance`: runs the conformance suite with plain
//! `cargo test`, reads libtest's stable human output (`test axum::headers ...
//! ok`, and the `---- name stdout ----` sections of failures) and prints the
//! matrix: one row per scenario, one column per framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use crate::frameworks::{self, Framework};

/// One cell of the matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cell {
    Pass,
    Fail,
    /// Passed, and the scenario is documented as not applicable: the test
    /// asserts the documented behaviour instead.
    NotApplicable(String),
    /// No result: the test did not run or does not exist.
    Missing,
}

impl Cell {
    fn label(&self) -> &'static str {
        match self {
            Cell::Pass => "pass",
            Cell::Fail => "FAIL",
            Cell::NotApplicable(_) => "n/a",
            Cell::Missing => "FAIL (missing)",
        }
    }
}

/// The results, by scenario then framework.
#[derive(Debug, Default)]
pub(crate) struct Matrix {
    pub(crate) frameworks: Vec<String>,
    /// Scenarios, sorted.
    pub(crate) scenarios: Vec<String>,
    pub(crate) cells: BTreeMap<(String, String), Cell>,
    /// Failure output, by `framework::scenario`.
    pub(crate) failures: Vec<(String, String)>,
}

/// `framework scenario reason…` lines of `tests/not-applicable.txt`.
pub(crate) fn parse_not_applicable(text: &str) -> BTreeMap<(String, String), String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut parts = line.splitn(3, char::is_whitespace);
            let framework = parts.next()?.to_owned();
            let scenario = parts.next()?.to_owned();
            let reason = parts.next().unwrap_or("").trim().to_owned();
            Some(((framework, scenario), reason))
        })
        .collect()
}

/// Builds the matrix from the output of `cargo test --test conformance`:
/// libtest's `test <framework>::<scenario> ... ok|FAILED` lines and the
/// captured output of each failure.
pub(crate) fn matrix_from_libtest_output(
    output: &str,
    frameworks: &[Framework],
    not_applicable: &BTreeMap<(String, String), String>,
) -> Matrix {
    let mut matrix = Matrix {
        frameworks: frameworks.iter().map(|f| f.name.clone()).collect(),
        ..Matrix::default()
    };
    let failure_output = failure_sections(output);
    for line in output.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, outcome)) = rest.split_once(" ... ") else {
            continue;
        };
        let outcome = match outcome.trim() {
            "ok" => Cell::Pass,
            "FAILED" => Cell::Fail,
            _ => continue,
        };
        let Some((module, scenario)) = name.split_once("::") else {
            continue;
        };
        let Some(framework) = frameworks.iter().find(|f| f.module() == module) else {
            continue;
        };
        let framework = framework.name.clone();
        if !matrix.scenarios.iter().any(|s| s == scenario) {
            matrix.scenarios.push(scenario.to_owned());
        }
        let cell = match outcome {
            Cell::Pass => match not_applicable.get(&(framework.clone(), scenario.to_owned())) {
                Some(reason) => Cell::NotApplicable(reason.clone()),
                None => Cell::Pass,
            },
            other => {
                let text = failure_output.get(name).cloned().unwrap_or_default();
                matrix
                    .failures
                    .push((format!("{framework}::{scenario}"), text));
                other
            }
        };
        matrix.cells.insert((scenario.to_owned(), framework), cell);
    }
    matrix.scenarios.sort();
    matrix
}

/// The `---- name stdout ----` sections of libtest's failure report.
fn failure_sections(output: &str) -> BTreeMap<String, String> {
    let mut sections = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in output.lines() {
        let header = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"));
        if header.is_some() || line == "failures:" {
            if let Some((name, text)) = current.take() {
                sections.insert(name, text);
            }
        }
        if let Some(name) = header {
            current = Some((name.to_owned(), String::new()));
        } else if let Some((_, text)) = &mut current {
            text.push_str(line);
            text.push('\n');
        }
    }
    if let Some((name, text)) = current {
        sections.insert(name, text);
    }
    sections
}

impl Matrix {
    pub(crate) fn cell(&self, scenario: &str, framework: &str) -> Cell {
        self.cells
            .iter()
            .find(|((s, f), _)| s == scenario && f == framework)
            .map_or(Cell::Missing, |(_, cell)| cell.clone())
    }

    /// (passed, failed, not applicable) over every cell, missing ones as failed.
    pub(crate) fn totals(&self) -> (usize, usize, usize) {
        let mut totals = (0, 0, 0);
        for scenario in &self.scenarios {
            for framework in &self.frameworks {
                match self.cell(scenario, framework) {
                    Cell::Pass => totals.0 += 1,
                    Cell::NotApplicable(_) => totals.2 += 1,
                    Cell::Fail | Cell::Missing => totals.1 += 1,
                }
            }
        }
        totals
    }

    /// Whether the matrix is complete and green.
    pub(crate) fn ok(&self) -> bool {
        !self.scenarios.is_empty() && self.totals().1 == 0
    }

    /// The matrix as a text table, with totals.
    pub(crate) fn render(&self) -> String {
        let first = self
            .scenarios
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(8)
            .max("scenario".len());
        let widths: Vec<usize> = self
            .frameworks
            .iter()
            .map(|f| f.len().max("FAIL (missing)".len()))
            .collect();
        let mut out = String::new();
        let _ = write!(out, "{:first$}", "scenario");
        for (framework, width) in self.frameworks.iter().zip(&widths) {
            let _ = write!(out, "  {framework:width$}");
        }
        out.push('\n');
        let mut notes = Vec::new();
        for scenario in &self.scenarios {
            let _ = write!(out, "{scenario:first$}");
            for (framework, width) in self.frameworks.iter().zip(&widths) {
                let cell = self.cell(scenario, framework);
                if let Cell::NotApplicable(reason) = &cell {
                    notes.push(format!("n/a {framework}::{scenario}: {reason}"));
                }
                let _ = write!(out, "  {:width$}", cell.label());
            }
            out.push('\n');
        }
        let _ = write!(out, "{:first$}", "passed");
        for (framework, width) in self.frameworks.iter().zip(&widths) {
            let passed = self
                .scenarios
                .iter()
                .filter(|s| matches!(self.cell(s, framework), Cell::Pass | Cell::NotApplicable(_)))
                .count();
            let _ = write!(
                out,
                "  {:width$}",
                format!("{passed}/{}", self.scenarios.len())
            );
        }
        out.push('\n');
        for note in notes {
            out.push_str(&note);
            out.push('\n');
        }
        let (passed, failed, na) = self.totals();
        let _ = writeln!(
            out,
            "{} scenarios x {} frameworks; {na} not applicable (documented behaviour asserted instead)",
            self.scenarios.len(),
            self.frameworks.len()
        );
        // A plain closing line that CI's log reader understands.
        let _ = writeln!(out, "conformance: {passed} passed, {failed} failed");
        out
    }

    /// The matrix as JSON.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let scenarios: Vec<serde_json::Value> = self
            .scenarios
            .iter()
            .map(|scenario| {
                let results: serde_json::Map<String, serde_json::Value> = self
                    .frameworks
                    .iter()
                    .map(|framework| {
                        let cell = self.cell(scenario, framework);
                        let mut value = serde_json::json!({ "status": cell.label() });
                        if let Cell::NotApplicable(reason) = cell {
                            value["reason"] = reason.into();
                        }
                        (framework.clone(), value)
                    })
                    .collect();
                serde_json::json!({ "scenario": scenario, "results": results })
            })
            .collect();
        let (passed, failed, not_applicable) = self.totals();
        serde_json::json!({
            "frameworks": self.frameworks,
            "scenarios": scenarios,
            "passed": passed,
            "failed": failed,
            "not_applicable": not_applicable,
        })
    }
}

/// Options of `cargo xtask conformance`.
#[derive(Debug, Default)]
pub(crate) struct Options {
    pub(crate) frameworks: Vec<Framework>,
    pub(crate) json: Option<std::path::PathBuf>,
}

pub(crate) fn parse_options(args: &[String], known: &[Framework]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag {
            "--framework" => {
                let name = value()?;
                let Some(framework) = known.iter().find(|f| f.name == name || f.module() == name)
                else {
                    let names: Vec<&str> = known.iter().map(|f| f.name.as_str()).collect();
                    return Err(format!(
                        "unknown framework {name:?}; known: {}",
                        names.join(", ")
                    ));
                };
                if !options.frameworks.contains(framework) {
                    options.frameworks.push(framework.clone());
                }
            }
            "--json" => options.json = Some(value()?.into()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if options.frameworks.is_empty() {
        options.frameworks = known.to_vec();
    }
    Ok(options)
}

/// Runs the suite and prints the matrix.
pub(crate) fn run(root: &Path, args: &[String]) -> ExitCode {
    let options = frameworks::list(root).and_then(|known| parse_options(args, &known));
    let options = match options {
        Ok(options) => options,
        Err(err) => {
            eprintln!(
                "xtask conformance: {err}\nusage: cargo xtask conformance [--framework NAME]... [--json FILE]"
            );
            return ExitCode::from(2);
        }
    };
    let filters: Vec<String> = options
        .frameworks
        .iter()
        .map(|f| format!("{}::", f.module()))
        .collect();
    let names: Vec<&str> = options.frameworks.iter().map(|f| f.name.as_str()).collect();
    eprintln!(
        "xtask conformance: building and running the suite for {} ...",
        names.join(", ")
    );
    let child = Command::new("cargo")
        .args([
            "test",
            "-p",
            "ssekit-conformance",
            "--test",
            "conformance",
            "--",
        ])
        .args(&filters)
        .envs(crate::ci_cargo_env())
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => {
            eprintln!("xtask conformance: could not run cargo test: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut output = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("test ") {
                eprintln!("{line}");
            }
            output.push_str(&line);
            output.push('\n');
        }
    }
    let status = child.wait();
    let na_text =
        std::fs::read_to_string(root.join("tests/not-applicable.txt")).unwrap_or_default();
    let matrix = matrix_from_libtest_output(
        &output,
        &options.frameworks,
        &parse_not_applicable(&na_text),
    );
    for (name, output) in &matrix.failures {
        eprintln!("\n---- {name} ----\n{}", output.trim());
    }
    println!();
    print!("{}", matrix.render());
    let _ = std::io::stdout().flush();
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&matrix.to_json()).unwrap_or_default();
        if let Err(err) = std::fs::write(path, text + "\n") {
            eprintln!("xtask conformance: cannot write {}: {err}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("xtask conformance: wrote {}", path.display());
    }
    if matrix.scenarios.is_empty() {
        eprintln!("xtask conformance: no results (did the suite build? runner status: {status:?})");
        return ExitCode::FAILURE;
    }
    if matrix.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Framework> {
        frameworks::parse("[workspace.metadata.ssekit]\nframeworks = [\"axum\", \"actix-web\", \"warp\", \"poem\"]\n")
            .unwrap()
    }

    #[test]
    fn recorded_green_run_is_a_full_green_matrix() {
        let matrix = matrix_from_libtest_output(
            include_str!("../fixtures/all-pass.txt"),
            &all(),
            &BTreeMap::new(),
        );
        assert!(matrix.scenarios.len() >= 12, "{:?}", matrix.scenarios);
        assert_eq!(matrix.totals(), (matrix.scenarios.len() * 4, 0, 0));
        assert!(matrix.ok());
        let text = matrix.render();
        assert!(text.starts_with("scenario"), "{text}");
        assert!(
            text.contains("axum")
                && text.contains("actix-web")
                && text.contains("warp")
                && text.contains("poem")
        );
        assert!(
            text.ends_with(&format!(
                "conformance: {} passed, 0 failed\n",
                matrix.scenarios.len() * 4
            )),
            "{text}"
        );
        assert!(!text.contains("FAIL"));
    }

    /// Recorded from a run with the warp adapter's `X-Accel-Buffering`
    /// header dropped on purpose: its cells turn FAIL and the run fails.
    #[test]
    fn recorded_run_with_a_broken_adapter_fails_its_cells() {
        let matrix = matrix_from_libtest_output(
            include_str!("../fixtures/warp-drops-a-header.txt"),
            &all(),
            &BTreeMap::new(),
        );
        assert!(!matrix.ok());
        assert_eq!(matrix.cell("headers", "warp"), Cell::Fail);
        assert_eq!(matrix.cell("http2_prior_knowledge", "warp"), Cell::Fail);
        assert_eq!(matrix.cell("headers", "axum"), Cell::Pass);
        assert_eq!(matrix.totals().1, 2);
        let text = matrix.render();
        let headers_row = text
            .lines()
            .find(|l| l.starts_with("headers "))
            .expect("headers row");
        assert_eq!(
            headers_row.split_whitespace().collect::<Vec<_>>(),
            ["headers", "pass", "pass", "FAIL", "pass"]
        );
        assert!(
            text.contains("failed\n") && text.contains(", 2 failed"),
            "{text}"
        );
        assert_eq!(matrix.failures.len(), 2);
        assert!(
            matrix.failures[0]
                .1
                .contains("panicked at tests/src/scenarios.rs"),
            "the failure output is kept"
        );
    }

    #[test]
    fn a_framework_missing_a_scenario_fails() {
        let lines = include_str!("../fixtures/all-pass.txt")
            .lines()
            .filter(|l| !l.contains("poem::headers "))
            .collect::<Vec<_>>()
            .join("\n");
        let matrix = matrix_from_libtest_output(&lines, &all(), &BTreeMap::new());
        assert_eq!(matrix.cell("headers", "poem"), Cell::Missing);
        assert!(!matrix.ok());
    }

    #[test]
    fn not_applicable_cells_carry_their_reason() {
        let na = parse_not_applicable(
            "# comment\nwarp compression_middleware_keeps_streaming no negotiation in warp\n",
        );
        let matrix =
            matrix_from_libtest_output(include_str!("../fixtures/all-pass.txt"), &all(), &na);
        assert_eq!(
            matrix.cell("compression_middleware_keeps_streaming", "warp"),
            Cell::NotApplicable("no negotiation in warp".into())
        );
        assert!(matrix.ok());
        assert!(
            matrix.render().contains(
                "n/a warp::compression_middleware_keeps_streaming: no negotiation in warp"
            )
        );
        assert_eq!(matrix.to_json()["not_applicable"], 1);
    }

    #[test]
    fn framework_selection() {
        let options = parse_options(
            &[
                "--framework".into(),
                "warp".into(),
                "--framework=actix_web".into(),
            ],
            &all(),
        )
        .expect("options");
        let names: Vec<&str> = options.frameworks.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["warp", "actix-web"]);
        assert!(parse_options(&["--framework".into(), "rocket".into()], &all()).is_err());
        let matrix = matrix_from_libtest_output(
            include_str!("../fixtures/all-pass.txt"),
            &options.frameworks[..1],
            &BTreeMap::new(),
        );
        assert_eq!(matrix.frameworks, ["warp"]);
        assert!(matrix.ok());
    }
}
