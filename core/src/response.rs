//! The response header sets every adapter applies, as plain strings so that
//! any HTTP crate (http 1.x, actix-http) can use them.

/// The headers of an event-stream response:
///
/// - `Content-Type: text/event-stream`
/// - `Cache-Control: no-cache`: no cache may store or replay the stream;
/// - `X-Accel-Buffering: no`: nginx, which buffers proxied responses by
///   default, passes this response through event by event.
///
/// Never `Connection` (forbidden in HTTP/2, redundant in HTTP/1.1) and no
/// `Access-Control-Allow-Origin`: CORS is the framework's middleware's job.
/// Names are lower case, as HTTP/2 writes them.
///
/// ```
/// assert!(ssekit::RESPONSE_HEADERS.contains(&("content-type", "text/event-stream")));
/// ```
pub const RESPONSE_HEADERS: [(&str, &str); 3] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
];

/// The content type of an event stream.
pub const CONTENT_TYPE: &str = "text/event-stream";
