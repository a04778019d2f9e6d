//! The last restore drill of a cluster in a DR region, from the drill record kept there.

use serde::Serialize;

use crate::drill::outcome::DrillResult;
use crate::drill::record::{self, DrillRecord};
use crate::time::{EpochSeconds, parse_rfc3339};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastDrill {
    pub result: DrillResult,
    pub at: String,
    /// Hours since the last drill ended.
    pub age_hours: Option<f64>,
    pub backup_id: String,
    pub reason: Option<String>,
    pub last_succeeded_at: Option<String>,
}

impl LastDrill {
    /// From the stored record; `None` when there is none or it is not a drill record.
    pub fn from_stored(stored: Option<&str>, now: EpochSeconds) -> Option<Self> {
        let DrillRecord {
            last_result,
            last_drill_at,
            last_backup_id,
            last_reason,
            last_succeeded_at,
            ..
        } = record::parse(stored)?;
        Some(Self {
            result: last_result,
            age_hours: parse_rfc3339(&last_drill_at).map(|t| ((now - t).max(0) as f64 / 360.0).round() / 10.0),
            at: last_drill_at,
            backup_id: last_backup_id,
            reason: last_reason,
            last_succeeded_at,
        })
    }

    /// `SUCCEEDED 2.5 h ago`, `FAILED 0.1 h ago`.
    pub fn label(&self) -> String {
        let result = match self.result {
            DrillResult::Succeeded => "SUCCEEDED",
            DrillResult::Failed => "FAILED",
        };
        match self.age_hours {
            Some(h) => format!("{result} {h:.1} h ago"),
            None => result.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::DrillJob;
    use crate::posture::{Destination, Observed, posture, table};

    const NOW: EpochSeconds = 1_795_665_600;

    #[test]
    fn each_row_shows_the_last_drill_recorded_in_its_region() {
        let job = DrillJob {
            source_region: "us-east-1".into(),
            source_cluster_id: "cluster-aaaaaaaaaaa".into(),
            destination_region: "us-west-2".into(),
            backup_id: "backup-westaaanew".into(),
            hsm_type: "hsm2m.medium".into(),
            mode: "FIPS".into(),
            subnet_ids: vec!["subnet-0a1b2c3d".into()],
        };
        let failed = DrillRecord::after(None, &job, DrillResult::Failed, Some("DEGRADED"), 60, NOW - 9000);
        let name = record::record_name("/cloudhsm-backup-copy/s", "us-east-1", "cluster-aaaaaaaaaaa");
        let seen = Observed {
            source_region: "us-east-1".into(),
            clusters: vec![crate::cluster::Cluster::tagged("cluster-aaaaaaaaaaa", &[])],
            destinations: vec![
                (
                    "us-west-2".into(),
                    Destination {
                        kits: Some([(name, serde_json::to_string(&failed).unwrap())].into()),
                        ..Destination::default()
                    },
                ),
                ("eu-west-1".into(), Destination::default()),
            ],
            kit_prefix: "/cloudhsm-backup-copy/s".into(),
            ..Observed::default()
        };
        let rows = posture(&seen, NOW);
        let drill = rows[0].last_drill.as_ref().unwrap();
        assert_eq!(
            (drill.result, drill.age_hours, drill.reason.as_deref()),
            (DrillResult::Failed, Some(2.5), Some("DEGRADED"))
        );
        assert_eq!(rows[1].last_drill, None);
        let text = table(&rows);
        assert!(text.lines().next().unwrap().contains("LAST DRILL"), "{text}");
        assert!(text.contains("FAILED 2.5 h ago"), "{text}");
        // The eu-west-1 records could not be read at all: unknown, not "none".
        assert!(text.lines().nth(2).unwrap().contains(" ? "), "{text}");
        assert_eq!(LastDrill::from_stored(Some("not a record"), NOW), None);
    }
}
