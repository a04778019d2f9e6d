//! The age of each cluster's last successful restore drill in a DR region, read from the drill
//! records the drills keep beside the restore kits, for the SuccessfulDrillAgeHours metric.
//! Sweeps publish it (rather than the drills) so that it keeps growing while no drill runs.

use tracing::warn;

use super::StartCopy;
use crate::drill::record::{self, record_name};
use crate::ports::{BackupApi, EventPublisher, ExecutionApi, ParameterStore, RecoveryView, ShareApi};
use crate::restore_kit::KitSettings;
use crate::time::EpochSeconds;

impl<B: BackupApi, E: ExecutionApi, P: ParameterStore, V: EventPublisher, S: ShareApi, R: RecoveryView>
    StartCopy<B, E, P, V, S, R>
{
    /// (cluster, hours since its last successful drill) for the clusters with a drill record in
    /// `region`. A record that cannot be read is logged and left out: the metric then goes
    /// missing, which the alarm treats as no news rather than as a drill.
    pub(super) async fn drill_ages<'a>(
        &self,
        settings: &KitSettings,
        region: &str,
        cluster_ids: impl IntoIterator<Item = &'a str>,
        now: EpochSeconds,
    ) -> Vec<(String, f64)> {
        let source = self.config.source_region.as_str();
        let named: Vec<(&str, String)> = cluster_ids
            .into_iter()
            .map(|c| (c, record_name(&settings.prefix, source, c)))
            .collect();
        if named.is_empty() {
            return Vec::new();
        }
        let names: Vec<String> = named.iter().map(|(_, n)| n.clone()).collect();
        let stored = match self.parameters.get_parameters(region, &names).await {
            Ok(stored) => stored,
            Err(e) => {
                warn!(destination_region = %region, error = %e, "cannot read the drill records");
                return Vec::new();
            }
        };
        named
            .into_iter()
            .filter_map(|(cluster, name)| {
                let age = record::parse(stored.get(&name).map(String::as_str))?.success_age(now)?;
                Some((cluster.to_owned(), (age as f64 / 36.0).round() / 100.0))
            })
            .collect()
    }
}
