//! The three Lambda functions, over the ports, each with its own role: `start_copy` (EventBridge
//! target: plans, starts executions, prunes), `copy_step` (the state machine's copy step) and
//! `check_copy` (the poll loop's check).
//!
//! Each is a [`Handler`]: a typed request in, a typed output or a classified error out. The
//! runtime's JSON becomes the request in [`Payload`], before any AWS call.

use std::future::Future;

use lambda_runtime::{Diagnostic, Error, LambdaEvent, run, service_fn};
use serde::Serialize;

use crate::payload::{Payload, Request};
use crate::time::{self, EpochSeconds};

pub mod check_copy;
pub mod copy_step;
pub mod start_copy;

pub trait Handler: Sync {
    type Request: Request<Error = Self::Error> + Send;
    type Output: Serialize;
    type Error: Into<Diagnostic> + std::fmt::Debug;

    /// Carries out one request, at `now`.
    fn handle(
        &self,
        request: Self::Request,
        now: EpochSeconds,
    ) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;
}

/// The Lambda entry point of every function: the request, or its error, then the handler.
pub async fn function_handler<H: Handler>(
    event: LambdaEvent<Payload<H::Request>>,
    handler: &H,
) -> Result<H::Output, H::Error> {
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
