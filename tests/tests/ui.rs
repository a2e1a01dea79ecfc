//! Compile-time guarantees (trybuild): the same ssekit handler compiles
//! unchanged on all four frameworks, and misuse fails with a helpful message
//! (pinned in `tests/ui/fail/*.stderr`, generated with `TRYBUILD=overwrite`
//! on the toolchain the machines have, and reviewed).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
