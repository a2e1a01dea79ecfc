//! Polling a hub subscription by hand, for the tests that drive the hub
//! without a runtime's timing.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::task::noop_waker_ref;
use ssekit::EncodedEvent;
use ssekit::hub::Subscription;

/// Every event `sub` has ready now (it is then waiting for more).
pub(crate) fn ready(sub: &mut Subscription) -> Vec<EncodedEvent> {
    let mut cx = Context::from_waker(noop_waker_ref());
    let mut out = Vec::new();
    while let Poll::Ready(Some(event)) = Pin::new(&mut *sub).poll_next(&mut cx) {
        out.push(event);
    }
    out
}
