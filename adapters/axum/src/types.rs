ssekit::__adapter_types! {
    stream_bound: [Send],

    /// An [`ssekit::EventStream`] as an axum response: status 200, the headers
    /// of [`ssekit::RESPONSE_HEADERS`], and each event written as soon as it is
    /// ready. The stream must be `Send`: the server may write the response
    /// from any of its threads.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use futures_util::{StreamExt, stream};
    /// use ssekit::{Event, EventStream};
    /// use ssekit_axum::SseResponse;
    ///
    /// async fn events() -> SseResponse<impl futures_core::Stream<Item = Event>> {
    ///     EventStream::new(stream::iter(["a", "b"]).map(Event::new)).into()
    /// }
    /// let app: Router = Router::new().route("/events", get(events));
    /// ```
    pub struct SseResponse;

    /// An [`ssekit::ChunkedBody`] as an axum response: status 200, its content
    /// type and `X-Accel-Buffering: no`, each chunk written as it comes.
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// use futures_util::stream;
    /// use ssekit::ChunkedBody;
    /// use ssekit_axum::ChunkedResponse;
    ///
    /// let response = ChunkedResponse::from(ChunkedBody::html(stream::iter(["<h1>0</h1>"]))).into_response();
    /// assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    /// ```
    pub struct ChunkedResponse;

    /// Extracts the `Last-Event-ID` request header: `LastEventId(None)` when it
    /// is absent or empty, `LastEventId(Some(id))` when valid.
    ///
    /// An invalid header (longer than 1024 bytes, not UTF-8, sent twice) is
    /// rejected with `400 Bad Request` and a plain-text reason; see
    /// [`ssekit::last_event_id`].
    ///
    /// ```
    /// use ssekit_axum::LastEventId;
    ///
    /// async fn handler(LastEventId(last): LastEventId) -> String {
    ///     match last {
    ///         Some(id) => format!("resuming after {id}"),
    ///         None => "from the start".to_owned(),
    ///     }
    /// }
    /// let app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
    /// ```
    pub struct LastEventId;

    /// The rejection of an invalid `Last-Event-ID` header: `400 Bad Request`
    /// with the reason as plain text.
    pub struct LastEventIdRejection;
}
