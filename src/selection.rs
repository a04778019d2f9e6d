//! Which clusters' backups are copied: an include list, an exclude list and a tag selector,
//! applied alike to events and to the sweep.

pub use crate::cluster::Cluster;
use crate::ids::is_cluster_id;

/// The operator's choice of clusters. Empty lists and no tags select every cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterSelection {
    /// When non-empty, only these clusters.
    pub include: Vec<String>,
    /// Never these clusters (wins over `include`).
    pub exclude: Vec<String>,
    /// Every pair must be among the cluster's tags (e.g. `dr-copy=true`).
    pub tags: Vec<(String, String)>,
}

/// Why a backup's cluster is not selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotSelected {
    NotIncluded,
    Excluded,
    /// The cluster lacks a required tag (or has another value).
    TagMismatch {
        key: String,
    },
    /// A tag selector is set but the cluster is unknown (deleted, or the backup names none).
    ClusterUnknown,
}

impl std::fmt::Display for NotSelected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotIncluded => f.write_str("not in INCLUDE_CLUSTERS"),
            Self::Excluded => f.write_str("in EXCLUDE_CLUSTERS"),
            Self::TagMismatch { key } => write!(f, "cluster lacks the selector tag {key}"),
            Self::ClusterUnknown => f.write_str("cluster not found, so its tags cannot be checked"),
        }
    }
}

/// What [`ClusterSelection::lookup`] asks DescribeClusters for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterLookup {
    Nothing,
    All,
    These(Vec<String>),
}

impl ClusterSelection {
    /// True when every cluster is selected: no DescribeClusters call is needed.
    pub fn is_everything(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty() && self.tags.is_empty()
    }

    /// Whether selection needs the clusters' tags (and so DescribeClusters).
    pub fn needs_tags(&self) -> bool {
        !self.tags.is_empty()
    }

    /// Which clusters a run must describe before [`Self::check`]: none when every cluster is
    /// selected; every one for a sweep (the tag selector needs tags, and a sweep reports
    /// configured ids that match no cluster); else, when tags decide, the clusters of these
    /// backups; else none (ids alone decide).
    pub fn lookup<'a>(&self, sweep: bool, backup_clusters: impl Iterator<Item = Option<&'a str>>) -> ClusterLookup {
        if self.is_everything() {
            return ClusterLookup::Nothing;
        }
        if sweep {
            return ClusterLookup::All;
        }
        if !self.needs_tags() {
            return ClusterLookup::Nothing;
        }
        let mut ids: Vec<String> = backup_clusters.flatten().map(str::to_owned).collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            ClusterLookup::Nothing
        } else {
            ClusterLookup::These(ids)
        }
    }

    /// Decides for a backup of `cluster_id`; `cluster` is what DescribeClusters said of it.
    pub fn check(&self, cluster_id: Option<&str>, cluster: Option<&Cluster>) -> Result<(), NotSelected> {
        self.check_ids(cluster_id)?;
        if self.tags.is_empty() {
            return Ok(());
        }
        let cluster = cluster.ok_or(NotSelected::ClusterUnknown)?;
        match self.tags.iter().find(|wanted| !cluster.tags.contains(wanted)) {
            Some((key, _)) => Err(NotSelected::TagMismatch { key: key.clone() }),
            None => Ok(()),
        }
    }

    /// The include and exclude lists alone: what can be decided without DescribeClusters.
    pub fn check_ids(&self, cluster_id: Option<&str>) -> Result<(), NotSelected> {
        if let Some(id) = cluster_id
            && self.exclude.iter().any(|e| e == id)
        {
            return Err(NotSelected::Excluded);
        }
        if !self.include.is_empty() && !cluster_id.is_some_and(|id| self.include.iter().any(|i| i == id)) {
            return Err(NotSelected::NotIncluded);
        }
        Ok(())
    }

    /// Configured ids (included or excluded) that no cluster in the region has.
    pub fn unknown_ids(&self, clusters: &[Cluster]) -> Vec<String> {
        self.include
            .iter()
            .chain(&self.exclude)
            .filter(|id| !clusters.iter().any(|c| &c.id == *id))
            .cloned()
            .collect()
    }

    /// Parses the settings' text forms; errors name the problem.
    pub fn parse(include: &str, exclude: &str, tags: &str) -> Result<Self, String> {
        Ok(Self {
            include: parse_cluster_ids(include).map_err(|e| format!("include: {e}"))?,
            exclude: parse_cluster_ids(exclude).map_err(|e| format!("exclude: {e}"))?,
            tags: parse_tag_pairs(tags)?,
        })
    }
}

/// A comma-separated list of cluster ids, each checked against the API's pattern.
pub fn parse_cluster_ids(raw: &str) -> Result<Vec<String>, String> {
    split_list(raw)
        .map(|id| {
            if is_cluster_id(id) {
                Ok(id.to_owned())
            } else {
                Err(format!("{id:?} is not a cluster id"))
            }
        })
        .collect()
}

/// Comma-separated, trimmed, empty items dropped.
pub fn split_list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// `key=value,key2=value2`; a value may be empty (`key=`), a key may not.
pub fn parse_tag_pairs(raw: &str) -> Result<Vec<(String, String)>, String> {
    split_list(raw)
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(format!("{pair:?} is not key=value")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "cluster-aaaaaaaaaaa";
    const B: &str = "cluster-bbbbbbbbbbb";

    fn cluster(id: &str, tags: &[(&str, &str)]) -> Cluster {
        Cluster::tagged(id, tags)
    }

    #[test]
    fn a_run_describes_only_the_clusters_its_selection_needs() {
        let backups = [Some(B), None, Some(A), Some(B)];
        let by_ids = ClusterSelection::parse(A, "", "").unwrap();
        let by_tags = ClusterSelection::parse("", "", "env=prod").unwrap();
        let lookup = |selection: &ClusterSelection, sweep: bool| selection.lookup(sweep, backups.iter().copied());
        assert_eq!(lookup(&ClusterSelection::default(), true), ClusterLookup::Nothing);
        assert_eq!(lookup(&by_ids, true), ClusterLookup::All);
        assert_eq!(lookup(&by_ids, false), ClusterLookup::Nothing);
        assert_eq!(lookup(&by_tags, true), ClusterLookup::All);
        assert_eq!(lookup(&by_tags, false), ClusterLookup::These(vec![A.into(), B.into()]));
        assert_eq!(by_tags.lookup(false, [None].into_iter()), ClusterLookup::Nothing);
    }

    #[test]
    fn empty_selection_takes_every_cluster_without_looking_them_up() {
        let s = ClusterSelection::default();
        assert!(s.is_everything() && !s.needs_tags());
        assert_eq!(s.check(Some(A), None), Ok(()));
        assert_eq!(s.check(None, None), Ok(()));
    }

    #[test]
    fn include_and_exclude_lists_apply_with_exclude_winning() {
        let s = ClusterSelection::parse(&format!("{A},{B}"), B, "").unwrap();
        assert_eq!(s.check(Some(A), None), Ok(()));
        assert_eq!(s.check(Some(B), None), Err(NotSelected::Excluded));
        assert_eq!(
            s.check(Some("cluster-ccccccccccc"), None),
            Err(NotSelected::NotIncluded)
        );
        assert_eq!(s.check(None, None), Err(NotSelected::NotIncluded));
    }

    #[test]
    fn tag_selector_needs_every_pair() {
        let s = ClusterSelection::parse("", "", "dr-copy=true, tier=1").unwrap();
        assert!(s.needs_tags());
        let tagged = cluster(A, &[("dr-copy", "true"), ("tier", "1"), ("team", "x")]);
        let half = cluster(A, &[("dr-copy", "true")]);
        let wrong = cluster(A, &[("dr-copy", "false"), ("tier", "1")]);
        assert_eq!(s.check(Some(A), Some(&tagged)), Ok(()));
        assert_eq!(
            s.check(Some(A), Some(&half)),
            Err(NotSelected::TagMismatch { key: "tier".into() })
        );
        assert_eq!(
            s.check(Some(A), Some(&wrong)),
            Err(NotSelected::TagMismatch { key: "dr-copy".into() })
        );
        assert_eq!(s.check(Some(A), None), Err(NotSelected::ClusterUnknown));
    }

    #[test]
    fn unknown_configured_ids_are_reported() {
        let s = ClusterSelection::parse(A, B, "").unwrap();
        assert_eq!(s.unknown_ids(&[cluster(A, &[])]), vec![B.to_owned()]);
    }

    #[test]
    fn malformed_settings_are_rejected() {
        assert!(
            ClusterSelection::parse("cluster-x", "", "")
                .unwrap_err()
                .contains("include")
        );
        assert!(ClusterSelection::parse("", "nope", "").unwrap_err().contains("exclude"));
        assert!(ClusterSelection::parse("", "", "=true").is_err());
        assert!(ClusterSelection::parse("", "", "dr-copy").is_err());
        assert_eq!(parse_tag_pairs("k=").unwrap(), vec![("k".to_owned(), String::new())]);
    }
}
