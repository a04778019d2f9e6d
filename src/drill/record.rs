//! The drill record: the last drill of one source cluster in one DR region, kept beside the
//! restore kit in that region's Parameter Store, so the evidence survives the source region.
//! Sweeps read it to publish the age of the last successful drill; `dr-status` shows it.

use serde::{Deserialize, Serialize};

use super::DrillJob;
use super::outcome::DrillResult;
use crate::time::{EpochSeconds, parse_rfc3339, to_rfc3339};

/// The record's document version, bumped when its shape changes.
pub const RECORD_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrillRecord {
    pub version: u32,
    pub source_region: String,
    pub source_cluster_id: String,
    pub destination_region: String,
    pub last_result: DrillResult,
    /// When the last drill ended.
    pub last_drill_at: String,
    pub last_backup_id: String,
    pub last_duration_seconds: i64,
    pub last_reason: Option<String>,
    pub last_succeeded_at: Option<String>,
    pub last_succeeded_backup_id: Option<String>,
    /// When the first recorded drill ended: with no success yet, the drill age counts from it.
    pub first_drill_at: String,
}

/// The record's parameter name: `<prefix>/<source region>/drills/<cluster>`, beside the kits
/// (`<prefix>/<source region>/<cluster>`; cluster ids start with `cluster-`, so no kit is
/// named `drills`).
pub fn record_name(prefix: &str, source_region: &str, cluster_id: &str) -> String {
    format!("{}/{source_region}/drills/{cluster_id}", prefix.trim_end_matches('/'))
}

/// The stored record, if it is one.
pub fn parse(stored: Option<&str>) -> Option<DrillRecord> {
    serde_json::from_str(stored?).ok()
}

impl DrillRecord {
    /// The record after a drill of `job` that ended at `now` with `result`.
    pub fn after(
        previous: Option<&Self>,
        job: &DrillJob,
        result: DrillResult,
        reason: Option<&str>,
        duration_seconds: i64,
        now: EpochSeconds,
    ) -> Self {
        let at = to_rfc3339(now);
        let previous = previous.filter(|p| p.source_cluster_id == job.source_cluster_id);
        let succeeded = result == DrillResult::Succeeded;
        Self {
            version: RECORD_VERSION,
            source_region: job.source_region.clone(),
            source_cluster_id: job.source_cluster_id.clone(),
            destination_region: job.destination_region.clone(),
            last_result: result,
            last_drill_at: at.clone(),
            last_backup_id: job.backup_id.clone(),
            last_duration_seconds: duration_seconds,
            last_reason: reason.map(str::to_owned),
            last_succeeded_at: if succeeded {
                Some(at.clone())
            } else {
                previous.and_then(|p| p.last_succeeded_at.clone())
            },
            last_succeeded_backup_id: if succeeded {
                Some(job.backup_id.clone())
            } else {
                previous.and_then(|p| p.last_succeeded_backup_id.clone())
            },
            first_drill_at: previous.map_or(at, |p| p.first_drill_at.clone()),
        }
    }

    /// Seconds since the last successful drill; with none yet, since the first drill ended.
    pub fn success_age(&self, now: EpochSeconds) -> Option<i64> {
        let since = self.last_succeeded_at.as_deref().unwrap_or(&self.first_drill_at);
        parse_rfc3339(since).map(|t| (now - t).max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(backup: &str) -> DrillJob {
        DrillJob {
            source_region: "us-east-1".into(),
            source_cluster_id: "cluster-aaaaaaaaaaa".into(),
            destination_region: "us-west-2".into(),
            backup_id: backup.into(),
            hsm_type: "hsm2m.medium".into(),
            mode: "FIPS".into(),
            subnet_ids: vec!["subnet-0a1b2c3d".into()],
        }
    }

    const T0: i64 = 1_795_665_600;

    #[test]
    fn a_failed_drill_keeps_the_last_success_and_the_age_counts_from_it() {
        let first = DrillRecord::after(
            None,
            &job("backup-aaaaaaaaaaa"),
            DrillResult::Failed,
            Some("quota"),
            5,
            T0,
        );
        assert_eq!(first.last_succeeded_at, None);
        // No success yet: the age counts from the first drill.
        assert_eq!(first.success_age(T0 + 100), Some(100));
        let ok = DrillRecord::after(
            Some(&first),
            &job("backup-bbbbbbbbbbb"),
            DrillResult::Succeeded,
            None,
            300,
            T0 + 3600,
        );
        assert_eq!(ok.first_drill_at, first.first_drill_at);
        assert_eq!(ok.last_succeeded_backup_id.as_deref(), Some("backup-bbbbbbbbbbb"));
        let failed = DrillRecord::after(
            Some(&ok),
            &job("backup-ccccccccccc"),
            DrillResult::Failed,
            Some("DEGRADED"),
            20,
            T0 + 7200,
        );
        assert_eq!(failed.last_succeeded_at, ok.last_succeeded_at);
        assert_eq!(failed.last_reason.as_deref(), Some("DEGRADED"));
        assert_eq!(failed.success_age(T0 + 7200), Some(3600));
        let stored = serde_json::to_string(&failed).unwrap();
        assert_eq!(parse(Some(&stored)), Some(failed));
        assert_eq!(parse(Some("not a record")), None);
        assert_eq!(
            record_name("/cloudhsm-backup-copy/dr/", "us-east-1", "cluster-aaaaaaaaaaa"),
            "/cloudhsm-backup-copy/dr/us-east-1/drills/cluster-aaaaaaaaaaa"
        );
    }
}
