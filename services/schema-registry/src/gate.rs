//! The compatibility gate run before deploy (`schema-gate`, `make schemas-check`): every schema
//! under `schemas/` is checked against its earlier versions, kept beside it in the repository.
//!
//! Versions are files: `<dir>/<Record>.avsc` is version 1, `<dir>/<Record>.v2.avsc` version 2,
//! and so on; versions are never deleted. Version `n` must be compatible with every version
//! before it. The default level is `FULL_TRANSITIVE`, which contains `BACKWARD_TRANSITIVE` (a
//! new consumer reads every old event) and adds `FORWARD_TRANSITIVE` (consumers that are not
//! upgraded yet read new events: producers deploy first in an event pipeline), so removing a
//! field that has no default is caught as well as changing a type or adding a field without a
//! default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::avro::{parse, ParsedSchema};
use crate::compat::{check_level, CompatibilityLevel, Previous};

/// One problem the gate found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateProblem {
    /// The offending file.
    pub file: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// What the gate checked.
#[derive(Debug, Default)]
pub struct GateReport {
    /// Schemas (distinct records) seen.
    pub schemas: usize,
    /// Files (versions) seen.
    pub files: usize,
    /// Version pairs checked.
    pub checks: usize,
    /// Everything that failed.
    pub problems: Vec<GateProblem>,
}

/// Splits `OrderAccepted.v2.avsc` into (`OrderAccepted`, 2); `OrderAccepted.avsc` is version 1.
fn name_and_version(file: &Path) -> Option<(String, i32)> {
    let name = file.file_name()?.to_str()?.strip_suffix(".avsc")?;
    match name.rsplit_once(".v") {
        Some((base, v)) if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) => {
            Some((base.to_owned(), v.parse().ok()?))
        }
        _ => Some((name.to_owned(), 1)),
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "avsc") {
            out.push(path);
        }
    }
    Ok(())
}

/// Checks every schema under `dir` at `level`.
pub fn check_dir(dir: &Path, level: CompatibilityLevel) -> std::io::Result<GateReport> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    let mut report = GateReport {
        files: files.len(),
        ..GateReport::default()
    };
    // (directory, record) -> version -> file
    let mut groups: BTreeMap<(PathBuf, String), BTreeMap<i32, PathBuf>> = BTreeMap::new();
    for f in files {
        let Some((name, version)) = name_and_version(&f) else {
            report.problems.push(GateProblem {
                file: f.clone(),
                message: "file name is not <Record>.avsc or <Record>.vN.avsc".into(),
            });
            continue;
        };
        let parent = f.parent().map(Path::to_path_buf).unwrap_or_default();
        groups.entry((parent, name)).or_default().insert(version, f);
    }
    report.schemas = groups.len();
    for versions in groups.values() {
        let mut parsed: Vec<(i32, String, ParsedSchema, PathBuf)> = Vec::new();
        for (expected, (version, file)) in (1..).zip(versions) {
            if *version != expected {
                report.problems.push(GateProblem {
                    file: file.clone(),
                    message: format!("version {version} follows version {}: versions must be 1, 2, 3, ... without gaps", expected - 1),
                });
            }
            let text = match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) => {
                    report.problems.push(GateProblem {
                        file: file.clone(),
                        message: format!("cannot read: {e}"),
                    });
                    continue;
                }
            };
            match parse(&text, &[], &[]) {
                Ok(p) => parsed.push((*version, text, p, file.clone())),
                Err(e) => report.problems.push(GateProblem {
                    file: file.clone(),
                    message: format!("invalid Avro schema: {e}"),
                }),
            }
        }
        for i in 1..parsed.len() {
            let (version, _, new, file) = &parsed[i];
            let previous: Vec<Previous<'_>> = parsed[..i]
                .iter()
                .rev()
                .map(|(v, text, schema, _)| Previous {
                    version: *v,
                    text,
                    schema,
                })
                .collect();
            report.checks += previous.len();
            if let Err(messages) = check_level(level, new, &previous) {
                report.problems.push(GateProblem {
                    file: file.clone(),
                    message: format!(
                        "version {version} is not {} with earlier versions: {}",
                        level.as_str(),
                        messages.join("; ")
                    ),
                });
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type":"record","name":"OrderAccepted","namespace":"com.distsync.events","fields":[
        {"name":"order_id","type":"string"},
        {"name":"total","type":"long"},
        {"name":"note","type":["null","string"],"default":null}]}"#;

    fn dir_with(files: &[(&str, &str)]) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gate-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(d.join("orders")).expect("mkdir");
        for (name, text) in files {
            std::fs::write(d.join("orders").join(name), text).expect("write");
        }
        d
    }

    fn check(files: &[(&str, &str)], level: CompatibilityLevel) -> GateReport {
        let d = dir_with(files);
        let r = check_dir(&d, level).expect("readable");
        let _ = std::fs::remove_dir_all(&d);
        r
    }

    #[test]
    fn a_field_added_with_a_default_passes() {
        let v2 = V1.replace(
            r#"{"name":"note""#,
            r#"{"name":"channel","type":"string","default":"HTTP"},{"name":"note""#,
        );
        let r = check(
            &[("OrderAccepted.avsc", V1), ("OrderAccepted.v2.avsc", &v2)],
            CompatibilityLevel::FullTransitive,
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!((r.schemas, r.files, r.checks), (1, 2, 1));
    }

    #[test]
    fn a_field_removed_without_a_default_is_caught() {
        let v2 = V1.replace(r#"{"name":"total","type":"long"},"#, "");
        let r = check(
            &[("OrderAccepted.avsc", V1), ("OrderAccepted.v2.avsc", &v2)],
            CompatibilityLevel::FullTransitive,
        );
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].message.contains("total"), "{:?}", r.problems);
    }

    #[test]
    fn a_changed_type_is_caught() {
        let v2 = V1.replace(r#""total","type":"long""#, r#""total","type":"string""#);
        for level in [
            CompatibilityLevel::BackwardTransitive,
            CompatibilityLevel::FullTransitive,
        ] {
            let r = check(
                &[("OrderAccepted.avsc", V1), ("OrderAccepted.v2.avsc", &v2)],
                level,
            );
            assert_eq!(r.problems.len(), 1, "{level:?}: {:?}", r.problems);
            assert!(
                r.problems[0].message.contains("TYPE_MISMATCH"),
                "{:?}",
                r.problems
            );
        }
    }

    #[test]
    fn transitive_means_every_earlier_version_not_just_the_last() {
        // A chain where every version reads all earlier data passes transitively.
        let v2 = V1.replace(
            r#"{"name":"total","type":"long"}"#,
            r#"{"name":"total","type":"long","default":0}"#,
        );
        let v3 = V1.replace(
            r#"{"name":"total","type":"long"}"#,
            r#"{"name":"total","type":["null","long"],"default":null}"#,
        );
        let ok = check(
            &[
                ("OrderAccepted.avsc", V1),
                ("OrderAccepted.v2.avsc", &v2),
                ("OrderAccepted.v3.avsc", &v3),
            ],
            CompatibilityLevel::BackwardTransitive,
        );
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        assert_eq!(ok.checks, 3);
        // A v3 that only the latest version can feed: compatible with v2, not with v1.
        let v2b = V1.replace(r#"{"name":"total","type":"long"},"#, "");
        let v3b = V1.replace(
            r#"{"name":"total","type":"long"}"#,
            r#"{"name":"total","type":"string","default":""}"#,
        );
        let non_transitive = check(
            &[
                ("OrderAccepted.avsc", V1),
                ("OrderAccepted.v2.avsc", &v2b),
                ("OrderAccepted.v3.avsc", &v3b),
            ],
            CompatibilityLevel::Backward,
        );
        assert!(
            non_transitive.problems.is_empty(),
            "{:?}",
            non_transitive.problems
        );
        let transitive = check(
            &[
                ("OrderAccepted.avsc", V1),
                ("OrderAccepted.v2.avsc", &v2b),
                ("OrderAccepted.v3.avsc", &v3b),
            ],
            CompatibilityLevel::BackwardTransitive,
        );
        assert_eq!(transitive.problems.len(), 1, "{:?}", transitive.problems);
        assert!(transitive.problems[0]
            .message
            .contains("oldSchemaVersion: 1"));
    }

    #[test]
    fn version_gaps_and_invalid_schemas_are_reported() {
        let r = check(
            &[
                ("OrderAccepted.avsc", V1),
                ("OrderAccepted.v3.avsc", V1),
                ("Broken.avsc", "{"),
            ],
            CompatibilityLevel::FullTransitive,
        );
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
    }

    #[test]
    fn file_names_carry_versions() {
        assert_eq!(
            name_and_version(Path::new("a/OrderAccepted.v12.avsc")),
            Some(("OrderAccepted".into(), 12))
        );
        assert_eq!(
            name_and_version(Path::new("a/OrderAccepted.avsc")),
            Some(("OrderAccepted".into(), 1))
        );
    }
}
