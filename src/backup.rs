//! What the domain knows about a CloudHSM backup: a small, SDK-free view.

use serde::Serialize;

use crate::time::EpochSeconds;

/// The lifecycle states of a backup (`BackupState` in the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackupState {
    CreateInProgress,
    Ready,
    Deleted,
    PendingDeletion,
    /// A state this version does not know; never treated as usable.
    #[serde(untagged)]
    Unknown(String),
}

impl BackupState {
    /// Parses the API's wire name.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "CREATE_IN_PROGRESS" => Self::CreateInProgress,
            "READY" => Self::Ready,
            "DELETED" => Self::Deleted,
            "PENDING_DELETION" => Self::PendingDeletion,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The API's wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::CreateInProgress => "CREATE_IN_PROGRESS",
            Self::Ready => "READY",
            Self::Deleted => "DELETED",
            Self::PendingDeletion => "PENDING_DELETION",
            Self::Unknown(s) => s,
        }
    }

    /// A copy in this state exists or will exist: another copy would be a duplicate.
    pub fn is_live(&self) -> bool {
        matches!(self, Self::CreateInProgress | Self::Ready)
    }
}

impl std::fmt::Display for BackupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backup as DescribeBackups reports it, reduced to what copying needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub id: String,
    pub cluster_id: Option<String>,
    pub state: BackupState,
    /// Set only on copies: the id of the backup this one was copied from.
    pub source_backup: Option<String>,
    pub source_region: Option<String>,
    /// Set only on copies: the cluster the source backup belonged to.
    pub source_cluster: Option<String>,
    pub created_at: Option<EpochSeconds>,
    pub tags: Vec<(String, String)>,
    /// Exempt from retention (ModifyBackupAttributes).
    pub never_expires: bool,
    /// What a cluster restored from it must be: its HSM type (`hsm2m.medium`) and mode (`FIPS`
    /// restores only to FIPS clusters, `NON_FIPS` only to NON_FIPS).
    pub hsm_type: Option<String>,
    pub mode: Option<String>,
    /// `BackupArn`: what RAM shares and another account restores from.
    pub arn: Option<String>,
}

impl Backup {
    /// An original backup (no source fields, no tags), as tests and examples start from.
    pub fn original(id: &str, cluster_id: Option<&str>, state: BackupState, created_at: Option<EpochSeconds>) -> Self {
        Self {
            id: id.to_owned(),
            cluster_id: cluster_id.map(str::to_owned),
            state,
            source_backup: None,
            source_region: None,
            source_cluster: None,
            created_at,
            tags: Vec::new(),
            never_expires: false,
            hsm_type: None,
            mode: None,
            arn: None,
        }
    }

    /// The same backup of this HSM type and mode.
    pub fn of_hsm(self, hsm_type: &str, mode: &str) -> Self {
        Self {
            hsm_type: Some(hsm_type.to_owned()),
            mode: Some(mode.to_owned()),
            ..self
        }
    }

    /// The same backup as a copy of `source_backup` from `source_region`: copies belong to no
    /// cluster and name their source's.
    pub fn copied_from(self, source_backup: &str, source_region: &str, source_cluster: Option<&str>) -> Self {
        Self {
            cluster_id: None,
            source_backup: Some(source_backup.to_owned()),
            source_region: Some(source_region.to_owned()),
            source_cluster: source_cluster.map(str::to_owned),
            ..self
        }
    }

    /// The same backup with these tags (replacing any).
    pub fn tagged(self, tags: &[(&str, &str)]) -> Self {
        Self {
            tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..self
        }
    }

    /// Whether this is a READY copy of a backup of `cluster` in `source_region`.
    pub fn is_ready_copy_of(&self, source_region: &str, cluster: &str) -> bool {
        self.state == BackupState::Ready
            && self.source_region.as_deref() == Some(source_region)
            && self.source_cluster.as_deref() == Some(cluster)
    }

    /// Copies carry `SourceBackup`; an original backup has none.
    pub fn is_copy(&self) -> bool {
        self.source_backup.is_some()
    }
}

/// The newest READY copy of `cluster`'s backups from `source_region` among `copies` (ties broken
/// by id, so every caller picks the same one).
pub fn newest_ready_copy<'a>(copies: &'a [Backup], source_region: &str, cluster: &str) -> Option<&'a Backup> {
    copies
        .iter()
        .filter(|c| c.is_ready_copy_of(source_region, cluster))
        .max_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_makes_originals_and_copies() {
        let original =
            Backup::original("backup-a", Some("cluster-c"), BackupState::Ready, Some(5)).tagged(&[("k", "v")]);
        assert!(!original.is_copy());
        assert_eq!(
            (original.cluster_id.as_deref(), original.tags.len()),
            (Some("cluster-c"), 1)
        );
        let copy = original.clone().copied_from("backup-s", "us-east-1", Some("cluster-c"));
        assert!(copy.is_copy());
        assert_eq!(copy.cluster_id, None);
        assert_eq!(copy.source_cluster.as_deref(), Some("cluster-c"));
        assert_eq!((copy.created_at, copy.tags), (Some(5), original.tags));
    }

    #[test]
    fn states_map_from_and_to_the_wire() {
        for (wire, state, live) in [
            ("CREATE_IN_PROGRESS", BackupState::CreateInProgress, true),
            ("READY", BackupState::Ready, true),
            ("DELETED", BackupState::Deleted, false),
            ("PENDING_DELETION", BackupState::PendingDeletion, false),
            ("SOMETHING_NEW", BackupState::Unknown("SOMETHING_NEW".into()), false),
        ] {
            assert_eq!(BackupState::from_wire(wire), state);
            assert_eq!(state.as_str(), wire);
            assert_eq!(state.is_live(), live, "{wire}");
            assert_eq!(serde_json::to_value(&state).unwrap(), serde_json::json!(wire));
        }
    }
}
