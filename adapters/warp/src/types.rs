ssekit::__adapter_types! {
    stream_bound: [Send],

    /// An [`ssekit::EventStream`] as a warp reply: status 200, the headers of
    /// [`ssekit::RESPONSE_HEADERS`], and each event written as soon as it is
    /// ready. The stream must be `Send`.
    ///
    /// ```
    /// use futures_util::{StreamExt, stream};
    /// use ssekit::{Event, EventStream};
    /// use ssekit_warp::SseResponse;
    /// use warp::Filter;
    ///
    /// let route = warp::path("events").and(warp::get()).map(|| {
    ///     SseResponse::from(EventStream::new(stream::iter(["a", "b"]).map(Event::new)))
    /// });
    /// # let _ = route;
    /// ```
    pub struct SseResponse;

    /// An [`ssekit::ChunkedBody`] as a warp reply: status 200, its content type
    /// and `X-Accel-Buffering: no`, each chunk written as it comes.
    ///
    /// ```
    /// use futures_util::stream;
    /// use ssekit::ChunkedBody;
    /// use ssekit_warp::ChunkedResponse;
    /// use warp::Filter;
    ///
    /// let route = warp::path("page").map(|| ChunkedResponse::from(ChunkedBody::html(stream::iter(["<h1>0</h1>"]))));
    /// # let _ = route;
    /// ```
    pub struct ChunkedResponse;

    /// The `Last-Event-ID` request header: `LastEventId(None)` when it is
    /// absent or empty, `LastEventId(Some(id))` when valid. Extracted by
    /// [`last_event_id()`](crate::last_event_id()).
    pub struct LastEventId;

    /// The rejection of an invalid `Last-Event-ID` header;
    /// [`recover`](crate::recover) answers it with `400 Bad Request`.
    pub struct LastEventIdRejection;
}

impl warp::reject::Reject for LastEventIdRejection {}
