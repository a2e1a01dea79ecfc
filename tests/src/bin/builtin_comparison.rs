//! ssekit against the frameworks' built-in SSE encoders, on the edge cases the
//! conformance suite checks, decoded by the same independent parser.
//!
//! Not a test: a measurement of other crates. `cargo xtask builtin-comparison`
//! runs it and writes the table it prints (Markdown) into the README, with the
//! versions in `Cargo.lock`. (actix-web has no built-in SSE; actix-web-lab's
//! is a separate crate.)

use std::panic::{AssertUnwindSafe, catch_unwind};

use http_body_util::BodyExt as _;
use ssekit::Event;
use ssekit_conformance::parser::{Oracle, Parsed};

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

fn judge(case: &Case, bytes: Option<Vec<u8>>) -> Outcome {
    let Some(bytes) = bytes else {
        return Outcome::Panicked;
    };
    let got = Oracle::parse_all(&bytes);
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

/// How a case is shown in the table.
fn cell(case: &Case, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Exact if case.id.is_some() => "no injection".to_owned(),
        Outcome::Exact => "ok".to_owned(),
        Outcome::Refused => "typed error".to_owned(),
        Outcome::Panicked => "panics".to_owned(),
        Outcome::Wrong(got) => {
            if got
                .iter()
                .any(|p| matches!(p, Parsed::Event { ty, .. } if ty == "spoof"))
            {
                return "**event type `spoof` injected**".to_owned();
            }
            let shown: Vec<String> = got
                .iter()
                .filter_map(Parsed::data)
                .map(|d| format!("`{d:?}`"))
                .collect();
            if shown.is_empty() {
                "nothing dispatched".to_owned()
            } else {
                format!("wrong: data {}", shown.join(", "))
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // axum's built-in panics on purpose below; keep its message out of the output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info
            .to_string()
            .contains("SSE field value cannot contain newlines")
        {
            default_hook(info);
        }
    }));
    println!("| data or id sent | ssekit | axum | warp | poem |");
    println!("|---|---|---|---|---|");
    for case in cases() {
        let ssekit = match ssekit_bytes(&case) {
            Ok(bytes) => judge(&case, Some(bytes)),
            Err(_) => Outcome::Refused,
        };
        let axum = judge(&case, axum_bytes(&case).await);
        let warp = judge(&case, warp_bytes(&case));
        let poem = judge(&case, poem_bytes(&case));
        let sent = match case.id {
            Some(id) => format!("id `{id:?}`"),
            None => format!("data `{:?}`", case.data),
        };
        println!(
            "| {sent} ({}) | {} | {} | {} | {} |",
            case.name,
            cell(&case, &ssekit),
            cell(&case, &axum),
            cell(&case, &warp),
            cell(&case, &poem)
        );
    }
}
