//! CloudTrail-borne CloudHSM events: which backup or cluster a record names, found in its
//! response, request or service-event details.

use serde_json::Value;

use super::{EventError, QUOTED_CHARS, Trigger, optional_string};
use crate::error::excerpt;
use crate::ids::{is_backup_id, is_cluster_id};

/// The parts of a CloudTrail record that may name the backup or cluster, in order of preference.
const CLOUDTRAIL_SECTIONS: [&str; 3] = ["responseElements", "requestParameters", "serviceEventDetails"];
/// How deep to look inside a section (`responseElements.backup.backupId` is depth 2).
const MAX_SEARCH_DEPTH: usize = 3;

/// A CloudTrail record: the backup id it carries, else the cluster id it names.
pub(super) fn parse_cloudtrail(detail: &Value) -> Result<(Trigger, String), EventError> {
    let detail = detail.as_object().ok_or(EventError::WrongType {
        field: "detail",
        expected: "an object",
    })?;
    let event_name = optional_string(detail.get("eventName"), "detail.eventName")?.unwrap_or_default();
    let origin = format!("CloudTrail {event_name}").trim_end().to_owned();
    if let Some(code) = optional_string(detail.get("errorCode"), "detail.errorCode")? {
        let reason = format!("the API call failed ({code}), so it made no backup");
        return Ok((Trigger::Ignored { reason }, origin));
    }
    if event_name == "CopyBackupToRegion" {
        // Our own copy requests come back through CloudTrail; they announce no new backup.
        let reason = "a CopyBackupToRegion call announces no new backup in this region".to_owned();
        return Ok((Trigger::Ignored { reason }, origin));
    }
    let sections = || CLOUDTRAIL_SECTIONS.iter().filter_map(|s| detail.get(*s));
    if let Some(value) = sections().find_map(|s| find_key(s, "backupId", MAX_SEARCH_DEPTH)) {
        return match value {
            Value::String(id) if is_backup_id(id) => {
                let cluster_id = sections()
                    .find_map(|s| find_key(s, "clusterId", MAX_SEARCH_DEPTH))
                    .and_then(Value::as_str)
                    .filter(|id| is_cluster_id(id))
                    .map(str::to_owned);
                Ok((
                    Trigger::Backup {
                        backup_id: id.clone(),
                        cluster_id,
                    },
                    origin,
                ))
            }
            other => Err(EventError::InvalidBackupId {
                field: "detail backupId",
                value: excerpt(&other.to_string(), QUOTED_CHARS),
            }),
        };
    }
    if let Some(value) = sections().find_map(|s| find_key(s, "clusterId", MAX_SEARCH_DEPTH)) {
        return match value {
            Value::String(id) if is_cluster_id(id) => Ok((Trigger::Cluster { cluster_id: id.clone() }, origin)),
            other => Err(EventError::InvalidClusterId {
                field: "detail clusterId",
                value: excerpt(&other.to_string(), QUOTED_CHARS),
            }),
        };
    }
    let reason = "the record names no backup and no cluster".to_owned();
    Ok((Trigger::Ignored { reason }, origin))
}

/// Depth-first search for `key` in objects (and arrays) up to `depth` levels down.
fn find_key<'a>(value: &'a Value, key: &str, depth: usize) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.get(key).or_else(|| {
            (depth > 0)
                .then(|| map.values().find_map(|v| find_key(v, key, depth - 1)))
                .flatten()
        }),
        Value::Array(items) if depth > 0 => items.iter().find_map(|v| find_key(v, key, depth - 1)),
        _ => None,
    }
}
