//! FHIR R4 at the edge: remit's own values to and from FHIR JSON, checked against the `fhir-model` R4B types (which
//! are R4-compatible for the resources remit uses).
//!
//! **Invariant:** this is the only crate that knows FHIR structures; the rest of remit sees domain types. It is its
//! own crate so that the large FHIR model compiles once and is not rebuilt with the rest.
#![forbid(unsafe_code)]

pub mod capability;
pub mod clinical;
mod covers;
pub mod encounter;
pub mod flag;
mod json;
pub mod obs;
pub mod practitioner;
pub mod search;
pub mod task;

pub use json::Json;
use serde_json::{Value, json};

/// The NHS number identifier system.
pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// remit's code system for activities of the policy pack.
pub const ACTIVITY_SYSTEM: &str = "urn:remit:activity";
/// remit's code system for task states FHIR has no status for.
pub const TASK_STATE_SYSTEM: &str = "urn:remit:task-state";

/// A problem with a FHIR request, as an OperationOutcome issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// FHIR issue type: `invalid`, `structure`, `required`, `value`, `forbidden`, `not-found`, `conflict`, …
    pub code: &'static str,
    pub diagnostics: String,
    /// The element it is about, as a FHIRPath-like path (`Task.status`).
    pub expression: Option<String>,
}

impl Issue {
    pub fn new(code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self {
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression = Some(expression.into());
        self
    }
}

/// An OperationOutcome with one issue each.
pub fn operation_outcome(issues: &[Issue]) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": issues.iter().map(|i| {
            let mut v = json!({"severity": "error", "code": i.code, "diagnostics": i.diagnostics});
            if let Some(e) = &i.expression {
                v["expression"] = json!([e]);
            }
            v
        }).collect::<Vec<_>>()
    })
}

/// Parses a resource into the FHIR model, refusing anything the model would silently drop: every key of the input
/// must survive the round trip. Errors name the element.
pub fn parse_strict<'a, T>(input: &'a Json<'a>, resource: &str) -> Result<T, Issue>
where
    T: serde::Deserialize<'a> + serde::Serialize,
{
    parse_strict_at(input, resource, resource)
}

/// [`parse_strict`] of a resource found at `at` in a larger document (`Bundle.entry[2].resource`): errors name
/// their element from there.
pub(crate) fn parse_strict_at<'a, T>(input: &'a Json<'a>, resource: &str, at: &str) -> Result<T, Issue>
where
    T: serde::Deserialize<'a> + serde::Serialize,
{
    if input.get("resourceType").and_then(Json::as_str) != Some(resource) {
        return Err(
            Issue::new("invalid", format!("the body must be a {resource} resource")).at(format!("{at}.resourceType"))
        );
    }
    // Deserialized from the tree, its strings borrowed.
    let parsed = T::deserialize(input)
        .map_err(|e| Issue::new("structure", format!("not a valid {resource}: {e}")).at(at.to_owned()))?;
    if !covers::covers(input, &parsed) {
        // Not certainly kept: the full check, which also names what was not.
        kept_whole(input, &parsed, at)?;
    }
    Ok(parsed)
}

/// The full check: every element of `input` survives the model's round trip (`parsed` serialised back to JSON), or
/// the first that does not is named, from `at`.
fn kept_whole<T: serde::Serialize>(input: &Json<'_>, parsed: &T, at: &str) -> Result<(), Issue> {
    let back = serde_json::to_value(parsed).map_err(|e| Issue::new("exception", e.to_string()))?;
    let mut path = Vec::new();
    if let Err(what) = unknown_elements(input, &back, &mut path) {
        let here = element_path(at, &path);
        let message = match what {
            Unknown::Null => format!("`{here}` is null: leave it out instead"),
            Unknown::Element => format!("`{here}` is not an element remit knows"),
        };
        return Err(Issue::new("structure", message).at(here));
    }
    Ok(())
}

/// Why an element of the input did not survive the round trip.
enum Unknown {
    Null,
    Element,
}

/// A step into a JSON document: a key or an index.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `Resource.a.b[2].c`, built only when an error names it.
fn element_path(at: &str, path: &[Step<'_>]) -> String {
    let mut out = at.to_owned();
    for step in path {
        match step {
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Finds the first element of `input` that `kept` (the model's round trip of it) lacks; `path` is left pointing at
/// it.
fn unknown_elements<'a>(input: &'a Json<'_>, kept: &Value, path: &mut Vec<Step<'a>>) -> Result<(), Unknown> {
    match (input, kept) {
        (Json::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                path.push(Step::Key(k));
                if v.is_null() {
                    return Err(Unknown::Null);
                }
                match b.get(k.as_ref()) {
                    None => return Err(Unknown::Element),
                    Some(w) => unknown_elements(v, w, path)?,
                }
                path.pop();
            }
            Ok(())
        }
        (Json::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                path.push(Step::Index(i));
                unknown_elements(v, w, path)?;
                path.pop();
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Checks that JSON remit wrote is a valid resource of the FHIR model, whatever its type among those remit serves
/// (tests use it on every shape remit answers with).
pub fn conforms(v: &Value) -> Result<(), Issue> {
    use fhir_model::r4b::resources as r;
    let v = &Json::from_value(v);
    match v.get("resourceType").and_then(Json::as_str).unwrap_or_default() {
        "Observation" => parse_strict::<r::Observation>(v, "Observation").map(drop),
        "Bundle" => parse_strict::<r::Bundle>(v, "Bundle").map(drop),
        "Patient" => parse_strict::<r::Patient>(v, "Patient").map(drop),
        "Task" => parse_strict::<r::Task>(v, "Task").map(drop),
        "OperationOutcome" => parse_strict::<r::OperationOutcome>(v, "OperationOutcome").map(drop),
        "CapabilityStatement" => parse_strict::<r::CapabilityStatement>(v, "CapabilityStatement").map(drop),
        "ServiceRequest" => parse_strict::<r::ServiceRequest>(v, "ServiceRequest").map(drop),
        "DiagnosticReport" => parse_strict::<r::DiagnosticReport>(v, "DiagnosticReport").map(drop),
        "Condition" => parse_strict::<r::Condition>(v, "Condition").map(drop),
        "MedicationRequest" => parse_strict::<r::MedicationRequest>(v, "MedicationRequest").map(drop),
        "Encounter" => parse_strict::<r::Encounter>(v, "Encounter").map(drop),
        "Flag" => parse_strict::<r::Flag>(v, "Flag").map(drop),
        "Practitioner" => parse_strict::<r::Practitioner>(v, "Practitioner").map(drop),
        "PractitionerRole" => parse_strict::<r::PractitionerRole>(v, "PractitionerRole").map(drop),
        other => Err(Issue::new("not-supported", format!("remit does not serve {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhir_model::r4b::resources::Task;

    #[test]
    fn unknown_elements_are_named() {
        let ok = json!({"resourceType": "Task", "status": "requested", "intent": "order"});
        assert!(parse_strict::<Task>(&Json::from_value(&ok), "Task").is_ok());
        let extra = json!({"resourceType": "Task", "status": "requested", "intent": "order", "colour": "red"});
        let e = parse_strict::<Task>(&Json::from_value(&extra), "Task").unwrap_err();
        assert_eq!(e.expression.as_deref(), Some("Task.colour"));
        let nested = json!({"resourceType": "Task", "status": "requested", "intent": "order", "note": [{"text": "x", "txet": "y"}]});
        assert_eq!(
            parse_strict::<Task>(&Json::from_value(&nested), "Task")
                .unwrap_err()
                .expression
                .as_deref(),
            Some("Task.note[0].txet")
        );
        let wrong = json!({"resourceType": "Task", "status": "pending", "intent": "order"});
        assert_eq!(
            parse_strict::<Task>(&Json::from_value(&wrong), "Task")
                .unwrap_err()
                .code,
            "structure"
        );
        let not_task = json!({"resourceType": "Patient"});
        assert_eq!(
            parse_strict::<Task>(&Json::from_value(&not_task), "Task")
                .unwrap_err()
                .expression
                .as_deref(),
            Some("Task.resourceType")
        );
    }
}
