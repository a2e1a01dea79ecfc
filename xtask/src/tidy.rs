//! Repository policies as tests ("tidy"), so that plain `cargo test` enforces
//! them.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        crate::root()
    }

    /// Every `.rs` file below `dir`, skipping build output and npm packages.
    fn rust_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name();
                if name == "target" || name == "node_modules" || name == ".git" {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }

    fn members() -> Vec<PathBuf> {
        let root = root();
        [
            "core",
            "adapters/axum",
            "adapters/actix-web",
            "adapters/warp",
            "adapters/poem",
            "tests",
            "examples",
            "xtask",
        ]
        .iter()
        .map(|m| root.join(m))
        .collect()
    }

    /// The lines of library code, without `#[cfg(test)]` modules (which by
    /// this workspace's convention come last in a file) and without comments.
    fn library_code(text: &str) -> impl Iterator<Item = (usize, &str)> {
        text.lines()
            .enumerate()
            .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
            .filter(|(_, line)| !line.trim_start().starts_with("//"))
    }

    #[test]
    fn every_crate_uses_the_workspace_lints_and_package_settings() {
        for member in members() {
            let manifest = std::fs::read_to_string(member.join("Cargo.toml")).expect("manifest");
            assert!(
                manifest.contains("[lints]\nworkspace = true"),
                "{}: [lints] workspace = true",
                member.display()
            );
            assert!(
                manifest.contains("edition.workspace = true"),
                "{}: edition from the workspace",
                member.display()
            );
        }
    }

    #[test]
    fn library_code_does_not_unwrap() {
        let root = root();
        let mut offenders = Vec::new();
        for dir in ["core/src", "adapters"] {
            for file in rust_files(&root.join(dir)) {
                if file
                    .components()
                    .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "examples")
                {
                    continue;
                }
                let text = std::fs::read_to_string(&file).expect("source");
                for (n, line) in library_code(&text) {
                    if line.contains(".unwrap()") || line.contains(".expect(") {
                        offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "no unwrap/expect in library code:\n{}",
            offenders.join("\n")
        );
    }

    /// Spelled in two pieces so that this file does not match itself.
    const DENY_WARNINGS: &str = concat!("deny(", "warnings)");

    #[test]
    fn no_blanket_lint_switches_in_source() {
        let mut offenders = Vec::new();
        for member in members() {
            for file in rust_files(&member) {
                let text = std::fs::read_to_string(&file).expect("source");
                for (n, line) in text.lines().enumerate() {
                    let code = line.trim_start();
                    if code.starts_with("//") {
                        continue;
                    }
                    if code.contains(DENY_WARNINGS) {
                        offenders.push(format!("{}:{}: {DENY_WARNINGS}", file.display(), n + 1));
                    }
                    // `allow` is kept for lints that cannot be `expect`ed, and then
                    // says why on the next lines.
                    if code.starts_with("#[allow(") || code.starts_with("#![allow(") {
                        let rest: String = text.lines().skip(n).take(4).collect();
                        if !rest.contains("reason") {
                            offenders.push(format!(
                                "{}:{}: allow without a reason",
                                file.display(),
                                n + 1
                            ));
                        }
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "{}", offenders.join("\n"));
    }

    #[test]
    fn adapters_stay_small_enough_to_read_in_one_sitting() {
        let root = root();
        for adapter in ["axum", "actix-web", "warp", "poem"] {
            let lines: usize = rust_files(&root.join("adapters").join(adapter).join("src"))
                .iter()
                .map(|f| std::fs::read_to_string(f).expect("source").lines().count())
                .sum();
            assert!(
                lines <= 300,
                "adapters/{adapter}/src has {lines} lines; SSE logic belongs in core"
            );
        }
    }

    #[test]
    fn adapters_do_not_depend_on_each_other_and_core_on_no_framework() {
        let root = root();
        let core = std::fs::read_to_string(root.join("core/Cargo.toml")).expect("manifest");
        for framework in ["axum", "actix", "warp", "poem", "hyper"] {
            assert!(
                !core.contains(&format!("\n{framework}")),
                "core depends on {framework}"
            );
        }
        for adapter in ["axum", "actix-web", "warp", "poem"] {
            let manifest =
                std::fs::read_to_string(root.join("adapters").join(adapter).join("Cargo.toml"))
                    .expect("manifest");
            for other in [
                "ssekit-axum",
                "ssekit-actix-web",
                "ssekit-warp",
                "ssekit-poem",
            ] {
                if other != format!("ssekit-{adapter}") {
                    assert!(!manifest.contains(other), "{adapter} depends on {other}");
                }
            }
        }
    }

    #[test]
    fn every_demo_binary_says_how_to_run_it() {
        for file in rust_files(&root().join("examples/src/bin")) {
            let text = std::fs::read_to_string(&file).expect("source");
            assert!(
                text.starts_with("//! Run with: `cargo run"),
                "{} starts with `//! Run with: ...`",
                file.display()
            );
        }
    }

    #[test]
    fn every_test_target_of_the_conformance_crate_runs_in_ci() {
        let ci = std::fs::read_to_string(root().join("xtask/src/main.rs")).expect("main.rs");
        for file in rust_files(&root().join("tests/tests")) {
            let stem = file
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("file name");
            // `conformance` runs through the matrix step.
            assert!(
                stem == "conformance" || ci.contains(&format!("\"{stem}\"")),
                "tests/tests/{stem}.rs is run by a `cargo xtask ci` step"
            );
        }
    }

    #[test]
    fn every_conformance_framework_is_in_the_matrix() {
        let text = std::fs::read_to_string(root().join("tests/tests/conformance.rs"))
            .expect("conformance.rs");
        for (_, module) in crate::conformance::FRAMEWORKS {
            assert!(
                text.contains(&format!("mod {module} {{")),
                "tests/tests/conformance.rs instantiates {module}"
            );
        }
    }
}
