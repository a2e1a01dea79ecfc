//! Error types. Each is an opaque struct with `Display` and
//! [`std::error::Error`], so that what it carries can grow without breaking
//! users.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Id,
    Event,
    ContentType,
}

impl Field {
    const fn name(self) -> &'static str {
        match self {
            Self::Id => "event id",
            Self::Event => "event type",
            Self::ContentType => "content type",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    LineFeed,
    CarriageReturn,
    Nul,
    TooLong,
    NotVisibleAscii,
}

/// A value that an SSE field or header cannot carry: an `id` with a line
/// break or NUL, an `event` type with a line break, and the like.
///
/// ```
/// let err = ssekit::EventType::new("ping\r").unwrap_err();
/// assert_eq!(err.to_string(), "invalid event type: carriage return (CR) at byte 4");
/// assert_eq!(err.position(), 4);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidValue {
    field: Field,
    problem: Problem,
    at: usize,
}

impl InvalidValue {
    pub(crate) const fn new(field: Field, problem: Problem, at: usize) -> Self {
        Self { field, problem, at }
    }

    /// The byte offset of the first offending byte (for a value that is too
    /// long, the limit).
    #[must_use]
    pub fn position(&self) -> usize {
        self.at
    }
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.field.name();
        match self.problem {
            Problem::LineFeed => write!(f, "invalid {field}: line feed (LF) at byte {}", self.at),
            Problem::CarriageReturn => {
                write!(
                    f,
                    "invalid {field}: carriage return (CR) at byte {}",
                    self.at
                )
            }
            Problem::Nul => write!(f, "invalid {field}: NUL at byte {}", self.at),
            Problem::TooLong => write!(f, "invalid {field}: longer than {} bytes", self.at),
            Problem::NotVisibleAscii => write!(
                f,
                "invalid {field}: byte {} is not visible ASCII or a space",
                self.at
            ),
        }
    }
}

impl std::error::Error for InvalidValue {}

/// A value that could not be serialized as JSON event data.
///
/// Its [`source`](std::error::Error::source) is the `serde_json` error.
#[cfg(feature = "json")]
#[derive(Debug)]
pub struct JsonError(serde_json::Error);

#[cfg(feature = "json")]
impl JsonError {
    pub(crate) fn new(inner: serde_json::Error) -> Self {
        Self(inner)
    }
}

#[cfg(feature = "json")]
impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event data could not be serialized as JSON: {}", self.0)
    }
}

#[cfg(feature = "json")]
impl std::error::Error for JsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
