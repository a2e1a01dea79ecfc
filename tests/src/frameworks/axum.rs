//! axum 0.8 with tower-http's `CompressionLayer`, HTTP/1.1 and h2c.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ssekit_axum::{ChunkedResponse, LastEventId, SseResponse};

use crate::fixtures::{Fixtures, Refusal};
use crate::hub_scenarios::{GracefulServer, HubRoute, hub_route};
use crate::{Framework, TestServer};

/// The axum driver.
#[derive(Debug)]
pub struct Axum;

fn refusal(r: Refusal) -> Response {
    (
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        r.message,
    )
        .into_response()
}

async fn sse(
    State(fixtures): State<Arc<Fixtures>>,
    Path((name, gate)): Path<(String, u64)>,
    LastEventId(last): LastEventId,
) -> Response {
    match fixtures.sse(&name, gate, last) {
        Ok(stream) => SseResponse::from(stream).into_response(),
        Err(r) => refusal(r),
    }
}

async fn chunked(
    State(fixtures): State<Arc<Fixtures>>,
    Path((name, gate)): Path<(String, u64)>,
) -> Response {
    match fixtures.chunked(&name, gate) {
        Ok(body) => ChunkedResponse::from(body).into_response(),
        Err(r) => refusal(r),
    }
}

impl Framework for Axum {
    const NAME: &'static str = "axum";
    const COMPRESSES_EVENT_STREAMS: bool = false;

    async fn serve(fixtures: Arc<Fixtures>) -> TestServer {
        let app = axum::Router::new()
            .route("/sse/{name}/{gate}", get(sse))
            .route("/chunked/{name}/{gate}", get(chunked))
            .layer(tower_http::compression::CompressionLayer::new())
            .with_state(fixtures);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestServer::new(addr, move || task.abort())
    }
}

// --- hub routes (see `crate::hub_scenarios`) ---

async fn hub_topic(
    State(route): State<HubRoute>,
    Path(topic): Path<String>,
    ssekit_axum::ResumeFrom(from): ssekit_axum::ResumeFrom,
) -> Response {
    match hub_route(&route, &topic, from) {
        Ok(stream) => SseResponse::from(stream).into_response(),
        Err(reason) => (StatusCode::BAD_REQUEST, reason).into_response(),
    }
}

fn hub_app(route: HubRoute) -> axum::Router {
    axum::Router::new()
        .route("/hub/{topic}", get(hub_topic))
        .with_state(route)
}

impl crate::hub_scenarios::HubFramework for Axum {
    async fn serve_hub_route(route: HubRoute) -> TestServer {
        let app = hub_app(route);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestServer::new(addr, move || task.abort())
    }

    async fn serve_hub_graceful(hub: ssekit::Hub, shutdown: ssekit::Shutdown) -> GracefulServer {
        let token = shutdown.token().clone();
        let app = hub_app(HubRoute {
            shutdown: Some(shutdown),
            ..HubRoute::new(hub)
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (finished_tx, finished) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await;
            let _ = finished_tx.send(());
        });
        GracefulServer { addr, finished }
    }
}
