//! What start-copy is asked to do, parsed from the EventBridge envelope it receives.
//!
//! Three kinds of event arrive: CloudTrail-borne CloudHSM API calls (`aws.cloudhsm`), our own
//! documented "CloudHSM Backup Created" event, and the schedule tick that drives the sweep.
//! Parsing is strict and happens before any AWS call: a malformed event is a typed error.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

mod backup_created;
mod cloudtrail;
mod request;

use backup_created::parse_backup_created;
use cloudtrail::parse_cloudtrail;
pub use request::{PRUNE_ACTION, PRUNE_ORIGIN, StartCopyRequest};

use crate::error::excerpt;

/// Values quoted in error messages are cut to this many characters.
const QUOTED_CHARS: usize = 64;

/// The custom event's `detail-type`, documented in the README.
pub const BACKUP_CREATED_DETAIL_TYPE: &str = "CloudHSM Backup Created";
pub const CLOUDTRAIL_API_CALL: &str = "AWS API Call via CloudTrail";
pub const CLOUDTRAIL_SERVICE_EVENT: &str = "AWS Service Event via CloudTrail";
pub const SCHEDULED_EVENT: &str = "Scheduled Event";
pub const CLOUDHSM_SOURCE: &str = "aws.cloudhsm";
pub const SCHEDULE_SOURCE: &str = "aws.events";

/// What an event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Copy this backup (if it needs copying).
    Backup {
        backup_id: String,
        cluster_id: Option<String>,
    },
    /// Copy this cluster's READY backups that lack copies.
    Cluster { cluster_id: String },
    /// Copy every READY backup in the region that lacks copies. The hourly sweep reads the
    /// source newest first and stops at the look-back window; the daily `deep` run reads every
    /// backup (so an order AWS does not promise hides nothing for more than a day) and applies
    /// the pruning policy when it is on (it needs every copy in each destination).
    Sweep { deep: bool },
    /// A well-formed event that asks for nothing (e.g. a failed API call).
    Ignored { reason: String },
}

/// A parsed event: what it asks for, and where it came from (for the summary and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEvent {
    pub trigger: Trigger,
    /// `detail-type`, plus the API name for CloudTrail events.
    pub origin: String,
    pub event_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the payload is not an EventBridge event: {0}")]
    NotAnEvent(String),
    #[error("unsupported event: source {event_source:?}, detail-type {detail_type:?}")]
    Unsupported { event_source: String, detail_type: String },
    #[error("field {field} must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("a pruning request is exactly {{\"action\": \"{PRUNE_ACTION}\"}}")]
    NotAPruneRequest,
    #[error("the {BACKUP_CREATED_DETAIL_TYPE:?} event needs detail.backupId or detail.clusterId")]
    NothingNamed,
    #[error("{field} {value:?} is not a CloudHSM backup id (backup-[2-7a-zA-Z]{{11,16}})")]
    InvalidBackupId { field: &'static str, value: String },
    #[error("{field} {value:?} is not a CloudHSM cluster id (cluster-[2-7a-zA-Z]{{11,16}})")]
    InvalidClusterId { field: &'static str, value: String },
}

/// Where the function runs. EventBridge stamps every event with the account and region it was
/// put in; an event from anywhere else (another account's bus forwarding to ours, a forged
/// invoke) is not ours to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Home<'a> {
    pub account: &'a str,
    pub region: &'a str,
}

/// Reads an EventBridge envelope's request. An event from another account or region is ignored,
/// with the reason, before its detail is read.
pub fn parse_event(envelope: &EventBridgeEvent<Value>, home: &Home<'_>) -> Result<ParsedEvent, EventError> {
    let event_id = envelope.id.clone();
    let source = envelope.source.as_str();
    let detail_type = envelope.detail_type.as_str();
    let (Some(account), Some(region)) = (envelope.account.as_deref(), envelope.region.as_deref()) else {
        return Err(EventError::NotAnEvent("the envelope names no account or region".into()));
    };
    if let Some(reason) = foreign(account, region, home) {
        return Ok(ParsedEvent {
            trigger: Trigger::Ignored { reason },
            origin: excerpt(detail_type, QUOTED_CHARS),
            event_id,
        });
    }
    let (trigger, origin) = match (source, detail_type) {
        (SCHEDULE_SOURCE, SCHEDULED_EVENT) => (Trigger::Sweep { deep: false }, SCHEDULED_EVENT.to_owned()),
        (_, BACKUP_CREATED_DETAIL_TYPE) => (
            parse_backup_created(&envelope.detail)?,
            BACKUP_CREATED_DETAIL_TYPE.to_owned(),
        ),
        (CLOUDHSM_SOURCE, CLOUDTRAIL_API_CALL | CLOUDTRAIL_SERVICE_EVENT) => parse_cloudtrail(&envelope.detail)?,
        _ => {
            return Err(EventError::Unsupported {
                event_source: excerpt(source, QUOTED_CHARS),
                detail_type: excerpt(detail_type, QUOTED_CHARS),
            });
        }
    };
    Ok(ParsedEvent {
        trigger,
        origin,
        event_id,
    })
}

/// Why an envelope's account or region is not the function's, if it is not.
fn foreign(account: &str, region: &str, home: &Home<'_>) -> Option<String> {
    if account != home.account {
        return Some(format!(
            "event from account {:?}, not this function's account {}",
            excerpt(account, QUOTED_CHARS),
            home.account
        ));
    }
    if region != home.region {
        return Some(format!(
            "event from region {:?}, not this function's region {}",
            excerpt(region, QUOTED_CHARS),
            home.region
        ));
    }
    None
}

fn optional_string(value: Option<&Value>, field: &'static str) -> Result<Option<String>, EventError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(EventError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOME: Home<'static> = Home {
        account: "123456789012",
        region: "us-east-1",
    };

    fn parse(payload: &Value) -> Result<ParsedEvent, EventError> {
        StartCopyRequest::read(payload.clone())?.parse(&HOME)
    }

    fn envelope(source: &str, detail_type: &str, detail: Value) -> Value {
        json!({
            "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": detail_type,
            "source": source, "account": "123456789012", "time": "2026-11-26T04:00:00Z",
            "region": "us-east-1", "resources": [], "detail": detail
        })
    }

    #[test]
    fn events_from_another_account_or_region_are_ignored_before_their_detail_is_read() {
        let forged = |account: Value, region: Value| -> Trigger {
            let mut e = envelope(
                "aws.cloudhsm",
                CLOUDTRAIL_API_CALL,
                json!({"eventSource": "cloudhsm.amazonaws.com", "eventName": "CreateHsm", "requestParameters": {"clusterId": "not a cluster"}}),
            );
            e["account"] = account;
            e["region"] = region;
            parse(&e).unwrap().trigger
        };
        let reason = |t: Trigger| match t {
            Trigger::Ignored { reason } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(forged(json!("999999999999"), json!("us-east-1"))),
            "event from account \"999999999999\", not this function's account 123456789012"
        );
        assert_eq!(
            reason(forged(json!("123456789012"), json!("eu-central-1"))),
            "event from region \"eu-central-1\", not this function's region us-east-1"
        );
        let mut nameless = envelope("aws.events", "Scheduled Event", json!({}));
        nameless.as_object_mut().unwrap().remove("account");
        assert!(matches!(parse(&nameless), Err(EventError::NotAnEvent(_))));
        let long = "9".repeat(10_000);
        assert!(reason(forged(json!(long), json!("us-east-1"))).len() < 200);
        // The same event from home is read, and its bad cluster id is an error.
        assert!(matches!(
            parse(&envelope(
                "aws.cloudhsm",
                CLOUDTRAIL_API_CALL,
                json!({"eventSource": "cloudhsm.amazonaws.com", "eventName": "CreateHsm", "requestParameters": {"clusterId": "not a cluster"}})
            )),
            Err(EventError::InvalidClusterId { .. })
        ));
    }

    #[test]
    fn schedule_tick_is_a_sweep() {
        let parsed = parse(&envelope("aws.events", "Scheduled Event", json!({}))).unwrap();
        assert_eq!(parsed.trigger, Trigger::Sweep { deep: false });
        assert_eq!(parsed.event_id.as_deref(), Some("6a7e8feb-b491-4cf7-a9f1-bf3703467718"));
    }

    #[test]
    fn custom_event_names_a_backup_or_a_cluster() {
        let e = envelope(
            "my.automation",
            BACKUP_CREATED_DETAIL_TYPE,
            json!({"backupId": "backup-4kuraxsqetz", "clusterId": "cluster-kzlczlspnho"}),
        );
        assert_eq!(
            parse(&e).unwrap().trigger,
            Trigger::Backup {
                backup_id: "backup-4kuraxsqetz".into(),
                cluster_id: Some("cluster-kzlczlspnho".into())
            }
        );
        let e = envelope(
            "my.automation",
            BACKUP_CREATED_DETAIL_TYPE,
            json!({"clusterId": "cluster-kzlczlspnho"}),
        );
        assert_eq!(
            parse(&e).unwrap().trigger,
            Trigger::Cluster {
                cluster_id: "cluster-kzlczlspnho".into()
            }
        );
    }

    #[test]
    fn custom_event_rejects_bad_details() {
        let cases = [
            (json!({}), "needs detail.backupId"),
            (json!({"backupId": "backup-1"}), "not a CloudHSM backup id"),
            (json!({"backupId": 42}), "must be a string"),
            (json!({"clusterId": "cluster-x"}), "not a CloudHSM cluster id"),
            (
                json!({"backupId": "backup-4kuraxsqetz", "clusterId": "nope"}),
                "not a CloudHSM cluster id",
            ),
            (json!("backup-4kuraxsqetz"), "must be an object"),
        ];
        for (detail, expected) in cases {
            let err = parse(&envelope("me", BACKUP_CREATED_DETAIL_TYPE, detail.clone())).unwrap_err();
            assert!(err.to_string().contains(expected), "{detail}: {err}");
        }
    }

    #[test]
    fn cloudtrail_prefers_a_backup_id_then_a_cluster_id() {
        let restore = json!({"eventSource": "cloudhsm.amazonaws.com", "eventName": "RestoreBackup",
            "requestParameters": {"backupId": "backup-4kuraxsqetz"},
            "responseElements": {"backup": {"backupId": "backup-4kuraxsqetz", "clusterId": "cluster-kzlczlspnho"}}});
        let parsed = parse(&envelope("aws.cloudhsm", CLOUDTRAIL_API_CALL, restore)).unwrap();
        assert_eq!(
            parsed.trigger,
            Trigger::Backup {
                backup_id: "backup-4kuraxsqetz".into(),
                cluster_id: Some("cluster-kzlczlspnho".into())
            }
        );
        assert_eq!(parsed.origin, "CloudTrail RestoreBackup");

        let create_hsm = json!({"eventName": "CreateHsm", "requestParameters": {"clusterId": "cluster-kzlczlspnho", "availabilityZone": "us-east-1a"}});
        let parsed = parse(&envelope("aws.cloudhsm", CLOUDTRAIL_SERVICE_EVENT, create_hsm)).unwrap();
        assert_eq!(
            parsed.trigger,
            Trigger::Cluster {
                cluster_id: "cluster-kzlczlspnho".into()
            }
        );
    }

    #[test]
    fn cloudtrail_events_that_announce_nothing_are_ignored() {
        let failed = json!({"eventName": "CreateHsm", "errorCode": "CloudHsmInvalidRequestException", "requestParameters": {"clusterId": "cluster-kzlczlspnho"}});
        let copy = json!({"eventName": "CopyBackupToRegion", "requestParameters": {"backupId": "backup-4kuraxsqetz", "destinationRegion": "us-west-2"}});
        let tag = json!({"eventName": "TagResource", "requestParameters": {"resourceId": "x"}});
        for detail in [failed, copy, tag] {
            let parsed = parse(&envelope("aws.cloudhsm", CLOUDTRAIL_API_CALL, detail)).unwrap();
            assert!(matches!(parsed.trigger, Trigger::Ignored { .. }), "{parsed:?}");
        }
    }

    #[test]
    fn cloudtrail_with_a_malformed_id_is_an_error() {
        let detail = json!({"eventName": "DeleteHsm", "requestParameters": {"clusterId": "cluster-../../etc"}});
        let err = parse(&envelope("aws.cloudhsm", CLOUDTRAIL_API_CALL, detail)).unwrap_err();
        assert!(matches!(err, EventError::InvalidClusterId { .. }));
        let detail = json!({"eventName": "RestoreBackup", "requestParameters": {"backupId": ["backup-4kuraxsqetz"]}});
        let err = parse(&envelope("aws.cloudhsm", CLOUDTRAIL_API_CALL, detail)).unwrap_err();
        assert!(matches!(err, EventError::InvalidBackupId { .. }));
    }

    #[test]
    fn other_events_and_non_events_are_errors() {
        let err = parse(&envelope(
            "aws.ec2",
            "EC2 Instance State-change Notification",
            json!({}),
        ))
        .unwrap_err();
        assert!(matches!(err, EventError::Unsupported { .. }));
        for payload in [
            json!(null),
            json!([]),
            json!("text"),
            json!({"detail-type": 1}),
            json!({"source": "x", "detail": {}}),
        ] {
            assert!(matches!(parse(&payload), Err(EventError::NotAnEvent(_))), "{payload}");
        }
    }
}
