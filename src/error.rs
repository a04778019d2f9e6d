//! Errors shared by the handlers, and how they reach the Lambda runtime and the state machine.
//!
//! The state machine's `Retry`/`Catch` match `Diagnostic.error_type`, so the names below are a
//! stable interface: `Retryable` (worth retrying with backoff), `NonRetryable` (will fail the same
//! way again) and `InvalidInput` (the payload itself is wrong; no AWS call was made).

use lambda_runtime::Diagnostic;

/// `error_type` for failures that a later attempt may not hit (throttling, 5xx, timeouts).
pub const RETRYABLE: &str = "Retryable";
/// `error_type` for failures that will repeat (access denied, invalid request, missing resource).
pub const NON_RETRYABLE: &str = "NonRetryable";
/// `error_type` for payloads that cannot be understood.
pub const INVALID_INPUT: &str = "InvalidInput";

/// What kind of failure an AWS call had, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    Throttled,
    /// 5xx, timeouts, connection failures.
    Transient,
    AccessDenied,
    NotFound,
    InvalidRequest,
    /// Anything else the service said; not retried.
    Other,
}

impl AwsErrorKind {
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Throttled | Self::Transient)
    }
}

/// A failed AWS call, with the context needed to act on it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} in {region} failed ({kind:?}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
pub struct AwsError {
    pub operation: &'static str,
    pub region: String,
    pub kind: AwsErrorKind,
    /// The service's error code, when it sent one.
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

/// Error messages reach logs, the state machine's history and failure events; a hostile payload
/// must not be able to fill them, so messages are cut to this many characters.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// Builds a [`Diagnostic`] with one of the stable names above.
pub fn diagnostic(error_type: &str, error: &dyn std::fmt::Display) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: excerpt(&error.to_string(), MAX_MESSAGE_CHARS),
    }
}

/// `text` cut to `max` characters, saying how long it was when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}... ({} bytes in all)", &text[..end], text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_capped() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("ééééé", 2), "éé... (10 bytes in all)");
        let d = diagnostic(RETRYABLE, &"x".repeat(100_000));
        assert!(d.error_message.len() < MAX_MESSAGE_CHARS + 40);
        assert_eq!(d.error_type, "Retryable");
    }
}
