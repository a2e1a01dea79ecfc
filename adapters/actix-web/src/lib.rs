#![doc = include_str!("../README.md")]

mod extract;
mod response;

pub use extract::{LastEventId, LastEventIdRejection};
pub use response::{ChunkedResponse, DISCONNECT_PROBE, SseResponse};
