use std::rc::Rc;

use futures_util::{StreamExt, stream};
use ssekit::{Event, EventStream};

async fn handler() -> ssekit_axum::SseResponse<impl futures_util::Stream<Item = Event>> {
    let shared = Rc::new("not Send");
    let events = stream::iter(0..3).map(move |i| Event::new(format!("{shared} {i}")));
    ssekit_axum::SseResponse::from(EventStream::new(events))
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
