use http::{HeaderMap, HeaderValue, StatusCode};
use ssekit::last_event_id;
use warp::{Filter, Rejection, Reply};

use crate::topic::TopicRejection;
use crate::types::{LastEventId, LastEventIdRejection};

/// A filter extracting [`LastEventId`].
///
/// An invalid header (longer than 1024 bytes, not UTF-8, sent twice) rejects
/// the request with [`LastEventIdRejection`]; add [`recover`] to the routes
/// (`.recover(ssekit_warp::recover)`) to answer it with `400 Bad Request` and
/// the reason, as warp answers its own header rejections.
///
/// ```
/// use ssekit_warp::LastEventId;
/// use warp::Filter;
///
/// let route = warp::path("resume")
///     .and(ssekit_warp::last_event_id())
///     .map(|LastEventId(last)| match last {
///         Some(id) => format!("resuming after {id}"),
///         None => "from the start".to_owned(),
///     })
///     .recover(ssekit_warp::recover);
/// # let _ = route;
/// ```
pub fn last_event_id()
-> impl Filter<Extract = (LastEventId,), Error = Rejection> + Clone + Send + Sync + 'static {
    warp::header::headers_cloned().and_then(|headers: HeaderMap| async move {
        let values = headers.get_all(last_event_id::HEADER_NAME);
        LastEventId::parse(values.into_iter().map(HeaderValue::as_bytes))
            .map_err(warp::reject::custom)
    })
}

/// Answers a [`LastEventIdRejection`] or a [`TopicRejection`] with `400 Bad
/// Request` and the reason as plain text; passes every other rejection on.
///
/// # Errors
///
/// The rejection itself, when it is neither.
pub async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Rejection> {
    let Some(reason) = rejection
        .find::<LastEventIdRejection>()
        .map(ToString::to_string)
        .or_else(|| rejection.find::<TopicRejection>().map(ToString::to_string))
    else {
        return Err(rejection);
    };
    Ok(warp::reply::with_status(reason, StatusCode::BAD_REQUEST).into_response())
}

impl warp::reject::Reject for LastEventIdRejection {}
