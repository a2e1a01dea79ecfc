//! The BENCH-CONTRACT server on poem.
//!
//! Run with: `cargo run --profile benchmark -p ssekit-bench --bin bench-poem -- ssekit 127.0.0.1:0`

use std::process::ExitCode;
use std::time::Duration;

use futures_util::{StreamExt as _, stream};
use poem::http::StatusCode;
use poem::listener::{Acceptor as _, TcpAcceptor};
use poem::web::{Data, sse};
use poem::{Body, EndpointExt as _, IntoResponse, Request, Response, Route, get, handler, post};
use ssekit_bench::{Flavour, Hub, StreamParams};
use tokio_stream::wrappers::BroadcastStream;

#[handler]
fn bench_stream(req: &Request, Data(flavour): Data<&Flavour>) -> Response {
    let Some(p) = StreamParams::parse(req.uri().query()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let data = ssekit_bench::payload(p.size, p.lines);
    match flavour {
        Flavour::Builtin => {
            let events = stream::iter(0..p.n).map(move |i| {
                sse::Event::message(ssekit_bench::event_text(&data)).id(i.to_string())
            });
            sse::SSE::new(events).into_response()
        }
        Flavour::Ssekit => {
            let events = stream::iter(0..p.n)
                .map(move |i| ssekit::Event::new(ssekit_bench::event_text(&data)).id(i.into()));
            ssekit_poem::SseResponse::from(ssekit::EventStream::new(events)).into_response()
        }
        Flavour::Limit => {
            let body = stream::iter(ssekit_bench::limit_chunks(p).map(Ok::<_, std::io::Error>));
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_bytes_stream(body))
        }
    }
}

/// ssekit's `/bench/hub` subscriber: a subscription to `ssekit::Hub`,
/// taken before the response head is sent, through the adapter.
/// (Before the hub existed this was the broadcast pattern through the adapter.)
fn ssekit_hub_response(hub: &Hub) -> Response {
    match hub.ssekit_subscribe() {
        Ok(stream) => ssekit_poem::SseResponse::from(stream).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[handler]
fn bench_hub(Data(flavour): Data<&Flavour>, Data(hub): Data<&Hub>) -> Response {
    match flavour {
        Flavour::Ssekit => ssekit_hub_response(hub),
        Flavour::Builtin | Flavour::Limit => {
            let messages = BroadcastStream::new(hub.subscribe())
                .filter_map(|m| std::future::ready(m.ok()))
                .map(|m| sse::Event::message(&*m));
            sse::SSE::new(messages)
                .keep_alive(Duration::from_secs(15))
                .into_response()
        }
    }
}

#[handler]
fn bench_publish(req: &Request, Data(hub): Data<&Hub>) -> StatusCode {
    if hub.publish(req.uri().query()) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::BAD_REQUEST
    }
}

#[handler]
fn bench_subscribers(Data(hub): Data<&Hub>) -> String {
    hub.subscribers().to_string()
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
    let app = Route::new()
        .at("/bench/stream", get(bench_stream))
        .at("/bench/hub", get(bench_hub))
        .at("/bench/publish", post(bench_publish))
        .at("/bench/subscribers", get(bench_subscribers))
        .data(flavour)
        .data(Hub::new());
    let listener = match ssekit_bench::bind(addr, flavour) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("bind {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let acceptor = match TcpAcceptor::from_tokio(listener) {
        Ok(acceptor) => acceptor,
        Err(err) => {
            eprintln!("acceptor: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(local) = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
    {
        ssekit_bench::announce(local);
    }
    // The built-in flavour runs on poem as it comes; ssekit's through the
    // adapter's acceptor, which lets poem notice a departed client.
    let result = match flavour {
        Flavour::Ssekit => {
            poem::Server::new_with_acceptor(ssekit_poem::NoticeDepartures::new(acceptor))
                .run(app)
                .await
        }
        Flavour::Builtin | Flavour::Limit => {
            poem::Server::new_with_acceptor(acceptor).run(app).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("serve: {err}");
            ExitCode::FAILURE
        }
    }
}
