//! A Redis backplane for [`ssekit::Hub`]: several instances of a service
//! share each topic's positions, history and live events, so that a browser
//! reconnecting to any instance resumes with no gap and no duplicate.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ssekit_redis::RedisError> {
//! // Needs a tokio runtime; connects lazily (Redis may be down at start).
//! let backplane = ssekit_redis::RedisBackplane::builder("redis://127.0.0.1:6379")
//!     .publish_timeout(std::time::Duration::from_secs(2))
//!     .build()?;
//! let hub = ssekit::Hub::builder().backplane(backplane).build();
//! // Subscribe as with the in-memory hub; publish with `publish_async`:
//! // `hub.publish_async("room", "hello").await?` resolves to the event's
//! // position `<epoch>-<offset>`, identical on every instance.
//! # drop(hub); Ok(()) }
//! ```
//!
//! # How
//!
//! Per topic, Redis holds a hash `<prefix>meta:<topic>` (`epoch`, `top`) and
//! a stream `<prefix>log:<topic>` (the history, entry id `<offset>-0`, one
//! field `e`: the encoded event with its `id:` line). One Lua script per
//! publish mints the epoch if the hash is missing, increments the offset,
//! `XADD`s the event with a `MAXLEN` cap, refreshes both keys' expiry and
//! `PUBLISH`es the same bytes on `<prefix>live:<topic>` (`<prefix>live@<db>:<topic>`
//! on a database other than 0: Pub/Sub channels are shared by all of a
//! server's databases, so two apps on two databases would hear each other).
//! A join reads the top and the missed events with a second script
//! (`XRANGE`), atomically, and mints the epoch too if the hash is missing:
//! so a subscribe alone, before any publish, makes the hash (expiring
//! after [`RedisBuilder::history_ttl`]), which keeps the position marker of
//! a topic's first subscribers valid.
//! Every instance subscribes, on one dedicated Pub/Sub connection, to the
//! channels of the topics it has subscribers for; commands go through a
//! multiplexed [`redis::aio::ConnectionManager`].
//!
//! # Guarantees, and their limits
//!
//! | what | guarantee |
//! |------|-----------|
//! | ids | one epoch and one contiguous offset per topic, assigned by Redis: the same `<epoch>-<offset>` on every instance |
//! | live delivery | Pub/Sub is at-most-once; the hub delivers an event only if it is the last one's successor, a gap is filled from the stream before anything after it, and every [`RedisBuilder::check_interval`] the top of each watched topic is compared, which catches a lost last message |
//! | resume | on any instance, exactly the events after `Last-Event-ID` while the stream holds them ([`RedisBuilder::history_events`], [`RedisBuilder::history_ttl`]); else `reset` |
//! | Redis down | [`Hub::publish_async`](ssekit::Hub::publish_async) fails with a typed error within [`RedisBuilder::publish_timeout`]; open streams stay open (keep-alives go on); the Pub/Sub connection (checked with a `PING` every [`RedisBuilder::ping_interval`], so a silently dropped one is found too) reconnects with backoff up to [`RedisBuilder::max_backoff`], resubscribes and catches up every topic; a join while Redis is down ends its stream, and the browser retries |
//! | Redis lost its data | (restart without persistence, eviction, expiry) the next publish or read mints a new epoch: open streams of that topic end, resuming clients get `reset` (`unknown_epoch`), never a wrong event |
//! | Redis restarted or failed over | (its `run_id` changed) the same: each topic's next publish or read mints a new epoch, whatever Redis kept, unless [`RedisBuilder::keep_epochs_across_restarts`] |
//!
//! Why a restart is a new epoch: a Redis that comes back with *older* data
//! (RDB snapshots, Redis's default configuration, after a crash; AOF with
//! `appendfsync everysec`, which may lose the last second; a failover to an
//! asynchronous replica that had not received the tail) still holds the
//! topic's epoch, and with it the same epoch would give the lost offsets
//! again to new events: a client that saw the lost ones, resuming once the
//! new ones passed its id, would miss them without a `reset`. The scripts
//! read the `run_id` (`INFO server`, about 10 µs of Redis's time per
//! publish or read; a Redis user whose ACL forbids `INFO` gets an error from
//! every publish: allow it `+info`) and keep it with the epoch. With
//! [`RedisBuilder::keep_epochs_across_restarts`], for a Redis that loses
//! nothing it acknowledged (`appendfsync always`, no failover to a lagging
//! replica; `WAIT` is not used), a topic keeps its epoch and its history
//! across restarts: a restart then costs nothing, and a Redis that comes
//! back older is the case above again. A publish that timed out may still
//! have been applied. Keys use no cluster hash tags: one Redis (or a
//! primary with replicas), not Redis Cluster. Offsets are exact up to 2^53.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ssekit::EncodedEvent;
use ssekit::hub::backplane::stored_event;
use ssekit::hub::{
    Backplane, BackplaneError, BoxFuture, Delivery, Epoch, Feed, Position, Snapshot,
};
use tokio::sync::mpsc;

/// The start of both scripts: the topic's epoch in `epoch`, minted (ARGV[1],
/// the history deleted, `minted` true) if it has none, or if Redis restarted
/// since it was minted (its `run_id` changed) unless `keep` is `1` (set by
/// the script before this). One piece of Lua, so that a publish and a read
/// always agree on when an epoch is stale.
const EPOCH: &str = r"
local run = ''
if keep ~= '1' then
  run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if epoch and (redis.call('HGET', KEYS[1], 'run') or '') ~= run then
  epoch = false
end
local minted = not epoch
if minted then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0, 'run', run)
end
";

/// One publish, after [`EPOCH`] (`keep` is ARGV[6]): offset, history,
/// expiry, live.
const PUBLISH: &str = r"
local top = string.format('%d', redis.call('HINCRBY', KEYS[1], 'top', 1))
local event = 'id: ' .. epoch .. '-' .. top .. '\n' .. ARGV[2]
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], top .. '-0', 'e', event)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[5], event)
return {epoch, top}
";

/// One read, after [`EPOCH`] (`keep` is ARGV[7]; a minted epoch is the same
/// for every instance): the top, and the events after ARGV[2]-ARGV[3] if
/// that is in the epoch and at most ARGV[4] behind; only `over` instead of
/// them when they hold more than ARGV[6] bytes.
const READ: &str = r"
if minted then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
local top = redis.call('HGET', KEYS[1], 'top')
local out = {epoch, top}
if ARGV[2] == epoch then
  local after = tonumber(ARGV[3])
  local t = tonumber(top)
  if after < t and t - after <= tonumber(ARGV[4]) then
    local entries = redis.call('XRANGE', KEYS[2], string.format('%d', after + 1), '+', 'COUNT', ARGV[4])
    local size = 0
    local max = tonumber(ARGV[6])
    for _, entry in ipairs(entries) do
      size = size + #entry[2][2]
      if size > max then
        return {epoch, top, 'over'}
      end
      table.insert(out, entry[1])
      table.insert(out, entry[2][2])
    end
  end
end
return out
";

/// An error building a [`RedisBackplane`]: a bad URL, or no tokio runtime.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let err = ssekit_redis::RedisBackplane::builder("nope://x").build().unwrap_err();
/// assert!(err.to_string().starts_with("ssekit-redis: "));
/// # }
/// ```
#[derive(Debug)]
pub struct RedisError(ErrorKind);

#[derive(Debug)]
enum ErrorKind {
    Redis(redis::RedisError),
    NoRuntime,
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ErrorKind::Redis(err) => write!(f, "ssekit-redis: {err}"),
            ErrorKind::NoRuntime => {
                f.write_str("ssekit-redis: build must run inside a tokio runtime")
            }
        }
    }
}

impl std::error::Error for RedisError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            ErrorKind::Redis(err) => Some(err),
            ErrorKind::NoRuntime => None,
        }
    }
}

/// Builds a [`RedisBackplane`]; every setting has a default.
///
/// ```
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ssekit_redis::RedisError> {
/// let backplane = ssekit_redis::RedisBackplane::builder("redis://127.0.0.1:6379/0")
///     .prefix("myapp:sse:")
///     .history_events(1_000)
///     .history_ttl(Duration::from_secs(24 * 3600))
///     .publish_timeout(Duration::from_secs(2))
///     .check_interval(Duration::from_secs(1))
///     .max_backoff(Duration::from_secs(5))
///     .build()?;
/// # drop(backplane); Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct RedisBuilder {
    url: String,
    config: Config,
}

#[derive(Clone, Debug)]
struct Config {
    prefix: String,
    history_events: u64,
    history_ttl: Duration,
    timeout: Duration,
    check_interval: Duration,
    ping_interval: Duration,
    max_backoff: Duration,
    keep_epochs: bool,
}

impl RedisBuilder {
    /// The prefix of every key and channel (default `ssekit:`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.prefix = prefix.into();
        self
    }

    /// Most events kept per topic in its Redis stream (default 1 000, at
    /// least 1): the `MAXLEN` of every `XADD`. It bounds a topic's history
    /// in events, not in bytes: bound the size of what you publish, and the
    /// topics clients can publish to (each is keys in Redis until
    /// [`RedisBuilder::history_ttl`] after its last publish).
    pub fn history_events(mut self, n: u64) -> Self {
        self.config.history_events = n.max(1);
        self
    }

    /// How long a topic's keys live after its last publish (default one
    /// day, at least one second); after that its next use starts a new
    /// epoch.
    pub fn history_ttl(mut self, ttl: Duration) -> Self {
        self.config.history_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// How long a publish, a join's read or a catch-up may wait for Redis
    /// (default 2 s): then it fails with
    /// [`BackplaneError::is_timeout`].
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// How often the top of every watched topic is compared with what the
    /// hub delivered (default 1 s), to catch a lost last message.
    pub fn check_interval(mut self, every: Duration) -> Self {
        self.config.check_interval = every.max(Duration::from_millis(10));
        self
    }

    /// How often the Pub/Sub connection is checked with a `PING` (default
    /// 5 s). One not answered within [`RedisBuilder::publish_timeout`] ends
    /// the connection, which is made again, resubscribed and caught up: this
    /// finds a connection that a NAT, firewall or load balancer dropped
    /// without closing it, which would otherwise leave live events to the
    /// periodic [`RedisBuilder::check_interval`].
    pub fn ping_interval(mut self, every: Duration) -> Self {
        self.config.ping_interval = every.max(Duration::from_millis(10));
        self
    }

    /// The longest wait between two attempts to reconnect the Pub/Sub
    /// connection (default 5 s; the first is after 50 ms, doubling).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.config.max_backoff = max;
        self
    }

    /// Whether a topic keeps its epoch, and so its history and its clients'
    /// positions, when Redis restarts or fails over (default `false`).
    ///
    /// By default each topic starts a new epoch at its first publish or
    /// read after Redis's `run_id` changed: its open streams end and
    /// resuming clients get `reset`. A Redis that comes back with older data
    /// (RDB snapshots after a crash, `appendfsync everysec`, a lagging
    /// replica promoted) would otherwise give the offsets it lost to new
    /// events, and a client that saw the lost ones could miss the new ones
    /// without a `reset`. Set it only for a Redis that loses nothing it
    /// acknowledged (`appendfsync always`, no failover to a lagging
    /// replica): then a restart costs nothing.
    pub fn keep_epochs_across_restarts(mut self, keep: bool) -> Self {
        self.config.keep_epochs = keep;
        self
    }

    /// Makes the backplane and starts its two tasks (the Pub/Sub
    /// connection, the catch-up worker) on the current tokio runtime. It
    /// connects lazily: Redis may be down now.
    ///
    /// # Errors
    ///
    /// An invalid URL, or no tokio runtime.
    pub fn build(self) -> Result<RedisBackplane, RedisError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| RedisError(ErrorKind::NoRuntime))?;
        let client =
            redis::Client::open(self.url.as_str()).map_err(|e| RedisError(ErrorKind::Redis(e)))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.config.timeout))
            .set_response_timeout(Some(self.config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.config.max_backoff);
        let conn = client
            .get_connection_manager_lazy(manager_config)
            .map_err(|e| RedisError(ErrorKind::Redis(e)))?;
        // Pub/Sub channels are one namespace for the whole server, across
        // its databases: the database is part of the channel's name, so
        // that apps on two databases of one Redis do not hear each other.
        let channel_prefix = match client.get_connection_info().redis_settings().db() {
            0 => format!("{}live:", self.config.prefix),
            db => format!("{}live@{db}:", self.config.prefix),
        };
        let core = Arc::new(Core {
            client,
            channel_prefix,
            conn,
            publish: redis::Script::new(&format!("local keep = ARGV[6]{EPOCH}{PUBLISH}")),
            read: redis::Script::new(&format!("local keep = ARGV[7]{EPOCH}{READ}")),
            config: self.config,
            feed: OnceLock::new(),
        });
        let (control, control_rx) = mpsc::unbounded_channel();
        let (catch_up, catch_up_rx) = mpsc::unbounded_channel();
        runtime.spawn(live(Arc::clone(&core), control_rx, catch_up.clone()));
        runtime.spawn(catch_up_worker(Arc::clone(&core), catch_up_rx));
        Ok(RedisBackplane {
            core,
            control,
            catch_up,
        })
    }
}

/// A [`Backplane`] on Redis; give it to
/// [`HubBuilder::backplane`](ssekit::HubBuilder::backplane). See [the
/// crate docs](crate) for how and what it guarantees.
pub struct RedisBackplane {
    core: Arc<Core>,
    control: mpsc::UnboundedSender<Control>,
    catch_up: mpsc::UnboundedSender<String>,
}

impl fmt::Debug for RedisBackplane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackplane")
            .field("config", &self.core.config)
            .finish_non_exhaustive()
    }
}

impl RedisBackplane {
    /// A builder for the Redis at `url` (`redis://[user:password@]host:port[/db]`).
    pub fn builder(url: impl Into<String>) -> RedisBuilder {
        RedisBuilder {
            url: url.into(),
            config: Config {
                prefix: "ssekit:".to_owned(),
                history_events: 1_000,
                history_ttl: Duration::from_secs(24 * 3600),
                timeout: Duration::from_secs(2),
                check_interval: Duration::from_secs(1),
                ping_interval: Duration::from_secs(5),
                max_backoff: Duration::from_secs(5),
                keep_epochs: false,
            },
        }
    }
}

/// What the backplane's tasks share (no channel senders: when the
/// backplane is dropped with its hub, the channels close and the tasks end).
struct Core {
    client: redis::Client,
    /// What precedes a topic in its channel's name.
    channel_prefix: String,
    conn: ConnectionManager,
    publish: redis::Script,
    read: redis::Script,
    config: Config,
    feed: OnceLock<Feed>,
}

enum Control {
    Watch(String),
    Unwatch(String),
}

impl Core {
    fn meta_key(&self, topic: &str) -> String {
        format!("{}meta:{topic}", self.config.prefix)
    }
    fn log_key(&self, topic: &str) -> String {
        format!("{}log:{topic}", self.config.prefix)
    }
    fn channel(&self, topic: &str) -> String {
        format!("{}{topic}", self.channel_prefix)
    }
    fn ttl_secs(&self) -> u64 {
        self.config.history_ttl.as_secs().max(1)
    }

    async fn publish(&self, topic: &str, event: &EncodedEvent) -> Result<Position, BackplaneError> {
        let mut conn = self.conn.clone();
        let mut invocation = self.publish.key(self.meta_key(topic));
        invocation
            .key(self.log_key(topic))
            .arg(Epoch::mint().to_string())
            .arg(event.as_bytes())
            .arg(self.config.history_events)
            .arg(self.ttl_secs())
            .arg(self.channel(topic))
            .arg(u8::from(self.config.keep_epochs));
        let call = invocation.invoke_async::<(String, String)>(&mut conn);
        let (epoch, top) = tokio::time::timeout(self.config.timeout, call)
            .await
            .map_err(|_| BackplaneError::timeout("publish"))?
            .map_err(|e| redis_error("publish", &e))?;
        position(&epoch, &top).ok_or_else(|| BackplaneError::failed(&Unexpected("publish")))
    }

    async fn read(
        &self,
        topic: &str,
        after: Option<Position>,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Snapshot, BackplaneError> {
        let mut conn = self.conn.clone();
        let (after_epoch, after_offset) =
            after.map_or((String::new(), 0), |p| (p.epoch().to_string(), p.offset()));
        let mut invocation = self.read.key(self.meta_key(topic));
        invocation
            .key(self.log_key(topic))
            .arg(Epoch::mint().to_string())
            .arg(after_epoch)
            .arg(after_offset)
            // Lua numbers and `XRANGE … COUNT` take no more than this.
            .arg(max_events.min(1 << 53))
            .arg(self.ttl_secs())
            .arg(max_bytes.min(1 << 53))
            .arg(u8::from(self.config.keep_epochs));
        let call = invocation.invoke_async::<Vec<Bytes>>(&mut conn);
        let reply = tokio::time::timeout(self.config.timeout, call)
            .await
            .map_err(|_| BackplaneError::timeout("read"))?
            .map_err(|e| redis_error("read", &e))?;
        parse_read(reply).ok_or_else(|| BackplaneError::failed(&Unexpected("read")))
    }
}

/// A Redis error as a backplane error; the connection's own response
/// timeout is a timeout too.
fn redis_error(what: &str, error: &redis::RedisError) -> BackplaneError {
    if error.is_timeout() {
        BackplaneError::timeout(what)
    } else {
        BackplaneError::failed(error)
    }
}

/// Redis answered something this crate never writes.
#[derive(Debug)]
struct Unexpected(&'static str);

impl fmt::Display for Unexpected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unexpected reply to {}", self.0)
    }
}

impl std::error::Error for Unexpected {}

fn position(epoch: &str, offset: &str) -> Option<Position> {
    Some(Position::new(Epoch::parse(epoch)?, offset.parse().ok()?))
}

/// `{epoch, top, id, event, id, event, ...}` into a snapshot; every event
/// checked ([`stored_event`]) and its position matched with its entry id.
fn parse_read(reply: Vec<Bytes>) -> Option<Snapshot> {
    let mut items = reply.into_iter();
    let epoch = items.next()?;
    let top = items.next()?;
    let top = position(
        std::str::from_utf8(&epoch).ok()?,
        std::str::from_utf8(&top).ok()?,
    )?;
    let mut items = items.peekable();
    if items.peek().is_some_and(|item| &item[..] == b"over") {
        return items.nth(1).is_none().then(|| Snapshot::over_limit(top));
    }
    let mut events = Vec::new();
    while let (Some(id), Some(bytes)) = (items.next(), items.next()) {
        let offset: u64 = std::str::from_utf8(&id)
            .ok()?
            .strip_suffix("-0")?
            .parse()
            .ok()?;
        let (position, event) = stored_event(bytes)?;
        if position != Position::new(top.epoch(), offset) {
            return None;
        }
        events.push((offset, event));
    }
    Some(Snapshot::new(top, events))
}

impl Backplane for RedisBackplane {
    fn attach(&self, feed: Feed) {
        if self.core.feed.set(feed).is_err() {
            tracing::warn!(
                "ssekit-redis: a backplane serves one hub; attached twice, the second is ignored"
            );
        }
    }

    fn publish(
        &self,
        topic: &str,
        event: EncodedEvent,
    ) -> BoxFuture<Result<Position, BackplaneError>> {
        let core = Arc::clone(&self.core);
        let topic = topic.to_owned();
        Box::pin(async move { core.publish(&topic, &event).await })
    }

    fn read(
        &self,
        topic: &str,
        after: Option<Position>,
        max_events: usize,
        max_bytes: usize,
    ) -> BoxFuture<Result<Snapshot, BackplaneError>> {
        let core = Arc::clone(&self.core);
        let topic = topic.to_owned();
        Box::pin(async move { core.read(&topic, after, max_events, max_bytes).await })
    }

    fn watch(&self, topic: &str) {
        let _ = self.control.send(Control::Watch(topic.to_owned()));
    }

    fn unwatch(&self, topic: &str) {
        let _ = self.control.send(Control::Unwatch(topic.to_owned()));
    }

    fn catch_up(&self, topic: &str) {
        let _ = self.catch_up.send(topic.to_owned());
    }
}

/// The Pub/Sub connection: (re)connects with backoff, (re)subscribes the
/// watched topics, and hands every message to the hub.
async fn live(
    core: Arc<Core>,
    mut control: mpsc::UnboundedReceiver<Control>,
    catch_up: mpsc::UnboundedSender<String>,
) {
    let mut watched: HashSet<String> = HashSet::new();
    let mut backoff = Duration::from_millis(50);
    let mut down_since: Option<tokio::time::Instant> = None;
    loop {
        let connected =
            tokio::time::timeout(core.config.timeout, core.client.get_async_pubsub()).await;
        let pubsub = match connected {
            Ok(Ok(pubsub)) => Some(pubsub),
            Ok(Err(err)) => {
                if down_since.is_none() {
                    tracing::warn!(
                        redis = %core.client.get_connection_info().addr(),
                        error = %err,
                        "ssekit-redis: Pub/Sub connection down; retrying with backoff"
                    );
                }
                None
            }
            Err(_) => {
                if down_since.is_none() {
                    tracing::warn!(
                        redis = %core.client.get_connection_info().addr(),
                        timeout = ?core.config.timeout,
                        "ssekit-redis: Pub/Sub connection down (no answer); retrying with backoff"
                    );
                }
                None
            }
        };
        let Some(pubsub) = pubsub else {
            if down_since.is_none() {
                down_since = Some(tokio::time::Instant::now());
            }
            // Wait out the backoff, keeping the watch list current.
            let sleep = tokio::time::sleep(backoff);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    () = &mut sleep => break,
                    message = control.recv() => match message {
                        None => return,
                        Some(Control::Watch(topic)) => { watched.insert(topic); }
                        Some(Control::Unwatch(topic)) => { watched.remove(&topic); }
                    },
                }
            }
            backoff = (backoff * 2).min(core.config.max_backoff.max(Duration::from_millis(50)));
            continue;
        };
        let (mut sink, mut stream) = pubsub.split();
        let channels: Vec<String> = watched.iter().map(|t| core.channel(t)).collect();
        if !channels.is_empty() {
            match tokio::time::timeout(core.config.timeout, sink.subscribe(&channels)).await {
                Ok(Ok(())) => {}
                _ => {
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            }
        }
        if let Some(since) = down_since.take() {
            tracing::info!(
                after_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
                topics = watched.len(),
                "ssekit-redis: Pub/Sub reconnected and resubscribed; catching up"
            );
        }
        backoff = Duration::from_millis(50);
        // What was published while we were away.
        for topic in &watched {
            let _ = catch_up.send(topic.clone());
        }
        let mut ping = tokio::time::interval_at(
            tokio::time::Instant::now() + core.config.ping_interval,
            core.config.ping_interval,
        );
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { break };
                    on_message(&core, &catch_up, &message);
                }
                _ = ping.tick() => {
                    let answered =
                        tokio::time::timeout(core.config.timeout, sink.ping::<redis::Value>()).await;
                    if !matches!(answered, Ok(Ok(_))) {
                        tracing::warn!("ssekit-redis: Pub/Sub connection did not answer PING; reconnecting");
                        break;
                    }
                }
                request = control.recv() => match request {
                    None => return,
                    Some(Control::Watch(topic)) => {
                        if watched.insert(topic.clone()) {
                            let subscribed = tokio::time::timeout(
                                core.config.timeout,
                                sink.subscribe(core.channel(&topic)),
                            )
                            .await;
                            if !matches!(subscribed, Ok(Ok(()))) {
                                break;
                            }
                            // Anything published before the subscription took.
                            let _ = catch_up.send(topic);
                        }
                    }
                    Some(Control::Unwatch(topic)) => {
                        // A subscriber may have made the topic again since
                        // (its `Watch` came first and found it watched).
                        let again = core.feed.get().is_some_and(|feed| feed.is_watched(&topic));
                        if !again && watched.remove(&topic) {
                            let _ = tokio::time::timeout(
                                core.config.timeout,
                                sink.unsubscribe(core.channel(&topic)),
                            )
                            .await;
                        }
                    }
                },
            }
        }
        if down_since.is_none() {
            tracing::warn!("ssekit-redis: Pub/Sub connection lost; reconnecting");
            down_since = Some(tokio::time::Instant::now());
        }
    }
}

fn on_message(core: &Core, catch_up: &mpsc::UnboundedSender<String>, message: &redis::Msg) {
    let Some(feed) = core.feed.get() else { return };
    let channel = message.get_channel_name();
    let Some(topic) = channel.strip_prefix(&core.channel_prefix) else {
        return;
    };
    let Some((position, event)) = stored_event(Bytes::copy_from_slice(message.get_payload_bytes()))
    else {
        tracing::warn!(
            topic,
            "ssekit-redis: a message that is not one stored event; ignored"
        );
        return;
    };
    match feed.deliver(topic, position, event) {
        Delivery::Gap { .. } => {
            let _ = catch_up.send(topic.to_owned());
        }
        Delivery::Delivered(_)
        | Delivery::Duplicate
        | Delivery::NotWatched
        | Delivery::EpochChanged => {}
        _ => {}
    }
}

/// Fills gaps and catches lost last messages: for each requested topic (and
/// every watched topic each check interval), reads what follows the hub's
/// position and delivers it in order.
async fn catch_up_worker(core: Arc<Core>, mut requests: mpsc::UnboundedReceiver<String>) {
    let mut tick = tokio::time::interval(core.config.check_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Topics asked for (a gap, a new watch, a reconnect): read at once.
    let mut requested: HashSet<String> = HashSet::new();
    // Every watched topic, at each check: read only if its top moved.
    let mut periodic: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                None => return,
                Some(topic) => { requested.insert(topic); }
            },
            _ = tick.tick() => {
                if let Some(feed) = core.feed.get() {
                    periodic.extend(feed.topics());
                }
            }
        }
        while let Ok(topic) = requests.try_recv() {
            requested.insert(topic);
        }
        let Some(feed) = core.feed.get() else {
            continue;
        };
        if !feed.is_alive() {
            return;
        }
        let mut pending = std::mem::take(&mut requested);
        let periodic = std::mem::take(&mut periodic);
        if !periodic.is_empty() {
            match moved(&core, feed, periodic, &pending).await {
                Some(behind) => pending.extend(behind),
                // Redis does not answer: the next check retries every topic,
                // and the topics asked for are kept.
                None => {
                    requested = pending;
                    continue;
                }
            }
        }
        // Several topics at once over the multiplexed connection (one
        // topic is never checked twice at once: `pending` is a set).
        let core = &core;
        let mut checks = futures_util::stream::iter(pending)
            .map(|topic| async move { catch_up_topic(core, feed, &topic).await })
            .buffer_unordered(CHECKS_AT_ONCE);
        while let Some(answered) = checks.next().await {
            if !answered {
                // Redis does not answer: the next check retries every topic.
                break;
            }
        }
    }
}

/// The topics of `periodic` (not already in `requested`) whose epoch or top
/// in Redis differs from the hub's position: one pipelined `HMGET` per
/// [`TOPS_AT_ONCE`] topics, so an up-to-date topic costs Redis a hash
/// lookup, not a read of its stream. `None` when Redis does not answer.
async fn moved(
    core: &Core,
    feed: &Feed,
    periodic: HashSet<String>,
    requested: &HashSet<String>,
) -> Option<Vec<String>> {
    let topics: Vec<String> = periodic
        .into_iter()
        .filter(|topic| !requested.contains(topic))
        .collect();
    let mut behind = Vec::new();
    for chunk in topics.chunks(TOPS_AT_ONCE) {
        let mut pipe = redis::pipe();
        for topic in chunk {
            pipe.cmd("HMGET")
                .arg(core.meta_key(topic))
                .arg("epoch")
                .arg("top");
        }
        let mut conn = core.conn.clone();
        let tops: Vec<(Option<String>, Option<String>)> = match tokio::time::timeout(
            core.config.timeout,
            pipe.query_async(&mut conn),
        )
        .await
        {
            Ok(Ok(tops)) => tops,
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "ssekit-redis: check of the tops failed; retried at the next check");
                return None;
            }
            Err(_) => return None,
        };
        for (topic, (epoch, top)) in chunk.iter().zip(tops) {
            let current = feed.position(topic);
            let same = match (current, epoch, top) {
                (Some(at), Some(epoch), Some(top)) => {
                    position(&epoch, &top).is_some_and(|top| top == at)
                }
                _ => false,
            };
            if !same {
                behind.push(topic.clone());
            }
        }
    }
    Some(behind)
}

/// Topics whose top one pipelined request reads (see [`moved`]).
const TOPS_AT_ONCE: usize = 512;

/// How far behind a topic may be caught up by reading; beyond, its local
/// streams end and each resumes by itself (replay or `reset`).
const CATCH_UP_MAX: usize = 1_000;

/// Topics checked at once by the catch-up worker: one read per topic, in
/// flight together on the multiplexed connection, so a check of thousands
/// of watched topics takes round trips / 16 rather than one after another.
const CHECKS_AT_ONCE: usize = 16;

/// Catches `topic` up; `false` when Redis did not answer.
async fn catch_up_topic(core: &Core, feed: &Feed, topic: &str) -> bool {
    let Some(position) = feed.position(topic) else {
        return true;
    };
    // Not a client's request: bounded by CATCH_UP_MAX events only.
    let snapshot = match core
        .read(topic, Some(position), CATCH_UP_MAX, usize::MAX)
        .await
    {
        Ok(snapshot) => snapshot,
        Err(err) => {
            tracing::debug!(topic, error = %err, "ssekit-redis: catch-up read failed; retried at the next check");
            return false;
        }
    };
    let top = snapshot.top();
    if top.epoch() != position.epoch() || top.offset() < position.offset() {
        tracing::warn!(topic, from = %position, to = %top, "ssekit-redis: the topic's history was lost in Redis; its streams end and resume with reset");
        feed.end_topic(topic);
        return true;
    }
    if top.offset() == position.offset() {
        return true;
    }
    let events = snapshot.events();
    let complete = events
        .first()
        .is_some_and(|(offset, _)| Some(*offset) == position.offset().checked_add(1))
        && events
            .last()
            .is_some_and(|(offset, _)| *offset == top.offset());
    if !complete {
        tracing::warn!(topic, from = %position, to = %top, "ssekit-redis: too far behind to catch up from the stream; its streams end and resume");
        feed.end_topic(topic);
        return true;
    }
    for (offset, event) in events {
        match feed.deliver(topic, Position::new(top.epoch(), *offset), event.clone()) {
            Delivery::Delivered(_) | Delivery::Duplicate => {}
            // A hole inside the stream (an entry deleted, a script that
            // failed half-way): what follows could never be delivered.
            Delivery::Gap { .. } => {
                tracing::warn!(
                    topic,
                    at = offset,
                    "ssekit-redis: a hole in the topic's stream; its streams end and resume"
                );
                feed.end_topic(topic);
                return true;
            }
            // Moved on meanwhile (another catch-up, a new epoch): done.
            _ => return true,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(epoch: Epoch, offset: u64, data: &str) -> Bytes {
        Position::new(epoch, offset)
            .encode_with_id(&ssekit::Event::new(data.to_owned()).encode())
            .into_bytes()
    }

    #[test]
    fn a_read_reply_becomes_a_snapshot_only_when_every_entry_checks_out() {
        let epoch = Epoch::mint();
        let e = Bytes::from(epoch.to_string());
        let good = vec![
            e.clone(),
            Bytes::from_static(b"3"),
            Bytes::from_static(b"2-0"),
            stored(epoch, 2, "two"),
            Bytes::from_static(b"3-0"),
            stored(epoch, 3, "three"),
        ];
        let snapshot = parse_read(good).unwrap();
        assert_eq!(snapshot.top(), Position::new(epoch, 3));
        let offsets: Vec<u64> = snapshot.events().iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, [2, 3]);
        // The top alone (nothing to replay).
        assert!(
            parse_read(vec![e.clone(), Bytes::from_static(b"0")])
                .unwrap()
                .events()
                .is_empty()
        );
        // An entry id that does not match its event's id, an event of
        // another epoch, bytes that are not one event, a bad epoch: refused.
        for bad in [
            vec![
                e.clone(),
                Bytes::from_static(b"3"),
                Bytes::from_static(b"2-0"),
                stored(epoch, 3, "x"),
            ],
            vec![
                e.clone(),
                Bytes::from_static(b"3"),
                Bytes::from_static(b"3-0"),
                stored(Epoch::mint(), 3, "x"),
            ],
            vec![
                e.clone(),
                Bytes::from_static(b"3"),
                Bytes::from_static(b"3-0"),
                Bytes::from_static(b"data: x\n\n"),
            ],
            vec![Bytes::from_static(b"XYZ"), Bytes::from_static(b"3")],
            vec![e.clone(), Bytes::from_static(b"-1")],
            vec![e],
            vec![],
        ] {
            assert!(parse_read(bad.clone()).is_none(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn keys_and_channels_carry_the_prefix_and_the_topic() {
        let backplane = RedisBackplane::builder("redis://127.0.0.1:1")
            .prefix("app:")
            .build()
            .unwrap();
        let core = &backplane.core;
        assert_eq!(core.meta_key("room/1"), "app:meta:room/1");
        assert_eq!(core.log_key("room/1"), "app:log:room/1");
        assert_eq!(core.channel("room/1"), "app:live:room/1");
        // Another database: another channel (Pub/Sub spans databases).
        let other = RedisBackplane::builder("redis://127.0.0.1:1/3")
            .prefix("app:")
            .build()
            .unwrap();
        assert_eq!(other.core.meta_key("room/1"), "app:meta:room/1");
        assert_eq!(other.core.channel("room/1"), "app:live@3:room/1");
    }

    #[tokio::test]
    async fn publishing_to_an_unreachable_redis_is_a_typed_error_within_the_timeout() {
        // Port 1 on loopback: nothing listens, the connection is refused.
        let backplane = RedisBackplane::builder("redis://127.0.0.1:1")
            .publish_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let hub = ssekit::Hub::builder().backplane(backplane).build();
        let err = tokio::time::timeout(Duration::from_secs(10), hub.publish_async("t", "x"))
            .await
            .expect("bounded by the backplane's timeout")
            .unwrap_err();
        assert!(err.backplane().is_some(), "{err}");
    }
}
