//! Epoch-second timestamps and their RFC 3339 form (what Step Functions' context object uses).

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// Seconds since the Unix epoch.
pub type EpochSeconds = i64;

/// The current time. Kept in one place so handlers take `now` as an argument and tests pin it.
pub fn now() -> EpochSeconds {
    DateTime::from(std::time::SystemTime::now()).secs()
}

/// Parses an RFC 3339 timestamp such as `2026-11-26T04:00:00.123Z`.
pub fn parse_rfc3339(s: &str) -> Option<EpochSeconds> {
    DateTime::from_str(s, Format::DateTime).ok().map(|t| t.secs())
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
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
