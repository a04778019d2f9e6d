//! The settings restore-drill runs with: where drills may run, the drill state machine, and
//! where their records go.

use super::settings::{Regions, event_bus, number, required, restore_kit};
use super::{ConfigError, ENV_RESTORE_KIT_PREFIX, selection};
use crate::drill::DrillSubnets;
use crate::selection::ClusterSelection;

pub const ENV_DRILL_SUBNETS: &str = "RESTORE_DRILL_SUBNETS";
pub const ENV_DRILL_STATE_MACHINE_ARN: &str = "DRILL_STATE_MACHINE_ARN";
pub const ENV_STACK_NAME: &str = "STACK_NAME";
pub const ENV_MAX_DRILLS_PER_REGION: &str = "MAX_DRILLS_PER_REGION";
/// One drill at a time per region: the default cluster quota (4 per region) is shared with the
/// account's production clusters.
pub const DEFAULT_MAX_DRILLS_PER_REGION: usize = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreDrillConfig {
    pub source_region: String,
    /// The DR regions the stack copies to; drills run in those of them with subnets.
    pub destination_regions: Vec<String>,
    pub subnets: DrillSubnets,
    /// The value of every drill cluster's drill tag.
    pub stack_name: String,
    pub state_machine_arn: String,
    pub selection: ClusterSelection,
    pub max_drills_per_region: usize,
    /// Where the drill records go (the restore kits' path).
    pub record_prefix: String,
    pub event_bus_name: String,
}

impl RestoreDrillConfig {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Regions {
            source_region,
            destination_regions,
        } = Regions::from_lookup(&get)?;
        let raw = get(ENV_DRILL_SUBNETS).unwrap_or_default();
        let invalid = |reason: String| ConfigError::Invalid {
            name: ENV_DRILL_SUBNETS,
            value: raw.clone(),
            reason,
        };
        let subnets = DrillSubnets::parse(&raw).map_err(invalid)?;
        if let Some(region) = subnets.0.keys().find(|r| !destination_regions.contains(r)) {
            return Err(invalid(format!(
                "{region} is not a destination region: drills restore the copies made there"
            )));
        }
        let stack_name = required(&get, ENV_STACK_NAME)?;
        let record_prefix = restore_kit(&get)?.map(|kit| kit.prefix).ok_or(ConfigError::Missing {
            name: ENV_RESTORE_KIT_PREFIX,
        })?;
        Ok(Self {
            source_region,
            destination_regions,
            subnets,
            stack_name,
            state_machine_arn: required(&get, ENV_DRILL_STATE_MACHINE_ARN)?,
            selection: selection(&get)?,
            max_drills_per_region: number(
                &get,
                ENV_MAX_DRILLS_PER_REGION,
                DEFAULT_MAX_DRILLS_PER_REGION,
                1..=10,
                "a whole number from 1 to 10",
            )?,
            record_prefix,
            event_bus_name: event_bus(&get)?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(extra: &[(&str, &str)]) -> Result<RestoreDrillConfig, ConfigError> {
        let mut map: HashMap<&str, &str> = HashMap::from([
            ("AWS_REGION", "us-east-1"),
            ("DESTINATION_REGIONS", "us-west-2,eu-west-1"),
            ("RESTORE_DRILL_SUBNETS", "us-west-2=subnet-0a1b2c3d"),
            ("STACK_NAME", "dr"),
            (
                "DRILL_STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:123456789012:stateMachine:dr-restore-drill",
            ),
            ("RESTORE_KIT_PREFIX", "/cloudhsm-backup-copy/dr"),
        ]);
        map.extend(extra.iter().copied());
        RestoreDrillConfig::from_lookup(|k| map.get(k).map(|v| (*v).to_owned()))
    }

    #[test]
    fn drills_run_only_in_destination_regions_and_need_a_record_path() {
        let ok = env(&[]).unwrap();
        assert_eq!(ok.subnets.0["us-west-2"], vec!["subnet-0a1b2c3d"]);
        assert_eq!(ok.max_drills_per_region, 1);
        for (name, value) in [
            ("RESTORE_DRILL_SUBNETS", "ap-south-1=subnet-0a1b2c3d"),
            ("RESTORE_DRILL_SUBNETS", "us-west-2=sg-1"),
            ("RESTORE_KIT_PREFIX", ""),
            ("STACK_NAME", " "),
            ("MAX_DRILLS_PER_REGION", "0"),
        ] {
            let err = env(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
    }
}
