//! What a sweep did with each restore kit, for its summary.

use serde::Serialize;

use super::RestoreKit;

/// What a sweep did with one kit, for its summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KitReport {
    pub cluster_id: String,
    pub destination_region: String,
    pub parameter: String,
    pub backup_id: String,
    pub status: KitStatus,
    /// `false`: the newest copy's mode is not the source cluster's (it cannot restore the
    /// cluster as it is); `None`: a mode is unknown.
    pub mode_matches: Option<bool>,
    /// Why the kit was not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KitStatus {
    /// The stored kit was already right.
    Current,
    Written,
    /// Not stored (see the report's `error`): announced and counted, not a failure of the run,
    /// which would only be retried with the same result.
    Failed,
}

impl KitStatus {
    pub fn name(self) -> &'static str {
        match self {
            Self::Current => "CURRENT",
            Self::Written => "WRITTEN",
            Self::Failed => "FAILED",
        }
    }
}

impl KitReport {
    pub fn new(parameter: &str, kit: &RestoreKit, status: KitStatus, error: Option<String>) -> Self {
        Self {
            cluster_id: kit.source_cluster_id.clone(),
            destination_region: kit.destination_region.clone(),
            parameter: parameter.to_owned(),
            backup_id: kit.backup_id.clone(),
            status,
            mode_matches: kit.mode_matches(),
            error,
        }
    }
}
