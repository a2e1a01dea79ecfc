//! Every route answers identically on all four demo binaries: the same
//! events (decoded by the independent parser) and the same headers, with a
//! small `interval_ms`. Each answer is also checked against the seed it
//! mirrors.

mod support;

use ssekit_conformance::client::{SseReader, Version, get};
use ssekit_conformance::parser::Parsed;
use support::{BINARIES, DemoProcess};

/// What a route answered, with values that change with the clock replaced.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    items: Vec<Parsed>,
}

const SSE_HEADERS: [&str; 3] = ["content-type", "cache-control", "x-accel-buffering"];

fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && s.chars().filter(char::is_ascii_digit).count() == 14
}

fn normalize(path: &str, item: Parsed) -> Parsed {
    match (path, item) {
        (
            "/sse",
            Parsed::Event {
                ty,
                data,
                last_event_id,
            },
        ) => {
            assert!(is_rfc3339(&data), "/sse data is RFC 3339: {data:?}");
            Parsed::Event {
                ty,
                data: "<time>".into(),
                last_event_id,
            }
        }
        (
            "/ping",
            Parsed::Event {
                ty,
                data,
                last_event_id,
            },
        ) => {
            assert!(
                data.parse::<u64>().is_ok_and(|s| s > 1_700_000_000),
                "/ping data is unix seconds: {data:?}"
            );
            assert_eq!(last_event_id, data, "/ping id is its data");
            Parsed::Event {
                ty,
                data: "<unix>".into(),
                last_event_id: "<unix>".into(),
            }
        }
        (_, item) => item,
    }
}

async fn answer(
    addr: std::net::SocketAddr,
    path: &str,
    query: &str,
    take: Option<usize>,
    version: Version,
) -> Answer {
    let reply = get(addr, &format!("{path}?{query}"), &[], version).await;
    let status = reply.status.as_u16();
    let headers = SSE_HEADERS
        .iter()
        .map(|name| {
            (
                name.to_string(),
                reply.header(name).unwrap_or("<absent>").to_owned(),
            )
        })
        .collect();
    assert!(
        reply.headers.get("connection").is_none(),
        "no Connection header on {path}"
    );
    let mut reader = SseReader::new(reply);
    let mut items = Vec::new();
    while let Some(item) = reader.next().await {
        match item {
            Parsed::Error { message } => {
                panic!("{path}: the parser refused the stream: {message}")
            }
            item => items.push(normalize(path, item)),
        }
        if take.is_some_and(|n| items.len() >= n) {
            break;
        }
    }
    Answer {
        status,
        headers,
        items,
    }
}

fn expected(path: &str) -> Vec<Parsed> {
    let ev = |ty: &str, data: &str, id: &str| Parsed::Event {
        ty: ty.into(),
        data: data.into(),
        last_event_id: id.into(),
    };
    match path {
        "/sse" => vec![ev("message", "<time>", ""); 3],
        "/ping" => vec![ev("ping", "<unix>", "<unix>"); 3],
        "/ai/sse" => vec![ev("message", "Hello, world!", ""); 3],
        "/count" => (0..100)
            .map(|i| ev("message", &i.to_string(), ""))
            .collect(),
        "/stream" => (0..100)
            .map(|i| {
                ev(
                    "message",
                    &format!(r#"{{"Name":"Name{i}","Value":"Value{i}"}}"#),
                    "",
                )
            })
            .collect(),
        "/events" => (0..5).map(|i| ev("message", &i.to_string(), "")).collect(),
        "/format" => vec![
            ev("message", "This is a message", ""),
            ev("update", "This is an update", "123"),
            Parsed::Retry { ms: 2000 },
            ev("new_data", "This is some new data", "456"),
        ],
        "/chat" => {
            let answer = ssekit_examples::chat_answer("what is SSE?");
            let mut events: Vec<Parsed> = answer
                .split(' ')
                .enumerate()
                .map(|(i, w)| {
                    let delta = if i == 0 {
                        w.to_owned()
                    } else {
                        format!(" {w}")
                    };
                    ev(
                        "message",
                        &serde_json::json!({ "delta": delta }).to_string(),
                        &i.to_string(),
                    )
                })
                .collect();
            let last = events.len() - 1;
            events.push(ev("done", r#"{"finish_reason":"stop"}"#, &last.to_string()));
            events
        }
        other => panic!("no expectation for {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_identically_on_every_framework() {
    let routes: [(&str, &str, Option<usize>); 8] = [
        ("/sse", "interval_ms=20", Some(3)),
        ("/ping", "interval_ms=20", Some(3)),
        ("/ai/sse", "interval_ms=5", None),
        ("/count", "interval_ms=1", None),
        ("/stream", "interval_ms=1", None),
        ("/events", "interval_ms=5", None),
        ("/format", "interval_ms=5", None),
        ("/chat", "interval_ms=1&prompt=what%20is%20SSE%3F", None),
    ];
    let test = async {
        let mut reference: Option<(&str, Vec<Answer>)> = None;
        for (name, binary) in BINARIES {
            let demo = DemoProcess::start(name, std::path::Path::new(binary));
            let mut answers = Vec::new();
            for (path, query, take) in routes {
                let answer = answer(demo.addr, path, query, take, Version::Http1).await;
                assert_eq!(answer.status, 200, "{name} {path}");
                assert_eq!(
                    answer.headers,
                    vec![
                        ("content-type".into(), "text/event-stream".into()),
                        ("cache-control".into(), "no-cache".into()),
                        ("x-accel-buffering".into(), "no".into()),
                    ],
                    "{name} {path}"
                );
                assert_eq!(
                    answer.items,
                    expected(path),
                    "{name} {path} matches its seed"
                );
                answers.push(answer);
            }
            // SEEDS 1: the same ticker over h2c, without connection headers.
            let h2 = answer(demo.addr, "/sse", "interval_ms=20", Some(3), Version::Http2).await;
            assert_eq!(h2.items, expected("/sse"), "{name} /sse over h2c");

            // SEEDS 1's ChunkDemo.
            let mut chunk = get(demo.addr, "/chunk?interval_ms=5", &[], Version::Http1).await;
            assert_eq!(chunk.status, 200);
            assert_eq!(
                chunk.header("content-type"),
                Some("text/html; charset=utf-8"),
                "{name} /chunk"
            );
            let body = String::from_utf8(chunk.bytes().await).expect("UTF-8 page");
            let h1s: String = (0..10).map(|i| format!("<h1>{i}</h1>")).collect();
            assert_eq!(
                body,
                format!("<html><body>{h1s}</body></html>"),
                "{name} /chunk"
            );

            // The page.
            let mut page = get(demo.addr, "/", &[], Version::Http1).await;
            assert_eq!(page.status, 200);
            assert!(
                page.header("content-type")
                    .is_some_and(|ct| ct.starts_with("text/html"))
            );
            assert_eq!(
                page.bytes().await,
                ssekit_examples::PAGE.as_bytes(),
                "{name} serves the page"
            );

            match &reference {
                None => reference = Some((name, answers)),
                Some((first, reference)) => {
                    assert_eq!(&answers, reference, "{name} answers as {first} does");
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(120), test)
        .await
        .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_resumes_after_last_event_id() {
    let test = async {
        for (name, binary) in BINARIES {
            let demo = DemoProcess::start(name, std::path::Path::new(binary));
            let reply = get(
                demo.addr,
                "/chat?interval_ms=1&prompt=hi",
                &[("last-event-id", b"5")],
                Version::Http1,
            )
            .await;
            let mut reader = SseReader::new(reply);
            let first = reader
                .next_event()
                .await
                .expect("an event after the resume point");
            match first {
                Parsed::Event { last_event_id, .. } => {
                    assert_eq!(last_event_id, "6", "{name} resumes after 5");
                }
                other => panic!("{other:?}"),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), test)
        .await
        .expect("bounded in time");
}

/// A chat request without a prompt is refused before the first event with
/// an ordinary `400`, the same on every framework, as a real chat API does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_without_a_prompt_is_an_http_400() {
    let test = async {
        for (name, binary) in BINARIES {
            let demo = DemoProcess::start(name, std::path::Path::new(binary));
            for query in ["", "?prompt=", "?prompt=%20%20"] {
                let mut reply = get(demo.addr, &format!("/chat{query}"), &[], Version::Http1).await;
                assert_eq!(reply.status, 400, "{name} /chat{query}");
                assert_ne!(
                    reply.header("content-type"),
                    Some("text/event-stream"),
                    "{name}"
                );
                let body = String::from_utf8(reply.bytes().await).expect("UTF-8 body");
                assert_eq!(
                    body, "missing prompt: ask with /chat?prompt=...",
                    "{name} /chat{query}"
                );
            }
            let long = "x".repeat(ssekit_examples::MAX_PROMPT_CHARS + 1);
            let mut reply = get(
                demo.addr,
                &format!("/chat?prompt={long}"),
                &[],
                Version::Http1,
            )
            .await;
            assert_eq!(reply.status, 400, "{name}");
            let body = String::from_utf8(reply.bytes().await).expect("UTF-8 body");
            assert_eq!(body, "prompt longer than 2000 characters", "{name}");
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), test)
        .await
        .expect("bounded in time");
}
