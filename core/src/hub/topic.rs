//! One topic: its name, its position log (epoch, offsets, bounded history)
//! and its subscribers, all behind the topic's own lock.
//!
//! The log ([`Log`]) is the part a backplane replaces: it assigns positions
//! and keeps history. The fan-out ([`TopicState::subscribers`]) stays local.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::event::EncodedEvent;

use super::subscription::SubShared;

/// The longest topic name, in bytes.
pub const MAX_TOPIC_LEN: usize = 256;

/// Checks a topic name: 1 to [`MAX_TOPIC_LEN`] bytes, no control character
/// (C0, DEL or C1) and no character that would show a name as another
/// ([`is_invisible_format`]).
pub(crate) fn check_topic(name: &str) -> Result<(), TopicProblem> {
    if name.is_empty() {
        return Err(TopicProblem::Empty);
    }
    if name.len() > MAX_TOPIC_LEN {
        return Err(TopicProblem::TooLong);
    }
    for (at, c) in name.char_indices() {
        if c.is_control() {
            return Err(TopicProblem::Control(at));
        }
        if is_invisible_format(c) {
            return Err(TopicProblem::Format(at));
        }
    }
    Ok(())
}

/// A topic from the raw text of a request path (one segment, or several
/// joined by `/`): percent-decoded (`+` is itself, as in a path), with no
/// `.` or `..` segment, then checked as [`check_topic`] does.
pub(crate) fn topic_from_path(raw: &str) -> Result<Cow<'_, str>, TopicProblem> {
    // Each byte of a name takes at most three of its encoding: a longer
    // text decodes to more than `MAX_TOPIC_LEN` bytes, whatever it holds.
    if raw.len() > 3 * MAX_TOPIC_LEN {
        return Err(TopicProblem::TooLong);
    }
    let name = if raw.contains('%') {
        let mut bytes = Vec::with_capacity(raw.len());
        let mut input = raw.bytes();
        while let Some(b) = input.next() {
            if b != b'%' {
                bytes.push(b);
                continue;
            }
            let mut digit = || {
                input
                    .next()
                    .and_then(|d| char::from(d).to_digit(16))
                    .ok_or(TopicProblem::PercentEncoding)
            };
            let (high, low) = (digit()?, digit()?);
            // Two hex digits: at most 255.
            bytes.push(u8::try_from(high << 4 | low).map_err(|_| TopicProblem::PercentEncoding)?);
        }
        Cow::Owned(String::from_utf8(bytes).map_err(|_| TopicProblem::NotUtf8)?)
    } else {
        Cow::Borrowed(raw)
    };
    if name
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(TopicProblem::DotSegment);
    }
    check_topic(&name)?;
    Ok(name)
}

/// The line and paragraph separators (U+2028, U+2029: a line break to a
/// JavaScript source or a log reader) and the bidirectional formatting
/// characters (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to
/// U+2069), which make a name shown in a log, a page or a terminal read as
/// another one.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{2028}'
            | '\u{2029}'
            | '\u{061C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// Why a topic name was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TopicProblem {
    Empty,
    TooLong,
    Control(usize),
    Format(usize),
    PercentEncoding,
    NotUtf8,
    DotSegment,
}

impl fmt::Display for TopicProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("invalid topic: empty"),
            Self::TooLong => write!(f, "invalid topic: longer than {MAX_TOPIC_LEN} bytes"),
            Self::Control(at) => write!(f, "invalid topic: control character at byte {at}"),
            Self::Format(at) => write!(
                f,
                "invalid topic: line separator or bidirectional formatting character at byte {at}"
            ),
            Self::PercentEncoding => f.write_str("invalid topic: bad percent-encoding"),
            Self::NotUtf8 => f.write_str("invalid topic: not UTF-8 once percent-decoded"),
            Self::DotSegment => f.write_str(
                "invalid topic: a `.` or `..` segment, which browsers remove from a path",
            ),
        }
    }
}

/// An epoch: 12 lowercase hex digits, minted when a topic's log starts (or,
/// with a [`Backplane`](super::Backplane), when the backplane's does), the
/// first part of every position `<epoch>-<offset>`.
///
/// ```
/// use ssekit::hub::Epoch;
/// let epoch = Epoch::mint();
/// assert_eq!(epoch.to_string().len(), 12);
/// assert_eq!(Epoch::parse(&epoch.to_string()), Some(epoch));
/// assert_eq!(Epoch::parse("not-an-epoch"), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Epoch(u64);

impl Epoch {
    const DIGITS: usize = 12;
    const MASK: u64 = (1 << 48) - 1;

    /// A new epoch: random per process (std's randomly keyed hasher), mixed
    /// with the time and a counter so that two in one process differ.
    #[must_use]
    pub fn mint() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut hasher = std::hash::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        hasher.write_u128(nanos);
        Self(hasher.finish() & Self::MASK)
    }

    /// Parses exactly 12 lowercase hex digits; anything else is `None`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != Self::DIGITS
            || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(Self)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012x}", self.0)
    }
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A position in a topic, `<epoch>-<offset>`: what every event's `id` is.
/// Offset 0 is the position before the epoch's first event.
///
/// ```
/// use ssekit::hub::{Epoch, Position};
/// let epoch = Epoch::mint();
/// let p = Position::new(epoch, 7);
/// assert_eq!(p.to_string(), format!("{epoch}-7"));
/// assert_eq!(Position::parse(&p.to_string()), Some(p));
/// assert_eq!(Position::parse("7"), None);
/// let event = p.encode_with_id(&ssekit::Event::new("hi").encode());
/// assert_eq!(&*event, format!("id: {p}\ndata: hi\n\n").as_bytes());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    pub(crate) epoch: Epoch,
    pub(crate) offset: u64,
}

impl Position {
    /// The longest offset text: `u64::MAX` has 20 digits.
    const MAX_OFFSET_DIGITS: usize = 20;

    /// The position `offset` of `epoch`.
    #[must_use]
    pub const fn new(epoch: Epoch, offset: u64) -> Self {
        Self { epoch, offset }
    }

    /// The epoch.
    #[must_use]
    pub const fn epoch(self) -> Epoch {
        self.epoch
    }

    /// The offset: 1 for an epoch's first event (0 before it).
    #[must_use]
    pub const fn offset(self) -> u64 {
        self.offset
    }

    /// The position as an event id.
    #[must_use]
    pub fn id(self) -> crate::EventId {
        super::position_id(self)
    }

    /// `id: <position>\n` followed by `body` (an encoded event without an
    /// `id` line): the bytes the hub stores and sends for the event at this
    /// position, written in one allocation.
    #[must_use]
    pub fn encode_with_id(self, body: &EncodedEvent) -> EncodedEvent {
        super::with_id(self, body)
    }

    /// Parses `<12 hex digits>-<decimal offset>`; anything else is `None`.
    /// Costs at most one pass over the text, never panics.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (epoch, offset) = text.split_once('-')?;
        let epoch = Epoch::parse(epoch)?;
        if offset.is_empty()
            || offset.len() > Self::MAX_OFFSET_DIGITS
            || !offset.bytes().all(|b| b.is_ascii_digit())
            || (offset.len() > 1 && offset.starts_with('0'))
        {
            return None;
        }
        // Overflowing digits fail here, as `None`.
        let offset = offset.parse::<u64>().ok()?;
        Some(Self { epoch, offset })
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.offset)
    }
}

/// The bounds of one topic's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) history_events: usize,
    pub(crate) history_bytes: usize,
    pub(crate) replay_events: usize,
    pub(crate) replay_bytes: usize,
}

/// A topic's position log: the epoch, the last offset given out and the
/// history of the most recent events, contiguous by offset.
///
/// Offsets start at 1; offset 0 is the position "before the first event",
/// so `<epoch>-0` is a valid place to resume from.
pub(crate) struct Log {
    pub(crate) epoch: Epoch,
    /// The offset of the last published event (0: none yet).
    pub(crate) top: u64,
    /// Events `first..=top`, where `first = top + 1 - history.len()`.
    history: VecDeque<EncodedEvent>,
    history_bytes: usize,
}

/// What a join finds in the log for a `Last-Event-ID`.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Replay these (possibly none), then live.
    Resume(Vec<EncodedEvent>),
    /// Start live after a reset, for this reason.
    Reset(super::ResetReason),
}

impl Log {
    pub(crate) fn new() -> Self {
        Self::after(Position {
            epoch: Epoch::mint(),
            offset: 0,
        })
    }

    /// A log with no history that goes on after `top`.
    pub(crate) fn after(top: Position) -> Self {
        Self {
            epoch: top.epoch,
            top: top.offset,
            history: VecDeque::new(),
            history_bytes: 0,
        }
    }

    /// The position of the last event (`<epoch>-0` before the first).
    pub(crate) fn top_position(&self) -> Position {
        Position {
            epoch: self.epoch,
            offset: self.top,
        }
    }

    /// The next position; `None` only after 2^64 - 1 events.
    pub(crate) fn next_position(&self) -> Option<Position> {
        Some(Position {
            epoch: self.epoch,
            offset: self.top.checked_add(1)?,
        })
    }

    /// Appends the event encoded at [`Log::next_position`], then trims the
    /// history to its bounds (oldest first).
    pub(crate) fn append(&mut self, event: EncodedEvent, limits: &Limits) {
        self.top = self.top.saturating_add(1);
        if limits.history_events == 0 || event.len() > limits.history_bytes {
            self.clear_history();
            return;
        }
        self.history_bytes = self.history_bytes.saturating_add(event.len());
        self.history.push_back(event);
        while self.history.len() > limits.history_events
            || self.history_bytes > limits.history_bytes
        {
            match self.history.pop_front() {
                Some(old) => self.history_bytes = self.history_bytes.saturating_sub(old.len()),
                None => break,
            }
        }
    }

    pub(crate) fn clear_history(&mut self) {
        self.history.clear();
        self.history_bytes = 0;
    }

    /// Whether the history holds anything.
    pub(crate) fn has_history(&self) -> bool {
        !self.history.is_empty()
    }

    /// Events and bytes in the history.
    pub(crate) fn history_size(&self) -> (usize, usize) {
        (self.history.len(), self.history_bytes)
    }

    /// The first offset the history holds (`top + 1` when it is empty).
    fn first(&self) -> u64 {
        // history.len() <= top, always: every entry was given an offset.
        self.top
            .saturating_add(1)
            .saturating_sub(self.history.len() as u64)
    }

    /// The events after `after`, if they can all be replayed within the
    /// caps; found by index arithmetic on offsets, never by a scan.
    pub(crate) fn lookup(&self, after: &str, limits: &Limits) -> Lookup {
        use super::ResetReason;
        let (position, missed) = match behind(after, self.top_position()) {
            Ok(behind) => behind,
            Err(lookup) => return lookup,
        };
        if position.offset.saturating_add(1) < self.first() {
            return Lookup::Reset(ResetReason::TooOld);
        }
        if missed > limits.replay_events as u64 {
            return Lookup::Reset(ResetReason::ReplayLimit);
        }
        // missed <= history.len(), since offset + 1 >= first.
        let Ok(missed) = usize::try_from(missed) else {
            return Lookup::Reset(ResetReason::ReplayLimit);
        };
        let start = self.history.len().saturating_sub(missed);
        let mut bytes = 0usize;
        let mut replay = Vec::with_capacity(missed);
        for event in self.history.range(start..) {
            bytes = bytes.saturating_add(event.len());
            if bytes > limits.replay_bytes {
                return Lookup::Reset(ResetReason::ReplayLimit);
            }
            replay.push(event.clone());
        }
        Lookup::Resume(replay)
    }
}

/// How far a `Last-Event-ID` is behind a topic at `top`: its position and
/// the number of events after it (`position.offset + 1 ..= top`, at least
/// one), or the answer it gets at once: nothing to replay, or a reset
/// (malformed, another epoch, from the future). Used by the in-memory log
/// and by a join on a backplane alike.
pub(crate) fn behind(after: &str, top: Position) -> Result<(Position, u64), Lookup> {
    use super::ResetReason;
    let Some(position) = Position::parse(after) else {
        return Err(Lookup::Reset(ResetReason::Malformed));
    };
    if position.epoch != top.epoch {
        return Err(Lookup::Reset(ResetReason::UnknownEpoch));
    }
    if position.offset > top.offset {
        return Err(Lookup::Reset(ResetReason::Future));
    }
    match top.offset - position.offset {
        0 => Err(Lookup::Resume(Vec::new())),
        missed => Ok((position, missed)),
    }
}

/// Where released topics stood, by the hash of the topic's name (the hub's
/// keyed hasher), so that such a topic, used again, goes on from there: in
/// the same epoch, after the same offset. A subscriber that left with the
/// position marker `<epoch>-0` of a topic released before its first event,
/// or with the id of its last event, then resumes with no gap, however long
/// the topic was gone; one further behind gets `too_old`, as the history
/// went with the topic. No position is given twice. Bounded: past `cap`,
/// the oldest is forgotten (its topic then starts a new epoch, and its
/// subscribers get `unknown_epoch`). A colliding hash can only make a new
/// topic go on from another's position, which none of its subscribers has
/// seen.
#[derive(Default)]
pub(crate) struct Released {
    /// Where each topic stood, and when it was kept (its `order` entry).
    by_name: HashMap<u64, (Position, u64)>,
    /// `(name, when)`, oldest first. An entry whose topic was taken back
    /// or kept again since stays until it comes round, or until the deque
    /// is compacted (at twice the cap), so that both `keep` and `take` are
    /// O(1) amortised.
    order: VecDeque<(u64, u64)>,
    /// The next `when`.
    next: u64,
}

impl Released {
    /// Keeps where a released topic stood, forgetting the oldest beyond
    /// `cap`.
    pub(crate) fn keep(&mut self, name: u64, top: Position, cap: usize) {
        if cap == 0 {
            return;
        }
        let when = self.next;
        self.next = self.next.wrapping_add(1);
        self.by_name.insert(name, (top, when));
        self.order.push_back((name, when));
        while self.by_name.len() > cap {
            let Some((oldest, kept)) = self.order.pop_front() else {
                break;
            };
            if self.by_name.get(&oldest).is_some_and(|&(_, w)| w == kept) {
                self.by_name.remove(&oldest);
            }
        }
        if self.order.len() > cap.saturating_mul(2) {
            let by_name = &self.by_name;
            self.order
                .retain(|(name, when)| by_name.get(name).is_some_and(|&(_, w)| w == *when));
        }
    }

    /// Where a topic stood, taken out (the topic is back).
    pub(crate) fn take(&mut self, name: u64) -> Option<Position> {
        self.by_name.remove(&name).map(|(top, _)| top)
    }

    /// How many are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }

    /// How long the order is (live entries and those taken back since).
    #[cfg(test)]
    pub(crate) fn order_len(&self) -> usize {
        self.order.len()
    }
}

/// A topic: its log and its local subscribers, behind one lock.
pub(crate) struct Topic {
    pub(crate) name: Arc<str>,
    pub(crate) state: std::sync::Mutex<TopicState>,
}

/// What a topic's lock guards.
pub(crate) struct TopicState {
    pub(crate) log: Log,
    /// Local subscribers; each knows its index (`SubShared::slot`).
    pub(crate) subscribers: Vec<Arc<SubShared>>,
    /// Set when the topic left its shard's map: users must look it up again.
    pub(crate) removed: bool,
    /// Whether events went to its subscribers since the keep-alive thread
    /// last looked (see `heartbeat`).
    pub(crate) wrote: bool,
    /// Since when the keep-alive thread counts the topic quiet.
    pub(crate) quiet_since: Option<std::time::Instant>,
    /// Whether an event was published since the expiry last looked (see
    /// `HubBuilder::history_ttl`).
    pub(crate) published: bool,
    /// Since when the expiry counts the topic unpublished.
    pub(crate) stale_since: Option<std::time::Instant>,
    /// When it was last published or subscribed to, with
    /// `HubBuilder::evict_idle_topics` (else `None`).
    pub(crate) used: Option<std::time::Instant>,
    /// With a backplane: the position of the last event fanned out (`None`
    /// until a join's read tells it).
    pub(crate) fed: Option<Position>,
    /// With a backplane: the position `fed` was first set to, where the
    /// queues of subscribers registered before it start.
    pub(crate) synced_at: Option<Position>,
}

impl TopicState {
    /// Adds a subscriber, recording its slot.
    pub(crate) fn add(&mut self, sub: Arc<SubShared>) {
        sub.slot.store(self.subscribers.len(), Ordering::Relaxed);
        self.subscribers.push(sub);
    }

    /// Removes the subscriber at `slot` (if it is `sub`) in O(1).
    pub(crate) fn remove(&mut self, sub: &Arc<SubShared>) -> bool {
        let slot = sub.slot.load(Ordering::Relaxed);
        if self
            .subscribers
            .get(slot)
            .is_none_or(|s| !Arc::ptr_eq(s, sub))
        {
            return false;
        }
        self.subscribers.swap_remove(slot);
        if let Some(moved) = self.subscribers.get(slot) {
            moved.slot.store(slot, Ordering::Relaxed);
        }
        sub.slot.store(usize::MAX, Ordering::Relaxed);
        true
    }

    /// Whether the topic can be released: no subscriber, no history.
    pub(crate) fn is_idle(&self) -> bool {
        self.subscribers.is_empty() && !self.log.has_history()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use crate::hub::ResetReason;

    const LIMITS: Limits = Limits {
        history_events: 4,
        history_bytes: 1 << 20,
        replay_events: 3,
        replay_bytes: 1 << 20,
    };

    fn log_with(n: u64) -> Log {
        let mut log = Log::new();
        for i in 1..=n {
            log.append(Event::new(i.to_string()).encode(), &LIMITS);
        }
        log
    }

    fn replayed(lookup: Lookup) -> Vec<String> {
        match lookup {
            Lookup::Resume(events) => events
                .iter()
                .map(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
                .collect(),
            Lookup::Reset(reason) => panic!("reset: {reason:?}"),
        }
    }

    fn reset(lookup: Lookup) -> ResetReason {
        match lookup {
            Lookup::Reset(reason) => reason,
            Lookup::Resume(events) => panic!("resumed with {events:?}"),
        }
    }

    #[test]
    fn topic_names() {
        assert!(check_topic("room-1/α").is_ok());
        assert_eq!(check_topic(""), Err(TopicProblem::Empty));
        assert_eq!(check_topic(&"a".repeat(257)), Err(TopicProblem::TooLong));
        assert!(check_topic(&"a".repeat(256)).is_ok());
        assert_eq!(check_topic("a\nb"), Err(TopicProblem::Control(1)));
        assert_eq!(check_topic("\u{7f}"), Err(TopicProblem::Control(0)));
    }

    #[test]
    fn topics_from_paths() {
        let ok = |raw: &str| topic_from_path(raw).map(Cow::into_owned);
        assert_eq!(ok("lobby"), Ok("lobby".to_owned()));
        assert!(matches!(topic_from_path("lobby"), Ok(Cow::Borrowed(_))));
        assert_eq!(ok("caf%C3%A9"), Ok("café".to_owned()));
        assert_eq!(ok("%61bc"), Ok("abc".to_owned()));
        assert_eq!(ok("a+b"), Ok("a+b".to_owned()));
        assert_eq!(ok("a%2Fb/c"), Ok("a/b/c".to_owned()));
        assert_eq!(ok("a..b/.c/d."), Ok("a..b/.c/d.".to_owned()));
        for (raw, problem) in [
            ("a%2", TopicProblem::PercentEncoding),
            ("a%", TopicProblem::PercentEncoding),
            ("a%zz", TopicProblem::PercentEncoding),
            ("a%+1", TopicProblem::PercentEncoding),
            ("%FF", TopicProblem::NotUtf8),
            ("%C3", TopicProblem::NotUtf8),
            (".", TopicProblem::DotSegment),
            ("..", TopicProblem::DotSegment),
            ("a/../b", TopicProblem::DotSegment),
            ("a/%2e", TopicProblem::DotSegment),
            ("%2E%2e/b", TopicProblem::DotSegment),
            ("", TopicProblem::Empty),
            ("%0A", TopicProblem::Control(0)),
            ("a%E2%80%AE", TopicProblem::Format(1)),
            ("a%00", TopicProblem::Control(1)),
        ] {
            assert_eq!(topic_from_path(raw), Err(problem), "{raw}");
        }
        // The longest name, encoded in full, and one byte more.
        let longest = "%41".repeat(MAX_TOPIC_LEN);
        assert_eq!(ok(&longest), Ok("A".repeat(MAX_TOPIC_LEN)));
        assert_eq!(
            topic_from_path(&format!("{longest}A")),
            Err(TopicProblem::TooLong)
        );
        // Far longer: refused before any decoding.
        assert_eq!(
            topic_from_path(&"%".repeat(100_000)),
            Err(TopicProblem::TooLong)
        );
    }

    #[test]
    fn positions_parse_strictly() {
        let epoch = Epoch::mint();
        let ok = Position::parse(&format!("{epoch}-42")).unwrap();
        assert_eq!(ok.offset, 42);
        assert_eq!(ok.epoch, epoch);
        assert_eq!(Position::parse(&format!("{epoch}-0")).unwrap().offset, 0);
        let max = format!("{epoch}-{}", u64::MAX);
        assert_eq!(Position::parse(&max).unwrap().offset, u64::MAX);
        for bad in [
            String::new(),
            "42".to_owned(),
            format!("{epoch}"),
            format!("{epoch}-"),
            format!("{epoch}--1"),
            format!("{epoch}-+1"),
            format!("{epoch}-01"),
            format!("{epoch}-18446744073709551616"),
            format!("{epoch}-99999999999999999999999999"),
            format!("{epoch}- 1"),
            // Upper-case hex (a minted epoch may have no letter to raise).
            "0123456789AB-1".to_owned(),
            "0123456789ab0-1".to_owned(),
            "-1".to_owned(),
            "x".repeat(4096),
            format!("{epoch}-{}", "9".repeat(4000)),
        ] {
            assert_eq!(Position::parse(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn epochs_differ() {
        let a = Epoch::mint();
        let b = Epoch::mint();
        assert_ne!(a, b);
        assert_eq!(a.to_string().len(), 12);
    }

    #[test]
    fn offsets_are_contiguous_and_history_bounded_in_events() {
        let log = log_with(6);
        assert_eq!(log.top, 6);
        assert_eq!(log.history_size().0, 4);
        assert_eq!(log.first(), 3);
        let p = |o: u64| format!("{}-{o}", log.epoch);
        assert_eq!(
            replayed(log.lookup(&p(4), &LIMITS)),
            ["data: 5\n\n", "data: 6\n\n"]
        );
        assert!(replayed(log.lookup(&p(6), &LIMITS)).is_empty());
        assert_eq!(reset(log.lookup(&p(7), &LIMITS)), ResetReason::Future);
        assert_eq!(reset(log.lookup(&p(1), &LIMITS)), ResetReason::TooOld);
        // 3..=6 is in history but 4 events exceed the replay cap of 3.
        assert_eq!(reset(log.lookup(&p(2), &LIMITS)), ResetReason::ReplayLimit);
        assert_eq!(
            reset(log.lookup("000000000000-5", &LIMITS)),
            ResetReason::UnknownEpoch
        );
        assert_eq!(reset(log.lookup("nope", &LIMITS)), ResetReason::Malformed);
    }

    #[test]
    fn history_bounded_in_bytes_and_replay_capped_in_bytes() {
        let limits = Limits {
            history_events: 100,
            history_bytes: 30,
            replay_events: 100,
            replay_bytes: 20,
        };
        let mut log = Log::new();
        for i in 0..5 {
            // "data: N\n\n" is 9 bytes.
            log.append(Event::new(i.to_string()).encode(), &limits);
        }
        assert_eq!(log.history_size(), (3, 27));
        let epoch = log.epoch;
        let p = |o: u64| format!("{epoch}-{o}");
        assert_eq!(replayed(log.lookup(&p(3), &limits)).len(), 2);
        assert_eq!(reset(log.lookup(&p(2), &limits)), ResetReason::ReplayLimit);
        // An event bigger than the whole history empties it.
        log.append(Event::new("x".repeat(40)).encode(), &limits);
        assert_eq!(log.history_size(), (0, 0));
        assert_eq!(reset(log.lookup(&p(5), &limits)), ResetReason::TooOld);
        assert!(replayed(log.lookup(&p(6), &limits)).is_empty());
    }
}
