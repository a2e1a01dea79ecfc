//! The [`topic`] filter: a hub topic from a path segment, percent-decoded,
//! which warp's own path filters leave as it was sent.

use std::borrow::Cow;
use std::fmt;

use ssekit::HubError;
use warp::{Filter, Rejection};

/// A filter taking the next path segment as an [`ssekit::Hub`] topic:
/// percent-decoded (warp's `path!` and `path::param` hand a segment on as
/// sent, where axum's, actix-web's and poem's path extractors decode it, so
/// without this `/rooms/caf%C3%A9` and `/rooms/%0A` would be rooms of those
/// names) and checked as the hub checks it, by
/// [`ssekit::hub::topic_from_path`]. An invalid topic rejects the request
/// with [`TopicRejection`]; [`recover`](crate::recover) answers it with
/// `400 Bad Request` and the reason. A missing segment is warp's own
/// not-found rejection.
///
/// A hub room on warp:
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
///         // The topic is valid here: the hub is full, or its backplane down.
///         Err(err) => warp::reply::with_status(err.to_string(), StatusCode::SERVICE_UNAVAILABLE)
///             .into_response(),
///     })
///     .recover(ssekit_warp::recover); // an invalid topic: 400 with the reason
/// # let _ = room;
/// ```
///
/// Posting to a room: warp runs filters in order, so with `topic()` before
/// the body filter a bad room is refused before any of the body is read.
///
/// ```
/// use ssekit::Hub;
/// use warp::Filter;
/// use warp::http::StatusCode;
/// use warp::reply::Reply;
///
/// let hub = Hub::new();
/// let post = warp::path("rooms")
///     .and(ssekit_warp::topic())
///     .and(warp::path::end())
///     .and(warp::post())
///     .and(warp::body::content_length_limit(64 * 1024))
///     .and(warp::body::bytes())
///     .map(move |room: String, body: bytes::Bytes| {
///         let Ok(text) = String::from_utf8(body.to_vec()) else {
///             return warp::reply::with_status("not UTF-8".to_owned(), StatusCode::BAD_REQUEST)
///                 .into_response();
///         };
///         match hub.publish(&room, text) {
///             Ok(published) => published.id().as_str().to_owned().into_response(),
///             Err(err) => warp::reply::with_status(err.to_string(), StatusCode::SERVICE_UNAVAILABLE)
///                 .into_response(),
///         }
///     })
///     .recover(ssekit_warp::recover);
/// # let _ = post;
/// ```
pub fn topic() -> impl Filter<Extract = (String,), Error = Rejection> + Clone + Send + Sync + 'static
{
    warp::path::param::<String>().and_then(|raw: String| async move {
        ssekit::hub::topic_from_path(&raw)
            .map(Cow::into_owned)
            .map_err(|err| warp::reject::custom(TopicRejection(err)))
    })
}

/// The rejection of an invalid topic by [`topic`];
/// [`recover`](crate::recover) answers it with `400 Bad Request`.
#[derive(Debug)]
pub struct TopicRejection(pub HubError);

impl fmt::Display for TopicRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for TopicRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl warp::reject::Reject for TopicRejection {}
