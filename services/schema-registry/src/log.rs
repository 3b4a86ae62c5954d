//! The records of the schemas topic: one record per write operation (see the crate
//! documentation for the format and why every key is unique).

use serde::{Deserialize, Serialize};

use crate::avro::Reference;
use crate::compat::CompatibilityLevel;

/// `keytype` of an operation record's key.
pub const KEYTYPE_OP: &str = "DSYNC_OP";
/// Record format version (`magic` in keys and values).
pub const MAGIC: u8 = 1;
/// `event_type` header of operation records.
pub const EVENT_TYPE: &str = "SchemaRegistryOp";

/// Which version a delete addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VersionRef {
    /// A version number (1 ..= 2^31-1).
    Number(i32),
    /// The string `"latest"`.
    Latest(LatestTag),
}

/// The literal `"latest"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LatestTag {
    /// `"latest"`.
    #[serde(rename = "latest")]
    Latest,
}

impl VersionRef {
    /// `"latest"`.
    pub const LATEST: VersionRef = VersionRef::Latest(LatestTag::Latest);

    /// Parses a version as the REST API spells it: `latest`, `-1` (latest) or 1 ..= 2^31-1.
    pub fn parse(s: &str) -> Result<Self, crate::RegistryError> {
        if s.eq_ignore_ascii_case("latest") || s == "-1" {
            return Ok(Self::LATEST);
        }
        match s.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(VersionRef::Number(n)),
            _ => Err(crate::RegistryError::InvalidVersion(s.to_owned())),
        }
    }
}

impl std::fmt::Display for VersionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionRef::Number(n) => write!(f, "{n}"),
            VersionRef::Latest(_) => f.write_str("latest"),
        }
    }
}

/// A write operation, as proposed by an instance and applied by all of them in log order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Op {
    /// Register a schema under a subject (no-op when it is already there).
    Register {
        /// Subject.
        subject: String,
        /// The schema text, as submitted.
        schema: String,
        /// Always `AVRO`.
        #[serde(rename = "schemaType")]
        schema_type: String,
        /// Referenced schemas.
        #[serde(default)]
        references: Vec<Reference>,
    },
    /// Delete every version of a subject.
    DeleteSubject {
        /// Subject.
        subject: String,
        /// Hard delete (only after a soft delete).
        permanent: bool,
    },
    /// Delete one version of a subject.
    DeleteVersion {
        /// Subject.
        subject: String,
        /// Version (or latest, resolved when applied).
        version: VersionRef,
        /// Hard delete (only after a soft delete).
        permanent: bool,
    },
    /// Set the global (`subject: null`) or a subject's compatibility level.
    SetConfig {
        /// Subject, or `None` for the global level.
        subject: Option<String>,
        /// The level.
        #[serde(rename = "compatibilityLevel")]
        compatibility_level: CompatibilityLevel,
    },
    /// Remove a subject's level (or reset the global one to the default).
    DeleteConfig {
        /// Subject, or `None` for the global level.
        subject: Option<String>,
    },
}

impl Op {
    /// Stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Register { .. } => "register",
            Op::DeleteSubject { .. } => "delete_subject",
            Op::DeleteVersion { .. } => "delete_version",
            Op::SetConfig { .. } => "set_config",
            Op::DeleteConfig { .. } => "delete_config",
        }
    }
}

/// The key of an operation record: unique per operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpKey {
    /// Always [`KEYTYPE_OP`].
    pub keytype: String,
    /// Format version.
    pub magic: u8,
    /// The operation id (a UUID), which the proposing instance waits for.
    pub op: String,
}

/// The value of an operation record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpValue {
    /// Format version.
    pub magic: u8,
    /// The operation.
    #[serde(flatten)]
    pub op: Op,
    /// Id of the instance that proposed it (diagnostics only).
    pub origin: String,
    /// When it was proposed, RFC 3339 (diagnostics only; never used when applying).
    pub ts: String,
}

/// Encodes an operation record's key and value.
pub fn encode(op_id: &str, value: &OpValue) -> (Vec<u8>, Vec<u8>) {
    let key = OpKey {
        keytype: KEYTYPE_OP.to_owned(),
        magic: MAGIC,
        op: op_id.to_owned(),
    };
    // Serializing these plain structs cannot fail.
    (
        serde_json::to_vec(&key).unwrap_or_default(),
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

/// Why a record of the topic is not an operation this version applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A tombstone or a record without key.
    Empty,
    /// Not one of ours (another registry's record, garbage) or a newer format.
    Foreign(String),
}

/// Decodes an operation record.
pub fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<(String, OpValue), Skip> {
    let (Some(key), Some(value)) = (key, value) else {
        return Err(Skip::Empty);
    };
    let key: OpKey = serde_json::from_slice(key).map_err(|e| Skip::Foreign(format!("key: {e}")))?;
    if key.keytype != KEYTYPE_OP || key.magic != MAGIC {
        return Err(Skip::Foreign(format!(
            "keytype {} magic {}",
            key.keytype, key.magic
        )));
    }
    let value: OpValue =
        serde_json::from_slice(value).map_err(|e| Skip::Foreign(format!("value: {e}")))?;
    if value.magic != MAGIC {
        return Err(Skip::Foreign(format!("value magic {}", value.magic)));
    }
    Ok((key.op, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_look_as_documented() {
        let v = OpValue {
            magic: MAGIC,
            op: Op::DeleteVersion {
                subject: "s".into(),
                version: VersionRef::LATEST,
                permanent: false,
            },
            origin: "i1".into(),
            ts: "2025-01-01T00:00:00Z".into(),
        };
        let (k, val) = encode("op-1", &v);
        assert_eq!(
            std::str::from_utf8(&k).expect("utf8"),
            r#"{"keytype":"DSYNC_OP","magic":1,"op":"op-1"}"#
        );
        assert_eq!(
            std::str::from_utf8(&val).expect("utf8"),
            r#"{"magic":1,"type":"DELETE_VERSION","subject":"s","version":"latest","permanent":false,"origin":"i1","ts":"2025-01-01T00:00:00Z"}"#
        );
        assert_eq!(decode(Some(&k), Some(&val)), Ok(("op-1".to_owned(), v)));
        let reg = OpValue {
            magic: MAGIC,
            op: Op::SetConfig {
                subject: None,
                compatibility_level: CompatibilityLevel::FullTransitive,
            },
            origin: "i1".into(),
            ts: "t".into(),
        };
        let (k, val) = encode("op-2", &reg);
        assert!(std::str::from_utf8(&val).expect("utf8").contains(
            r#""type":"SET_CONFIG","subject":null,"compatibilityLevel":"FULL_TRANSITIVE""#
        ));
        assert_eq!(decode(Some(&k), Some(&val)).map(|x| x.1), Ok(reg));
    }

    #[test]
    fn foreign_records_are_skipped() {
        assert_eq!(decode(None, Some(b"{}")), Err(Skip::Empty));
        assert_eq!(decode(Some(b"k"), None), Err(Skip::Empty));
        // A Confluent registry's record in the same topic.
        let confluent = decode(
            Some(br#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#),
            Some(br#"{"subject":"s","version":1,"id":1,"schema":"\"int\"","deleted":false}"#),
        );
        assert!(matches!(confluent, Err(Skip::Foreign(_))));
        let future = decode(
            Some(br#"{"keytype":"DSYNC_OP","magic":2,"op":"x"}"#),
            Some(br#"{"magic":2}"#),
        );
        assert!(matches!(future, Err(Skip::Foreign(_))));
    }

    #[test]
    fn versions_parse_as_the_api_spells_them() {
        assert_eq!(VersionRef::parse("latest").ok(), Some(VersionRef::LATEST));
        assert_eq!(VersionRef::parse("-1").ok(), Some(VersionRef::LATEST));
        assert_eq!(VersionRef::parse("7").ok(), Some(VersionRef::Number(7)));
        for bad in ["0", "-2", "x", "2147483648", ""] {
            assert!(VersionRef::parse(bad).is_err(), "{bad}");
        }
    }
}
