//! What a sweep reports per reachable destination once its executions are started: the
//! CopiesGivenUp metric, each cluster's freshness, and (in the deep run) pruning.

use std::collections::HashMap;

use super::StartCopy;
use super::copies::Destinations;
use crate::backup::Backup;
use crate::freshness;
use crate::metrics;
use crate::ports::{BackupApi, ExecutionApi};
use crate::report::Summary;
use crate::time::EpochSeconds;

impl<B: BackupApi, E: ExecutionApi> StartCopy<B, E> {
    pub(super) async fn report_sweep(
        &self,
        destinations: &Destinations,
        in_window: &[Backup],
        given_up: &HashMap<String, usize>,
        prune: bool,
        now: EpochSeconds,
        summary: &mut Summary,
    ) {
        let source = self.config.source_region.as_str();
        for region in &destinations.reachable {
            let count = given_up.get(region).copied().unwrap_or_default();
            metrics::emit(&metrics::given_up_line(region, count, now));
            let in_region = destinations.copies.get(region).map(Vec::as_slice).unwrap_or_default();
            for figure in freshness::measure(in_window, source, region, in_region, now) {
                metrics::emit(&freshness::emf_line(&figure, now));
                summary.freshness.push(figure);
            }
            if prune {
                self.prune(region, in_region, now, summary).await;
            }
        }
    }
}
