//! The tags a copy gets. CopyBackupToRegion copies the source's tags only when no TagList is
//! given; we always give one (it carries the provenance tags), so the source's tags are merged
//! in explicitly.

use crate::job::{CopyJob, TAG_ATTEMPT};

/// Provenance tag keys: they mark a copy as made by this tool and say where it came from.
pub const TAG_SOURCE_REGION: &str = "cloudhsm-backup-copy:source-region";
pub const TAG_SOURCE_BACKUP: &str = "cloudhsm-backup-copy:source-backup-id";
pub const TAG_SOURCE_CLUSTER: &str = "cloudhsm-backup-copy:source-cluster-id";

/// CloudHSM allows at most 50 tags on a resource.
pub const MAX_TAGS: usize = 50;
const MAX_KEY_LEN: usize = 128;
const MAX_VALUE_LEN: usize = 256;

/// What goes on every copy besides the provenance tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPolicy {
    /// Keep the source backup's tags (the default).
    pub keep_source_tags: bool,
    /// Added to every copy; they win over a source tag with the same key.
    pub extra: Vec<(String, String)>,
}

impl Default for TagPolicy {
    fn default() -> Self {
        Self {
            keep_source_tags: true,
            extra: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("the copy would carry {count} tags, more than CloudHSM's limit of {MAX_TAGS}: {keys}")]
    TooMany { count: usize, keys: String },
    #[error("tag {key:?} is invalid: {reason}")]
    Invalid { key: String, reason: &'static str },
}

/// Checks one tag against CloudHSM's rules (length; the reserved `aws:` prefix).
pub fn validate_tag(key: &str, value: &str) -> Result<(), TagError> {
    let invalid = |reason| {
        Err(TagError::Invalid {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() || key.chars().count() > MAX_KEY_LEN {
        return invalid("keys are 1 to 128 characters");
    }
    if value.chars().count() > MAX_VALUE_LEN {
        return invalid("values are at most 256 characters");
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return invalid("the aws: prefix is reserved");
    }
    if !key.chars().chain(value.chars()).all(is_tag_char) {
        return invalid("keys and values may hold only letters, numbers, spaces and _ . : / = + - @");
    }
    Ok(())
}

/// TagKey/TagValue's pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`. `char::is_alphabetic` also admits
/// the few combining marks Unicode counts as alphabetic, slightly more than `\p{L}`.
fn is_tag_char(c: char) -> bool {
    const SEPARATORS: &[char] = &[
        ' ', '\u{a0}', '\u{1680}', '\u{202f}', '\u{205f}', '\u{3000}', '\u{2028}', '\u{2029}',
    ];
    c.is_alphabetic()
        || c.is_numeric()
        || SEPARATORS.contains(&c)
        || ('\u{2000}'..='\u{200a}').contains(&c)
        || "_.:/=+-@".contains(c)
}

impl TagPolicy {
    /// The copy's TagList: source tags (if kept), then configured tags, then provenance tags
    /// (with the marker of the attempt that requests it), a later one replacing an earlier one
    /// with the same key. Source tags with the reserved `aws:` prefix cannot be set by anyone
    /// and are left out.
    pub fn copy_tags(
        &self,
        job: &CopyJob,
        attempt: u32,
        source_tags: &[(String, String)],
    ) -> Result<Vec<(String, String)>, TagError> {
        let mut tags: Vec<(String, String)> = Vec::new();
        let mut put = |key: &str, value: &str| match tags.iter_mut().find(|(k, _)| k == key) {
            Some(existing) => existing.1 = value.to_owned(),
            None => tags.push((key.to_owned(), value.to_owned())),
        };
        if self.keep_source_tags {
            for (k, v) in source_tags
                .iter()
                .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("aws:"))
            {
                put(k, v);
            }
        }
        for (k, v) in &self.extra {
            put(k, v);
        }
        put(TAG_SOURCE_REGION, &job.source_region);
        put(TAG_SOURCE_BACKUP, &job.source_backup_id);
        if let Some(cluster) = &job.source_cluster_id {
            put(TAG_SOURCE_CLUSTER, cluster);
        }
        put(TAG_ATTEMPT, &job.attempt_marker(attempt));
        for (k, v) in &tags {
            validate_tag(k, v)?;
        }
        if tags.len() > MAX_TAGS {
            let keys = tags.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ");
            return Err(TagError::TooMany {
                count: tags.len(),
                keys,
            });
        }
        Ok(tags)
    }
}

/// Whether a copy carries our provenance tags and names `source_region` as its source (made by
/// this tool, for this region). The pruning role may delete only such copies (its IAM
/// condition reads the same tag), so pruning never attempts a deletion IAM would refuse.
pub fn has_provenance(tags: &[(String, String)], source_region: &str) -> bool {
    tags.iter().any(|(k, _)| k == TAG_SOURCE_BACKUP)
        && tags.iter().any(|(k, v)| k == TAG_SOURCE_REGION && v == source_region)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> CopyJob {
        CopyJob::example(0)
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn merges_source_then_configured_then_provenance() {
        let policy = TagPolicy {
            keep_source_tags: true,
            extra: pairs(&[("cost-center", "dr"), ("team", "platform")]),
        };
        let tags = policy
            .copy_tags(
                &job(),
                1,
                &pairs(&[
                    ("team", "payments"),
                    ("env", "prod"),
                    ("aws:cloudformation:stack-name", "x"),
                ]),
            )
            .unwrap();
        assert_eq!(
            tags,
            pairs(&[
                ("team", "platform"),
                ("env", "prod"),
                ("cost-center", "dr"),
                (TAG_SOURCE_REGION, "us-east-1"),
                (TAG_SOURCE_BACKUP, "backup-4kuraxsqetz"),
                (TAG_SOURCE_CLUSTER, "cluster-kzlczlspnho"),
                (TAG_ATTEMPT, "backup-4kuraxsqetz-to-us-west-2-0/1"),
            ])
        );
        assert!(has_provenance(&tags, "us-east-1"));
        assert!(!has_provenance(&tags, "eu-west-1"));
    }

    #[test]
    fn source_tags_can_be_dropped() {
        let policy = TagPolicy {
            keep_source_tags: false,
            extra: vec![],
        };
        let tags = policy.copy_tags(&job(), 1, &pairs(&[("team", "payments")])).unwrap();
        assert_eq!(tags.len(), 4);
        assert!(!tags.iter().any(|(k, _)| k == "team"));
    }

    #[test]
    fn provenance_cannot_be_overridden() {
        let policy = TagPolicy {
            keep_source_tags: true,
            extra: vec![],
        };
        let tags = policy
            .copy_tags(&job(), 1, &pairs(&[(TAG_SOURCE_REGION, "forged")]))
            .unwrap();
        assert_eq!(tags[0], (TAG_SOURCE_REGION.to_owned(), "us-east-1".to_owned()));
    }

    #[test]
    fn more_than_fifty_tags_is_an_error_not_a_silent_cut() {
        let many: Vec<(String, String)> = (0..47).map(|i| (format!("k{i}"), "v".into())).collect();
        let err = TagPolicy::default().copy_tags(&job(), 1, &many).unwrap_err();
        assert!(matches!(err, TagError::TooMany { count: 51, .. }), "{err}");
        let fits: Vec<(String, String)> = (0..46).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(TagPolicy::default().copy_tags(&job(), 1, &fits).unwrap().len(), 50);
    }

    #[test]
    fn invalid_tags_are_rejected() {
        assert!(validate_tag("", "v").is_err());
        assert!(validate_tag(&"k".repeat(129), "v").is_err());
        assert!(validate_tag("k", &"v".repeat(257)).is_err());
        assert!(validate_tag("AWS:thing", "v").is_err());
        assert!(validate_tag("team", "").is_ok());
        assert!(validate_tag("cost center", "Zürich/2 + ü@x=y").is_ok());
        for (k, v) in [
            ("bad*key", "v"),
            ("k", "semi;colon"),
            ("tab\tkey", "v"),
            ("k", "a,b"),
            ("k#", "v"),
        ] {
            assert!(validate_tag(k, v).is_err(), "{k:?}={v:?}");
        }
    }
}
