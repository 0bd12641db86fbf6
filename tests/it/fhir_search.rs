//! FHIR search as the specification defines it, on every resource remit writes; reads of each; the escalation as a
//! Flag; and a CapabilityStatement that says what the routes do.

use std::collections::BTreeSet;

use anyhow::{Context, Result, ensure};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, TestDb, TestResponse};

crate::tests!(
    fhir_search_follows_the_specification,
    every_resource_remit_writes_is_read_and_searched_within_the_policy,
    the_capability_statement_is_public_and_says_what_the_routes_do,
    staff_are_practitioners_with_registrations_qualifications_and_duty,
    a_sets_corrections_are_versions_and_a_retried_set_is_recorded_once
);

const MARGARET: &str = "9990001375";
const DAVID: &str = "9990002746";

fn conforms(v: &Value) -> Result<()> {
    remit_fhir::conforms(v).map_err(|e| anyhow::anyhow!("{} at {:?}: {v}", e.diagnostics, e.expression))
}

/// A search, answered 200 with a conforming searchset.
async fn search(app: &TestApp, path: &str, auth: &Auth) -> Result<Value> {
    let res = app.get(path, auth).await?;
    ensure!(res.status == StatusCode::OK, "{path}: {} {}", res.status, res.body);
    let v = res.json()?;
    conforms(&v)?;
    ensure!(v["type"] == "searchset", "{v}");
    Ok(v)
}

fn matched(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|x| x["search"]["mode"] == "match")
                .map(|x| x["resource"].clone())
                .collect()
        })
        .unwrap_or_default()
}

fn ids(bundle: &Value) -> Vec<String> {
    matched(bundle)
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)
        .and_then(|l| l["url"].as_str())
        .map(str::to_owned)
}

async fn get_with(app: &TestApp, path: &str, auth: &Auth, prefer: &str) -> Result<TestResponse> {
    let req = auth
        .apply(Request::get(path).header("prefer", prefer))
        .body(Body::empty())?;
    app.send(req).await
}

async fn post_fhir(app: &TestApp, path: &str, auth: &Auth, body: &Value) -> Result<Value> {
    let req = auth
        .apply(Request::post(path).header(header::CONTENT_TYPE, "application/fhir+json"))
        .body(Body::from(body.to_string()))?;
    let res = app.send(req).await?;
    ensure!(res.status == StatusCode::CREATED, "{path}: {}", res.body);
    res.json()
}

async fn record_set(app: &TestApp, auth: &Auth, patient: &str, rr: u32) -> Result<()> {
    let set = json!({"set": {"respiration_rate": rr, "spo2": 97, "on_oxygen": false, "systolic_bp": 125,
        "pulse": 72, "consciousness": "alert", "temperature": 36.8}});
    let res = app
        .post_json(&format!("/api/patients/{patient}/observations"), auth, &set)
        .await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    Ok(())
}

async fn fhir_search_follows_the_specification(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let priya = app.token_for("priya.rn").await?;
    let obs = |q: &str| format!("/fhir/Observation?patient=Patient/{MARGARET}{q}");

    // A comma is OR, a repeated parameter AND.
    let rr = search(&app, &obs("&code=http://loinc.org|9279-1"), &alex).await?;
    let pulse = search(&app, &obs("&code=8867-4"), &alex).await?;
    let either = search(&app, &obs("&code=http://loinc.org|9279-1,8867-4"), &alex).await?;
    ensure!(!ids(&rr).is_empty() && !ids(&pulse).is_empty());
    ensure!(
        either["total"] == rr["total"].as_u64().unwrap() + pulse["total"].as_u64().unwrap(),
        "{either}"
    );
    let both = search(&app, &obs("&code=9279-1&code=8867-4"), &alex).await?;
    ensure!(both["total"] == 0, "no Observation is both: {both}");
    // Token forms: system|code, |code (no system: none here), code.
    let none = search(&app, &obs("&code=|9279-1"), &alex).await?;
    ensure!(none["total"] == 0, "{none}");
    let other_system = search(&app, &obs("&code=http://snomed.info/sct|9279-1"), &alex).await?;
    ensure!(other_system["total"] == 0);
    let survey = search(&app, &obs("&category=survey"), &alex).await?;
    ensure!(
        matched(&survey)
            .iter()
            .all(|r| r["id"].as_str().unwrap().ends_with("-news2"))
            && survey["total"] != 0,
        "{survey}"
    );

    // Dates: prefixes, and two bounds ANDed. Margaret's sets span three days; split them at the middle one.
    let all = search(&app, &obs("&code=9279-1&_count=1000"), &alex).await?;
    let when: Vec<String> = matched(&all)
        .iter()
        .map(|r| r["effectiveDateTime"].as_str().unwrap().to_owned())
        .collect();
    ensure!(when.len() >= 3, "{all}");
    ensure!(
        when.windows(2).all(|w| w[0] >= w[1]),
        "newest first by default: {when:?}"
    );
    let middle = &when[when.len() / 2];
    let ge = search(&app, &obs(&format!("&code=9279-1&date=ge{}", enc(middle))), &alex).await?;
    let lt = search(&app, &obs(&format!("&code=9279-1&date=lt{}", enc(middle))), &alex).await?;
    ensure!(
        ge["total"].as_u64().unwrap() + lt["total"].as_u64().unwrap() == when.len() as u64,
        "ge and lt split the sets"
    );
    ensure!(when.iter().filter(|w| *w >= middle).count() as u64 == ge["total"].as_u64().unwrap());
    let day = &when[0][..10];
    let on_the_day = search(&app, &obs(&format!("&code=9279-1&date=eq{day}")), &alex).await?;
    ensure!(
        on_the_day["total"].as_u64().unwrap() == when.iter().filter(|w| w.starts_with(day)).count() as u64,
        "a day is the whole day: {on_the_day}"
    );
    let window = search(
        &app,
        &obs(&format!(
            "&code=9279-1&date=ge{}&date=le{}",
            enc(&when[when.len() - 1]),
            enc(&when[0])
        )),
        &alex,
    )
    .await?;
    ensure!(window["total"].as_u64().unwrap() == when.len() as u64);
    let sorted = search(&app, &obs("&code=9279-1&_sort=date&_count=1000"), &alex).await?;
    let mut oldest_first = when.clone();
    oldest_first.reverse();
    ensure!(
        matched(&sorted)
            .iter()
            .map(|r| r["effectiveDateTime"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            == oldest_first
    );

    // Paging through next links, a set recorded between pages shifting nothing: every Observation once.
    let everything = ids(&search(&app, &obs("&_count=1000"), &alex).await?);
    let mut page = search(&app, &obs("&_count=4"), &alex).await?;
    ensure!(page["total"].as_u64().unwrap() == everything.len() as u64);
    let mut seen = ids(&page);
    record_set(&app, &alex, MARGARET, 16).await?;
    let mut pages = 1;
    while let Some(next) = link(&page, "next") {
        page = search(&app, &next, &alex).await?;
        seen.extend(ids(&page));
        pages += 1;
        ensure!(pages < 500, "paging ends");
    }
    ensure!(
        seen == everything,
        "every Observation once, in order, none shifted by the new set"
    );
    let previous = link(&page, "previous").context("the last page links back")?;
    let back = search(&app, &previous, &alex).await?;
    ensure!(ids(&back).len() == 4 && ids(&back).iter().all(|id| everything.contains(id)));
    // A page link that remit did not give is refused.
    for page in ["zz", "a", "a~", "b~~"] {
        let res = app.get(&obs(&format!("&_page={page}")), &alex).await?;
        ensure!(res.status == StatusCode::BAD_REQUEST, "{page}: {}", res.body);
    }
    // A patient named twice is searched once; two under break-glass are refused.
    let twice = search(
        &app,
        &format!("/fhir/Observation?patient={MARGARET},{MARGARET}&_summary=count"),
        &alex,
    )
    .await?;
    let once = search(
        &app,
        &format!("/fhir/Observation?patient={MARGARET}&_summary=count"),
        &alex,
    )
    .await?;
    ensure!(twice["total"] == once["total"], "{twice}");
    let req = alex
        .apply(
            Request::get(format!("/fhir/Observation?patient={MARGARET},{DAVID}"))
                .header("remit-break-glass", "cardiac arrest call"),
        )
        .body(Body::empty())?;
    let res = app.send(req).await?;
    ensure!(
        res.status == StatusCode::BAD_REQUEST && res.body.contains("one record"),
        "{}",
        res.body
    );

    // _summary=count; _include of the Patient and of what a NEWS2 total is derived from.
    let count = search(&app, &obs("&_summary=count"), &alex).await?;
    ensure!(count["total"].as_u64().unwrap() == everything.len() as u64 + 8 && count.get("entry").is_none());
    let inc = search(
        &app,
        &obs("&code=1104051000000101&_count=1&_include=Observation:patient&_include=Observation:derived-from"),
        &alex,
    )
    .await?;
    let included: Vec<&Value> = inc["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "include")
        .collect();
    ensure!(
        included
            .iter()
            .filter(|e| e["resource"]["resourceType"] == "Patient")
            .count()
            == 1,
        "{inc}"
    );
    let derived = included
        .iter()
        .filter(|e| e["resource"]["resourceType"] == "Observation")
        .count();
    ensure!(derived >= 6, "the parameters of the NEWS2 total: {inc}");

    // An unknown parameter: an error, or ignored (and said) under Prefer: handling=lenient.
    let res = app.get(&obs("&colour=red"), &alex).await?;
    ensure!(
        res.status == StatusCode::BAD_REQUEST && res.body.contains("colour") && res.body.contains("lenient"),
        "{}",
        res.body
    );
    let res = get_with(&app, &obs("&colour=red&code=9279-1"), &alex, "handling=lenient").await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let v = res.json()?;
    let rr_now = search(&app, &obs("&code=9279-1&_summary=count"), &alex).await?;
    ensure!(v["total"] == rr_now["total"], "the known parameters still apply: {v}");
    ensure!(!link(&v, "self").unwrap().contains("colour"));
    ensure!(v.to_string().contains("ignored: colour"));
    for bad in [
        "&date=yesterday",
        "&_count=-1",
        "&_sort=code",
        "&status=open",
        "&code:below=9279",
        "&_include=Observation:performer",
        "&_format=xml",
        "&performer=https://elsewhere.example/fhir/Practitioner/alex.ap",
        "&_sort=date,_id,_lastUpdated,date",
    ] {
        let res = app.get(&obs(bad), &alex).await?;
        ensure!(
            res.status == StatusCode::BAD_REQUEST && res.body.contains("OperationOutcome"),
            "{bad}: {}",
            res.body
        );
    }
    let res = app.get("/fhir/Observation?code=9279-1", &alex).await?;
    ensure!(
        res.status == StatusCode::BAD_REQUEST && res.body.contains("name the patient"),
        "{}",
        res.body
    );

    // Task: the integrator's search that was refused before: a comma is OR.
    let open = search(&app, "/fhir/Task?status=requested,accepted,in-progress", &priya).await?;
    ensure!(open["total"].as_u64().unwrap() >= 1, "{open}");
    ensure!(
        matched(&open)
            .iter()
            .all(|t| ["requested", "accepted", "in-progress"].contains(&t["status"].as_str().unwrap()))
    );
    let withp = search(&app, "/fhir/Task?status=requested&_include=Task:patient", &priya).await?;
    ensure!(withp.to_string().contains("\"mode\":\"include\""), "{withp}");
    let res = app.get("/fhir/Task?status=awaiting-countersignature", &priya).await?;
    ensure!(
        res.status == StatusCode::BAD_REQUEST && res.body.contains("in-progress"),
        "{}",
        res.body
    );
    Ok(())
}

fn enc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

async fn every_resource_remit_writes_is_read_and_searched_within_the_policy(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let okafor = app.token_for("dr.okafor").await?;
    let maria = app.token_for("maria.acp").await?;
    let priya = app.token_for("priya.rn").await?;
    let ben = app.token_for("ben.rn").await?;

    // A referral, a diagnosis and a prescription for David.
    let sr = post_fhir(
        &app,
        "/fhir/ServiceRequest",
        &okafor,
        &json!({"resourceType": "ServiceRequest",
        "status": "active", "intent": "order",
        "code": {"coding": [{"system": "urn:remit:examination", "code": "chest-pa"}]},
        "subject": {"reference": format!("Patient/{DAVID}")},
        "reasonCode": [{"text": "Fever and crackles: ? pneumonia"}]}),
    )
    .await?;
    let sr_id = sr["id"].as_str().unwrap().to_owned();
    let condition = post_fhir(&app, "/fhir/Condition", &okafor, &json!({"resourceType": "Condition",
        "subject": {"reference": format!("Patient/{DAVID}")},
        "code": {"text": "Community-acquired pneumonia", "coding": [{"system": "http://snomed.info/sct", "code": "385093006"}]}})).await?;
    let mr = post_fhir(
        &app,
        "/fhir/MedicationRequest",
        &maria,
        &json!({"resourceType": "MedicationRequest",
        "status": "active", "intent": "order", "medicationCodeableConcept": {"text": "Amoxicillin"},
        "subject": {"reference": format!("Patient/{DAVID}")},
        "dosageInstruction": [{"route": {"text": "oral"}, "timing": {"code": {"text": "three times a day"}},
            "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg"}}]}]}),
    )
    .await?;

    // Each reads back by id, as it was answered when created.
    for (kind, created) in [
        ("Condition", &condition),
        ("MedicationRequest", &mr),
        ("ServiceRequest", &sr),
    ] {
        let id = created["id"].as_str().unwrap();
        let res = app.get(&format!("/fhir/{kind}/{id}"), &priya).await?;
        ensure!(res.status == StatusCode::OK, "{kind}: {}", res.body);
        let v = res.json()?;
        conforms(&v)?;
        ensure!(v["id"] == created["id"] && v["subject"] == created["subject"], "{v}");
        // Not for a nurse on another ward; and an id that is not there is 404.
        let res = app.get(&format!("/fhir/{kind}/{id}"), &ben).await?;
        ensure!(res.status == StatusCode::FORBIDDEN, "{kind} for ben: {}", res.body);
        let res = app.get(&format!("/fhir/{kind}/999999"), &priya).await?;
        ensure!(res.status == StatusCode::NOT_FOUND, "{kind}: {}", res.body);
    }

    let p = format!("patient=Patient/{DAVID}");
    let found = search(
        &app,
        &format!("/fhir/Condition?{p}&code=http://snomed.info/sct|385093006"),
        &priya,
    )
    .await?;
    ensure!(ids(&found) == [condition["id"].as_str().unwrap()], "{found}");
    let found = search(
        &app,
        &format!("/fhir/MedicationRequest?{p}&status=active&_include=MedicationRequest:patient"),
        &priya,
    )
    .await?;
    ensure!(ids(&found) == [mr["id"].as_str().unwrap()], "{found}");
    ensure!(found.to_string().contains("\"mode\":\"include\""));
    let found = search(&app, &format!("/fhir/MedicationRequest?{p}&status=completed"), &priya).await?;
    ensure!(found["total"] == 0);
    let today = &sr["authoredOn"].as_str().unwrap()[..10];
    let found = search(
        &app,
        &format!("/fhir/ServiceRequest?{p}&status=active&code=urn:remit:examination|chest-pa&authored={today}"),
        &priya,
    )
    .await?;
    ensure!(ids(&found) == [sr_id.as_str()], "{found}");
    let res = app.get(&format!("/fhir/Condition?{p}"), &ben).await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN,
        "another ward's patient: {}",
        res.body
    );

    // The report, found by the request it is based on, with the request included.
    let tom = app.token_for("tom.rad").await?;
    app.post_json(&format!("/api/imaging/requests/{sr_id}/justify"), &tom, &json!({}))
        .await?;
    let op = json!({"projections": ["PA"], "kv": 110, "mas": 2.5, "dap": 0.08, "sid_cm": 180});
    let res = app
        .post_json(&format!("/api/imaging/requests/{sr_id}/expose"), &tom, &op)
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    post_fhir(
        &app,
        "/fhir/DiagnosticReport",
        &app.token_for("dr.reid").await?,
        &json!({"resourceType": "DiagnosticReport", "status": "final",
        "basedOn": [{"reference": format!("ServiceRequest/{sr_id}")}],
        "code": {"coding": [{"system": "urn:remit:examination", "code": "chest-pa"}]},
        "conclusion": "Left lower lobe consolidation."}),
    )
    .await?;
    let found = search(
        &app,
        &format!("/fhir/DiagnosticReport?{p}&based-on=ServiceRequest/{sr_id}&_include=DiagnosticReport:based-on"),
        &okafor,
    )
    .await?;
    ensure!(ids(&found) == [sr_id.as_str()], "{found}");
    ensure!(
        found["entry"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["search"]["mode"] == "include" && e["resource"]["resourceType"] == "ServiceRequest"),
        "{found}"
    );
    let completed = search(&app, &format!("/fhir/ServiceRequest?{p}&status=completed"), &okafor).await?;
    ensure!(ids(&completed) == [sr_id.as_str()]);

    // The escalation as a Flag: a NEWS2 of 7 for Margaret raises one.
    let escalation = app.seven_for_margaret().await?;
    let flags = search(
        &app,
        &format!("/fhir/Flag?patient=Patient/{MARGARET}&status=active"),
        &priya,
    )
    .await?;
    ensure!(ids(&flags).contains(&escalation.to_string()), "{flags}");
    let flag = app.get(&format!("/fhir/Flag/{escalation}"), &priya).await?.json()?;
    conforms(&flag)?;
    ensure!(
        flag["status"] == "active" && flag["code"]["coding"][0]["code"] == "emergency",
        "{flag}"
    );
    // Polled without a patient: the ward's nurse sees it, another ward's does not.
    let ward = search(&app, "/fhir/Flag?status=active&location=urn:remit:place|ward-7", &priya).await?;
    ensure!(ids(&ward).contains(&escalation.to_string()), "{ward}");
    let other = search(&app, "/fhir/Flag?status=active", &ben).await?;
    ensure!(!ids(&other).contains(&escalation.to_string()), "{other}");
    ensure!(app.get(&format!("/fhir/Flag/{escalation}"), &ben).await?.status == StatusCode::FORBIDDEN);
    // Reviewed, it is inactive, with the period's end.
    let res = app
        .post_json(
            &format!("/api/escalations/{escalation}/acknowledge"),
            &priya,
            &json!({}),
        )
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let res = app
        .post_json(
            &format!("/api/escalations/{escalation}/review"),
            &okafor,
            &json!({"note": "Seen; antibiotics started."}),
        )
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let flag = app.get(&format!("/fhir/Flag/{escalation}"), &priya).await?.json()?;
    ensure!(
        flag["status"] == "inactive" && flag["period"]["end"].is_string(),
        "{flag}"
    );
    let active = search(
        &app,
        &format!("/fhir/Flag?patient=Patient/{MARGARET}&status=active"),
        &priya,
    )
    .await?;
    ensure!(!ids(&active).contains(&escalation.to_string()));
    Ok(())
}

async fn the_capability_statement_is_public_and_says_what_the_routes_do(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let okafor = app.token_for("dr.okafor").await?;
    let res = app.get("/fhir/metadata", &Auth::None).await?;
    ensure!(
        res.status == StatusCode::OK,
        "readable without signing in: {}",
        res.body
    );
    let m = res.json()?;
    conforms(&m)?;
    let resources = m["rest"][0]["resource"].as_array().unwrap();
    let listed: BTreeSet<&str> = resources.iter().map(|r| r["type"].as_str().unwrap()).collect();
    // Every interaction listed is served; every one not listed is not.
    for r in resources {
        let kind = r["type"].as_str().unwrap();
        let has = |i: &str| r["interaction"].as_array().unwrap().iter().any(|x| x["code"] == i);
        let read = app.get(&format!("/fhir/{kind}/0"), &okafor).await?;
        ensure!(
            has("read") == (read.status == StatusCode::NOT_FOUND && read.body.contains("OperationOutcome")),
            "{kind} read: {} {}",
            read.status,
            read.body
        );
        let searched = app.get(&format!("/fhir/{kind}?_summary=count"), &okafor).await?;
        ensure!(
            has("search-type") == matches!(searched.status, StatusCode::OK | StatusCode::BAD_REQUEST),
            "{kind} search: {} {}",
            searched.status,
            searched.body
        );
        let req = okafor
            .apply(Request::post(format!("/fhir/{kind}")).header(header::CONTENT_TYPE, "application/fhir+json"))
            .body(Body::from("{}"))?;
        let created = app.send(req).await?;
        ensure!(
            has("create") == !matches!(created.status, StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND),
            "{kind} create: {} {}",
            created.status,
            created.body
        );
        for (method, interaction) in [("PUT", "update"), ("DELETE", "delete")] {
            let req = okafor
                .apply(Request::builder().method(method).uri(format!("/fhir/{kind}/1")))
                .body(Body::empty())?;
            let res = app.send(req).await?;
            ensure!(
                has(interaction) != matches!(res.status, StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND),
                "{method} {kind}: listed or not, as served: {} {}",
                res.status,
                res.body
            );
        }
        if has("history-instance") {
            let res = app.get(&format!("/fhir/{kind}/0/_history"), &okafor).await?;
            ensure!(
                res.status == StatusCode::NOT_FOUND && res.body.contains("OperationOutcome"),
                "{}",
                res.body
            );
        }
        // Every search parameter listed is taken, with the patient where a search must name one.
        let needs = match kind {
            "Task" | "Flag" | "Practitioner" | "PractitionerRole" => "",
            "Patient" => "identifier",
            _ => "patient",
        };
        for p in r["searchParam"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            let value = match (kind, name, p["type"].as_str().unwrap()) {
                ("Patient", "identifier" | "_id", _) => DAVID.to_owned(),
                (_, "_count", _) => "5".to_owned(),
                (_, "_sort", _) => "_id".to_owned(),
                (_, "_summary", _) => "count".to_owned(),
                (_, "_include", _) => r["searchInclude"][0].as_str().context("an include")?.to_owned(),
                (_, "_page", _) => "a~1".to_owned(),
                (_, "_total", _) => "accurate".to_owned(),
                (_, _, "date") => "ge2020-01-01".to_owned(),
                (_, "active", _) => "true".to_owned(),
                (_, _, "reference") => format!("Patient/{DAVID}"),
                ("Observation" | "DiagnosticReport", "status", _) => "final".to_owned(),
                ("Encounter", "status", _) => "finished".to_owned(),
                ("Task", "status", _) => "requested".to_owned(),
                (_, "status" | "clinical-status", _) => "active".to_owned(),
                (_, "intent", _) => "order".to_owned(),
                _ => "x".to_owned(),
            };
            let mut path = format!("/fhir/{kind}?{name}={}", value.replace('|', "%7C"));
            if !needs.is_empty() && name != needs {
                let who = if kind == "Patient" {
                    DAVID.to_owned()
                } else {
                    format!("Patient/{DAVID}")
                };
                path.push_str(&format!("&{needs}={who}"));
            }
            let res = app.get(&path, &okafor).await?;
            ensure!(res.status == StatusCode::OK, "{path}: {}", res.body);
        }
    }
    // A resource not listed is not served.
    for kind in ["Location", "Medication", "AllergyIntolerance"] {
        ensure!(!listed.contains(kind));
        let res = app.get(&format!("/fhir/{kind}/1"), &okafor).await?;
        ensure!(res.status == StatusCode::NOT_FOUND, "{kind}: {}", res.status);
    }
    // Task's operations are every move of a task.
    let task = resources.iter().find(|r| r["type"] == "Task").unwrap();
    let ops: Vec<&str> = task["operation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    let moves: Vec<&str> = remit_domain::task::Move::ALL.iter().map(|m| m.as_str()).collect();
    ensure!(ops == moves, "{ops:?}");
    Ok(())
}

async fn staff_are_practitioners_with_registrations_qualifications_and_duty(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    // A registrant: the NMC number as an identifier in the UK Core system, with its expiry.
    let priya = app.get("/fhir/Practitioner/priya.rn", &alex).await?;
    ensure!(priya.status == StatusCode::OK, "{}", priya.body);
    let priya = priya.json()?;
    conforms(&priya)?;
    let nmc = priya["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["system"] == "https://fhir.hl7.org.uk/Id/nmc-number")
        .context("the NMC registration")?;
    ensure!(nmc["period"]["end"].is_string() && priya["active"] == true, "{priya}");
    let number = nmc["value"].as_str().unwrap();
    let found = search(
        &app,
        &format!("/fhir/Practitioner?identifier=https://fhir.hl7.org.uk/Id/nmc-number%7C{number}"),
        &alex,
    )
    .await?;
    ensure!(ids(&found) == ["priya.rn"], "{found}");
    let found = search(&app, "/fhir/Practitioner?name=shah", &alex).await?;
    ensure!(ids(&found) == ["priya.rn"], "a word of the name: {found}");
    let found = search(&app, "/fhir/Practitioner?name=nobody-here", &alex).await?;
    ensure!(found["total"] == 0);
    let active = search(&app, "/fhir/Practitioner?active=true&_summary=count", &alex).await?;
    ensure!(active["total"].as_u64().unwrap() >= 5, "{active}");
    // An assistant practitioner's competencies, and a radiographer's IR(ME)R entitlement, as qualifications.
    let a = app.get("/fhir/Practitioner/alex.ap", &alex).await?.json()?;
    conforms(&a)?;
    let competencies: Vec<&Value> = a["qualification"]
        .as_array()
        .context("qualifications")?
        .iter()
        .filter(|q| q["code"]["coding"][0]["system"] == "urn:remit:competency")
        .collect();
    ensure!(
        !competencies.is_empty()
            && competencies
                .iter()
                .all(|q| q["period"]["start"].is_string() && q["period"]["end"].is_string()),
        "{a}"
    );
    let tom = app.get("/fhir/Practitioner/tom.rad", &alex).await?.json()?;
    ensure!(
        tom["qualification"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["code"]["coding"][0]["code"] == "irmer-operator"),
        "{tom}"
    );
    ensure!(
        tom.to_string().contains("https://fhir.hl7.org.uk/Id/hcpc-number"),
        "{tom}"
    );
    // The role: job title and level, and where they are on duty now.
    let role = app.get("/fhir/PractitionerRole/alex.ap", &alex).await?.json()?;
    conforms(&role)?;
    ensure!(role["code"][0]["coding"][0]["code"] == "4", "{role}");
    ensure!(role["location"].to_string().contains("ward-7"), "{role}");
    let ward = search(
        &app,
        "/fhir/PractitionerRole?location=urn:remit:place%7Cward-7&_include=PractitionerRole:practitioner",
        &alex,
    )
    .await?;
    let on_ward = ids(&ward);
    ensure!(
        on_ward.contains(&"alex.ap".to_owned()) && on_ward.contains(&"priya.rn".to_owned()),
        "{ward}"
    );
    ensure!(!on_ward.contains(&"ben.rn".to_owned()), "ben is on ward 9: {ward}");
    let included = ward["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "include")
        .count();
    ensure!(included == on_ward.len(), "{ward}");
    let level4 = search(
        &app,
        "/fhir/PractitionerRole?role=urn:remit:career-framework-level%7C4",
        &alex,
    )
    .await?;
    ensure!(ids(&level4).contains(&"alex.ap".to_owned()) && !ids(&level4).contains(&"priya.rn".to_owned()));
    // Signed in or nothing; an unknown person is 404.
    ensure!(app.get("/fhir/Practitioner/priya.rn", &Auth::None).await?.status == StatusCode::UNAUTHORIZED);
    ensure!(app.get("/fhir/Practitioner?name=shah", &Auth::None).await?.status == StatusCode::UNAUTHORIZED);
    ensure!(app.get("/fhir/Practitioner/no.one", &alex).await?.status == StatusCode::NOT_FOUND);
    ensure!(app.get("/fhir/PractitionerRole/no.one", &alex).await?.status == StatusCode::NOT_FOUND);
    Ok(())
}

async fn send(
    app: &TestApp,
    auth: &Auth,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Result<TestResponse> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/fhir+json");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    app.send(auth.apply(b).body(Body::from(body.to_string()))?).await
}

async fn news2_sets(app: &TestApp, auth: &Auth) -> Result<u64> {
    let v = search(
        app,
        &format!("/fhir/Observation?patient={MARGARET}&code=1104051000000101&_summary=count"),
        auth,
    )
    .await?;
    v["total"].as_u64().context("a total")
}

async fn a_sets_corrections_are_versions_and_a_retried_set_is_recorded_once(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let ben = app.token_for("ben.rn").await?;
    let effective = remit_domain::time::format_instant(app.store.now() - chrono::Duration::minutes(10));
    let mut bundle = crate::obs::bundle_of_seven();
    for e in bundle["entry"].as_array_mut().unwrap() {
        e["resource"]["effectiveDateTime"] = json!(effective);
        let code = e["resource"]["code"]["coding"][0]["code"].as_str().unwrap().to_owned();
        e["request"]["ifNoneExist"] = json!(format!(
            "patient=Patient/{MARGARET}&code=http://loinc.org|{code}&date=eq{}",
            enc(&effective)
        ));
    }
    // Posted, then posted again as after a timeout: recorded once, the second answered 200 with the same locations.
    let before = news2_sets(&app, &alex).await?;
    let first = send(&app, &alex, "POST", "/fhir", &[], &bundle).await?;
    ensure!(first.status == StatusCode::OK, "{}", first.body);
    let first = first.json()?;
    conforms(&first)?;
    ensure!(first["entry"][0]["response"]["status"] == "201 Created", "{first}");
    let location = first["entry"][0]["response"]["location"].as_str().unwrap().to_owned();
    ensure!(location.ends_with("/_history/1"), "{location}");
    let again = send(&app, &alex, "POST", "/fhir", &[], &bundle).await?;
    ensure!(again.status == StatusCode::OK, "{}", again.body);
    let again = again.json()?;
    ensure!(again["entry"][0]["response"]["status"] == "200 OK", "{again}");
    ensure!(again["entry"][0]["response"]["location"] == json!(location), "{again}");
    ensure!(news2_sets(&app, &alex).await? == before + 1, "recorded once");
    // A condition that finds more than one set is refused, and nothing is written.
    let mut loose = bundle.clone();
    loose["entry"][0]["request"]["ifNoneExist"] = json!(format!("patient=Patient/{MARGARET}&code=9279-1"));
    let res = send(&app, &alex, "POST", "/fhir", &[], &loose).await?;
    ensure!(res.status == StatusCode::PRECONDITION_FAILED, "{}", res.body);
    ensure!(news2_sets(&app, &alex).await? == before + 1);
    // One Observation posted with If-None-Exist, twice: one set.
    let acvpu = bundle["entry"][5]["resource"].clone();
    let lone_when = remit_domain::time::format_instant(app.store.now() - chrono::Duration::minutes(3));
    let mut acvpu = acvpu;
    acvpu["effectiveDateTime"] = json!(lone_when);
    let condition = format!("patient=Patient/{MARGARET}&code=67775-7&date=eq{}", enc(&lone_when));
    let one = send(
        &app,
        &alex,
        "POST",
        "/fhir/Observation",
        &[("if-none-exist", &condition)],
        &acvpu,
    )
    .await?;
    ensure!(one.status == StatusCode::CREATED, "{}", one.body);
    let two = send(
        &app,
        &alex,
        "POST",
        "/fhir/Observation",
        &[("if-none-exist", &condition)],
        &acvpu,
    )
    .await?;
    ensure!(two.status == StatusCode::OK, "{}", two.body);
    ensure!(one.json()?["id"] == two.json()?["id"]);
    ensure!(news2_sets(&app, &alex).await? == before + 2);
    // Conditions that find a set which is not this one (another time, another patient's) are refused, and this set
    // is not silently dropped.
    let mut other_time = bundle.clone();
    let later = remit_domain::time::format_instant(app.store.now() - chrono::Duration::minutes(1));
    for e in other_time["entry"].as_array_mut().unwrap() {
        e["resource"]["effectiveDateTime"] = json!(later);
    }
    let res = send(&app, &alex, "POST", "/fhir", &[], &other_time).await?;
    ensure!(
        res.status == StatusCode::PRECONDITION_FAILED && res.body.contains("not this set"),
        "{}",
        res.body
    );
    let mut davids = bundle.clone();
    for e in davids["entry"].as_array_mut().unwrap() {
        e["resource"]["subject"] = json!({"reference": format!("Patient/{DAVID}")});
    }
    let res = send(&app, &alex, "POST", "/fhir", &[], &davids).await?;
    ensure!(res.status == StatusCode::PRECONDITION_FAILED, "{}", res.body);
    ensure!(news2_sets(&app, &alex).await? == before + 2, "nothing recorded");

    // The respiration rate, read with its version, corrected with If-Match: version 2, amended, re-scored.
    let id = location
        .trim_start_matches("Observation/")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let set = id.split('-').next().unwrap().to_owned();
    let read = app.get(&format!("/fhir/Observation/{id}"), &alex).await?;
    ensure!(read.header("etag") == Some("W/\"1\""), "{:?}", read.header("etag"));
    let mut rr = read.json()?;
    ensure!(rr["meta"]["versionId"] == "1" && rr["status"] == "final", "{rr}");
    rr["valueQuantity"]["value"] = json!(18);
    rr["note"] = json!([{"text": "Counted for a full minute: 18, not 25"}]);
    let res = send(&app, &alex, "PUT", &format!("/fhir/Observation/{id}"), &[], &rr).await?;
    ensure!(
        res.status == StatusCode::PRECONDITION_REQUIRED,
        "If-Match is required: {}",
        res.body
    );
    let res = send(
        &app,
        &ben,
        "PUT",
        &format!("/fhir/Observation/{id}"),
        &[("if-match", "W/\"1\"")],
        &rr,
    )
    .await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN,
        "another ward's nurse: {}",
        res.body
    );
    let res = send(
        &app,
        &alex,
        "PUT",
        &format!("/fhir/Observation/{id}"),
        &[("if-match", "W/\"1\"")],
        &rr,
    )
    .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    ensure!(res.header("etag") == Some("W/\"2\""));
    let v2 = res.json()?;
    conforms(&v2)?;
    ensure!(
        v2["meta"]["versionId"] == "2" && v2["status"] == "amended" && v2["valueQuantity"]["value"] == 18.0,
        "{v2}"
    );
    let total = app
        .get(&format!("/fhir/Observation/{set}-news2"), &alex)
        .await?
        .json()?;
    ensure!(
        total["meta"]["versionId"] == "2" && total["valueInteger"] != 7,
        "re-scored: {total}"
    );
    // A stale If-Match changes nothing.
    let res = send(
        &app,
        &alex,
        "PUT",
        &format!("/fhir/Observation/{id}"),
        &[("if-match", "W/\"1\"")],
        &rr,
    )
    .await?;
    ensure!(
        res.status == StatusCode::PRECONDITION_FAILED && res.body.contains("version 2"),
        "{}",
        res.body
    );
    // The body must be the resource at the address.
    let mut elsewhere = rr.clone();
    elsewhere["id"] = json!(format!("{set}-temp"));
    let res = send(
        &app,
        &alex,
        "PUT",
        &format!("/fhir/Observation/{id}"),
        &[("if-match", "W/\"2\"")],
        &elsewhere,
    )
    .await?;
    ensure!(
        res.status == StatusCode::BAD_REQUEST && res.body.contains("Observation.id"),
        "{}",
        res.body
    );
    // One reading is not marked entered in error, taking its set with it: the set is, through its NEWS2 total, and
    // only for its own patient.
    let mut eie = v2.clone();
    eie["status"] = json!("entered-in-error");
    eie["note"] = json!([{"text": "Recorded against the wrong patient"}]);
    let res = send(
        &app,
        &alex,
        "PUT",
        &format!("/fhir/Observation/{id}"),
        &[("if-match", "W/\"2\"")],
        &eie,
    )
    .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("-news2"),
        "{}",
        res.body
    );
    let mut eie = total.clone();
    eie["status"] = json!("entered-in-error");
    eie["note"] = json!([{"text": "Recorded against the wrong patient"}]);
    let mut wrong = eie.clone();
    wrong["subject"] = json!({"reference": format!("Patient/{DAVID}")});
    let news2 = format!("/fhir/Observation/{set}-news2");
    let res = send(&app, &alex, "PUT", &news2, &[("if-match", "W/\"2\"")], &wrong).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("subject"),
        "{}",
        res.body
    );
    ensure!(
        app.get(&news2, &alex).await?.json()?["status"] == "amended",
        "nothing changed"
    );
    let res = send(&app, &alex, "PUT", &news2, &[("if-match", "W/\"2\"")], &eie).await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let v3 = app.get(&format!("/fhir/Observation/{id}"), &alex).await?.json()?;
    ensure!(
        v3["meta"]["versionId"] == "3" && v3["status"] == "entered-in-error",
        "{v3}"
    );
    // A set entered in error is found by its status, and not among the current.
    let found = search(
        &app,
        &format!("/fhir/Observation?patient={MARGARET}&status=entered-in-error"),
        &alex,
    )
    .await?;
    ensure!(ids(&found).contains(&id), "{found}");
    let current = search(
        &app,
        &format!("/fhir/Observation?patient={MARGARET}&status=final,amended&_count=1000"),
        &alex,
    )
    .await?;
    ensure!(!ids(&current).contains(&id));
    // The history, newest first, and each version by its number.
    let h = app.get(&format!("/fhir/Observation/{id}/_history"), &alex).await?;
    ensure!(h.status == StatusCode::OK, "{}", h.body);
    let h = h.json()?;
    conforms(&h)?;
    let statuses: Vec<&str> = h["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["status"].as_str().unwrap())
        .collect();
    ensure!(
        h["type"] == "history" && statuses == ["entered-in-error", "amended", "final"],
        "{h}"
    );
    let v1 = app
        .get(&format!("/fhir/Observation/{id}/_history/1"), &alex)
        .await?
        .json()?;
    ensure!(
        v1["valueQuantity"]["value"] == 25.0 && v1["meta"]["versionId"] == "1",
        "{v1}"
    );
    ensure!(
        app.get(&format!("/fhir/Observation/{id}/_history/4"), &alex)
            .await?
            .status
            == StatusCode::NOT_FOUND
    );
    ensure!(app.get(&format!("/fhir/Observation/{id}/_history"), &ben).await?.status == StatusCode::FORBIDDEN);
    Ok(())
}
