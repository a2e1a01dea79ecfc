//! The in-process oracle (sse-stream plus the last event ID) against the
//! WHATWG parsing cases: it must follow the spec in every case marked as
//! agreeing, and still deviate where documented (when sse-stream fixes one,
//! this fails and the case moves to the agreeing ones).

use ssekit_conformance::parser::{Oracle, spec_cases};

#[test]
fn oracle_follows_the_spec_where_documented() {
    for case in spec_cases() {
        let got = Oracle::parse_all(case.input);
        if case.rust_oracle_agrees {
            assert_eq!(got, case.expected, "{}", case.name);
        } else {
            assert_ne!(
                got, case.expected,
                "{}: now agrees, update spec_cases",
                case.name
            );
        }
    }
}

#[test]
fn oracle_gives_the_same_result_for_every_split_into_two_and_three_reads() {
    for case in spec_cases().into_iter().filter(|c| c.rust_oracle_agrees) {
        let input = case.input;
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let mut oracle = Oracle::new();
                let mut got = oracle.feed(&input[..i]);
                got.extend(oracle.feed(&input[i..j]));
                got.extend(oracle.feed(&input[j..]));
                got.extend(oracle.end());
                assert_eq!(got, case.expected, "{} split at {i} and {j}", case.name);
            }
        }
    }
}
