//! One handler, written against ssekit only, served unchanged by all four
//! frameworks.

use futures_util::{Stream, StreamExt, stream};
use ssekit::{Event, EventStream};

fn countdown(from: u32) -> EventStream<impl Stream<Item = Event> + Send + 'static> {
    EventStream::new(stream::iter((0..from).rev()).map(|i| Event::new(i.to_string())))
}

#[poem::handler]
fn poem_countdown() -> ssekit_poem::SseResponse<impl Stream<Item = Event> + Send + 'static> {
    countdown(3).into()
}

fn main() {
    let _axum: axum::Router = axum::Router::new()
        .route("/", axum::routing::get(|| async { ssekit_axum::SseResponse::from(countdown(3)) }));

    let _actix = actix_web::App::new()
        .route("/", actix_web::web::get().to(|| async { ssekit_actix_web::SseResponse::from(countdown(3)) }));

    let _warp = {
        use warp::Filter;
        warp::path::end().map(|| ssekit_warp::SseResponse::from(countdown(3)))
    };

    let _poem = poem::Route::new().at("/", poem::get(poem_countdown));
}
