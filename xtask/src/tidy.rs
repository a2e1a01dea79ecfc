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

    /// The quoted entries of the `key = [...]` list in the root manifest's
    /// `[workspace]` section.
    fn workspace_list(key: &str) -> Vec<String> {
        let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
        let list = manifest
            .split(&format!("\n{key} = ["))
            .nth(1)
            .and_then(|rest| rest.split_once(']'))
            .map(|(list, _)| list)
            .unwrap_or_else(|| panic!("`{key} = [...]` in Cargo.toml"));
        list.lines()
            .map(|line| {
                line.split('#')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_end_matches(',')
            })
            .filter(|item| !item.is_empty())
            .map(|item| item.trim_matches('"').to_owned())
            .collect()
    }

    /// The workspace members, with `dir/*` globs expanded.
    fn members() -> Vec<PathBuf> {
        let root = root();
        let mut members = Vec::new();
        for member in workspace_list("members") {
            match member.strip_suffix("/*") {
                Some(dir) => {
                    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
                        .expect("a member folder")
                        .flatten()
                        .map(|entry| entry.path())
                        .filter(|path| path.join("Cargo.toml").is_file())
                        .collect();
                    found.sort();
                    members.extend(found);
                }
                None => members.push(root.join(member)),
            }
        }
        members
    }

    fn frameworks() -> Vec<crate::frameworks::Framework> {
        crate::frameworks::list(&root()).expect("the frameworks list")
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn every_crate_uses_the_workspace_lints_and_package_settings() {
        for member in members() {
            let manifest = read(&member.join("Cargo.toml"));
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

    // `unwrap`/`expect` outside tests and `allow` without a reason are
    // clippy's `unwrap_used`, `expect_used` and
    // `allow_attributes_without_reason` ([workspace.lints]), not scans here.
    // `deny(warnings)` in source has no lint: CI passes `-D warnings` itself.

    /// Spelled in two pieces so that this file does not match itself.
    const DENY_WARNINGS: &str = concat!("deny(", "warnings)");

    #[test]
    fn no_deny_warnings_in_source() {
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
                }
            }
        }
        assert!(offenders.is_empty(), "{}", offenders.join("\n"));
    }

    #[test]
    fn adapters_stay_small_enough_to_read_in_one_sitting() {
        let root = root();
        for framework in frameworks() {
            let lines: usize = rust_files(&root.join("adapters").join(&framework.name).join("src"))
                .iter()
                .map(|f| read(f).lines().count())
                .sum();
            // 500: the types, the framework traits, resume, and on the servers
            // that need it the departure watch (framework-specific I/O).
            assert!(
                lines <= 500,
                "adapters/{}/src has {lines} lines; SSE logic belongs in core",
                framework.name
            );
        }
    }

    #[test]
    fn adapters_do_not_depend_on_each_other_and_core_on_no_framework() {
        let root = root();
        let core = read(&root.join("core/Cargo.toml"));
        for framework in ["axum", "actix", "warp", "poem", "hyper"] {
            assert!(
                !core.contains(&format!("\n{framework}")),
                "core depends on {framework}"
            );
        }
        for adapter in frameworks() {
            let manifest = read(&root.join("adapters").join(&adapter.name).join("Cargo.toml"));
            for other in frameworks() {
                if other != adapter {
                    assert!(
                        !manifest.contains(&format!("ssekit-{}", other.name)),
                        "{} depends on ssekit-{}",
                        adapter.name,
                        other.name
                    );
                }
            }
        }
    }

    /// What an adapter's `types.rs` declares publicly: `pub struct`, `pub fn`
    /// and `From` lines, with the framework-specific bounds left out.
    fn public_surface(types_rs: &str) -> Vec<String> {
        let mut surface: Vec<String> = types_rs
            .lines()
            .map(str::trim)
            .filter(|line| {
                line.starts_with("pub struct")
                    || line.starts_with("pub fn")
                    || (line.starts_with("impl") && line.contains(" From<"))
            })
            .map(|line| {
                line.replace("<S: Send>", "<S>")
                    .replace(" {", "")
                    .trim_end_matches(';')
                    .to_owned()
            })
            .collect();
        surface.sort();
        surface
    }

    /// Names an adapter may export beyond the common ones, with the reason.
    const ADAPTER_EXTRAS: [(&str, &str); 9] = [
        (
            "topic",
            "warp's path filters hand a segment on percent-encoded; the other frameworks' path extractors decode it",
        ),
        ("TopicRejection", "the rejection of warp's topic filter"),
        (
            "last_event_id",
            "warp extracts with filter functions, not types",
        ),
        ("recover", "warp answers rejections in a recover filter"),
        (
            "on_connect",
            "actix-web hands the connection's socket over only in HttpServer::on_connect",
        ),
        (
            "NoticeDepartures",
            "poem re-polls a connection whose client left; its acceptor is where to see the FIN",
        ),
        (
            "DepartureIo",
            "the connection type NoticeDepartures' acceptor yields (poem names it in signatures)",
        ),
        (
            "resume_from",
            "warp extracts with filter functions, not types",
        ),
        (
            "DISCONNECT_PROBE",
            "the servers that notice a departed client only on a write",
        ),
    ];

    #[test]
    fn every_adapter_exports_the_same_names_with_the_same_constructors() {
        let root = root();
        let common = [
            "ChunkedResponse",
            "LastEventId",
            "LastEventIdRejection",
            "ResumeFrom",
            "SseResponse",
        ];
        let mut reference: Option<(String, Vec<String>)> = None;
        for framework in frameworks() {
            let src = root.join("adapters").join(&framework.name).join("src");
            let lib = read(&src.join("lib.rs"));
            let exported: Vec<&str> = lib
                .lines()
                .filter_map(|line| line.trim().strip_prefix("pub use "))
                .flat_map(|item| {
                    let names = item.rsplit("::").next().unwrap_or(item);
                    names
                        .trim_matches(['{', '}', ';'])
                        .split(',')
                        .map(str::trim)
                })
                .filter(|name| !name.is_empty())
                .collect();
            for name in common {
                assert!(
                    exported.contains(&name),
                    "ssekit-{} exports {name} from its lib.rs",
                    framework.name
                );
            }
            for name in &exported {
                assert!(
                    common.contains(name) || ADAPTER_EXTRAS.iter().any(|(extra, _)| extra == name),
                    "ssekit-{} exports {name}, which the other adapters do not: add it to all \
                     or to ADAPTER_EXTRAS with the reason",
                    framework.name
                );
            }
            let surface = public_surface(&read(&src.join("types.rs")));
            match &reference {
                None => reference = Some((framework.name.clone(), surface)),
                Some((first, expected)) => assert_eq!(
                    &surface, expected,
                    "adapters/{}/src/types.rs declares the same public types, constructors and \
                     conversions as adapters/{first}/src/types.rs",
                    framework.name
                ),
            }
        }
    }

    #[test]
    fn core_defines_no_types_for_other_crates() {
        for file in rust_files(&root().join("core/src")) {
            let text = read(&file);
            for exported in text.split("#[macro_export]").skip(1) {
                let body = exported.split("\n}\n").next().unwrap_or(exported);
                assert!(
                    !body.contains("pub struct") && !body.contains("pub enum"),
                    "{}: core exports no macro that defines types in other crates",
                    file.display()
                );
            }
        }
    }

    /// Every piece a framework needs, for every framework in the one list,
    /// and no adapter missing from the list.
    #[test]
    fn every_framework_has_all_its_pieces() {
        let root = root();
        let members = workspace_list("members");
        let conformance = read(&root.join("tests/tests/conformance.rs"));
        let drivers = read(&root.join("tests/src/frameworks/mod.rs"));
        let trybuild = read(&root.join("tests/ui/pass/same_handler_on_every_framework.rs"));
        let readme = read(&root.join("README.md"));
        let demo_tests = read(&root.join("examples/tests/support/mod.rs"));
        let mut missing = Vec::new();
        for framework in frameworks() {
            let (name, module) = (&framework.name, framework.module());
            let mut need = |ok: bool, what: String| {
                if !ok {
                    missing.push(format!("{name}: {what}"));
                }
            };
            need(
                root.join(format!("adapters/{name}/Cargo.toml")).is_file(),
                format!("the adapter crate adapters/{name}"),
            );
            need(
                members
                    .iter()
                    .any(|m| m == &format!("adapters/{name}") || m == "adapters/*"),
                format!("adapters/{name} in the workspace members"),
            );
            need(
                root.join(format!("tests/src/frameworks/{module}.rs"))
                    .is_file()
                    && drivers.contains(&format!("pub mod {module};")),
                format!("its conformance driver tests/src/frameworks/{module}.rs"),
            );
            need(
                conformance.contains(&format!("mod {module} {{")),
                format!("its cells in tests/tests/conformance.rs (`mod {module}`)"),
            );
            need(
                root.join(format!("examples/src/bin/{name}.rs")).is_file(),
                format!("its demo binary examples/src/bin/{name}.rs"),
            );
            need(
                demo_tests.contains(&format!("CARGO_BIN_EXE_{name}")),
                "its binary in examples/tests/support/mod.rs".to_owned(),
            );
            need(
                trybuild.contains(&format!("ssekit_{module}::")),
                "its line in tests/ui/pass/same_handler_on_every_framework.rs".to_owned(),
            );
            need(
                readme.contains(&format!("`ssekit-{name}`")),
                "its row in the README's crate table".to_owned(),
            );
        }
        let listed: Vec<String> = frameworks().into_iter().map(|f| f.name).collect();
        for entry in std::fs::read_dir(root.join("adapters"))
            .expect("adapters/")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !listed.contains(&name) {
                missing.push(format!(
                    "adapters/{name} is not in [workspace.metadata.ssekit] frameworks"
                ));
            }
        }
        assert!(
            missing.is_empty(),
            "missing pieces (see CONTRIBUTING.md, \"Adding a framework\"):\n{}",
            missing.join("\n")
        );
    }

    /// The dependencies of a manifest section (`[dependencies]`,
    /// `[dev-dependencies]`), by name.
    fn dependencies(manifest: &str, section: &str) -> Vec<String> {
        let Some(body) = manifest.split(&format!("\n{section}\n")).nth(1) else {
            return Vec::new();
        };
        body.lines()
            .take_while(|line| !line.starts_with('['))
            .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
            .filter(|name| !name.is_empty() && !name.starts_with('#'))
            .map(|name| name.split('.').next().unwrap_or(name).to_owned())
            .collect()
    }

    /// What cargo-machete checks, without installing it: every dependency a
    /// crate declares is named in its Rust sources (or its README, which is
    /// compiled as doctests).
    #[test]
    fn no_unused_dependencies() {
        let mut unused = Vec::new();
        for member in members() {
            let manifest = read(&member.join("Cargo.toml"));
            let mut text = String::new();
            for file in rust_files(&member) {
                text.push_str(&read(&file));
            }
            if let Ok(readme) = std::fs::read_to_string(member.join("README.md")) {
                text.push_str(&readme);
            }
            if member.ends_with("tests") {
                // The workspace README is compiled as the conformance crate's doctests.
                text.push_str(&read(&root().join("README.md")));
            }
            for section in ["[dependencies]", "[dev-dependencies]"] {
                for dep in dependencies(&manifest, section) {
                    let path = dep.replace('-', "_");
                    if !text.contains(&format!("{path}::"))
                        && !text.contains(&format!("use {path}"))
                        && !text.contains(&format!("{path} as"))
                        && !text.contains(&format!("#[{path}::"))
                    {
                        unused.push(format!("{}: {section} {dep}", member.display()));
                    }
                }
            }
        }
        assert!(
            unused.is_empty(),
            "unused dependencies:\n{}",
            unused.join("\n")
        );
    }

    #[test]
    fn e2e_tests_stay_out_of_plain_cargo_test() {
        let default_members = workspace_list("default-members");
        assert!(
            !default_members.iter().any(|m| m.contains("e2e")),
            "tests/e2e needs Node.js, nginx and Chromium: it runs with `cargo xtask e2e`, \
             not plain `cargo test`"
        );
        let (e2e, xtask) = (root().join("tests/e2e"), root().join("xtask"));
        for member in members() {
            for file in rust_files(&member) {
                if file.starts_with(&e2e) || file.starts_with(&xtask) {
                    continue;
                }
                let text = read(&file);
                for program in ["Command::new(\"node\")", "nginx_binary", "chromium"] {
                    assert!(
                        !text.contains(program),
                        "{} runs {program}: tests that need programs besides the Rust toolchain \
                         belong in tests/e2e",
                        file.display()
                    );
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
}
