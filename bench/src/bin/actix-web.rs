//! The BENCH-CONTRACT server on actix-web; its built-in SSE is
//! `actix_web_lab::sse`.
//!
//! Run with: `cargo run --profile benchmark -p ssekit-bench --bin bench-actix-web -- ssekit 127.0.0.1:0`

use std::convert::Infallible;
use std::process::ExitCode;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, Responder as _, web};
use actix_web_lab::sse;
use futures_util::{StreamExt as _, stream};
use ssekit_bench::{Flavour, Hub, StreamParams};
use tokio_stream::wrappers::BroadcastStream;

async fn bench_stream(req: HttpRequest, flavour: web::Data<Flavour>) -> HttpResponse {
    let Some(p) = StreamParams::parse(Some(req.query_string())) else {
        return HttpResponse::BadRequest().finish();
    };
    let data = ssekit_bench::payload(p.size, p.lines);
    match **flavour {
        Flavour::Builtin => {
            let events = stream::iter(0..p.n).map(move |i| {
                Ok::<_, Infallible>(sse::Event::Data(
                    sse::Data::new(ssekit_bench::event_text(&data)).id(i.to_string()),
                ))
            });
            sse::Sse::from_stream(events)
                .respond_to(&req)
                .map_into_boxed_body()
        }
        Flavour::Ssekit => {
            let events = stream::iter(0..p.n)
                .map(move |i| ssekit::Event::new(ssekit_bench::event_text(&data)).id(i.into()));
            ssekit_actix_web::SseResponse::from(ssekit::EventStream::new(events)).respond_to(&req)
        }
        Flavour::Limit => {
            let body = stream::iter(ssekit_bench::limit_chunks(p).map(Ok::<_, Infallible>));
            HttpResponse::Ok()
                .content_type("text/event-stream")
                .streaming(body)
        }
    }
}

/// ssekit's `/bench/hub` subscriber: a subscription to `ssekit::Hub`,
/// taken before the response head is sent, through the adapter.
/// (Before the hub existed this was the broadcast pattern through the adapter.)
fn ssekit_hub_response(req: &HttpRequest, hub: &Hub) -> HttpResponse {
    match hub.ssekit_subscribe() {
        Ok(stream) => ssekit_actix_web::SseResponse::from(stream).respond_to(req),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn bench_hub(
    req: HttpRequest,
    flavour: web::Data<Flavour>,
    hub: web::Data<Hub>,
) -> HttpResponse {
    match **flavour {
        Flavour::Ssekit => ssekit_hub_response(&req, &hub),
        Flavour::Builtin | Flavour::Limit => {
            let messages = BroadcastStream::new(hub.subscribe())
                .filter_map(|m| std::future::ready(m.ok()))
                .map(|m| Ok::<_, Infallible>(sse::Event::Data(sse::Data::new(String::from(&*m)))));
            sse::Sse::from_stream(messages)
                .with_keep_alive(Duration::from_secs(15))
                .respond_to(&req)
                .map_into_boxed_body()
        }
    }
}

async fn bench_publish(req: HttpRequest, hub: web::Data<Hub>) -> HttpResponse {
    let status = if hub.publish(Some(req.query_string())) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::BAD_REQUEST
    };
    HttpResponse::build(status).finish()
}

async fn bench_subscribers(hub: web::Data<Hub>) -> String {
    hub.subscribers().to_string()
}

#[actix_web::main]
async fn main() -> ExitCode {
    let (flavour, addr) = match ssekit_bench::server_args() {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::FAILURE;
        }
    };
    let hub = Hub::new();
    let listener =
        match ssekit_bench::bind(addr, flavour).and_then(tokio::net::TcpListener::into_std) {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("bind {addr}: {err}");
                return ExitCode::FAILURE;
            }
        };
    let local = listener.local_addr();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(flavour))
            .app_data(web::Data::new(hub.clone()))
            .route("/bench/stream", web::get().to(bench_stream))
            .route("/bench/hub", web::get().to(bench_hub))
            .route("/bench/publish", web::post().to(bench_publish))
            .route("/bench/subscribers", web::get().to(bench_subscribers))
    })
    .max_connections(50_000)
    .backlog(4096)
    .disable_signals();
    // The built-in flavour runs on actix-web as it comes; ssekit's registers
    // the adapter's `on_connect`, which lets it notice a departed client.
    let server = if flavour == Flavour::Ssekit {
        server.on_connect(ssekit_actix_web::on_connect)
    } else {
        server
    };
    let server = match server.listen(listener) {
        Ok(server) => server.run(),
        Err(err) => {
            eprintln!("listen: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(local) = local {
        ssekit_bench::announce(local);
    }
    match server.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("serve: {err}");
            ExitCode::FAILURE
        }
    }
}
