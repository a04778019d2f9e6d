//! [`ExecutionApi`] over `aws-sdk-sfn`, for the one tracking state machine.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus as SdkStatus;

use super::classify;
use crate::error::AwsError;
use crate::ports::{ExecutionApi, ExecutionStatus, StartOutcome};

#[derive(Debug, Clone)]
pub struct StepFunctions {
    client: Client,
    state_machine_arn: String,
    region: String,
}

impl StepFunctions {
    pub fn new(client: Client, state_machine_arn: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
            region: region.into(),
        }
    }

    /// The state machine of this name in the client's region, if there is one (ListStateMachines:
    /// a reader that knows the stack's name but not the account needs no ARN).
    pub async fn find(client: &Client, region: &str, name: &str) -> Result<Option<String>, AwsError> {
        const OPERATION: &str = "ListStateMachines";
        let mut pages = client.list_state_machines().max_results(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(OPERATION, region, &e))?;
            if let Some(found) = page.state_machines().iter().find(|m| m.name() == name) {
                return Ok(Some(found.state_machine_arn().to_owned()));
            }
        }
        Ok(None)
    }

    /// `arn:...:stateMachine:M` -> `arn:...:execution:M:NAME`.
    pub fn execution_arn(&self, name: &str) -> String {
        format!(
            "{}:{name}",
            self.state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
        )
    }
}

impl ExecutionApi for StepFunctions {
    async fn start_execution(&self, name: &str, input: &str) -> Result<StartOutcome, AwsError> {
        const OPERATION: &str = "StartExecution";
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match result {
            Ok(out) => Ok(StartOutcome::Started {
                execution_arn: out.execution_arn().to_owned(),
            }),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_already_exists()) => {
                Ok(StartOutcome::AlreadyExists)
            }
            Err(e) => Err(classify(OPERATION, &self.region, &e)),
        }
    }

    async fn execution_status(&self, name: &str) -> Result<Option<ExecutionStatus>, AwsError> {
        const OPERATION: &str = "DescribeExecution";
        let result = self
            .client
            .describe_execution()
            .execution_arn(self.execution_arn(name))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(match out.status() {
                SdkStatus::Running => ExecutionStatus::Running,
                other => ExecutionStatus::Closed {
                    status: other.as_str().to_owned(),
                    stopped_at: out.stop_date().map(|t| t.secs()),
                },
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => Ok(None),
            Err(e) => Err(classify(OPERATION, &self.region, &e)),
        }
    }

    async fn running_executions(&self) -> Result<Vec<String>, AwsError> {
        const OPERATION: &str = "ListExecutions";
        let mut pages = self
            .client
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .status_filter(SdkStatus::Running)
            // ListExecutions' page limit (botocore's PageSize, 0..1000).
            .max_results(1000)
            .into_paginator()
            .send();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(OPERATION, &self.region, &e))?;
            names.extend(page.executions().iter().map(|e| e.name().to_owned()));
        }
        Ok(names)
    }
}
