//! [`ResumeFrom`] and the [`resume_from`] filter: where a client asks to
//! resume, from the `Last-Event-ID` header or `?last_event_id=`.

use std::convert::Infallible;

use http::{HeaderMap, HeaderValue};
use ssekit::Resume;
use warp::Filter;

/// Where a client asks to resume: its `Last-Event-ID` header, else the
/// `last_event_id` query parameter (a browser cannot set the header on its
/// first request); see [`ssekit::Resume`]. Extracted by [`resume_from`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResumeFrom(pub Resume);

/// A filter extracting [`ResumeFrom`]. It never rejects: a value that is not
/// an event id becomes [`Resume::Invalid`], which
/// [`Hub::subscribe`](ssekit::Hub::subscribe) answers with a `reset` event.
///
/// A hub room on warp (the room percent-decoded by [`topic`](crate::topic):
/// warp's `path!` would hand it on as sent):
///
/// ```
/// use ssekit::Hub;
/// use ssekit_warp::{ResumeFrom, SseResponse};
/// use warp::Filter;
/// use warp::http::StatusCode;
/// use warp::reply::Reply;
///
/// let hub = Hub::new();
/// let room = warp::path("rooms")
///     .and(ssekit_warp::topic())
///     .and(warp::path::end())
///     .and(warp::get())
///     .and(ssekit_warp::resume_from())
///     .map(move |room: String, ResumeFrom(from)| match hub.subscribe(&room, from) {
///         Ok(stream) => SseResponse::from(stream).into_response(),
///         Err(err) => {
///             let status = if err.is_invalid_topic() {
///                 StatusCode::BAD_REQUEST
///             } else {
///                 StatusCode::SERVICE_UNAVAILABLE // the hub is full, or its backplane down
///             };
///             warp::reply::with_status(err.to_string(), status).into_response()
///         }
///     })
///     .recover(ssekit_warp::recover); // what `topic` refuses: 400
/// # let _ = room;
/// ```
pub fn resume_from()
-> impl Filter<Extract = (ResumeFrom,), Error = Infallible> + Clone + Send + Sync + 'static {
    let query = warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    warp::header::headers_cloned()
        .and(query)
        .map(|headers: HeaderMap, query: Option<String>| {
            let values = headers.get_all(ssekit::last_event_id::HEADER_NAME);
            ResumeFrom(Resume::from_request(
                values.into_iter().map(HeaderValue::as_bytes),
                query.as_deref(),
            ))
        })
}
