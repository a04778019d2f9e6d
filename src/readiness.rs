//! DR readiness failures a sweep announces ("CloudHSM DR Readiness Failed"): a destination's
//! newest copy has another mode than its cluster (it cannot restore the cluster as it is), or
//! its restore kit could not be stored. Each is an event the notification rule mails, not a
//! silent note in a summary.

use serde::Serialize;

use crate::ports::Announcement;
use crate::restore_kit::RestoreKit;

pub const READINESS_FAILED_DETAIL_TYPE: &str = "CloudHSM DR Readiness Failed";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Problem {
    ModeMismatch,
    KitNotStored,
    /// A recovery account does not list the region's newest copy as shared with it.
    NotSeenByRecovery,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessFailure {
    pub problem: Problem,
    pub source_region: String,
    pub cluster_id: String,
    pub destination_region: String,
    /// The destination's newest READY copy.
    pub backup_id: String,
    /// The modes, "unknown" when not known: every field is always present, because the mail
    /// rule's input transformer quotes each one.
    pub copy_mode: String,
    pub cluster_mode: String,
    /// The restore kit's parameter.
    pub parameter: String,
    /// Why the kit was not stored; empty for a mode mismatch.
    pub error: String,
}

impl ReadinessFailure {
    pub fn new(problem: Problem, parameter: &str, kit: &RestoreKit, error: Option<String>) -> Self {
        Self {
            problem,
            source_region: kit.source_region.clone(),
            cluster_id: kit.source_cluster_id.clone(),
            destination_region: kit.destination_region.clone(),
            backup_id: kit.backup_id.clone(),
            copy_mode: kit.mode.clone().unwrap_or_else(|| "unknown".into()),
            cluster_mode: kit.source_cluster_mode.clone().unwrap_or_else(|| "unknown".into()),
            parameter: parameter.to_owned(),
            error: error.unwrap_or_default(),
        }
    }

    /// The newest copy of a cluster in a region that a recovery account does not see.
    pub fn not_seen(source_region: &str, cluster_id: &str, region: &str, backup_id: &str, account: &str) -> Self {
        Self {
            problem: Problem::NotSeenByRecovery,
            source_region: source_region.to_owned(),
            cluster_id: cluster_id.to_owned(),
            destination_region: region.to_owned(),
            backup_id: backup_id.to_owned(),
            copy_mode: "unknown".into(),
            cluster_mode: "unknown".into(),
            parameter: String::new(),
            error: format!("recovery account {account} does not list it as shared"),
        }
    }

    pub fn announcement(&self) -> Announcement {
        Announcement {
            detail_type: READINESS_FAILED_DETAIL_TYPE,
            // A struct of strings serialises; the fallback names the cluster all the same.
            detail: serde_json::to_string(self).unwrap_or_else(|_| {
                format!(
                    "{{\"clusterId\":{:?},\"problem\":\"{:?}\"}}",
                    self.cluster_id, self.problem
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restore_kit::KIT_VERSION;

    #[test]
    fn the_event_names_the_cluster_the_region_the_copy_and_both_modes() {
        let kit = RestoreKit {
            version: KIT_VERSION,
            source_region: "us-east-1".into(),
            source_cluster_id: "cluster-kzlczlspnho".into(),
            destination_region: "us-west-2".into(),
            backup_id: "backup-uscopyxxxxx".into(),
            source_backup_id: Some("backup-4kuraxsqetz".into()),
            hsm_type: Some("hsm2m.medium".into()),
            mode: Some("FIPS".into()),
            backup_created_at: None,
            source_cluster_mode: Some("NON_FIPS".into()),
            cluster_certificate: None,
            customer_ca_certificate: None,
            mode_mismatch_announced: None,
            guarded_backup_ids: Vec::new(),
            recovery_check: None,
        };
        let event =
            ReadinessFailure::new(Problem::ModeMismatch, "/p/us-east-1/cluster-kzlczlspnho", &kit, None).announcement();
        assert_eq!(event.detail_type, "CloudHSM DR Readiness Failed");
        let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap();
        assert_eq!(
            detail,
            serde_json::json!({
                "problem": "MODE_MISMATCH", "sourceRegion": "us-east-1", "clusterId": "cluster-kzlczlspnho",
                "destinationRegion": "us-west-2", "backupId": "backup-uscopyxxxxx", "copyMode": "FIPS",
                "clusterMode": "NON_FIPS", "parameter": "/p/us-east-1/cluster-kzlczlspnho", "error": ""
            })
        );
        let failed =
            ReadinessFailure::new(Problem::KitNotStored, "/p", &kit, Some("AccessDenied".into())).announcement();
        assert!(failed.detail.contains("\"problem\":\"KIT_NOT_STORED\"") && failed.detail.contains("AccessDenied"));
    }
}
