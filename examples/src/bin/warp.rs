//! Run with: `cargo run -p ssekit-examples --bin warp [-- --addr 127.0.0.1:8080]`,
//! then open <http://127.0.0.1:8080/>.

use std::process::ExitCode;

use ssekit_examples::{BadRequest, Demo, PAGE, Params};
use ssekit_warp::{ChunkedResponse, LastEventId, SseResponse};
use warp::path::FullPath;
use warp::{Filter, Reply as _};

#[tokio::main]
async fn main() -> ExitCode {
    let page = warp::get()
        .and(warp::path::end())
        .map(|| warp::reply::html(PAGE));
    let chunk = warp::get()
        .and(warp::path!("chunk"))
        .and(warp::query::<Params>())
        .map(|params: Params| ChunkedResponse::from(ssekit_examples::chunk(&params)));
    let demo = warp::path::full().and_then(|path: FullPath| async move {
        Demo::from_path(path.as_str()).ok_or_else(warp::reject::not_found)
    });
    let sse = warp::get()
        .and(demo)
        .and(warp::query::<Params>())
        .and(ssekit_warp::last_event_id())
        .map(
            |demo: Demo, params: Params, LastEventId(last)| match demo.stream(&params, last) {
                Ok(stream) => SseResponse::from(stream).into_response(),
                Err(BadRequest(reason)) => {
                    warp::reply::with_status(reason, warp::http::StatusCode::BAD_REQUEST)
                        .into_response()
                }
            },
        );
    let routes = page.or(chunk).or(sse).recover(ssekit_warp::recover);

    let listener = match ssekit_examples::tokio_listener("warp") {
        Ok(listener) => listener,
        Err(code) => return code,
    };
    warp::serve(routes).incoming(listener).run().await;
    ExitCode::SUCCESS
}
