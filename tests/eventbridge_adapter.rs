//! The EventBridge adapter against aws-smithy-mocks: announcements go to the stack's bus with our
//! source, ten per call, and an entry EventBridge refuses is an error, not a silent loss.

// Test support code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use cloudhsm_backup_copy::aws::eventbridge::{EVENT_SOURCE, EventBridge};
use cloudhsm_backup_copy::error::AwsErrorKind;
use cloudhsm_backup_copy::ports::{Announcement, EventPublisher};

fn announcements(n: usize) -> Vec<Announcement> {
    (0..n)
        .map(|i| Announcement {
            detail_type: "CloudHSM DR Readiness Failed",
            detail: format!("{{\"n\":{i}}}"),
        })
        .collect()
}

#[tokio::test]
async fn announcements_go_to_the_bus_with_our_source_ten_at_a_time() {
    let rule = mock!(Client::put_events)
        .match_requests(|r| {
            r.entries().len() <= 10
                && r.entries().iter().all(|e| {
                    e.source() == Some(EVENT_SOURCE)
                        && e.event_bus_name() == Some("dr-bus")
                        && e.detail_type() == Some("CloudHSM DR Readiness Failed")
                })
        })
        .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
    let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rule]);
    EventBridge::new(client, "dr-bus", "us-east-1")
        .put_events(&announcements(12))
        .await
        .unwrap();
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn an_entry_eventbridge_refuses_is_an_error() {
    let rule = mock!(Client::put_events).then_output(|| {
        PutEventsOutput::builder()
            .failed_entry_count(1)
            .entries(PutEventsResultEntry::builder().event_id("e1").build())
            .entries(
                PutEventsResultEntry::builder()
                    .error_code("ThrottlingException")
                    .error_message("slow down")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_eventbridge, RuleMode::Sequential, [&rule]);
    let err = EventBridge::new(client, "default", "us-east-1")
        .put_events(&announcements(2))
        .await
        .unwrap_err();
    assert_eq!((err.kind, err.operation), (AwsErrorKind::Throttled, "PutEvents"));
    assert!(err.to_string().contains("1 of 2 events not put: slow down"), "{err}");
}
