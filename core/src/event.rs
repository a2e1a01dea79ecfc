//! The event model: [`Event`] and the validated field values [`EventId`] and
//! [`EventType`].
//!
//! Every value an [`Event`] can hold is representable on the wire: `data` and
//! comments may contain any text (line breaks become several lines), while the
//! one-line fields `id` and `event` are validated when they are made, so that no
//! value can end a field early and smuggle another field or event after it.
//!
//! See the [WHATWG definition of the event stream format][spec].
//!
//! [spec]: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crate::encode;
use crate::error::{Field, InvalidValue, Problem};

/// The longest [`EventId`], in bytes.
///
/// Browsers send the last id they saw back in the `Last-Event-ID` request header
/// when they reconnect, and [`crate::last_event_id::parse`] refuses header values
/// longer than this. An id is refused at the same length, so that every id ssekit
/// sends comes back intact.
pub const MAX_EVENT_ID_LEN: usize = 1024;

/// Finds the first byte of `value` that the one-line field `field` cannot carry.
const fn check(value: &str, field: Field) -> Option<(Problem, usize)> {
    let bytes = value.as_bytes();
    if matches!(field, Field::Id) && bytes.len() > MAX_EVENT_ID_LEN {
        return Some((Problem::TooLong, MAX_EVENT_ID_LEN));
    }
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => return Some((Problem::LineFeed, i)),
            b'\r' => return Some((Problem::CarriageReturn, i)),
            0 if matches!(field, Field::Id) => return Some((Problem::Nul, i)),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The value of an event's `id` field: the client stores it as its *last event
/// ID* and sends it back in the `Last-Event-ID` header when it reconnects.
///
/// An id is one line of text: it cannot contain a line feed, a carriage return
/// or NUL (a client ignores an `id` field containing NUL), and it is at most
/// [`MAX_EVENT_ID_LEN`] bytes long. The empty id is valid: it resets the
/// client's last event ID.
///
/// ```
/// use ssekit::EventId;
///
/// let id = EventId::new("42")?;
/// assert_eq!(id.as_str(), "42");
///
/// // A line break would end the field and start another: refused.
/// let err = EventId::new("1\ndata: spoofed").unwrap_err();
/// assert_eq!(err.to_string(), "invalid event id: line feed (LF) at byte 1");
///
/// // A literal is checked at compile time in a `const` context.
/// const START: EventId = EventId::from_static("start");
/// # Ok::<(), ssekit::InvalidValue>(())
/// ```
#[derive(Clone)]
pub struct EventId(IdText);

/// An id's text: given, or a number's digits kept in place (no allocation).
/// Sized so that an `EventId` stays as small as the text alone (24 bytes).
#[derive(Clone)]
enum IdText {
    Text(Cow<'static, str>),
    /// The decimal digits of a number below [`INLINE_DIGITS_BELOW`],
    /// right-aligned: `digits[start..]`.
    Number {
        digits: [u8; 15],
        start: u8,
    },
}

/// Numbers with up to 15 digits are kept inline; longer ones as text.
const INLINE_DIGITS_BELOW: u64 = 1_000_000_000_000_000;

impl PartialEq for EventId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for EventId {}

impl std::hash::Hash for EventId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for EventId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EventId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl EventId {
    /// Makes an id from any text, refusing what the wire cannot carry.
    ///
    /// # Errors
    ///
    /// [`InvalidValue`] when `value` contains CR, LF or NUL, or is longer than
    /// [`MAX_EVENT_ID_LEN`] bytes.
    #[inline]
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        match check(&value, Field::Id) {
            None => Ok(Self(IdText::Text(Cow::Owned(value)))),
            Some((problem, at)) => Err(InvalidValue::new(Field::Id, problem, at)),
        }
    }

    /// Makes an id from a literal, checked at compile time when used in a
    /// `const` context (`const { EventId::from_static("…") }`).
    ///
    /// # Panics
    ///
    /// When `value` contains CR, LF or NUL or is longer than
    /// [`MAX_EVENT_ID_LEN`] bytes; in a `const` context that is a compile error.
    ///
    /// ```compile_fail
    /// const BAD: ssekit::EventId = ssekit::EventId::from_static("a\nb");
    /// ```
    #[must_use]
    pub const fn from_static(value: &'static str) -> Self {
        if check(value, Field::Id).is_some() {
            panic!(
                "EventId::from_static: an event id cannot contain CR, LF or NUL, or exceed 1024 bytes"
            );
        }
        Self(IdText::Text(Cow::Borrowed(value)))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            IdText::Text(text) => text,
            // Only ASCII digits are ever written there.
            IdText::Number { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
        }
    }

    /// The id's bytes, as the encoder writes them (without the UTF-8 check
    /// that [`EventId::as_str`] makes of a number's digits).
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            IdText::Text(text) => text.as_bytes(),
            IdText::Number { digits, start } => {
                digits.get(usize::from(*start)..).unwrap_or_default()
            }
        }
    }
}

/// The value of an event's `event` field: the type a browser dispatches the
/// event as, so that `addEventListener(type, …)` receives it.
///
/// A type is one line of text: it cannot contain a line feed or a carriage
/// return. It is taken literally: `"ping "` (with a trailing space) is a
/// different type from `"ping"`. The empty type means `message`, the default.
///
/// ```
/// use ssekit::EventType;
///
/// let ty = EventType::new("update")?;
/// assert_eq!(ty.as_str(), "update");
/// assert!(EventType::new("update\r\nid: 7").is_err());
///
/// const PING: EventType = EventType::from_static("ping");
/// # Ok::<(), ssekit::InvalidValue>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(Cow<'static, str>);

impl EventType {
    /// Makes an event type from any text, refusing line breaks.
    ///
    /// # Errors
    ///
    /// [`InvalidValue`] when `value` contains CR or LF.
    #[inline]
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        match check(&value, Field::Event) {
            None => Ok(Self(Cow::Owned(value))),
            Some((problem, at)) => Err(InvalidValue::new(Field::Event, problem, at)),
        }
    }

    /// Makes an event type from a literal, checked at compile time when used
    /// in a `const` context.
    ///
    /// # Panics
    ///
    /// When `value` contains CR or LF; in a `const` context that is a compile
    /// error.
    ///
    /// ```compile_fail
    /// const BAD: ssekit::EventType = ssekit::EventType::from_static("ping\n");
    /// ```
    #[must_use]
    pub const fn from_static(value: &'static str) -> Self {
        if check(value, Field::Event).is_some() {
            panic!("EventType::from_static: an event type cannot contain CR or LF");
        }
        Self(Cow::Borrowed(value))
    }

    /// The type as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! text_value_impls {
    ($ty:ident) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl TryFrom<String> for $ty {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, InvalidValue> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = InvalidValue;
            fn try_from(value: &str) -> Result<Self, InvalidValue> {
                Self::new(value)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = InvalidValue;
            fn from_str(value: &str) -> Result<Self, InvalidValue> {
                Self::new(value)
            }
        }
    };
}

text_value_impls!(EventId);
text_value_impls!(EventType);

/// A number as an id: its decimal digits, which the wire always carries,
/// kept in the id itself for numbers of up to 15 digits (no allocation,
/// unlike `n.to_string()`).
///
/// ```
/// use ssekit::{Event, EventId};
///
/// assert_eq!(EventId::from(42_u64), "42");
/// assert_eq!(EventId::from(42_u64), EventId::new("42")?);
/// assert_eq!(EventId::from(u64::MAX).as_str(), u64::MAX.to_string());
/// assert_eq!(Event::new("hi").id(7_u64.into()).encode().as_bytes(), b"id: 7\ndata: hi\n\n");
/// # Ok::<(), ssekit::InvalidValue>(())
/// ```
impl From<u64> for EventId {
    fn from(n: u64) -> Self {
        if n >= INLINE_DIGITS_BELOW {
            return Self(IdText::Text(Cow::Owned(n.to_string())));
        }
        let mut digits = [0u8; 15];
        let start = crate::encode::decimal(n, &mut digits);
        // `start` is below 15.
        let start = u8::try_from(start).unwrap_or(0);
        Self(IdText::Number { digits, start })
    }
}

/// One server-sent event: optional `id`, `event` type and `retry` time, data
/// text, and comments.
///
/// Setters replace the previous value (the last call wins); [`Event::comment`]
/// adds a comment. An event is turned into wire bytes once by
/// [`Event::encode`], and those bytes can be shared by any number of
/// connections.
///
/// ```
/// use std::time::Duration;
/// use ssekit::{Event, EventType};
///
/// let event = Event::default()
///     .event(EventType::from_static("update"))
///     .try_id("123")?
///     .retry(Duration::from_secs(2))
///     .data("two\nlines");
///
/// assert_eq!(
///     &event.encode()[..],
///     b"id: 123\nevent: update\nretry: 2000\ndata: two\ndata: lines\n\n"
/// );
/// # Ok::<(), ssekit::InvalidValue>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
#[must_use = "an event does nothing until it is sent or encoded"]
pub struct Event {
    pub(crate) id: Option<EventId>,
    pub(crate) event: Option<EventType>,
    pub(crate) retry: Option<Duration>,
    pub(crate) data: Option<Cow<'static, str>>,
    pub(crate) comments: Vec<Cow<'static, str>>,
}

impl Event {
    /// An event with the given data and no other field: what a browser's
    /// `onmessage` receives as `event.data`.
    ///
    /// ```
    /// let event = ssekit::Event::new("hello");
    /// assert_eq!(&event.encode()[..], b"data: hello\n\n");
    /// ```
    #[inline]
    pub fn new(data: impl Into<Cow<'static, str>>) -> Self {
        Self::default().data(data)
    }

    /// Sets the `data` field: any text.
    ///
    /// Each line of `data` goes on the wire as its own `data:` line; `\n`,
    /// `\r\n` and a lone `\r` each count as one line break, which the client
    /// turns back into `\n`. So the client receives exactly `data`, except that
    /// every line break arrives as `\n`. Empty data is an event whose data is
    /// `""` (still dispatched); an event without data is not dispatched by
    /// clients, though its `id` and `retry` still take effect.
    ///
    /// Spec: [the `data` field](https://html.spec.whatwg.org/multipage/server-sent-events.html#dispatchMessage).
    #[inline]
    pub fn data(mut self, data: impl Into<Cow<'static, str>>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// Sets the `id` field (`id: <id>` on the wire).
    ///
    /// Spec: [the `id` field](https://html.spec.whatwg.org/multipage/server-sent-events.html#concept-event-stream-last-event-id).
    #[inline]
    pub fn id(mut self, id: EventId) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets the `id` field from text, refusing what [`EventId::new`] refuses.
    ///
    /// # Errors
    ///
    /// [`InvalidValue`] when `id` contains CR, LF or NUL or is too long; the
    /// event is dropped with it, so handle the error before building further.
    #[inline]
    pub fn try_id(self, id: impl Into<String>) -> Result<Self, InvalidValue> {
        Ok(self.id(EventId::new(id)?))
    }

    /// Sets the `event` field (`event: <type>` on the wire).
    ///
    /// Spec: [the `event` field](https://html.spec.whatwg.org/multipage/server-sent-events.html#dispatchMessage).
    #[inline]
    pub fn event(mut self, event: EventType) -> Self {
        self.event = Some(event);
        self
    }

    /// Sets the `event` field from text, refusing what [`EventType::new`]
    /// refuses.
    ///
    /// # Errors
    ///
    /// [`InvalidValue`] when `event` contains CR or LF.
    #[inline]
    pub fn try_event(self, event: impl Into<String>) -> Result<Self, InvalidValue> {
        Ok(self.event(EventType::new(event)?))
    }

    /// Sets the `retry` field: how long the client waits before reconnecting.
    /// Sent in whole milliseconds (`retry: 2000`), rounded down.
    ///
    /// Spec: [the `retry` field](https://html.spec.whatwg.org/multipage/server-sent-events.html#concept-event-stream-reconnection-time).
    #[inline]
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Adds a comment: `: <text>` lines, which clients ignore. A comment with
    /// line breaks becomes several comment lines, never a field.
    #[inline]
    pub fn comment(mut self, text: impl Into<Cow<'static, str>>) -> Self {
        self.comments.push(text.into());
        self
    }

    /// An event whose data is `value` serialized as JSON (one line).
    ///
    /// ```
    /// let event = ssekit::Event::json(&serde_json::json!({"Name": "Name0"}))?;
    /// assert_eq!(&event.encode()[..], b"data: {\"Name\":\"Name0\"}\n\n");
    /// # Ok::<(), ssekit::JsonError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`JsonError`](crate::JsonError) when `value` cannot be serialized (a map
    /// with non-string keys, say).
    #[cfg(feature = "json")]
    pub fn json<T>(value: &T) -> Result<Self, crate::JsonError>
    where
        T: serde::Serialize + ?Sized,
    {
        Self::default().json_data(value)
    }

    /// Sets the data to `value` serialized as JSON (one line).
    ///
    /// # Errors
    ///
    /// [`JsonError`](crate::JsonError) when `value` cannot be serialized.
    #[cfg(feature = "json")]
    pub fn json_data<T>(self, value: &T) -> Result<Self, crate::JsonError>
    where
        T: serde::Serialize + ?Sized,
    {
        let text = serde_json::to_string(value).map_err(crate::JsonError::new)?;
        Ok(self.data(text))
    }

    /// The `id`, if set.
    #[must_use]
    pub fn get_id(&self) -> Option<&EventId> {
        self.id.as_ref()
    }

    /// The `event` type, if set.
    #[must_use]
    pub fn get_event(&self) -> Option<&EventType> {
        self.event.as_ref()
    }

    /// The `retry` time, if set.
    #[must_use]
    pub fn get_retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The data, if set.
    #[must_use]
    pub fn get_data(&self) -> Option<&str> {
        self.data.as_deref()
    }

    /// The comments, in the order they were added.
    pub fn comments(&self) -> impl ExactSizeIterator<Item = &str> {
        self.comments.iter().map(|c| &**c)
    }

    /// Encodes the event into the bytes of one message, ready to be written to
    /// any number of connections: see [`EncodedEvent`].
    pub fn encode(&self) -> EncodedEvent {
        EncodedEvent(encode::encode(self))
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Event");
        if let Some(id) = &self.id {
            s.field("id", id);
        }
        if let Some(event) = &self.event {
            s.field("event", event);
        }
        if let Some(retry) = &self.retry {
            s.field("retry", retry);
        }
        if let Some(data) = &self.data {
            s.field("data", data);
        }
        if !self.comments.is_empty() {
            s.field("comments", &self.comments);
        }
        s.finish()
    }
}

impl From<String> for Event {
    fn from(data: String) -> Self {
        Self::new(data)
    }
}

impl From<&'static str> for Event {
    fn from(data: &'static str) -> Self {
        Self::new(data)
    }
}

/// The wire bytes of one [`Event`], made once by [`Event::encode`].
///
/// Cloning is a reference-count increment, so one encoded event can be handed
/// to thousands of connections without encoding it again (a stream that joins
/// several ready events into one frame copies their bytes into it). The bytes
/// always form whole,
/// valid lines ending with the blank line that dispatches the event.
///
/// ```
/// let encoded = ssekit::Event::new("hi").encode();
/// let shared = encoded.clone(); // no copy
/// assert_eq!(encoded.as_bytes(), shared.as_bytes());
/// assert_eq!(encoded.as_bytes(), b"data: hi\n\n");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EncodedEvent(pub(crate) bytes::Bytes);

impl EncodedEvent {
    /// The encoded bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The encoded bytes, shared.
    #[must_use]
    pub fn into_bytes(self) -> bytes::Bytes {
        self.0
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the encoding is empty (never, for an encoded event; kept for
    /// the usual pairing with [`EncodedEvent::len`]).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Deref for EncodedEvent {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for EncodedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EncodedEvent")
            .field(&String::from_utf8_lossy(&self.0))
            .finish()
    }
}

impl From<EncodedEvent> for bytes::Bytes {
    fn from(e: EncodedEvent) -> Self {
        e.0
    }
}

impl From<&Event> for EncodedEvent {
    fn from(e: &Event) -> Self {
        e.encode()
    }
}

impl From<Event> for EncodedEvent {
    fn from(e: Event) -> Self {
        e.encode()
    }
}

/// An [`EventId`] from a string literal, checked at compile time: a literal
/// with CR, LF or NUL (or longer than 1024 bytes) does not compile.
///
/// ```
/// let event = ssekit::Event::new("hi").id(ssekit::event_id!("42"));
/// assert_eq!(event.get_id().map(|id| id.as_str()), Some("42"));
/// ```
///
/// ```compile_fail
/// let id = ssekit::event_id!("1\ndata: spoofed");
/// ```
#[macro_export]
macro_rules! event_id {
    ($value:literal) => {{
        const ID: $crate::EventId = $crate::EventId::from_static($value);
        ID
    }};
}

/// An [`EventType`] from a string literal, checked at compile time: a
/// literal with CR or LF does not compile.
///
/// ```
/// let event = ssekit::Event::new("pong").event(ssekit::event_type!("ping"));
/// assert_eq!(&event.encode()[..], b"event: ping\ndata: pong\n\n");
/// ```
///
/// ```compile_fail
/// let ty = ssekit::event_type!("ping\r\nid: 1");
/// ```
#[macro_export]
macro_rules! event_type {
    ($value:literal) => {{
        const TYPE: $crate::EventType = $crate::EventType::from_static($value);
        TYPE
    }};
}
