//! Retrying throttled calls inside a function, with capped exponential backoff and full jitter.
//!
//! Throttling means the service refused the request before doing anything, so trying again is
//! safe even for CopyBackupToRegion, which is not idempotent (its 5xx answers are never retried:
//! see [`crate::copy_guard`]). A burst of copy steps meeting CloudHSM's rate limit is spread
//! here in seconds, instead of failing to the state machine's retries, which wait minutes.

use std::future::Future;
use std::time::Duration;

use crate::error::{AwsError, AwsErrorKind};

/// Attempts in all (the first plus retries).
pub const MAX_ATTEMPTS: u32 = 8;
const BASE: Duration = Duration::from_millis(250);
const CAP: Duration = Duration::from_secs(16);

/// Calls `call` until it succeeds, fails otherwise than by throttling, or [`MAX_ATTEMPTS`] are
/// spent; between attempts it sleeps a random time up to 0.25 s, 0.5 s, 1 s ... 16 s (at most
/// about 48 s in all, well inside the function's timeout).
pub async fn retry_throttled<T, F, Fut>(mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.kind == AwsErrorKind::Throttled && attempt < MAX_ATTEMPTS => {
                tokio::time::sleep(jittered(ceiling(attempt))).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// The longest sleep after attempt `n` (1-based).
fn ceiling(n: u32) -> Duration {
    BASE.saturating_mul(1 << (n - 1).min(16)).min(CAP)
}

/// A time in `[0, ceiling]`; the randomness only spreads callers apart, so the clock's
/// nanoseconds are enough.
fn jittered(ceiling: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let spread = u64::from(nanos.wrapping_mul(2_654_435_761)) % 1_000_001;
    ceiling.mul_f64(spread as f64 / 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn error(kind: AwsErrorKind) -> AwsError {
        AwsError::new("CopyBackupToRegion", "us-east-1", kind, None, "m")
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_and_nothing_else_is() {
        let calls = AtomicU32::new(0);
        let result = retry_throttled(|| async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n < 3 {
                Err(error(AwsErrorKind::Throttled))
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!((result.unwrap(), calls.load(Ordering::SeqCst)), (3, 4));

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry_throttled(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(error(AwsErrorKind::Transient))
        })
        .await;
        assert_eq!(
            (result.unwrap_err().kind, calls.load(Ordering::SeqCst)),
            (AwsErrorKind::Transient, 1)
        );

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry_throttled(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(error(AwsErrorKind::Throttled))
        })
        .await;
        assert_eq!(
            (result.unwrap_err().kind, calls.load(Ordering::SeqCst)),
            (AwsErrorKind::Throttled, MAX_ATTEMPTS)
        );
    }

    #[test]
    fn sleeps_grow_to_a_cap_and_stay_inside_it() {
        let ceilings: Vec<u128> = (1..=9).map(|n| ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, vec![250, 500, 1000, 2000, 4000, 8000, 16_000, 16_000, 16_000]);
        for _ in 0..100 {
            assert!(jittered(Duration::from_secs(2)) <= Duration::from_secs(2));
        }
        let total: u128 = (1..MAX_ATTEMPTS).map(|n| ceiling(n).as_millis()).sum();
        assert!(total < 60_000, "{total} ms");
    }
}
