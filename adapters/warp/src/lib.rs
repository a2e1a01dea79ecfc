#![doc = include_str!("../README.md")]

mod extract;
mod response;
mod types;

pub use extract::{last_event_id, recover};
pub use types::{ChunkedResponse, LastEventId, LastEventIdRejection, SseResponse};
