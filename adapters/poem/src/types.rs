ssekit::__adapter_types! {
    stream_bound: [Send],

    /// An [`ssekit::EventStream`] as a poem response: status 200, the headers
    /// of [`ssekit::RESPONSE_HEADERS`], and each event written as soon as it is
    /// ready. The stream must be `Send`.
    ///
    /// poem's server keeps a response going after the client has closed the
    /// connection and notices that it left only when a write fails. Serve
    /// through [`NoticeDepartures`](crate::NoticeDepartures) and the response
    /// ends as soon as the client closes the connection, with nothing written
    /// to the idle stream; a handler waiting on `Sender::closed()` stops.
    /// Without it a departed client is noticed by the keep-alive writes, or
    /// sooner with an opt-in [`ssekit::EventStream::disconnect_probe`] of
    /// [`DISCONNECT_PROBE`](crate::DISCONNECT_PROBE).
    ///
    /// ```
    /// use futures_util::{StreamExt, stream};
    /// use poem::{Route, get, handler};
    /// use ssekit::{Event, EventStream};
    /// use ssekit_poem::SseResponse;
    ///
    /// #[handler]
    /// fn events() -> SseResponse<impl futures_core::Stream<Item = Event>> {
    ///     EventStream::new(stream::iter(["a", "b"]).map(Event::new)).into()
    /// }
    /// let app = Route::new().at("/events", get(events));
    /// # drop(app);
    /// ```
    pub struct SseResponse;

    /// An [`ssekit::ChunkedBody`] as a poem response: status 200, its content
    /// type and `X-Accel-Buffering: no`, each chunk written as it comes.
    ///
    /// ```
    /// use futures_util::stream;
    /// use poem::{Route, get, handler};
    /// use ssekit::ChunkedBody;
    /// use ssekit_poem::ChunkedResponse;
    ///
    /// #[handler]
    /// fn page() -> ChunkedResponse<impl futures_core::Stream<Item = &'static str>> {
    ///     ChunkedBody::html(stream::iter(["<h1>0</h1>"])).into()
    /// }
    /// let app = Route::new().at("/", get(page));
    /// # drop(app);
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
    /// use poem::{Route, get, handler};
    /// use ssekit_poem::LastEventId;
    ///
    /// #[handler]
    /// fn resume(LastEventId(last): LastEventId) -> String {
    ///     match last {
    ///         Some(id) => format!("resuming after {id}"),
    ///         None => "from the start".to_owned(),
    ///     }
    /// }
    /// let app = Route::new().at("/", get(resume));
    /// # drop(app);
    /// ```
    pub struct LastEventId;

    /// The rejection of an invalid `Last-Event-ID` header: `400 Bad Request`
    /// with the reason as plain text.
    pub struct LastEventIdRejection;
}
