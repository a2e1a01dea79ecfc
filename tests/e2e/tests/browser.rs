//! A real headless Chromium (Debian's `/usr/bin/chromium`, driven by
//! playwright-core from `examples/browser/`) against each demo binary: the
//! page's `EventSource`s receive `/events`, the named `ping` events and the
//! `/chat` deltas. A screenshot per framework is written to
//! `target/tmp/screenshots/<framework>.png`.
//!
//! Needs `apt-get install chromium` and `npm ci --prefix examples/browser`
//! (`.ci/run` installs Chromium, `cargo xtask e2e` runs npm). Traffic stays on 127.0.0.1.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use ssekit_e2e::{DemoProcess, demo_binary, frameworks, require, root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_receives_events_in_chromium_on_every_framework() {
    let node = require("node", &[], "apt-get install -y nodejs npm");
    require(
        "chromium",
        &["/usr/bin"],
        "apt-get install -y chromium (.ci/run does it)",
    );
    let browser_dir = root().join("examples/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix examples/browser` (cargo xtask e2e does)"
    );
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    for name in frameworks() {
        let demo = DemoProcess::start(&name, &demo_binary(&name));
        let shot = shots.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&shot);
        let run = tokio::process::Command::new(&node)
            .arg(browser_dir.join("check.mjs"))
            .arg(format!("http://{}", demo.addr))
            .arg(&shot)
            .arg(&name)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(120), run)
            .await
            .expect("the browser check finished within 120 s")
            .expect("node runs");
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{name}: the browser check failed: {report}"
        );
        assert!(report.contains(r#""ok":true"#), "{name}: {report}");
        assert!(
            report.contains(r#""events":["0","1","2","3","4"]"#),
            "{name}: {report}"
        );
        assert!(
            shot.exists(),
            "{name}: screenshot written to {}",
            shot.display()
        );
        eprintln!("{name}: {report}");
    }
}
