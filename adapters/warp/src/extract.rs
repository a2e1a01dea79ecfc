use http::{HeaderMap, HeaderValue, StatusCode};
use ssekit::EventId;
use ssekit::last_event_id::{self, InvalidLastEventId};
use warp::{Filter, Rejection, Reply};

/// The `Last-Event-ID` request header: `LastEventId(None)` when it is absent
/// or empty, `LastEventId(Some(id))` when valid. Extracted by
/// [`last_event_id()`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<EventId>);

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
        let values = headers
            .get_all(last_event_id::HEADER_NAME)
            .into_iter()
            .map(HeaderValue::as_bytes);
        last_event_id::parse(values)
            .map(LastEventId)
            .map_err(|err| warp::reject::custom(LastEventIdRejection(err)))
    })
}

/// The rejection of an invalid `Last-Event-ID` header; [`recover`] answers it
/// with `400 Bad Request`.
#[derive(Debug)]
pub struct LastEventIdRejection(pub InvalidLastEventId);

impl warp::reject::Reject for LastEventIdRejection {}

impl std::fmt::Display for LastEventIdRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LastEventIdRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Answers a [`LastEventIdRejection`] with `400 Bad Request` and the reason
/// as plain text; passes every other rejection on.
///
/// # Errors
///
/// The rejection itself, when it is not a [`LastEventIdRejection`].
pub async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Rejection> {
    match rejection.find::<LastEventIdRejection>() {
        Some(err) => {
            Ok(warp::reply::with_status(err.to_string(), StatusCode::BAD_REQUEST).into_response())
        }
        None => Err(rejection),
    }
}
