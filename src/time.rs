//! Epoch-second timestamps and their RFC 3339 form (what Step Functions' context object uses).

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// Seconds since the Unix epoch.
pub type EpochSeconds = i64;

/// The current time. Kept in one place so handlers take `now` as an argument and tests pin it.
pub fn now() -> EpochSeconds {
    DateTime::from(std::time::SystemTime::now()).secs()
}

/// Parses an RFC 3339 timestamp such as `2026-11-26T04:00:00.123Z` or
/// `2026-11-26T05:00:00.123456+01:00` (the SDK's parser takes only `Z`; offsets are applied here).
pub fn parse_rfc3339(s: &str) -> Option<EpochSeconds> {
    if let Ok(t) = DateTime::from_str(s, Format::DateTime) {
        return Some(t.secs());
    }
    let split = s.len().checked_sub(6)?;
    let (local, offset) = (s.get(..split)?, s.get(split..)?);
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, minutes) = offset.get(1..)?.split_once(':')?;
    let offset_secs = hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60;
    let utc = DateTime::from_str(&format!("{local}Z"), Format::DateTime).ok()?;
    Some(utc.secs() - sign * offset_secs)
}

/// Formats epoch seconds as RFC 3339 (`2026-11-26T04:00:00Z`).
pub fn to_rfc3339(secs: EpochSeconds) -> String {
    // Formatting an in-range second count cannot fail; fall back to the number to stay total.
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339() {
        let t = parse_rfc3339("2026-11-26T04:00:00.123Z").unwrap();
        assert_eq!(t, 1_795_665_600);
        assert_eq!(to_rfc3339(t), "2026-11-26T04:00:00Z");
        assert_eq!(parse_rfc3339("2026-11-26T04:00:00.123456+00:00"), Some(t));
        assert_eq!(parse_rfc3339("2026-11-26T05:30:00+01:30"), Some(t));
        assert_eq!(parse_rfc3339("2026-11-26T02:00:00-02:00"), Some(t));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2026-11-26T04:00:00+0x:00"), None);
    }
}
