//! The settings restore-drill runs with: where drills may run, the drill state machine, and
//! where their records go.

use super::scoped::ENV_RECOVERY_ACCOUNTS;
use super::settings::{Regions, account_of, event_bus, number, required, restore_kit};
use super::{ConfigError, ENV_RESTORE_KIT_PREFIX, selection};
use crate::drill::DrillSubnets;
use crate::ids::partition;
use crate::selection::ClusterSelection;
use crate::sharing::parse_recovery_accounts;

pub const ENV_DRILL_SUBNETS: &str = "RESTORE_DRILL_SUBNETS";
pub const ENV_DRILL_STATE_MACHINE_ARN: &str = "DRILL_STATE_MACHINE_ARN";
pub const ENV_STACK_NAME: &str = "STACK_NAME";
pub const ENV_MAX_DRILLS_PER_REGION: &str = "MAX_DRILLS_PER_REGION";
pub const ENV_DRILL_ACCOUNT: &str = "RESTORE_DRILL_ACCOUNT";
/// The role dr-account.yaml makes for drills, `<source stack>-recovery-drill`: the same name in
/// every recovery account, so the stack need not be told it.
pub const RECOVERY_DRILL_ROLE_SUFFIX: &str = "-recovery-drill";
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
    /// The account the stack runs in, which owns the copies (from the drill state machine's ARN).
    pub source_account: String,
    /// The recovery account drills run in, restoring the copies shared with it by their ARN;
    /// `None`: in this account.
    pub drill_account: Option<String>,
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
        let state_machine_arn = required(&get, ENV_DRILL_STATE_MACHINE_ARN)?;
        let source_account = account_of(ENV_DRILL_STATE_MACHINE_ARN, &state_machine_arn, &source_region)?;
        let drill_account = drill_account(&get, &source_account)?;
        let record_prefix = restore_kit(&get)?.map(|kit| kit.prefix).ok_or(ConfigError::Missing {
            name: ENV_RESTORE_KIT_PREFIX,
        })?;
        Ok(Self {
            source_region,
            destination_regions,
            subnets,
            stack_name,
            state_machine_arn,
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
            source_account,
            drill_account,
        })
    }

    /// The role drills assume in the recovery account, when they run there.
    pub fn drill_role_arn(&self) -> Option<String> {
        self.drill_account.as_ref().map(|account| {
            format!(
                "arn:{}:iam::{account}:role/{}{RECOVERY_DRILL_ROLE_SUFFIX}",
                partition(&self.source_region),
                self.stack_name
            )
        })
    }

    /// How CreateCluster names the copy: by id in this account; by its ARN from the recovery
    /// account (the only way to name a backup shared with it).
    pub fn restore_source(&self, region: &str, backup_id: &str) -> String {
        match self.drill_account {
            None => backup_id.to_owned(),
            Some(_) => format!(
                "arn:{}:cloudhsm:{region}:{}:backup/{backup_id}",
                partition(region),
                self.source_account
            ),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// RESTORE_DRILL_ACCOUNT: empty, or one of RECOVERY_ACCOUNTS (the copies must be shared with
/// it for it to restore them), never this account.
fn drill_account(get: &impl Fn(&str) -> Option<String>, source_account: &str) -> Result<Option<String>, ConfigError> {
    let raw = get(ENV_DRILL_ACCOUNT).unwrap_or_default().trim().to_owned();
    if raw.is_empty() {
        return Ok(None);
    }
    let invalid = |reason: &str| ConfigError::Invalid {
        name: ENV_DRILL_ACCOUNT,
        value: raw.clone(),
        reason: reason.to_owned(),
    };
    if parse_recovery_accounts(&raw).map_err(|e| invalid(&e))?.len() != 1 {
        return Err(invalid("one account id"));
    }
    if raw == source_account {
        return Err(invalid(
            "this is the account the stack runs in: leave it empty to drill here",
        ));
    }
    let listed = get(ENV_RECOVERY_ACCOUNTS).unwrap_or_default();
    let recovery = parse_recovery_accounts(&listed).map_err(|reason| ConfigError::Invalid {
        name: ENV_RECOVERY_ACCOUNTS,
        value: listed.clone(),
        reason,
    })?;
    if !recovery.contains(&raw) {
        return Err(invalid(
            "not one of RecoveryAccounts: only an account the copies are shared with can restore them",
        ));
    }
    Ok(Some(raw))
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
            (
                "DRILL_STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:1234:stateMachine:x",
            ),
            ("RESTORE_DRILL_ACCOUNT", "210987654321"),
            ("RESTORE_DRILL_ACCOUNT", "123456789012"),
            ("RESTORE_DRILL_ACCOUNT", "2109876543"),
        ] {
            let err = env(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn drills_in_a_recovery_account_restore_the_shared_copy_by_its_arn() {
        let here = env(&[]).unwrap();
        assert_eq!((here.drill_account.as_deref(), here.drill_role_arn()), (None, None));
        assert_eq!(
            here.restore_source("us-west-2", "backup-abcdefghijk"),
            "backup-abcdefghijk"
        );
        let there = env(&[
            ("RECOVERY_ACCOUNTS", "111122223333,210987654321"),
            ("RESTORE_DRILL_ACCOUNT", "210987654321"),
        ])
        .unwrap();
        assert_eq!(there.source_account, "123456789012");
        // A malformed list is named as such, not taken for an empty one.
        let err = env(&[
            ("RECOVERY_ACCOUNTS", "210987654321,2109"),
            ("RESTORE_DRILL_ACCOUNT", "210987654321"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains(r#"RECOVERY_ACCOUNTS="210987654321,2109""#), "{err}");
        assert_eq!(
            there.drill_role_arn().as_deref(),
            Some("arn:aws:iam::210987654321:role/dr-recovery-drill")
        );
        assert_eq!(
            there.restore_source("us-west-2", "backup-abcdefghijk"),
            "arn:aws:cloudhsm:us-west-2:123456789012:backup/backup-abcdefghijk"
        );
    }
}
