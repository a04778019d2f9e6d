//! The poll loop's settings: how long to wait between checks, how many copy attempts, the
//! deadline. The state machine definition passes them to every check (template parameters).

use serde::{Deserialize, Deserializer, Serialize};

use crate::tracking::TrackingError;

/// The poll loop's settings, given by the state machine definition (template parameters).
/// Numbers may arrive as strings, because DefinitionSubstitutions substitutes text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PollPolicy {
    #[serde(deserialize_with = "number_or_string")]
    pub initial_wait_seconds: u32,
    #[serde(deserialize_with = "number_or_string")]
    pub max_wait_seconds: u32,
    /// Growth of the wait between checks, in percent (150 = x1.5).
    #[serde(deserialize_with = "number_or_string")]
    pub backoff_percent: u32,
    #[serde(deserialize_with = "number_or_string")]
    pub deadline_seconds: u32,
    #[serde(deserialize_with = "number_or_string")]
    pub max_copy_attempts: u32,
    /// How long a requested copy may stay invisible in the destination before it counts as lost.
    #[serde(deserialize_with = "number_or_string")]
    pub visibility_grace_seconds: u32,
}

pub(crate) fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u32),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Number(n) => Ok(n),
        Raw::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// The wait after one of `previous` seconds (0: the first wait, `initial`): `percent` of it,
/// rounded up, at most `max`. The copy tracker and the restore drills both wait so.
pub fn grown_wait(previous: u32, initial: u32, percent: u32, max: u32) -> u32 {
    if previous == 0 {
        return initial;
    }
    let grown = (u64::from(previous) * u64::from(percent)).div_ceil(100);
    u32::try_from(grown).unwrap_or(u32::MAX).min(max)
}

impl PollPolicy {
    pub fn validate(&self) -> Result<(), TrackingError> {
        let fail = |m: &str| Err(TrackingError::InvalidInput(format!("policy: {m}")));
        if self.initial_wait_seconds == 0 {
            return fail("initialWaitSeconds must be at least 1");
        }
        if self.max_wait_seconds < self.initial_wait_seconds {
            return fail("maxWaitSeconds must be at least initialWaitSeconds");
        }
        if self.backoff_percent < 100 {
            return fail("backoffPercent must be at least 100 (waits never shrink)");
        }
        if self.deadline_seconds < self.initial_wait_seconds {
            return fail("deadlineSeconds must be at least initialWaitSeconds");
        }
        if self.max_copy_attempts == 0 {
            return fail("maxCopyAttempts must be at least 1");
        }
        Ok(())
    }

    /// The wait after a check that found the copy still on its way.
    pub fn next_wait(&self, previous: u32) -> u32 {
        grown_wait(
            previous,
            self.initial_wait_seconds,
            self.backoff_percent,
            self.max_wait_seconds,
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn policy() -> PollPolicy {
        PollPolicy {
            initial_wait_seconds: 120,
            max_wait_seconds: 600,
            backoff_percent: 150,
            deadline_seconds: 86_400,
            max_copy_attempts: 3,
            visibility_grace_seconds: 300,
        }
    }

    #[test]
    fn waits_grow_by_the_backoff_rate_up_to_the_cap() {
        let p = policy();
        let mut wait = 0;
        let mut seen = Vec::new();
        for _ in 0..7 {
            wait = p.next_wait(wait);
            seen.push(wait);
        }
        assert_eq!(seen, vec![120, 180, 270, 405, 600, 600, 600]);
    }

    #[test]
    fn policy_numbers_may_arrive_as_text_and_are_validated() {
        let p: PollPolicy = serde_json::from_value(serde_json::json!({
            "initialWaitSeconds": "120", "maxWaitSeconds": 600, "backoffPercent": "150",
            "deadlineSeconds": "86400", "maxCopyAttempts": "3", "visibilityGraceSeconds": "300"
        }))
        .unwrap();
        assert_eq!(p, policy());
        let bad_text = serde_json::from_value::<PollPolicy>(serde_json::json!({
            "initialWaitSeconds": "soon", "maxWaitSeconds": 600, "backoffPercent": 150,
            "deadlineSeconds": 1, "maxCopyAttempts": 3, "visibilityGraceSeconds": 3
        }));
        assert!(bad_text.is_err());
        for bad in [
            PollPolicy {
                initial_wait_seconds: 0,
                ..policy()
            },
            PollPolicy {
                max_wait_seconds: 60,
                ..policy()
            },
            PollPolicy {
                backoff_percent: 90,
                ..policy()
            },
            PollPolicy {
                deadline_seconds: 10,
                ..policy()
            },
            PollPolicy {
                max_copy_attempts: 0,
                ..policy()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
