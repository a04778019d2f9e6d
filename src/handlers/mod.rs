//! The Lambda functions, over the ports, each with its own role: `start_copy` (EventBridge
//! target: plans, starts executions, prunes), `copy_step` (the state machine's copy step),
//! `check_copy` (the poll loop's check), `share_copy` (sharing a READY copy with the recovery
//! accounts) and `restore_drill` (the drills' steps).
//!
//! Each is a [`Handler`]: a typed request in, a typed output or a classified error out. The
//! runtime's JSON becomes the request in [`Payload`], before any AWS call.

use std::future::Future;

use lambda_runtime::{Diagnostic, Error, LambdaEvent, run, service_fn};
use serde::Serialize;

use crate::error::{Classified, diagnostic};
use crate::payload::{Payload, Request};
use crate::time::{self, EpochSeconds};

pub mod check_copy;
pub mod copy_step;
pub mod restore_drill;
pub mod share_copy;
pub mod start_copy;

pub trait Handler: Sync {
    type Request: Request<Error = Self::Error> + Send;
    type Output: Serialize;
    type Error: Classified + std::fmt::Debug;

    /// Carries out one request, at `now`.
    fn handle(
        &self,
        request: Self::Request,
        now: EpochSeconds,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;
}

/// The Lambda entry point of every function: the request, or its error, then the handler; an
/// error becomes its [`Diagnostic`], whose `error_type` the state machine's Retry/Catch match.
pub async fn function_handler<H: Handler>(
    event: LambdaEvent<Payload<H::Request>>,
    handler: &H,
) -> Result<H::Output, Diagnostic> {
    run_one(event, handler).await.map_err(|e| diagnostic(&e))
}

async fn run_one<H: Handler>(event: LambdaEvent<Payload<H::Request>>, handler: &H) -> Result<H::Output, H::Error> {
    // Boxed: the handlers' futures nest deep enough to overflow the compiler's layout queries
    // inside the runtime's own futures.
    Box::pin(handler.handle(event.payload.into_request()?, time::now())).await
}

/// Runs a handler under the Lambda runtime until the runtime stops.
pub async fn serve<H: Handler>(handler: &H) -> Result<(), Error>
where
    H::Request: 'static,
{
    run(service_fn(|event: LambdaEvent<Payload<H::Request>>| {
        function_handler(event, handler)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Context;
    use serde_json::Value;

    use super::*;
    use crate::error::ErrorType;
    use crate::payload::NotJson;

    /// A request that must be a number; an error that says so.
    struct Number(u64);

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Refused(String);

    impl Classified for Refused {
        fn error_type(&self) -> ErrorType {
            ErrorType::InvalidInput
        }
    }

    impl From<NotJson> for Refused {
        fn from(e: NotJson) -> Self {
            Self(e.to_string())
        }
    }

    impl Request for Number {
        type Error = Refused;
        fn from_json(value: Value) -> Result<Self, Refused> {
            value
                .as_u64()
                .map(Self)
                .ok_or_else(|| Refused(format!("{value} is not a number")))
        }
    }

    struct Double;

    impl Handler for Double {
        type Request = Number;
        type Output = u64;
        type Error = Refused;
        async fn handle(&self, request: Number, _now: EpochSeconds) -> Result<u64, Refused> {
            Ok(request.0 * 2)
        }
    }

    async fn call(body: &[u8]) -> Result<u64, Diagnostic> {
        let payload = serde_json::from_slice::<Payload<Number>>(body).unwrap();
        function_handler(LambdaEvent::new(payload, Context::default()), &Double).await
    }

    #[tokio::test]
    async fn the_request_is_read_before_the_handler_and_errors_become_diagnostics() {
        assert_eq!(call(b"21").await.unwrap(), 42);
        let not_a_number = call(br#""21""#).await.unwrap_err();
        assert_eq!(not_a_number.error_type, "InvalidInput");
        assert!(not_a_number.error_message.contains("is not a number"));
        let not_json = call(b"{").await.unwrap_err();
        assert_eq!(not_json.error_type, "InvalidInput");
        assert!(not_json.error_message.starts_with("the payload is not readable JSON"));
    }
}
