//! `ssekit_actix_web::on_connect` over a real actix-web server on
//! 127.0.0.1:0 and a raw TCP client: a client that leaves an idle stream is
//! noticed with nothing written to it, and bytes it sends after its request
//! (a pipelined request) are no departure.
#![allow(
    clippy::expect_used,
    reason = "test support: a step that fails fails the test, and its message says which step"
)]
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, Responder as _, web};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;

use ssekit_actix_web::SseResponse;

/// Where the route hands each stream's push channel to the test.
type Senders = mpsc::UnboundedSender<ssekit::Sender>;

/// An idle stream (keep-alive 15 s: nothing is written while a test
/// waits) whose sender goes to the test.
async fn idle(req: actix_web::HttpRequest, senders: web::Data<Senders>) -> actix_web::HttpResponse {
    let (tx, events) = ssekit::channel(1);
    let _ = senders.send(tx);
    SseResponse::from(events).respond_to(&req)
}

/// A server on 127.0.0.1:0 with the adapter's `on_connect`, a raw
/// client with an idle stream open on it (its response head read), and
/// that stream's sender.
async fn open_idle() -> (ServerHandle, TcpStream, ssekit::Sender) {
    let (senders, mut opened) = mpsc::unbounded_channel();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(senders.clone()))
            .route("/idle", web::get().to(idle))
    })
    .on_connect(ssekit_actix_web::on_connect)
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client
        .write_all(b"GET /idle HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("request");
    let mut head = [0u8; 512];
    let n = client.read(&mut head).await.expect("response head");
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&head[..n])
    );
    let tx = opened.recv().await.expect("the stream's sender");
    (handle, client, tx)
}

/// Closes the client's side (its FIN; the socket stays open, as a full
/// close with unread bytes would send a reset, which actix-web notices
/// itself) and says whether the stream's sender saw it within 5 s.
async fn noticed_after_fin(client: &mut TcpStream, tx: &ssekit::Sender) -> bool {
    client.shutdown().await.expect("shutdown");
    timeout(Duration::from_secs(5), tx.closed()).await.is_ok()
}

#[actix_web::test]
async fn a_client_that_closes_is_noticed_without_a_write() {
    timeout(Duration::from_secs(20), async {
        let (handle, mut client, tx) = open_idle().await;
        assert!(noticed_after_fin(&mut client, &tx).await);
        handle.stop(false).await;
    })
    .await
    .expect("bounded");
}

#[actix_web::test]
async fn bytes_after_the_request_are_no_departure_and_a_close_behind_them_is() {
    timeout(Duration::from_secs(20), async {
        let (handle, mut client, tx) = open_idle().await;
        // A pipelined request, which actix-web reads only after this
        // response (the bytes may sit in the socket until then).
        let pipelined = b"GET /idle HTTP/1.1\r\nhost: x\r\n\r\n";
        client.write_all(pipelined).await.expect("pipelined bytes");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!tx.is_closed(), "bytes are not a departure");
        tx.send(ssekit::Event::new("still here"))
            .await
            .expect("the stream is open");
        let mut seen = Vec::new();
        while !seen.windows(16).any(|w| w == b"data: still here") {
            let mut buf = [0u8; 1024];
            let n = client.read(&mut buf).await.expect("read");
            assert!(n > 0, "the stream ended");
            seen.extend_from_slice(&buf[..n]);
        }
        assert!(noticed_after_fin(&mut client, &tx).await);
        handle.stop(false).await;
    })
    .await
    .expect("bounded");
}

/// `on_connect` turns Nagle's algorithm off on the connection it is given.
#[actix_web::test]
async fn on_connect_sets_tcp_nodelay() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let five = Duration::from_secs(5);
    let (client, accepted) = tokio::join!(
        timeout(five, TcpStream::connect(addr)),
        timeout(five, listener.accept())
    );
    let _client = client.expect("bounded").expect("connect");
    let (server_side, _) = accepted.expect("bounded").expect("accept");
    assert!(!server_side.nodelay().expect("nodelay"), "off by default");
    let mut extensions = actix_web::dev::Extensions::new();
    ssekit_actix_web::on_connect(&server_side, &mut extensions);
    assert!(server_side.nodelay().expect("nodelay"));
}
