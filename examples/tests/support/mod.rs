//! The demo binaries, built by cargo for these tests (tidy checks that every
//! framework of the list in `Cargo.toml` is here).

pub(crate) use ssekit_conformance::demo::DemoProcess;

/// The four demo binaries.
pub(crate) const BINARIES: [(&str, &str); 4] = [
    ("axum", env!("CARGO_BIN_EXE_axum")),
    ("actix-web", env!("CARGO_BIN_EXE_actix-web")),
    ("warp", env!("CARGO_BIN_EXE_warp")),
    ("poem", env!("CARGO_BIN_EXE_poem")),
];
