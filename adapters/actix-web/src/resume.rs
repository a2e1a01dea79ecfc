//! [`ResumeFrom`]: where a client asks to resume, from the `Last-Event-ID`
//! header or `?last_event_id=`.

use std::convert::Infallible;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use ssekit::Resume;

/// Extracts where a client asks to resume: its `Last-Event-ID` header, else
/// the `last_event_id` query parameter (a browser cannot set the header on
/// its first request); see [`ssekit::Resume`]. Never rejects: a value that is
/// not an event id becomes [`Resume::Invalid`], which
/// [`Hub::subscribe`](ssekit::Hub::subscribe) answers with a `reset` event.
///
/// A hub room on actix-web:
///
/// ```
/// use actix_web::{App, HttpRequest, HttpResponse, Responder, web};
/// use ssekit::Hub;
/// use ssekit_actix_web::{ResumeFrom, SseResponse};
///
/// async fn room(
///     hub: web::Data<Hub>,
///     room: web::Path<String>,
///     ResumeFrom(from): ResumeFrom,
///     req: HttpRequest,
/// ) -> HttpResponse {
///     match hub.subscribe(&room, from) {
///         Ok(stream) => SseResponse::from(stream).respond_to(&req),
///         Err(err) if err.is_invalid_topic() => HttpResponse::BadRequest().body(err.to_string()),
///         Err(err) => HttpResponse::ServiceUnavailable().body(err.to_string()),
///     }
/// }
///
/// let app = App::new()
///     .app_data(web::Data::new(Hub::new()))
///     .route("/rooms/{room}", web::get().to(room));
/// # let _ = app;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResumeFrom(pub Resume);

impl FromRequest for ResumeFrom {
    type Error = Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let values = req.headers().get_all(ssekit::last_event_id::HEADER_NAME);
        let query = Some(req.query_string()).filter(|q| !q.is_empty());
        ready(Ok(Self(Resume::from_request(
            values.map(actix_web::http::header::HeaderValue::as_bytes),
            query,
        ))))
    }
}
