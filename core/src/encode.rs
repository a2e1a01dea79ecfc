//! The encoder: one [`Event`] into the bytes of one message.
//!
//! The grammar it satisfies ([WHATWG, 9.2.5 Parsing an event stream][spec]):
//!
//! ```text
//! stream        = [ bom ] *event
//! event         = *( comment / field ) end-of-line
//! comment       = colon *any-char end-of-line
//! field         = 1*name-char [ colon [ space ] *any-char ] end-of-line
//! end-of-line   = ( cr lf / cr / lf )
//! any-char      = %x0000-0009 / %x000B-000C / %x000E-10FFFF
//!                 ; a scalar value other than U+000A LF and U+000D CR
//! ```
//!
//! What the encoder writes, in this order, each line ending with `\n`:
//! `: <comment line>` for every line of every comment, `id: <id>`,
//! `event: <type>`, `retry: <milliseconds>`, `data: <line>` for every line of
//! the data, and the blank line that dispatches the event. A value is always
//! preceded by `": "` (or by `":"` alone when it is empty), because a client
//! strips exactly one space after the colon: that is how a value that starts
//! with a space survives. Values with line breaks are split at `\r\n`, `\r`
//! and `\n` alike, so a lone `\r` can never start a new field; `id` and `event`
//! never contain one (see [`EventId`](crate::EventId)).
//!
//! The length is computed first and the bytes written into one allocation.
//!
//! [spec]: https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream

use bytes::{BufMut, Bytes, BytesMut};

use crate::event::Event;

/// Calls `f` with every line of `text`, split at `\r\n`, `\r` and `\n`.
/// The empty text is one empty line; a trailing break yields an empty last line.
fn for_each_line(text: &str, mut f: impl FnMut(&[u8])) {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'\n' || b == b'\r') {
        let end = i + offset;
        f(&bytes[start..end]);
        i = if bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n') {
            end + 2
        } else {
            end + 1
        };
        start = i;
    }
    f(&bytes[start..]);
}

/// Bytes of one `name: value\n` line (or `name:\n` for an empty value).
const fn field_len(name: &[u8], value_len: usize) -> usize {
    if value_len == 0 {
        name.len() + 2
    } else {
        name.len() + 3 + value_len
    }
}

fn put_field(buf: &mut BytesMut, name: &[u8], value: &[u8]) {
    buf.put_slice(name);
    if value.is_empty() {
        buf.put_slice(b":\n");
    } else {
        buf.put_slice(b": ");
        buf.put_slice(value);
        buf.put_u8(b'\n');
    }
}

fn multiline_len(name: &[u8], text: &str) -> usize {
    let mut len = 0;
    for_each_line(text, |line| len += field_len(name, line.len()));
    len
}

/// The exact number of bytes [`encode_into`] writes for `event`.
pub(crate) fn encoded_len(event: &Event) -> usize {
    let mut len = 1; // the blank line
    for comment in &event.comments {
        len += multiline_len(b"", comment);
    }
    if let Some(id) = &event.id {
        len += field_len(b"id", id.as_str().len());
    }
    if let Some(ty) = &event.event {
        len += field_len(b"event", ty.as_str().len());
    }
    if let Some(retry) = event.retry {
        len += field_len(b"retry", digits(retry.as_millis()));
    }
    if let Some(data) = &event.data {
        len += multiline_len(b"data", data);
    }
    len
}

fn digits(mut n: u128) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// Writes `event` into `buf`.
pub(crate) fn encode_into(event: &Event, buf: &mut BytesMut) {
    for comment in &event.comments {
        for_each_line(comment, |line| put_field(buf, b"", line));
    }
    if let Some(id) = &event.id {
        put_field(buf, b"id", id.as_str().as_bytes());
    }
    if let Some(ty) = &event.event {
        put_field(buf, b"event", ty.as_str().as_bytes());
    }
    if let Some(retry) = event.retry {
        let mut text = [0u8; 40];
        let mut n = retry.as_millis();
        let mut start = text.len();
        loop {
            start -= 1;
            // `n % 10` is below 10, so the cast cannot truncate.
            text[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        put_field(buf, b"retry", &text[start..]);
    }
    if let Some(data) = &event.data {
        for_each_line(data, |line| put_field(buf, b"data", line));
    }
    buf.put_u8(b'\n');
}

/// Encodes `event` into one exactly sized allocation.
pub(crate) fn encode(event: &Event) -> Bytes {
    let len = encoded_len(event);
    let mut buf = BytesMut::with_capacity(len);
    encode_into(event, &mut buf);
    debug_assert_eq!(buf.len(), len, "encoded_len must predict encode_into");
    buf.freeze()
}

/// Encodes comment text as lone comment lines, without the blank line that
/// would end an event (used for keep-alive).
pub(crate) fn comment_lines(text: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(multiline_len(b"", text));
    for_each_line(text, |line| put_field(&mut buf, b"", line));
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{EventId, EventType};

    fn enc(event: &Event) -> Bytes {
        let bytes = encode(event);
        assert_eq!(bytes.len(), encoded_len(event), "length prediction");
        bytes
    }

    #[test]
    fn data_only() {
        assert_eq!(&*enc(&Event::new("a")), b"data: a\n\n");
    }

    #[test]
    fn multi_line_data_each_break_kind_is_one_line_break() {
        assert_eq!(&*enc(&Event::new("a\nb")), b"data: a\ndata: b\n\n");
        assert_eq!(&*enc(&Event::new("a\r\nb")), b"data: a\ndata: b\n\n");
        assert_eq!(&*enc(&Event::new("a\rb")), b"data: a\ndata: b\n\n");
        assert_eq!(&*enc(&Event::new("a\n\rb")), b"data: a\ndata:\ndata: b\n\n");
        assert_eq!(
            &*enc(&Event::new("a\r\r\nb")),
            b"data: a\ndata:\ndata: b\n\n"
        );
    }

    #[test]
    fn lone_cr_cannot_start_a_field() {
        assert_eq!(
            &*enc(&Event::new("x\revent: spoof")),
            b"data: x\ndata: event: spoof\n\n"
        );
    }

    #[test]
    fn trailing_newline_is_an_empty_last_line() {
        assert_eq!(&*enc(&Event::new("a\n")), b"data: a\ndata:\n\n");
    }

    #[test]
    fn leading_space_survives() {
        assert_eq!(&*enc(&Event::new(" a")), b"data:  a\n\n");
    }

    #[test]
    fn empty_data_is_one_empty_data_line() {
        assert_eq!(&*enc(&Event::new("")), b"data:\n\n");
    }

    #[test]
    fn no_fields_is_a_blank_line() {
        assert_eq!(&*enc(&Event::default()), b"\n");
    }

    #[test]
    fn all_fields_in_order() {
        let event = Event::default()
            .data("d")
            .retry(Duration::from_millis(2500))
            .event(EventType::from_static("e"))
            .id(EventId::from_static("7"))
            .comment("c");
        assert_eq!(
            &*enc(&event),
            b": c\nid: 7\nevent: e\nretry: 2500\ndata: d\n\n"
        );
    }

    #[test]
    fn empty_id_resets() {
        let event = Event::default().id(EventId::from_static(""));
        assert_eq!(&*enc(&event), b"id:\n\n");
    }

    #[test]
    fn retry_is_whole_milliseconds() {
        let event = Event::default().retry(Duration::from_micros(1999));
        assert_eq!(&*enc(&event), b"retry: 1\n\n");
        let event = Event::default().retry(Duration::ZERO);
        assert_eq!(&*enc(&event), b"retry: 0\n\n");
        let event = Event::default().retry(Duration::MAX);
        assert_eq!(&*enc(&event), b"retry: 18446744073709551615999\n\n");
    }

    #[test]
    fn comment_with_line_breaks_stays_comments() {
        let event = Event::default().comment("a\ndata: x\r\n\rb");
        assert_eq!(&*enc(&event), b": a\n: data: x\n:\n: b\n\n");
    }

    #[test]
    fn setter_called_twice_last_wins() {
        let event = Event::new("first")
            .data("second")
            .try_id("1")
            .unwrap()
            .try_id("2")
            .unwrap();
        assert_eq!(&*enc(&event), b"id: 2\ndata: second\n\n");
    }

    #[test]
    fn keep_alive_lines_have_no_blank_line() {
        assert_eq!(&*comment_lines(""), b":\n");
        assert_eq!(&*comment_lines("ping"), b": ping\n");
    }

    #[test]
    fn multibyte_text_is_untouched() {
        assert_eq!(
            &*enc(&Event::new("héllo\u{2028}wörld\u{feff}")),
            "data: héllo\u{2028}wörld\u{feff}\n\n".as_bytes()
        );
    }
}
