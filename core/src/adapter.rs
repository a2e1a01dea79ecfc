//! What every adapter crate defines the same way, written once.
//!
//! Rust's orphan rule makes each adapter define its own types to implement its
//! framework's traits on, so the types themselves cannot live here. This macro
//! defines them, with everything that does not depend on the framework; the
//! adapter adds its framework's traits and its own docs.

/// Defines an adapter's `SseResponse`, `ChunkedResponse`, `LastEventId` and
/// `LastEventIdRejection` types with their framework-independent impls.
///
/// `stream_bound` is what the framework needs of a response stream beyond
/// `Stream` (`[Send]`, or `[Sized]` for none); `new` and `From` require it, so
/// a stream that does not meet it is refused where the response is made,
/// with the compiler's plain message. Each type takes the doc attributes
/// written before it.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapter_types {
    (
        stream_bound: [$($bound:tt)*],
        $(#[$sse_attr:meta])*
        pub struct SseResponse;
        $(#[$chunked_attr:meta])*
        pub struct ChunkedResponse;
        $(#[$last_attr:meta])*
        pub struct LastEventId;
        $(#[$rejection_attr:meta])*
        pub struct LastEventIdRejection;
    ) => {
        $(#[$sse_attr])*
        #[must_use = "a response does nothing unless returned from a handler"]
        pub struct SseResponse<S>($crate::EventStream<S>);

        impl<S> SseResponse<S>
        where
            S: $($bound)*,
        {
            /// Wraps an event stream.
            pub fn new(stream: $crate::EventStream<S>) -> Self {
                Self(stream)
            }
        }

        impl<S> SseResponse<S> {
            /// The wrapped stream.
            pub fn into_inner(self) -> $crate::EventStream<S> {
                self.0
            }
        }

        impl<S> ::core::convert::From<$crate::EventStream<S>> for SseResponse<S>
        where
            S: $($bound)*,
        {
            fn from(stream: $crate::EventStream<S>) -> Self {
                Self(stream)
            }
        }

        impl<S> ::core::fmt::Debug for SseResponse<S> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple("SseResponse").field(&self.0).finish()
            }
        }

        $(#[$chunked_attr])*
        #[must_use = "a response does nothing unless returned from a handler"]
        pub struct ChunkedResponse<S>($crate::ChunkedBody<S>);

        impl<S> ChunkedResponse<S> {
            /// The wrapped body.
            pub fn into_inner(self) -> $crate::ChunkedBody<S> {
                self.0
            }
        }

        impl<S> ::core::convert::From<$crate::ChunkedBody<S>> for ChunkedResponse<S>
        where
            S: $($bound)*,
        {
            fn from(body: $crate::ChunkedBody<S>) -> Self {
                Self(body)
            }
        }

        impl<S> ::core::fmt::Debug for ChunkedResponse<S> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple("ChunkedResponse").field(&self.0).finish()
            }
        }

        $(#[$last_attr])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct LastEventId(pub ::core::option::Option<$crate::EventId>);

        impl LastEventId {
            /// Parses the values of a request's `Last-Event-ID` headers.
            pub(crate) fn parse<'a, I>(values: I) -> ::core::result::Result<Self, LastEventIdRejection>
            where
                I: ::core::iter::IntoIterator<Item = &'a [u8]>,
            {
                $crate::last_event_id::parse(values)
                    .map(Self)
                    .map_err(LastEventIdRejection)
            }
        }

        $(#[$rejection_attr])*
        #[derive(Debug)]
        pub struct LastEventIdRejection(pub $crate::last_event_id::InvalidLastEventId);

        impl ::core::fmt::Display for LastEventIdRejection {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::error::Error for LastEventIdRejection {
            fn source(&self) -> ::core::option::Option<&(dyn ::std::error::Error + 'static)> {
                ::core::option::Option::Some(&self.0)
            }
        }
    };
}
