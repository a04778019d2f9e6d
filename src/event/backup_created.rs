//! Our documented "CloudHSM Backup Created" event: which backup, or which cluster, to copy.

use serde_json::Value;

use super::{EventError, QUOTED_CHARS, Trigger, optional_string};
use crate::error::excerpt;
use crate::ids::{is_backup_id, is_cluster_id};

/// `detail: {"backupId": "...", "clusterId": "..."}`; either may be absent, not both.
pub(super) fn parse_backup_created(detail: &Value) -> Result<Trigger, EventError> {
    let detail = detail.as_object().ok_or(EventError::WrongType {
        field: "detail",
        expected: "an object",
    })?;
    let backup_id = optional_string(detail.get("backupId"), "detail.backupId")?;
    let cluster_id = optional_string(detail.get("clusterId"), "detail.clusterId")?;
    if let Some(value) = &cluster_id
        && !is_cluster_id(value)
    {
        return Err(EventError::InvalidClusterId {
            field: "detail.clusterId",
            value: excerpt(value, QUOTED_CHARS),
        });
    }
    match (backup_id, cluster_id) {
        (Some(backup_id), cluster_id) if is_backup_id(&backup_id) => Ok(Trigger::Backup { backup_id, cluster_id }),
        (Some(value), _) => Err(EventError::InvalidBackupId {
            field: "detail.backupId",
            value: excerpt(&value, QUOTED_CHARS),
        }),
        (None, Some(cluster_id)) => Ok(Trigger::Cluster { cluster_id }),
        (None, None) => Err(EventError::NothingNamed),
    }
}
