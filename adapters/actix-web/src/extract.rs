use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, ResponseError};
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
/// use ssekit_actix_web::LastEventId;
///
/// async fn handler(LastEventId(last): LastEventId) -> String {
///     match last {
///         Some(id) => format!("resuming after {id}"),
///         None => "from the start".to_owned(),
///     }
/// }
/// let app = actix_web::App::new().route("/", actix_web::web::get().to(handler));
/// # drop(app);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<EventId>);

impl FromRequest for LastEventId {
    type Error = LastEventIdRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let values = req
            .headers()
            .get_all(last_event_id::HEADER_NAME)
            .map(|value| value.as_bytes());
        ready(
            last_event_id::parse(values)
                .map(Self)
                .map_err(LastEventIdRejection),
        )
    }
}

/// The rejection of an invalid `Last-Event-ID` header: `400 Bad Request`
/// with the reason as plain text.
#[derive(Debug)]
pub struct LastEventIdRejection(pub InvalidLastEventId);

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

impl ResponseError for LastEventIdRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}
