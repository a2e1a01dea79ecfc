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
    let options = match ssekit_examples::options() {
        Ok(options) => options,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(options.addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on {}: {err}", options.addr);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(options.addr);
    ssekit_examples::announce("axum", addr);
    match axum::serve(listener, app()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("server error: {err}");
            ExitCode::FAILURE
        }
    }
}
