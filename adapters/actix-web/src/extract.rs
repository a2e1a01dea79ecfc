use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use actix_web::{FromRequest, HttpRequest, ResponseError};

use crate::types::{LastEventId, LastEventIdRejection};

impl FromRequest for LastEventId {
    type Error = LastEventIdRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let values = req.headers().get_all(ssekit::last_event_id::HEADER_NAME);
        ready(Self::parse(values.map(HeaderValue::as_bytes)))
    }
}

impl ResponseError for LastEventIdRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}
