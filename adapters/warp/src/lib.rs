#![doc = include_str!("../README.md")]

mod extract;
mod response;

pub use extract::{LastEventId, LastEventIdRejection, last_event_id, recover};
pub use response::{ChunkedResponse, SseResponse};
