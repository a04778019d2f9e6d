//! The posture as a fixed-width table, the way `dr-status` prints it for a person.

use super::Row;

/// The rows as a fixed-width table, one line each, with a header.
pub fn table(rows: &[Row]) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut lines = vec![vec![
        "CLUSTER".to_owned(),
        "REGION".into(),
        "NEWEST READY COPY".into(),
        "AGE (H)".into(),
        "HSM TYPE".into(),
        "MODE".into(),
        "KIT".into(),
        "LAST DRILL".into(),
        "RECOVERY ACCOUNTS".into(),
        "IN PROGRESS".into(),
        "RUNNING".into(),
    ]];
    for r in rows {
        let mode = match (&r.mode, &r.cluster_mode) {
            (Some(m), Some(c)) if m != c => format!("{m} (cluster {c})"),
            (m, _) => opt(m),
        };
        lines.push(vec![
            r.cluster_id.clone(),
            r.destination_region.clone(),
            match (&r.newest_copy_id, &r.unreadable) {
                (Some(id), _) => id.clone(),
                (None, Some(_)) => "? (unreadable)".into(),
                (None, None) => "NONE".into(),
            },
            r.age_hours.map_or_else(|| "-".into(), |h| format!("{h:.1}")),
            opt(&r.hsm_type),
            mode,
            r.kit.label(),
            match (&r.last_drill, &r.kit) {
                (Some(drill), _) => drill.label(),
                (None, super::KitState::Unknown) => "?".into(),
                (None, _) => "none".into(),
            },
            match (&r.recovery_view, &r.kit) {
                (Some(check), _) => check.label(),
                (None, super::KitState::Unknown) => "?".into(),
                (None, _) => "-".into(),
            },
            r.copies_in_progress.to_string(),
            r.executions_running.map_or_else(|| "?".into(), |n| n.to_string()),
        ]);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0))
        .collect();
    lines
        .iter()
        .map(|l| {
            let cells: Vec<String> = l.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
