//! Const-checked literals, fallible runtime values, and every accepted
//! stream item: `Event`, `EncodedEvent`, `Result<_, E: Error>`.

use std::time::Duration;

use futures_util::stream;
use ssekit::{ChunkedBody, Event, EventId, EventStream, EventType, InvalidValue, event_id, event_type};

const START: EventId = EventId::from_static("start");
const PING: EventType = event_type!("ping");

fn build(user_id: &str) -> Result<Event, InvalidValue> {
    Event::new("data\nwith lines").try_id(user_id)?.try_event("update")
}

fn main() {
    let _ = Event::new("a").id(START).event(PING).retry(Duration::from_secs(2)).comment("c");
    let _ = Event::default().id(event_id!("42"));
    let _ = build("7");
    let _ = Event::json(&serde_json::json!({"a": 1}));

    let _events = EventStream::new(stream::iter([Event::new("a")]));
    let shared = Event::new("shared").encode();
    let _encoded = EventStream::new(stream::iter([shared.clone(), shared]));
    let _results = EventStream::new(stream::iter([Ok::<_, std::io::Error>(Event::new("a"))]));
    let _page = ChunkedBody::html(stream::iter(["<h1>0</h1>"]));
    let _bytes = ChunkedBody::new("application/octet-stream", stream::iter([bytes::Bytes::from_static(b"x")]));
}
