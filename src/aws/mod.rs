//! Adapters from the ports to the AWS SDK for Rust, and the mapping of SDK errors to [`AwsError`].

pub mod cloudhsm;
pub mod eventbridge;
pub mod ram;
pub mod recovery;
pub mod sfn;
pub mod ssm;

use aws_sdk_cloudhsmv2::config::http::HttpResponse;
use aws_sdk_cloudhsmv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::error::{AwsError, AwsErrorKind};

/// Error codes that mean "slow down": CloudHSM models none, so they arrive as generic codes.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "PriorRequestNotComplete",
    // SSM: another update of the same parameter is in progress.
    "TooManyUpdates",
];
const TRANSIENT_CODES: &[&str] = &[
    "CloudHsmInternalFailureException",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    // RAM
    "ServerInternalException",
];
const ACCESS_DENIED_CODES: &[&str] = &["CloudHsmAccessDeniedException", "AccessDeniedException", "AccessDenied"];
const NOT_FOUND_CODES: &[&str] = &[
    "CloudHsmResourceNotFoundException",
    "ResourceNotFoundException",
    "ExecutionDoesNotExist",
    "StateMachineDoesNotExist",
    // RAM
    "UnknownResourceException",
];
const INVALID_REQUEST_CODES: &[&str] = &[
    "CloudHsmInvalidRequestException",
    "InvalidRequestException",
    "ValidationException",
    "InvalidName",
    "InvalidArn",
    "InvalidExecutionInput",
    // RAM
    "InvalidParameterException",
    "MalformedArnException",
    "OperationNotPermittedException",
    "IdempotentParameterMismatchException",
];

/// Classifies a failed SDK call: transport failures and 5xx/throttling are retryable, the
/// service's client errors are not.
pub(crate) fn classify<E>(operation: &'static str, region: &str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().map(str::to_owned);
    let status = err.raw_response().map(|r| r.status().as_u16());
    let kind = match err {
        // Missing or unusable credentials fail before anything is sent, the same way every time.
        SdkError::DispatchFailure(_) if is_credentials_error(err) => AwsErrorKind::AccessDenied,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            AwsErrorKind::Transient
        }
        SdkError::ServiceError(_) => kind_from_code(code.as_deref(), status),
        _ => AwsErrorKind::Other,
    };
    let message = err
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| DisplayErrorContext(err).to_string());
    AwsError::new(operation, region, kind, code, message)
}

/// Whether the error comes from resolving credentials (the SDK reports it as a dispatch failure).
fn is_credentials_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        source = e.source();
    }
    false
}

fn kind_from_code(code: Option<&str>, status: Option<u16>) -> AwsErrorKind {
    let is = |codes: &[&str]| code.is_some_and(|c| codes.contains(&c));
    if is(THROTTLING_CODES) || status == Some(429) {
        AwsErrorKind::Throttled
    } else if is(TRANSIENT_CODES) || status.is_some_and(|s| s >= 500) {
        AwsErrorKind::Transient
    } else if is(ACCESS_DENIED_CODES) {
        AwsErrorKind::AccessDenied
    } else if is(NOT_FOUND_CODES) {
        AwsErrorKind::NotFound
    } else if is(INVALID_REQUEST_CODES) {
        AwsErrorKind::InvalidRequest
    } else {
        AwsErrorKind::Other
    }
}

/// Timeouts and retries shared by every SDK client. They nest inside the Lambda timeouts, which
/// nest inside the state machine's task timeouts:
///
/// - one attempt <= 5 s (connect <= 3 s); one operation (up to 3 attempts with backoff) <= 20 s;
/// - check-copy makes one listing (normally one page): <= 20 s per page, Lambda timeout 60 s,
///   task timeout 90 s;
/// - the copy step makes at most 3 operations (<= 60 s); start-copy's Lambda timeout is 300 s
///   (it also runs sweeps, a page at a time), task timeout 330 s;
/// - a task failing `Retryable` is retried after 5, 10, 20, 40, 80 and 120 s (full jitter), so
///   a throttled region gets about five minutes before the copy is announced as failed.
pub mod limits {
    use std::time::Duration;

    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
    pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
    pub const MAX_ATTEMPTS: u32 = 3;
}

/// The retries every client shares: standard mode (backoff with jitter, a retry quota).
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(limits::MAX_ATTEMPTS)
}

/// The timeouts every client shares.
pub fn timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(limits::CONNECT_TIMEOUT)
        .operation_attempt_timeout(limits::ATTEMPT_TIMEOUT)
        .operation_timeout(limits::OPERATION_TIMEOUT)
        .build()
}

/// The shared SDK configuration (credentials, region and endpoint from the environment) with
/// the timeouts and retries above.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeout_config())
        .retry_config(retry_config())
        .load()
        .await
}

/// The shared configuration acting as `role_arn`: an AssumeRole session, made on first use
/// and refreshed by the SDK before it expires.
pub async fn assume_role(
    shared: &aws_config::SdkConfig,
    role_arn: String,
    session_name: &str,
) -> aws_config::SdkConfig {
    let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name(session_name)
        .configure(shared)
        .build()
        .await;
    shared
        .to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_cloudhsmv2::error::ConnectorError;
    use aws_sdk_cloudhsmv2::operation::describe_backups::DescribeBackupsError;

    fn dispatch(e: ConnectorError) -> AwsError {
        let err: SdkError<DescribeBackupsError, HttpResponse> = SdkError::dispatch_failure(e);
        classify("DescribeBackups", "us-east-1", &err)
    }

    #[test]
    fn missing_credentials_are_not_retried_but_connection_failures_are() {
        // How the SDK reports a credentials provider that found nothing.
        let no_credentials = ConnectorError::other(
            Box::new(CredentialsError::not_loaded("no credentials in the environment")),
            None,
        );
        assert_eq!(dispatch(no_credentials).kind, AwsErrorKind::AccessDenied);
        let refused = ConnectorError::io(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
        assert_eq!(dispatch(refused).kind, AwsErrorKind::Transient);
        let other = ConnectorError::other(Box::new(std::io::Error::other("reset")), None);
        assert_eq!(dispatch(other).kind, AwsErrorKind::Transient);
    }
}
