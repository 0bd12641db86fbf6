//! FHIR Task: create, read, search, and move by PATCH of status or by named operations; errors as
//! OperationOutcome, refusals as 403 with one issue per reason.

use anyhow::{Result, ensure};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, TestDb, TestResponse};

crate::tests!(
    fhir_tasks_are_created_read_searched_and_moved,
    fhir_task_errors_are_operation_outcomes
);

fn bearer(a: &Auth) -> String {
    match a {
        Auth::Bearer(t) => format!("Bearer {t}"),
        _ => unreachable!(),
    }
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    auth: &Auth,
    content_type: &str,
    body: &Value,
) -> Result<TestResponse> {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, bearer(auth))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_string()))?;
    app.send(req).await
}

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

async fn fhir_tasks_are_created_read_searched_and_moved(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let priya = app.token_for("priya.rn").await?;
    let alex = app.token_for("alex.ap").await?;
    let res = send(
        &app,
        "POST",
        "/fhir/Task",
        &priya,
        "application/fhir+json",
        &new_task("alex.ap", "9990002746", "procedure.ecg"),
    )
    .await?;
    ensure!(res.status == StatusCode::CREATED, "{} {}", res.status, res.body);
    ensure!(
        res.header("content-type")
            .is_some_and(|c| c.starts_with("application/fhir+json"))
    );
    let created = res.json()?;
    conforms(&created)?;
    let id = created["id"].as_str().unwrap().to_owned();
    ensure!(res.header("location") == Some(&format!("/fhir/Task/{id}")[..]));
    ensure!(
        created["requester"]["reference"] == "Practitioner/priya.rn" && created["status"] == "requested",
        "{created}"
    );
    ensure!(created["code"]["coding"][0]["display"] == "Record a 12-lead ECG");

    let read = app.get(&format!("/fhir/Task/{id}"), &alex).await?;
    ensure!(read.status == StatusCode::OK && read.json()?["owner"]["reference"] == "Practitioner/alex.ap");

    for query in [
        "owner=Practitioner/alex.ap&status=requested",
        "requester=priya.rn",
        "patient=9990002746",
        "patient=https://fhir.nhs.uk/Id/nhs-number|9990002746",
    ] {
        let bundle = app.get(&format!("/fhir/Task?{query}"), &alex).await?.json()?;
        ensure!(
            bundle["resourceType"] == "Bundle" && bundle["type"] == "searchset",
            "{bundle}"
        );
        let ids: Vec<&str> = bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["id"].as_str().unwrap())
            .collect();
        ensure!(ids.contains(&id.as_str()), "{query}: {ids:?}");
    }
    let by_status = app
        .get("/fhir/Task?owner=alex.ap&status=requested", &alex)
        .await?
        .json()?;
    ensure!(by_status["total"] == 2, "the demo task and this one: {by_status}");

    // Accept by PATCH, start and complete by operation.
    let patch = json!([{"op": "replace", "path": "/status", "value": "accepted"}]);
    let res = send(
        &app,
        "PATCH",
        &format!("/fhir/Task/{id}"),
        &alex,
        "application/json-patch+json",
        &patch,
    )
    .await?;
    ensure!(
        res.status == StatusCode::OK && res.json()?["status"] == "accepted",
        "{} {}",
        res.status,
        res.body
    );
    let res = send(
        &app,
        "POST",
        &format!("/fhir/Task/{id}/$start"),
        &alex,
        "application/fhir+json",
        &json!({"resourceType": "Parameters"}),
    )
    .await?;
    ensure!(
        res.status == StatusCode::OK && res.json()?["status"] == "in-progress",
        "{}",
        res.body
    );
    let res = app
        .send(
            Request::post(format!("/fhir/Task/{id}/$complete"))
                .header(header::AUTHORIZATION, bearer(&alex))
                .body(Body::empty())?,
        )
        .await?;
    ensure!(
        res.status == StatusCode::OK && res.json()?["status"] == "completed",
        "{}",
        res.body
    );
    conforms(&res.json()?)?;

    // Direct supervision shows as in-progress with its business status, and the named supervisor countersigns.
    let tom = app.token_for("tom.rad").await?;
    let ria = app.token_for("ria.trainee").await?;
    let mut t = new_task("ria.trainee", "9990012334", "imaging.expose");
    t["input"] = json!([
        {"type": {"text": "supervision"}, "valueCode": "direct"},
        {"type": {"text": "supervisor"}, "valueReference": {"reference": "Practitioner/tom.rad"}},
        {"type": {"text": "exam-region"}, "valueCode": "chest"}
    ]);
    let res = send(&app, "POST", "/fhir/Task", &tom, "application/fhir+json", &t).await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    let id = res.json()?["id"].as_str().unwrap().to_owned();
    for op in ["$accept", "$start", "$complete"] {
        let res = app
            .send(
                Request::post(format!("/fhir/Task/{id}/{op}"))
                    .header(header::AUTHORIZATION, bearer(&ria))
                    .body(Body::empty())?,
            )
            .await?;
        ensure!(res.status == StatusCode::OK, "{op}: {}", res.body);
    }
    let waiting = app.get(&format!("/fhir/Task/{id}"), &tom).await?.json()?;
    ensure!(
        waiting["status"] == "in-progress"
            && waiting["businessStatus"]["coding"][0]["code"] == "awaiting-countersignature",
        "{waiting}"
    );
    conforms(&waiting)?;
    let patch = json!([{"op": "replace", "path": "/status", "value": "completed"}]);
    let res = send(
        &app,
        "PATCH",
        &format!("/fhir/Task/{id}"),
        &tom,
        "application/json-patch+json",
        &patch,
    )
    .await?;
    ensure!(
        res.status == StatusCode::OK && res.json()?["status"] == "completed",
        "{}",
        res.body
    );
    Ok(())
}

async fn fhir_task_errors_are_operation_outcomes(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let priya = app.token_for("priya.rn").await?;
    let alex = app.token_for("alex.ap").await?;
    let ben = app.token_for("ben.rn").await?;
    let outcome = |r: &TestResponse| -> Result<Value> {
        let v = r.json()?;
        ensure!(v["resourceType"] == "OperationOutcome", "{}", r.body);
        Ok(v)
    };
    // A refusal: one issue per unmet requirement.
    let res = send(
        &app,
        "POST",
        "/fhir/Task",
        &alex,
        "application/fhir+json",
        &new_task("sam.hca", "9990005486", "procedure.ecg"),
    )
    .await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.status);
    let issues = outcome(&res)?["issue"].as_array().unwrap().clone();
    ensure!(
        issues.len() == 4 && issues.iter().all(|i| i["code"] == "forbidden"),
        "{issues:?}"
    );
    ensure!(
        issues[0]["diagnostics"]
            .as_str()
            .unwrap()
            .starts_with("Delegating work needs a current professional registration")
    );

    let mut unknown = new_task("alex.ap", "9990005486", "procedure.ecg");
    unknown["colour"] = json!("red");
    let res = send(&app, "POST", "/fhir/Task", &priya, "application/fhir+json", &unknown).await?;
    ensure!(
        res.status == StatusCode::BAD_REQUEST && outcome(&res)?["issue"][0]["expression"][0] == "Task.colour",
        "{}",
        res.body
    );
    let mut wrong_code = new_task("alex.ap", "9990005486", "procedure.ecg");
    wrong_code["code"]["coding"][0]["system"] = json!("http://snomed.info/sct");
    let res = send(&app, "POST", "/fhir/Task", &priya, "application/fhir+json", &wrong_code).await?;
    ensure!(
        res.status == StatusCode::BAD_REQUEST
            && outcome(&res)?["issue"][0]["expression"][0] == "Task.code.coding[0].system"
    );
    let mut bad_status = new_task("alex.ap", "9990005486", "procedure.ecg");
    bad_status["status"] = json!("completed");
    let res = send(&app, "POST", "/fhir/Task", &priya, "application/fhir+json", &bad_status).await?;
    ensure!(res.status == StatusCode::BAD_REQUEST && outcome(&res)?["issue"][0]["expression"][0] == "Task.status");
    let mut bad_patient = new_task("alex.ap", "9990005487", "procedure.ecg");
    bad_patient["for"] = json!({"reference": "Patient/9990005487"});
    let res = send(
        &app,
        "POST",
        "/fhir/Task",
        &priya,
        "application/fhir+json",
        &bad_patient,
    )
    .await?;
    ensure!(
        res.status == StatusCode::BAD_REQUEST
            && outcome(&res)?["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .contains("bad check digit")
    );
    let mut as_someone_else = new_task("alex.ap", "9990005486", "procedure.ecg");
    as_someone_else["requester"] = json!({"reference": "Practitioner/maria.acp"});
    let res = send(
        &app,
        "POST",
        "/fhir/Task",
        &priya,
        "application/fhir+json",
        &as_someone_else,
    )
    .await?;
    ensure!(res.status == StatusCode::FORBIDDEN);
    let res = send(
        &app,
        "POST",
        "/fhir/Task",
        &priya,
        "text/plain",
        &new_task("alex.ap", "9990005486", "procedure.ecg"),
    )
    .await?;
    ensure!(res.status == StatusCode::UNSUPPORTED_MEDIA_TYPE);
    ensure!(app.get("/fhir/Task/999", &priya).await?.status == StatusCode::NOT_FOUND);
    ensure!(app.get("/fhir/Task?colour=red", &priya).await?.status == StatusCode::BAD_REQUEST);
    ensure!(app.get("/fhir/Task/1", &Auth::None).await?.status == StatusCode::UNAUTHORIZED);

    // Someone not part of the task, and not on duty where the patient is, may not read it; search leaves it out.
    let res = app.get("/fhir/Task/1", &ben).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.status);
    let bundle = app.get("/fhir/Task?patient=9990006857", &ben).await?.json()?;
    ensure!(bundle["total"] == 0, "{bundle}");

    // Moves the state machine or the policy refuses.
    let patch = json!([{"op": "replace", "path": "/status", "value": "completed"}]);
    let res = send(
        &app,
        "PATCH",
        "/fhir/Task/1",
        &alex,
        "application/json-patch+json",
        &patch,
    )
    .await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN
            && outcome(&res)?["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .contains("cannot be completed"),
        "{}",
        res.body
    );
    let patch = json!([{"op": "replace", "path": "/status", "value": "rejected"}]);
    let res = send(
        &app,
        "PATCH",
        "/fhir/Task/1",
        &alex,
        "application/json-patch+json",
        &patch,
    )
    .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY
            && outcome(&res)?["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .contains("say why"),
        "{}",
        res.body
    );
    let patch = json!([{"op": "replace", "path": "/status", "value": "rejected"}, {"op": "replace", "path": "/statusReason", "value": {"text": "On my break"}}]);
    let res = send(
        &app,
        "PATCH",
        "/fhir/Task/1",
        &alex,
        "application/json-patch+json",
        &patch,
    )
    .await?;
    ensure!(
        res.status == StatusCode::OK && res.json()?["statusReason"]["text"] == "On my break",
        "{}",
        res.body
    );
    let patch = json!([{"op": "remove", "path": "/owner"}]);
    let res = send(
        &app,
        "PATCH",
        "/fhir/Task/1",
        &priya,
        "application/json-patch+json",
        &patch,
    )
    .await?;
    ensure!(res.status == StatusCode::BAD_REQUEST);
    let res = app
        .send(
            Request::post("/fhir/Task/1/$dance")
                .header(header::AUTHORIZATION, bearer(&priya))
                .body(Body::empty())?,
        )
        .await?;
    ensure!(res.status == StatusCode::NOT_FOUND);
    Ok(())
}
