//! Keeping one destination's restore kits current: read what is stored, write what changed. A
//! kit that cannot be stored is a failure of the run (so it is retried and alarmed on); a copy
//! whose mode is not its source cluster's is reported and logged as an error.

use tracing::{error, info};

use super::StartCopy;
use crate::backoff::retry_throttled;
use crate::backup::Backup;
use crate::cluster::Cluster;
use crate::ports::{BackupApi, ExecutionApi, ParameterStore};
use crate::report::{Failed, Summary};
use crate::restore_kit::{self, KitAction, KitReport, KitSettings, KitStatus, RestoreKit};

/// One region's kits that could not be stored, and those naming a copy of another mode.
#[derive(Debug, Default)]
pub(super) struct KitTally {
    pub failed: usize,
    pub mismatched: usize,
}

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore> StartCopy<B, E, P> {
    pub(super) async fn keep_kits<'a>(
        &self,
        settings: &KitSettings,
        region: &str,
        cluster_ids: impl IntoIterator<Item = &'a str>,
        clusters: &[Cluster],
        copies: &[Backup],
        summary: &mut Summary,
    ) -> KitTally {
        let source = self.config.source_region.as_str();
        let kits = restore_kit::kits(settings, source, region, cluster_ids, clusters, copies);
        let mut tally = KitTally {
            failed: 0,
            mismatched: kits.iter().filter(|(_, k)| k.mode_matches() == Some(false)).count(),
        };
        if kits.is_empty() {
            return tally;
        }
        let names: Vec<String> = kits.iter().map(|(name, _)| name.clone()).collect();
        let stored = match retry_throttled(|| self.parameters.get_parameters(region, &names)).await {
            Ok(stored) => stored,
            Err(e) => {
                error!(destination_region = %region, error = %e, "cannot read the restore kits");
                for (name, kit) in &kits {
                    summary.add_failure(kit_failure(kit, e.to_string(), e.is_retryable()));
                    summary.record_kit(KitReport::new(name, kit, KitStatus::Failed));
                }
                tally.failed = kits.len();
                return tally;
            }
        };
        for (name, kit) in kits {
            let status = self
                .store(region, &name, &kit, stored.get(&name).map(String::as_str), summary)
                .await;
            if kit.mode_matches() == Some(false) {
                error!(
                    cluster_id = %kit.source_cluster_id,
                    destination_region = %region,
                    backup_id = %kit.backup_id,
                    copy_mode = kit.mode.as_deref().unwrap_or(""),
                    cluster_mode = kit.source_cluster_mode.as_deref().unwrap_or(""),
                    "the newest copy's mode is not its cluster's: it cannot restore the cluster as it is"
                );
            }
            if status == KitStatus::Failed {
                tally.failed += 1;
            }
            summary.record_kit(KitReport::new(&name, &kit, status));
        }
        tally
    }

    /// Writes one kit if it changed; a failure goes into the summary.
    async fn store(
        &self,
        region: &str,
        name: &str,
        kit: &RestoreKit,
        stored: Option<&str>,
        summary: &mut Summary,
    ) -> KitStatus {
        match restore_kit::action(kit, stored) {
            KitAction::Current => KitStatus::Current,
            KitAction::Write(value) => {
                match retry_throttled(|| self.parameters.put_parameter(region, name, &value)).await {
                    Ok(()) => {
                        info!(parameter = %name, backup_id = %kit.backup_id, "restore kit written");
                        KitStatus::Written
                    }
                    Err(e) => {
                        error!(parameter = %name, error = %e, "cannot write the restore kit");
                        summary.add_failure(kit_failure(kit, e.to_string(), e.is_retryable()));
                        KitStatus::Failed
                    }
                }
            }
            KitAction::Refused { reason } => {
                error!(parameter = %name, reason = %reason, "cannot store the restore kit");
                summary.add_failure(kit_failure(kit, reason, false));
                KitStatus::Failed
            }
        }
    }
}

fn kit_failure(kit: &RestoreKit, error: String, retryable: bool) -> Failed {
    Failed {
        source_backup_id: kit.source_backup_id.clone().unwrap_or_default(),
        destination_region: kit.destination_region.clone(),
        error: format!("restore kit of {}: {error}", kit.source_cluster_id),
        retryable,
    }
}
