//! What start-copy accepts: the pruning schedule's constant input, or an EventBridge envelope.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

use super::{EventError, Home, ParsedEvent, QUOTED_CHARS, Trigger, parse_event};
use crate::error::excerpt;

/// The pruning schedule's input. It is not an EventBridge envelope: the template's `Prune`
/// schedule sends this constant instead of the scheduled event.
pub const PRUNE_ACTION: &str = "prune";
pub const PRUNE_ORIGIN: &str = "Prune Schedule";

/// What start-copy accepts: the pruning schedule's constant, or an EventBridge envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum StartCopyRequest {
    /// `{"action": "prune"}`: the daily deep sweep, which may prune.
    Prune,
    /// An envelope, whose detail is read only once its account and region are known to be ours.
    Event(Box<EventBridgeEvent<Value>>),
}

impl StartCopyRequest {
    /// Routes a payload: one with an `action` is the pruning request or nothing; anything else
    /// must be an envelope.
    pub fn read(payload: Value) -> Result<Self, EventError> {
        if payload.get("action").is_some() {
            return parse_prune_request(&payload).map(|()| Self::Prune);
        }
        serde_json::from_value(payload)
            .map(|envelope| Self::Event(Box::new(envelope)))
            .map_err(|e| EventError::NotAnEvent(excerpt(&e.to_string(), QUOTED_CHARS)))
    }

    /// What the request asks for.
    pub fn parse(&self, home: &Home<'_>) -> Result<ParsedEvent, EventError> {
        match self {
            Self::Prune => Ok(ParsedEvent {
                trigger: Trigger::Sweep { deep: true },
                origin: PRUNE_ORIGIN.to_owned(),
                event_id: None,
            }),
            Self::Event(envelope) => parse_event(envelope, home),
        }
    }
}

/// The pruning schedule's input is exactly `{"action": "prune"}`.
fn parse_prune_request(payload: &Value) -> Result<(), EventError> {
    let exact = payload
        .as_object()
        .is_some_and(|o| o.len() == 1 && o.get("action").and_then(Value::as_str) == Some(PRUNE_ACTION));
    if exact {
        Ok(())
    } else {
        Err(EventError::NotAPruneRequest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOME: Home<'static> = Home {
        account: "123456789012",
        region: "us-east-1",
    };

    #[test]
    fn the_pruning_schedule_input_is_a_pruning_sweep_and_nothing_else_is() {
        let parsed = StartCopyRequest::read(json!({"action": "prune"}))
            .and_then(|r| r.parse(&HOME))
            .unwrap();
        assert_eq!(parsed.trigger, Trigger::Sweep { deep: true });
        assert_eq!(parsed.origin, PRUNE_ORIGIN);
        for bad in [
            json!({"action": "prune", "dryRun": false}),
            json!({"action": "PRUNE"}),
            json!({"action": ["prune"]}),
            json!(["prune"]),
        ] {
            assert_eq!(parse_prune_request(&bad), Err(EventError::NotAPruneRequest), "{bad}");
        }
        assert_eq!(
            StartCopyRequest::read(json!({"action": "prune", "x": 1})),
            Err(EventError::NotAPruneRequest)
        );
    }
}
