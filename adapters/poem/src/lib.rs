#![doc = include_str!("../README.md")]

mod departure;
mod extract;
mod response;
mod types;

pub use departure::{DepartureIo, NoticeDepartures};
pub use response::DISCONNECT_PROBE;
pub use types::{ChunkedResponse, LastEventId, LastEventIdRejection, SseResponse};
