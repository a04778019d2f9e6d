//! Sharing each READY copy with the recovery accounts through AWS RAM (why RAM and not
//! CloudHSM's resource policies: the README's "Sharing with a recovery account").
//!
//! RAM is regional, so each DR region has one resource share of this stack's: found by its name
//! and its tag, made with a client token when missing, holding the recovery accounts as
//! principals and the copies as resources. Associations are asynchronous (ASSOCIATING, then
//! ASSOCIATED or FAILED), so one step of [`plan`] says what to call now and whether the copy is
//! shared yet; the tracker calls it again until it is.

use serde::Serialize;

use crate::time::EpochSeconds;

/// The tag every share this stack makes carries, valued with the stack's name: the share's
/// identity (RAM share names need not be unique) and what IAM scopes the share role to.
pub const SHARE_TAG: &str = "cloudhsm-backup-copy:share";

/// The name of the stack's share in each DR region.
pub fn share_name(stack: &str) -> String {
    format!("{stack}-dr-copies")
}

/// A client token for creating the share: the same for every caller in a region within the
/// hour, so two executions racing to create it make one. Bucketed by the hour because AWS does
/// not say how long a token stays bound: a share deleted behind the stack's back must not be
/// handed back forever.
pub fn create_token(stack: &str, region: &str, now: EpochSeconds) -> String {
    format!("{stack}-{region}-{}", now.div_euclid(3600))
}

/// The recovery accounts, from a comma-separated list of 12-digit account ids (empty: sharing
/// is off). Organizations and OUs are not accepted: the emulator cannot show them working.
pub fn parse_recovery_accounts(raw: &str) -> Result<Vec<String>, String> {
    let mut accounts: Vec<String> = Vec::new();
    for account in raw.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{account} is not a 12-digit AWS account id"));
        }
        if !accounts.iter().any(|a| a == account) {
            accounts.push(account.to_owned());
        }
    }
    Ok(accounts)
}

mod share;
pub use share::ensure_share;

/// Whom the copies are shared with, and whose share holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipients {
    pub accounts: Vec<String>,
    pub stack_name: String,
    /// The role dr-account.yaml makes in each recovery account, which sweeps assume to check
    /// what the account sees; None: not checked.
    pub verifier_role: Option<String>,
}

/// An IAM role name: 1 to 64 of `[A-Za-z0-9+=,.@_-]`.
pub fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// A RAM association's status (`ResourceShareAssociationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssociationStatus {
    Associating,
    Associated,
    Failed,
    Disassociating,
    Disassociated,
    /// SUSPENDED, SUSPENDING, RESTORING, or a status this version does not know.
    Other,
}

impl AssociationStatus {
    pub fn from_wire(s: &str) -> Self {
        match s {
            "ASSOCIATING" => Self::Associating,
            "ASSOCIATED" => Self::Associated,
            "FAILED" => Self::Failed,
            "DISASSOCIATING" => Self::Disassociating,
            "DISASSOCIATED" => Self::Disassociated,
            _ => Self::Other,
        }
    }

    /// The entity is (or is becoming) part of the share.
    pub fn is_in(self) -> bool {
        matches!(self, Self::Associating | Self::Associated | Self::Other)
    }
}

/// One association of the share: a principal (an account id) or a resource (an ARN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub entity: String,
    pub status: AssociationStatus,
    pub message: Option<String>,
}

/// Whether the copy is shared with every recovery account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Shared,
    /// Something is still ASSOCIATING (or was just asked for): ask again shortly.
    Pending,
    /// RAM failed an association; it was asked for again, and the reason is here.
    Failed(String),
}

/// What to call now, and the verdict once the calls are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareStep {
    pub add_principals: Vec<String>,
    /// Principals no longer configured (a recovery account removed from the parameter).
    pub remove_principals: Vec<String>,
    pub associate_copy: bool,
    pub verdict: Verdict,
}

/// The principals to add (missing, FAILED or gone), with the failures seen and whether any is
/// still settling.
pub fn missing_principals(accounts: &[String], principals: &[Association]) -> (Vec<String>, Vec<String>, bool) {
    let find = |account: &str| principals.iter().find(|p| p.entity == account);
    let mut failures: Vec<String> = Vec::new();
    let mut pending = false;
    let mut add_principals = Vec::new();
    for account in accounts {
        match find(account) {
            Some(p) if p.status == AssociationStatus::Associated => {}
            Some(p) if p.status == AssociationStatus::Associating => pending = true,
            Some(p) if p.status == AssociationStatus::Failed => {
                failures.push(format!("account {account}: {}", reason(p)));
                add_principals.push(account.clone());
            }
            _ => {
                pending = true;
                add_principals.push(account.clone());
            }
        }
    }
    (add_principals, failures, pending)
}

/// The READY copies among `copies` whose ARN the share does not hold (never associated, FAILED,
/// or unshared): what a sweep associates again.
pub fn unshared<'a>(copies: &'a [crate::backup::Backup], resources: &[Association]) -> Vec<&'a str> {
    copies
        .iter()
        .filter(|c| c.state == crate::backup::BackupState::Ready)
        .filter_map(|c| c.arn.as_deref())
        .filter(|arn| {
            !resources.iter().any(|r| {
                r.entity == *arn && matches!(r.status, AssociationStatus::Associated | AssociationStatus::Associating)
            })
        })
        .collect()
}

/// The step for one copy, from the share's principal associations and the copy's resource
/// association (if any). A FAILED association is asked for again (its cause may be gone) and
/// reported; anything asked for now is pending.
pub fn plan(accounts: &[String], principals: &[Association], copy: Option<&Association>) -> ShareStep {
    let (add_principals, mut failures, mut pending) = missing_principals(accounts, principals);
    let remove_principals = principals
        .iter()
        .filter(|p| p.status.is_in() && !accounts.contains(&p.entity))
        .map(|p| p.entity.clone())
        .collect();
    let associate_copy = match copy {
        Some(c) if c.status == AssociationStatus::Associated => false,
        Some(c) if c.status == AssociationStatus::Associating => {
            pending = true;
            false
        }
        Some(c) if c.status == AssociationStatus::Failed => {
            failures.push(format!("the copy: {}", reason(c)));
            true
        }
        _ => {
            pending = true;
            true
        }
    };
    let verdict = if !failures.is_empty() {
        Verdict::Failed(failures.join("; "))
    } else if pending {
        Verdict::Pending
    } else {
        Verdict::Shared
    };
    ShareStep {
        add_principals,
        remove_principals,
        associate_copy,
        verdict,
    }
}

fn reason(a: &Association) -> &str {
    a.message
        .as_deref()
        .unwrap_or("RAM failed the association without a reason")
}

#[cfg(test)]
mod tests {
    use super::*;
    use AssociationStatus::*;

    fn a(entity: &str, status: AssociationStatus) -> Association {
        Association {
            entity: entity.into(),
            status,
            message: (status == Failed).then(|| "not READY".to_owned()),
        }
    }

    const ACCOUNT: &str = "210987654321";
    const COPY: &str = "arn:aws:cloudhsm:us-west-2:123456789012:backup/backup-aaaaaaaaaaa";

    #[test]
    fn recovery_accounts_are_twelve_digit_ids() {
        assert_eq!(
            parse_recovery_accounts(" 210987654321, 111122223333,210987654321 ").ok(),
            Some(vec!["210987654321".to_owned(), "111122223333".to_owned()])
        );
        assert_eq!(parse_recovery_accounts("").ok(), Some(vec![]));
        assert!(parse_recovery_accounts("21098765432").is_err());
        assert!(parse_recovery_accounts("o-exampleorgid").is_err());
    }

    #[test]
    fn a_new_share_asks_for_everything_and_is_pending() {
        let step = plan(&[ACCOUNT.into()], &[], None);
        assert_eq!(step.add_principals, vec![ACCOUNT]);
        assert!(step.associate_copy && step.remove_principals.is_empty());
        assert_eq!(step.verdict, Verdict::Pending);
    }

    #[test]
    fn shared_once_every_association_has_settled() {
        let principals = [a(ACCOUNT, Associated)];
        let settling = plan(&[ACCOUNT.into()], &principals, Some(&a(COPY, Associating)));
        assert_eq!((settling.associate_copy, settling.verdict), (false, Verdict::Pending));
        let done = plan(&[ACCOUNT.into()], &principals, Some(&a(COPY, Associated)));
        assert_eq!((done.associate_copy, done.verdict), (false, Verdict::Shared));
        assert!(done.add_principals.is_empty());
    }

    #[test]
    fn a_failed_association_is_asked_for_again_and_reported() {
        let step = plan(&[ACCOUNT.into()], &[a(ACCOUNT, Associated)], Some(&a(COPY, Failed)));
        assert!(step.associate_copy);
        assert_eq!(step.verdict, Verdict::Failed("the copy: not READY".into()));
        let step = plan(&[ACCOUNT.into()], &[a(ACCOUNT, Failed)], Some(&a(COPY, Associated)));
        assert_eq!(step.add_principals, vec![ACCOUNT]);
        assert!(matches!(step.verdict, Verdict::Failed(ref m) if m.starts_with("account 210987654321")));
        // Unshared behind our back: shared again.
        let step = plan(
            &[ACCOUNT.into()],
            &[a(ACCOUNT, Associated)],
            Some(&a(COPY, Disassociated)),
        );
        assert_eq!((step.associate_copy, step.verdict), (true, Verdict::Pending));
    }

    #[test]
    fn a_sweep_shares_again_the_ready_copies_the_share_does_not_hold() {
        use crate::backup::{Backup, BackupState};
        let copy = |id: &str, state| Backup {
            arn: Some(format!("arn:aws:cloudhsm:us-west-2:123456789012:backup/{id}")),
            ..Backup::original(id, None, state, Some(0))
        };
        let copies = [
            copy("backup-held", BackupState::Ready),
            copy("backup-settling", BackupState::Ready),
            copy("backup-failed", BackupState::Ready),
            copy("backup-revoked", BackupState::Ready),
            copy("backup-new", BackupState::Ready),
            copy("backup-making", BackupState::CreateInProgress),
        ];
        let arn = |id: &str| format!("arn:aws:cloudhsm:us-west-2:123456789012:backup/{id}");
        let resources = [
            a(&arn("backup-held"), Associated),
            a(&arn("backup-settling"), Associating),
            a(&arn("backup-failed"), Failed),
            a(&arn("backup-revoked"), Disassociated),
        ];
        assert_eq!(
            unshared(&copies, &resources),
            vec![arn("backup-failed"), arn("backup-revoked"), arn("backup-new")]
        );
    }

    #[test]
    fn an_account_no_longer_configured_is_removed() {
        let principals = [
            a(ACCOUNT, Associated),
            a("111122223333", Associated),
            a("444455556666", Disassociated),
        ];
        let step = plan(&[ACCOUNT.into()], &principals, Some(&a(COPY, Associated)));
        assert_eq!(step.remove_principals, vec!["111122223333"]);
        assert_eq!(step.verdict, Verdict::Shared);
    }
}
