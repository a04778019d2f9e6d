//! The pruning part of the daily deep run: deleting (or, dry, reporting) what the policy in
//! [`crate::pruning`] chooses, each copy taken out of the stack's RAM share first.

use tracing::{error, info};

use super::StartCopy;
use crate::backoff::retry_throttled;
use crate::backup::Backup;
use crate::error::{AwsError, AwsErrorKind};
use crate::ports::{AssociationKind, BackupApi, EventPublisher, ExecutionApi, ParameterStore, RecoveryView, ShareApi};
use crate::pruning;
use crate::report::{Summary, push_listed};
use crate::sharing::{Recipients, SHARE_TAG, share_name};
use crate::time::EpochSeconds;

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi, R: RecoveryView>
    StartCopy<B, E, P, V, S, R>
{
    /// Deletes (or, in dry-run mode, reports) the copies the pruning policy chooses.
    pub(super) async fn prune(&self, region: &str, copies: &[Backup], now: EpochSeconds, summary: &mut Summary) {
        let policy = &self.config.prune;
        // The stack's shares in the region, looked up once, at the first copy to unshare.
        let mut shares: Option<Vec<String>> = None;
        for chosen in pruning::choose(policy, &self.config.source_region, region, copies, now) {
            if policy.dry_run {
                info!(backup_id = %chosen.backup_id, destination_region = %region, reason = %chosen.reason, "would prune copy (dry run)");
                push_listed(&mut summary.would_prune, &mut summary.would_prune_count, chosen);
                continue;
            }
            if let Some(recipients) = &self.config.sharing
                && let Err(e) = self
                    .unshare(recipients, region, copies, &chosen.backup_id, &mut shares)
                    .await
            {
                // Deleted only once unshared: the next pruning run tries again.
                error!(backup_id = %chosen.backup_id, destination_region = %region, error = %e, "cannot unshare the copy; not pruned");
                summary.fail(&chosen.backup_id, region, &e);
                continue;
            }
            match self.backups.delete_backup(region, &chosen.backup_id).await {
                Ok(()) => {
                    info!(backup_id = %chosen.backup_id, destination_region = %region, reason = %chosen.reason, "pruned copy");
                    push_listed(&mut summary.pruned, &mut summary.pruned_count, chosen);
                }
                Err(e) => {
                    error!(backup_id = %chosen.backup_id, destination_region = %region, error = %e, "cannot prune copy");
                    summary.fail(&chosen.backup_id, region, &e);
                }
            }
        }
    }

    /// Takes a copy out of the stack's share before it is pruned (RAM's guide: remove a resource
    /// from its shares before deleting it). Pruning never chooses a cluster's newest copy, so
    /// the newest is never unshared.
    async fn unshare(
        &self,
        recipients: &Recipients,
        region: &str,
        copies: &[Backup],
        backup_id: &str,
        shares: &mut Option<Vec<String>>,
    ) -> Result<(), AwsError> {
        let arn = copies
            .iter()
            .find(|c| c.id == backup_id)
            .and_then(|c| c.arn.clone())
            .ok_or_else(|| {
                AwsError::new(
                    "DisassociateResourceShare",
                    region,
                    AwsErrorKind::Other,
                    None,
                    "the listing gave no BackupArn",
                )
            })?;
        if shares.is_none() {
            let name = share_name(&recipients.stack_name);
            let tag = (SHARE_TAG, recipients.stack_name.as_str());
            *shares = Some(retry_throttled(|| self.shares.find_shares(region, &name, tag)).await?);
        }
        for share in shares.iter().flatten() {
            let held =
                retry_throttled(|| self.shares.associations(region, share, AssociationKind::Resource(&arn))).await?;
            if held.iter().any(|a| a.entity == arn && a.status.is_in()) {
                let resources = [arn.clone()];
                retry_throttled(|| self.shares.change(region, share, false, &resources, &[])).await?;
                info!(backup_id, destination_region = %region, resource_share_arn = %share, "copy unshared before pruning");
            }
        }
        Ok(())
    }
}
