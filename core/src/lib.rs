#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod channel;
mod chunked;
mod encode;
mod error;
mod event;
pub mod hub;
pub mod last_event_id;
mod response;
mod shutdown;
mod stream;

pub use channel::{PushedEvents, SendError, Sender, channel};
pub use chunked::{ChunkItem, ChunkedBody};
pub use error::InvalidValue;
#[cfg(feature = "json")]
pub use error::JsonError;
pub use event::{EncodedEvent, Event, EventId, EventType, MAX_EVENT_ID_LEN};
pub use hub::{
    Hub, HubBuilder, HubError, HubStats, Published, RESET_EVENT_TYPE, ResetCounts, ResetReason,
    Subscription, TopicStats,
};
pub use last_event_id::Resume;
pub use response::{CONTENT_TYPE, RESPONSE_HEADERS};
pub use shutdown::Shutdown;
pub use stream::{EventItem, EventStream, KeepAlive};
/// Re-exported from `tokio-util`: the token that starts a [`Shutdown`].
pub use tokio_util::sync::CancellationToken;
