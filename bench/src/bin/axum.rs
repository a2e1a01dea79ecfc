//! The BENCH-CONTRACT server on axum.
//!
//! Run with: `cargo run --profile benchmark -p ssekit-bench --bin bench-axum -- ssekit 127.0.0.1:0`

use std::convert::Infallible;
use std::process::ExitCode;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{StreamExt as _, stream};
use ssekit_bench::{Flavour, Hub, StreamParams};
use tokio_stream::wrappers::BroadcastStream;

#[derive(Clone)]
struct App {
    flavour: Flavour,
    hub: Hub,
}

async fn bench_stream(State(app): State<App>, uri: Uri) -> Response {
    let Some(p) = StreamParams::parse(uri.query()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let data = ssekit_bench::payload(p.size, p.lines);
    match app.flavour {
        Flavour::Builtin => {
            use axum::response::sse::{Event, Sse};
            let events = stream::iter(0..p.n).map(move |i| {
                Ok::<_, Infallible>(
                    Event::default()
                        .id(i.to_string())
                        .data(ssekit_bench::event_text(&data)),
                )
            });
            Sse::new(events).into_response()
        }
        Flavour::Ssekit => {
            let events = stream::iter(0..p.n)
                .map(move |i| ssekit::Event::new(ssekit_bench::event_text(&data)).id(i.into()));
            ssekit_axum::SseResponse::from(ssekit::EventStream::new(events)).into_response()
        }
        Flavour::Limit => {
            let body = stream::iter(ssekit_bench::limit_chunks(p).map(Ok::<_, Infallible>));
            (
                [(header::CONTENT_TYPE, "text/event-stream")],
                Body::from_stream(body),
            )
                .into_response()
        }
    }
}

/// ssekit's `/bench/hub` subscriber: a subscription to `ssekit::Hub`,
/// taken before the response head is sent, through the adapter.
/// (Before the hub existed this was the broadcast pattern through the adapter.)
fn ssekit_hub_response(hub: &Hub) -> Response {
    match hub.ssekit_subscribe() {
        Ok(stream) => ssekit_axum::SseResponse::from(stream).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn bench_hub(State(app): State<App>) -> Response {
    match app.flavour {
        Flavour::Ssekit => ssekit_hub_response(&app.hub),
        Flavour::Builtin | Flavour::Limit => {
            use axum::response::sse::{Event, KeepAlive, Sse};
            let messages = BroadcastStream::new(app.hub.subscribe())
                .filter_map(|m| std::future::ready(m.ok()))
                .map(|m| Ok::<_, Infallible>(Event::default().data(&*m)));
            Sse::new(messages)
                .keep_alive(KeepAlive::default())
                .into_response()
        }
    }
}

async fn bench_publish(State(app): State<App>, uri: Uri) -> StatusCode {
    if app.hub.publish(uri.query()) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::BAD_REQUEST
    }
}

async fn bench_subscribers(State(app): State<App>) -> String {
    app.hub.subscribers().to_string()
}

#[tokio::main]
async fn main() -> ExitCode {
    let (flavour, addr) = match ssekit_bench::server_args() {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::FAILURE;
        }
    };
    let app = Router::new()
        .route("/bench/stream", get(bench_stream))
        .route("/bench/hub", get(bench_hub))
        .route("/bench/publish", post(bench_publish))
        .route("/bench/subscribers", get(bench_subscribers))
        .with_state(App {
            flavour,
            hub: Hub::new(),
        });
    let listener = match ssekit_bench::bind(addr, flavour) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("bind {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(local) = listener.local_addr() {
        ssekit_bench::announce(local);
    }
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("serve: {err}");
            ExitCode::FAILURE
        }
    }
}
