//! Sharing what the tracker could not (RecoveryAccounts): each sweep shares, in each region, every
//! READY copy it sees that the stack's share does not hold (a share RAM failed, one revoked
//! behind the stack's back, a copy made before sharing was turned on), and the accounts missing
//! from the share. Liveness: whatever failed before, the next sweep asks again.

use std::collections::BTreeMap;

use tracing::{error, info, warn};

use super::StartCopy;
use crate::backoff::retry_throttled;
use crate::backup::Backup;
use crate::error::AwsError;
use crate::freshness::Freshness;
use crate::metrics;
use crate::ports::{AssociationKind, BackupApi, EventPublisher, ExecutionApi, ParameterStore, RecoveryView, ShareApi};
use crate::readiness::ReadinessFailure;
use crate::report::Summary;
use crate::restore_kit::RecoveryCheck;
use crate::sharing::{Recipients, ensure_share, missing_principals, unshared};
use crate::time::EpochSeconds;

/// AWS documents no limit on resources per AssociateResourceShare; a few at a time keeps one
/// bad ARN from failing many.
const ARNS_PER_CALL: usize = 10;

/// What a sweep's share run did in one region.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct ShareTally {
    /// Copies asked to be shared again.
    pub reshared: usize,
    /// The run stopped at a failed call: some copies may still not be shared.
    pub failed: bool,
    /// It changed the share (or may have): the recovery accounts' view is still settling.
    pub changed: bool,
}

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi, R: RecoveryView>
    StartCopy<B, E, P, V, S, R>
{
    /// Shares the READY copies among `copies` that the region's share does not hold; reports
    /// and counts what it did. What the recovery accounts see of each cluster's newest copy,
    /// when it was checked.
    pub(super) async fn share_missing(
        &self,
        recipients: &Recipients,
        region: &str,
        copies: &[Backup],
        figures: &[Freshness],
        now: EpochSeconds,
        summary: &mut Summary,
    ) -> Option<RecoveryChecks> {
        let mut tally = match self.reshare(recipients, region, copies, now).await {
            Ok(tally) => tally,
            Err((done, e)) => {
                error!(destination_region = region, error = %e, "cannot share the copies the share does not hold");
                ShareTally {
                    reshared: done,
                    failed: true,
                    changed: true,
                }
            }
        };
        let mut not_seen = 0;
        let mut checks = None;
        // What was just shared again is still settling: checked by the next sweep.
        if recipients.verifier_role.is_some() && !tally.changed {
            match self.recovery_checks(recipients, region, figures).await {
                Ok(checked) => {
                    let unseen = not_seen_failures(&self.config.source_region, region, &checked);
                    not_seen = unseen.len();
                    self.announce(&unseen).await;
                    summary.not_seen_by_recovery.extend(unseen);
                    checks = Some(checked);
                }
                Err(e) => {
                    error!(destination_region = region, error = %e, "cannot see what the recovery accounts see");
                    tally.failed = true;
                }
            }
        }
        summary.reshared_count += tally.reshared;
        if tally.failed {
            summary.sharing_failed_regions.push(region.to_owned());
        }
        let counts = [
            (metrics::SHARES_REPAIRED_METRIC, tally.reshared),
            (metrics::SHARING_FAILED_METRIC, usize::from(tally.failed)),
            (metrics::NOT_SEEN_METRIC, not_seen),
        ];
        metrics::emit_region_counts(region, &counts, now);
        checks
    }

    /// Which recovery accounts list each cluster's newest copy in the region as shared with
    /// them, as each account sees it (dr-account.yaml's role).
    async fn recovery_checks(
        &self,
        recipients: &Recipients,
        region: &str,
        figures: &[Freshness],
    ) -> Result<RecoveryChecks, AwsError> {
        let mut checks: RecoveryChecks = figures
            .iter()
            .filter_map(|f| {
                let check = RecoveryCheck {
                    backup_id: f.newest_copy_id.clone()?,
                    ..RecoveryCheck::default()
                };
                Some((f.cluster_id.clone(), check))
            })
            .collect();
        for account in &recipients.accounts {
            let seen = retry_throttled(|| self.recovery.shared_backup_ids(account, region)).await?;
            for (cluster_id, check) in &mut checks {
                if seen.contains(&check.backup_id) {
                    check.seen_by.push(account.clone());
                } else {
                    warn!(destination_region = region, %cluster_id, backup_id = %check.backup_id, %account, "a recovery account does not see the newest copy");
                    check.not_seen_by.push(account.clone());
                }
            }
        }
        Ok(checks)
    }

    async fn reshare(
        &self,
        recipients: &Recipients,
        region: &str,
        copies: &[Backup],
        now: EpochSeconds,
    ) -> Result<ShareTally, (usize, AwsError)> {
        let at = |e| (0, e);
        let (accounts, stack) = (&recipients.accounts, recipients.stack_name.as_str());
        let share = retry_throttled(|| ensure_share(&self.shares, region, stack, accounts, now))
            .await
            .map_err(at)?;
        let principals = retry_throttled(|| self.shares.associations(region, &share, AssociationKind::Principals))
            .await
            .map_err(at)?;
        let (add, _failures, settling) = missing_principals(accounts, &principals);
        if !add.is_empty() {
            retry_throttled(|| self.shares.change(region, &share, true, &[], &add))
                .await
                .map_err(at)?;
        }
        let resources = retry_throttled(|| self.shares.associations(region, &share, AssociationKind::Resources))
            .await
            .map_err(at)?;
        let missing: Vec<String> = unshared(copies, &resources).into_iter().map(str::to_owned).collect();
        let mut done = 0;
        for chunk in missing.chunks(ARNS_PER_CALL) {
            retry_throttled(|| self.shares.change(region, &share, true, chunk, &[]))
                .await
                .map_err(|e| (done, e))?;
            done += chunk.len();
        }
        if done > 0 {
            info!(destination_region = region, reshared = done, resource_share_arn = %share, "copies the share did not hold shared again");
        }
        Ok(ShareTally {
            reshared: done,
            failed: false,
            changed: settling || done > 0,
        })
    }
}

/// Each cluster's check of its newest copy in one region, by cluster id.
pub(super) type RecoveryChecks = BTreeMap<String, RecoveryCheck>;

/// One announcement per (cluster, account) that does not see the newest copy.
fn not_seen_failures(source: &str, region: &str, checks: &RecoveryChecks) -> Vec<ReadinessFailure> {
    checks
        .iter()
        .flat_map(|(cluster_id, check)| {
            check
                .not_seen_by
                .iter()
                .map(|account| ReadinessFailure::not_seen(source, cluster_id, region, &check.backup_id, account))
        })
        .collect()
}
