//! [`EventPublisher`] over `aws-sdk-eventbridge`: this stack's announcements on its bus.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::classify;
use crate::error::{AwsError, AwsErrorKind};
use crate::ports::{Announcement, EventPublisher};

/// The source of every event this stack puts (the rules and the IAM condition match it).
pub const EVENT_SOURCE: &str = "cloudhsm-backup-copy";
/// PutEvents takes at most 10 entries.
pub const ENTRIES_PER_CALL: usize = 10;

#[derive(Debug, Clone)]
pub struct EventBridge {
    client: Client,
    bus: String,
    region: String,
}

impl EventBridge {
    pub fn new(client: Client, bus: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
            region: region.into(),
        }
    }
}

impl EventPublisher for EventBridge {
    async fn put_events(&self, announcements: &[Announcement]) -> Result<(), AwsError> {
        const OPERATION: &str = "PutEvents";
        for chunk in announcements.chunks(ENTRIES_PER_CALL) {
            let entries = chunk
                .iter()
                .map(|a| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(EVENT_SOURCE)
                        .detail_type(a.detail_type)
                        .detail(&a.detail)
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| classify(OPERATION, &self.region, &e))?;
            // PutEvents answers 200 with per-entry failures: each one is an event not sent.
            if out.failed_entry_count() > 0 {
                let first = out.entries().iter().find(|e| e.error_code().is_some());
                let code = first.and_then(|e| e.error_code()).map(str::to_owned);
                let kind = match code.as_deref() {
                    Some("ThrottlingException") => AwsErrorKind::Throttled,
                    Some("InternalFailure") => AwsErrorKind::Transient,
                    _ => AwsErrorKind::Other,
                };
                let message = format!(
                    "{} of {} events not put: {}",
                    out.failed_entry_count(),
                    chunk.len(),
                    first.and_then(|e| e.error_message()).unwrap_or("no reason given")
                );
                return Err(AwsError::new(OPERATION, &self.region, kind, code, message));
            }
        }
        Ok(())
    }
}
