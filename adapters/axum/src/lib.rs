#![doc = include_str!("../README.md")]

mod extract;
mod response;
mod types;

pub use types::{ChunkedResponse, LastEventId, LastEventIdRejection, SseResponse};
