//! The crate's single error type. Every API failure maps to the HTTP status and the
//! `{"error_code": ..., "message": ...}` body Confluent Schema Registry returns for it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use dsync_bus::{Classify, ErrorClass};

use crate::api::json_response;

/// Everything that can go wrong in the registry, from a request the API rejects to a broker that
/// cannot be reached at start-up.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// 404 / 40401.
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    /// 404 / 40402.
    #[error("Version {0} not found.")]
    VersionNotFound(String),
    /// 404 / 40403 (`None`: a lookup by content found nothing).
    #[error("{}", match .0 { Some(id) => format!("Schema {id} not found"), None => "Schema not found".to_owned() })]
    SchemaNotFound(Option<i64>),
    /// 404 / 40404.
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    /// 404 / 40405.
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    /// 404 / 40406.
    #[error("Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently")]
    VersionSoftDeleted {
        /// Subject.
        subject: String,
        /// Version.
        version: i32,
    },
    /// 404 / 40407.
    #[error("Subject '{subject}' Version {version} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted {
        /// Subject.
        subject: String,
        /// Version.
        version: i32,
    },
    /// 404 / 40408.
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectCompatibilityNotConfigured(String),
    /// 404 / 40409.
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectModeNotConfigured(String),
    /// 409 / 409: the schema breaks the subject's compatibility level; the message says why.
    #[error("{0}")]
    Incompatible(String),
    /// 422 / 42201: the schema (or one of its references) does not parse; the parser's message.
    #[error("Invalid schema {0}")]
    InvalidSchema(String),
    /// 422 / 42201: a schema type other than Avro.
    #[error("Invalid schema type {0}: this registry supports AVRO schemas only")]
    UnsupportedSchemaType(String),
    /// 422 / 42202.
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
    InvalidVersion(String),
    /// 422 / 42203.
    #[error("Invalid compatibility level {0:?}. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")]
    InvalidCompatibilityLevel(String),
    /// 422 / 42205.
    #[error("{0}")]
    OperationNotPermitted(String),
    /// 422 / 42206: a schema still referenced by another one cannot be deleted.
    #[error("One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={subject},version={version}}}.")]
    ReferenceExists {
        /// Subject of the referenced schema.
        subject: String,
        /// Its version.
        version: i32,
    },
    /// 422 / 422: the request body is JSON but not of the expected shape.
    #[error("{0}")]
    UnprocessableEntity(String),
    /// 400: the request body is not JSON.
    #[error("{0}")]
    BadRequest(String),
    /// 415: a content type the API does not accept.
    #[error("HTTP 415 Unsupported Media Type: {0}")]
    UnsupportedMediaType(String),
    /// 404: no such endpoint.
    #[error("HTTP 404 Not Found")]
    NoRoute,
    /// 405: the endpoint exists, the method does not.
    #[error("HTTP 405 Method Not Allowed")]
    MethodNotAllowed,
    /// 500 / 50001: reading or writing the schemas topic failed.
    #[error("Error in the backend data store: {0}")]
    Store(String),
    /// 500 / 50002: a write was not applied in time, or the initial load is not finished.
    #[error("{0}")]
    Timeout(String),
    /// The brokers or the schemas topic (start-up).
    #[error(transparent)]
    Bus(#[from] dsync_bus::BusError),
    /// The admin server or tracing set-up (start-up).
    #[error(transparent)]
    Telemetry(#[from] dsync_telemetry::TelemetryError),
    /// The API listener could not be bound.
    #[error("cannot bind the API listener to {addr}: {source}")]
    Bind {
        /// The address requested.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A setting is invalid; the message names the flag.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
}

impl RegistryError {
    /// The HTTP status Confluent uses for this error.
    pub fn status(&self) -> StatusCode {
        match self.error_code() {
            409 => StatusCode::CONFLICT,
            422 => StatusCode::UNPROCESSABLE_ENTITY,
            400 => StatusCode::BAD_REQUEST,
            404 => StatusCode::NOT_FOUND,
            405 => StatusCode::METHOD_NOT_ALLOWED,
            415 => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            c if (40400..40500).contains(&c) => StatusCode::NOT_FOUND,
            c if (42200..42300).contains(&c) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The Confluent `error_code`.
    pub fn error_code(&self) -> i32 {
        use RegistryError as E;
        match self {
            E::SubjectNotFound(_) => 40401,
            E::VersionNotFound(_) => 40402,
            E::SchemaNotFound(_) => 40403,
            E::SubjectSoftDeleted(_) => 40404,
            E::SubjectNotSoftDeleted(_) => 40405,
            E::VersionSoftDeleted { .. } => 40406,
            E::VersionNotSoftDeleted { .. } => 40407,
            E::SubjectCompatibilityNotConfigured(_) => 40408,
            E::SubjectModeNotConfigured(_) => 40409,
            E::Incompatible(_) => 409,
            E::InvalidSchema(_) | E::UnsupportedSchemaType(_) => 42201,
            E::InvalidVersion(_) => 42202,
            E::InvalidCompatibilityLevel(_) => 42203,
            E::OperationNotPermitted(_) => 42205,
            E::ReferenceExists { .. } => 42206,
            E::UnprocessableEntity(_) => 422,
            E::BadRequest(_) => 400,
            E::NoRoute => 404,
            E::MethodNotAllowed => 405,
            E::UnsupportedMediaType(_) => 415,
            E::Timeout(_) => 50002,
            E::Store(_)
            | E::Bus(_)
            | E::Telemetry(_)
            | E::Bind { .. }
            | E::Config(_)
            | E::Serve(_) => 50001,
        }
    }
}

impl Classify for RegistryError {
    /// A request the API rejects (every 4xx) can never succeed as sent: poison. A write not
    /// applied in time and a failing schemas topic are transient (the broker may recover); the
    /// brokers by their own class; start-up failures (settings, listeners, telemetry) are fatal.
    fn class(&self) -> ErrorClass {
        match self {
            RegistryError::Timeout(_) | RegistryError::Store(_) => ErrorClass::Transient,
            RegistryError::Bus(e) => e.class(),
            RegistryError::Telemetry(_)
            | RegistryError::Bind { .. }
            | RegistryError::Config(_)
            | RegistryError::Serve(_) => ErrorClass::Fatal,
            _ if self.status().is_client_error() => ErrorClass::Poison,
            _ => ErrorClass::Fatal,
        }
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        json_response(
            status,
            &serde_json::json!({ "error_code": self.error_code(), "message": self.to_string() }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        use RegistryError as E;
        let s = || "x".to_owned();
        let table = [
            (E::SubjectNotFound(s()), ErrorClass::Poison),
            (E::VersionNotFound(s()), ErrorClass::Poison),
            (E::SchemaNotFound(Some(3)), ErrorClass::Poison),
            (E::SubjectSoftDeleted(s()), ErrorClass::Poison),
            (E::SubjectNotSoftDeleted(s()), ErrorClass::Poison),
            (
                E::VersionSoftDeleted {
                    subject: s(),
                    version: 1,
                },
                ErrorClass::Poison,
            ),
            (
                E::VersionNotSoftDeleted {
                    subject: s(),
                    version: 1,
                },
                ErrorClass::Poison,
            ),
            (
                E::SubjectCompatibilityNotConfigured(s()),
                ErrorClass::Poison,
            ),
            (E::SubjectModeNotConfigured(s()), ErrorClass::Poison),
            (E::Incompatible(s()), ErrorClass::Poison),
            (E::InvalidSchema(s()), ErrorClass::Poison),
            (E::UnsupportedSchemaType(s()), ErrorClass::Poison),
            (E::InvalidVersion(s()), ErrorClass::Poison),
            (E::InvalidCompatibilityLevel(s()), ErrorClass::Poison),
            (E::OperationNotPermitted(s()), ErrorClass::Poison),
            (
                E::ReferenceExists {
                    subject: s(),
                    version: 1,
                },
                ErrorClass::Poison,
            ),
            (E::UnprocessableEntity(s()), ErrorClass::Poison),
            (E::BadRequest(s()), ErrorClass::Poison),
            (E::UnsupportedMediaType(s()), ErrorClass::Poison),
            (E::NoRoute, ErrorClass::Poison),
            (E::MethodNotAllowed, ErrorClass::Poison),
            (E::Store(s()), ErrorClass::Transient),
            (E::Timeout(s()), ErrorClass::Transient),
            (
                E::Bus(dsync_bus::BusError::Timeout(s())),
                ErrorClass::Transient,
            ),
            (E::Bus(dsync_bus::BusError::Config(s())), ErrorClass::Fatal),
            (
                E::Telemetry(dsync_telemetry::TelemetryError::Serve(
                    std::io::Error::other("x"),
                )),
                ErrorClass::Fatal,
            ),
            (
                E::Bind {
                    addr: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
                    source: std::io::Error::other("x"),
                },
                ErrorClass::Fatal,
            ),
            (E::Config(s()), ErrorClass::Fatal),
            (E::Serve(std::io::Error::other("x")), ErrorClass::Fatal),
        ];
        for (e, class) in table {
            assert_eq!(e.class(), class, "{e}");
        }
    }
}
