//! What the Lambda runtime hands a handler: its typed request, or why the payload is not one.
//!
//! lambda_runtime parses the payload into the handler's type before the handler runs; when that
//! fails (not JSON, nested deeper than serde_json's limit of 128, the wrong shape) it answers
//! with its own error type (`&lambda_runtime::deserializer::DeserializeError`), which no
//! Retry/Catch can match. [`Payload`] never fails to parse: it holds the request or the
//! request's own typed error, so such input reaches the handler and becomes our `InvalidInput`,
//! with a capped message and no AWS call.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::excerpt;

/// Characters of the parser's complaint kept in the error.
const REASON_CHARS: usize = 200;

/// The payload could not be read as JSON at all; the parser's complaint, cut short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the payload is not readable JSON: {0}")]
pub struct NotJson(pub String);

/// A handler's request type, read from the payload's JSON.
pub trait Request: Sized {
    type Error: From<NotJson>;
    fn from_json(value: Value) -> Result<Self, Self::Error>;
}

/// A request read the serde way; the complaint, cut short, becomes the handler's error.
pub fn from_serde<T: DeserializeOwned, E>(value: Value, error: impl FnOnce(String) -> E) -> Result<T, E> {
    serde_json::from_value(value).map_err(|e| error(excerpt(&e.to_string(), REASON_CHARS)))
}

/// The payload as the runtime hands it over: the request, or its error.
pub struct Payload<T: Request> {
    request: Result<T, T::Error>,
}

impl<T: Request> Payload<T> {
    pub fn into_request(self) -> Result<T, T::Error> {
        self.request
    }
}

impl<'de, T: Request> Deserialize<'de> for Payload<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let request = match Value::deserialize(deserializer) {
            Ok(value) => T::from_json(value),
            Err(e) => Err(NotJson(excerpt(&e.to_string(), REASON_CHARS)).into()),
        };
        Ok(Self { request })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any JSON, or why not.
    #[derive(Debug, PartialEq)]
    struct Anything(Value);

    impl Request for Anything {
        type Error = NotJson;
        fn from_json(value: Value) -> Result<Self, NotJson> {
            Ok(Self(value))
        }
    }

    /// As the runtime parses a payload: from the raw bytes, without a check for trailing data.
    fn parse(body: &[u8]) -> Result<Anything, NotJson> {
        let mut de = serde_json::Deserializer::from_slice(body);
        Payload::<Anything>::deserialize(&mut de).unwrap().into_request()
    }

    #[test]
    fn json_passes_through_and_anything_else_is_a_reason() {
        assert_eq!(parse(br#"{"a": 1}"#), Ok(Anything(serde_json::json!({"a": 1}))));
        assert!(matches!(parse(b"not json"), Err(NotJson(r)) if r.contains("expected")));
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(parse(deep.as_bytes()), Err(NotJson(r)) if r.contains("recursion")));
        let huge = format!("\"{}", "x".repeat(5_000_000));
        match parse(huge.as_bytes()) {
            Err(NotJson(r)) => assert!(r.len() < 300, "{} bytes", r.len()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_serde_complaint_is_cut_short() {
        let long = Value::String("y".repeat(10_000));
        let err = from_serde::<u32, String>(long, |r| r).unwrap_err();
        assert!(err.len() < 300 && err.contains("invalid type"), "{err}");
    }
}
