//! The RAM adapter against aws-smithy-mocks: the stack's shares found by name and tag (oldest
//! first), made without external principals and with a client token, associations read with
//! their status, and RAM's errors classified like the other adapters'.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use aws_sdk_ram::Client;
use aws_sdk_ram::config::retry::RetryConfig;
use aws_sdk_ram::error::ErrorMetadata;
use aws_sdk_ram::operation::associate_resource_share::{AssociateResourceShareError, AssociateResourceShareOutput};
use aws_sdk_ram::operation::create_resource_share::CreateResourceShareOutput;
use aws_sdk_ram::operation::get_resource_share_associations::GetResourceShareAssociationsOutput;
use aws_sdk_ram::operation::get_resource_shares::GetResourceSharesOutput;
use aws_sdk_ram::primitives::DateTime;
use aws_sdk_ram::types::{
    ResourceOwner, ResourceShare, ResourceShareAssociation, ResourceShareAssociationStatus,
    ResourceShareAssociationType, ResourceShareStatus,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use cloudhsm_backup_copy::aws::ram::Ram;
use cloudhsm_backup_copy::error::AwsErrorKind;
use cloudhsm_backup_copy::ports::{AssociationKind, ShareApi};
use cloudhsm_backup_copy::sharing::AssociationStatus;

const REGION: &str = "us-west-2";
const COPY: &str = "arn:aws:cloudhsm:us-west-2:123456789012:backup/backup-lzcmpu5nwui";

fn ram(client: Client) -> Ram {
    Ram::from_clients(HashMap::from([(REGION.to_owned(), client)]))
}

fn share(arn: &str, created: i64) -> ResourceShare {
    ResourceShare::builder()
        .resource_share_arn(arn)
        .creation_time(DateTime::from_secs(created))
        .build()
}

#[tokio::test]
async fn the_stacks_shares_are_found_by_name_and_tag_oldest_first() {
    let rule = mock!(Client::get_resource_shares)
        .match_requests(|r| {
            r.resource_owner() == Some(&ResourceOwner::SelfValue)
                && r.name() == Some("dr-dr-copies")
                && r.resource_share_status() == Some(&ResourceShareStatus::Active)
                && r.tag_filters().len() == 1
                && r.tag_filters()[0].tag_key() == Some("cloudhsm-backup-copy:share")
                && r.tag_filters()[0].tag_values() == ["dr"]
        })
        .then_output(|| {
            GetResourceSharesOutput::builder()
                .resource_shares(share("arn:new", 200))
                .resource_shares(share("arn:old", 100))
                .build()
        });
    let client = mock_client!(aws_sdk_ram, RuleMode::Sequential, [&rule]);
    let found = ram(client)
        .find_shares(REGION, "dr-dr-copies", ("cloudhsm-backup-copy:share", "dr"))
        .await
        .unwrap();
    assert_eq!(found, vec!["arn:old", "arn:new"]);
}

#[tokio::test]
async fn a_share_is_made_for_the_organization_only_with_a_client_token() {
    let rule = mock!(Client::create_resource_share)
        .match_requests(|r| {
            r.allow_external_principals() == Some(false)
                && r.client_token() == Some("dr-us-west-2-498796")
                && r.principals() == ["210987654321"]
                && r.resource_arns().is_empty()
                && r.tags().len() == 1
                && r.tags()[0].key() == Some("cloudhsm-backup-copy:share")
        })
        .then_output(|| {
            CreateResourceShareOutput::builder()
                .resource_share(share("arn:aws:ram:us-west-2:123456789012:resource-share/s1", 1))
                .build()
        });
    let client = mock_client!(aws_sdk_ram, RuleMode::Sequential, [&rule]);
    let arn = ram(client)
        .create_share(
            REGION,
            "dr-dr-copies",
            ("cloudhsm-backup-copy:share", "dr"),
            &["210987654321".to_owned()],
            "dr-us-west-2-498796",
        )
        .await
        .unwrap();
    assert_eq!(arn, "arn:aws:ram:us-west-2:123456789012:resource-share/s1");
}

#[tokio::test]
async fn a_resources_association_is_read_with_its_status_and_message() {
    let rule = mock!(Client::get_resource_share_associations)
        .match_requests(|r| {
            r.association_type() == Some(&ResourceShareAssociationType::Resource)
                && r.resource_arn() == Some(COPY)
                && r.resource_share_arns() == ["arn:share"]
        })
        .then_output(|| {
            GetResourceShareAssociationsOutput::builder()
                .resource_share_associations(
                    ResourceShareAssociation::builder()
                        .associated_entity(COPY)
                        .status(ResourceShareAssociationStatus::Failed)
                        .status_message("not READY")
                        .build(),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_ram, RuleMode::Sequential, [&rule]);
    let found = ram(client)
        .associations(REGION, "arn:share", AssociationKind::Resource(COPY))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].entity.as_str(), found[0].status, found[0].message.as_deref()),
        (COPY, AssociationStatus::Failed, Some("not READY"))
    );
}

#[tokio::test]
async fn rams_errors_are_classified() {
    let ok = mock!(Client::associate_resource_share)
        .match_requests(|r| r.resource_arns() == [COPY] && r.principals().is_empty())
        .then_output(|| AssociateResourceShareOutput::builder().build());
    let client = mock_client!(aws_sdk_ram, RuleMode::Sequential, [&ok]);
    ram(client)
        .change(REGION, "arn:share", true, &[COPY.to_owned()], &[])
        .await
        .unwrap();
    for (code, kind) in [
        ("ThrottlingException", AwsErrorKind::Throttled),
        ("ServerInternalException", AwsErrorKind::Transient),
        ("ServiceUnavailableException", AwsErrorKind::Transient),
        ("UnknownResourceException", AwsErrorKind::NotFound),
        ("OperationNotPermittedException", AwsErrorKind::InvalidRequest),
        ("AccessDeniedException", AwsErrorKind::AccessDenied),
    ] {
        let rule = mock!(Client::associate_resource_share).then_error(move || {
            AssociateResourceShareError::generic(ErrorMetadata::builder().code(code).message("from the mock").build())
        });
        let client = mock_client!(aws_sdk_ram, RuleMode::Sequential, [&rule], |c| c
            .retry_config(RetryConfig::disabled()));
        let err = ram(client)
            .change(REGION, "arn:share", true, &[COPY.to_owned()], &[])
            .await
            .unwrap_err();
        assert_eq!((err.kind, err.operation), (kind, "AssociateResourceShare"), "{code}");
    }
}
