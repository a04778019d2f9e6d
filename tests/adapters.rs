//! The SDK adapters against aws-smithy-mocks: request building, pagination, chunking and the
//! mapping of service errors to retryable / non-retryable kinds.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use aws_sdk_cloudhsmv2::Client as HsmClient;
use aws_sdk_cloudhsmv2::config::retry::RetryConfig;
use aws_sdk_cloudhsmv2::error::ErrorMetadata;
use aws_sdk_cloudhsmv2::operation::copy_backup_to_region::{CopyBackupToRegionError, CopyBackupToRegionOutput};
use aws_sdk_cloudhsmv2::operation::describe_backups::{DescribeBackupsError, DescribeBackupsOutput};
use aws_sdk_cloudhsmv2::primitives::DateTime;
use aws_sdk_cloudhsmv2::types::{Backup as SdkBackup, BackupState as SdkState};
use aws_sdk_sfn::Client as SfnClient;
use aws_sdk_sfn::operation::describe_execution::{DescribeExecutionError, DescribeExecutionOutput};
use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
use aws_sdk_sfn::types::ExecutionStatus as SfnStatus;
use aws_sdk_sfn::types::error::{ExecutionAlreadyExists, ExecutionDoesNotExist};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use cloudhsm_backup_copy::aws::cloudhsm::CloudHsm;
use cloudhsm_backup_copy::aws::sfn::StepFunctions;
use cloudhsm_backup_copy::backup::BackupState;
use cloudhsm_backup_copy::error::AwsErrorKind;
use cloudhsm_backup_copy::ports::{BackupApi, BackupQuery, ExecutionApi, ExecutionStatus, StartOutcome};

const ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:tracker";

fn sdk_backup(id: &str, state: SdkState, source: Option<&str>) -> SdkBackup {
    SdkBackup::builder()
        .backup_id(id)
        .backup_state(state)
        .cluster_id("cluster-kzlczlspnho")
        .create_timestamp(DateTime::from_secs(1_795_665_600))
        .set_source_backup(source.map(str::to_owned))
        .build()
        .unwrap()
}

/// A READY original taken at `secs`.
fn aged(id: &str, secs: i64) -> SdkBackup {
    SdkBackup::builder()
        .backup_id(id)
        .backup_state(SdkState::Ready)
        .create_timestamp(DateTime::from_secs(secs))
        .build()
        .unwrap()
}

fn hsm(region: &str, client: HsmClient) -> CloudHsm {
    CloudHsm::from_clients(HashMap::from([(region.to_owned(), client)]))
}

fn service_error(code: &str) -> DescribeBackupsError {
    DescribeBackupsError::generic(ErrorMetadata::builder().code(code).message("from the mock").build())
}

#[tokio::test]
async fn describe_backups_follows_every_page_with_aws_page_size() {
    let first = mock!(HsmClient::describe_backups)
        .match_requests(|r| r.next_token().is_none() && r.max_results() == Some(50))
        .then_output(|| {
            DescribeBackupsOutput::builder()
                .backups(sdk_backup("backup-aaaaaaaaaaa", SdkState::Ready, None))
                .next_token("page-2")
                .build()
        });
    let second = mock!(HsmClient::describe_backups)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeBackupsOutput::builder()
                .backups(sdk_backup(
                    "backup-bbbbbbbbbbb",
                    SdkState::CreateInProgress,
                    Some("backup-ccccccccccc"),
                ))
                .build()
        });
    let client = mock_client!(aws_sdk_cloudhsmv2, RuleMode::Sequential, [&first, &second]);

    let backups = hsm("us-east-1", client)
        .describe_backups("us-east-1", BackupQuery::AllReady { since: None })
        .await
        .unwrap();

    assert_eq!(backups.len(), 2);
    assert_eq!(backups[0].id, "backup-aaaaaaaaaaa");
    assert_eq!(backups[0].created_at, Some(1_795_665_600));
    assert_eq!(backups[1].state, BackupState::CreateInProgress);
    assert_eq!(backups[1].source_backup.as_deref(), Some("backup-ccccccccccc"));
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn queries_become_the_right_filters() {
    let ready_in_cluster = mock!(HsmClient::describe_backups)
        .match_requests(|r| {
            let f = r.filters().unwrap();
            f.get("clusterIds") == Some(&vec!["cluster-kzlczlspnho".to_owned()])
                && f.get("states") == Some(&vec!["READY".to_owned()])
                && f.len() == 2
        })
        .then_output(|| DescribeBackupsOutput::builder().build());
    let by_id = mock!(HsmClient::describe_backups)
        .match_requests(|r| r.filters().unwrap().get("backupIds") == Some(&vec!["backup-aaaaaaaaaaa".to_owned()]))
        .then_output(|| DescribeBackupsOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudhsmv2, RuleMode::Sequential, [&ready_in_cluster, &by_id]);
    let hsm = hsm("us-east-1", client);

    hsm.describe_backups(
        "us-east-1",
        BackupQuery::ReadyInCluster {
            cluster: "cluster-kzlczlspnho",
            since: None,
        },
    )
    .await
    .unwrap();
    hsm.describe_backups("us-east-1", BackupQuery::Ids(&["backup-aaaaaaaaaaa".to_owned()]))
        .await
        .unwrap();

    assert_eq!((ready_in_cluster.num_calls(), by_id.num_calls()), (1, 1));
}

#[tokio::test]
async fn copies_of_many_sources_are_looked_up_in_chunks_of_fifty() {
    // The adapter does not validate ids (the domain does), so any strings serve here.
    let ids: Vec<String> = (0..120).map(|i| format!("backup-{i}")).collect();
    let rule = mock!(HsmClient::describe_backups)
        .match_requests(|r| {
            r.filters()
                .unwrap()
                .get("sourceBackupIds")
                .is_some_and(|v| v.len() <= 50)
        })
        .then_output(|| DescribeBackupsOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudhsmv2, RuleMode::MatchAny, [&rule]);

    hsm("us-west-2", client)
        .describe_backups("us-west-2", BackupQuery::CopiesOf(&ids))
        .await
        .unwrap();

    assert_eq!(rule.num_calls(), 3); // 50 + 50 + 20
}

#[tokio::test]
async fn service_errors_are_classified_for_retrying() {
    let cases = [
        ("ThrottlingException", AwsErrorKind::Throttled, true),
        ("CloudHsmInternalFailureException", AwsErrorKind::Transient, true),
        ("CloudHsmAccessDeniedException", AwsErrorKind::AccessDenied, false),
        ("CloudHsmResourceNotFoundException", AwsErrorKind::NotFound, false),
        ("CloudHsmInvalidRequestException", AwsErrorKind::InvalidRequest, false),
        ("CloudHsmServiceException", AwsErrorKind::Other, false),
    ];
    for (code, kind, retryable) in cases {
        let rule = mock!(HsmClient::describe_backups).then_error(move || service_error(code));
        let client = mock_client!(aws_sdk_cloudhsmv2, RuleMode::Sequential, [&rule], |c| c
            .retry_config(RetryConfig::disabled()));
        let err = hsm("us-east-1", client)
            .describe_backups("us-east-1", BackupQuery::AllReady { since: None })
            .await
            .unwrap_err();
        assert_eq!((err.kind, err.is_retryable()), (kind, retryable), "{code}");
        assert_eq!(err.code.as_deref(), Some(code));
        assert_eq!((err.operation, err.region.as_str()), ("DescribeBackups", "us-east-1"));
    }
}

#[tokio::test]
async fn server_errors_are_transient() {
    let rule = mock!(HsmClient::describe_backups)
        .sequence()
        .http_status(503, None)
        .build();
    let client = mock_client!(aws_sdk_cloudhsmv2, RuleMode::Sequential, [&rule], |c| c
        .retry_config(RetryConfig::disabled()));
    let err = hsm("us-east-1", client)
        .describe_backups("us-east-1", BackupQuery::AllReady { since: None })
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn copy_backup_to_region_sends_backup_and_destination_to_the_source_region() {
    let rule = mock!(HsmClient::copy_backup_to_region)
        .match_requests(|r| {
            r.backup_id() == Some("backup-aaaaaaaaaaa") && r.destination_region() == Some("us-west-2") && {
                let t = r.tag_list();
                t.len() == 1 && t[0].key() == "team" && t[0].value() == "payments"
            }
        })
        .then_output(|| CopyBackupToRegionOutput::builder().build());
    let denied = mock!(HsmClient::copy_backup_to_region).then_error(|| {
        CopyBackupToRegionError::generic(ErrorMetadata::builder().code("CloudHsmAccessDeniedException").build())
    });
    let client = mock_client!(aws_sdk_cloudhsmv2, RuleMode::Sequential, [&rule, &denied], |c| c
        .retry_config(RetryConfig::disabled()));
    let hsm = hsm("us-east-1", client);
    let tags = [("team".to_owned(), "payments".to_owned())];

    hsm.copy_backup_to_region("us-east-1", "backup-aaaaaaaaaaa", "us-west-2", &tags)
        .await
        .unwrap();
    let err = hsm
        .copy_backup_to_region("us-east-1", "backup-aaaaaaaaaaa", "us-west-2", &[])
        .await
        .unwrap_err();

    assert_eq!(rule.num_calls(), 1);
    assert_eq!(err.kind, AwsErrorKind::AccessDenied);
    assert_eq!(err.operation, "CopyBackupToRegion");
}

#[tokio::test(start_paused = true)]
async fn a_copy_request_is_never_retried_by_the_sdk_but_listings_are() {
    // A 503 may come after the copy was made: a second call could make a second copy.
    let copy = mock!(HsmClient::copy_backup_to_region)
        .sequence()
        .http_status(503, None)
        .output(|| CopyBackupToRegionOutput::builder().build())
        .build();
    // The retry configuration every production client gets (`aws::retry_config`); the clock is
    // paused, so backoff sleeps take no time.
    let standard = |c: aws_sdk_cloudhsmv2::config::Builder| c.retry_config(cloudhsm_backup_copy::aws::retry_config());
    let copier = hsm(
        "us-east-1",
        mock_client!(aws_sdk_cloudhsmv2, RuleMode::Sequential, [&copy], standard),
    );
    let err = copier
        .copy_backup_to_region("us-east-1", "backup-aaaaaaaaaaa", "us-west-2", &[])
        .await
        .unwrap_err();
    assert_eq!((copy.num_calls(), err.kind), (1, AwsErrorKind::Transient));

    // The same shared configuration retries a read: 503, 503, then the answer.
    let list = mock!(HsmClient::describe_backups)
        .sequence()
        .http_status(503, None)
        .times(2)
        .output(|| DescribeBackupsOutput::builder().build())
        .build();
    let lister = hsm(
        "us-east-1",
        mock_client!(aws_sdk_cloudhsmv2, RuleMode::Sequential, [&list], standard),
    );
    lister
        .describe_backups("us-east-1", BackupQuery::AllReady { since: None })
        .await
        .unwrap();
    assert_eq!(list.num_calls(), 3);
}

#[tokio::test]
async fn describe_clusters_pages_within_the_api_limit() {
    use aws_sdk_cloudhsmv2::operation::describe_clusters::DescribeClustersOutput;
    let page = mock!(HsmClient::describe_clusters)
        .match_requests(|r| r.max_results() == Some(25))
        .then_output(|| DescribeClustersOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudhsmv2, RuleMode::Sequential, [&page]);
    hsm("us-east-1", client)
        .describe_clusters("us-east-1", None)
        .await
        .unwrap();
    assert_eq!(page.num_calls(), 1);
}

#[tokio::test]
async fn a_region_without_a_client_is_an_error_not_a_panic() {
    let err = CloudHsm::from_clients(HashMap::new())
        .describe_backups("eu-west-1", BackupQuery::AllReady { since: None })
        .await
        .unwrap_err();
    assert_eq!(err.region, "eu-west-1");
}

#[tokio::test]
async fn start_execution_reports_started_or_already_exists() {
    let started = mock!(SfnClient::start_execution)
        .match_requests(|r| r.state_machine_arn() == Some(ARN) && r.name() == Some("n") && r.input() == Some("{}"))
        .then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn("arn:aws:states:us-east-1:123456789012:execution:tracker:n")
                .start_date(DateTime::from_secs(0))
                .build()
                .unwrap()
        });
    let exists = mock!(SfnClient::start_execution)
        .then_error(|| StartExecutionError::ExecutionAlreadyExists(ExecutionAlreadyExists::builder().build()));
    let throttled = mock!(SfnClient::start_execution).then_error(|| {
        StartExecutionError::generic(
            aws_sdk_sfn::error::ErrorMetadata::builder()
                .code("ThrottlingException")
                .build(),
        )
    });
    let client = mock_client!(
        aws_sdk_sfn,
        RuleMode::Sequential,
        [&started, &exists, &throttled],
        |c| c.retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled())
    );
    let sfn = StepFunctions::new(client, ARN, "us-east-1");

    assert_eq!(
        sfn.start_execution("n", "{}").await.unwrap(),
        StartOutcome::Started {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:tracker:n".into()
        }
    );
    assert_eq!(
        sfn.start_execution("n", "{}").await.unwrap(),
        StartOutcome::AlreadyExists
    );
    let err = sfn.start_execution("n", "{}").await.unwrap_err();
    assert!(err.is_retryable() && err.operation == "StartExecution");
}

#[tokio::test]
async fn execution_status_reads_the_deterministic_execution_arn() {
    let running = mock!(SfnClient::describe_execution)
        .match_requests(|r| r.execution_arn() == Some("arn:aws:states:us-east-1:123456789012:execution:tracker:job-1"))
        .then_output(|| describe_output(SfnStatus::Running));
    let failed = mock!(SfnClient::describe_execution).then_output(|| {
        let mut out = describe_output(SfnStatus::Failed);
        out.stop_date = Some(DateTime::from_secs(90));
        out
    });
    let missing = mock!(SfnClient::describe_execution)
        .then_error(|| DescribeExecutionError::ExecutionDoesNotExist(ExecutionDoesNotExist::builder().build()));
    let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&running, &failed, &missing]);
    let sfn = StepFunctions::new(client, ARN, "us-east-1");

    assert_eq!(
        sfn.execution_status("job-1").await.unwrap(),
        Some(ExecutionStatus::Running)
    );
    assert_eq!(
        sfn.execution_status("job-1").await.unwrap(),
        Some(ExecutionStatus::Closed {
            status: "FAILED".into(),
            stopped_at: Some(90)
        })
    );
    assert_eq!(sfn.execution_status("job-1").await.unwrap(), None);
}

fn describe_output(status: SfnStatus) -> DescribeExecutionOutput {
    DescribeExecutionOutput::builder()
        .execution_arn("arn")
        .state_machine_arn(ARN)
        .status(status)
        .start_date(DateTime::from_secs(0))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_listing_since_a_time_reads_newest_first_and_stops_past_it() {
    let first = mock!(HsmClient::describe_backups)
        .match_requests(|r| r.sort_ascending() == Some(false) && r.next_token().is_none())
        .then_output(move || {
            DescribeBackupsOutput::builder()
                .backups(aged("backup-newnewnewne", 1_000))
                .backups(aged("backup-oldoldoldol", 400))
                .next_token("more")
                .build()
        });
    let second = mock!(HsmClient::describe_backups).then_output(|| DescribeBackupsOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudhsmv2, RuleMode::Sequential, [&first, &second]);

    let backups = hsm("us-east-1", client)
        .describe_backups("us-east-1", BackupQuery::AllReady { since: Some(500) })
        .await
        .unwrap();

    // The first page already reaches before `since`: no second page is read.
    assert_eq!(backups.len(), 2);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 0));
}

#[tokio::test]
async fn a_listing_in_another_order_than_newest_first_is_read_to_the_end() {
    // Oldest first (SortAscending ignored): the first page is all older than `since`, yet the
    // window's backups come later.
    let first = mock!(HsmClient::describe_backups)
        .match_requests(|r| r.next_token().is_none())
        .then_output(move || {
            DescribeBackupsOutput::builder()
                .backups(aged("backup-oldoldoldol", 100))
                .backups(aged("backup-olderolder", 200))
                .next_token("more")
                .build()
        });
    let second = mock!(HsmClient::describe_backups)
        .match_requests(|r| r.next_token() == Some("more"))
        .then_output(move || {
            DescribeBackupsOutput::builder()
                .backups(aged("backup-newnewnewne", 1_000))
                .build()
        });
    let client = mock_client!(aws_sdk_cloudhsmv2, RuleMode::Sequential, [&first, &second]);

    let backups = hsm("us-east-1", client)
        .describe_backups("us-east-1", BackupQuery::AllReady { since: Some(500) })
        .await
        .unwrap();

    assert_eq!(backups.len(), 3);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn running_executions_reads_every_page_of_running_ones() {
    use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
    use aws_sdk_sfn::types::ExecutionListItem;
    let item = |name: &str| {
        ExecutionListItem::builder()
            .execution_arn(format!("arn:x:{name}"))
            .state_machine_arn(ARN)
            .name(name)
            .status(SfnStatus::Running)
            .start_date(DateTime::from_secs(0))
            .build()
            .unwrap()
    };
    let first = mock!(SfnClient::list_executions)
        .match_requests(|r| {
            r.status_filter() == Some(&SfnStatus::Running) && r.max_results() == Some(1000) && r.next_token().is_none()
        })
        .then_output(move || {
            ListExecutionsOutput::builder()
                .executions(item("backup-aaaaaaaaaaa-to-us-west-2-0"))
                .next_token("more")
                .build()
                .unwrap()
        });
    let second = mock!(SfnClient::list_executions)
        .match_requests(|r| r.next_token() == Some("more"))
        .then_output(move || {
            ListExecutionsOutput::builder()
                .executions(item("backup-bbbbbbbbbbb-to-eu-west-1-2"))
                .build()
                .unwrap()
        });
    let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&first, &second]);
    let names = StepFunctions::new(client, ARN, "us-east-1")
        .running_executions()
        .await
        .unwrap();
    assert_eq!(
        names,
        vec!["backup-aaaaaaaaaaa-to-us-west-2-0", "backup-bbbbbbbbbbb-to-eu-west-1-2"]
    );
}

#[tokio::test]
async fn clusters_and_backups_carry_what_a_restore_needs() {
    use aws_sdk_cloudhsmv2::operation::describe_clusters::DescribeClustersOutput;
    use aws_sdk_cloudhsmv2::types::{Certificates, Cluster as SdkCluster, ClusterMode};
    let clusters = mock!(HsmClient::describe_clusters).then_output(|| {
        DescribeClustersOutput::builder()
            .clusters(
                SdkCluster::builder()
                    .cluster_id("cluster-kzlczlspnho")
                    .hsm_type("hsm2m.medium")
                    .mode(ClusterMode::NonFips)
                    .certificates(
                        Certificates::builder()
                            .cluster_certificate("-----BEGIN CERTIFICATE-----")
                            .cluster_csr("")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let backups = mock!(HsmClient::describe_backups).then_output(|| {
        let backup = SdkBackup::builder()
            .backup_id("backup-4kuraxsqetz")
            .hsm_type("hsm2m.medium")
            .mode(ClusterMode::Fips)
            .build()
            .unwrap();
        DescribeBackupsOutput::builder().backups(backup).build()
    });
    let client = mock_client!(aws_sdk_cloudhsmv2, RuleMode::MatchAny, [&clusters, &backups]);
    let hsm = hsm("us-east-1", client);
    let found = hsm.describe_clusters("us-east-1", None).await.unwrap();
    assert_eq!(found[0].mode.as_deref(), Some("NON_FIPS"));
    assert_eq!(found[0].hsm_type.as_deref(), Some("hsm2m.medium"));
    // The empty CSR is left out, as a cluster that has none.
    assert_eq!(
        found[0].certificates.keys().collect::<Vec<_>>(),
        vec!["ClusterCertificate"]
    );
    let listed = hsm
        .describe_backups("us-east-1", BackupQuery::AllReady { since: None })
        .await
        .unwrap();
    assert_eq!(
        (listed[0].hsm_type.as_deref(), listed[0].mode.as_deref()),
        (Some("hsm2m.medium"), Some("FIPS"))
    );
}

#[tokio::test]
async fn a_restore_asks_for_the_backups_type_and_mode_in_its_subnets_with_the_drill_tags() {
    use aws_sdk_cloudhsmv2::operation::create_cluster::CreateClusterOutput;
    use aws_sdk_cloudhsmv2::operation::delete_cluster::DeleteClusterOutput;
    use aws_sdk_cloudhsmv2::types::{Cluster as SdkCluster, ClusterMode};
    use cloudhsm_backup_copy::ports::{ClusterApi, Restore};
    let create = mock!(HsmClient::create_cluster)
        .match_requests(|r| {
            r.source_backup_id() == Some("backup-4kuraxsqetz")
                && r.hsm_type() == Some("hsm2m.medium")
                && r.mode() == Some(&ClusterMode::NonFips)
                && r.subnet_ids() == ["subnet-0a1b2c3d"]
                && r.tag_list().len() == 1
                && r.tag_list()[0].key() == "cloudhsm-backup-copy:drill"
        })
        .then_output(|| {
            CreateClusterOutput::builder()
                .cluster(SdkCluster::builder().cluster_id("cluster-drilldrill1").build())
                .build()
        });
    let delete = mock!(HsmClient::delete_cluster)
        .match_requests(|r| r.cluster_id() == Some("cluster-drilldrill1"))
        .then_output(|| DeleteClusterOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudhsmv2, RuleMode::MatchAny, [&create, &delete]);
    let hsm = hsm("us-west-2", client);
    let subnets = vec!["subnet-0a1b2c3d".to_owned()];
    let tags = vec![("cloudhsm-backup-copy:drill".to_owned(), "dr".to_owned())];
    let restore = Restore {
        backup_id: "backup-4kuraxsqetz",
        hsm_type: "hsm2m.medium",
        mode: "NON_FIPS",
        subnet_ids: &subnets,
        tags: &tags,
    };
    assert_eq!(
        hsm.create_cluster("us-west-2", &restore).await.unwrap(),
        "cluster-drilldrill1"
    );
    hsm.delete_cluster("us-west-2", "cluster-drilldrill1").await.unwrap();
    assert_eq!((create.num_calls(), delete.num_calls()), (1, 1));
}
