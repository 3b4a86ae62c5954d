//! The crate's error type and how the bus classifies it.

use dsync_bus::{Classify, ErrorClass};

/// Everything that can go wrong encoding, decoding or talking to the registry.
///
/// For a consumer: [`Classify::class`] says what the bus must do. Bad bytes, an
/// unknown schema id and a schema mismatch are poison (the record can never be decoded); an
/// unreachable or failing registry is transient (retry); a configuration problem is fatal.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The payload does not start with the Confluent magic byte 0.
    #[error("wrong magic byte {0:#04x} (expected 0x00, Confluent wire format)")]
    WrongMagicByte(u8),

    /// The payload is shorter than the 5-byte header, or its Avro body ends early.
    #[error("truncated payload: {0}")]
    Truncated(String),

    /// The registry does not know the schema id the payload names (404, error code 40403).
    #[error("unknown schema id {0}")]
    UnknownSchemaId(u32),

    /// The writer's schema is not the requested event type, or cannot be resolved against the
    /// reader's schema.
    #[error("schema mismatch: {0}")]
    SchemaMismatch(String),

    /// The writer's record is not an event type of this build (`decode_any`). Consumers must
    /// ignore event types they do not know: check [`EventsError::is_unknown_event_type`] and skip
    /// rather than dead-letter, when that is the intent.
    #[error("unknown event type {0}")]
    UnknownEventType(String),

    /// The Avro body does not decode with its writer's schema.
    #[error("undecodable Avro body: {0}")]
    Decode(String),

    /// The value does not encode with its schema (a bug in the producer).
    #[error("cannot encode: {0}")]
    Encode(String),

    /// The subject has no such schema and auto-registration is off.
    #[error("schema of subject {subject} is not registered (auto-register is off)")]
    NotRegistered {
        /// The subject.
        subject: String,
    },

    /// The registry refused a request for a reason that retrying will not fix: incompatible
    /// schema (409), invalid schema (422), bad credentials (401/403).
    #[error("schema registry refused {request}: HTTP {status}{}: {message}", .error_code.map(|c| format!(" (error {c})")).unwrap_or_default())]
    RegistryRejected {
        /// What was asked (`POST /subjects/.../versions`).
        request: String,
        /// HTTP status.
        status: u16,
        /// Confluent error code, when the body had one.
        error_code: Option<u32>,
        /// The registry's message.
        message: String,
    },

    /// The registry could not be reached, timed out, or failed (5xx, 408, 429, unexpected
    /// answer): retrying later may succeed.
    #[error("schema registry unavailable: {0}")]
    Registry(String),

    /// Invalid settings or schema.
    #[error("configuration: {0}")]
    Config(String),
}

impl Classify for EventsError {
    /// Poison for bad bytes, unknown schema ids and mismatches; transient when the registry is
    /// unreachable or failing; fatal for configuration problems and encode failures.
    fn class(&self) -> ErrorClass {
        match self {
            EventsError::WrongMagicByte(_)
            | EventsError::Truncated(_)
            | EventsError::UnknownSchemaId(_)
            | EventsError::SchemaMismatch(_)
            | EventsError::UnknownEventType(_)
            | EventsError::Decode(_) => ErrorClass::Poison,
            EventsError::Registry(_) => ErrorClass::Transient,
            EventsError::Encode(_)
            | EventsError::NotRegistered { .. }
            | EventsError::RegistryRejected { .. }
            | EventsError::Config(_) => ErrorClass::Fatal,
        }
    }
}

impl EventsError {
    /// Whether the payload itself is bad (poison), as opposed to the registry or configuration.
    pub fn is_poison(&self) -> bool {
        self.class() == ErrorClass::Poison
    }

    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }

    /// Whether the payload is an event type this build does not know (consumers skip those).
    pub fn is_unknown_event_type(&self) -> bool {
        matches!(self, EventsError::UnknownEventType(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsync_bus::HandlerError;

    #[test]
    fn classes() {
        let poison = [
            EventsError::WrongMagicByte(1),
            EventsError::Truncated("3 bytes".into()),
            EventsError::UnknownSchemaId(7),
            EventsError::SchemaMismatch("x".into()),
            EventsError::UnknownEventType("com.example.X".into()),
            EventsError::Decode("x".into()),
        ];
        for e in poison {
            let h = HandlerError::from(e);
            assert_eq!(h.class(), ErrorClass::Poison, "{h}");
        }
        let h = HandlerError::from(EventsError::Registry("connection refused".into()));
        assert_eq!(h.class(), ErrorClass::Transient);
        for e in [
            EventsError::Config("x".into()),
            EventsError::Encode("x".into()),
            EventsError::NotRegistered {
                subject: "s".into(),
            },
            EventsError::RegistryRejected {
                request: "POST /subjects/s/versions".into(),
                status: 409,
                error_code: Some(409),
                message: "incompatible".into(),
            },
        ] {
            assert_eq!(HandlerError::from(e).class(), ErrorClass::Fatal);
        }
    }

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(
            EventsError::WrongMagicByte(0x7b).to_string(),
            "wrong magic byte 0x7b (expected 0x00, Confluent wire format)"
        );
        assert_eq!(
            EventsError::UnknownSchemaId(42).to_string(),
            "unknown schema id 42"
        );
        let e = EventsError::RegistryRejected {
            request: "POST /subjects/s/versions".into(),
            status: 409,
            error_code: Some(409),
            message: "incompatible".into(),
        };
        assert_eq!(
            e.to_string(),
            "schema registry refused POST /subjects/s/versions: HTTP 409 (error 409): incompatible"
        );
    }
}
