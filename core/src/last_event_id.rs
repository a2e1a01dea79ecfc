//! The `Last-Event-ID` request header: what a reconnecting client last saw.
//!
//! A browser's `EventSource` remembers the last `id` it received and, when it
//! reconnects, sends it as `Last-Event-ID`. [`parse`] turns the header's raw
//! values into a typed outcome that every adapter's extractor shares:
//!
//! | header                                | outcome                               |
//! |---------------------------------------|---------------------------------------|
//! | absent                                | `Ok(None)`                            |
//! | empty (`Last-Event-ID:`)              | `Ok(None)`: browsers never send it empty |
//! | valid                                 | `Ok(Some(EventId))`                   |
//! | longer than 1024 bytes                | `Err`, [`InvalidLastEventId::is_too_long`] |
//! | not UTF-8                             | `Err`, [`InvalidLastEventId::is_not_utf8`] |
//! | NUL, CR or LF (cannot come over HTTP) | `Err`                                 |
//! | given more than once                  | `Err`, [`InvalidLastEventId::is_repeated`] |
//!
//! Adapters answer an `Err` with `400 Bad Request` and the error's message.
//! Leading and trailing spaces are not part of a header value in HTTP, so an id
//! that starts or ends with a space does not survive the round trip.
//!
//! Spec: [`Last-Event-ID`](https://html.spec.whatwg.org/multipage/server-sent-events.html#last-event-id).

use std::fmt;

use crate::event::{EventId, MAX_EVENT_ID_LEN};

/// The header's name, lower case as HTTP/2 requires.
pub const HEADER_NAME: &str = "last-event-id";

/// Parses the values of every `Last-Event-ID` header of a request.
///
/// ```
/// use ssekit::last_event_id::parse;
///
/// assert_eq!(parse([b"41".as_slice()])?.unwrap().as_str(), "41");
/// assert_eq!(parse([b"".as_slice()])?, None);
/// assert_eq!(parse(std::iter::empty::<&[u8]>())?, None);
///
/// let err = parse([vec![b'7'; 2048].as_slice()]).unwrap_err();
/// assert!(err.is_too_long());
/// assert_eq!(err.to_string(), "invalid Last-Event-ID header: longer than 1024 bytes");
/// assert!(parse([b"\xff\xfe".as_slice()]).unwrap_err().is_not_utf8());
/// # Ok::<(), ssekit::last_event_id::InvalidLastEventId>(())
/// ```
///
/// # Errors
///
/// [`InvalidLastEventId`] as the table in the [module docs](self) says.
pub fn parse<'a, I>(values: I) -> Result<Option<EventId>, InvalidLastEventId>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut values = values.into_iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(InvalidLastEventId(Kind::Repeated));
    }
    parse_one(value)
}

/// Parses one header value; see [`parse`].
///
/// # Errors
///
/// [`InvalidLastEventId`] as the table in the [module docs](self) says.
pub fn parse_one(value: &[u8]) -> Result<Option<EventId>, InvalidLastEventId> {
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() > MAX_EVENT_ID_LEN {
        return Err(InvalidLastEventId(Kind::TooLong));
    }
    let text = std::str::from_utf8(value).map_err(|_| InvalidLastEventId(Kind::NotUtf8))?;
    EventId::new(text)
        .map(Some)
        .map_err(|_| InvalidLastEventId(Kind::Forbidden))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    TooLong,
    NotUtf8,
    Forbidden,
    Repeated,
}

/// A `Last-Event-ID` header that is not a valid event id. Adapters answer
/// it with `400 Bad Request` and this error's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidLastEventId(Kind);

impl InvalidLastEventId {
    /// Longer than 1024 bytes.
    #[must_use]
    pub fn is_too_long(&self) -> bool {
        self.0 == Kind::TooLong
    }

    /// Not UTF-8.
    #[must_use]
    pub fn is_not_utf8(&self) -> bool {
        self.0 == Kind::NotUtf8
    }

    /// Sent more than once.
    #[must_use]
    pub fn is_repeated(&self) -> bool {
        self.0 == Kind::Repeated
    }
}

impl fmt::Display for InvalidLastEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid Last-Event-ID header: ")?;
        match self.0 {
            Kind::TooLong => write!(f, "longer than {MAX_EVENT_ID_LEN} bytes"),
            Kind::NotUtf8 => f.write_str("not UTF-8"),
            Kind::Forbidden => f.write_str("contains NUL, CR or LF"),
            Kind::Repeated => f.write_str("sent more than once"),
        }
    }
}

impl std::error::Error for InvalidLastEventId {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        assert_eq!(parse_one(b"abc").unwrap().unwrap().as_str(), "abc");
        assert_eq!(parse_one(b"").unwrap(), None);
        assert!(parse_one(&[b'a'; 1025]).unwrap_err().is_too_long());
        assert!(parse_one(&[b'a'; 1024]).unwrap().is_some());
        assert!(parse_one(b"\xc3").unwrap_err().is_not_utf8());
        assert_eq!(
            parse_one(b"a\0b").unwrap_err().to_string(),
            "invalid Last-Event-ID header: contains NUL, CR or LF"
        );
        assert!(
            parse([b"1".as_slice(), b"2".as_slice()])
                .unwrap_err()
                .is_repeated()
        );
        assert_eq!(parse_one("é".as_bytes()).unwrap().unwrap().as_str(), "é");
    }
}
