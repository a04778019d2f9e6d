//! Identifier and region-name validation, following the patterns in the CloudHSM API reference.
//!
//! Checked before any AWS call so that a malformed event cannot reach an API.

/// `backup-[2-7a-zA-Z]{11,16}`
pub fn is_backup_id(s: &str) -> bool {
    s.strip_prefix("backup-").is_some_and(is_base32_suffix)
}

/// `cluster-[2-7a-zA-Z]{11,16}`
pub fn is_cluster_id(s: &str) -> bool {
    s.strip_prefix("cluster-").is_some_and(is_base32_suffix)
}

fn is_base32_suffix(s: &str) -> bool {
    (11..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b))
}

/// `[a-z]{2}(-(gov))?-(east|west|north|south|central){1,2}-\d`, the API's DestinationRegion
/// pattern (e.g. `us-east-1`, `us-gov-west-1`, `ap-southeast-2`, `eu-central-1`).
pub fn is_region(s: &str) -> bool {
    let mut parts: Vec<&str> = s.split('-').collect();
    let (Some(number), true) = (parts.pop(), parts.len() >= 2) else {
        return false;
    };
    if number.len() != 1 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let area = parts.remove(0);
    if area.len() != 2 || !area.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    if parts.first() == Some(&"gov") {
        parts.remove(0);
    }
    let [direction] = parts.as_slice() else {
        return false;
    };
    is_direction(direction)
}

/// One or two of the compass words, concatenated (`southeast`, `northwest`, `central`).
fn is_direction(s: &str) -> bool {
    const WORDS: [&str; 5] = ["east", "west", "north", "south", "central"];
    WORDS.iter().any(|first| {
        s.strip_prefix(first)
            .is_some_and(|rest| rest.is_empty() || WORDS.contains(&rest))
    })
}

/// GovCloud regions cannot exchange backups with standard regions.
pub fn is_govcloud(region: &str) -> bool {
    region.contains("-gov-")
}

/// The AWS partition a region belongs to, from its name. Backups never leave their partition
/// (GovCloud East <-> West stays inside `aws-us-gov`, so it is allowed).
pub fn partition(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 6] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// Whether a backup can be copied between the two regions' partitions.
pub fn same_partition(a: &str, b: &str) -> bool {
    partition(a) == partition(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_ids_follow_the_api_pattern() {
        assert!(is_backup_id("backup-4kuraxsqetz"));
        assert!(is_backup_id("backup-ABCDEFGHIJKLMNOP"));
        assert!(!is_backup_id("backup-4kuraxsqet")); // 10 chars
        assert!(!is_backup_id("backup-4kuraxsqetz1234")); // 1 is not base32
        assert!(!is_backup_id("backup-abcdefghijklmnopq")); // 17 chars
        assert!(!is_backup_id("cluster-4kuraxsqetz"));
        assert!(!is_backup_id("backup-4kura xsqetz"));
        assert!(!is_backup_id(""));
    }

    #[test]
    fn cluster_ids_follow_the_api_pattern() {
        assert!(is_cluster_id("cluster-kzlczlspnho"));
        assert!(!is_cluster_id("backup-kzlczlspnho"));
        assert!(!is_cluster_id("cluster-kzlc"));
        assert!(!is_cluster_id("cluster-kzlczlspnh0"));
    }

    #[test]
    fn regions_follow_the_api_pattern() {
        for ok in [
            "us-east-1",
            "us-west-2",
            "eu-central-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "ap-northeast-3",
            "ca-central-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "useast-1",
            "us-east-10",
            "US-EAST-1",
            "us-up-1",
            "us-gov-1",
            "u-east-1",
            "us-eastwest-1x",
            "us-east-1-",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn govcloud_is_recognised() {
        assert!(is_govcloud("us-gov-east-1"));
        assert!(!is_govcloud("us-east-1"));
    }

    #[test]
    fn partitions_follow_the_region_name() {
        assert!(same_partition("us-east-1", "eu-west-1"));
        assert!(same_partition("us-gov-east-1", "us-gov-west-1"));
        assert!(same_partition("cn-north-1", "cn-northwest-1"));
        for (a, b) in [
            ("us-east-1", "cn-north-1"),
            ("us-east-1", "us-gov-west-1"),
            ("us-east-1", "us-iso-east-1"),
            ("us-iso-east-1", "us-isob-east-1"),
            ("cn-north-1", "us-gov-west-1"),
        ] {
            assert!(!same_partition(a, b), "{a} {b}");
        }
    }
}
