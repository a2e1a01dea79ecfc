use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use ssekit::EventId;
use ssekit::last_event_id::{self, InvalidLastEventId};

/// Extracts the `Last-Event-ID` request header: `LastEventId(None)` when it is
/// absent or empty, `LastEventId(Some(id))` when valid.
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<EventId>);

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = LastEventIdRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let values = parts
            .headers
            .get_all(last_event_id::HEADER_NAME)
            .into_iter()
            .map(HeaderValue::as_bytes);
        last_event_id::parse(values)
            .map(Self)
            .map_err(LastEventIdRejection)
    }
}

/// The rejection of an invalid `Last-Event-ID` header: `400 Bad Request`
/// with the reason as plain text.
#[derive(Debug)]
pub struct LastEventIdRejection(pub InvalidLastEventId);

impl IntoResponse for LastEventIdRejection {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, self.0.to_string()).into_response()
    }
}

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
