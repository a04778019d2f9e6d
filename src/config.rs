//! Configuration read from the environment at cold start, validated before any event is handled.
//!
//! A bad setting stops the function at init with a message naming the setting, rather than
//! failing later on every event.

mod drill;
mod scoped;
mod settings;

pub use drill::RestoreDrillConfig;
pub use scoped::{CheckCopyConfig, CopyStepConfig, ENV_RECOVERY_ACCOUNTS, ShareCopyConfig};
use settings::{Regions, account_of, cluster_lists, event_bus, flag, number, required, restore_kit};

use crate::generations::RetryPolicy;
use crate::pruning::PrunePolicy;
use crate::restore_kit::KitSettings;
use crate::selection::{ClusterSelection, parse_tag_pairs};

/// The settings start-copy runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartCopyConfig {
    /// The region whose backups are copied (the function's own region).
    pub source_region: String,
    /// Where copies go; validated, non-empty, without duplicates.
    pub destination_regions: Vec<String>,
    /// The tracking state machine.
    pub state_machine_arn: String,
    /// The account the stack runs in (from the state machine's ARN): events from any other
    /// account are ignored.
    pub account_id: String,
    /// Cluster-wide and sweep searches consider backups created within this many hours.
    pub lookback_hours: u32,
    /// Which clusters' backups are copied.
    pub selection: ClusterSelection,
    /// Pruning of old copies, by the pruning runs (`{"action": "prune"}`).
    pub prune: PrunePolicy,
    /// When sweeps stop retrying a copy that keeps failing.
    pub retry: RetryPolicy,
    /// Most copies a sweep keeps in progress per destination region (backpressure).
    pub max_copies_in_flight: usize,
    /// Where sweeps keep each destination's restore kits; `None`: they keep none.
    pub restore_kit: Option<KitSettings>,
    /// The bus readiness failures are announced on.
    pub event_bus_name: String,
    /// Mark each cluster's newest READY copy per region NeverExpires (see [`crate::guard`]).
    pub guard_newest_copy: bool,
    /// Share every READY copy the sweep sees that is not yet shared (see [`crate::sharing`]).
    pub sharing: Option<crate::sharing::Recipients>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {name} is required but not set")]
    Missing { name: &'static str },
    #[error("setting {name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

pub const ENV_SOURCE_REGION: &str = "AWS_REGION";
pub const ENV_DESTINATION_REGIONS: &str = "DESTINATION_REGIONS";
pub const ENV_STATE_MACHINE_ARN: &str = "STATE_MACHINE_ARN";
pub const ENV_LOOKBACK_HOURS: &str = "LOOKBACK_HOURS";
/// A week: long enough to ride out a multi-day outage of the event path or of this function.
pub const DEFAULT_LOOKBACK_HOURS: u32 = 168;
pub const ENV_INCLUDE_CLUSTERS: &str = "INCLUDE_CLUSTERS";
pub const ENV_EXCLUDE_CLUSTERS: &str = "EXCLUDE_CLUSTERS";
pub const ENV_CLUSTER_TAG_SELECTOR: &str = "CLUSTER_TAG_SELECTOR";
pub const ENV_COPY_TAGS: &str = "COPY_TAGS";
pub const ENV_KEEP_SOURCE_TAGS: &str = "KEEP_SOURCE_TAGS";
pub const ENV_RETENTION_DAYS: &str = "RETENTION_DAYS";
pub const ENV_KEEP_NEWEST_COPIES: &str = "KEEP_NEWEST_COPIES";
pub const ENV_PRUNE_DRY_RUN: &str = "PRUNE_DRY_RUN";
pub const ENV_MAX_FAILED_EXECUTIONS: &str = "MAX_FAILED_EXECUTIONS";
/// Upper bound of MAX_FAILED_EXECUTIONS: each failed execution sends a failure event (a mail).
pub const MAX_FAILED_EXECUTIONS_LIMIT: u32 = 50;
pub const ENV_MAX_COPIES_IN_FLIGHT: &str = "MAX_COPIES_IN_FLIGHT";
pub const DEFAULT_MAX_COPIES_IN_FLIGHT: usize = 100;
pub const ENV_RESTORE_KIT_PREFIX: &str = "RESTORE_KIT_PREFIX";
pub const ENV_EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
pub const ENV_GUARD_NEWEST_COPY: &str = "GUARD_NEWEST_COPY";
pub const ENV_CUSTOMER_CA_CERTIFICATE: &str = "CUSTOMER_CA_CERTIFICATE_LOCATION";
/// Longest CUSTOMER_CA_CERTIFICATE_LOCATION: it is a pointer (a parameter, an object), not the PEM.
pub const MAX_CUSTOMER_CA_LOCATION: usize = 1024;

impl StartCopyConfig {
    /// Reads the settings through `get` (the process environment in production).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Regions {
            source_region,
            destination_regions,
        } = Regions::from_lookup(&get)?;
        let state_machine_arn = required(&get, ENV_STATE_MACHINE_ARN)?;
        let account_id = account_of(ENV_STATE_MACHINE_ARN, &state_machine_arn, &source_region)?;
        let lookback_hours = number(
            &get,
            ENV_LOOKBACK_HOURS,
            DEFAULT_LOOKBACK_HOURS,
            1..=u32::MAX,
            "a whole number of hours greater than 0",
        )?;
        let selection = selection(&get)?;
        let prune = prune_policy(&get, lookback_hours)?;
        let max_copies_in_flight = number(
            &get,
            ENV_MAX_COPIES_IN_FLIGHT,
            DEFAULT_MAX_COPIES_IN_FLIGHT,
            1..=usize::MAX,
            "a whole number greater than 0",
        )?;
        let retry = retry_policy(&get)?;
        let restore_kit = restore_kit(&get)?;
        let event_bus_name = event_bus(&get)?;
        let guard_newest_copy = flag(&get, ENV_GUARD_NEWEST_COPY, false)?;
        if guard_newest_copy && restore_kit.is_none() {
            return Err(ConfigError::Missing {
                name: ENV_RESTORE_KIT_PREFIX,
            });
        }
        Ok(Self {
            source_region,
            destination_regions,
            state_machine_arn,
            account_id,
            lookback_hours,
            selection,
            prune,
            retry,
            max_copies_in_flight,
            restore_kit,
            event_bus_name,
            guard_newest_copy,
            sharing: scoped::recipients(&get)?,
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// INCLUDE_CLUSTERS, EXCLUDE_CLUSTERS and CLUSTER_TAG_SELECTOR.
fn selection(get: &impl Fn(&str) -> Option<String>) -> Result<ClusterSelection, ConfigError> {
    let tag_selector = get(ENV_CLUSTER_TAG_SELECTOR).unwrap_or_default();
    Ok(ClusterSelection {
        tags: parse_tag_pairs(&tag_selector).map_err(|reason| ConfigError::Invalid {
            name: ENV_CLUSTER_TAG_SELECTOR,
            value: tag_selector.clone(),
            reason,
        })?,
        ..cluster_lists(get)?
    })
}

/// RETENTION_DAYS, KEEP_NEWEST_COPIES and PRUNE_DRY_RUN, checked against the look-back window.
fn prune_policy(get: &impl Fn(&str) -> Option<String>, lookback_hours: u32) -> Result<PrunePolicy, ConfigError> {
    let off = "a whole number (0 = off)";
    let prune = PrunePolicy {
        retention_days: number(get, ENV_RETENTION_DAYS, 0, 0..=u32::MAX, off)?,
        keep_newest: number(get, ENV_KEEP_NEWEST_COPIES, 0, 0..=u32::MAX, off)?,
        dry_run: flag(get, ENV_PRUNE_DRY_RUN, false)?,
    };
    prune
        .check_against_lookback(lookback_hours)
        .map_err(|reason| ConfigError::Invalid {
            name: ENV_LOOKBACK_HOURS,
            value: lookback_hours.to_string(),
            reason,
        })?;
    Ok(prune)
}

/// MAX_FAILED_EXECUTIONS.
fn retry_policy(get: &impl Fn(&str) -> Option<String>) -> Result<RetryPolicy, ConfigError> {
    Ok(RetryPolicy {
        max_failed_executions: number(
            get,
            ENV_MAX_FAILED_EXECUTIONS,
            RetryPolicy::default().max_failed_executions,
            1..=MAX_FAILED_EXECUTIONS_LIMIT,
            &format!("a whole number from 1 to {MAX_FAILED_EXECUTIONS_LIMIT}"),
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<StartCopyConfig, ConfigError> {
        let env: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        StartCopyConfig::from_lookup(|k| env.get(k).cloned())
    }

    const ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:copy";

    #[test]
    fn the_restore_kit_needs_a_path_of_our_own() {
        let base = [
            ("AWS_REGION", "us-east-1"),
            ("DESTINATION_REGIONS", "us-west-2"),
            ("STATE_MACHINE_ARN", ARN),
        ];
        let with = |extra: &[(&str, &str)]| config(&[&base[..], extra].concat());
        assert_eq!(with(&[]).unwrap().restore_kit, None);
        let kit = with(&[
            ("RESTORE_KIT_PREFIX", "/cloudhsm-backup-copy/dr-stack"),
            ("CUSTOMER_CA_CERTIFICATE_LOCATION", "ssm:/pki/ca"),
        ])
        .unwrap()
        .restore_kit
        .unwrap();
        assert_eq!(kit.prefix, "/cloudhsm-backup-copy/dr-stack");
        assert_eq!(kit.customer_ca_certificate.as_deref(), Some("ssm:/pki/ca"));
        // The copy guard keeps its marks in the kits, so it needs them.
        assert!(!with(&[]).unwrap().guard_newest_copy);
        assert_eq!(
            with(&[("GUARD_NEWEST_COPY", "true")]).unwrap_err(),
            ConfigError::Missing {
                name: "RESTORE_KIT_PREFIX"
            }
        );
        let guarded = with(&[
            ("GUARD_NEWEST_COPY", "true"),
            ("RESTORE_KIT_PREFIX", "/cloudhsm-backup-copy/s"),
        ]);
        assert!(guarded.unwrap().guard_newest_copy);
        for bad in ["no-slash", "/aws/x", "/SSM/x", "/a//b", "/a b", "/a/"] {
            let err = with(&[("RESTORE_KIT_PREFIX", bad)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        name: "RESTORE_KIT_PREFIX",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
        let pem = "-----BEGIN CERTIFICATE-----\nMII...";
        let err = with(&[("RESTORE_KIT_PREFIX", "/p"), ("CUSTOMER_CA_CERTIFICATE_LOCATION", pem)]).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "CUSTOMER_CA_CERTIFICATE_LOCATION",
                ..
            }
        ));
    }

    #[test]
    fn reads_a_valid_configuration_with_defaults() {
        let c = config(&[
            ("AWS_REGION", "us-east-1"),
            ("DESTINATION_REGIONS", "us-west-2, eu-west-1"),
            ("STATE_MACHINE_ARN", ARN),
        ])
        .unwrap();
        assert_eq!(c.destination_regions, vec!["us-west-2", "eu-west-1"]);
        assert_eq!(c.lookback_hours, DEFAULT_LOOKBACK_HOURS);
        assert_eq!(c.source_region, "us-east-1");
        assert!(c.selection.is_everything());
        assert_eq!(c.account_id, "123456789012");
    }

    #[test]
    fn reads_selection_and_tag_settings() {
        let c = config(&[
            ("AWS_REGION", "us-east-1"),
            ("DESTINATION_REGIONS", "us-west-2"),
            ("STATE_MACHINE_ARN", ARN),
            ("INCLUDE_CLUSTERS", "cluster-aaaaaaaaaaa, cluster-bbbbbbbbbbb"),
            ("EXCLUDE_CLUSTERS", "cluster-ccccccccccc"),
            ("CLUSTER_TAG_SELECTOR", "dr-copy=true"),
        ])
        .unwrap();
        assert_eq!(c.selection.include.len(), 2);
        assert_eq!(c.selection.exclude, vec!["cluster-ccccccccccc"]);
        assert_eq!(c.selection.tags, vec![("dr-copy".to_owned(), "true".to_owned())]);
    }

    #[test]
    fn rejects_bad_settings_naming_the_setting() {
        let base = [("AWS_REGION", "us-east-1"), ("STATE_MACHINE_ARN", ARN)];
        let cases: &[(&str, &str, &str)] = &[
            ("DESTINATION_REGIONS", "us-east-1", "source region"),
            ("DESTINATION_REGIONS", "us-west-2,us-west-2", "listed twice"),
            ("DESTINATION_REGIONS", "us-west-2,mars-1", "not a region name"),
            ("DESTINATION_REGIONS", "us-gov-west-1", "GovCloud"),
            ("DESTINATION_REGIONS", "cn-north-1", "partition aws-cn"),
            ("DESTINATION_REGIONS", "", "required"),
        ];
        for (name, value, expected) in cases {
            let mut pairs = base.to_vec();
            pairs.push((name, value));
            let err = config(&pairs).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(expected), "{value}: {err}");
        }
        let err = config(&[
            ("AWS_REGION", "us-east-1"),
            ("DESTINATION_REGIONS", "us-west-2"),
            ("STATE_MACHINE_ARN", "copy"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("STATE_MACHINE_ARN"));
        for arn in [
            "arn:aws:states:eu-west-1:123456789012:stateMachine:copy",
            "arn:aws:states:us-east-1:1234:stateMachine:copy",
            "arn:aws:states:us-east-1:123456789012:activity:copy",
        ] {
            let err = config(&[
                ("AWS_REGION", "us-east-1"),
                ("DESTINATION_REGIONS", "us-west-2"),
                ("STATE_MACHINE_ARN", arn),
            ])
            .unwrap_err();
            assert!(err.to_string().contains("STATE_MACHINE_ARN"), "{arn}");
        }
        for (name, value) in [
            ("MAX_COPIES_IN_FLIGHT", "0"),
            ("MAX_FAILED_EXECUTIONS", "0"),
            ("MAX_FAILED_EXECUTIONS", "51"),
            ("MAX_FAILED_EXECUTIONS", "many"),
            ("LOOKBACK_HOURS", "0"),
            ("INCLUDE_CLUSTERS", "cluster-1"),
            ("EXCLUDE_CLUSTERS", "my-cluster"),
            ("CLUSTER_TAG_SELECTOR", "dr-copy"),
            ("RETENTION_DAYS", "-1"),
            ("KEEP_NEWEST_COPIES", "many"),
            ("PRUNE_DRY_RUN", "yes"),
        ] {
            let err = config(&[
                ("AWS_REGION", "us-east-1"),
                ("DESTINATION_REGIONS", "us-west-2"),
                ("STATE_MACHINE_ARN", ARN),
                (name, value),
            ])
            .unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn pruning_settings_are_checked_against_the_lookback_window() {
        let base = [
            ("AWS_REGION", "us-east-1"),
            ("DESTINATION_REGIONS", "us-west-2"),
            ("STATE_MACHINE_ARN", ARN),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            config(&pairs)
        };
        let c = with(&[
            ("RETENTION_DAYS", "30"),
            ("KEEP_NEWEST_COPIES", "5"),
            ("PRUNE_DRY_RUN", "true"),
        ])
        .unwrap();
        assert_eq!(
            (c.prune.retention_days, c.prune.keep_newest, c.prune.dry_run),
            (30, 5, true)
        );
        let err = with(&[("RETENTION_DAYS", "3")]).unwrap_err().to_string();
        assert!(
            err.contains("LOOKBACK_HOURS") && err.contains("RETENTION_DAYS"),
            "{err}"
        );
        let err = with(&[("KEEP_NEWEST_COPIES", "2"), ("LOOKBACK_HOURS", "720")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("PENDING_DELETION"), "{err}");
    }

    #[test]
    fn govcloud_east_and_west_may_exchange_backups() {
        let c = config(&[
            ("AWS_REGION", "us-gov-east-1"),
            ("DESTINATION_REGIONS", "us-gov-west-1"),
            (
                "STATE_MACHINE_ARN",
                "arn:aws-us-gov:states:us-gov-east-1:123456789012:stateMachine:copy",
            ),
        ])
        .unwrap();
        assert_eq!(c.destination_regions, vec!["us-gov-west-1"]);
    }
}
