//! Run with: `cargo run -p ssekit-examples --bin actix-web [-- --addr 127.0.0.1:8080]`,
//! then open <http://127.0.0.1:8080/>.

use std::process::ExitCode;

use actix_web::{App, Either, HttpResponse, HttpServer, web};
use ssekit_actix_web::{ChunkedResponse, LastEventId, SseResponse};
use ssekit_examples::{BadRequest, Demo, PAGE, Params};

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}

async fn chunk(params: web::Query<Params>) -> ChunkedResponse<ssekit_examples::ChunkStream> {
    ChunkedResponse::from(ssekit_examples::chunk(&params))
}

#[actix_web::main]
async fn main() -> ExitCode {
    let options = match ssekit_examples::options() {
        Ok(options) => options,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let listener = match std::net::TcpListener::bind(options.addr) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on {}: {err}", options.addr);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(options.addr);
    let server = HttpServer::new(|| {
        let mut app = App::new()
            .route("/", web::get().to(page))
            .route("/chunk", web::get().to(chunk));
        for (path, demo) in Demo::ALL {
            app = app.route(
                path,
                web::get().to(
                    move |params: web::Query<Params>, LastEventId(last): LastEventId| async move {
                        match demo.stream(&params, last) {
                            Ok(stream) => Either::Left(SseResponse::from(stream)),
                            Err(BadRequest(reason)) => {
                                Either::Right(HttpResponse::BadRequest().body(reason))
                            }
                        }
                    },
                ),
            );
        }
        app
    })
    .listen_auto_h2c(listener);
    let server = match server {
        Ok(server) => server,
        Err(err) => {
            eprintln!("cannot serve on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    ssekit_examples::announce("actix-web", addr);
    match server.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("server error: {err}");
            ExitCode::FAILURE
        }
    }
}
