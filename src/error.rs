//! Errors shared by the handlers, and how they reach the Lambda runtime and the state machine.
//!
//! The state machine's `Retry`/`Catch` match `Diagnostic.error_type`, so the names of
//! [`ErrorType`] are a stable interface. Each handler's error says which it is
//! ([`Classified`]); [`diagnostic`] is the one way any of them reaches the runtime.

use lambda_runtime::Diagnostic;

/// The `error_type` a failure carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// A later attempt may not hit it (throttling, 5xx, timeouts).
    Retryable,
    /// It will repeat (access denied, invalid request, missing resource).
    NonRetryable,
    /// The payload itself is wrong, or asks for something outside the deployment; no AWS call
    /// was made.
    InvalidInput,
    /// What the step asked for is under way (an asynchronous RAM association): the same
    /// request, a little later, finds it done.
    Pending,
}

impl ErrorType {
    /// The name Retry/Catch `ErrorEquals` match.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Retryable => "Retryable",
            Self::NonRetryable => "NonRetryable",
            Self::InvalidInput => "InvalidInput",
            Self::Pending => "Pending",
        }
    }
}

/// A handler error that knows its [`ErrorType`].
pub trait Classified: std::fmt::Display {
    fn error_type(&self) -> ErrorType;
}

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
    pub fn new(
        operation: &'static str,
        region: impl Into<String>,
        kind: AwsErrorKind,
        code: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            operation,
            region: region.into(),
            kind,
            code,
            message: message.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

impl Classified for AwsError {
    fn error_type(&self) -> ErrorType {
        if self.is_retryable() {
            ErrorType::Retryable
        } else {
            ErrorType::NonRetryable
        }
    }
}

/// Error messages reach logs, the state machine's history and failure events; a hostile payload
/// must not be able to fill them, so messages are cut to this many characters.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// The [`Diagnostic`] of a handler error: its stable name and its capped message.
pub fn diagnostic(error: &impl Classified) -> Diagnostic {
    Diagnostic {
        error_type: error.error_type().name().to_owned(),
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
        let long = AwsError::new(
            "DescribeBackups",
            "us-east-1",
            AwsErrorKind::Throttled,
            None,
            "x".repeat(100_000),
        );
        let d = diagnostic(&long);
        assert!(d.error_message.len() < MAX_MESSAGE_CHARS + 40);
        assert_eq!(d.error_type, "Retryable");
        let denied = AwsError::new("DeleteBackup", "us-west-2", AwsErrorKind::AccessDenied, None, "no");
        assert_eq!(diagnostic(&denied).error_type, "NonRetryable");
        assert_eq!(ErrorType::InvalidInput.name(), "InvalidInput");
    }
}
