//! W3C Trace Context propagation between services (e.g. through Kafka record headers).
//!
//! The producer side puts [`current_traceparent`] (or [`traceparent_of`] a span) into a
//! header named [`TRACEPARENT`]; the consumer side creates its processing span and calls
//! [`set_parent`] with the header value *before entering the span*.
//!
//! These functions need the subscriber installed by [`crate::init`] (or
//! [`crate::init_for_tests`]); without it there is no OpenTelemetry context and
//! they return `None`/`false`.

use std::fmt;
use std::str::FromStr;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::Context;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Name of the W3C trace-context header (also used as the Kafka header key).
pub const TRACEPARENT: &str = "traceparent";

/// A parsed, validated W3C `traceparent` value (version `00`).
///
/// Invariants: trace id and span id are non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: u128,
    span_id: u64,
    flags: u8,
}

impl TraceParent {
    /// Builds a traceparent from its parts; `None` if either id is zero.
    pub fn new(trace_id: u128, span_id: u64, flags: u8) -> Option<Self> {
        (trace_id != 0 && span_id != 0).then_some(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    /// The 128-bit trace id.
    pub fn trace_id(&self) -> u128 {
        self.trace_id
    }

    /// The 64-bit parent span id.
    pub fn span_id(&self) -> u64 {
        self.span_id
    }

    /// The trace flags byte.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the `sampled` flag (bit 0) is set.
    pub fn is_sampled(&self) -> bool {
        self.flags & 0x01 == 0x01
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        format!("{:016x}", self.span_id)
    }

    /// The remote OpenTelemetry span context this traceparent describes.
    pub fn to_span_context(&self) -> SpanContext {
        SpanContext::new(
            TraceId::from(self.trace_id),
            SpanId::from(self.span_id),
            TraceFlags::new(self.flags),
            true,
            TraceState::default(),
        )
    }

    /// The traceparent of a valid OpenTelemetry span context; `None` if it is invalid.
    pub fn from_span_context(sc: &SpanContext) -> Option<Self> {
        if !sc.is_valid() {
            return None;
        }
        Self::new(
            u128::from_be_bytes(sc.trace_id().to_bytes()),
            u64::from_be_bytes(sc.span_id().to_bytes()),
            sc.trace_flags().to_u8(),
        )
    }
}

/// Formats as `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`.
impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }
}

/// Error returned by [`TraceParent::from_str`]: the string is not a valid traceparent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid W3C traceparent")]
pub struct InvalidTraceParent;

impl FromStr for TraceParent {
    type Err = InvalidTraceParent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_traceparent(s).ok_or(InvalidTraceParent)
    }
}

/// Strictly parses a W3C `traceparent`: exactly `00-` + 32 lowercase hex + `-` + 16 lowercase
/// hex + `-` + 2 lowercase hex, with non-zero trace and span ids. No surrounding whitespace,
/// no other versions, no trailing fields.
pub fn parse_traceparent(s: &str) -> Option<TraceParent> {
    fn lower_hex(part: &str) -> bool {
        part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    if s.len() != 55 || !s.is_ascii() {
        return None;
    }
    let mut parts = s.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || version != "00"
        || trace.len() != 32
        || span.len() != 16
        || flags.len() != 2
        || !lower_hex(trace)
        || !lower_hex(span)
        || !lower_hex(flags)
    {
        return None;
    }
    TraceParent::new(
        u128::from_str_radix(trace, 16).ok()?,
        u64::from_str_radix(span, 16).ok()?,
        u8::from_str_radix(flags, 16).ok()?,
    )
}

/// The traceparent of `span`'s OpenTelemetry context, or `None` if it has no valid one
/// (span disabled, no OpenTelemetry layer installed, ...).
///
/// Note: this starts the span's OpenTelemetry counterpart, so call [`set_parent`] first.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    TraceParent::from_span_context(cx.span().span_context()).map(|tp| tp.to_string())
}

/// The W3C traceparent of the current `tracing::Span`, or `None` if there is no valid span
/// context (no current span, span disabled, or telemetry not installed).
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The current span's trace id as 32 lowercase hex digits, for logs and error reports.
pub fn current_trace_id() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// Makes `span` a child of the remote span described by `traceparent`.
///
/// Must be called before the span is first entered (or its context read). Returns `false`,
/// leaving the span untouched, if `traceparent` is not a valid traceparent, if the span is
/// disabled or already started, or if no OpenTelemetry layer is installed.
pub fn set_parent(span: &tracing::Span, traceparent: &str) -> bool {
    let Some(tp) = parse_traceparent(traceparent) else {
        return false;
    };
    let cx = Context::new().with_remote_span_context(tp.to_span_context());
    span.set_parent(cx).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_valid_traceparent() {
        let tp = parse_traceparent(VALID).expect("valid");
        assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.span_id_hex(), "00f067aa0ba902b7");
        assert_eq!(tp.flags(), 1);
        assert!(tp.is_sampled());
        assert_eq!(tp.to_string(), VALID);
        assert_eq!(VALID.parse::<TraceParent>(), Ok(tp));

        let unsampled =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
                .expect("valid");
        assert!(!unsampled.is_sampled());
    }

    #[test]
    fn rejects_invalid_traceparents() {
        let bad = [
            "",
            "garbage",
            // wrong version
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // uppercase hex
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            // zero ids
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // wrong lengths / separators
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47366-0f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            // whitespace
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
            // non-hex / sign characters accepted by from_str_radix
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-+1",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            // non-ASCII of the right byte length
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
        ];
        for s in bad {
            assert_eq!(parse_traceparent(s), None, "{s:?} must be rejected");
            assert!(s.parse::<TraceParent>().is_err());
        }
    }

    #[test]
    fn new_rejects_zero_ids() {
        assert!(TraceParent::new(0, 1, 1).is_none());
        assert!(TraceParent::new(1, 0, 1).is_none());
        assert_eq!(
            TraceParent::new(1, 2, 3).map(|t| t.to_string()).as_deref(),
            Some("00-00000000000000000000000000000001-0000000000000002-03")
        );
    }

    #[test]
    fn span_context_round_trip() {
        let tp = parse_traceparent(VALID).expect("valid");
        let sc = tp.to_span_context();
        assert!(sc.is_valid());
        assert!(sc.is_remote());
        assert_eq!(TraceParent::from_span_context(&sc), Some(tp));
        assert_eq!(
            TraceParent::from_span_context(&SpanContext::empty_context()),
            None
        );
    }

    #[test]
    fn current_traceparent_inside_span_is_valid() {
        crate::init_for_tests();
        // WARN level so the span is enabled whatever RUST_LOG says for the fmt layer.
        let span = tracing::warn_span!("unit-test-span");
        let _entered = span.enter();
        let tp = current_traceparent().expect("a span context inside a span");
        let parsed = parse_traceparent(&tp).expect("well-formed traceparent");
        assert_eq!(parsed.to_string(), tp);
        assert_eq!(current_trace_id(), Some(parsed.trace_id_hex()));
    }

    #[test]
    fn set_parent_links_child_to_remote_trace() {
        crate::init_for_tests();
        let child = tracing::warn_span!("consumer-span");
        assert!(set_parent(&child, VALID));
        let remote = parse_traceparent(VALID).expect("valid");

        let tp = child
            .in_scope(current_traceparent)
            .expect("child has a context");
        let local = parse_traceparent(&tp).expect("valid");
        assert_eq!(local.trace_id(), remote.trace_id());
        assert_ne!(local.span_id(), remote.span_id());

        // A grandchild stays in the same trace.
        let grandchild_tp = child
            .in_scope(|| tracing::warn_span!("grandchild").in_scope(current_traceparent))
            .expect("grandchild has a context");
        assert_eq!(
            parse_traceparent(&grandchild_tp).map(|t| t.trace_id()),
            Some(remote.trace_id())
        );

        // Once started, the parent can no longer be changed.
        assert!(!set_parent(&child, VALID));
    }

    #[test]
    fn set_parent_ignores_invalid_traceparent() {
        crate::init_for_tests();
        let span = tracing::warn_span!("span-with-bad-parent");
        assert!(!set_parent(&span, "not-a-traceparent"));
        let tp = span
            .in_scope(current_traceparent)
            .expect("still gets its own trace");
        let remote = parse_traceparent(VALID).expect("valid");
        assert_ne!(
            parse_traceparent(&tp).map(|t| t.trace_id()),
            Some(remote.trace_id())
        );
    }

    #[test]
    fn no_span_means_no_traceparent() {
        crate::init_for_tests();
        assert_eq!(tracing::Span::none().in_scope(current_traceparent), None);
    }
}
