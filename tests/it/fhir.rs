//! FHIR Task: create, read, search, and move by PATCH of status or by named operations; errors as
//! OperationOutcome, refusals as 403 with one issue per reason.

use anyhow::Result;
use axum::http::StatusCode as S;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb};
use crate::tables::{Said, Step, api};

crate::tests!(
    fhir_tasks_are_created_read_searched_and_moved,
    fhir_task_errors_are_operation_outcomes
);

fn new_task(owner: &str, patient: &str, activity: &str) -> Value {
    json!({
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": "urn:remit:activity", "code": activity}]},
        "for": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": patient}},
        "owner": {"reference": format!("Practitioner/{owner}")},
        "note": [{"text": "Before the ward round"}]
    })
}

fn conforms(v: &Value) -> Result<()> {
    remit_fhir::task::conforms(v).map_err(|e| anyhow::anyhow!("{} at {:?}", e.diagnostics, e.expression))
}

fn status(to: &str) -> Value {
    json!([{"op": "replace", "path": "/status", "value": to}])
}

/// A search's Bundle holds the task kept as `id`.
fn finds_it() -> [Said; 2] {
    [
        Said::At("/type", json!("searchset")),
        Said::Has("/entry", json!({"resource": {"id": "{id}"}})),
    ]
}

async fn fhir_tasks_are_created_read_searched_and_moved(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let mut supervised = new_task("ria.trainee", "9990012334", "imaging.expose");
    supervised["input"] = json!([
        {"type": {"text": "supervision"}, "valueCode": "direct"},
        {"type": {"text": "supervisor"}, "valueReference": {"reference": "Practitioner/tom.rad"}},
        {"type": {"text": "exam-region"}, "valueCode": "chest"}
    ]);
    let mut steps: Vec<Step> = vec![
        api("Priya asks Alex for an ECG", "priya.rn", "POST /fhir/Task", S::CREATED)
            .body(new_task("alex.ap", "9990002746", "procedure.ecg"))
            .keep("id", "/id")
            .said(Said::Header("content-type", "application/fhir+json"))
            .said(Said::Header("location", "/fhir/Task/{id}"))
            .said(Said::Meets(conforms))
            .said(Said::At("/requester/reference", json!("Practitioner/priya.rn")))
            .said(Said::At("/status", json!("requested")))
            .said(Said::At("/code/coding/0/display", json!("Record a 12-lead ECG")))
            .into(),
        api("Alex reads it", "alex.ap", "GET /fhir/Task/{id}", S::OK)
            .said(Said::At("/owner/reference", json!("Practitioner/alex.ap")))
            .into(),
    ];
    for query in [
        "GET /fhir/Task?owner=Practitioner/alex.ap&status=requested",
        "GET /fhir/Task?requester=priya.rn",
        "GET /fhir/Task?patient=9990002746",
        "GET /fhir/Task?patient=https://fhir.nhs.uk/Id/nhs-number|9990002746",
    ] {
        let [a, b] = finds_it();
        steps.push(api("a search finds it", "alex.ap", query, S::OK).said(a).said(b).into());
    }
    steps.extend([
        api(
            "the demo task and this one are Alex's to accept",
            "alex.ap",
            "GET /fhir/Task?owner=alex.ap&status=requested",
            S::OK,
        )
        .said(Said::At("/total", json!(2)))
        .into(),
        api("accepted by PATCH", "alex.ap", "PATCH /fhir/Task/{id}", S::OK)
            .body(status("accepted"))
            .said(Said::At("/status", json!("accepted")))
            .into(),
        api("started by operation", "alex.ap", "POST /fhir/Task/{id}/$start", S::OK)
            .body(json!({"resourceType": "Parameters"}))
            .said(Said::At("/status", json!("in-progress")))
            .into(),
        api(
            "completed by operation, with no body",
            "alex.ap",
            "POST /fhir/Task/{id}/$complete",
            S::OK,
        )
        .said(Said::At("/status", json!("completed")))
        .said(Said::Meets(conforms))
        .into(),
        // Direct supervision shows as in-progress with its business status, and the named supervisor countersigns.
        api(
            "Tom asks Ria for a chest X-ray under his direct supervision",
            "tom.rad",
            "POST /fhir/Task",
            S::CREATED,
        )
        .body(supervised)
        .keep("id", "/id")
        .into(),
        api("Ria accepts", "ria.trainee", "POST /fhir/Task/{id}/$accept", S::OK).into(),
        api("Ria starts", "ria.trainee", "POST /fhir/Task/{id}/$start", S::OK).into(),
        api("Ria completes", "ria.trainee", "POST /fhir/Task/{id}/$complete", S::OK).into(),
        api(
            "it waits for Tom's countersignature",
            "tom.rad",
            "GET /fhir/Task/{id}",
            S::OK,
        )
        .said(Said::At("/status", json!("in-progress")))
        .said(Said::At(
            "/businessStatus/coding/0/code",
            json!("awaiting-countersignature"),
        ))
        .said(Said::Meets(conforms))
        .into(),
        api("Tom countersigns by PATCH", "tom.rad", "PATCH /fhir/Task/{id}", S::OK)
            .body(status("completed"))
            .said(Said::At("/status", json!("completed")))
            .into(),
    ]);
    app.story(&db, steps).await
}

async fn fhir_task_errors_are_operation_outcomes(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let task = || new_task("alex.ap", "9990005486", "procedure.ecg");
    let with = |pointer: &str, value: Value| {
        let mut t = task();
        *t.pointer_mut(pointer).expect("an element of the task") = value;
        t
    };
    let mut unknown = task();
    unknown["colour"] = json!("red");
    let mut bad_patient = new_task("alex.ap", "9990005487", "procedure.ecg");
    bad_patient["for"] = json!({"reference": "Patient/9990005487"});
    let mut as_someone_else = task();
    as_someone_else["requester"] = json!({"reference": "Practitioner/maria.acp"});
    let at = |element: &'static str| Said::At("/issue/0/expression/0", json!(element));
    let told = |words: &'static str| Said::Text("/issue/0/diagnostics", words);
    app.api_cases(&[
        api(
            "a refusal: one issue per unmet requirement",
            "alex.ap",
            "POST /fhir/Task",
            S::FORBIDDEN,
        )
        .body(new_task("sam.hca", "9990005486", "procedure.ecg"))
        .said(Said::Count("/issue", 4))
        .said(Said::Every("/issue", json!({"code": "forbidden"})))
        .said(told("Delegating work needs a current professional registration")),
        api(
            "an element the model does not have",
            "priya.rn",
            "POST /fhir/Task",
            S::BAD_REQUEST,
        )
        .body(unknown)
        .said(at("Task.colour")),
        api(
            "an activity from another code system",
            "priya.rn",
            "POST /fhir/Task",
            S::BAD_REQUEST,
        )
        .body(with("/code/coding/0/system", json!("http://snomed.info/sct")))
        .said(at("Task.code.coding[0].system")),
        api(
            "a new task already completed",
            "priya.rn",
            "POST /fhir/Task",
            S::BAD_REQUEST,
        )
        .body(with("/status", json!("completed")))
        .said(at("Task.status")),
        api(
            "an NHS number with a bad check digit",
            "priya.rn",
            "POST /fhir/Task",
            S::BAD_REQUEST,
        )
        .body(bad_patient)
        .said(told("bad check digit")),
        api(
            "a task requested in someone else's name",
            "priya.rn",
            "POST /fhir/Task",
            S::FORBIDDEN,
        )
        .body(as_someone_else),
        api(
            "a body that is not FHIR",
            "priya.rn",
            "POST /fhir/Task",
            S::UNSUPPORTED_MEDIA_TYPE,
        )
        .body(task())
        .content_type("text/plain"),
        api("no such task", "priya.rn", "GET /fhir/Task/999", S::NOT_FOUND),
        api(
            "a search parameter Task does not have here",
            "priya.rn",
            "GET /fhir/Task?colour=red",
            S::BAD_REQUEST,
        ),
        api("nobody signed in", "priya.rn", "GET /fhir/Task/1", S::UNAUTHORIZED).signed_out(),
        api(
            "someone not part of the task nor on duty where the patient is",
            "ben.rn",
            "GET /fhir/Task/1",
            S::FORBIDDEN,
        ),
        api(
            "a move the state machine refuses",
            "alex.ap",
            "PATCH /fhir/Task/1",
            S::FORBIDDEN,
        )
        .body(status("completed"))
        .said(told("cannot be completed")),
        api(
            "a decline without a reason",
            "alex.ap",
            "PATCH /fhir/Task/1",
            S::UNPROCESSABLE_ENTITY,
        )
        .body(status("rejected"))
        .said(told("say why")),
        api("a decline with its reason", "alex.ap", "PATCH /fhir/Task/1", S::OK)
            .body(json!([{"op": "replace", "path": "/status", "value": "rejected"},
                {"op": "replace", "path": "/statusReason", "value": {"text": "On my break"}}]))
            .said(Said::At("/statusReason/text", json!("On my break"))),
        api(
            "a patch of anything but the status",
            "priya.rn",
            "PATCH /fhir/Task/1",
            S::BAD_REQUEST,
        )
        .body(json!([{"op": "remove", "path": "/owner"}])),
        api(
            "an operation Task does not have",
            "priya.rn",
            "POST /fhir/Task/1/$dance",
            S::NOT_FOUND,
        ),
        api(
            "a search by someone who may not read the task leaves it out",
            "ben.rn",
            "GET /fhir/Task?patient=9990006857",
            S::OK,
        )
        .said(Said::At("/total", json!(0))),
    ])
    .await
}
