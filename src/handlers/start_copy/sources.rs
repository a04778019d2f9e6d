//! Which source backups a run considers: the ones its trigger names or lists, of the selected
//! clusters.

use tracing::warn;

use super::{StartCopy, StartCopyError};
use crate::backup::Backup;
use crate::cluster::Cluster;
use crate::event::Trigger;
use crate::plan::SkipReason;
use crate::ports::{BackupApi, BackupQuery, EventPublisher, ExecutionApi, ParameterStore, RecoveryView, ShareApi};
use crate::report::Summary;
use crate::selection::ClusterLookup;
use crate::time::EpochSeconds;

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi, R: RecoveryView>
    StartCopy<B, E, P, V, S, R>
{
    /// The backups the trigger asks about, and the window planning applies to them (`None`:
    /// any age, for a backup named explicitly).
    pub(super) async fn list_sources(
        &self,
        trigger: &Trigger,
        window_start: EpochSeconds,
        summary: &mut Summary,
    ) -> Result<(Vec<Backup>, Option<EpochSeconds>), StartCopyError> {
        let source = self.config.source_region.as_str();
        Ok(match trigger {
            Trigger::Ignored { .. } => (Vec::new(), None),
            Trigger::Backup { backup_id, .. } => {
                let ids = [backup_id.clone()];
                let found = self.backups.describe_backups(source, BackupQuery::Ids(&ids)).await?;
                if found.is_empty() {
                    summary.skip(backup_id, None, SkipReason::NotFound);
                }
                (found, None)
            }
            Trigger::Cluster { cluster_id } => {
                let query = BackupQuery::ReadyInCluster {
                    cluster: cluster_id,
                    since: Some(window_start),
                };
                (self.backups.describe_backups(source, query).await?, Some(window_start))
            }
            Trigger::Sweep { deep } => {
                let since = (!deep).then_some(window_start);
                let query = BackupQuery::AllReady { since };
                (self.backups.describe_backups(source, query).await?, Some(window_start))
            }
        })
    }

    /// Keeps the backups of selected clusters; the others are skipped with the reason. Returns
    /// the clusters it described too (every one, for a sweep that keeps restore kits).
    pub(super) async fn select(
        &self,
        trigger: &Trigger,
        sources: Vec<Backup>,
        summary: &mut Summary,
    ) -> Result<(Vec<Backup>, Vec<Cluster>), StartCopyError> {
        let selection = &self.config.selection;
        let source = self.config.source_region.as_str();
        let sweep = matches!(trigger, Trigger::Sweep { .. });
        let lookup = selection.lookup(sweep, sources.iter().map(|b| b.cluster_id.as_deref()));
        let clusters = match lookup {
            // The kits carry each cluster's mode and certificate; without them a sweep still
            // copies (the kits keep what they had), so a failed listing only costs the kits.
            ClusterLookup::Nothing if sweep && self.config.restore_kit.is_some() => {
                match self.backups.describe_clusters(source, None).await {
                    Ok(clusters) => clusters,
                    Err(e) => {
                        warn!(error = %e, "cannot describe the clusters for the restore kits");
                        Vec::new()
                    }
                }
            }
            ClusterLookup::Nothing => Vec::new(),
            ClusterLookup::All => self.backups.describe_clusters(source, None).await?,
            ClusterLookup::These(ids) => self.backups.describe_clusters(source, Some(&ids)).await?,
        };
        if selection.is_everything() {
            return Ok((sources, clusters));
        }
        if sweep {
            summary.unknown_cluster_ids = selection.unknown_ids(&clusters);
            if !summary.unknown_cluster_ids.is_empty() {
                warn!(unknown_cluster_ids = ?summary.unknown_cluster_ids, "configured cluster ids match no cluster in this region");
            }
        }
        let mut kept = Vec::with_capacity(sources.len());
        for backup in sources {
            let cluster = backup
                .cluster_id
                .as_deref()
                .and_then(|id| clusters.iter().find(|c| c.id == id));
            match selection.check(backup.cluster_id.as_deref(), cluster) {
                Ok(()) => kept.push(backup),
                Err(why) => summary.skip(
                    &backup.id,
                    None,
                    SkipReason::ClusterNotSelected {
                        detail: why.to_string(),
                    },
                ),
            }
        }
        Ok((kept, clusters))
    }
}
