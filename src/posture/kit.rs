//! What a destination's restore kit says of its newest READY copy.

use serde::Serialize;

use super::Destination;
use crate::backup::Backup;
use crate::restore_kit::{RecoveryCheck, RestoreKit};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", tag = "state")]
pub enum KitState {
    /// The kit names the newest READY copy.
    Current,
    /// The kit names another backup.
    #[serde(rename_all = "camelCase")]
    Stale {
        names: String,
    },
    Missing,
    Unreadable,
    /// The kits could not be read.
    Unknown,
}

impl KitState {
    pub fn label(&self) -> String {
        match self {
            Self::Current => "current".into(),
            Self::Stale { names } => format!("stale ({names})"),
            Self::Missing => "missing".into(),
            Self::Unreadable => "unreadable".into(),
            Self::Unknown => "?".into(),
        }
    }
}

/// Whether the destination's kit names its newest READY copy, and the kit's last check from
/// the recovery accounts when it is of that copy (the kit read once for both).
pub(super) fn kit_view(
    destination: &Destination,
    parameter: &str,
    newest: Option<&Backup>,
) -> (KitState, Option<RecoveryCheck>) {
    let newest = newest.map(|b| b.id.as_str());
    match destination.kits.as_ref().map(|kits| kits.get(parameter)) {
        None => (KitState::Unknown, None),
        Some(None) => (KitState::Missing, None),
        Some(Some(value)) => match serde_json::from_str::<RestoreKit>(value) {
            Err(_) => (KitState::Unreadable, None),
            Ok(kit) => {
                let check = kit.recovery_check.filter(|c| Some(c.backup_id.as_str()) == newest);
                let state = if Some(kit.backup_id.as_str()) == newest {
                    KitState::Current
                } else {
                    KitState::Stale { names: kit.backup_id }
                };
                (state, check)
            }
        },
    }
}
