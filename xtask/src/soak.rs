//! `cargo xtask soak-shutdown`: graceful shutdown under load, measured.
//!
//! For each demo binary (release build): start it on `127.0.0.1:0`, open N
//! idle SSE streams (`GET /sse`, HTTP/1.1), send `SIGTERM`, and measure:
//! the time from the signal until the process has exited; how every stream
//! ended (a complete final event, then the chunked body's last chunk, versus
//! a reset or a truncated body); and what a new request gets after the
//! signal. Plain std: one socket per stream, read only after the server has
//! gone (the kernel keeps what it sent), so no thread per stream.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::frameworks;

/// The longest any one phase may take.
const PHASE_LIMIT: Duration = Duration::from_secs(120);

/// How one stream ended.
#[derive(Debug, Default)]
struct Tally {
    clean: usize,
    reset: usize,
    truncated: usize,
    no_final_event: usize,
}

pub(crate) fn run(root: &Path, args: &[String]) -> ExitCode {
    let names: Vec<String> = match frameworks::list(root) {
        Ok(list) => list.into_iter().map(|f| f.name).collect(),
        Err(err) => {
            eprintln!("xtask soak-shutdown: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut streams = 10_000usize;
    let mut only: Vec<String> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--streams" => match iter.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => streams = n,
                _ => return usage("--streams takes a positive number"),
            },
            "--framework" => match iter.next() {
                Some(name) if names.contains(name) => only.push(name.clone()),
                _ => return usage(&format!("--framework takes one of {names:?}")),
            },
            other => return usage(&format!("unknown option {other:?}")),
        }
    }
    // The client holds one descriptor per stream, the server as many.
    let limit = fd_limit().unwrap_or(1024);
    let allowed = limit.saturating_sub(64);
    if streams > allowed {
        eprintln!(
            "xtask soak-shutdown: the open-file limit here is {limit}: {allowed} streams, not {streams}"
        );
        streams = allowed;
    }
    eprintln!("xtask soak-shutdown: building the demo binaries (release) ...");
    let built = Command::new("cargo")
        .args(["build", "--release", "-p", "ssekit-examples", "--bins"])
        .current_dir(root)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("xtask soak-shutdown: the build failed");
        return ExitCode::FAILURE;
    }
    println!(
        "| framework | streams | exit after SIGTERM | clean end | reset | truncated | no final event | new request after the signal |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut ok = true;
    for framework in &names {
        if !only.is_empty() && !only.contains(framework) {
            continue;
        }
        // actix-web's `on_connect` departure watch holds a second descriptor
        // per connection.
        let per_stream = if framework == "actix-web" { 2 } else { 1 };
        let fits = limit.saturating_sub(64) / per_stream;
        let streams = if streams > fits {
            eprintln!(
                "xtask soak-shutdown: {framework} holds {per_stream} descriptors a stream; \
                 the open-file limit {limit} allows {fits} streams"
            );
            fits
        } else {
            streams
        };
        match soak(root, framework, streams) {
            Ok(report) => {
                let t = &report.tally;
                println!(
                    "| {framework} | {} | {:.0?} | {} | {} | {} | {} | {} |",
                    report.opened,
                    report.exit_after,
                    t.clean,
                    t.reset,
                    t.truncated,
                    t.no_final_event,
                    report.late_request
                );
                ok &= report.exit_after < Duration::from_secs(1)
                    && t.clean == report.opened
                    && report.opened == streams;
            }
            Err(err) => {
                println!("| {framework} | failed: {err} | | | | | | |");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "xtask soak-shutdown: some framework missed the bar (exit < 1 s, every stream clean)"
        );
        ExitCode::FAILURE
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "xtask soak-shutdown: {problem}\nusage: cargo xtask soak-shutdown [--streams N] [--framework NAME]..."
    );
    ExitCode::from(2)
}

struct Report {
    opened: usize,
    exit_after: Duration,
    tally: Tally,
    late_request: String,
}

/// Kills the child if the soak ends early.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn soak(root: &Path, framework: &str, streams: usize) -> Result<Report, String> {
    let binary = root.join("target/release").join(framework);
    let mut child = Command::new(&binary)
        .args(["--addr", "127.0.0.1:0", "--max-connections"])
        .arg((streams + 16).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("cannot start {}: {err}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|err| format!("reading the announce line: {err}"))?;
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.trim().trim_end_matches('/').parse().ok())
        .ok_or_else(|| format!("no address in {line:?}"))?;

    let start = Instant::now();
    let mut sockets = Vec::with_capacity(streams);
    for _ in 0..streams {
        if start.elapsed() > PHASE_LIMIT {
            return Err(format!("only {} streams opened in time", sockets.len()));
        }
        sockets.push(open_stream(addr)?);
    }

    let pid = server.0.id().to_string();
    let signalled = Instant::now();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    if !killed.is_ok_and(|s| s.success()) {
        return Err("could not send SIGTERM".to_owned());
    }
    let late_request = late_request(addr);
    let exit_after = loop {
        if let Ok(Some(_)) = server.0.try_wait() {
            break signalled.elapsed();
        }
        if signalled.elapsed() > Duration::from_secs(60) {
            return Err("still running 60 s after SIGTERM".to_owned());
        }
        std::thread::sleep(Duration::from_millis(1));
    };

    let mut tally = Tally::default();
    for socket in &mut sockets {
        match read_end(socket) {
            End::Clean => tally.clean += 1,
            End::Reset => tally.reset += 1,
            End::Truncated => tally.truncated += 1,
            End::NoFinalEvent => tally.no_final_event += 1,
        }
    }
    Ok(Report {
        opened: sockets.len(),
        exit_after,
        tally,
        late_request,
    })
}

/// Opens one stream and reads its response head.
fn open_stream(addr: SocketAddr) -> Result<TcpStream, String> {
    let mut socket =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    socket
        .write_all(b"GET /sse HTTP/1.1\r\nHost: soak\r\nAccept: text/event-stream\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err("response head too long".to_owned());
        }
        match socket.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => return Err("closed before the response head".to_owned()),
            Err(err) => return Err(format!("reading the head: {err}")),
        }
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        return Err(format!(
            "not 200: {}",
            String::from_utf8_lossy(&head).lines().next().unwrap_or("")
        ));
    }
    Ok(socket)
}

/// What a request sent just after the signal gets.
fn late_request(addr: SocketAddr) -> String {
    let Ok(mut socket) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return "refused".to_owned();
    };
    let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
    if socket
        .write_all(b"GET /format HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return "closed".to_owned();
    }
    let mut answer = Vec::new();
    let read = socket.read_to_end(&mut answer);
    match read {
        Err(err) if answer.is_empty() => format!("error: {err}"),
        _ if answer.is_empty() => "closed without answer".to_owned(),
        _ => String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned(),
    }
}

enum End {
    Clean,
    Reset,
    Truncated,
    NoFinalEvent,
}

/// Reads the rest of a chunked SSE body and says how it ended.
fn read_end(socket: &mut TcpStream) -> End {
    let mut raw = Vec::new();
    if let Err(err) = socket.read_to_end(&mut raw) {
        return if err.kind() == std::io::ErrorKind::ConnectionReset {
            End::Reset
        } else {
            End::Truncated
        };
    }
    let Some(body) = dechunk(&raw) else {
        return End::Truncated;
    };
    if !body.ends_with(b"\n\n") {
        return End::Truncated;
    }
    let text = String::from_utf8_lossy(&body);
    let last_event = text
        .trim_end_matches('\n')
        .rsplit("\n\n")
        .next()
        .unwrap_or("");
    if last_event.lines().any(|l| l.starts_with("retry:")) {
        End::Clean
    } else {
        End::NoFinalEvent
    }
}

/// The body of a complete chunked encoding (ending with the last chunk), or
/// `None` when it was cut.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return raw.starts_with(b"\r\n").then_some(body);
        }
        let chunk = raw.get(..size)?;
        body.extend_from_slice(chunk);
        raw = raw.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

/// The soft open-file limit of this process.
fn fd_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunk_needs_the_last_chunk() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n0\r\n\r\n").as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(dechunk(b"5\r\nhello\r\n"), None);
        assert_eq!(dechunk(b"5\r\nhel"), None);
    }
}
