//! ssekit against the frameworks' built-in SSE encoders, on the edge cases the
//! conformance suite checks, decoded by the same independent parser.
//!
//! This backs the README's comparison table with the pinned versions in
//! `Cargo.lock`: if a framework fixes one of these, this test fails and the
//! table is updated. (actix-web has no built-in SSE; actix-web-lab's is a
//! separate crate.)

use std::panic::{AssertUnwindSafe, catch_unwind};

use http_body_util::BodyExt as _;
use ssekit::Event;
use ssekit_conformance::parser::{JsParser, Parsed};

/// One edge case: data, an optional id, and what a client must receive.
struct Case {
    name: &'static str,
    data: &'static str,
    id: Option<&'static str>,
    expected: Vec<Parsed>,
}

fn message(data: &str, id: &str) -> Parsed {
    Parsed::message(data, id)
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "crlf in data is one line break",
            data: "a\r\nb",
            id: None,
            expected: vec![message("a\nb", "")],
        },
        Case {
            name: "lone cr cannot start a field",
            data: "x\revent: spoof",
            id: None,
            expected: vec![message("x\nevent: spoof", "")],
        },
        Case {
            name: "trailing newline survives",
            data: "end\n",
            id: None,
            expected: vec![message("end\n", "")],
        },
        Case {
            name: "leading space survives",
            data: " lead",
            id: None,
            expected: vec![message(" lead", "")],
        },
        Case {
            name: "empty data is dispatched",
            data: "",
            id: None,
            expected: vec![message("", "")],
        },
        Case {
            name: "newline in id cannot inject",
            data: "d",
            id: Some("1\nevent: spoof"),
            // ssekit refuses the id with a typed error; what must never happen
            // is an event whose type or fields the id chose.
            expected: vec![],
        },
    ]
}

/// What an encoder did with a case.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Exact,
    Refused,
    Panicked,
    Wrong(Vec<Parsed>),
}

async fn judge(parser: &mut JsParser, case: &Case, bytes: Option<Vec<u8>>) -> Outcome {
    let Some(bytes) = bytes else {
        return Outcome::Panicked;
    };
    let got: Vec<Parsed> = parser
        .parse_all(&bytes)
        .await
        .into_iter()
        .filter(|p| !matches!(p, Parsed::Comment { .. }))
        .collect();
    if case.id.is_some() {
        // The id case: anything but a refusal is judged by whether the id
        // smuggled in an event type.
        let injected = got
            .iter()
            .any(|p| matches!(p, Parsed::Event { ty, .. } if ty == "spoof"));
        return if injected {
            Outcome::Wrong(got)
        } else {
            Outcome::Exact
        };
    }
    if got == case.expected {
        Outcome::Exact
    } else {
        Outcome::Wrong(got)
    }
}

fn ssekit_bytes(case: &Case) -> Result<Vec<u8>, ssekit::InvalidValue> {
    let mut event = Event::new(case.data);
    if let Some(id) = case.id {
        event = event.try_id(id)?;
    }
    Ok(event.encode().to_vec())
}

async fn axum_bytes(case: &Case) -> Option<Vec<u8>> {
    use axum::response::IntoResponse as _;
    use axum::response::sse::{Event, Sse};
    let event = catch_unwind(AssertUnwindSafe(|| {
        let event = Event::default().data(case.data);
        match case.id {
            Some(id) => event.id(id),
            None => event,
        }
    }))
    .ok()?;
    let response = Sse::new(futures_util::stream::iter([Ok::<
        _,
        std::convert::Infallible,
    >(event)]))
    .into_response();
    let body = response.into_body().collect().await.ok()?;
    Some(body.to_bytes().to_vec())
}

fn warp_bytes(case: &Case) -> Option<Vec<u8>> {
    let event = warp::sse::Event::default().data(case.data);
    let event = match case.id {
        Some(id) => event.id(id),
        None => event,
    };
    catch_unwind(AssertUnwindSafe(|| event.to_string().into_bytes())).ok()
}

fn poem_bytes(case: &Case) -> Option<Vec<u8>> {
    let event = poem::web::sse::Event::message(case.data);
    let event = match case.id {
        Some(id) => event.id(id),
        None => event,
    };
    catch_unwind(AssertUnwindSafe(|| event.to_string().into_bytes())).ok()
}

#[tokio::test]
async fn ssekit_gets_every_edge_case_right_where_the_built_ins_do_not() {
    // axum's built-in panics on purpose below; keep its message out of the log.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info
            .to_string()
            .contains("SSE field value cannot contain newlines")
        {
            default_hook(info);
        }
    }));
    let test = async {
        let mut parser = JsParser::start().await;
        let mut table = Vec::new();
        for case in cases() {
            let ssekit = match ssekit_bytes(&case) {
                Ok(bytes) => judge(&mut parser, &case, Some(bytes)).await,
                Err(_) => Outcome::Refused,
            };
            let expected_ssekit = if case.id.is_some() {
                Outcome::Refused
            } else {
                Outcome::Exact
            };
            assert_eq!(ssekit, expected_ssekit, "ssekit: {}", case.name);

            let axum = judge(&mut parser, &case, axum_bytes(&case).await).await;
            let warp = judge(&mut parser, &case, warp_bytes(&case)).await;
            let poem = judge(&mut parser, &case, poem_bytes(&case)).await;
            table.push((case.name, ssekit, axum, warp, poem));
        }
        let short = |o: &Outcome| match o {
            Outcome::Exact => "exact".to_owned(),
            Outcome::Refused => "typed error".to_owned(),
            Outcome::Panicked => "panics".to_owned(),
            Outcome::Wrong(got) => format!("wrong: {got:?}"),
        };
        for (name, ssekit, axum, warp, poem) in &table {
            eprintln!(
                "{name:<32} ssekit: {:<12} axum: {:<30} warp: {:<30} poem: {}",
                short(ssekit),
                short(axum),
                short(warp),
                short(poem)
            );
        }
        let row = |name: &str| table.iter().find(|r| r.0 == name).expect("row");
        // The README's table, as measured with the versions in Cargo.lock.
        assert!(
            matches!(row("crlf in data is one line break").2, Outcome::Wrong(_)),
            "axum turns CR LF into two line breaks"
        );
        assert!(
            matches!(row("lone cr cannot start a field").3, Outcome::Wrong(_)),
            "warp lets a lone CR start a field"
        );
        assert!(
            matches!(row("lone cr cannot start a field").4, Outcome::Wrong(_)),
            "poem lets a lone CR start a field"
        );
        assert!(
            matches!(row("trailing newline survives").4, Outcome::Wrong(_)),
            "poem drops a trailing newline"
        );
        assert!(
            matches!(row("leading space survives").3, Outcome::Wrong(_)),
            "warp drops a leading space"
        );
        for (i, fw) in [(2, "axum"), (4, "poem")] {
            let r = row("empty data is dispatched");
            let outcome = [&r.1, &r.2, &r.3, &r.4][i - 1];
            assert!(
                matches!(outcome, Outcome::Wrong(_)),
                "{fw} does not send empty data"
            );
        }
        assert_eq!(
            row("newline in id cannot inject").2,
            Outcome::Panicked,
            "axum panics on a newline in an id"
        );
        assert!(
            matches!(row("newline in id cannot inject").3, Outcome::Wrong(_)),
            "warp lets an id inject a field"
        );
        assert!(
            matches!(row("newline in id cannot inject").4, Outcome::Wrong(_)),
            "poem lets an id inject a field"
        );
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), test)
        .await
        .expect("bounded in time");
}
