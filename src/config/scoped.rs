//! The settings of the functions that act on one job: copy-step, check-copy and share-copy.
//! Each checks every job against the deployment's [`Scope`].

use super::drill::ENV_STACK_NAME;
use super::settings::{Regions, cluster_lists, flag, required};
use super::{ConfigError, ENV_COPY_TAGS, ENV_KEEP_SOURCE_TAGS};
use crate::scope::Scope;
use crate::selection::parse_tag_pairs;
use crate::sharing::{Recipients, is_role_name, parse_recovery_accounts};
use crate::tags::{TagPolicy, validate_tag};

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
        let raw = get(ENV_COPY_TAGS).unwrap_or_default();
        let invalid = |reason: String| ConfigError::Invalid {
            name: ENV_COPY_TAGS,
            value: raw.clone(),
            reason,
        };
        let extra = parse_tag_pairs(&raw).map_err(invalid)?;
        for (k, v) in &extra {
            validate_tag(k, v).map_err(|e| invalid(e.to_string()))?;
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

pub const ENV_RECOVERY_ACCOUNTS: &str = "RECOVERY_ACCOUNTS";
pub const ENV_RECOVERY_ROLE_NAME: &str = "RECOVERY_ROLE_NAME";

/// The settings share-copy runs with: which jobs it may share the copy of, with whom, and the
/// stack whose share it keeps in each DR region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareCopyConfig {
    pub scope: Scope,
    /// Empty: sharing is off, and the step reports the copy shared with no one.
    pub recovery_accounts: Vec<String>,
    pub stack_name: String,
}

impl ShareCopyConfig {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let raw = get(ENV_RECOVERY_ACCOUNTS).unwrap_or_default();
        let recovery_accounts = parse_recovery_accounts(&raw).map_err(|reason| ConfigError::Invalid {
            name: ENV_RECOVERY_ACCOUNTS,
            value: raw.clone(),
            reason,
        })?;
        Ok(Self {
            scope: scope(&get)?,
            recovery_accounts,
            stack_name: required(&get, ENV_STACK_NAME)?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// RECOVERY_ACCOUNTS (and then STACK_NAME): whom sweeps share the copies with; `None`: no one.
pub(super) fn recipients(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Recipients>, ConfigError> {
    let raw = get(ENV_RECOVERY_ACCOUNTS).unwrap_or_default();
    let accounts = parse_recovery_accounts(&raw).map_err(|reason| ConfigError::Invalid {
        name: ENV_RECOVERY_ACCOUNTS,
        value: raw.clone(),
        reason,
    })?;
    if accounts.is_empty() {
        return Ok(None);
    }
    let role = get(ENV_RECOVERY_ROLE_NAME).unwrap_or_default();
    if !role.is_empty() && !is_role_name(&role) {
        return Err(ConfigError::Invalid {
            name: ENV_RECOVERY_ROLE_NAME,
            value: role,
            reason: "not an IAM role name (1 to 64 of A-Z a-z 0-9 + = , . @ _ -)".into(),
        });
    }
    Ok(Some(Recipients {
        accounts,
        stack_name: required(get, ENV_STACK_NAME)?,
        verifier_role: (!role.is_empty()).then_some(role),
    }))
}

/// The regions and the cluster lists, which the functions acting on one job check it against.
pub(super) fn scope(get: &impl Fn(&str) -> Option<String>) -> Result<Scope, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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
}
