use http::{HeaderValue, StatusCode};
use poem::error::ResponseError;
use poem::{FromRequest, Request, RequestBody};
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<EventId>);

impl<'a> FromRequest<'a> for LastEventId {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let values = req
            .headers()
            .get_all(last_event_id::HEADER_NAME)
            .into_iter()
            .map(HeaderValue::as_bytes);
        last_event_id::parse(values)
            .map(Self)
            .map_err(|err| LastEventIdRejection(err).into())
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
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}
