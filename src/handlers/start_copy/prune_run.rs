//! The pruning part of the daily deep run: deleting (or, dry, reporting) what the policy in
//! [`crate::pruning`] chooses.

use tracing::{error, info};

use super::StartCopy;
use crate::backup::Backup;
use crate::ports::{BackupApi, EventPublisher, ExecutionApi, ParameterStore, ShareApi};
use crate::pruning;
use crate::report::{Summary, push_listed};
use crate::time::EpochSeconds;

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi> StartCopy<B, E, P, V, S> {
    /// Deletes (or, in dry-run mode, reports) the copies the pruning policy chooses.
    pub(super) async fn prune(&self, region: &str, copies: &[Backup], now: EpochSeconds, summary: &mut Summary) {
        let policy = &self.config.prune;
        for chosen in pruning::choose(policy, &self.config.source_region, region, copies, now) {
            if policy.dry_run {
                info!(backup_id = %chosen.backup_id, destination_region = %region, reason = %chosen.reason, "would prune copy (dry run)");
                push_listed(&mut summary.would_prune, &mut summary.would_prune_count, chosen);
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
}
