//! `cargo xtask builtin-comparison`: runs `tests/src/bin/builtin_comparison.rs`
//! (each framework's built-in SSE encoder against ssekit on the edge cases,
//! decoded by the conformance suite's parser) and writes the Markdown table
//! it prints into the README, between the two markers.

use std::path::Path;
use std::process::{Command, ExitCode};

const START: &str = "<!-- builtin-comparison:start (cargo xtask builtin-comparison) -->\n";
const END: &str = "<!-- builtin-comparison:end -->";

/// Replaces what stands between the markers with `table`.
pub(crate) fn splice(readme: &str, table: &str) -> Result<String, String> {
    let (head, rest) = readme
        .split_once(START)
        .ok_or("the README has no builtin-comparison start marker")?;
    let (_, tail) = rest
        .split_once(END)
        .ok_or("the README has no builtin-comparison end marker")?;
    Ok(format!("{head}{START}{table}{END}{tail}"))
}

pub(crate) fn run(root: &Path) -> ExitCode {
    eprintln!("xtask builtin-comparison: running tests/src/bin/builtin_comparison.rs ...");
    let output = Command::new("cargo")
        .args([
            "run",
            "--quiet",
            "-p",
            "ssekit-conformance",
            "--bin",
            "builtin_comparison",
        ])
        .envs(crate::ci_cargo_env())
        .current_dir(root)
        .output();
    let table = match output {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
        Ok(output) => {
            eprintln!(
                "xtask builtin-comparison: the comparison failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            return ExitCode::FAILURE;
        }
        Err(err) => {
            eprintln!("xtask builtin-comparison: could not run cargo: {err}");
            return ExitCode::FAILURE;
        }
    };
    print!("{table}");
    let path = root.join("README.md");
    let written = std::fs::read_to_string(&path)
        .map_err(|err| err.to_string())
        .and_then(|readme| splice(&readme, &table))
        .and_then(|readme| std::fs::write(&path, readme).map_err(|err| err.to_string()));
    match written {
        Ok(()) => {
            eprintln!("xtask builtin-comparison: wrote the table into README.md");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("xtask builtin-comparison: README.md: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_between_the_markers() {
        let readme = format!("a\n{START}old\n{END}\nb\n");
        assert_eq!(
            splice(&readme, "new\n").unwrap(),
            format!("a\n{START}new\n{END}\nb\n")
        );
        assert!(splice("no markers", "x").is_err());
    }
}
