//! A push-style handler (`ssekit::channel`) that stops when the client
//! leaves, served by all four frameworks.

use std::time::Duration;

use ssekit::{Event, EventStream, PushedEvents};

fn ticks() -> EventStream<PushedEvents> {
    let (tx, stream) = ssekit::channel(8);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tx.closed() => break,
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    if tx.send(Event::new("tick")).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    stream
}

#[poem::handler]
fn poem_ticks() -> ssekit_poem::SseResponse<PushedEvents> {
    ticks().into()
}

fn main() {
    let _axum: axum::Router =
        axum::Router::new().route("/", axum::routing::get(|| async { ssekit_axum::SseResponse::from(ticks()) }));
    let _actix = actix_web::App::new()
        .route("/", actix_web::web::get().to(|| async { ssekit_actix_web::SseResponse::from(ticks()) }));
    let _warp = {
        use warp::Filter;
        warp::path::end().map(|| ssekit_warp::SseResponse::from(ticks()))
    };
    let _poem = poem::Route::new().at("/", poem::get(poem_ticks));
}
