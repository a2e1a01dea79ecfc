//! The BENCH-CONTRACT server on warp.
//!
//! Run with: `cargo run --profile benchmark -p ssekit-bench --bin bench-warp -- ssekit 127.0.0.1:0`

use std::convert::Infallible;
use std::process::ExitCode;

use futures_util::{StreamExt as _, stream};
use ssekit_bench::{Flavour, Hub, StreamParams};
use tokio_stream::wrappers::BroadcastStream;
use warp::Filter as _;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

fn raw_query() -> impl warp::Filter<Extract = (Option<String>,), Error = Infallible> + Clone {
    warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify()
}

fn bench_stream(flavour: Flavour, query: Option<String>) -> Response {
    let Some(p) = StreamParams::parse(query.as_deref()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let data = ssekit_bench::payload(p.size, p.lines);
    match flavour {
        Flavour::Builtin => {
            let events = stream::iter(0..p.n).map(move |i| {
                Ok::<_, Infallible>(
                    warp::sse::Event::default()
                        .id(i.to_string())
                        .data(ssekit_bench::event_text(&data)),
                )
            });
            warp::sse::reply(events).into_response()
        }
        Flavour::Ssekit => {
            let events = stream::iter(0..p.n)
                .map(move |i| ssekit::Event::new(ssekit_bench::event_text(&data)).id(i.into()));
            ssekit_warp::SseResponse::from(ssekit::EventStream::new(events)).into_response()
        }
        Flavour::Limit => {
            let body = stream::iter(ssekit_bench::limit_chunks(p).map(Ok::<_, Infallible>));
            warp::reply::with_header(
                warp::reply::stream(body),
                "content-type",
                "text/event-stream",
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
        Ok(stream) => ssekit_warp::SseResponse::from(stream).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn bench_hub(flavour: Flavour, hub: &Hub) -> Response {
    match flavour {
        Flavour::Ssekit => ssekit_hub_response(hub),
        Flavour::Builtin | Flavour::Limit => {
            let messages = BroadcastStream::new(hub.subscribe())
                .filter_map(|m| std::future::ready(m.ok()))
                .map(|m| Ok::<_, Infallible>(warp::sse::Event::default().data(&*m)));
            warp::sse::reply(warp::sse::keep_alive().stream(messages)).into_response()
        }
    }
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
    let hub = Hub::new();
    let stream_route = warp::path!("bench" / "stream")
        .and(warp::get())
        .and(raw_query())
        .map(move |query| bench_stream(flavour, query));
    let hub_route = {
        let hub = hub.clone();
        warp::path!("bench" / "hub")
            .and(warp::get())
            .map(move || bench_hub(flavour, &hub))
    };
    let publish_route = {
        let hub = hub.clone();
        warp::path!("bench" / "publish")
            .and(warp::post())
            .and(raw_query())
            .map(move |query: Option<String>| {
                if hub.publish(query.as_deref()) {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::BAD_REQUEST
                }
            })
    };
    let subscribers_route = warp::path!("bench" / "subscribers")
        .and(warp::get())
        .map(move || hub.subscribers().to_string());
    let routes = stream_route
        .or(hub_route)
        .or(publish_route)
        .or(subscribers_route);
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
    warp::serve(routes).incoming(listener).run().await;
    ExitCode::SUCCESS
}
