//! What the Lambda runtime hands a handler: the payload as JSON, or why it is not JSON at all.
//!
//! lambda_runtime parses the payload into the handler's type before the handler runs; when that
//! fails (not JSON, nested deeper than serde_json's limit of 128) it answers with its own error
//! type (`&lambda_runtime::deserializer::DeserializeError`), which no Retry/Catch can match.
//! [`Payload`] never fails to parse, so such input reaches the handler and becomes our own
//! `InvalidInput`, with a capped message and no AWS call.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::excerpt;

/// Characters of the parser's complaint kept in the error.
const REASON_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Json(Value),
    /// The parser's complaint, cut short.
    Unreadable(String),
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer) {
            Ok(value) => Self::Json(value),
            Err(e) => Self::Unreadable(excerpt(&e.to_string(), REASON_CHARS)),
        })
    }
}

impl Payload {
    /// The JSON value, or the parser's complaint as `Err`.
    pub fn into_json(self) -> Result<Value, String> {
        match self {
            Self::Json(value) => Ok(value),
            Self::Unreadable(reason) => Err(format!("the payload is not readable JSON: {reason}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the runtime parses a payload: from the raw bytes, without a check for trailing data.
    fn parse(body: &[u8]) -> Payload {
        let mut de = serde_json::Deserializer::from_slice(body);
        Payload::deserialize(&mut de).unwrap()
    }

    #[test]
    fn json_passes_through_and_anything_else_is_a_reason() {
        assert_eq!(parse(br#"{"a": 1}"#), Payload::Json(serde_json::json!({"a": 1})));
        assert!(matches!(parse(b"not json"), Payload::Unreadable(r) if r.contains("expected")));
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(parse(deep.as_bytes()), Payload::Unreadable(r) if r.contains("recursion")));
        let huge = format!("\"{}", "x".repeat(5_000_000));
        match parse(huge.as_bytes()) {
            Payload::Unreadable(r) => assert!(r.len() < 300, "{} bytes", r.len()),
            other => panic!("{other:?}"),
        }
    }
}
