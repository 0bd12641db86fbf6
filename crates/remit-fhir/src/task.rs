//! Delegated tasks as FHIR `Task`.
//!
//! remit's statuses are FHIR's, except `awaiting-countersignature`, which is `in-progress` with that
//! `businessStatus`. The activity is `code` (system `urn:remit:activity`); the supervision, supervisor and
//! examination region are `input`s; the due time is `restriction.period.end`.

use fhir_model::r4b::resources::Task;
use remit_domain::nhs::NhsNumber;
use remit_domain::task::TaskStatus;
use remit_domain::task::TaskView;
use serde_json::{Value, json};

use crate::{ACTIVITY_SYSTEM, Issue, Json, NHS_NUMBER_SYSTEM, TASK_STATE_SYSTEM, parse_strict};

fn practitioner(username: &str) -> Value {
    json!({"reference": format!("Practitioner/{username}")})
}

/// The FHIR status and, where FHIR has none for it, the business status.
pub fn fhir_status(s: TaskStatus) -> (&'static str, Option<&'static str>) {
    match s {
        TaskStatus::AwaitingCountersignature => ("in-progress", Some("awaiting-countersignature")),
        other => (other.as_str(), None),
    }
}

/// A task as FHIR JSON.
pub fn to_fhir(t: &TaskView, title: Option<&str>) -> Value {
    let (status, business) = fhir_status(t.status);
    let mut coding = json!({"system": ACTIVITY_SYSTEM, "code": t.activity});
    if let Some(title) = title {
        coding["display"] = json!(title);
    }
    let mut v = json!({
        "resourceType": "Task",
        "id": t.id.to_string(),
        "meta": {"lastUpdated": t.updated_at},
        "status": status,
        "intent": "order",
        "code": {"coding": [coding]},
        "for": {"reference": format!("Patient/{}", t.patient), "identifier": {"system": NHS_NUMBER_SYSTEM, "value": t.patient.as_str()}},
        "authoredOn": t.created_at,
        "lastModified": t.updated_at,
        "requester": practitioner(&t.delegator),
        "owner": practitioner(&t.delegatee),
    });
    if let Some(b) = business {
        v["businessStatus"] =
            json!({"coding": [{"system": TASK_STATE_SYSTEM, "code": b}], "text": "Awaiting countersignature"});
    }
    if let Some(due) = &t.due_at {
        v["restriction"] = json!({"period": {"end": due}});
    }
    if !t.notes.is_empty() {
        v["note"] = json!([{"text": t.notes}]);
    }
    if let Some(reason) = &t.last_note
        && matches!(
            t.status,
            TaskStatus::Rejected | TaskStatus::Failed | TaskStatus::Cancelled | TaskStatus::InProgress
        )
    {
        v["statusReason"] = json!({"text": reason});
    }
    let mut input = vec![json!({"type": {"text": "supervision"}, "valueCode": t.supervision.as_str()})];
    if let Some(s) = &t.supervisor {
        input.push(json!({"type": {"text": "supervisor"}, "valueReference": practitioner(s)}));
    }
    if let Some(r) = &t.exam_region {
        input.push(json!({"type": {"text": "exam-region"}, "valueCode": r}));
    }
    v["input"] = Value::Array(input);
    v
}

/// What a client asks for when it creates a Task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRequest {
    pub owner: String,
    pub requester: Option<String>,
    pub patient: NhsNumber,
    pub activity: String,
    pub supervision: String,
    pub supervisor: Option<String>,
    pub exam: Option<String>,
    pub due: Option<String>,
    pub notes: String,
}

/// The username in `Practitioner/{username}`.
pub fn practitioner_ref(v: &Json<'_>, path: &str) -> Result<String, Issue> {
    v.get("reference")
        .and_then(Json::as_str)
        .and_then(|r| r.strip_prefix("Practitioner/"))
        .map(str::to_owned)
        .ok_or_else(|| {
            Issue::new(
                "value",
                format!("`{path}` must reference a Practitioner, as Practitioner/USERNAME"),
            )
            .at(path.to_owned())
        })
}

/// A patient reference: `Patient/{nhs}` or an NHS number identifier.
pub fn patient_ref(v: &Json<'_>, path: &str) -> Result<NhsNumber, Issue> {
    let bad = |m: String| Issue::new("value", m).at(path.to_owned());
    if let Some(r) = v.get("reference").and_then(Json::as_str) {
        let nhs = r
            .strip_prefix("Patient/")
            .ok_or_else(|| bad(format!("`{path}.reference` must be Patient/NHS_NUMBER")))?;
        return NhsNumber::parse(nhs).map_err(|e| bad(e.to_string()));
    }
    match (
        v.pointer("/identifier/system").and_then(Json::as_str),
        v.pointer("/identifier/value").and_then(Json::as_str),
    ) {
        (Some(NHS_NUMBER_SYSTEM), Some(n)) => NhsNumber::parse(n).map_err(|e| bad(e.to_string())),
        _ => Err(bad(format!(
            "`{path}` must reference the patient by Patient/NHS_NUMBER or an NHS number identifier"
        ))),
    }
}

/// Reads a Task a client wants created. It must be `requested`, an `order`, with a remit activity, a patient and an
/// owner; nothing remit does not know is accepted.
pub fn from_fhir(v: &Json<'_>) -> Result<TaskRequest, Issue> {
    let _: Task = parse_strict(v, "Task")?;
    for forbidden in [
        "id",
        "meta",
        "businessStatus",
        "statusReason",
        "lastModified",
        "authoredOn",
        "output",
    ] {
        if v.get(forbidden).is_some() {
            return Err(Issue::new(
                "invalid",
                format!("`Task.{forbidden}` is set by remit, not by the client"),
            )
            .at(format!("Task.{forbidden}")));
        }
    }
    if v.get("status").and_then(Json::as_str) != Some("requested") {
        return Err(Issue::new("value", "a new Task's status must be `requested`").at("Task.status"));
    }
    if v.get("intent").and_then(Json::as_str) != Some("order") {
        return Err(Issue::new("value", "a delegated Task's intent must be `order`").at("Task.intent"));
    }
    let coding = v
        .pointer("/code/coding/0")
        .ok_or_else(|| Issue::new("required", "`Task.code` names the activity").at("Task.code"))?;
    if coding.get("system").and_then(Json::as_str) != Some(ACTIVITY_SYSTEM) {
        return Err(Issue::new(
            "value",
            format!("`Task.code.coding[0].system` must be `{ACTIVITY_SYSTEM}`"),
        )
        .at("Task.code.coding[0].system"));
    }
    let activity = coding.get("code").and_then(Json::as_str).unwrap_or_default().to_owned();
    let patient = patient_ref(
        v.get("for")
            .ok_or_else(|| Issue::new("required", "`Task.for` names the patient").at("Task.for"))?,
        "Task.for",
    )?;
    let owner = practitioner_ref(
        v.get("owner")
            .ok_or_else(|| Issue::new("required", "`Task.owner` names who is to do the work").at("Task.owner"))?,
        "Task.owner",
    )?;
    let requester = v
        .get("requester")
        .map(|r| practitioner_ref(r, "Task.requester"))
        .transpose()?;
    let mut supervision = "none".to_owned();
    let mut supervisor = None;
    let mut exam = None;
    for (i, input) in v
        .get("input")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("Task.input[{i}]");
        match input.pointer("/type/text").and_then(Json::as_str) {
            Some("supervision") => {
                supervision = input
                    .get("valueCode")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned()
            }
            Some("supervisor") => {
                supervisor = Some(practitioner_ref(
                    input.get("valueReference").unwrap_or(&Json::Null),
                    &format!("{path}.valueReference"),
                )?)
            }
            Some("exam-region") => exam = input.get("valueCode").and_then(Json::as_str).map(str::to_owned),
            _ => {
                return Err(Issue::new(
                    "value",
                    "each input's `type.text` is `supervision`, `supervisor` or `exam-region`",
                )
                .at(format!("{path}.type")));
            }
        }
    }
    let due = v
        .pointer("/restriction/period/end")
        .and_then(Json::as_str)
        .map(str::to_owned);
    let notes: Vec<&str> = v
        .get("note")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.get("text").and_then(Json::as_str))
        .collect();
    Ok(TaskRequest {
        owner,
        requester,
        patient,
        activity,
        supervision,
        supervisor,
        exam,
        due,
        notes: notes.join("\n"),
    })
}

/// Checks that remit's own Task JSON is a valid FHIR Task (tests use it on every shape remit writes).
pub fn conforms(v: &Value) -> Result<(), Issue> {
    parse_strict::<Task>(&Json::from_value(v), "Task").map(drop)
}

/// The move a JSON Patch of a Task asks for: the `/status` it replaces, and the `/statusReason` text if it gives one
/// (a decline, failure, return or cancellation). Any other operation is refused, naming it.
pub fn status_patch(patch: &Json<'_>) -> Result<(String, Option<String>), Issue> {
    let ops = patch
        .as_array()
        .ok_or_else(|| Issue::new("structure", "a JSON Patch is an array of operations"))?;
    let mut status = None;
    let mut reason = None;
    for (i, op) in ops.iter().enumerate() {
        let kind = op.get("op").and_then(Json::as_str);
        let path = op.get("path").and_then(Json::as_str);
        let value = op.get("value");
        match (kind, path, value) {
            (Some("replace" | "add"), Some("/status"), Some(Json::String(s))) => status = Some(s.to_string()),
            (Some("replace" | "add"), Some("/statusReason"), Some(v)) => {
                reason = v.get("text").and_then(Json::as_str).map(str::to_owned);
            }
            (Some("replace" | "add"), Some("/statusReason/text"), Some(Json::String(s))) => {
                reason = Some(s.to_string())
            }
            _ => {
                return Err(Issue::new(
                    "not-supported",
                    format!("operation {i}: only replacing `/status` and `/statusReason` is supported"),
                ));
            }
        }
    }
    let status = status.ok_or_else(|| Issue::new("required", "the patch must replace `/status`"))?;
    Ok((status, reason))
}

/// The `reason` a Parameters body of a Task operation (`$decline`, …) gives, if any.
pub fn operation_reason(parameters: &Json<'_>) -> Result<Option<String>, Issue> {
    if parameters.get("resourceType").and_then(Json::as_str) != Some("Parameters") {
        return Err(Issue::new("invalid", "the body must be a Parameters resource"));
    }
    Ok(parameters
        .get("parameter")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .find(|x| x.get("name").and_then(Json::as_str) == Some("reason"))
        .and_then(|x| x.get("valueString").and_then(Json::as_str))
        .map(str::to_owned))
}
