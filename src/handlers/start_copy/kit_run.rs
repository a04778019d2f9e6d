//! Keeping one destination's restore kits current: read what is stored, write what changed. A
//! kit that cannot be stored is a failure of the run (so it is retried and alarmed on) and is
//! announced; a copy whose mode is not its source cluster's is announced when a kit first names
//! it (before the kit is written, so a lost announcement is made again by the next sweep).

use tracing::{error, info};

use super::StartCopy;
use crate::backoff::retry_throttled;
use crate::backup::Backup;
use crate::cluster::Cluster;
use crate::ports::{BackupApi, EventPublisher, ExecutionApi, ParameterStore};
use crate::readiness::{Problem, ReadinessFailure};
use crate::report::{Failed, Summary};
use crate::restore_kit::{self, KitAction, KitReport, KitSettings, KitStatus, RestoreKit};

/// One region's kits that could not be stored, and those naming a copy of another mode.
#[derive(Debug, Default)]
pub(super) struct KitTally {
    pub failed: usize,
    pub mismatched: usize,
}

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher> StartCopy<B, E, P, V> {
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
                let mut unstored = Vec::new();
                for (name, kit) in &kits {
                    summary.add_failure(kit_failure(kit, e.to_string(), e.is_retryable()));
                    summary.record_kit(KitReport::new(name, kit, KitStatus::Failed));
                    unstored.push(ReadinessFailure::new(
                        Problem::KitNotStored,
                        name,
                        kit,
                        Some(e.to_string()),
                    ));
                }
                self.announce(&unstored, summary).await;
                tally.failed = kits.len();
                return tally;
            }
        };
        let mut unstored = Vec::new();
        for (name, kit) in kits {
            let stored = self
                .store(region, &name, &kit, stored.get(&name).map(String::as_str), summary)
                .await;
            if kit.mode_matches() == Some(false) {
                log_mismatch(&kit);
            }
            let status = match stored {
                KitOutcome::Done(status) => status,
                KitOutcome::Unstored(error) => {
                    unstored.push(ReadinessFailure::new(Problem::KitNotStored, &name, &kit, Some(error)));
                    KitStatus::Failed
                }
                KitOutcome::Unannounced => KitStatus::Failed,
            };
            if status == KitStatus::Failed {
                tally.failed += 1;
            }
            summary.record_kit(KitReport::new(&name, &kit, status));
        }
        self.announce(&unstored, summary).await;
        tally
    }

    /// Puts readiness failures on the bus; a failure to announce is a failure of the run.
    async fn announce(&self, failures: &[ReadinessFailure], summary: &mut Summary) -> bool {
        if failures.is_empty() {
            return true;
        }
        let events: Vec<_> = failures.iter().map(ReadinessFailure::announcement).collect();
        match retry_throttled(|| self.events.put_events(&events)).await {
            Ok(()) => true,
            Err(e) => {
                error!(error = %e, "cannot announce readiness failures");
                for f in failures {
                    summary.add_failure(Failed {
                        source_backup_id: f.backup_id.clone(),
                        destination_region: f.destination_region.clone(),
                        error: format!("readiness failure of {} not announced: {e}", f.cluster_id),
                        retryable: e.is_retryable(),
                    });
                }
                false
            }
        }
    }

    /// Writes one kit if it changed; a failure goes into the summary.
    async fn store(
        &self,
        region: &str,
        name: &str,
        kit: &RestoreKit,
        stored: Option<&str>,
        summary: &mut Summary,
    ) -> KitOutcome {
        match restore_kit::action(kit, stored) {
            KitAction::Current => KitOutcome::Done(KitStatus::Current),
            KitAction::Write(value) => {
                // A new copy of another mode is announced before its kit is written.
                let mismatch = ReadinessFailure::new(Problem::ModeMismatch, name, kit, None);
                if kit.mode_matches() == Some(false) && !self.announce(&[mismatch], summary).await {
                    return KitOutcome::Unannounced;
                }
                match retry_throttled(|| self.parameters.put_parameter(region, name, &value)).await {
                    Ok(()) => {
                        info!(parameter = %name, backup_id = %kit.backup_id, "restore kit written");
                        KitOutcome::Done(KitStatus::Written)
                    }
                    Err(e) => {
                        error!(parameter = %name, error = %e, "cannot write the restore kit");
                        summary.add_failure(kit_failure(kit, e.to_string(), e.is_retryable()));
                        KitOutcome::Unstored(e.to_string())
                    }
                }
            }
            KitAction::Refused { reason } => {
                error!(parameter = %name, reason = %reason, "cannot store the restore kit");
                summary.add_failure(kit_failure(kit, reason.clone(), false));
                KitOutcome::Unstored(reason)
            }
        }
    }
}

/// What became of one kit: its status, or why it was not stored (to announce), or that the
/// announcement its write waits for failed (a failure of the run already).
enum KitOutcome {
    Done(KitStatus),
    Unstored(String),
    Unannounced,
}

fn kit_failure(kit: &RestoreKit, error: String, retryable: bool) -> Failed {
    Failed {
        source_backup_id: kit.source_backup_id.clone().unwrap_or_default(),
        destination_region: kit.destination_region.clone(),
        error: format!("restore kit of {}: {error}", kit.source_cluster_id),
        retryable,
    }
}

fn log_mismatch(kit: &RestoreKit) {
    error!(
        cluster_id = %kit.source_cluster_id,
        destination_region = %kit.destination_region,
        backup_id = %kit.backup_id,
        copy_mode = kit.mode.as_deref().unwrap_or(""),
        cluster_mode = kit.source_cluster_mode.as_deref().unwrap_or(""),
        "the newest copy's mode is not its cluster's: it cannot restore the cluster as it is"
    );
}
