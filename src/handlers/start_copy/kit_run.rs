//! Keeping one destination's restore kits current: read what is stored, write what changed.
//!
//! A kit that cannot be stored is announced (KIT_NOT_STORED), counted (RestoreKitsFailed, which
//! an alarm watches) and reported with its error; it is not a failure of the run, whose retries
//! would only fail the same way and keep the run's own alarms latched. A copy whose mode is not
//! its cluster's is announced when a kit first names it; the kit records whether that
//! announcement went out, and the next sweep makes it again if it did not. The kit itself is
//! written either way.

use tracing::{error, info};

use super::StartCopy;
use super::sweep_report::InRegion;
use crate::backoff::retry_throttled;
use crate::cluster::Cluster;
use crate::ports::{BackupApi, EventPublisher, ExecutionApi, ParameterStore, RecoveryView, ShareApi};
use crate::readiness::{Problem, ReadinessFailure};
use crate::report::Summary;
use crate::restore_kit::{self, KitAction, KitReport, KitSettings, KitStatus, RestoreKit};

/// One region's kits that could not be stored, those naming a copy of another mode, and those
/// whose copy guard could not be set.
#[derive(Debug, Default)]
pub(super) struct KitTally {
    pub failed: usize,
    pub mismatched: usize,
    /// Kits whose copy guard could not be set or cleared (GuardNewestCopy).
    pub guards_failed: usize,
}

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi, R: RecoveryView>
    StartCopy<B, E, P, V, S, R>
{
    pub(super) async fn keep_kits(
        &self,
        settings: &KitSettings,
        seen: &InRegion<'_>,
        clusters: &[Cluster],
        summary: &mut Summary,
    ) -> KitTally {
        let source = self.config.source_region.as_str();
        let (region, copies) = (seen.region, seen.of_window);
        let ids = seen.figures.iter().map(|f| f.cluster_id.as_str());
        let kits = restore_kit::kits(settings, source, region, ids, clusters, copies);
        let mut tally = KitTally::default();
        if kits.is_empty() {
            return tally;
        }
        let names: Vec<String> = kits.iter().map(|(name, _)| name.clone()).collect();
        let stored = match retry_throttled(|| self.parameters.get_parameters(region, &names)).await {
            Ok(stored) => stored,
            Err(e) => {
                error!(destination_region = %region, error = %e, "cannot read the restore kits");
                return self.unreadable(&kits, &e.to_string(), summary).await;
            }
        };
        let mut unstored = Vec::new();
        for (name, mut kit) in kits {
            let value = stored.get(&name).map(String::as_str);
            let previous = restore_kit::parse(value);
            let described = clusters.iter().any(|c| c.id == kit.source_cluster_id);
            restore_kit::carry_over(&mut kit, described, previous.as_ref());
            let checked = seen.checks.and_then(|c| c.get(&kit.source_cluster_id));
            restore_kit::keep_check(&mut kit, checked, previous.as_ref());
            if !self.guard_newest(region, &mut kit, previous.as_ref(), copies).await {
                tally.guards_failed += 1;
            }
            if kit.mode_matches() == Some(false) {
                tally.mismatched += 1;
                log_mismatch(&kit);
                kit.mode_mismatch_announced = Some(if restore_kit::mismatch_to_announce(&kit, previous.as_ref()) {
                    self.announce(&[ReadinessFailure::new(Problem::ModeMismatch, &name, &kit, None)])
                        .await
                } else {
                    true
                });
            }
            let report = match self.store(region, &name, &kit, value).await {
                Ok(status) => KitReport::new(&name, &kit, status, None),
                Err(error) => {
                    tally.failed += 1;
                    unstored.push(ReadinessFailure::new(
                        Problem::KitNotStored,
                        &name,
                        &kit,
                        Some(error.clone()),
                    ));
                    KitReport::new(&name, &kit, KitStatus::Failed, Some(error))
                }
            };
            summary.record_kit(report);
        }
        self.announce(&unstored).await;
        tally
    }

    /// The region's kits could not be read: each is reported, announced and counted as not
    /// stored.
    async fn unreadable(&self, kits: &[(String, RestoreKit)], reason: &str, summary: &mut Summary) -> KitTally {
        let error = format!("cannot read the kits: {reason}");
        let unstored: Vec<_> = kits
            .iter()
            .map(|(name, kit)| ReadinessFailure::new(Problem::KitNotStored, name, kit, Some(error.clone())))
            .collect();
        for (name, kit) in kits {
            summary.record_kit(KitReport::new(name, kit, KitStatus::Failed, Some(error.clone())));
        }
        self.announce(&unstored).await;
        KitTally {
            failed: kits.len(),
            mismatched: kits.iter().filter(|(_, k)| k.mode_matches() == Some(false)).count(),
            guards_failed: 0,
        }
    }

    /// Puts readiness failures on the bus (the SDK retries a throttled call; a retry here could
    /// put the entries already accepted twice). Whether they went out.
    pub(super) async fn announce(&self, failures: &[ReadinessFailure]) -> bool {
        if failures.is_empty() {
            return true;
        }
        let events: Vec<_> = failures.iter().map(ReadinessFailure::announcement).collect();
        match self.events.put_events(&events).await {
            Ok(()) => true,
            Err(e) => {
                // Not lost: the metrics and the alarm count these every sweep, and a mismatch
                // kit records the announcement as owed.
                error!(error = %e, failures = failures.len(), "cannot announce readiness failures");
                false
            }
        }
    }

    /// Writes one kit if it changed; the error when it cannot be stored.
    async fn store(
        &self,
        region: &str,
        name: &str,
        kit: &RestoreKit,
        stored: Option<&str>,
    ) -> Result<KitStatus, String> {
        match restore_kit::action(kit, stored) {
            KitAction::Current => Ok(KitStatus::Current),
            KitAction::Write(value) => {
                match retry_throttled(|| self.parameters.put_parameter(region, name, &value)).await {
                    Ok(()) => {
                        info!(parameter = %name, backup_id = %kit.backup_id, "restore kit written");
                        Ok(KitStatus::Written)
                    }
                    Err(e) => {
                        error!(parameter = %name, error = %e, "cannot write the restore kit");
                        Err(e.to_string())
                    }
                }
            }
            KitAction::Refused { reason } => {
                error!(parameter = %name, reason = %reason, "cannot store the restore kit");
                Err(reason)
            }
        }
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
