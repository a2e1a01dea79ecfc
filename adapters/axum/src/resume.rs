//! [`ResumeFrom`]: where a client asks to resume, from the `Last-Event-ID`
//! header or `?last_event_id=`.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use http::HeaderValue;
use http::request::Parts;
use ssekit::Resume;

/// Extracts where a client asks to resume: its `Last-Event-ID` header, else
/// the `last_event_id` query parameter (a browser cannot set the header on
/// its first request); see [`ssekit::Resume`]. Never rejects: a value that is
/// not an event id becomes [`Resume::Invalid`], which
/// [`Hub::subscribe`](ssekit::Hub::subscribe) answers with a `reset` event.
///
/// A hub room on axum:
///
/// ```
/// use axum::extract::{Path, State};
/// use axum::http::StatusCode;
/// use axum::response::{IntoResponse, Response};
/// use axum::{Router, routing::get};
/// use ssekit::Hub;
/// use ssekit_axum::{ResumeFrom, SseResponse};
///
/// async fn room(
///     State(hub): State<Hub>,
///     Path(room): Path<String>,
///     ResumeFrom(from): ResumeFrom,
/// ) -> Response {
///     match hub.subscribe(&room, from) {
///         Ok(stream) => SseResponse::from(stream).into_response(),
///         // A name the client chose that is no topic: its fault; else the hub
///         // is full (`HubBuilder::max_topics`) or its backplane is down.
///         Err(err) if err.is_invalid_topic() => (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
///         Err(err) => (StatusCode::SERVICE_UNAVAILABLE, err.to_string()).into_response(),
///     }
/// }
///
/// let app: Router = Router::new()
///     .route("/rooms/{room}", get(room))
///     .with_state(Hub::new());
/// # let _ = app;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResumeFrom(pub Resume);

impl<S: Send + Sync> FromRequestParts<S> for ResumeFrom {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let values = parts.headers.get_all(ssekit::last_event_id::HEADER_NAME);
        Ok(Self(Resume::from_request(
            values.into_iter().map(HeaderValue::as_bytes),
            parts.uri.query(),
        )))
    }
}
