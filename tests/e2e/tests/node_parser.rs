//! Node's `eventsource-parser` against the spec's parsing cases, all of them:
//! it covers the cases where the in-process oracle (sse-stream) deviates from
//! the spec (`SpecCase::rust_oracle_agrees == false`), and it agrees with the
//! oracle on everything ssekit's encoder writes.

use ssekit_conformance::fixtures::field_cases;
use ssekit_conformance::parser::{Oracle, Parsed, spec_cases};
use ssekit_e2e::node::JsParser;
use std::time::Duration;

async fn node_parse(parser: &mut JsParser, bytes: &[u8]) -> Vec<Parsed> {
    parser
        .parse_all(bytes)
        .await
        .iter()
        .filter_map(ssekit_e2e::node::NodeParsed::as_oracle)
        .collect()
}

#[tokio::test]
async fn node_parser_follows_the_spec_in_every_case() {
    let test = async {
        let mut parser = JsParser::start().await;
        for case in spec_cases() {
            let got = node_parse(&mut parser, case.input).await;
            assert_eq!(got, case.expected, "{}", case.name);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("bounded in time");
}

#[tokio::test]
async fn both_parsers_agree_on_what_ssekit_encodes() {
    let test = async {
        let mut parser = JsParser::start().await;
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for (event, parsed) in field_cases() {
            bytes.extend_from_slice(&event.encode());
            expected.push(parsed);
        }
        assert_eq!(node_parse(&mut parser, &bytes).await, expected);
        assert_eq!(Oracle::parse_all(&bytes), expected);
    };
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("bounded in time");
}
