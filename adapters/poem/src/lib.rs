#![doc = include_str!("../README.md")]

mod departure;
mod extract;
mod response;
mod resume;
mod types;

pub use departure::{DepartureIo, NoticeDepartures};
pub use response::DISCONNECT_PROBE;
pub use resume::ResumeFrom;
pub use types::{ChunkedResponse, LastEventId, LastEventIdRejection, SseResponse};
