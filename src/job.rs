//! The identity of one tracking execution: which copy it makes, under which name.
//!
//! One execution runs per (source backup, destination region, generation). Its name is
//! `<backup>-to-<region>-<generation>`; Standard workflows refuse a second execution of a name,
//! so two planners that pick the same generation start the same execution. The generation is
//! read from Step Functions' own record of the earlier executions (see [`crate::generations`]),
//! never from what the destination happens to list, because AWS does not say how long dead
//! copies stay listed.

use serde::{Deserialize, Serialize};

use crate::ids::{is_backup_id, is_cluster_id, is_region, same_partition};

/// Tag key that marks a copy with the execution and attempt that requested it. It is how the
/// copy guard and the poll loop recognise "this attempt's copy" without counting copies.
pub const TAG_ATTEMPT: &str = "cloudhsm-backup-copy:attempt";

/// Input of one tracking execution. Serialized byte-stably (fixed field order, no floats, no
/// timestamps) so that StartExecution with the same name is idempotent while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyJob {
    pub source_backup_id: String,
    pub source_cluster_id: Option<String>,
    pub source_region: String,
    pub destination_region: String,
    /// How many executions for this (backup, region) Step Functions still knows about that
    /// closed before this one. Executions started by earlier versions carry `priorCopies`
    /// here, which named them the same way.
    #[serde(alias = "priorCopies")]
    pub generation: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("invalid tracking input: {0}")]
    InvalidInput(String),
}

impl CopyJob {
    /// `<backup>-to-<region>-<generation>`: at most 23 + 4 + 14 + 1 + 10 = 52 characters of
    /// `[0-9A-Za-z-]`, within Step Functions' 80-character name limit.
    pub fn execution_name(&self) -> String {
        execution_name(&self.source_backup_id, &self.destination_region, self.generation)
    }

    /// The execution input: compact JSON in declaration order.
    pub fn execution_input(&self) -> String {
        // Serializing plain strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The span a function's lines about this job are logged in, so each line need not repeat
    /// which copy it is about.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "job",
            source_backup_id = %self.source_backup_id,
            destination_region = %self.destination_region,
            generation = self.generation
        )
    }

    /// The value of [`TAG_ATTEMPT`] on the copy that attempt `attempt` requests:
    /// `<execution name>/<attempt>` (TagValue allows `/`, execution names are `[0-9A-Za-z-]`).
    pub fn attempt_marker(&self, attempt: u32) -> String {
        format!("{}/{attempt}", self.execution_name())
    }

    /// Checks the ids and regions, so that a tampered input makes no AWS call.
    pub fn validate(&self) -> Result<(), JobError> {
        let bad = |what: &str, value: &str| Err(JobError::InvalidInput(format!("{what} {value:?} is not valid")));
        if !is_backup_id(&self.source_backup_id) {
            return bad("job.sourceBackupId", &self.source_backup_id);
        }
        if let Some(cluster) = &self.source_cluster_id
            && !is_cluster_id(cluster)
        {
            return bad("job.sourceClusterId", cluster);
        }
        if !is_region(&self.source_region) {
            return bad("job.sourceRegion", &self.source_region);
        }
        if !is_region(&self.destination_region)
            || self.destination_region == self.source_region
            || !same_partition(&self.source_region, &self.destination_region)
        {
            return bad("job.destinationRegion", &self.destination_region);
        }
        Ok(())
    }
}

/// The execution name of one generation of a (backup, region) pair.
pub fn execution_name(source_backup_id: &str, destination_region: &str, generation: u32) -> String {
    format!("{source_backup_id}-to-{destination_region}-{generation}")
}

/// The destination region an execution of ours is named after (`<backup>-to-<region>-<g>`).
pub fn destination_of(execution_name: &str) -> Option<&str> {
    let (_, rest) = execution_name.split_once("-to-")?;
    rest.rsplit_once('-').map(|(region, _)| region)
}

/// Whether a copy carries the marker of this job's attempt.
pub fn is_attempts_copy(job: &CopyJob, attempt: u32, tags: &[(String, String)]) -> bool {
    let marker = job.attempt_marker(attempt);
    tags.iter().any(|(k, v)| k == TAG_ATTEMPT && *v == marker)
}

/// The unit tests' job: backup-4kuraxsqetz of cluster-kzlczlspnho, us-east-1 to us-west-2.
#[cfg(test)]
impl CopyJob {
    pub(crate) fn example(generation: u32) -> Self {
        Self {
            source_backup_id: "backup-4kuraxsqetz".into(),
            source_cluster_id: Some("cluster-kzlczlspnho".into()),
            source_region: "us-east-1".into(),
            destination_region: "us-west-2".into(),
            generation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(generation: u32) -> CopyJob {
        CopyJob::example(generation)
    }

    #[test]
    fn execution_names_are_deterministic_and_within_limits() {
        assert_eq!(job(0).execution_name(), "backup-4kuraxsqetz-to-us-west-2-0");
        let longest = CopyJob {
            source_backup_id: "backup-abcdefghijklmnop".into(),
            destination_region: "ap-southeast-2".into(),
            generation: u32::MAX,
            ..job(0)
        };
        let name = longest.execution_name();
        assert!(name.len() <= 80, "{} chars", name.len());
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        // The marker fits a TagValue (at most 256 characters of the allowed set).
        let marker = longest.attempt_marker(u32::MAX);
        assert!(marker.len() <= 256);
        assert!(
            marker
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/')
        );
    }

    #[test]
    fn execution_input_is_byte_stable_and_reads_the_old_field_name() {
        let expected = r#"{"sourceBackupId":"backup-4kuraxsqetz","sourceClusterId":"cluster-kzlczlspnho","sourceRegion":"us-east-1","destinationRegion":"us-west-2","generation":1}"#;
        assert_eq!(job(1).execution_input(), expected);
        let parsed: CopyJob = serde_json::from_str(expected).unwrap();
        assert_eq!(parsed, job(1));
        // An execution started by an earlier version, still running after an upgrade.
        let old = expected.replace("\"generation\"", "\"priorCopies\"");
        assert_eq!(serde_json::from_str::<CopyJob>(&old).unwrap(), job(1));
    }

    #[test]
    fn job_validation_rejects_tampered_ids_and_regions() {
        assert!(job(0).validate().is_ok());
        for bad in [
            CopyJob {
                source_backup_id: "backup-x".into(),
                ..job(0)
            },
            CopyJob {
                source_cluster_id: Some("cluster-".into()),
                ..job(0)
            },
            CopyJob {
                source_region: "us-east".into(),
                ..job(0)
            },
            CopyJob {
                destination_region: "us-east-1".into(),
                ..job(0)
            },
            CopyJob {
                destination_region: "us-gov-west-1".into(),
                ..job(0)
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_execution_name_gives_back_its_region() {
        assert_eq!(destination_of(&job(3).execution_name()), Some("us-west-2"));
        assert_eq!(
            destination_of("backup-aaaaaaaaaaa-to-ap-southeast-2-0"),
            Some("ap-southeast-2")
        );
        assert_eq!(destination_of("someone-elses"), None);
    }

    #[test]
    fn the_marker_names_one_execution_and_attempt() {
        let tags = vec![(TAG_ATTEMPT.to_owned(), job(2).attempt_marker(1))];
        assert!(is_attempts_copy(&job(2), 1, &tags));
        assert!(!is_attempts_copy(&job(2), 2, &tags));
        assert!(!is_attempts_copy(&job(1), 1, &tags));
        assert!(!is_attempts_copy(&job(2), 1, &[]));
    }
}
