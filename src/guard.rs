//! Guarding the newest copy (`GuardNewestCopy`): the newest READY copy of each cluster in each
//! DR region is marked NeverExpires, and the copies this stack marked before are cleared once
//! they are superseded. NeverExpires is also what pruning never deletes.
//!
//! Someone else may mark a copy NeverExpires on purpose, so only the copies this stack marked
//! are ever cleared: the restore kit of the cluster and region lists them (`guardedBackupIds`),
//! and keeps listing one until its mark is cleared, so a failed clear is retried by the next
//! sweep, never forgotten. Turned off, the sweeps release every mark the stack set.

use crate::backup::Backup;

/// One ModifyBackupAttributes call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub backup_id: String,
    pub never_expires: bool,
}

/// The calls that guard `newest` (the kit's copy; `None` when guarding is off) and release the
/// other copies this stack marked (`ours`, from the stored kit), given the region's listing.
pub fn marks(newest: Option<&str>, ours: &[String], copies: &[Backup]) -> Vec<Mark> {
    let listed = |id: &str| copies.iter().find(|c| c.id == id);
    let mut marks = Vec::new();
    if let Some(newest) = newest
        && listed(newest).is_some_and(|c| !c.never_expires)
    {
        marks.push(Mark {
            backup_id: newest.to_owned(),
            never_expires: true,
        });
    }
    for id in ours.iter().filter(|id| Some(id.as_str()) != newest) {
        if listed(id).is_some_and(|c| c.never_expires) {
            marks.push(Mark {
                backup_id: id.clone(),
                never_expires: false,
            });
        }
    }
    marks
}

/// The copies this stack has marked after the calls: `ours`, plus the newest if this stack
/// marked it now or before, minus those cleared (or gone from the listing, or unmarked by
/// someone else). `done` says which marks succeeded.
pub fn ours_after(newest: Option<&str>, ours: &[String], copies: &[Backup], done: &[Mark]) -> Vec<String> {
    let listed = |id: &str| copies.iter().find(|c| c.id == id);
    let mut after: Vec<String> = Vec::new();
    if let Some(newest) = newest {
        let marked_now = done.iter().any(|m| m.backup_id == newest && m.never_expires);
        if marked_now || ours.iter().any(|id| id == newest) {
            after.push(newest.to_owned());
        }
    }
    for id in ours.iter().filter(|id| Some(id.as_str()) != newest) {
        let cleared = done.iter().any(|m| &m.backup_id == id && !m.never_expires);
        if !cleared && listed(id).is_some_and(|c| c.never_expires) {
            after.push(id.clone());
        }
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::BackupState;

    fn copy(id: &str, never_expires: bool) -> Backup {
        Backup {
            never_expires,
            ..Backup::original(id, None, BackupState::Ready, Some(0))
        }
    }

    #[test]
    fn the_newest_copy_is_marked_and_only_our_superseded_marks_are_cleared() {
        let copies = [
            copy("backup-old", true),
            copy("backup-users", true),
            copy("backup-new", false),
        ];
        let ours = vec!["backup-old".to_owned()];
        let planned = marks(Some("backup-new"), &ours, &copies);
        assert_eq!(
            planned,
            vec![
                Mark {
                    backup_id: "backup-new".into(),
                    never_expires: true
                },
                Mark {
                    backup_id: "backup-old".into(),
                    never_expires: false
                },
            ]
        );
        // Someone else's mark (backup-users) is never touched.
        assert_eq!(
            ours_after(Some("backup-new"), &ours, &copies, &planned),
            vec!["backup-new"]
        );
        // A clear that failed stays ours, to be retried by the next sweep.
        assert_eq!(
            ours_after(Some("backup-new"), &ours, &copies, &planned[..1]),
            vec!["backup-new", "backup-old"]
        );
        // A mark that failed is not ours.
        assert_eq!(
            ours_after(Some("backup-new"), &ours, &copies, &planned[1..]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_copy_already_marked_is_ours_only_if_we_marked_it() {
        let marked = [copy("backup-new", true)];
        assert!(marks(Some("backup-new"), &[], &marked).is_empty());
        assert_eq!(ours_after(Some("backup-new"), &[], &marked, &[]), Vec::<String>::new());
        let ours = vec!["backup-new".to_owned()];
        assert_eq!(ours_after(Some("backup-new"), &ours, &marked, &[]), ours);
        // A superseded copy that is gone, or unmarked by someone else, is dropped.
        let gone = vec!["backup-new".to_owned(), "backup-gone".to_owned()];
        assert_eq!(ours_after(Some("backup-new"), &gone, &marked, &[]), vec!["backup-new"]);
    }

    #[test]
    fn turned_off_it_releases_every_mark_it_set() {
        let copies = [copy("backup-new", true), copy("backup-old", true)];
        let ours = vec!["backup-new".to_owned(), "backup-old".to_owned()];
        let planned = marks(None, &ours, &copies);
        assert_eq!(planned.len(), 2);
        assert!(planned.iter().all(|m| !m.never_expires));
        assert_eq!(ours_after(None, &ours, &copies, &planned), Vec::<String>::new());
        assert_eq!(ours_after(None, &ours, &copies, &planned[..1]), vec!["backup-old"]);
    }
}
