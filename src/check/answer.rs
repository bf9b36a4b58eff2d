//! Reading a provider's answer: the JSON object it must be, and the resource id in it.
//! Shared by provision and plan change.

use serde_json::{Map, Value};

use super::check_of;
use super::report::Recorder;
use crate::http::Exchange;
use crate::registry::CheckDef;
use crate::verdict::Verdict;

/// The answer as a JSON object, recording `check` (the step's "valid JSON").
pub fn answer_object(
    rec: &mut Recorder,
    check: &'static CheckDef,
    exchange: &Exchange,
) -> Option<Map<String, Value>> {
    let (verdict, object) = match exchange.json() {
        Ok(Value::Object(o)) => (Verdict::Pass, Some(o)),
        Ok(other) => (
            Verdict::Fail(format!(
                "the body must be a JSON object, found {}",
                crate::manifest::json_type(&other)
            )),
            None,
        ),
        Err(why) => (Verdict::Fail(why), None),
    };
    rec.record(check_of(
        check,
        exchange.method,
        &exchange.url,
        std::time::Duration::ZERO,
        verdict,
    ));
    object
}

/// The provider's id for the resource: a non-blank string, or a number as its text.
pub fn id_of(answer: &Map<String, Value>) -> Option<String> {
    match answer.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// [`id_of`] for an answer that may not be an object.
pub fn id_of_value(value: &Value) -> Option<String> {
    value.as_object().and_then(id_of)
}

/// The id in an answer's body, if the body is a JSON object carrying one.
pub fn answer_id(exchange: &Exchange) -> Option<String> {
    exchange.json().ok().as_ref().and_then(id_of_value)
}
