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
//!
//! # Header or query: [`Resume`]
//!
//! A browser cannot set a header on an `EventSource`'s first request, so a
//! page that already knows where it stands passes the position in the URL:
//! `new EventSource("/rooms/1?last_event_id=" + id)`. When that connection
//! drops, the browser reconnects to the *same URL* with the `Last-Event-ID`
//! header of the last event it saw, so the header, being newer, wins:
//! [`Resume::from_request`] takes a non-empty `Last-Event-ID` header if there
//! is one, else the [`QUERY_PARAM`] query parameter (its name and value percent-decoded, `+` as
//! space, as `URLSearchParams` reads it), else [`Resume::Start`]. It never
//! fails: a value that is not a valid event id is [`Resume::Invalid`], which
//! [`Hub::subscribe`](crate::Hub::subscribe) answers with a `reset` event
//! (an `EventSource` gives up for good on a `400`, so the hub never answers
//! a resume request with one).

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
        return Err(InvalidLastEventId::header(Kind::Repeated));
    }
    parse_one(value)
}

/// The query parameter that carries a position on a first request:
/// `?last_event_id=<id>`.
pub const QUERY_PARAM: &str = "last_event_id";

/// Reads [`QUERY_PARAM`] from a request's query string (without the `?`).
///
/// ```
/// use ssekit::last_event_id::from_query;
///
/// assert_eq!(from_query("room=1&last_event_id=ab-12")?.unwrap().as_str(), "ab-12");
/// assert_eq!(from_query("last_event_id=a%20b+c")?.unwrap().as_str(), "a b c");
/// assert_eq!(from_query("room=1")?, None);
/// assert_eq!(from_query("last_event_id=")?, None);
/// assert!(from_query("last_event_id=1&last_event_id=2").unwrap_err().is_repeated());
/// assert!(from_query("last_event_id=%FF").unwrap_err().is_not_utf8());
/// # Ok::<(), ssekit::last_event_id::InvalidLastEventId>(())
/// ```
///
/// # Errors
///
/// [`InvalidLastEventId`] when the parameter is given twice or its decoded
/// value is not a valid event id (as for the header).
pub fn from_query(query: &str) -> Result<Option<EventId>, InvalidLastEventId> {
    let query_error = |kind| InvalidLastEventId {
        kind,
        from_query: true,
    };
    let mut found = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        // The name is decoded too (`last%5Fevent%5Fid`), as `URLSearchParams`
        // does; a name longer than the id limit is not this one.
        let named = key == QUERY_PARAM
            || (key.contains(['%', '+'])
                && percent_decode(key).is_some_and(|name| name == QUERY_PARAM.as_bytes()));
        if !named {
            continue;
        }
        if found.is_some() {
            return Err(query_error(Kind::Repeated));
        }
        found = Some(value);
    }
    let Some(raw) = found else {
        return Ok(None);
    };
    let decoded = percent_decode(raw).ok_or_else(|| query_error(Kind::TooLong))?;
    parse_one(&decoded).map_err(|e| query_error(e.kind))
}

/// Decodes `%XX` and `+` (as `URLSearchParams` does: a bad escape stays as
/// it is); `None` once the result exceeds [`MAX_EVENT_ID_LEN`], so a hostile
/// value costs at most that much.
fn percent_decode(raw: &str) -> Option<Vec<u8>> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len().min(MAX_EVENT_ID_LEN));
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if out.len() >= MAX_EVENT_ID_LEN {
            return None;
        }
        let escaped = match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(if b == b'+' { b' ' } else { b });
                i += 1;
            }
        }
    }
    Some(out)
}

/// Where a client asks to resume from: the `Last-Event-ID` header, else
/// `?last_event_id=`; see [the module docs](self). What
/// [`Hub::subscribe`](crate::Hub::subscribe) takes.
///
/// ```
/// use ssekit::{EventId, Resume};
///
/// let query = Some("last_event_id=old");
/// let header = [b"new".as_slice()];
/// assert_eq!(Resume::from_request(header, query), Resume::After(EventId::new("new")?));
/// assert_eq!(Resume::from_request([], query), Resume::After(EventId::new("old")?));
/// assert_eq!(Resume::from_request([], None), Resume::Start);
/// assert!(matches!(Resume::from_request([b"\xff".as_slice()], None), Resume::Invalid(_)));
/// # Ok::<(), ssekit::InvalidValue>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resume {
    /// No position given: start with live events.
    #[default]
    Start,
    /// Resume after this id.
    After(EventId),
    /// A position was given but is not a valid event id (too long, not
    /// UTF-8, repeated, NUL/CR/LF).
    Invalid(InvalidLastEventId),
}

impl Resume {
    /// Reads a request: the values of its `Last-Event-ID` headers and its
    /// query string (without the `?`), header first.
    pub fn from_request<'a, I>(headers: I, query: Option<&str>) -> Self
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        match parse(headers) {
            Ok(Some(id)) => return Self::After(id),
            Err(e) => return Self::Invalid(e),
            Ok(None) => {}
        }
        query.map_or(Self::Start, |query| from_query(query).into())
    }

    /// The id to resume after, if one was validly given.
    #[must_use]
    pub fn id(&self) -> Option<&EventId> {
        match self {
            Self::After(id) => Some(id),
            Self::Start | Self::Invalid(_) => None,
        }
    }
}

impl From<Option<EventId>> for Resume {
    fn from(id: Option<EventId>) -> Self {
        id.map_or(Self::Start, Self::After)
    }
}

impl From<EventId> for Resume {
    fn from(id: EventId) -> Self {
        Self::After(id)
    }
}

impl From<Result<Option<EventId>, InvalidLastEventId>> for Resume {
    fn from(parsed: Result<Option<EventId>, InvalidLastEventId>) -> Self {
        match parsed {
            Ok(id) => id.into(),
            Err(e) => Self::Invalid(e),
        }
    }
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
        return Err(InvalidLastEventId::header(Kind::TooLong));
    }
    let text = std::str::from_utf8(value).map_err(|_| InvalidLastEventId::header(Kind::NotUtf8))?;
    EventId::new(text)
        .map(Some)
        .map_err(|_| InvalidLastEventId::header(Kind::Forbidden))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    TooLong,
    NotUtf8,
    Forbidden,
    Repeated,
}

/// A `Last-Event-ID` header (or [`QUERY_PARAM`] value) that is not a valid
/// event id. Adapters' `LastEventId` extractors answer it with
/// `400 Bad Request` and this error's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidLastEventId {
    kind: Kind,
    from_query: bool,
}

impl InvalidLastEventId {
    const fn header(kind: Kind) -> Self {
        Self {
            kind,
            from_query: false,
        }
    }

    /// Longer than 1024 bytes.
    #[must_use]
    pub fn is_too_long(&self) -> bool {
        self.kind == Kind::TooLong
    }

    /// Not UTF-8.
    #[must_use]
    pub fn is_not_utf8(&self) -> bool {
        self.kind == Kind::NotUtf8
    }

    /// Sent more than once.
    #[must_use]
    pub fn is_repeated(&self) -> bool {
        self.kind == Kind::Repeated
    }
}

impl fmt::Display for InvalidLastEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from_query {
            write!(f, "invalid {QUERY_PARAM} query parameter: ")?;
        } else {
            f.write_str("invalid Last-Event-ID header: ")?;
        }
        match self.kind {
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

    #[test]
    fn query_outcomes() {
        assert_eq!(from_query("").unwrap(), None);
        assert_eq!(from_query("last_event_id").unwrap(), None);
        assert_eq!(
            from_query("a=1&last_event_id=x%2Dy&b").unwrap().unwrap(),
            "x-y"
        );
        // A bad escape stays literal, as URLSearchParams reads it.
        assert_eq!(from_query("last_event_id=%zz%4").unwrap().unwrap(), "%zz%4");
        let long = format!("last_event_id={}", "a".repeat(1025));
        let err = from_query(&long).unwrap_err();
        assert!(err.is_too_long());
        assert_eq!(
            err.to_string(),
            "invalid last_event_id query parameter: longer than 1024 bytes"
        );
        assert!(from_query(&format!("last_event_id={}", "%41".repeat(1024))).is_ok());
        assert!(from_query(&format!("last_event_id={}", "%41".repeat(1025))).is_err());
        assert!(from_query("last_event_id=a%0Ab").is_err());
        assert!(from_query("last_event_id=a%00b").is_err());
        assert!(from_query(&format!("last_event_id={}", "9".repeat(4096))).is_err());
        // The name is decoded as well; other names stay other names.
        assert_eq!(from_query("last%5Fevent%5fid=k").unwrap().unwrap(), "k");
        assert!(
            from_query("last_event_id=a&last%5Fevent_id=b")
                .unwrap_err()
                .is_repeated()
        );
        assert_eq!(from_query("last+event_id=k").unwrap(), None);
        assert_eq!(
            from_query(&format!("{}=k", "%41".repeat(2000))).unwrap(),
            None
        );
    }

    #[test]
    fn header_wins_over_query() {
        let q = Some("last_event_id=q");
        assert_eq!(
            Resume::from_request([b"h".as_slice()], q).id().unwrap(),
            "h"
        );
        // An empty header is no header: the query decides.
        assert_eq!(Resume::from_request([b"".as_slice()], q).id().unwrap(), "q");
        assert!(matches!(
            Resume::from_request([b"1".as_slice(), b"2".as_slice()], q),
            Resume::Invalid(e) if e.is_repeated()
        ));
        assert!(matches!(
            Resume::from_request(std::iter::empty(), Some("last_event_id=%C3")),
            Resume::Invalid(e) if e.is_not_utf8()
        ));
        assert_eq!(
            Resume::from_request(std::iter::empty(), Some("x=1")),
            Resume::Start
        );
    }
}
