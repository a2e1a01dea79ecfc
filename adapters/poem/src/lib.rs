#![doc = include_str!("../README.md")]

mod extract;
mod response;
mod types;

pub use response::DISCONNECT_PROBE;
pub use types::{ChunkedResponse, LastEventId, LastEventIdRejection, SseResponse};
