//! The `LastEventId` extractor in each framework's handler signature.

fn describe(last: Option<ssekit::EventId>) -> String {
    last.map_or_else(|| "from the start".to_owned(), |id| format!("after {id}"))
}

async fn axum_handler(ssekit_axum::LastEventId(last): ssekit_axum::LastEventId) -> String {
    describe(last)
}

async fn actix_handler(ssekit_actix_web::LastEventId(last): ssekit_actix_web::LastEventId) -> String {
    describe(last)
}

#[poem::handler]
fn poem_handler(ssekit_poem::LastEventId(last): ssekit_poem::LastEventId) -> String {
    describe(last)
}

fn main() {
    let _axum: axum::Router = axum::Router::new().route("/", axum::routing::get(axum_handler));
    let _actix = actix_web::App::new().route("/", actix_web::web::get().to(actix_handler));
    let _warp = {
        use warp::Filter;
        ssekit_warp::last_event_id()
            .map(|ssekit_warp::LastEventId(last)| describe(last))
            .recover(ssekit_warp::recover)
    };
    let _poem = poem::Route::new().at("/", poem::get(poem_handler));
}
