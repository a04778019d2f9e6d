//! What the recovery accounts see of a kit's copy (RecoveryVerifierRole): kept in the kit, so
//! that `dr-status` shows it next to the copy.

use serde::{Deserialize, Serialize};

use super::RestoreKit;

/// Which recovery accounts list a copy as shared with them, as each sweep checks it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCheck {
    pub backup_id: String,
    pub seen_by: Vec<String>,
    pub not_seen_by: Vec<String>,
}

impl RecoveryCheck {
    /// `seen by 210987654321`, `NOT SEEN by 210987654321`.
    pub fn label(&self) -> String {
        if self.not_seen_by.is_empty() {
            format!("seen by {}", self.seen_by.join(","))
        } else {
            format!("NOT SEEN by {}", self.not_seen_by.join(","))
        }
    }
}

/// This sweep's check of the kit's copy, or (not checked this time, or of another copy) the
/// stored kit's check of the same copy.
pub fn keep_check(kit: &mut RestoreKit, checked: Option<&RecoveryCheck>, previous: Option<&RestoreKit>) {
    let of_copy = |c: &&RecoveryCheck| c.backup_id == kit.backup_id;
    kit.recovery_check = checked
        .filter(of_copy)
        .or_else(|| previous.and_then(|p| p.recovery_check.as_ref()).filter(of_copy))
        .cloned();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kit(backup_id: &str, check: Option<RecoveryCheck>) -> RestoreKit {
        RestoreKit {
            version: 1,
            source_region: "us-east-1".into(),
            source_cluster_id: "cluster-kzlczlspnho".into(),
            destination_region: "us-west-2".into(),
            backup_id: backup_id.into(),
            source_backup_id: None,
            hsm_type: None,
            mode: None,
            backup_created_at: None,
            source_cluster_mode: None,
            cluster_certificate: None,
            customer_ca_certificate: None,
            mode_mismatch_announced: None,
            guarded_backup_ids: Vec::new(),
            recovery_check: check,
        }
    }

    fn check(backup_id: &str, seen: &[&str], not_seen: &[&str]) -> RecoveryCheck {
        RecoveryCheck {
            backup_id: backup_id.into(),
            seen_by: seen.iter().map(|s| (*s).to_owned()).collect(),
            not_seen_by: not_seen.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_kit_keeps_the_last_check_of_its_own_copy_only() {
        let seen = check("backup-newnewnewne", &["210987654321"], &[]);
        let unseen = check("backup-newnewnewne", &[], &["210987654321"]);
        // This sweep's check wins.
        let mut k = kit("backup-newnewnewne", None);
        keep_check(
            &mut k,
            Some(&unseen),
            Some(&kit("backup-newnewnewne", Some(seen.clone()))),
        );
        assert_eq!(
            k.recovery_check.as_ref().map(RecoveryCheck::label).as_deref(),
            Some("NOT SEEN by 210987654321")
        );
        // Not checked this time: the stored check of the same copy stays.
        let mut k = kit("backup-newnewnewne", None);
        keep_check(&mut k, None, Some(&kit("backup-newnewnewne", Some(seen.clone()))));
        assert_eq!(
            k.recovery_check.as_ref().map(RecoveryCheck::label).as_deref(),
            Some("seen by 210987654321")
        );
        // A check of another copy says nothing of this one.
        let mut k = kit("backup-newernewern", None);
        keep_check(
            &mut k,
            Some(&seen),
            Some(&kit("backup-newnewnewne", Some(seen.clone()))),
        );
        assert_eq!(k.recovery_check, None);
    }
}
