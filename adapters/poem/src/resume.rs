//! [`ResumeFrom`]: where a client asks to resume, from the `Last-Event-ID`
//! header or `?last_event_id=`.

use http::HeaderValue;
use poem::{FromRequest, Request, RequestBody};
use ssekit::Resume;

/// Extracts where a client asks to resume: its `Last-Event-ID` header, else
/// the `last_event_id` query parameter (a browser cannot set the header on
/// its first request); see [`ssekit::Resume`]. Never rejects: a value that is
/// not an event id becomes [`Resume::Invalid`], which
/// [`Hub::subscribe`](ssekit::Hub::subscribe) answers with a `reset` event.
///
/// A hub room on poem:
///
/// ```
/// use poem::web::{Data, Path};
/// use poem::{EndpointExt as _, IntoResponse, Response, Route, get, handler};
/// use poem::http::StatusCode;
/// use ssekit::Hub;
/// use ssekit_poem::{ResumeFrom, SseResponse};
///
/// #[handler]
/// fn room(hub: Data<&Hub>, Path(room): Path<String>, ResumeFrom(from): ResumeFrom) -> Response {
///     match hub.subscribe(&room, from) {
///         Ok(stream) => SseResponse::from(stream).into_response(),
///         Err(err) if err.is_invalid_topic() => {
///             err.to_string().with_status(StatusCode::BAD_REQUEST).into_response()
///         }
///         Err(err) => err.to_string().with_status(StatusCode::SERVICE_UNAVAILABLE).into_response(),
///     }
/// }
///
/// let app = Route::new().at("/rooms/:room", get(room)).data(Hub::new());
/// # let _ = app;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResumeFrom(pub Resume);

impl<'a> FromRequest<'a> for ResumeFrom {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let values = req.headers().get_all(ssekit::last_event_id::HEADER_NAME);
        Ok(Self(Resume::from_request(
            values.into_iter().map(HeaderValue::as_bytes),
            req.uri().query(),
        )))
    }
}
