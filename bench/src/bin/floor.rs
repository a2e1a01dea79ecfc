//! `bench-floor limit ADDR`: the fan-out floor of this machine, for `cargo
//! xtask bench`. The hub routes of the benchmark contract (`/bench/hub`,
//! `/bench/publish`, `/bench/subscribers`) with no framework, no async
//! runtime and no SSE type: each message is formatted once as an HTTP/1.1
//! chunk holding one event, and one thread writes to every subscriber, with
//! one `writev` each per pass, everything it has not had yet (a message
//! published during a pass goes to the subscribers the pass has not reached
//! yet). What this server's fan-out latency is, a server doing nothing
//! but the writes reaches on this machine: a reference, not a proven bound
//! (a server with a framework does the same writes and more, but may order
//! them better).

use std::io::{self, IoSlice, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ssekit_bench::{Flavour, PublishParams};

/// The most bytes of messages one server keeps (every message stays, for
/// subscribers that are behind): a publish that would pass it is refused.
const MAX_LOG_BYTES: usize = 256 << 20;

/// The most messages one `writev` carries.
const MAX_SLICES: usize = 64;

const HUB_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    subscribers: AtomicUsize,
    /// How many messages the log holds: the writer looks at it before each
    /// subscriber, so that a message published during a pass goes to every
    /// subscriber the pass has not reached yet.
    published: AtomicUsize,
}

#[derive(Default)]
struct State {
    /// Every message published, each an HTTP/1.1 chunk holding one event.
    log: Vec<Bytes>,
    /// Their bytes in all.
    log_bytes: usize,
    /// New subscribers the writer has not taken yet, each with the first
    /// message it is to have.
    joined: Vec<(TcpStream, usize)>,
}

impl State {
    /// Adds to `log`, the writer's copy, what was published since.
    fn catch_up(&self, log: &mut Vec<Bytes>) {
        log.extend(self.log.iter().skip(log.len()).cloned());
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Subscriber {
    stream: TcpStream,
    /// The first message not written in full.
    next: usize,
    /// Bytes of that message already written.
    offset: usize,
}

impl Subscriber {
    /// Writes what `log` holds past `next` until done or the socket is
    /// full; an error means the client is gone.
    fn write(&mut self, log: &[Bytes]) -> io::Result<()> {
        while let Some(pending) = log.get(self.next..).filter(|p| !p.is_empty()) {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, (i, message)) in slices.iter_mut().zip(pending.iter().enumerate()) {
                let skip = if i == 0 { self.offset } else { 0 };
                *slot = IoSlice::new(message.get(skip..).unwrap_or_default());
                count += 1;
            }
            let mut written = match self.stream.write_vectored(&slices[..count]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            for message in pending {
                let left = message.len() - self.offset;
                if written < left {
                    self.offset += written;
                    break;
                }
                written -= left;
                self.next += 1;
                self.offset = 0;
            }
        }
        Ok(())
    }
}

/// The writing thread: a pass over every subscriber whenever something was
/// published or someone joined.
fn writer(shared: &Shared) {
    let mut subscribers: Vec<Subscriber> = Vec::new();
    let mut log: Vec<Bytes> = Vec::new();
    let mut behind = false;
    let mut full = false;
    loop {
        {
            let mut state = shared.state();
            if full {
                // A full socket: look again soon.
                state = shared
                    .changed
                    .wait_timeout(state, Duration::from_millis(1))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            while state.log.len() == log.len() && state.joined.is_empty() && !behind {
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.catch_up(&mut log);
            subscribers.extend(state.joined.drain(..).map(|(stream, next)| Subscriber {
                stream,
                next,
                offset: 0,
            }));
        }
        full = false;
        subscribers.retain_mut(|s| {
            if shared.published.load(Ordering::Acquire) != log.len() {
                shared.state().catch_up(&mut log);
            }
            let written = s.write(&log).is_ok();
            if !written {
                shared.subscribers.fetch_sub(1, Ordering::Relaxed);
            }
            full |= written && s.next < log.len();
            written
        });
        // Behind: a full socket, or a message published during the pass
        // after this subscriber's turn.
        behind = subscribers.iter().any(|s| s.next < log.len());
    }
}

fn publish(shared: &Shared, params: PublishParams) {
    let start = Instant::now();
    for seq in 0..params.n {
        match params.due(seq) {
            Some(due) => {
                std::thread::sleep((start + due).saturating_duration_since(Instant::now()));
            }
            None => std::thread::yield_now(),
        }
        let text = ssekit_bench::message(seq, params.size);
        let chunk = format!("{:x}\r\ndata: {text}\n\n\r\n", text.len() + 8);
        let mut state = shared.state();
        state.log_bytes += chunk.len();
        state.log.push(Bytes::from(chunk));
        shared.published.store(state.log.len(), Ordering::Release);
        shared.changed.notify_one();
    }
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())
}

/// One request: its head is read (8 KiB at most, 5 s at most), its body
/// ignored.
fn serve(shared: &Arc<Shared>, mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 || head.len() > 8 * 1024 {
            return Err(io::ErrorKind::InvalidData.into());
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.split_ascii_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (path, query) = target
        .split_once('?')
        .map_or((target, None), |(p, q)| (p, Some(q)));
    match (method, path) {
        ("GET", "/bench/hub") => {
            let mut state = shared.state();
            stream.write_all(HUB_HEAD)?;
            stream.set_nonblocking(true)?;
            let next = state.log.len();
            state.joined.push((stream, next));
            shared.subscribers.fetch_add(1, Ordering::Relaxed);
            shared.changed.notify_one();
            Ok(())
        }
        ("GET", "/bench/subscribers") => {
            let count = shared.subscribers.load(Ordering::Relaxed).to_string();
            respond(&mut stream, "200 OK", &count)
        }
        ("POST", "/bench/publish") => {
            let fits = |p: &PublishParams| {
                let held = shared.state().log_bytes;
                usize::try_from(p.n)
                    .ok()
                    .and_then(|n| n.checked_mul(p.size.saturating_add(32)))
                    .and_then(|bytes| bytes.checked_add(held))
                    .is_some_and(|bytes| bytes <= MAX_LOG_BYTES)
            };
            match PublishParams::parse(query).filter(fits) {
                Some(params) => {
                    respond(&mut stream, "202 Accepted", "")?;
                    let shared = Arc::clone(shared);
                    std::thread::spawn(move || publish(&shared, params));
                    Ok(())
                }
                None => respond(&mut stream, "400 Bad Request", "bad publish query"),
            }
        }
        _ => respond(&mut stream, "404 Not Found", "not found"),
    }
}

fn main() -> ExitCode {
    let addr = match ssekit_bench::server_args() {
        Ok((Flavour::Limit, addr)) => addr,
        Ok(_) => {
            eprintln!("usage: bench-floor limit 127.0.0.1:0 (the floor has one flavour)");
            return ExitCode::FAILURE;
        }
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(addr).and_then(|l| Ok((l.local_addr()?, l))) {
        Ok((addr, listener)) => {
            ssekit_bench::announce(addr);
            listener
        }
        Err(err) => {
            eprintln!("bench-floor: {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        changed: Condvar::new(),
        subscribers: AtomicUsize::new(0),
        published: AtomicUsize::new(0),
    });
    let writing = Arc::clone(&shared);
    std::thread::spawn(move || writer(&writing));
    for stream in listener.incoming().flatten() {
        // A client that sends nothing holds the server up for 5 s at most.
        let _ = serve(&shared, stream);
    }
    ExitCode::SUCCESS
}
