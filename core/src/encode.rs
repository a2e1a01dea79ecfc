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
//! One pass: each line break is found (a word at a time near where the search
//! starts, then with `memchr`) and each line is written as soon as it is found;
//! a value of up to 128 bytes is first checked whole, which costs less than
//! a search. The buffer is reserved up front from
//! [`size_hint`], which is exact for values without line breaks (the common
//! case); when a value turns out to have many short lines, the rest of it is
//! reserved once, from the length of the first line, so that the buffer grows
//! at most a few times and is never scanned twice.
//!
//! [spec]: https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};
use memchr::memchr2;

use crate::event::Event;

/// Bytes of one `name: value\n` line (or `name:\n` for an empty value).
const fn field_len(name: &[u8], value_len: usize) -> usize {
    if value_len == 0 {
        name.len() + 2
    } else {
        name.len() + 3 + value_len
    }
}

/// Writes every line of `text` as a field: `prefix` (`"data: "`) then the
/// line and `\n`, or `empty` (`"data:\n"`) for an empty line. Lines are
/// split at `\r\n`, `\r` and `\n`; the empty text is one empty line, and a
/// trailing break yields an empty last line.
///
/// The caller has reserved room for `text` as one line. On the first break,
/// room for the rest is reserved once, assuming the other lines are as long
/// as the first: exact for evenly sized lines, and at worst a few doublings.
/// A line that ends with `\n` is copied together with its break: two copies
/// per line, whose prefix is a constant.
#[inline(always)]
fn put_lines(buf: &mut BytesMut, prefix: &'static [u8], empty: &'static [u8], text: &str) {
    let bytes = text.as_bytes();
    if bytes.len() <= SHORT_TEXT && !has_line_break(bytes) {
        put_line(buf, prefix, empty, bytes);
        return;
    }
    let Some(first) = memchr2(b'\n', b'\r', bytes) else {
        put_line(buf, prefix, empty, bytes);
        return;
    };
    // Lines still to come, if they are as long as the first (+1 for its break).
    let rest = bytes.len() - first;
    let more_lines = rest / (first + 1) + 1;
    buf.reserve(more_lines.saturating_mul(prefix.len() + 1));

    // Short lines are looked for a word at a time first (see `find_break`).
    let short_lines = first < NEAR_BREAK;
    let mut start = 0;
    let mut end = first;
    loop {
        let line = &bytes[start..end];
        if bytes[end] == b'\n' && !line.is_empty() {
            buf.put_slice(prefix);
            buf.put_slice(&bytes[start..=end]);
            start = end + 1;
        } else {
            put_line(buf, prefix, empty, line);
            start = if bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n') {
                end + 2
            } else {
                end + 1
            };
        }
        match find_break(&bytes[start..], short_lines) {
            Some(next) => end = start + next,
            None => break,
        }
    }
    put_line(buf, prefix, empty, &bytes[start..]);
}

/// How far [`find_break`] looks a word at a time before it hands the rest
/// to `memchr`.
const NEAR_BREAK: usize = 32;

/// Where the first `\n` or `\r` of `bytes` is. With `near` (the value's
/// first line was short), the first [`NEAR_BREAK`] bytes are looked at
/// eight at a time in a `u64`, which finds the end of a short line for less
/// than `memchr`'s setup (callgrind, a value of 16-byte lines: 117
/// instructions per line with `memchr` alone, 105 so); the rest, or all
/// without `near`, is searched with `memchr`.
#[inline(always)]
fn find_break(bytes: &[u8], near: bool) -> Option<usize> {
    if !near {
        return memchr2(b'\n', b'\r', bytes);
    }
    /// The bytes of `word` that are zero, as their top bit; the lowest set
    /// bit marks the first zero byte exactly.
    const fn zero_bytes(word: u64) -> u64 {
        word.wrapping_sub(0x0101_0101_0101_0101) & !word & 0x8080_8080_8080_8080
    }
    let near = bytes.len().min(NEAR_BREAK);
    let mut words = bytes[..near].chunks_exact(8);
    let mut at = 0;
    for chunk in &mut words {
        if let Ok(chunk) = <[u8; 8]>::try_from(chunk) {
            let word = u64::from_le_bytes(chunk);
            let found =
                zero_bytes(word ^ 0x0a0a_0a0a_0a0a_0a0a) | zero_bytes(word ^ 0x0d0d_0d0d_0d0d_0d0d);
            if found != 0 {
                return Some(at + (found.trailing_zeros() / 8) as usize);
            }
        }
        at += 8;
    }
    if let Some(i) = words
        .remainder()
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
    {
        return Some(at + i);
    }
    memchr2(b'\n', b'\r', &bytes[near..]).map(|i| near + i)
}

/// Texts up to this long are checked for line breaks by [`has_line_break`]
/// before any search with `memchr`, whose setup costs more than the whole
/// check of a short text (callgrind, per event of the benchmark's stream:
/// 48 instructions fewer at 64 bytes of data, 33 at 128; at 256 bytes the
/// check costs 27 more than the search).
const SHORT_TEXT: usize = 128;

/// Whether `bytes` holds a `\n` or `\r`: every byte looked at, with no
/// early exit, so that the compiler checks 16 or 32 at a time.
#[inline(always)]
fn has_line_break(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .map(|&b| u8::from(b == b'\n') | u8::from(b == b'\r'))
        .fold(0, |found, hit| found | hit)
        != 0
}

#[inline(always)]
fn put_line(buf: &mut BytesMut, prefix: &'static [u8], empty: &'static [u8], line: &[u8]) {
    if line.is_empty() {
        buf.put_slice(empty);
    } else {
        buf.put_slice(prefix);
        buf.put_slice(line);
        buf.put_u8(b'\n');
    }
}

/// The number of bytes [`encode_into`] writes for `event` when its data and
/// comments have no line break (exact then; otherwise a lower bound). Does
/// not scan the data.
#[inline]
pub(crate) fn size_hint(event: &Event) -> usize {
    let mut len = 1; // the blank line
    for comment in &event.comments {
        len += field_len(b"", comment.len());
    }
    if let Some(id) = &event.id {
        len += field_len(b"id", id.as_bytes().len());
    }
    if let Some(ty) = &event.event {
        len += field_len(b"event", ty.as_str().len());
    }
    if let Some(retry) = event.retry {
        len += field_len(b"retry", digits(retry.as_millis()));
    }
    if let Some(data) = &event.data {
        len += field_len(b"data", data.len());
    }
    len
}

/// The decimal digits of 0 to 99, two bytes each.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0u8; 200];
    let mut i: u8 = 0;
    while i < 100 {
        pairs[2 * i as usize] = b'0' + i / 10;
        pairs[2 * i as usize + 1] = b'0' + i % 10;
        i += 1;
    }
    pairs
};

/// Writes the decimal digits of `n` at the end of `buf` and returns where
/// they start (20 bytes hold any `u64`; a shorter `buf` keeps the lowest
/// digits that fit). Four digits per division by 10 000 of the `u64`, then
/// two at a time: a division by 100 and a table look-up instead of two
/// divisions by 10.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8]) -> usize {
    let mut start = buf.len();
    // Four digits per division of the `u64` while they fit, their two pairs
    // from a `u32`.
    while n >= 10_000 {
        let Some(at) = start.checked_sub(4) else {
            break;
        };
        // Below 10 000, so the cast cannot truncate.
        let four = (n % 10_000) as u32;
        let (high, low) = (2 * (four / 100) as usize, 2 * (four % 100) as usize);
        if let (Some(slot), Some(high), Some(low)) = (
            buf.get_mut(at..start),
            DIGIT_PAIRS.get(high..high + 2),
            DIGIT_PAIRS.get(low..low + 2),
        ) {
            slot[..2].copy_from_slice(high);
            slot[2..].copy_from_slice(low);
        }
        start = at;
        n /= 10_000;
    }
    while n >= 10 {
        let Some(at) = start.checked_sub(2) else {
            break;
        };
        // `n % 100` is below 100, so the cast cannot truncate.
        let pair = 2 * (n % 100) as usize;
        if let (Some(slot), Some(digits)) =
            (buf.get_mut(at..start), DIGIT_PAIRS.get(pair..pair + 2))
        {
            slot.copy_from_slice(digits);
        }
        start = at;
        n /= 100;
        if n == 0 {
            return start;
        }
    }
    if let Some(slot) = start.checked_sub(1).and_then(|at| buf.get_mut(at)) {
        // Below 10 here, unless `buf` was too short (then it is cut anyway).
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
    }
    start
}

fn digits(mut n: u128) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// Appends `event` to `buf`, reserving `hint` bytes (its [`size_hint`])
/// first.
pub(crate) fn encode_into(event: &Event, hint: usize, buf: &mut BytesMut) {
    buf.reserve(hint);
    put_fields_before_data(event, buf);
    if let Some(data) = &event.data {
        put_lines(buf, b"data: ", b"data:\n", data);
    }
    buf.put_u8(b'\n');
}

/// Comments, `id`, `event` and `retry`: every line that comes before the data.
#[inline(always)]
fn put_fields_before_data(event: &Event, buf: &mut BytesMut) {
    for comment in &event.comments {
        put_lines(buf, b": ", b":\n", comment);
    }
    if let Some(id) = &event.id {
        put_line(buf, b"id: ", b"id:\n", id.as_bytes());
    }
    if let Some(ty) = &event.event {
        put_line(buf, b"event: ", b"event:\n", ty.as_str().as_bytes());
    }
    if let Some(retry) = event.retry {
        let millis = retry.as_millis();
        if let Ok(millis) = u64::try_from(millis) {
            let mut text = [0u8; 20];
            let start = decimal(millis, &mut text);
            put_line(buf, b"retry: ", b"retry:\n", &text[start..]);
        } else {
            // Over 584 million years: only `Duration::MAX`-like values.
            put_line(buf, b"retry: ", b"retry:\n", millis.to_string().as_bytes());
        }
    }
}

/// Data of at least this many bytes in one line can be handed on as it is,
/// not copied behind its `data: ` prefix: half a batch.
pub(crate) const LONG_LINE: usize = 32 * 1024;

/// What ends a data line handed on by itself, and its event: the line's
/// `\n` and the blank line.
pub(crate) const LONG_LINE_END: &[u8] = b"\n\n";

/// Takes the data out of `event` when it is one line (no `\r`, no `\n`) of
/// at least [`LONG_LINE`] bytes, as `Bytes` over the same memory. The event
/// is then written as [`encode_head_into`], the data, and [`LONG_LINE_END`].
pub(crate) fn take_long_line(event: &mut Event) -> Option<Bytes> {
    let data = event.data.as_deref()?;
    if data.len() < LONG_LINE || memchr2(b'\n', b'\r', data.as_bytes()).is_some() {
        return None;
    }
    Some(match event.data.take()? {
        Cow::Borrowed(text) => Bytes::from_static(text.as_bytes()),
        Cow::Owned(text) => Bytes::from(text),
    })
}

/// Appends the lines of `event` that come before its data (taken by
/// [`take_long_line`]), and then `data: `.
pub(crate) fn encode_head_into(event: &Event, buf: &mut BytesMut) {
    buf.reserve(size_hint(event) + b"data: ".len());
    put_fields_before_data(event, buf);
    buf.put_slice(b"data: ");
}

/// Encodes `event` into one allocation of its own.
pub(crate) fn encode(event: &Event) -> Bytes {
    let mut buf = BytesMut::new();
    encode_into(event, size_hint(event), &mut buf);
    buf.freeze()
}

/// Encodes comment text as lone comment lines, without the blank line that
/// would end an event (used for keep-alive).
pub(crate) fn comment_lines(text: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(field_len(b"", text.len()));
    put_lines(&mut buf, b": ", b":\n", text);
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{EventId, EventType};

    /// Encodes `event` and checks it against the reference below.
    fn enc(event: &Event) -> Bytes {
        let bytes = encode(event);
        assert_eq!(bytes, reference(event), "memchr encoder vs reference");
        bytes
    }

    /// A byte-at-a-time reference encoder, written straight from the grammar.
    fn reference(event: &Event) -> Vec<u8> {
        fn lines(text: &str) -> Vec<&[u8]> {
            let bytes = text.as_bytes();
            let mut out = Vec::new();
            let (mut start, mut i) = (0, 0);
            while i < bytes.len() {
                match bytes[i] {
                    b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                        out.push(&bytes[start..i]);
                        i += 2;
                        start = i;
                    }
                    b'\r' | b'\n' => {
                        out.push(&bytes[start..i]);
                        i += 1;
                        start = i;
                    }
                    _ => i += 1,
                }
            }
            out.push(&bytes[start..]);
            out
        }
        fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
            out.extend_from_slice(name);
            out.push(b':');
            if !value.is_empty() {
                out.push(b' ');
                out.extend_from_slice(value);
            }
            out.push(b'\n');
        }
        let mut out = Vec::new();
        for comment in &event.comments {
            for line in lines(comment) {
                field(&mut out, b"", line);
            }
        }
        if let Some(id) = &event.id {
            field(&mut out, b"id", id.as_str().as_bytes());
        }
        if let Some(ty) = &event.event {
            field(&mut out, b"event", ty.as_str().as_bytes());
        }
        if let Some(retry) = event.retry {
            field(&mut out, b"retry", retry.as_millis().to_string().as_bytes());
        }
        if let Some(data) = &event.data {
            for line in lines(data) {
                field(&mut out, b"data", line);
            }
        }
        out.push(b'\n');
        out
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

    #[test]
    fn many_short_lines() {
        let data = "ab\n".repeat(1000);
        let bytes = enc(&Event::new(data.clone()).id(EventId::from_static("9")));
        let expected = format!("id: 9\n{}data:\n\n", "data: ab\n".repeat(1000));
        assert_eq!(bytes, expected.as_bytes());

        let only_breaks = "\n".repeat(500);
        let expected = format!("{}\n", "data:\n".repeat(501));
        assert_eq!(enc(&Event::new(only_breaks)), expected.as_bytes());

        let mixed = "a\r\nbb\rccc\n".repeat(300);
        enc(&Event::new(mixed));
    }

    #[test]
    fn lines_of_uneven_length_and_every_break_kind() {
        // Break kinds and line lengths cycling through awkward combinations,
        // including a `\r\n` split across the first-line estimate.
        let mut data = String::new();
        for i in 0..2000_usize {
            data.push_str(&"y".repeat(i % 37));
            data.push_str(["\n", "\r", "\r\n", "\n\r"][i % 4]);
        }
        enc(&Event::new(data.clone()));
        enc(&Event::new(format!("{data}tail")).comment(data.as_str().to_owned()));
        enc(&Event::new("\r"));
        enc(&Event::new("\r\n"));
        enc(&Event::new("x\r"));
    }

    #[test]
    fn a_break_anywhere_in_a_short_or_long_value_splits_it() {
        // Around the length up to which a value is checked whole before
        // any search: a break at each position, of each kind, in data and
        // comments.
        for len in 1..=SHORT_TEXT + 2 {
            for at in 0..len {
                for brk in ['\n', '\r'] {
                    let mut text: Vec<char> = vec!['v'; len];
                    text[at] = brk;
                    let text: String = text.into_iter().collect();
                    enc(&Event::new(text.clone()).comment(text));
                }
            }
        }
    }

    #[test]
    fn short_lines_then_long_ones_and_the_other_way_round() {
        // The first line decides how later breaks are looked for: a word at
        // a time near the line's start, then `memchr`, or `memchr` alone.
        let kinds = ["\n", "\r", "\r\n", "\n\r"];
        let lines = |lens: &mut dyn Iterator<Item = usize>| {
            let mut text = String::new();
            for (i, len) in lens.enumerate() {
                text.push_str(&"z".repeat(len));
                text.push_str(kinds[i % 4]);
            }
            text
        };
        let short_first = lines(&mut [3].into_iter().chain(25..120));
        let long_first = lines(&mut [200].into_iter().chain((0..80).rev()));
        for text in [short_first, long_first] {
            enc(&Event::new(text.clone()));
            enc(&Event::new(format!("{text}end")).comment(text));
        }
    }

    #[test]
    fn decimal_writes_every_digit_or_the_lowest_that_fit() {
        let mut powers = vec![0, u64::MAX, u64::MAX - 1];
        let mut p = 1u64;
        while let Some(next) = p.checked_mul(10) {
            powers.extend([p - 1, p, p + 1, next / 2 + 7]);
            p = next;
        }
        for n in powers
            .into_iter()
            .chain(0..1_000)
            .chain((0..64).map(|s| 1u64 << s))
        {
            let mut buf = [0u8; 20];
            let start = decimal(n, &mut buf);
            assert_eq!(&buf[start..], n.to_string().as_bytes(), "{n}");
            let text = n.to_string();
            for len in 0..text.len() {
                let mut short = vec![0u8; len];
                let start = decimal(n, &mut short);
                assert_eq!(start, 0, "{n} in {len} bytes");
                assert_eq!(
                    short,
                    text.as_bytes()[text.len() - len..],
                    "{n} in {len} bytes"
                );
            }
        }
    }

    #[test]
    fn numeric_ids_are_their_digits_and_equal_their_text() {
        use std::collections::HashSet;
        let inline_last = 999_999_999_999_999;
        for n in [
            0,
            1,
            9,
            10,
            99,
            12_345,
            inline_last,
            inline_last + 1,
            u64::MAX,
        ] {
            let id = EventId::from(n);
            assert_eq!(id.as_str(), n.to_string());
            assert_eq!(id, EventId::new(n.to_string()).unwrap());
            let text: HashSet<EventId> = [EventId::new(n.to_string()).unwrap()].into();
            assert!(text.contains(&id), "hashed as its text");
            let expected = format!("id: {n}\ndata: x\n\n");
            assert_eq!(&*enc(&Event::new("x").id(id)), expected.as_bytes());
        }
        // Ordered as text, as the ids they equal are.
        assert!(EventId::from(10) < EventId::from(9));
        assert!(EventId::from(10) < EventId::new("9").unwrap());
        // No bigger than a text id in an event.
        assert_eq!(std::mem::size_of::<EventId>(), 24);
        assert_eq!(std::mem::size_of::<Option<EventId>>(), 24);
    }

    #[test]
    fn size_hint_is_exact_without_line_breaks() {
        let event = Event::new("x".repeat(4096))
            .id(EventId::from_static("42"))
            .retry(Duration::from_millis(100))
            .comment("c");
        assert_eq!(encode(&event).len(), size_hint(&event));
    }
}
