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
    let listener = match ssekit_examples::listen("actix-web") {
        Ok(listener) => listener,
        Err(code) => return code,
    };
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
    match server {
        Ok(server) => ssekit_examples::exit_code(server.run().await),
        Err(err) => ssekit_examples::exit_code(Err(err)),
    }
}
