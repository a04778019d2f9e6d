//! The restore kit: what restoring a source cluster in one DR region needs, kept in that region
//! (SSM Parameter Store), so that losing the source region cannot take it.
//!
//! One String parameter per source cluster and destination, `<prefix>/<source region>/<cluster>`,
//! holding a JSON [`RestoreKit`]: the newest READY copy there (what `CreateCluster`'s
//! `SourceBackupId` takes), its HsmType and Mode (a restored cluster must have both), the source
//! cluster's certificate as DescribeClusters reports it (the one the customer CA signed; the
//! HSM and hardware certificates exist only before initialisation), and where the operator keeps
//! the customer CA certificate, which AWS does not store and clients of a restored cluster need.
//! Sweeps keep it current: they write only what changed, and what they could not learn this
//! time (a cluster DescribeClusters no longer returns, say, because it was deleted) is kept
//! from the stored kit, never erased.

mod recovery_check;
mod report;

pub use recovery_check::{RecoveryCheck, keep_check};
pub use report::{KitReport, KitStatus};

use serde::{Deserialize, Serialize};

use crate::backup::{Backup, newest_ready_copy};
use crate::cluster::Cluster;
use crate::time::to_rfc3339;

/// The kit's document version, bumped when its shape changes.
pub const KIT_VERSION: u32 = 1;
/// The largest parameter value SSM takes (Advanced tier; Standard takes 4 KB, and the kit is
/// written with the Intelligent-Tiering tier, so only a larger kit costs anything).
pub const MAX_KIT_BYTES: usize = 8192;

/// Where the kits go, and what the operator tells us about the customer CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitSettings {
    /// The parameters' path, e.g. `/cloudhsm-backup-copy/<stack>`.
    pub prefix: String,
    /// Where the customer CA certificate is kept (an SSM parameter, an S3 object, a vault path).
    pub customer_ca_certificate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreKit {
    pub version: u32,
    pub source_region: String,
    pub source_cluster_id: String,
    pub destination_region: String,
    /// The newest READY copy in the destination region.
    pub backup_id: String,
    pub source_backup_id: Option<String>,
    pub hsm_type: Option<String>,
    pub mode: Option<String>,
    /// When the source backup was taken (a copy's CreateTimestamp is its source's).
    pub backup_created_at: Option<String>,
    /// The source cluster's mode: a copy of another mode cannot restore it as it was.
    pub source_cluster_mode: Option<String>,
    /// The source cluster's certificate (PEM), signed by the customer CA.
    pub cluster_certificate: Option<String>,
    pub customer_ca_certificate: Option<String>,
    /// With a mode mismatch: whether it has been announced (a failed announcement is made
    /// again by the next sweep, which finds `false` here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode_mismatch_announced: Option<bool>,
    /// The copies this stack marked NeverExpires and has not cleared yet ([`crate::guard`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guarded_backup_ids: Vec<String>,
    /// What the recovery accounts listed as shared with them at the last check of this copy
    /// (RecoveryVerifierRole); absent when never checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_check: Option<RecoveryCheck>,
}

impl RestoreKit {
    /// Whether the copy can restore the cluster as it was: `None` when a mode is unknown.
    pub fn mode_matches(&self) -> Option<bool> {
        Some(self.mode.as_deref()? == self.source_cluster_mode.as_deref()?)
    }
}

/// The certificate DescribeClusters names so.
pub const CLUSTER_CERTIFICATE: &str = "ClusterCertificate";

/// The stored kit, if it is one.
pub fn parse(stored: Option<&str>) -> Option<RestoreKit> {
    serde_json::from_str(stored?).ok()
}

/// What the sweep could not learn about the source cluster (not described this time) is kept
/// from the stored kit of the same cluster, so a deleted cluster's kit keeps its certificate.
pub fn carry_over(kit: &mut RestoreKit, described: bool, previous: Option<&RestoreKit>) {
    let Some(previous) = previous.filter(|p| !described && p.source_cluster_id == kit.source_cluster_id) else {
        return;
    };
    kit.source_cluster_mode = kit
        .source_cluster_mode
        .take()
        .or_else(|| previous.source_cluster_mode.clone());
    kit.cluster_certificate = kit
        .cluster_certificate
        .take()
        .or_else(|| previous.cluster_certificate.clone());
}

/// With a mode mismatch: whether to announce it now, given the stored kit. A kit that names the
/// copy for the first time, or whose announcement failed, is announced.
pub fn mismatch_to_announce(kit: &RestoreKit, previous: Option<&RestoreKit>) -> bool {
    kit.mode_matches() == Some(false)
        && previous.is_none_or(|p| p.backup_id != kit.backup_id || p.mode_mismatch_announced != Some(true))
}

/// The kit's parameter name for one source cluster.
pub fn parameter_name(prefix: &str, source_region: &str, cluster_id: &str) -> String {
    format!("{}/{source_region}/{cluster_id}", prefix.trim_end_matches('/'))
}

/// The kit of each of `cluster_ids` that has a READY copy among `copies` (one destination's),
/// with its parameter name.
pub fn kits<'a>(
    settings: &KitSettings,
    source_region: &str,
    region: &str,
    cluster_ids: impl IntoIterator<Item = &'a str>,
    clusters: &[Cluster],
    copies: &[Backup],
) -> Vec<(String, RestoreKit)> {
    cluster_ids
        .into_iter()
        .filter_map(|cluster_id| {
            let copy = newest_ready_copy(copies, source_region, cluster_id)?;
            let cluster = clusters.iter().find(|c| c.id == cluster_id);
            let kit = RestoreKit {
                version: KIT_VERSION,
                source_region: source_region.to_owned(),
                source_cluster_id: cluster_id.to_owned(),
                destination_region: region.to_owned(),
                backup_id: copy.id.clone(),
                source_backup_id: copy.source_backup.clone(),
                hsm_type: copy.hsm_type.clone(),
                mode: copy.mode.clone(),
                backup_created_at: copy.created_at.map(to_rfc3339),
                source_cluster_mode: cluster.and_then(|c| c.mode.clone()),
                cluster_certificate: cluster.and_then(|c| c.certificates.get(CLUSTER_CERTIFICATE).cloned()),
                customer_ca_certificate: settings.customer_ca_certificate.clone(),
                mode_mismatch_announced: None,
                guarded_backup_ids: Vec::new(),
                recovery_check: None,
            };
            Some((parameter_name(&settings.prefix, source_region, cluster_id), kit))
        })
        .collect()
}

/// What a sweep does with one kit, given the stored value (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KitAction {
    /// The stored kit says the same: nothing to write.
    Current,
    /// Write this value (the kit is missing, stale or unreadable).
    Write(String),
    /// The kit cannot be stored: too large for a parameter (or not serialisable).
    Refused { reason: String },
}

pub fn action(kit: &RestoreKit, stored: Option<&str>) -> KitAction {
    let same = parse(stored).is_some_and(|s| &s == kit);
    if same {
        return KitAction::Current;
    }
    match serde_json::to_string(kit) {
        Ok(value) if value.len() > MAX_KIT_BYTES => KitAction::Refused {
            reason: format!(
                "the kit is {} bytes, more than a parameter holds ({MAX_KIT_BYTES})",
                value.len()
            ),
        },
        Ok(value) => KitAction::Write(value),
        Err(e) => KitAction::Refused { reason: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::BackupState;

    const SOURCE: &str = "us-east-1";
    const CLUSTER: &str = "cluster-kzlczlspnho";

    fn settings() -> KitSettings {
        KitSettings {
            prefix: "/cloudhsm-backup-copy/dr/".into(),
            customer_ca_certificate: Some("ssm:/pki/customer-ca".into()),
        }
    }

    fn copy(id: &str, source: &str, state: BackupState, created_at: i64) -> Backup {
        Backup::original(id, None, state, Some(created_at))
            .copied_from(source, SOURCE, Some(CLUSTER))
            .of_hsm("hsm2m.medium", "FIPS")
    }

    fn cluster(mode: &str) -> Cluster {
        Cluster {
            mode: Some(mode.into()),
            certificates: [(
                "ClusterCertificate".to_owned(),
                "-----BEGIN CERTIFICATE-----".to_owned(),
            )]
            .into(),
            ..Cluster::tagged(CLUSTER, &[])
        }
    }

    #[test]
    fn the_kit_names_the_newest_ready_copy_with_what_a_restore_needs() {
        let copies = [
            copy("backup-newestxdeleted", "backup-src3xxxxxxx", BackupState::Deleted, 300),
            copy("backup-readyxxxnewer", "backup-src2xxxxxxx", BackupState::Ready, 200),
            copy("backup-readyxxxolder", "backup-src1xxxxxxx", BackupState::Ready, 100),
            Backup::original("backup-notacopyxxxx", Some(CLUSTER), BackupState::Ready, Some(400)),
        ];
        let kits = kits(
            &settings(),
            SOURCE,
            "us-west-2",
            [CLUSTER, "cluster-nocopiesxxx"],
            &[cluster("FIPS")],
            &copies,
        );
        assert_eq!(kits.len(), 1, "{kits:?}");
        let (name, kit) = &kits[0];
        assert_eq!(name, "/cloudhsm-backup-copy/dr/us-east-1/cluster-kzlczlspnho");
        assert_eq!(kit.backup_id, "backup-readyxxxnewer");
        assert_eq!(kit.source_backup_id.as_deref(), Some("backup-src2xxxxxxx"));
        assert_eq!(
            (kit.hsm_type.as_deref(), kit.mode.as_deref()),
            (Some("hsm2m.medium"), Some("FIPS"))
        );
        assert_eq!(kit.backup_created_at.as_deref(), Some("1970-01-01T00:03:20Z"));
        assert_eq!(kit.cluster_certificate.as_deref(), Some("-----BEGIN CERTIFICATE-----"));
        assert_eq!(kit.customer_ca_certificate.as_deref(), Some("ssm:/pki/customer-ca"));
        assert_eq!(kit.mode_matches(), Some(true));
    }

    #[test]
    fn a_copy_of_another_mode_or_an_unknown_one_is_said_so() {
        let copies = [copy(
            "backup-readyxxxnewer",
            "backup-src2xxxxxxx",
            BackupState::Ready,
            200,
        )];
        let mismatched = kits(
            &settings(),
            SOURCE,
            "us-west-2",
            [CLUSTER],
            &[cluster("NON_FIPS")],
            &copies,
        );
        assert_eq!(mismatched[0].1.mode_matches(), Some(false));
        let unknown = kits(&settings(), SOURCE, "us-west-2", [CLUSTER], &[], &copies);
        assert_eq!(unknown[0].1.mode_matches(), None);
        assert!(unknown[0].1.cluster_certificate.is_none());
    }

    #[test]
    fn only_a_changed_missing_or_unreadable_kit_is_written() {
        let copies = [copy(
            "backup-readyxxxnewer",
            "backup-src2xxxxxxx",
            BackupState::Ready,
            200,
        )];
        let (_, kit) = kits(&settings(), SOURCE, "us-west-2", [CLUSTER], &[cluster("FIPS")], &copies).remove(0);
        let KitAction::Write(value) = action(&kit, None) else {
            panic!("a missing kit is written")
        };
        assert_eq!(action(&kit, Some(&value)), KitAction::Current);
        assert!(matches!(action(&kit, Some("not json")), KitAction::Write(_)));
        let older = RestoreKit {
            backup_id: "backup-readyxxxolder".into(),
            ..kit.clone()
        };
        let stale = serde_json::to_string(&older).unwrap();
        assert_eq!(action(&kit, Some(&stale)), KitAction::Write(value));
        let huge = RestoreKit {
            customer_ca_certificate: Some("x".repeat(MAX_KIT_BYTES)),
            ..kit
        };
        assert!(
            matches!(action(&huge, None), KitAction::Refused { reason } if reason.contains("more than a parameter holds"))
        );
    }

    #[test]
    fn what_this_sweep_could_not_learn_is_kept_from_the_stored_kit() {
        let copies = [copy(
            "backup-readyxxxnewer",
            "backup-src2xxxxxxx",
            BackupState::Ready,
            200,
        )];
        let (_, stored) = kits(&settings(), SOURCE, "us-west-2", [CLUSTER], &[cluster("FIPS")], &copies).remove(0);
        // The cluster is gone from DescribeClusters: its kit keeps the certificate and mode.
        let (_, mut gone) = kits(&settings(), SOURCE, "us-west-2", [CLUSTER], &[], &copies).remove(0);
        carry_over(&mut gone, false, Some(&stored));
        assert_eq!(gone, stored);
        let value = serde_json::to_string(&stored).unwrap();
        assert_eq!(action(&gone, Some(&value)), KitAction::Current);
        // A described cluster's own answer wins.
        let (_, mut fresh) = kits(
            &settings(),
            SOURCE,
            "us-west-2",
            [CLUSTER],
            &[cluster("NON_FIPS")],
            &copies,
        )
        .remove(0);
        carry_over(&mut fresh, true, Some(&stored));
        assert_eq!(fresh.source_cluster_mode.as_deref(), Some("NON_FIPS"));
    }

    #[test]
    fn a_mismatch_is_announced_once_per_copy_and_again_until_it_was() {
        let copies = [copy(
            "backup-readyxxxnewer",
            "backup-src2xxxxxxx",
            BackupState::Ready,
            200,
        )];
        let (_, kit) = kits(
            &settings(),
            SOURCE,
            "us-west-2",
            [CLUSTER],
            &[cluster("NON_FIPS")],
            &copies,
        )
        .remove(0);
        assert!(mismatch_to_announce(&kit, None));
        let announced = RestoreKit {
            mode_mismatch_announced: Some(true),
            ..kit.clone()
        };
        assert!(!mismatch_to_announce(&kit, Some(&announced)));
        let owed = RestoreKit {
            mode_mismatch_announced: Some(false),
            ..kit.clone()
        };
        assert!(mismatch_to_announce(&kit, Some(&owed)));
        let older = RestoreKit {
            backup_id: "backup-readyxxxolder".into(),
            ..announced
        };
        assert!(mismatch_to_announce(&kit, Some(&older)));
        let (_, matching) = kits(&settings(), SOURCE, "us-west-2", [CLUSTER], &[cluster("FIPS")], &copies).remove(0);
        assert!(!mismatch_to_announce(&matching, None));
    }
}
