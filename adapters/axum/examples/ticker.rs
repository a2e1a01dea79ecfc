//! Run with: `cargo run -p ssekit-axum --example ticker`, then open
//! <http://127.0.0.1:8080/> (or `curl -N http://127.0.0.1:8080/sse`).
//!
//! A ticker: the unix time in seconds (`unix time 1767225600`) every 2 s
//! until the client leaves,
//! with a page whose `EventSource` shows each event as it arrives.

use std::time::Duration;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use ssekit::Event;
use ssekit_axum::{LastEventId, SseResponse};

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>ssekit ticker</title>
<h1>ssekit ticker</h1>
<p>readyState: <span id="state">0</span></p>
<ol id="events"></ol>
<script>
  const es = new EventSource('/sse');
  const state = () => document.getElementById('state').textContent = es.readyState;
  es.onopen = state;
  es.onerror = state;
  es.onmessage = (e) => {
    const li = document.createElement('li');
    li.textContent = e.data;
    document.getElementById('events').append(li);
  };
</script>
"#;

async fn sse(LastEventId(last): LastEventId) -> SseResponse<ssekit::PushedEvents> {
    if let Some(id) = last {
        println!("client reconnected after event {id}");
    }
    let (tx, stream) = ssekit::channel(4);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                () = tx.closed() => break,
                _ = tick.tick() => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    let event = Event::new(format!("unix time {}", now.as_secs()));
                    if tx.send(event).await.is_err() {
                        break;
                    }
                }
            }
        }
        println!("client left");
    });
    stream.into()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/sse", get(sse));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    println!("listening on http://{}/", listener.local_addr()?);
    axum::serve(listener, app).await
}
