//! One driver per framework: serve the fixtures, nothing else.

pub mod actix_web;
pub mod axum;
pub mod poem;
pub mod warp;
