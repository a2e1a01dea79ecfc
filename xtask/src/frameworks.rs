//! The one list of frameworks: `[workspace.metadata.ssekit] frameworks` in
//! the root `Cargo.toml`. Every tool reads it from there: the conformance
//! matrix's columns, the end-to-end tests' demo binaries, tidy's checks that
//! each framework has its adapter, driver, demo binary and trybuild case.

use std::path::Path;

/// One framework, by its crate-style name (`actix-web`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Framework {
    /// As in crate and binary names: `actix-web`.
    pub(crate) name: String,
}

impl Framework {
    /// As in Rust paths and test names: `actix_web`.
    pub(crate) fn module(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// Parses the list out of the manifest's text: the quoted names of the
/// `frameworks = [...]` entry under `[workspace.metadata.ssekit]`.
pub(crate) fn parse(manifest: &str) -> Result<Vec<Framework>, String> {
    let section = manifest
        .split("[workspace.metadata.ssekit]")
        .nth(1)
        .ok_or("no [workspace.metadata.ssekit] in Cargo.toml")?;
    let list = section
        .split("frameworks")
        .nth(1)
        .and_then(|rest| rest.split_once('['))
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .ok_or("no `frameworks = [...]` in [workspace.metadata.ssekit]")?;
    let names: Vec<Framework> = list
        .split(',')
        .map(|item| item.trim().trim_matches('"'))
        .filter(|name| !name.is_empty())
        .map(|name| Framework {
            name: name.to_owned(),
        })
        .collect();
    if names.is_empty() {
        return Err("the frameworks list is empty".to_owned());
    }
    Ok(names)
}

/// The frameworks, in column order.
pub(crate) fn list(root: &Path) -> Result<Vec<Framework>, String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|err| format!("cannot read Cargo.toml: {err}"))?;
    parse(&manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_list() {
        let manifest = "[workspace]\nmembers = [\"x\"]\n\n[workspace.metadata.ssekit]\n\
                        # the list\nframeworks = [\n    \"axum\",\n    \"actix-web\",\n]\n";
        let list = parse(manifest).unwrap();
        let names: Vec<&str> = list.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["axum", "actix-web"]);
        assert_eq!(list[1].module(), "actix_web");
        assert!(parse("[workspace]\n").is_err());
    }
}
