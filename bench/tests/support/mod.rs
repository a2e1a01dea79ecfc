//! A benchmark server process for the tests: started with a flavour on an
//! ephemeral loopback port, killed when dropped.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

pub(crate) struct Server(Child, pub SocketAddr);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin` with `flavour` on `127.0.0.1:0` and reads the address it
/// announces.
pub(crate) fn start(bin: &str, flavour: &str) -> Server {
    let mut child = Command::new(bin)
        .args([flavour, "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .expect("listening on ADDR");
    Server(child, addr)
}
