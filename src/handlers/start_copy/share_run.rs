//! Sharing what the tracker could not (RecoveryAccounts): each sweep shares, in each region, every
//! READY copy it sees that the stack's share does not hold (a share RAM failed, one revoked
//! behind the stack's back, a copy made before sharing was turned on), and the accounts missing
//! from the share. Liveness: whatever failed before, the next sweep asks again.

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
    /// and counts what it did.
    pub(super) async fn share_missing(
        &self,
        recipients: &Recipients,
        region: &str,
        copies: &[Backup],
        figures: &[Freshness],
        now: EpochSeconds,
        summary: &mut Summary,
    ) {
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
        // What was just shared again is still settling: checked by the next sweep.
        if recipients.verifier_role.is_some() && !tally.changed {
            match self.not_seen_by_recovery(recipients, region, figures).await {
                Ok(unseen) => {
                    not_seen = unseen.len();
                    self.announce(&unseen).await;
                    summary.not_seen_by_recovery.extend(unseen);
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
    }

    /// Each cluster's newest copy in the region that some recovery account does not list as
    /// shared with it, as each account sees it (dr-account.yaml's role).
    async fn not_seen_by_recovery(
        &self,
        recipients: &Recipients,
        region: &str,
        figures: &[Freshness],
    ) -> Result<Vec<ReadinessFailure>, AwsError> {
        let source = self.config.source_region.as_str();
        let mut unseen = Vec::new();
        for account in &recipients.accounts {
            let seen = retry_throttled(|| self.recovery.shared_backup_ids(account, region)).await?;
            for figure in figures {
                if let Some(newest) = figure.newest_copy_id.as_deref()
                    && !seen.iter().any(|id| id == newest)
                {
                    warn!(destination_region = region, cluster_id = %figure.cluster_id, backup_id = newest, account = %account, "a recovery account does not see the newest copy");
                    unseen.push(ReadinessFailure::not_seen(
                        source,
                        &figure.cluster_id,
                        region,
                        newest,
                        account,
                    ));
                }
            }
        }
        Ok(unseen)
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
