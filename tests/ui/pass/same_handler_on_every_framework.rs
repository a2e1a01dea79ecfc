//! One handler, written against ssekit only, served unchanged by all four
//! frameworks, through the same names and constructors in every adapter:
//! `SseResponse::new`/`from`, `ChunkedResponse::new`/`from`.

use futures_util::{Stream, StreamExt, stream};
use ssekit::{ChunkedBody, Event, EventStream};

fn countdown(from: u32) -> EventStream<impl Stream<Item = Event> + Send + 'static> {
    EventStream::new(stream::iter((0..from).rev()).map(|i| Event::new(i.to_string())))
}

fn page() -> ChunkedBody<impl Stream<Item = &'static str> + Send + 'static> {
    ChunkedBody::html(stream::iter(["<h1>0</h1>"]))
}

#[poem::handler]
fn poem_countdown() -> ssekit_poem::SseResponse<impl Stream<Item = Event> + Send + 'static> {
    countdown(3).into()
}

#[poem::handler]
fn poem_page() -> ssekit_poem::ChunkedResponse<impl Stream<Item = &'static str> + Send + 'static> {
    ssekit_poem::ChunkedResponse::new(page())
}

fn main() {
    let _axum: axum::Router = axum::Router::new()
        .route("/", axum::routing::get(|| async { ssekit_axum::SseResponse::from(countdown(3)) }))
        .route("/new", axum::routing::get(|| async { ssekit_axum::SseResponse::new(countdown(3)) }))
        .route("/page", axum::routing::get(|| async { ssekit_axum::ChunkedResponse::new(page()) }));

    let _actix = actix_web::App::new()
        .route("/", actix_web::web::get().to(|| async { ssekit_actix_web::SseResponse::from(countdown(3)) }))
        .route("/new", actix_web::web::get().to(|| async { ssekit_actix_web::SseResponse::new(countdown(3)) }))
        .route("/page", actix_web::web::get().to(|| async { ssekit_actix_web::ChunkedResponse::new(page()) }));

    let _warp = {
        use warp::Filter;
        warp::path::end()
            .map(|| ssekit_warp::SseResponse::from(countdown(3)))
            .or(warp::path("new").map(|| ssekit_warp::SseResponse::new(countdown(3))))
            .or(warp::path("page").map(|| ssekit_warp::ChunkedResponse::new(page())))
    };

    let _poem = poem::Route::new()
        .at("/", poem::get(poem_countdown))
        .at("/page", poem::get(poem_page));
}
