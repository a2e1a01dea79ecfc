#![doc = include_str!("../README.md")]

mod extract;
mod response;
mod resume;
mod types;

pub use response::DISCONNECT_PROBE;
pub use resume::ResumeFrom;
pub use types::{ChunkedResponse, LastEventId, LastEventIdRejection, SseResponse};
