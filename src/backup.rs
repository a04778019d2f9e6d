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
}

impl Backup {
    /// Copies carry `SourceBackup`; an original backup has none.
    pub fn is_copy(&self) -> bool {
        self.source_backup.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
