//! Sharing what the tracker could not (RecoveryAccounts): each sweep shares, in each region, every
//! READY copy it sees that the stack's share does not hold (a share RAM failed, one revoked
//! behind the stack's back, a copy made before sharing was turned on), and the accounts missing
//! from the share. Liveness: whatever failed before, the next sweep asks again.

use tracing::{error, info};

use super::StartCopy;
use crate::backoff::retry_throttled;
use crate::backup::Backup;
use crate::error::AwsError;
use crate::metrics;
use crate::ports::{AssociationKind, BackupApi, EventPublisher, ExecutionApi, ParameterStore, ShareApi};
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
}

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi> StartCopy<B, E, P, V, S> {
    /// Shares the READY copies among `copies` that the region's share does not hold; reports
    /// and counts what it did.
    pub(super) async fn share_missing(
        &self,
        recipients: &Recipients,
        region: &str,
        copies: &[Backup],
        now: EpochSeconds,
        summary: &mut Summary,
    ) {
        let tally = match self.reshare(recipients, region, copies, now).await {
            Ok(tally) => tally,
            Err((done, e)) => {
                error!(destination_region = region, error = %e, "cannot share the copies the share does not hold");
                ShareTally {
                    reshared: done,
                    failed: true,
                }
            }
        };
        summary.reshared_count += tally.reshared;
        if tally.failed {
            summary.sharing_failed_regions.push(region.to_owned());
        }
        let counts = [
            (metrics::SHARES_REPAIRED_METRIC, tally.reshared),
            (metrics::SHARING_FAILED_METRIC, usize::from(tally.failed)),
        ];
        metrics::emit_region_counts(region, &counts, now);
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
        let (add, _failures, _pending) = missing_principals(accounts, &principals);
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
        })
    }
}
