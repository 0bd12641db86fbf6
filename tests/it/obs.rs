//! Vital signs: recording through the policy, scale 2 only by prescription, incomplete sets, corrections that keep
//! the original, escalation per Chart 4 with acknowledgement, review and the cascade, the overdue list, FHIR, and
//! the demo stories.

use anyhow::{Context, Result, ensure};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, TestDb, expect_status, stdout};

crate::tests!(
    a_set_is_scored_escalated_and_audited,
    recording_passes_the_policy_and_refusals_name_every_reason,
    scale_2_applies_only_under_a_prescription,
    an_incomplete_set_is_recorded_with_reasons_and_due_sooner,
    corrections_keep_the_original_and_escalations_follow_them,
    escalations_are_acknowledged_reviewed_and_cascade_when_ignored,
    a_higher_score_raises_it_again_and_a_lower_one_closes_nothing,
    overdue_patients_are_listed_with_how_late,
    bad_sets_are_refused_and_change_nothing,
    fhir_transaction_bundles_record_a_set_with_its_news2_total,
    fhir_errors_name_the_element_and_refusals_list_every_reason,
    the_demo_stories_are_told,
);

fn set(rr: i64, spo2: i64, sbp: i64, pulse: i64, acvpu: &str, temp: f64) -> Value {
    json!({"respiration_rate": rr, "spo2": spo2, "on_oxygen": false, "systolic_bp": sbp, "pulse": pulse,
           "consciousness": acvpu, "temperature": temp})
}

/// A set scoring 7: RR 25 (3), SpO2 93 (2), SBP 105 (1), pulse 105 (1).
fn seven() -> Value {
    set(25, 93, 105, 105, "alert", 37.5)
}

fn normal() -> Value {
    set(16, 97, 124, 76, "alert", 37.0)
}

const DAVID: &str = "9990002746";
const MARGARET: &str = "9990001375";

async fn record(app: &TestApp, auth: &Auth, patient: &str, body: Value) -> Result<crate::helpers::TestResponse> {
    app.post_json(&format!("/api/patients/{patient}/observations"), auth, &body)
        .await
}

/// The set in the answer to recording it is the set as stored (the answer is built without reading it back).
async fn answered_as_stored(app: &TestApp, answer: &Value) -> Result<()> {
    let id = answer["set"]["id"]
        .as_i64()
        .context("the answer names the set's version")?;
    let stored = serde_json::to_value(app.store.obs_version(id).await?)?;
    ensure!(
        answer["set"] == stored,
        "answered {} but stored {stored}",
        answer["set"]
    );
    Ok(())
}

async fn audit_count(app: &TestApp) -> Result<usize> {
    Ok(app.store.audit_log(100_000).await?.len())
}

async fn a_set_is_scored_escalated_and_audited(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let before = audit_count(&app).await?;
    let res = record(&app, &alex, MARGARET, json!({"set": seven()})).await?;
    ensure!(res.status == StatusCode::CREATED, "{}: {}", res.status, res.body);
    let v = res.json()?;
    ensure!(
        v["set"]["total"] == 7 && v["set"]["risk"] == "high" && v["set"]["monitoring"] == "continuous",
        "{v}"
    );
    ensure!(
        v["set"]["recorded_by"] == "alex.ap" && v["set"]["complete"] == true,
        "{v}"
    );
    answered_as_stored(&app, &v).await?;
    ensure!(v["escalation_level"] == "emergency", "{v}");
    ensure!(v["response"].as_str().unwrap().contains("Emergency response"), "{v}");
    ensure!(
        v["escalation"]["state"] == "open" && v["escalation"]["score"] == 7,
        "{v}"
    );
    // Continuous monitoring: the next set is due in 15 minutes.
    let taken = remit_domain::time::parse_instant("t", v["set"]["taken_at"].as_str().unwrap())?;
    let due = remit_domain::time::parse_instant("t", v["set"]["next_due_at"].as_str().unwrap())?;
    ensure!(due - taken == Duration::minutes(15));
    // One audit entry for the set and its escalation, committed together.
    ensure!(audit_count(&app).await? == before + 1);
    let last = app.store.audit_log(1).await?;
    ensure!(last[0].action == "vitals.record", "{:?}", last[0]);
    // The history and the list show it; the patient's page is readable by those on duty only.
    let list = app
        .get(&format!("/api/patients/{MARGARET}/observations"), &alex)
        .await?
        .json()?;
    ensure!(list[0]["total"] == 7, "{list}");
    let ben = app.token_for("ben.rn").await?;
    let res = app.get(&format!("/api/patients/{MARGARET}/observations"), &ben).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.status);
    ensure!(res.json()?["reasons"].as_array().is_some_and(|r| !r.is_empty()));
    Ok(())
}

async fn recording_passes_the_policy_and_refusals_name_every_reason(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let sam = app.token_for("sam.hca").await?;
    let before = audit_count(&app).await?;
    let res = record(&app, &sam, MARGARET, json!({"set": normal()})).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}: {}", res.status, res.body);
    let reasons = res.json()?["reasons"].clone();
    ensure!(
        reasons.to_string().contains("indirect supervision") && reasons.to_string().contains("Ward 7"),
        "{reasons}"
    );
    // The refusal is audited and nothing else is written.
    ensure!(audit_count(&app).await? == before + 1);
    let last = app.store.audit_log(1).await?;
    ensure!(last[0].decision == remit_domain::audit::Decision::Deny);
    let id = app
        .store
        .patient_id(&remit_domain::nhs::NhsNumber::parse(MARGARET)?)
        .await?;
    let sets_before = app
        .store
        .obs_for_patient(id, None, 100, remit_store::obs::SetVersions::All)
        .await?
        .len();
    // Named supervisor on duty on the ward: permitted.
    let res = record(&app, &sam, MARGARET, json!({"supervisor": "priya.rn", "set": normal()})).await?;
    ensure!(res.status == StatusCode::CREATED, "{}: {}", res.status, res.body);
    ensure!(res.json()?["set"]["supervisor"] == "priya.rn");
    answered_as_stored(&app, &res.json()?).await?;
    ensure!(
        app.store
            .obs_for_patient(id, None, 100, remit_store::obs::SetVersions::All)
            .await?
            .len()
            == sets_before + 1
    );
    // A supervisor on another ward does not count.
    let res = record(&app, &sam, MARGARET, json!({"supervisor": "ben.rn", "set": normal()})).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    // Off duty on the patient's ward: refused.
    let ben = app.token_for("ben.rn").await?;
    let res = record(&app, &ben, MARGARET, json!({"set": normal()})).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    Ok(())
}

async fn scale_2_applies_only_under_a_prescription(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    // On air at 90%: scale 1 scores 3; scale 2 would score 0.
    let mut body = set(16, 90, 124, 76, "alert", 37.0);
    body["spo2_scale"] = json!(2);
    let res = record(&app, &alex, MARGARET, json!({"set": body})).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    ensure!(
        res.body.contains("SpO2 scale 2 has not been prescribed"),
        "{}",
        res.body
    );
    // Prescribing needs a doctor or an advanced practitioner.
    let priya = app.token_for("priya.rn").await?;
    let rx = json!({"target": "88-92", "reason": "COPD, hypercapnic respiratory failure"});
    let res = app
        .post_json(&format!("/api/patients/{MARGARET}/scale-2"), &priya, &rx)
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    let okafor = app.token_for("dr.okafor").await?;
    let res = app
        .post_json(&format!("/api/patients/{MARGARET}/scale-2"), &okafor, &rx)
        .await?;
    ensure!(res.status == StatusCode::CREATED, "{}: {}", res.status, res.body);
    let bad = json!({"target": "92-88", "reason": "x"});
    let res = app
        .post_json(&format!("/api/patients/{MARGARET}/scale-2"), &okafor, &bad)
        .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("target"),
        "{}",
        res.body
    );
    // Now the set is scored on scale 2 without being asked, and asking for scale 1 is refused.
    let res = record(
        &app,
        &alex,
        MARGARET,
        json!({"set": set(16, 90, 124, 76, "alert", 37.0)}),
    )
    .await?;
    let v = res.json()?;
    ensure!(
        v["set"]["spo2_scale"] == 2 && v["set"]["scores"]["spo2"] == 0 && v["set"]["total"] == 0,
        "{v}"
    );
    answered_as_stored(&app, &v).await?;
    ensure!(
        v["scale2"]["target_low"] == 88,
        "the answer names the prescription: {v}"
    );
    let mut one = set(16, 90, 124, 76, "alert", 37.0);
    one["spo2_scale"] = json!(1);
    let res = record(&app, &alex, MARGARET, json!({"set": one})).await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("is prescribed"),
        "{}",
        res.body
    );
    Ok(())
}

async fn an_incomplete_set_is_recorded_with_reasons_and_due_sooner(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let mut body = normal();
    body.as_object_mut().unwrap().remove("temperature");
    let res = record(&app, &alex, MARGARET, json!({"set": body.clone()})).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("temperature"),
        "{}",
        res.body
    );
    body["missing"] = json!([{"parameter": "temperature", "absence": "refused", "reason": "asleep, declined"}]);
    let res = record(&app, &alex, MARGARET, json!({"set": body})).await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    let v = res.json()?;
    ensure!(
        v["set"]["complete"] == false && v["set"]["scores"]["temperature"].is_null(),
        "{v}"
    );
    ensure!(
        v["set"]["readings"]["missing"][0]["reason"] == "asleep, declined",
        "{v}"
    );
    answered_as_stored(&app, &v).await?;
    let taken = remit_domain::time::parse_instant("t", v["set"]["taken_at"].as_str().unwrap())?;
    let due = remit_domain::time::parse_instant("t", v["set"]["next_due_at"].as_str().unwrap())?;
    ensure!(
        due - taken == Duration::hours(1),
        "an incomplete set is repeated within the hour"
    );
    Ok(())
}

async fn corrections_keep_the_original_and_escalations_follow_them(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let v = record(&app, &alex, MARGARET, json!({"set": seven()})).await?.json()?;
    let version = v["set"]["id"].as_i64().unwrap();
    let set_id = v["set"]["set_id"].as_i64().unwrap();
    let esc = v["escalation"]["id"].as_i64().unwrap();
    // A correction needs a reason.
    let res = app
        .post_json(
            &format!("/api/observations/{version}/amend"),
            &alex,
            &json!({"reason": " ", "set": normal()}),
        )
        .await?;
    ensure!(res.status == StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = app
        .post_json(
            &format!("/api/observations/{version}/amend"),
            &alex,
            &json!({"reason": "respiration rate miscounted", "set": normal()}),
        )
        .await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    let amended = res.json()?;
    ensure!(
        amended["set"]["version"] == 2 && amended["set"]["total"] == 0,
        "{amended}"
    );
    // Amending the superseded version again is a conflict.
    let res = app
        .post_json(
            &format!("/api/observations/{version}/amend"),
            &alex,
            &json!({"reason": "again", "set": normal()}),
        )
        .await?;
    ensure!(res.status == StatusCode::CONFLICT, "{}", res.body);
    let history = app
        .get(&format!("/api/observations/{set_id}/history"), &alex)
        .await?
        .json()?;
    ensure!(history.as_array().unwrap().len() == 2, "{history}");
    ensure!(
        history[0]["state"] == "superseded" && history[0]["total"] == 7,
        "{history}"
    );
    ensure!(history[1]["change_reason"] == "respiration rate miscounted" && history[1]["changed_by"] == "alex.ap");
    // The escalation stays open, now carrying the corrected score and a note saying why.
    let e = app.store.escalation(esc).await?;
    ensure!(e.state == "open" && e.score == Some(0), "{e:?}");
    ensure!(e.note.as_deref().unwrap_or_default().contains("corrected"), "{e:?}");
    // Entered in error: kept, no longer current; the escalation still waits for a person.
    let v2 = amended["set"]["id"].as_i64().unwrap();
    let res = app
        .post_json(
            &format!("/api/observations/{v2}/entered-in-error"),
            &alex,
            &json!({"reason": "wrong patient"}),
        )
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    ensure!(res.json()?["state"] == "entered-in-error");
    let current = app
        .get(&format!("/api/patients/{MARGARET}/observations"), &alex)
        .await?
        .json()?;
    ensure!(
        current.as_array().unwrap().iter().all(|s| s["set_id"] != set_id),
        "{current}"
    );
    let all = app
        .get(&format!("/api/patients/{MARGARET}/observations?all=true"), &alex)
        .await?
        .json()?;
    ensure!(all.as_array().unwrap().iter().filter(|s| s["set_id"] == set_id).count() == 2);
    let e = app.store.escalation(esc).await?;
    ensure!(e.state == "open" && e.note.unwrap_or_default().contains("entered in error"));
    Ok(())
}

async fn escalations_are_acknowledged_reviewed_and_cascade_when_ignored(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let v = record(&app, &alex, MARGARET, json!({"set": seven()})).await?.json()?;
    let id = v["escalation"]["id"].as_i64().unwrap();
    let priya = app.token_for("priya.rn").await?;
    let open = app
        .get("/api/escalations?open=true&ward=ward-7", &priya)
        .await?
        .json()?;
    let mine = open
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .context("listed")?
        .clone();
    ensure!(mine["recipients"].to_string().contains("priya.rn"), "{mine}");
    ensure!(
        mine["recipients"].to_string().contains("dr.okafor"),
        "the medical team is told: {mine}"
    );
    // Nobody acknowledges (the pack gives an emergency 5 minutes): told again, then the nurse in charge and the
    // site manager, then the consultant; a sweep that comes late takes every step due.
    app.clock.advance(Duration::minutes(6));
    let e = &app.get("/api/escalations?open=true", &priya).await?.json()?;
    let e = e.as_array().unwrap().iter().find(|e| e["id"] == id).unwrap().clone();
    ensure!(e["stage"] == 1, "{e}");
    app.clock.advance(Duration::minutes(10));
    let e = &app.get("/api/escalations?open=true", &priya).await?.json()?;
    let e = e.as_array().unwrap().iter().find(|e| e["id"] == id).unwrap().clone();
    ensure!(e["stage"] == 3, "{e}");
    ensure!(e["recipients"].to_string().contains("nurse in charge"), "{e}");
    ensure!(e["recipients"].to_string().contains("registrar"), "{e}");
    ensure!(e["history"].to_string().contains("cascaded (step 3)"), "{e}");
    // An assistant practitioner may not acknowledge; the registered nurse may, once.
    let res = app
        .post_json(&format!("/api/escalations/{id}/acknowledge"), &alex, &json!({}))
        .await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("NMC"),
        "{}",
        res.body
    );
    let res = app
        .post_json(&format!("/api/escalations/{id}/acknowledge"), &priya, &json!({}))
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let v = res.json()?;
    ensure!(
        v["state"] == "acknowledged" && v["acknowledged_by"] == "priya.rn" && v["waiting_minutes"] == 16,
        "{v}"
    );
    let res = app
        .post_json(&format!("/api/escalations/{id}/acknowledge"), &priya, &json!({}))
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    // The review is the medical team's.
    let res = app
        .post_json(
            &format!("/api/escalations/{id}/review"),
            &priya,
            &json!({"note": "seen"}),
        )
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    let okafor = app.token_for("dr.okafor").await?;
    let res = app
        .post_json(
            &format!("/api/escalations/{id}/review"),
            &okafor,
            &json!({"note": "sepsis pathway, to HDU"}),
        )
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    ensure!(res.json()?["state"] == "closed");
    // The CLI lists what is still open.
    let out = db.remit(&["escalation", "list", "--open", "--ward", "ward-9", "--json"]);
    expect_status(&out, 0)?;
    let list: Value = serde_json::from_str(&stdout(&out))?;
    ensure!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|e| e["place"] == "ward-9" && e["state"] != "closed"),
        "{list}"
    );
    Ok(())
}

async fn a_higher_score_raises_it_again_and_a_lower_one_closes_nothing(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    // Score 3 by a single red parameter.
    let v = record(
        &app,
        &alex,
        MARGARET,
        json!({"set": set(16, 97, 124, 76, "new-confusion", 37.0)}),
    )
    .await?
    .json()?;
    let first = v["escalation"]["id"].as_i64().unwrap();
    ensure!(v["escalation"]["level"] == "single-red", "{v}");
    // Lower: nothing new, nothing closed.
    let v = record(&app, &alex, MARGARET, json!({"set": normal()})).await?.json()?;
    ensure!(v["escalation"].is_null(), "{v}");
    ensure!(app.store.escalation(first).await?.state == "open");
    // Higher: the same escalation, raised again at the higher level with the new score.
    let v = record(&app, &alex, MARGARET, json!({"set": seven()})).await?.json()?;
    ensure!(v["escalation"]["id"] == first, "{v}");
    let e = app.store.escalation(first).await?;
    ensure!(
        e.state == "open" && e.level.as_str() == "emergency" && e.score == Some(7),
        "{e:?}"
    );
    Ok(())
}

async fn overdue_patients_are_listed_with_how_late(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let priya = app.token_for("priya.rn").await?;
    let list = app.get("/api/observations/overdue?ward=ward-7", &priya).await?.json()?;
    let george = list
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["patient"] == "9990005486")
        .context("George Wilson is overdue")?
        .clone();
    ensure!(george["minutes_late"] == 120, "{george}");
    ensure!(!list.to_string().contains(MARGARET), "{list}");
    // Eleven hours on, Margaret's 12-hourly observations are due too.
    app.clock.advance(Duration::hours(11));
    let list = app.get("/api/observations/overdue?ward=ward-7", &priya).await?.json()?;
    ensure!(list.to_string().contains(MARGARET), "{list}");
    // Patients on another ward are not shown to her.
    ensure!(!list.to_string().contains("9990009597"), "{list}");
    let out = db.remit(&["obs", "overdue", "--ward", "ward-9", "--json"]);
    expect_status(&out, 0)?;
    ensure!(stdout(&out).contains("9990009597"));
    let out = db.remit(&["obs", "overdue", "--ward", "ward-99"]);
    expect_status(&out, 2)?;
    Ok(())
}

async fn bad_sets_are_refused_and_change_nothing(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let before = audit_count(&app).await?;
    for (body, field) in [
        (json!({"set": set(81, 97, 124, 76, "alert", 37.0)}), "respiration_rate"),
        (json!({"set": set(16, 101, 124, 76, "alert", 37.0)}), "spo2"),
        (json!({"set": set(16, 97, 124, 76, "drowsy", 37.0)}), "consciousness"),
        (json!({"set": set(16, 97, 124, 76, "alert", 45.1)}), "temperature"),
        (json!({"set": set(16, 97, 124, 76, "alert", 37.05)}), "temperature"),
        (json!({"set": normal(), "colour": "red"}), "colour"),
        (json!({"set": normal(), "taken_at": "2099-01-01T00:00:00Z"}), "taken_at"),
        (json!({"set": normal(), "supervisor": "nobody.here"}), "nobody.here"),
    ] {
        let res = record(&app, &alex, MARGARET, body.clone()).await?;
        ensure!(res.status.is_client_error(), "{body}: {}", res.status);
        ensure!(res.body.contains(field), "{body}: {}", res.body);
    }
    let res = record(&app, &alex, "9990000000", json!({"set": normal()})).await?;
    ensure!(res.status.is_client_error(), "{}", res.body);
    ensure!(audit_count(&app).await? == before, "bad input writes nothing");
    // The CLI: exit 2 and a message naming the field.
    let out = db.remit(&["obs", "record", "--patient", MARGARET, "--by", "alex.ap", "--rr", "81"]);
    expect_status(&out, 2)?;
    Ok(())
}

fn loinc(code: &str) -> Value {
    json!({"coding": [{"system": "http://loinc.org", "code": code}]})
}

fn observation(code: &str, value: (&str, Value)) -> Value {
    let mut o = json!({
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": loinc(code),
        "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": MARGARET}},
        "effectiveDateTime": "2026-11-25T09:50:00Z"
    });
    o[value.0] = value.1;
    o
}

fn qty(v: f64, unit: &str) -> (&'static str, Value) {
    (
        "valueQuantity",
        json!({"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}),
    )
}

pub(crate) fn bundle_of_seven() -> Value {
    let entries: Vec<Value> = [
        observation("9279-1", qty(25.0, "/min")),
        observation("59408-5", qty(93.0, "%")),
        observation("3151-8", qty(0.0, "L/min")),
        observation("85354-9", ("component", json!([
            {"code": loinc("8480-6"), "valueQuantity": {"value": 105, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": loinc("8462-4"), "valueQuantity": {"value": 65, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]))),
        observation("8867-4", qty(105.0, "/min")),
        observation("67775-7", ("valueCodeableConcept", loinc("LA9340-6"))),
        observation("8310-5", qty(37.5, "Cel")),
    ]
    .into_iter()
    .map(|r| json!({"resource": r, "request": {"method": "POST", "url": "Observation"}}))
    .collect();
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

pub(crate) async fn post_fhir(
    app: &TestApp,
    path: &str,
    auth: &Auth,
    body: &Value,
) -> Result<crate::helpers::TestResponse> {
    let Auth::Bearer(t) = auth else { anyhow::bail!("bearer") };
    let req = Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header(header::CONTENT_TYPE, "application/fhir+json")
        .body(Body::from(body.to_string()))?;
    app.send(req).await
}

fn model_conforms(v: &Value) -> Result<()> {
    remit_fhir::conforms(v).map_err(|e| anyhow::anyhow!("{} at {:?}", e.diagnostics, e.expression))
}

async fn fhir_transaction_bundles_record_a_set_with_its_news2_total(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let mut b = bundle_of_seven();
    let effective = remit_domain::time::format_instant(app.store.now() - Duration::minutes(10));
    for e in b["entry"].as_array_mut().unwrap() {
        e["resource"]["effectiveDateTime"] = json!(effective);
    }
    let res = post_fhir(&app, "/fhir", &alex, &b).await?;
    ensure!(res.status == StatusCode::OK, "{}: {}", res.status, res.body);
    let v = res.json()?;
    model_conforms(&v)?;
    ensure!(
        v["type"] == "transaction-response" && v["entry"].as_array().unwrap().len() == 8,
        "{v}"
    );
    // An entry per posted Observation, its time of recording and no resource; then the total, named and held.
    for e in &v["entry"].as_array().unwrap()[..7] {
        ensure!(
            e["response"]["status"] == "201 Created"
                && e["response"]["lastModified"].is_string()
                && e.get("resource").is_none()
                && e.get("fullUrl").is_none(),
            "{e}"
        );
    }
    // The location names the version created.
    ensure!(
        v["entry"][7]["response"]["location"]
            == json!(format!(
                "{}/_history/1",
                v["entry"][7]["fullUrl"].as_str().unwrap_or_default()
            )),
        "{v}"
    );
    let total = &v["entry"][7]["resource"];
    ensure!(
        total["code"]["coding"][0]["code"] == "1104051000000101" && total["valueInteger"] == 7,
        "{total}"
    );
    ensure!(
        total["derivedFrom"].as_array().unwrap().len() == 7
            && total["interpretation"][0]["coding"][0]["code"] == "high"
    );
    ensure!(
        res.header("x-remit-escalation")
            .is_some_and(|h| h.ends_with("emergency"))
    );
    // Each location reads back as a conforming Observation.
    for e in v["entry"].as_array().unwrap() {
        let loc = e["response"]["location"].as_str().unwrap();
        let r = app.get(&format!("/fhir/{loc}"), &alex).await?;
        ensure!(r.status == StatusCode::OK, "{loc}: {}", r.body);
        model_conforms(&r.json()?)?;
    }
    // Search: newest first, by code and date; the patient by NHS number; the server's metadata.
    let s = app
        .get(&format!("/fhir/Observation?patient=Patient/{MARGARET}&code=http://loinc.org|9279-1&date=ge2000-01-01&_sort=-date&_count=5"), &alex)
        .await?;
    ensure!(s.status == StatusCode::OK, "{}", s.body);
    let s = s.json()?;
    model_conforms(&s)?;
    ensure!(s["entry"][0]["resource"]["valueQuantity"]["value"] == 25.0, "{s}");
    ensure!(
        s["entry"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["resource"]["code"]["coding"][0]["code"] == "9279-1")
    );
    let p = app
        .get(
            &format!("/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{MARGARET}"),
            &alex,
        )
        .await?
        .json()?;
    model_conforms(&p)?;
    ensure!(p["entry"][0]["resource"]["name"][0]["family"] == "Hughes", "{p}");
    let m = app.get("/fhir/metadata", &alex).await?.json()?;
    model_conforms(&m)?;
    // One sign on its own is not a NEWS2 set unless it is consciousness, which can always be assessed: a lone
    // pulse is refused, naming it; a lone ACVPU is an incomplete set.
    let mut one = observation("8867-4", qty(88.0, "/min"));
    one["effectiveDateTime"] = json!(effective);
    let res = post_fhir(&app, "/fhir/Observation", &alex, &one).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("consciousness"),
        "{}",
        res.body
    );
    let mut one = observation("67775-7", ("valueCodeableConcept", loinc("LA9340-6")));
    one["effectiveDateTime"] = json!(effective);
    let res = post_fhir(&app, "/fhir/Observation", &alex, &one).await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    model_conforms(&res.json()?)?;
    ensure!(res.header("link").is_some_and(|l| l.contains("-news2")));
    Ok(())
}

async fn fhir_errors_name_the_element_and_refusals_list_every_reason(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let before = audit_count(&app).await?;
    let mut b = bundle_of_seven();
    b["entry"][2]["resource"]["colour"] = json!("red");
    let res = post_fhir(&app, "/fhir", &alex, &b).await?;
    ensure!(res.status == StatusCode::BAD_REQUEST, "{}: {}", res.status, res.body);
    ensure!(
        res.json()?["issue"][0]["expression"][0] == "Bundle.entry[2].resource.colour",
        "{}",
        res.body
    );
    let mut b = bundle_of_seven();
    b["entry"][0]["resource"]["code"]["coding"][0]["code"] = json!("0000-0");
    let res = post_fhir(&app, "/fhir", &alex, &b).await?;
    ensure!(res.status == StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    ensure!(res.json()?["issue"][0]["expression"][0] == "Bundle.entry[0].resource.code");
    let mut b = bundle_of_seven();
    b["entry"][4]["resource"]["valueQuantity"]["value"] = json!(400);
    let res = post_fhir(&app, "/fhir", &alex, &b).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("pulse"),
        "{}",
        res.body
    );
    ensure!(audit_count(&app).await? == before);
    // A support worker with no supervisor named: 403, one issue per reason.
    let sam = app.token_for("sam.hca").await?;
    let mut b = bundle_of_seven();
    let now = remit_domain::time::format_instant(app.store.now());
    for e in b["entry"].as_array_mut().unwrap() {
        e["resource"]["effectiveDateTime"] = json!(now);
    }
    let res = post_fhir(&app, "/fhir", &sam, &b).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    let v = res.json()?;
    ensure!(
        v["issue"].as_array().unwrap().iter().all(|i| i["code"] == "forbidden"),
        "{v}"
    );
    // Naming the supervisor as a performer.
    for e in b["entry"].as_array_mut().unwrap() {
        e["resource"]["performer"] = json!([{"reference": "Practitioner/priya.rn"}]);
    }
    let res = post_fhir(&app, "/fhir", &sam, &b).await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    Ok(())
}

async fn the_demo_stories_are_told(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let okafor = app.token_for("dr.okafor").await?;
    let sets = |nhs: &'static str| {
        let app = &app;
        let auth = okafor.clone();
        async move {
            let v = app
                .get(&format!("/api/patients/{nhs}/observations"), &auth)
                .await?
                .json()?;
            let totals: Vec<i64> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["total"].as_i64().unwrap())
                .collect();
            anyhow::Ok((v, totals))
        }
    };
    let (_, margaret) = sets(MARGARET).await?;
    ensure!(margaret.len() == 6 && margaret.iter().all(|t| *t <= 1), "{margaret:?}");
    let (_, david) = sets(DAVID).await?;
    ensure!(david == vec![6, 4, 2], "newest first: {david:?}");
    let (aisha, _) = sets("9990004110").await?;
    ensure!(
        aisha[0]["scores"]["consciousness"] == 3 && aisha[0]["risk"] == "low-medium",
        "{aisha}"
    );
    let (peter, _) = sets("9990008221").await?;
    ensure!(
        peter[0]["spo2_scale"] == 2 && peter[0]["readings"]["on_oxygen"] == true,
        "{peter}"
    );
    let open = app
        .get("/api/escalations?open=true&ward=ward-9", &okafor)
        .await?
        .json()?;
    let susan = open
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["patient"] == "9990009597")
        .context("Susan Blake's escalation is open")?
        .clone();
    ensure!(
        susan["score"] == 7 && susan["state"] == "open" && susan["waiting_minutes"] == 60,
        "{susan}"
    );
    Ok(())
}
