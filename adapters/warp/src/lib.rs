#![doc = include_str!("../README.md")]

mod extract;
mod response;
mod resume;
mod topic;
mod types;

pub use extract::{last_event_id, recover};
pub use resume::{ResumeFrom, resume_from};
pub use topic::{TopicRejection, topic};
pub use types::{ChunkedResponse, LastEventId, LastEventIdRejection, SseResponse};
