use http::{HeaderValue, StatusCode};
use poem::error::ResponseError;
use poem::{FromRequest, Request, RequestBody};

use crate::types::{LastEventId, LastEventIdRejection};

impl<'a> FromRequest<'a> for LastEventId {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let values = req.headers().get_all(ssekit::last_event_id::HEADER_NAME);
        Self::parse(values.into_iter().map(HeaderValue::as_bytes)).map_err(poem::Error::from)
    }
}

impl ResponseError for LastEventIdRejection {
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}
