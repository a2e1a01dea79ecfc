//! Property test of the encoder against the independent parser: for arbitrary
//! events (any unicode, CR, LF, NUL, BOM in every field), what the parser
//! decodes from `encode(event)`, fed in arbitrary chunks, is exactly that event;
//! and exactly the `id`/`event` values the wire cannot carry are refused.
//!
//! Cases: 10,000 by default (`PROPTEST_CASES` overrides).

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use ssekit::{Event, EventId, EventType, MAX_EVENT_ID_LEN};
use ssekit_conformance::parser::{Oracle, Parsed};

fn text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => any::<char>(),
        2 => prop::char::range('a', 'e'),
        1 => Just('\n'),
        1 => Just('\r'),
        1 => Just('\0'),
        1 => Just('\u{feff}'),
        1 => Just(' '),
        1 => Just(':'),
    ];
    prop::collection::vec(ch, 0..24).prop_map(|chars| chars.into_iter().collect())
}

#[derive(Debug, Clone)]
struct Case {
    id: Option<String>,
    event: Option<String>,
    retry_ms: Option<u64>,
    data: Option<String>,
    comments: Vec<String>,
    splits: Vec<prop::sample::Index>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::option::of(prop_oneof![4 => text(), 1 => "[0-9]{1020,1030}"]),
        prop::option::of(text()),
        prop::option::of(0u64..10_000_000_000),
        prop::option::weighted(0.9, text()),
        prop::collection::vec(text(), 0..3),
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    )
        .prop_map(|(id, event, retry_ms, data, comments, splits)| Case {
            id,
            event,
            retry_ms,
            data,
            comments,
            splits,
        })
}

fn lines(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .map(str::to_owned)
        .collect()
}

#[test]
fn parser_decodes_exactly_what_was_encoded() {
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let encoded_cases = std::cell::Cell::new(0u32);
    let result = runner.run(&case(), |case| {
        // Validation: refused exactly when the wire cannot carry the value.
        let id = match &case.id {
            None => None,
            Some(raw) => {
                let bad = raw.contains(['\r', '\n', '\0']) || raw.len() > MAX_EVENT_ID_LEN;
                match EventId::new(raw.clone()) {
                    Ok(id) => {
                        prop_assert!(!bad, "accepted a bad id {raw:?}");
                        Some(id)
                    }
                    Err(_) => {
                        prop_assert!(bad, "refused a good id {raw:?}");
                        None // go on without it: every case reaches the parser
                    }
                }
            }
        };
        let ty = match &case.event {
            None => None,
            Some(raw) => match EventType::new(raw.clone()) {
                Ok(ty) => {
                    prop_assert!(!raw.contains(['\r', '\n']), "accepted a bad type {raw:?}");
                    Some(ty)
                }
                Err(_) => {
                    prop_assert!(raw.contains(['\r', '\n']), "refused a good type {raw:?}");
                    None
                }
            },
        };

        let mut event = Event::default();
        let mut expected = Vec::new();
        // The parser does not report comments: their lines are checked on
        // the bytes, each a lone `:` line.
        let mut comment_lines = Vec::new();
        for comment in &case.comments {
            event = event.comment(comment.clone());
            comment_lines.extend(lines(comment).into_iter().map(|text| {
                if text.is_empty() {
                    ":\n".to_owned()
                } else {
                    format!(": {text}\n")
                }
            }));
        }
        if let Some(id) = id.clone() {
            event = event.id(id);
        }
        if let Some(ty) = ty.clone() {
            event = event.event(ty);
        }
        if let Some(ms) = case.retry_ms {
            event = event.retry(Duration::from_millis(ms));
            expected.push(Parsed::Retry { ms });
        }
        if let Some(data) = &case.data {
            event = event.data(data.clone());
            expected.push(Parsed::Event {
                ty: ty
                    .as_ref()
                    .map(EventType::as_str)
                    .filter(|t| !t.is_empty())
                    .unwrap_or("message")
                    .to_owned(),
                data: lines(data).join("\n"),
                last_event_id: id
                    .as_ref()
                    .map(|i| i.as_str().to_owned())
                    .unwrap_or_default(),
            });
        }
        let bytes = event.encode();
        // Feed in pieces cut at arbitrary byte offsets, UTF-8 sequences and
        // CR LF pairs included.
        let mut cuts: Vec<usize> = case
            .splits
            .iter()
            .map(|i| i.index(bytes.len() + 1))
            .collect();
        cuts.sort_unstable();
        let mut parser = Oracle::new();
        let mut got = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([bytes.len()]) {
            got.extend(parser.feed(&bytes[start..cut]));
            start = cut;
        }
        got.extend(parser.end());
        let text = String::from_utf8_lossy(&bytes);
        for line in &comment_lines {
            prop_assert!(
                text.contains(line.as_str()),
                "comment line {:?} missing: {:?}",
                line,
                text
            );
        }
        encoded_cases.set(encoded_cases.get() + 1);
        prop_assert_eq!(
            got,
            expected,
            "encoded: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    let encoded_cases = encoded_cases.get();
    assert!(
        encoded_cases >= cases,
        "every case reaches the parser: {encoded_cases} of {cases}"
    );
    eprintln!("{encoded_cases} of {cases} cases encoded and parsed back");
}
