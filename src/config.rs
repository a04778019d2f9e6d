//! Configuration read from the environment at cold start, validated before any event is handled.
//!
//! A bad setting stops the function at init with a message naming the setting, rather than
//! failing later on every event.

use crate::generations::RetryPolicy;
use crate::ids::{is_govcloud, is_region, partition, same_partition};
use crate::pruning::PrunePolicy;
use crate::scope::Scope;
use crate::selection::{ClusterSelection, parse_cluster_ids, parse_tag_pairs};
use crate::tags::{TagPolicy, validate_tag};

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

impl StartCopyConfig {
    /// Reads the settings through `get` (the process environment in production).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Regions {
            source_region,
            destination_regions,
        } = Regions::from_lookup(&get)?;
        let state_machine_arn = required(&get, ENV_STATE_MACHINE_ARN)?;
        let account_id = match state_machine_arn.split(':').collect::<Vec<_>>()[..] {
            ["arn", _, "states", region, account, "stateMachine", name]
                if region == source_region
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
                    && !name.is_empty() =>
            {
                account.to_owned()
            }
            _ => {
                return Err(ConfigError::Invalid {
                    name: ENV_STATE_MACHINE_ARN,
                    value: state_machine_arn,
                    reason: format!(
                        "expected a state machine ARN in this region (arn:PARTITION:states:{source_region}:ACCOUNT:stateMachine:NAME)"
                    ),
                });
            }
        };
        let lookback_hours = match get(ENV_LOOKBACK_HOURS).filter(|v| !v.trim().is_empty()) {
            None => DEFAULT_LOOKBACK_HOURS,
            Some(v) => v
                .trim()
                .parse()
                .ok()
                .filter(|h| *h > 0)
                .ok_or_else(|| ConfigError::Invalid {
                    name: ENV_LOOKBACK_HOURS,
                    value: v.clone(),
                    reason: "expected a whole number of hours greater than 0".into(),
                })?,
        };
        let text = |name: &str| get(name).unwrap_or_default();
        let invalid = |name: &'static str, reason: String| ConfigError::Invalid {
            name,
            value: text(name),
            reason,
        };
        let selection = ClusterSelection {
            tags: parse_tag_pairs(&text(ENV_CLUSTER_TAG_SELECTOR)).map_err(|r| invalid(ENV_CLUSTER_TAG_SELECTOR, r))?,
            ..cluster_lists(&get)?
        };
        let flag = |name: &'static str, default: bool| flag(&get, name, default);
        let count = |name: &'static str| match text(name).trim() {
            "" => Ok(0),
            v => v
                .parse::<u32>()
                .map_err(|_| invalid(name, "expected a whole number (0 = off)".into())),
        };
        let prune = PrunePolicy {
            retention_days: count(ENV_RETENTION_DAYS)?,
            keep_newest: count(ENV_KEEP_NEWEST_COPIES)?,
            dry_run: flag(ENV_PRUNE_DRY_RUN, false)?,
        };
        prune
            .check_against_lookback(lookback_hours)
            .map_err(|reason| invalid(ENV_LOOKBACK_HOURS, reason))?;
        let max_copies_in_flight = match text(ENV_MAX_COPIES_IN_FLIGHT).trim() {
            "" => DEFAULT_MAX_COPIES_IN_FLIGHT,
            v => v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                invalid(
                    ENV_MAX_COPIES_IN_FLIGHT,
                    "expected a whole number greater than 0".into(),
                )
            })?,
        };
        let retry = match text(ENV_MAX_FAILED_EXECUTIONS).trim() {
            "" => RetryPolicy::default(),
            v => RetryPolicy {
                max_failed_executions: v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_FAILED_EXECUTIONS_LIMIT).contains(n))
                    .ok_or_else(|| {
                        invalid(
                            ENV_MAX_FAILED_EXECUTIONS,
                            format!("expected a whole number from 1 to {MAX_FAILED_EXECUTIONS_LIMIT}"),
                        )
                    })?,
            },
        };
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
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// The settings check-copy runs with: which jobs it may look at, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckCopyConfig {
    pub scope: Scope,
}

impl CheckCopyConfig {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self { scope: scope(&get)? })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// The settings the copy step runs with: which jobs it may carry out, and the copies' tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyStepConfig {
    pub scope: Scope,
    pub tag_policy: TagPolicy,
}

impl CopyStepConfig {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let extra =
            parse_tag_pairs(&get(ENV_COPY_TAGS).unwrap_or_default()).map_err(|reason| ConfigError::Invalid {
                name: ENV_COPY_TAGS,
                value: get(ENV_COPY_TAGS).unwrap_or_default(),
                reason,
            })?;
        for (k, v) in &extra {
            validate_tag(k, v).map_err(|e| ConfigError::Invalid {
                name: ENV_COPY_TAGS,
                value: get(ENV_COPY_TAGS).unwrap_or_default(),
                reason: e.to_string(),
            })?;
        }
        Ok(Self {
            scope: scope(&get)?,
            tag_policy: TagPolicy {
                keep_source_tags: flag(&get, ENV_KEEP_SOURCE_TAGS, true)?,
                extra,
            },
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// The regions and the cluster lists, which the functions acting on one job check it against.
fn scope(get: &impl Fn(&str) -> Option<String>) -> Result<Scope, ConfigError> {
    let Regions {
        source_region,
        destination_regions,
    } = Regions::from_lookup(get)?;
    Ok(Scope {
        source_region,
        destination_regions,
        selection: cluster_lists(get)?,
    })
}

/// INCLUDE_CLUSTERS and EXCLUDE_CLUSTERS (no tag selector).
fn cluster_lists(get: &impl Fn(&str) -> Option<String>) -> Result<ClusterSelection, ConfigError> {
    let ids = |name: &'static str| {
        let raw = get(name).unwrap_or_default();
        parse_cluster_ids(&raw).map_err(|reason| ConfigError::Invalid {
            name,
            value: raw.clone(),
            reason,
        })
    };
    Ok(ClusterSelection {
        include: ids(ENV_INCLUDE_CLUSTERS)?,
        exclude: ids(ENV_EXCLUDE_CLUSTERS)?,
        tags: Vec::new(),
    })
}

/// A true/false setting; blank means `default`.
fn flag(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    let raw = get(name).unwrap_or_default();
    match raw.trim().to_ascii_lowercase().as_str() {
        "" => Ok(default),
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::Invalid {
            name,
            value: raw,
            reason: "expected true or false".into(),
        }),
    }
}

/// A setting that must be set and not blank, trimmed.
fn required(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing { name })
}

/// The source region and the checked destinations, which both functions read.
struct Regions {
    source_region: String,
    destination_regions: Vec<String>,
}

impl Regions {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let source_region = required(get, ENV_SOURCE_REGION)?;
        let destination_regions = parse_destinations(&source_region, &required(get, ENV_DESTINATION_REGIONS)?)?;
        Ok(Self {
            source_region,
            destination_regions,
        })
    }
}

/// Splits and checks the destination list: names, duplicates, same-region, partitions.
fn parse_destinations(source: &str, raw: &str) -> Result<Vec<String>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: ENV_DESTINATION_REGIONS,
        value: raw.to_owned(),
        reason,
    };
    if !is_region(source) {
        return Err(ConfigError::Invalid {
            name: ENV_SOURCE_REGION,
            value: source.to_owned(),
            reason: "not a region name".into(),
        });
    }
    let mut regions: Vec<String> = Vec::new();
    for region in raw.split(',').map(str::trim) {
        if !is_region(region) {
            return Err(invalid(format!("{region:?} is not a region name")));
        }
        if region == source {
            return Err(invalid(format!(
                "{region} is the source region; copies must go elsewhere"
            )));
        }
        if is_govcloud(region) != is_govcloud(source) {
            return Err(invalid(format!(
                "{region} and the source region {source} are on different sides of the GovCloud boundary, which backups cannot cross"
            )));
        }
        if !same_partition(region, source) {
            return Err(invalid(format!(
                "{region} is in partition {} and the source region {source} in {}; backups cannot leave their partition",
                partition(region),
                partition(source)
            )));
        }
        if regions.iter().any(|r| r == region) {
            return Err(invalid(format!("{region} is listed twice")));
        }
        regions.push(region.to_owned());
    }
    Ok(regions)
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
    fn the_copy_step_reads_its_scope_and_the_tag_settings() {
        let env = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            CopyStepConfig::from_lookup(|k| map.get(k).cloned())
        };
        let base = [
            ("AWS_REGION", "us-east-1"),
            ("DESTINATION_REGIONS", "us-west-2"),
            ("EXCLUDE_CLUSTERS", "cluster-ccccccccccc"),
        ];
        let c = env(&[
            &base[..],
            &[
                ("COPY_TAGS", "cost-center=dr,backup-tier=copy"),
                ("KEEP_SOURCE_TAGS", "False"),
            ],
        ]
        .concat())
        .unwrap();
        assert_eq!(c.scope.destination_regions, vec!["us-west-2"]);
        assert_eq!(c.scope.selection.exclude, vec!["cluster-ccccccccccc"]);
        assert!(!c.tag_policy.keep_source_tags);
        assert_eq!(c.tag_policy.extra.len(), 2);
        assert_eq!(env(&base).unwrap().tag_policy, TagPolicy::default());
        for (name, value) in [
            ("COPY_TAGS", "aws:owner=me"),
            ("COPY_TAGS", "owner=me*you"),
            ("KEEP_SOURCE_TAGS", "maybe"),
            ("INCLUDE_CLUSTERS", "cluster-1"),
        ] {
            let err = env(&[&base[..], &[(name, value)]].concat()).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn check_copy_checks_its_settings_too() {
        let env = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            CheckCopyConfig::from_lookup(|k| map.get(k).cloned())
        };
        let ok = env(&[
            ("AWS_REGION", "us-east-1"),
            ("DESTINATION_REGIONS", "us-west-2,eu-west-1"),
        ])
        .unwrap();
        assert_eq!(ok.scope.destination_regions, vec!["us-west-2", "eu-west-1"]);
        for (pairs, name) in [
            (vec![("AWS_REGION", "us-east-1")], "DESTINATION_REGIONS"),
            (vec![("DESTINATION_REGIONS", "us-west-2")], "AWS_REGION"),
            (
                vec![("AWS_REGION", "us-east-1"), ("DESTINATION_REGIONS", "cn-north-1")],
                "DESTINATION_REGIONS",
            ),
            (
                vec![("AWS_REGION", "mars"), ("DESTINATION_REGIONS", "us-west-2")],
                "AWS_REGION",
            ),
        ] {
            let err = env(&pairs).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
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
