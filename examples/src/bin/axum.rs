//! Run with: `cargo run -p ssekit-examples --bin axum [-- --addr 127.0.0.1:8080]`,
//! then open <http://127.0.0.1:8080/>.

use std::process::ExitCode;

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use ssekit_axum::{ChunkedResponse, LastEventId, SseResponse};
use ssekit_examples::{BadRequest, Demo, PAGE, Params};

/// The demo routes on axum.
fn app() -> Router {
    let mut router = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/chunk",
            get(|Query(params): Query<Params>| async move {
                ChunkedResponse::from(ssekit_examples::chunk(&params))
            }),
        );
    for (path, demo) in Demo::ALL {
        router = router.route(
            path,
            get(
                move |Query(params): Query<Params>, LastEventId(last): LastEventId| async move {
                    match demo.stream(&params, last) {
                        Ok(stream) => SseResponse::from(stream).into_response(),
                        Err(BadRequest(reason)) => {
                            (StatusCode::BAD_REQUEST, reason).into_response()
                        }
                    }
                },
            ),
        );
    }
    router
}

#[tokio::main]
async fn main() -> ExitCode {
    match ssekit_examples::tokio_listener("axum") {
        Ok(listener) => ssekit_examples::exit_code(axum::serve(listener, app()).await),
        Err(code) => code,
    }
}
