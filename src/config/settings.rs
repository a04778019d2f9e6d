//! Reading one setting: required, a flag, a bounded number, cluster ids, the regions, the restore
//! kit's path. Every error names the setting and its value.

use std::ops::RangeInclusive;
use std::str::FromStr;

use super::{
    ConfigError, ENV_CUSTOMER_CA_CERTIFICATE, ENV_DESTINATION_REGIONS, ENV_EVENT_BUS_NAME, ENV_EXCLUDE_CLUSTERS,
    ENV_INCLUDE_CLUSTERS, ENV_RESTORE_KIT_PREFIX, ENV_SOURCE_REGION, MAX_CUSTOMER_CA_LOCATION,
};
use crate::ids::{is_govcloud, is_region, partition, same_partition};
use crate::restore_kit::KitSettings;
use crate::selection::{ClusterSelection, parse_cluster_ids};

/// INCLUDE_CLUSTERS and EXCLUDE_CLUSTERS (no tag selector).
pub(super) fn cluster_lists(get: &impl Fn(&str) -> Option<String>) -> Result<ClusterSelection, ConfigError> {
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
pub(super) fn flag(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
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
pub(super) fn required(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing { name })
}

/// The source region and the checked destinations, which both functions read.
pub(super) struct Regions {
    pub source_region: String,
    pub destination_regions: Vec<String>,
}

impl Regions {
    pub(super) fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
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

/// A number within `range`; blank means `default`.
pub(super) fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    range: RangeInclusive<T>,
    expected: &str,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd,
{
    let raw = get(name).unwrap_or_default();
    match raw.trim() {
        "" => Ok(default),
        v => v
            .parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| ConfigError::Invalid {
                name,
                value: raw.clone(),
                reason: format!("expected {expected}"),
            }),
    }
}

/// The account in a state machine ARN of this region (the account the stack runs in).
pub(super) fn account_of(
    name: &'static str,
    state_machine_arn: &str,
    source_region: &str,
) -> Result<String, ConfigError> {
    match state_machine_arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", _, "states", region, account, "stateMachine", name]
            if region == source_region
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !name.is_empty() =>
        {
            Ok(account.to_owned())
        }
        _ => Err(ConfigError::Invalid {
            name,
            value: state_machine_arn.to_owned(),
            reason: format!(
                "expected a state machine ARN in this region (arn:PARTITION:states:{source_region}:ACCOUNT:stateMachine:NAME)"
            ),
        }),
    }
}
/// RESTORE_KIT_PREFIX (an SSM path of our own) and CUSTOMER_CA_CERTIFICATE_LOCATION.
pub(super) fn restore_kit(get: &impl Fn(&str) -> Option<String>) -> Result<Option<KitSettings>, ConfigError> {
    let Some(prefix) = get(ENV_RESTORE_KIT_PREFIX).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let invalid = |name, value: &str, reason: &str| ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    // SSM's rules for a parameter path: `/`-separated, [a-zA-Z0-9_.-], not under aws or ssm.
    let first = prefix
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let well_formed = prefix.starts_with('/')
        && prefix.len() <= 200
        && prefix
            .split('/')
            .skip(1)
            .all(|level| !level.is_empty() && level.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)))
        && !first.starts_with("aws")
        && !first.starts_with("ssm");
    if !well_formed {
        return Err(invalid(
            ENV_RESTORE_KIT_PREFIX,
            &prefix,
            "an SSM parameter path: /level/level of [a-zA-Z0-9_.-], at most 200 characters, not under /aws or /ssm",
        ));
    }
    let ca = get(ENV_CUSTOMER_CA_CERTIFICATE).filter(|v| !v.is_empty());
    if let Some(ca) = &ca
        && (ca.chars().count() > MAX_CUSTOMER_CA_LOCATION || ca.chars().any(char::is_control))
    {
        return Err(invalid(
            ENV_CUSTOMER_CA_CERTIFICATE,
            &ca.chars().take(64).collect::<String>(),
            "where the customer CA certificate is kept (at most 1,024 characters, one line), not the certificate",
        ));
    }
    Ok(Some(KitSettings {
        prefix,
        customer_ca_certificate: ca,
    }))
}
/// EVENT_BUS_NAME: the bus's name or ARN (`default` when unset).
pub(super) fn event_bus(get: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let bus = get(ENV_EVENT_BUS_NAME)
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    if bus.len() > 256 || bus.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::Invalid {
            name: ENV_EVENT_BUS_NAME,
            value: bus.chars().take(64).collect(),
            reason: "an event bus name or ARN (at most 256 characters, no spaces)".into(),
        });
    }
    Ok(bus)
}
