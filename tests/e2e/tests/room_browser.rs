//! A real headless Chromium (Debian's `/usr/bin/chromium`, driven over the
//! DevTools protocol by `examples/browser/room-check.mjs`, no npm package)
//! against each demo binary, with four tabs of the page open (their one
//! shared room stream leaves the browser's six connections to the server
//! free for posts): the page's live room receives what the page posts in
//! every tab; its connection is cut mid-stream (through a proxy in the
//! script) while more messages are posted, and after `EventSource`
//! reconnects each tab shows every message once, in order; then the tab
//! holding the room's connection closes, another takes over, and the tabs
//! left get what is posted next, with no gap and no duplicate.
//!
//! Needs `apt-get install chromium nodejs`. Traffic stays on 127.0.0.1.

use std::process::Stdio;
use std::time::Duration;

use ssekit_e2e::{DemoProcess, demo_binary, frameworks, require, root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_resumes_after_a_cut_in_chromium_on_every_framework() {
    let node = require("node", &[], "apt-get install -y nodejs");
    require(
        "chromium",
        &["/usr/bin"],
        "apt-get install -y chromium (.ci/run does it)",
    );
    let script = root().join("examples/browser/room-check.mjs");
    for name in frameworks() {
        let demo = DemoProcess::start(&name, &demo_binary(&name));
        let run = tokio::process::Command::new(&node)
            // Node 20's WebSocket (built in from Node 22).
            .arg("--experimental-websocket")
            .arg("--no-warnings")
            .arg(&script)
            .arg(format!("http://{}", demo.addr))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(90), run)
            .await
            .expect("the room check finished within 90 s")
            .expect("node runs");
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{name}: the room check failed: {report}"
        );
        assert!(report.contains(r#""ok":true"#), "{name}: {report}");
        let expected: Vec<String> = (0..10).map(|i| format!("\"m{i}\"")).collect();
        assert!(
            report.contains(&format!(r#""messages":[{}]"#, expected.join(","))),
            "{name}: {report}"
        );
        let handed: Vec<String> = (10..15).map(|i| format!("\"m{i}\"")).collect();
        assert!(
            report.contains(&format!(r#""handedOver":[{}]"#, handed.join(","))),
            "{name}: {report}"
        );
        eprintln!("{name}: {report}");
    }
}
