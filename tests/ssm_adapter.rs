//! The Parameter Store adapter against aws-smithy-mocks: names batched as GetParameters allows,
//! kits written as overwritable String parameters, errors classified like the other adapters'.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::config::retry::RetryConfig;
use aws_sdk_ssm::error::ErrorMetadata;
use aws_sdk_ssm::operation::get_parameters::{GetParametersError, GetParametersOutput};
use aws_sdk_ssm::operation::put_parameter::PutParameterOutput;
use aws_sdk_ssm::types::{Parameter, ParameterTier, ParameterType};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use cloudhsm_backup_copy::aws::ssm::Ssm;
use cloudhsm_backup_copy::error::AwsErrorKind;
use cloudhsm_backup_copy::ports::ParameterStore;

fn ssm(region: &str, client: Client) -> Ssm {
    Ssm::from_clients(HashMap::from([(region.to_owned(), client)]))
}

#[tokio::test]
async fn names_are_read_ten_at_a_time_and_missing_ones_left_out() {
    let names: Vec<String> = (0..23).map(|i| format!("/p/us-east-1/cluster-{i}")).collect();
    let rule = mock!(Client::get_parameters)
        .match_requests(|r| r.names().len() <= 10)
        .then_output(|| {
            GetParametersOutput::builder()
                .parameters(
                    Parameter::builder()
                        .name("/p/us-east-1/cluster-3")
                        .value("{\"v\":1}")
                        .build(),
                )
                .invalid_parameters("/p/us-east-1/cluster-4")
                .build()
        });
    let client = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&rule]);
    let found = ssm("us-west-2", client)
        .get_parameters("us-west-2", &names)
        .await
        .unwrap();
    assert_eq!(rule.num_calls(), 3); // 10 + 10 + 3
    assert_eq!(
        found,
        HashMap::from([("/p/us-east-1/cluster-3".to_owned(), "{\"v\":1}".to_owned())])
    );
}

#[tokio::test]
async fn a_kit_is_an_overwritable_string_that_costs_nothing_while_it_fits() {
    let rule = mock!(Client::put_parameter)
        .match_requests(|r| {
            r.name() == Some("/p/us-east-1/cluster-a")
                && r.value() == Some("{}")
                && r.r#type() == Some(&ParameterType::String)
                && r.overwrite() == Some(true)
                && r.tier() == Some(&ParameterTier::IntelligentTiering)
                && r.tags().is_empty()
        })
        .then_output(|| PutParameterOutput::builder().version(2).build());
    let client = mock_client!(aws_sdk_ssm, RuleMode::Sequential, [&rule]);
    ssm("us-west-2", client)
        .put_parameter("us-west-2", "/p/us-east-1/cluster-a", "{}")
        .await
        .unwrap();
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn errors_are_classified_and_a_region_without_a_client_is_an_error() {
    for (code, kind) in [
        ("ThrottlingException", AwsErrorKind::Throttled),
        ("TooManyUpdates", AwsErrorKind::Throttled),
        ("AccessDeniedException", AwsErrorKind::AccessDenied),
        ("InternalServerError", AwsErrorKind::Transient),
    ] {
        let rule = mock!(Client::get_parameters).then_error(move || {
            GetParametersError::generic(ErrorMetadata::builder().code(code).message("from the mock").build())
        });
        let client = mock_client!(aws_sdk_ssm, RuleMode::Sequential, [&rule], |c| c
            .retry_config(RetryConfig::disabled()));
        let err = ssm("us-west-2", client)
            .get_parameters("us-west-2", &["/p/x".to_owned()])
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind, err.operation, err.region.as_str()),
            (kind, "GetParameters", "us-west-2"),
            "{code}"
        );
    }
    let none = Ssm::from_clients(HashMap::new());
    let err = none.put_parameter("eu-west-1", "/p/x", "{}").await.unwrap_err();
    assert_eq!((err.kind, err.operation), (AwsErrorKind::Other, "PutParameter"));
}
