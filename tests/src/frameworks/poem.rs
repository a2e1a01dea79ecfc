//! poem 3 with its `Compression` middleware, HTTP/1.1 and h2c.

use std::sync::Arc;

use poem::listener::{Acceptor as _, TcpAcceptor};
use poem::middleware::Compression;
use poem::web::{Data, Path};
use poem::{EndpointExt as _, IntoResponse, Response, Route, get, handler};
use ssekit_poem::{ChunkedResponse, LastEventId, SseResponse};

use crate::fixtures::{Fixtures, Refusal};
use crate::hub_scenarios::{GracefulServer, HubRoute, hub_route};
use crate::{Framework, TestServer};

/// The poem driver.
#[derive(Debug)]
pub struct Poem;

fn refusal(r: Refusal) -> Response {
    let status = poem::http::StatusCode::from_u16(r.status)
        .unwrap_or(poem::http::StatusCode::INTERNAL_SERVER_ERROR);
    r.message.with_status(status).into_response()
}

#[handler]
fn sse(
    fixtures: Data<&Arc<Fixtures>>,
    Path((name, gate)): Path<(String, u64)>,
    LastEventId(last): LastEventId,
) -> Response {
    match fixtures.sse(&name, gate, last) {
        Ok(stream) => SseResponse::from(stream).into_response(),
        Err(r) => refusal(r),
    }
}

#[handler]
fn chunked(fixtures: Data<&Arc<Fixtures>>, Path((name, gate)): Path<(String, u64)>) -> Response {
    match fixtures.chunked(&name, gate) {
        Ok(body) => ChunkedResponse::from(body).into_response(),
        Err(r) => refusal(r),
    }
}

impl Framework for Poem {
    const NAME: &'static str = "poem";
    const COMPRESSES_EVENT_STREAMS: bool = true;

    async fn serve(fixtures: Arc<Fixtures>) -> TestServer {
        let app = Route::new()
            .at("/sse/:name/:gate", get(sse))
            .at("/chunked/:name/:gate", get(chunked))
            .with(Compression::new())
            .data(fixtures);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
        let _ = acceptor.local_addr();
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(ssekit_poem::NoticeDepartures::new(acceptor))
                .run(app)
                .await;
        });
        TestServer::new(addr, move || task.abort())
    }
}

// --- hub routes (see `crate::hub_scenarios`) ---

#[handler]
fn hub_topic(
    route: Data<&HubRoute>,
    Path(topic): Path<String>,
    ssekit_poem::ResumeFrom(from): ssekit_poem::ResumeFrom,
) -> Response {
    match hub_route(&route, &topic, from) {
        Ok(stream) => SseResponse::from(stream).into_response(),
        Err(reason) => reason
            .with_status(poem::http::StatusCode::BAD_REQUEST)
            .into_response(),
    }
}

async fn hub_acceptor() -> (std::net::SocketAddr, TcpAcceptor) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    (addr, TcpAcceptor::from_tokio(listener).expect("acceptor"))
}

impl crate::hub_scenarios::HubFramework for Poem {
    async fn serve_hub_route(route: HubRoute) -> TestServer {
        let app = Route::new().at("/hub/:topic", get(hub_topic)).data(route);
        let (addr, acceptor) = hub_acceptor().await;
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        TestServer::new(addr, move || task.abort())
    }

    async fn serve_hub_graceful(hub: ssekit::Hub, shutdown: ssekit::Shutdown) -> GracefulServer {
        let token = shutdown.token().clone();
        let app = Route::new()
            .at("/hub/:topic", get(hub_topic))
            .data(HubRoute {
                shutdown: Some(shutdown),
                ..HubRoute::new(hub)
            });
        let (addr, acceptor) = hub_acceptor().await;
        let (finished_tx, finished) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            // No timeout: the graceful shutdown must complete by itself.
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(app, token.cancelled_owned(), None)
                .await;
            let _ = finished_tx.send(());
        });
        GracefulServer { addr, finished }
    }
}
