//! One driver per framework: serve the fixtures, nothing else.

pub mod axum;
