//! What a sweep reports per reachable destination once its executions are started: the
//! CopiesGivenUp metric, each cluster's freshness, the restore kits and (in the deep run)
//! pruning.

use std::collections::{HashMap, HashSet};

use super::StartCopy;
use super::copies::Destinations;
use super::share_run::RecoveryChecks;
use crate::backup::{Backup, BackupState};
use crate::cluster::Cluster;
use crate::freshness::{self, Freshness};
use crate::metrics;
use crate::ports::{BackupApi, EventPublisher, ExecutionApi, ParameterStore, RecoveryView, ShareApi};
use crate::report::Summary;
use crate::restore_kit::KitSettings;
use crate::time::EpochSeconds;

/// What the sweep measured in one region: its clusters' freshness, the copies of the window's
/// backups there, and what the recovery accounts see of the newest (when it was checked).
#[derive(Clone, Copy)]
pub(super) struct InRegion<'a> {
    pub region: &'a str,
    pub figures: &'a [Freshness],
    pub of_window: &'a [Backup],
    pub checks: Option<&'a RecoveryChecks>,
}

/// What the sweep found, for its report.
pub(super) struct Swept<'a> {
    pub destinations: &'a Destinations,
    /// The backups of the window that may be copied.
    pub eligible: &'a [Backup],
    /// The source clusters it described (all of them when it keeps restore kits).
    pub clusters: &'a [Cluster],
    /// How many copies each region's sweep gave up on.
    pub given_up: &'a HashMap<String, usize>,
}

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi, R: RecoveryView>
    StartCopy<B, E, P, V, S, R>
{
    pub(super) async fn report_sweep(&self, swept: &Swept<'_>, prune: bool, now: EpochSeconds, summary: &mut Summary) {
        let source = self.config.source_region.as_str();
        // Looked up once per copy listed (a deep run lists every copy in each region).
        let window_ids: HashSet<&str> = swept.eligible.iter().map(|b| b.id.as_str()).collect();
        for region in &swept.destinations.reachable {
            let given_up = swept.given_up.get(region).copied().unwrap_or_default();
            let in_region = swept
                .destinations
                .copies
                .get(region)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let in_progress = in_region
                .iter()
                .filter(|b| b.state == BackupState::CreateInProgress)
                .count();
            let counts = [
                (metrics::GIVEN_UP_METRIC, given_up),
                (metrics::IN_PROGRESS_METRIC, in_progress),
            ];
            metrics::emit_region_counts(region, &counts, now);
            let figures = freshness::measure(swept.eligible, source, region, in_region, now);
            for figure in &figures {
                metrics::emit(&freshness::emf_line(figure, now));
            }
            // The copies of the window's backups, whichever listing the run made (the deep run
            // lists every copy): hourly and daily sweeps choose the same kit and share the same.
            let of_window: Vec<Backup> = in_region
                .iter()
                .filter(|c| c.source_backup.as_deref().is_some_and(|s| window_ids.contains(s)))
                .cloned()
                .collect();
            // Shared first, so that the kits keep what the recovery accounts see.
            let checks = match &self.config.sharing {
                Some(recipients) => {
                    self.share_missing(recipients, region, &of_window, &figures, now, summary)
                        .await
                }
                None => None,
            };
            if let Some(settings) = &self.config.restore_kit {
                let seen = InRegion {
                    region,
                    figures: &figures,
                    of_window: &of_window,
                    checks: checks.as_ref(),
                };
                self.report_kits(settings, &seen, swept.clusters, now, summary).await;
            }
            summary.freshness.extend(figures);
            if prune {
                self.prune(region, in_region, now, summary).await;
            }
        }
    }

    /// The region's restore kits kept, and the drill ages and kit counts published.
    async fn report_kits(
        &self,
        settings: &KitSettings,
        seen: &InRegion<'_>,
        clusters: &[Cluster],
        now: EpochSeconds,
        summary: &mut Summary,
    ) {
        let InRegion { region, figures, .. } = *seen;
        let tally = self.keep_kits(settings, seen, clusters, summary).await;
        let ids = figures.iter().map(|f| f.cluster_id.as_str());
        for (cluster, hours) in self.drill_ages(settings, region, ids, now).await {
            metrics::emit(&metrics::cluster_hours_line(
                metrics::DRILL_AGE_METRIC,
                &cluster,
                region,
                hours,
                now,
            ));
        }
        let counts = [
            (metrics::KITS_FAILED_METRIC, tally.failed),
            (metrics::MODE_MISMATCH_METRIC, tally.mismatched),
            (metrics::GUARDS_FAILED_METRIC, tally.guards_failed),
        ];
        metrics::emit_region_counts(region, &counts, now);
    }
}
