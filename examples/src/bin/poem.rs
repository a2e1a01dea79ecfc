//! Run with: `cargo run -p ssekit-examples --bin poem [-- --addr 127.0.0.1:8080]`,
//! then open <http://127.0.0.1:8080/>.

use std::process::ExitCode;

use poem::listener::TcpAcceptor;
use poem::web::{Data, Html, Query};
use poem::{EndpointExt as _, Route, get, handler};
use ssekit_examples::{BadRequest, Demo, DemoStream, PAGE, Params};
use ssekit_poem::{ChunkedResponse, LastEventId, SseResponse};

#[handler]
fn page() -> Html<&'static str> {
    Html(PAGE)
}

#[handler]
fn chunk(Query(params): Query<Params>) -> ChunkedResponse<ssekit_examples::ChunkStream> {
    ChunkedResponse::from(ssekit_examples::chunk(&params))
}

#[handler]
fn sse(
    Data(demo): Data<&Demo>,
    Query(params): Query<Params>,
    LastEventId(last): LastEventId,
) -> poem::Result<SseResponse<DemoStream>> {
    match demo.stream(&params, last) {
        Ok(stream) => Ok(SseResponse::from(stream)),
        Err(BadRequest(reason)) => Err(poem::Error::from_string(
            reason,
            poem::http::StatusCode::BAD_REQUEST,
        )),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut app = Route::new().at("/", get(page)).at("/chunk", get(chunk));
    for (path, demo) in Demo::ALL {
        app = app.at(path, get(sse.data(demo)));
    }
    let listener = match ssekit_examples::tokio_listener("poem") {
        Ok(listener) => listener,
        Err(code) => return code,
    };
    match TcpAcceptor::from_tokio(listener) {
        Ok(acceptor) => {
            ssekit_examples::exit_code(poem::Server::new_with_acceptor(acceptor).run(app).await)
        }
        Err(err) => ssekit_examples::exit_code(Err(err)),
    }
}
