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

/// What a FHIR answer must say, besides its status.
enum Says {
    /// Nothing more (the status is the point).
    Status,
    /// An OperationOutcome whose first issue is at this element.
    At(&'static str),
    /// An OperationOutcome whose first issue's diagnostics contain this.
    Told(&'static str),
    /// An OperationOutcome with this many issues, every one of this code, the first starting with this.
    Issues(usize, &'static str, &'static str),
    /// A Task whose `statusReason.text` is this.
    Reason(&'static str),
}

/// One request of a FHIR table: who sends what, and what comes back. Rows run in order, so a row may depend on the
/// moves before it.
struct Case {
    what: &'static str,
    who: Option<&'static str>,
    method: &'static str,
    path: &'static str,
    content_type: &'static str,
    body: Option<Value>,
    status: StatusCode,
    says: Says,
}

/// Sends `case` as its sender (a bearer token each, made once) and checks the answer.
async fn run_case(
    app: &TestApp,
    tokens: &mut std::collections::HashMap<&'static str, Auth>,
    case: &Case,
) -> Result<()> {
    let mut req = Request::builder().method(case.method).uri(case.path);
    if let Some(who) = case.who {
        if !tokens.contains_key(who) {
            tokens.insert(who, app.token_for(who).await?);
        }
        req = req.header(header::AUTHORIZATION, bearer(&tokens[who]));
    }
    let body = match &case.body {
        Some(v) => Body::from(v.to_string()),
        None => Body::empty(),
    };
    let res = app
        .send(req.header(header::CONTENT_TYPE, case.content_type).body(body)?)
        .await?;
    ensure!(res.status == case.status, "{}: {} {}", case.what, res.status, res.body);
    let outcome = || -> Result<Value> {
        let v = res.json()?;
        ensure!(v["resourceType"] == "OperationOutcome", "{}: {}", case.what, res.body);
        Ok(v)
    };
    let first = |field: &str| -> Result<String> {
        let v = outcome()?;
        Ok(match field {
            "expression" => v["issue"][0]["expression"][0].as_str().unwrap_or_default().to_owned(),
            _ => v["issue"][0]["diagnostics"].as_str().unwrap_or_default().to_owned(),
        })
    };
    match case.says {
        Says::Status => {}
        Says::At(element) => ensure!(first("expression")? == element, "{}: {}", case.what, res.body),
        Says::Told(words) => ensure!(first("diagnostics")?.contains(words), "{}: {}", case.what, res.body),
        Says::Issues(n, code, start) => {
            let v = outcome()?;
            let issues = v["issue"].as_array().cloned().unwrap_or_default();
            ensure!(
                issues.len() == n
                    && issues.iter().all(|i| i["code"] == code)
                    && issues[0]["diagnostics"].as_str().is_some_and(|d| d.starts_with(start)),
                "{}: {issues:?}",
                case.what
            );
        }
        Says::Reason(text) => ensure!(
            res.json()?["statusReason"]["text"] == text,
            "{}: {}",
            case.what,
            res.body
        ),
    }
    Ok(())
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
    let patch = |ops: Value| Some(ops);
    let status = |to: &str| json!([{"op": "replace", "path": "/status", "value": to}]);
    const FHIR: &str = "application/fhir+json";
    const PATCH: &str = "application/json-patch+json";
    let cases = [
        Case {
            what: "a refusal: one issue per unmet requirement",
            who: Some("alex.ap"),
            method: "POST",
            path: "/fhir/Task",
            content_type: FHIR,
            body: Some(new_task("sam.hca", "9990005486", "procedure.ecg")),
            status: StatusCode::FORBIDDEN,
            says: Says::Issues(
                4,
                "forbidden",
                "Delegating work needs a current professional registration",
            ),
        },
        Case {
            what: "an element the model does not have",
            who: Some("priya.rn"),
            method: "POST",
            path: "/fhir/Task",
            content_type: FHIR,
            body: Some(unknown),
            status: StatusCode::BAD_REQUEST,
            says: Says::At("Task.colour"),
        },
        Case {
            what: "an activity from another code system",
            who: Some("priya.rn"),
            method: "POST",
            path: "/fhir/Task",
            content_type: FHIR,
            body: Some(with("/code/coding/0/system", json!("http://snomed.info/sct"))),
            status: StatusCode::BAD_REQUEST,
            says: Says::At("Task.code.coding[0].system"),
        },
        Case {
            what: "a new task already completed",
            who: Some("priya.rn"),
            method: "POST",
            path: "/fhir/Task",
            content_type: FHIR,
            body: Some(with("/status", json!("completed"))),
            status: StatusCode::BAD_REQUEST,
            says: Says::At("Task.status"),
        },
        Case {
            what: "an NHS number with a bad check digit",
            who: Some("priya.rn"),
            method: "POST",
            path: "/fhir/Task",
            content_type: FHIR,
            body: Some(bad_patient),
            status: StatusCode::BAD_REQUEST,
            says: Says::Told("bad check digit"),
        },
        Case {
            what: "a task requested in someone else's name",
            who: Some("priya.rn"),
            method: "POST",
            path: "/fhir/Task",
            content_type: FHIR,
            body: Some(as_someone_else),
            status: StatusCode::FORBIDDEN,
            says: Says::Status,
        },
        Case {
            what: "a body that is not FHIR",
            who: Some("priya.rn"),
            method: "POST",
            path: "/fhir/Task",
            content_type: "text/plain",
            body: Some(task()),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            says: Says::Status,
        },
        Case {
            what: "no such task",
            who: Some("priya.rn"),
            method: "GET",
            path: "/fhir/Task/999",
            content_type: FHIR,
            body: None,
            status: StatusCode::NOT_FOUND,
            says: Says::Status,
        },
        Case {
            what: "a search parameter Task does not have here",
            who: Some("priya.rn"),
            method: "GET",
            path: "/fhir/Task?colour=red",
            content_type: FHIR,
            body: None,
            status: StatusCode::BAD_REQUEST,
            says: Says::Status,
        },
        Case {
            what: "nobody signed in",
            who: None,
            method: "GET",
            path: "/fhir/Task/1",
            content_type: FHIR,
            body: None,
            status: StatusCode::UNAUTHORIZED,
            says: Says::Status,
        },
        Case {
            what: "someone not part of the task nor on duty where the patient is",
            who: Some("ben.rn"),
            method: "GET",
            path: "/fhir/Task/1",
            content_type: FHIR,
            body: None,
            status: StatusCode::FORBIDDEN,
            says: Says::Status,
        },
        Case {
            what: "a move the state machine refuses",
            who: Some("alex.ap"),
            method: "PATCH",
            path: "/fhir/Task/1",
            content_type: PATCH,
            body: patch(status("completed")),
            status: StatusCode::FORBIDDEN,
            says: Says::Told("cannot be completed"),
        },
        Case {
            what: "a decline without a reason",
            who: Some("alex.ap"),
            method: "PATCH",
            path: "/fhir/Task/1",
            content_type: PATCH,
            body: patch(status("rejected")),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: Says::Told("say why"),
        },
        Case {
            what: "a decline with its reason",
            who: Some("alex.ap"),
            method: "PATCH",
            path: "/fhir/Task/1",
            content_type: PATCH,
            body: patch(json!([{"op": "replace", "path": "/status", "value": "rejected"},
                {"op": "replace", "path": "/statusReason", "value": {"text": "On my break"}}])),
            status: StatusCode::OK,
            says: Says::Reason("On my break"),
        },
        Case {
            what: "a patch of anything but the status",
            who: Some("priya.rn"),
            method: "PATCH",
            path: "/fhir/Task/1",
            content_type: PATCH,
            body: patch(json!([{"op": "remove", "path": "/owner"}])),
            status: StatusCode::BAD_REQUEST,
            says: Says::Status,
        },
        Case {
            what: "an operation Task does not have",
            who: Some("priya.rn"),
            method: "POST",
            path: "/fhir/Task/1/$dance",
            content_type: FHIR,
            body: None,
            status: StatusCode::NOT_FOUND,
            says: Says::Status,
        },
    ];
    let mut tokens = std::collections::HashMap::new();
    for case in &cases {
        run_case(&app, &mut tokens, case).await?;
    }
    // A search by someone who may not read the task leaves it out.
    let ben = app.token_for("ben.rn").await?;
    let bundle = app.get("/fhir/Task?patient=9990006857", &ben).await?.json()?;
    ensure!(bundle["total"] == 0, "{bundle}");
    Ok(())
}
