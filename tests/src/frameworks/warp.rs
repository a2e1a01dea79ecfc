//! warp 0.4 (hyper 1, HTTP/1.1 and h2c) with `warp::compression::gzip()`.
//!
//! warp's gzip filter compresses every reply whatever the client accepts, so,
//! as a warp application would, the driver applies it only to requests whose
//! `Accept-Encoding` names gzip and serves the others uncompressed.

use std::sync::Arc;

use ssekit_warp::{ChunkedResponse, LastEventId, SseResponse};
use warp::Filter;
use warp::reply::{Reply, Response};

use crate::fixtures::{Fixtures, Refusal};
use crate::hub_scenarios::{GracefulServer, HubRoute, hub_route};
use crate::{Framework, TestServer};

/// The warp driver.
#[derive(Debug)]
pub struct Warp;

fn refusal(r: Refusal) -> Response {
    let status = warp::http::StatusCode::from_u16(r.status)
        .unwrap_or(warp::http::StatusCode::INTERNAL_SERVER_ERROR);
    warp::reply::with_status(r.message, status).into_response()
}

impl Framework for Warp {
    const NAME: &'static str = "warp";
    const COMPRESSES_EVENT_STREAMS: bool = true;

    async fn serve(fixtures: Arc<Fixtures>) -> TestServer {
        let with_fixtures = {
            let fixtures = Arc::clone(&fixtures);
            warp::any().map(move || Arc::clone(&fixtures))
        };
        let sse = warp::get()
            .and(with_fixtures.clone())
            .and(warp::path!("sse" / String / u64))
            .and(ssekit_warp::last_event_id())
            .map(
                |fixtures: Arc<Fixtures>, name: String, gate: u64, LastEventId(last)| match fixtures
                    .sse(&name, gate, last)
                {
                    Ok(stream) => SseResponse::from(stream).into_response(),
                    Err(r) => refusal(r),
                },
            );
        let accepts_gzip = warp::header::optional::<String>("accept-encoding")
            .and_then(|accept: Option<String>| async move {
                if accept.is_some_and(|a| a.contains("gzip")) {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                }
            })
            .untuple_one();
        let gzip_sse = accepts_gzip
            .and(sse.clone())
            .with(warp::compression::gzip());
        let chunked = warp::get()
            .and(with_fixtures)
            .and(warp::path!("chunked" / String / u64))
            .map(|fixtures: Arc<Fixtures>, name: String, gate: u64| {
                match fixtures.chunked(&name, gate) {
                    Ok(body) => ChunkedResponse::from(body).into_response(),
                    Err(r) => refusal(r),
                }
            });
        let routes = gzip_sse.or(sse).or(chunked).recover(ssekit_warp::recover);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(warp::serve(routes).incoming(listener).run());
        TestServer::new(addr, move || task.abort())
    }
}

// --- hub routes (see `crate::hub_scenarios`) ---

fn hub_routes(
    route: HubRoute,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    // The topic percent-decoded (warp's `path!` would hand it on as sent)
    // and checked by `ssekit_warp::topic`, whose refusal `recover` answers.
    warp::get()
        .and(warp::path("hub"))
        .and(ssekit_warp::topic())
        .and(warp::path::end())
        .and(ssekit_warp::resume_from())
        .map(move |topic: String, ssekit_warp::ResumeFrom(from)| {
            match hub_route(&route, &topic, from) {
                Ok(stream) => SseResponse::from(stream).into_response(),
                Err(reason) => {
                    warp::reply::with_status(reason, warp::http::StatusCode::BAD_REQUEST)
                        .into_response()
                }
            }
        })
        .recover(ssekit_warp::recover)
        .unify()
}

impl crate::hub_scenarios::HubFramework for Warp {
    async fn serve_hub_route(route: HubRoute) -> TestServer {
        let routes = hub_routes(route);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(warp::serve(routes).incoming(listener).run());
        TestServer::new(addr, move || task.abort())
    }

    async fn serve_hub_graceful(hub: ssekit::Hub, shutdown: ssekit::Shutdown) -> GracefulServer {
        let token = shutdown.token().clone();
        let routes = hub_routes(HubRoute {
            shutdown: Some(shutdown),
            ..HubRoute::new(hub)
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (finished_tx, finished) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            warp::serve(routes)
                .incoming(listener)
                .graceful(token.cancelled_owned())
                .run()
                .await;
            let _ = finished_tx.send(());
        });
        GracefulServer { addr, finished }
    }
}
