//! The bytes of a 1,000-event response, made by each framework's built-in SSE
//! and by ssekit through that framework's adapter, in the same run.
//!
//! Each side turns the same 1,000 owned events (an id, an event type and
//! ~100 bytes of JSON data) into the framework's response and reads the body
//! to the end, so the encoder, the stream wrapper and the framework's body
//! machinery are all measured; no socket, so the numbers are about the
//! library, not the kernel. `cargo xtask bench` runs this and prints the
//! ratios. actix-web has no built-in SSE: its column is ssekit alone.

#![allow(
    clippy::expect_used,
    reason = "a benchmark whose setup fails has nothing to measure"
)]
#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::convert::Infallible;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::stream;
use http_body_util::BodyExt as _;

const EVENTS: usize = 1_000;

fn payloads() -> Vec<(String, String)> {
    (0..EVENTS)
        .map(|i| {
            let data = format!(
                r#"{{"seq":{i},"user":"user-{}","text":"the quick brown fox jumps over the lazy dog","ok":true}}"#,
                i % 97
            );
            (i.to_string(), data)
        })
        .collect()
}

fn ssekit_events(
    payloads: &[(String, String)],
) -> ssekit::EventStream<impl futures_util::Stream<Item = ssekit::Event> + Send + use<>> {
    const UPDATE: ssekit::EventType = ssekit::event_type!("update");
    let events: Vec<ssekit::Event> = payloads
        .iter()
        .map(|(id, data)| {
            ssekit::Event::new(data.clone())
                .event(UPDATE)
                .id(ssekit::EventId::new(id.clone())
                    .unwrap_or_else(|_| ssekit::EventId::from_static("")))
        })
        .collect();
    ssekit::EventStream::new(stream::iter(events)).without_keep_alive()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let payloads = payloads();

    let mut group = c.benchmark_group("response_body_axum");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("builtin", |b| {
        b.to_async(&rt).iter(|| async {
            use axum::response::IntoResponse as _;
            use axum::response::sse::{Event, Sse};
            let events: Vec<Result<Event, Infallible>> = payloads
                .iter()
                .map(|(id, data)| {
                    Ok(Event::default()
                        .event("update")
                        .id(id.clone())
                        .data(data.clone()))
                })
                .collect();
            let body = Sse::new(stream::iter(events)).into_response().into_body();
            body.collect().await.expect("body").to_bytes().len()
        });
    });
    group.bench_function("ssekit", |b| {
        b.to_async(&rt).iter(|| async {
            use axum::response::IntoResponse as _;
            let body = ssekit_axum::SseResponse::from(ssekit_events(&payloads))
                .into_response()
                .into_body();
            body.collect().await.expect("body").to_bytes().len()
        });
    });
    group.finish();

    let mut group = c.benchmark_group("response_body_warp");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("builtin", |b| {
        b.to_async(&rt).iter(|| async {
            use warp::Reply as _;
            let events: Vec<Result<warp::sse::Event, Infallible>> = payloads
                .iter()
                .map(|(id, data)| {
                    Ok(warp::sse::Event::default()
                        .event("update")
                        .id(id.clone())
                        .data(data.clone()))
                })
                .collect();
            let body = warp::sse::reply(stream::iter(events))
                .into_response()
                .into_body();
            body.collect().await.expect("body").to_bytes().len()
        });
    });
    group.bench_function("ssekit", |b| {
        b.to_async(&rt).iter(|| async {
            use warp::Reply as _;
            let body = ssekit_warp::SseResponse::from(ssekit_events(&payloads))
                .into_response()
                .into_body();
            body.collect().await.expect("body").to_bytes().len()
        });
    });
    group.finish();

    let mut group = c.benchmark_group("response_body_poem");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("builtin", |b| {
        b.to_async(&rt).iter(|| async {
            use poem::IntoResponse as _;
            let events: Vec<poem::web::sse::Event> = payloads
                .iter()
                .map(|(id, data)| {
                    poem::web::sse::Event::message(data.clone())
                        .event_type("update")
                        .id(id.clone())
                })
                .collect();
            let body = poem::web::sse::SSE::new(stream::iter(events))
                .into_response()
                .into_body();
            body.into_bytes().await.expect("body").len()
        });
    });
    group.bench_function("ssekit", |b| {
        b.to_async(&rt).iter(|| async {
            use poem::IntoResponse as _;
            let body = ssekit_poem::SseResponse::from(ssekit_events(&payloads))
                .into_response()
                .into_body();
            body.into_bytes().await.expect("body").len()
        });
    });
    group.finish();

    let mut group = c.benchmark_group("response_body_actix-web");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("ssekit", |b| {
        b.to_async(&rt).iter(|| async {
            use actix_web::Responder as _;
            let request = actix_web::test::TestRequest::default().to_http_request();
            let response =
                ssekit_actix_web::SseResponse::from(ssekit_events(&payloads)).respond_to(&request);
            actix_web::body::to_bytes(response.into_body())
                .await
                .map(|b| b.len())
                .unwrap_or(0)
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
