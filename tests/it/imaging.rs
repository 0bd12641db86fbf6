//! X-ray work under IR(ME)R, step by step, and the line an assistant practitioner never crosses: diagnosis and
//! prescription.

use anyhow::{Context, Result, ensure};
use axum::body::Body;
use axum::http::{Request, StatusCode, StatusCode as S, header};
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, TestDb, TestResponse, expect_status, stderr, stdout};
use crate::tables::{CliCase, Said, api, audit, cli, page};

crate::tests!(
    the_demo_requests_wait_where_the_story_says,
    the_irmer_chain_runs_from_referral_to_report,
    an_assistant_practitioner_may_neither_justify_nor_report,
    a_rejection_reaches_the_referrer,
    the_pregnancy_enquiry_returns_the_request_to_the_practitioner,
    the_pregnancy_enquiry_asks_everyone_in_the_age_range_for_that_day,
    drls_are_compared_per_projection_where_they_are_set_so,
    a_dose_above_the_drl_is_reviewed_once_by_a_practitioner,
    worklists_dose_history_and_operator_activity,
    diagnoses_and_prescriptions_only_within_scope,
    the_catalogue_is_data_and_a_bad_one_is_named,
    fhir_service_requests_and_reports,
);

const DAVID: &str = "9990002746";
const LINDA: &str = "9990013705";

fn exposure(dap: f64) -> Value {
    json!({"supervision": "indirect", "supervisor": "tom.rad", "projections": ["PA"], "kv": 110, "mas": 2.5,
           "dap": dap, "sid_cm": 180})
}

fn referral(patient: &str, exam: &str) -> Value {
    json!({"patient": patient, "examination": exam, "clinical_info": "Cough for three weeks: ? consolidation"})
}

async fn refer(app: &TestApp, auth: &Auth, patient: &str, exam: &str) -> Result<TestResponse> {
    app.post_json("/api/imaging/requests", auth, &referral(patient, exam))
        .await
}

async fn the_demo_requests_wait_where_the_story_says(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let tom = app.token_for("tom.rad").await?;
    let exposure = app
        .get("/api/imaging/worklist?stage=awaiting-exposure", &tom)
        .await?
        .json()?;
    let john = &exposure[0];
    ensure!(
        john["patient"] == "9990012334" && john["examination"] == "chest-pa" && john["referrer"] == "dr.okafor",
        "{exposure}"
    );
    ensure!(john["practitioner"] == "tom.rad" && john["status"] == "justified");
    let justification = app
        .get("/api/imaging/worklist?stage=awaiting-justification", &tom)
        .await?
        .json()?;
    ensure!(
        justification[0]["patient"] == LINDA && justification[0]["referrer"] == "maria.acp",
        "{justification}"
    );
    ensure!(justification[0]["examination"] == "lumbar-spine");
    let res = app.get("/api/imaging/worklist?stage=upside-down", &tom).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("stage"),
        "{}",
        res.body
    );
    Ok(())
}

/// The IR(ME)R chain over the JSON API: referral with clinical information, justification by a practitioner, exposure
/// by an operator under supervision against the DRL, once, and the report, each audited.
async fn the_irmer_chain_runs_from_referral_to_report(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let mut alone = exposure(0.08);
    alone["supervision"] = json!("none");
    alone.as_object_mut().unwrap().remove("supervisor");
    let expose = "POST /api/imaging/requests/{id}/expose";
    app.story(
        &db,
        vec![
            api(
                "no clinical information",
                "dr.okafor",
                "POST /api/imaging/requests",
                S::UNPROCESSABLE_ENTITY,
            )
            .body(json!({"patient": DAVID, "examination": "chest-pa", "clinical_info": "  "}))
            .said(Said::Contains("clinical_info"))
            .into(),
            audit("nothing written", &[]),
            api(
                "Dr Okafor refers David for a chest X-ray",
                "dr.okafor",
                "POST /api/imaging/requests",
                S::CREATED,
            )
            .body(referral(DAVID, "chest-pa"))
            .keep("id", "/id")
            .into(),
            api(
                "not yet justified: the operator may not expose, and says why",
                "jo.ap",
                expose,
                S::FORBIDDEN,
            )
            .body(exposure(0.08))
            .said(Said::Contains("justified"))
            .into(),
            api(
                "the practitioner in the department justifies a patient on the ward",
                "tom.rad",
                "POST /api/imaging/requests/{id}/justify",
                S::OK,
            )
            .body(json!({"note": "indicated"}))
            .said(Said::At("/status", json!("justified")))
            .into(),
            api(
                "an AP exposes only under a radiographer's indirect supervision",
                "jo.ap",
                expose,
                S::FORBIDDEN,
            )
            .body(alone)
            .said(Said::Contains("indirect supervision"))
            .into(),
            api(
                "exposed under supervision, above the DRL (0.12 > 0.10)",
                "jo.ap",
                expose,
                S::OK,
            )
            .body(exposure(0.12))
            .said(Said::At("/status", json!("exposed")))
            .said(Said::At("/exposure/operator", json!("jo.ap")))
            .said(Said::At("/exposure/supervisor", json!("tom.rad")))
            .said(Said::At("/exposure/kv", json!(110)))
            .said(Said::At("/exposure/drl_exceeded", json!(true)))
            .said(Said::At("/exposure/drl_dap", json!(0.1)))
            .into(),
            api("exposed once only, and told so", "jo.ap", expose, S::CONFLICT)
                .body(exposure(0.08))
                .said(Said::Error("is exposed: a request is exposed once only"))
                .into(),
            api(
                "the radiologist reports",
                "dr.reid",
                "POST /api/imaging/requests/{id}/report",
                S::OK,
            )
            .body(json!({"findings": "Right basal opacity.", "conclusion": "Right lower lobe consolidation."}))
            .said(Said::At("/report/reporter", json!("dr.reid")))
            .into(),
            audit(
                "each step audited, each refusal too",
                &[
                    "imaging.refer",
                    "imaging.expose refused",
                    "imaging.justify",
                    "imaging.expose refused",
                    "imaging.expose",
                    "imaging.report",
                ],
            ),
            api(
                "the referrer reads the request",
                "dr.okafor",
                "GET /api/imaging/requests/{id}",
                S::OK,
            )
            .said(Said::At("/status", json!("reported")))
            .into(),
            api(
                "the exceedance is listed for review",
                "tom.rad",
                "GET /api/imaging/worklist?stage=drl-exceeded",
                S::OK,
            )
            .said(Said::Has("", json!({"id": "{id}"})))
            .into(),
        ],
    )
    .await
}

/// An exposure above its DRL waits on the department's worklist until an IR(ME)R practitioner reviews it and says what
/// the review found: over the API, the page or the command line, with the same decision and audit; once only.
async fn a_dose_above_the_drl_is_reviewed_once_by_a_practitioner(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let review = "POST /api/imaging/requests/1/review-dose";
    app.story(
        &db,
        vec![
            cli(
                "a request with no exposure has no dose to review",
                "imaging review-dose 2 --by tom.rad --note 'checked'",
                2,
            )
            .err(&["has no exposure to review"])
            .into(),
            page(
                "the operator is told the DRL",
                "jo.ap",
                "GET /imaging/requests/1",
                S::OK,
            )
            .said(Said::Contains(
                "The local diagnostic reference level: 0.100 Gy·cm² for each projection.",
            ))
            .into(),
            api(
                "John's chest X-ray, exposed above the DRL",
                "jo.ap",
                "POST /api/imaging/requests/1/expose",
                S::OK,
            )
            .body(exposure(0.12))
            .said(Said::At("/exposure/drl_exceeded", json!(true)))
            .said(Said::At("/exposure/drl_review", json!(null)))
            .into(),
            page(
                "the operator is not offered the review",
                "jo.ap",
                "GET /imaging/requests/1",
                S::OK,
            )
            .said(Said::Contains("waiting for review"))
            .said(Said::Lacks("review-dose-form"))
            .into(),
            page("the practitioner is", "tom.rad", "GET /imaging/requests/1", S::OK)
                .said(Said::Contains("id=\"review-dose-form\""))
                .into(),
            api(
                "an assistant practitioner may not review it",
                "jo.ap",
                review,
                S::FORBIDDEN,
            )
            .body(json!({"note": "looks fine"}))
            .said(Said::Contains("irmer-practitioner"))
            .into(),
            api(
                "a review says what it found",
                "tom.rad",
                review,
                S::UNPROCESSABLE_ENTITY,
            )
            .body(json!({"note": "  "}))
            .said(Said::Error("note: say what the review found"))
            .into(),
            api("nothing else is taken", "tom.rad", review, S::UNPROCESSABLE_ENTITY)
                .body(json!({"note": "fine", "approved": true}))
                .into(),
            api(
                "still waiting on the worklist",
                "tom.rad",
                "GET /api/imaging/worklist?stage=drl-exceeded",
                S::OK,
            )
            .said(Said::Has("", json!({"id": 1})))
            .into(),
            page(
                "the practitioner reviews it from the page",
                "tom.rad",
                "POST /imaging/requests/1/review-dose",
                S::OK,
            )
            .form(&[(
                "note",
                "Large patient habitus; technique appropriate, no equipment fault.",
            )])
            .redirects()
            .said(Said::Contains("The review of request 1&#39;s dose is recorded."))
            .said(Said::Contains("<dt>Dose review</dt><dd>Large patient habitus"))
            .said(Said::Lacks("review-dose-form"))
            .said(Said::Lacks("waiting for review"))
            .into(),
            api("reviewed once only", "tom.rad", review, S::CONFLICT)
                .body(json!({"note": "again"}))
                .said(Said::Error(
                    "imaging request 1's dose above the DRL was reviewed already",
                ))
                .into(),
            cli(
                "the command line says the same",
                "imaging review-dose 1 --by dr.reid --note 'again'",
                2,
            )
            .err(&["reviewed already"])
            .into(),
            api(
                "off the worklist",
                "tom.rad",
                "GET /api/imaging/worklist?stage=drl-exceeded",
                S::OK,
            )
            .said(Said::HasNo("", json!({"id": 1})))
            .into(),
            api(
                "the request keeps the review",
                "dr.okafor",
                "GET /api/imaging/requests/1",
                S::OK,
            )
            .said(Said::At("/exposure/drl_review/by", json!("tom.rad")))
            .said(Said::At(
                "/exposure/drl_review/note",
                json!("Large patient habitus; technique appropriate, no equipment fault."),
            ))
            .into(),
            audit(
                "the exposure, the refusal and the review audited",
                &["imaging.expose", "imaging.review-dose refused", "imaging.review-dose"],
            ),
        ],
    )
    .await
}

async fn an_assistant_practitioner_may_neither_justify_nor_report(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let jo = app.token_for("jo.ap").await?;
    let res = app
        .post_json("/api/imaging/requests/2/justify", &jo, &json!({}))
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    let reasons = res.json()?["reasons"].clone();
    ensure!(
        reasons.as_array().unwrap().len() == 2,
        "registration and entitlement: {reasons}"
    );
    ensure!(
        reasons.to_string().contains("radiographer (HCPC RA) or a doctor (GMC)")
            && reasons.to_string().contains("irmer-practitioner")
    );
    let last = app.store.audit_log(1).await?;
    ensure!(last[0].decision == remit_domain::audit::Decision::Deny && last[0].action == "imaging.justify");
    // John's chest X-ray: exposed by Jo under Tom, then Jo may not report it.
    let res = app
        .post_json("/api/imaging/requests/1/expose", &jo, &exposure(0.08))
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let res = app
        .post_json(
            "/api/imaging/requests/1/report",
            &jo,
            &json!({"conclusion": "Normal chest."}),
        )
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    let reasons = res.json()?["reasons"].to_string();
    ensure!(
        reasons.contains("image-reporting") && reasons.contains("level 4"),
        "{reasons}"
    );
    // The trainee exposes only under direct supervision.
    let ria = app.token_for("ria.trainee").await?;
    let res = app
        .post_json("/api/imaging/requests/1/expose", &ria, &exposure(0.08))
        .await?;
    ensure!(res.status.is_client_error(), "{}", res.body);
    Ok(())
}

async fn a_rejection_reaches_the_referrer(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let tom = app.token_for("tom.rad").await?;
    let res = app
        .post_json("/api/imaging/requests/2/reject", &tom, &json!({"note": " "}))
        .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("reason"),
        "{}",
        res.body
    );
    let res = app
        .post_json(
            "/api/imaging/requests/2/reject",
            &tom,
            &json!({"note": "No red flags: manage conservatively, MRI if symptoms persist."}),
        )
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let maria = app.token_for("maria.acp").await?;
    let v = app.get("/api/imaging/requests/2", &maria).await?.json()?;
    ensure!(
        v["status"] == "rejected" && v["decision_note"].as_str().unwrap().contains("conservatively"),
        "{v}"
    );
    let res = app
        .post_json("/api/imaging/requests/2/justify", &tom, &json!({}))
        .await?;
    ensure!(res.status == StatusCode::CONFLICT, "{}", res.body);
    Ok(())
}

async fn the_pregnancy_enquiry_returns_the_request_to_the_practitioner(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let tom = app.token_for("tom.rad").await?;
    app.post_json(
        "/api/imaging/requests/2/justify",
        &tom,
        &json!({"note": "fall, tender L3"}),
    )
    .await?;
    let op =
        json!({"projections": ["AP", "lateral"], "kv": 85, "mas": 20, "projection_dap": [0.5, 0.7], "sid_cm": 100});
    let res = app.post_json("/api/imaging/requests/2/expose", &tom, &op).await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("pregnancy enquiry"),
        "{}",
        res.body
    );
    for answer in ["could-be", "declined"] {
        let res = app
            .post_json("/api/imaging/requests/2/pregnancy", &tom, &json!({"answer": answer}))
            .await?;
        ensure!(res.status == StatusCode::OK, "{}", res.body);
        let v = res.json()?;
        ensure!(v["status"] == "returned" && v["pregnancy"] == answer, "{v}");
        ensure!(
            v["returned_reason"]
                .as_str()
                .unwrap()
                .contains("practitioner must decide again")
        );
        let res = app.post_json("/api/imaging/requests/2/expose", &tom, &op).await?;
        ensure!(
            res.status == StatusCode::FORBIDDEN,
            "returned, not exposable: {}",
            res.body
        );
        let res = app
            .post_json(
                "/api/imaging/requests/2/justify",
                &tom,
                &json!({"note": "benefit outweighs the risk"}),
            )
            .await?;
        ensure!(res.json()?["status"] == "justified", "{}", res.body);
    }
    let res = app
        .post_json("/api/imaging/requests/2/pregnancy", &tom, &json!({"answer": "maybe"}))
        .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("answer"),
        "{}",
        res.body
    );
    let res = app.post_json("/api/imaging/requests/2/expose", &tom, &op).await?;
    ensure!(
        res.status == StatusCode::OK,
        "re-justified after the answer: {}",
        res.body
    );
    Ok(())
}

async fn worklists_dose_history_and_operator_activity(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let jo = app.token_for("jo.ap").await?;
    app.post_json("/api/imaging/requests/1/expose", &jo, &exposure(0.08))
        .await?;
    let tom = app.token_for("tom.rad").await?;
    let report = app
        .get("/api/imaging/worklist?stage=awaiting-report", &tom)
        .await?
        .json()?;
    ensure!(report[0]["id"] == 1, "{report}");
    let csv = app
        .get("/api/patients/9990012334/dose-history?format=csv", &tom)
        .await?;
    ensure!(
        csv.header("content-type").is_some_and(|c| c.starts_with("text/csv")),
        "{:?}",
        csv.headers
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    ensure!(
        lines.len() == 2 && lines[0].starts_with("request,patient,examination"),
        "{}",
        csv.body
    );
    ensure!(
        lines[1].contains("\"chest-pa\"")
            && lines[1].ends_with(",0.080")
            && (lines[1].contains(" GMT\"") || lines[1].contains(" BST\"")),
        "{}",
        csv.body
    );
    let json = app.get("/api/patients/9990012334/dose-history", &tom).await?.json()?;
    ensure!(json[0]["cumulative_dap"] == 0.08, "{json}");
    let mine = app.get("/api/imaging/operators/jo.ap/activity", &jo).await?.json()?;
    ensure!(mine.as_array().unwrap().len() == 1, "{mine}");
    let ria = app.token_for("ria.trainee").await?;
    let res = app.get("/api/imaging/operators/jo.ap/activity", &ria).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    // The CLI: worklists and CSV.
    let out = db.remit(&["imaging", "worklist", "--stage", "awaiting-justification", "--json"]);
    expect_status(&out, 0)?;
    ensure!(stdout(&out).contains(LINDA));
    let out = db.remit(&["imaging", "operator-activity", "--operator", "jo.ap", "--csv"]);
    expect_status(&out, 0)?;
    ensure!(stdout(&out).lines().count() == 2, "{}", stdout(&out));
    Ok(())
}

async fn post_fhir(app: &TestApp, path: &str, auth: &Auth, body: &Value) -> Result<TestResponse> {
    let Auth::Bearer(t) = auth else { anyhow::bail!("bearer") };
    let req = Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header(header::CONTENT_TYPE, "application/fhir+json")
        .body(Body::from(body.to_string()))?;
    app.send(req).await
}

fn conforms(v: &Value) -> Result<()> {
    remit_fhir::conforms(v).map_err(|e| anyhow::anyhow!("{} at {:?}", e.diagnostics, e.expression))
}

async fn diagnoses_and_prescriptions_only_within_scope(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let condition = json!({"resourceType": "Condition", "subject": {"reference": format!("Patient/{DAVID}")},
        "code": {"text": "Community-acquired pneumonia", "coding": [{"system": "http://snomed.info/sct", "code": "385093006"}]}});
    let medication = json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"text": "Amoxicillin"},
        "subject": {"reference": format!("Patient/{DAVID}")},
        "dosageInstruction": [{"route": {"text": "oral"}, "timing": {"code": {"text": "three times a day"}},
            "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg"}}]}]});
    let alex = app.token_for("alex.ap").await?;
    let maria = app.token_for("maria.acp").await?;
    let before = app.store.audit_log(1).await?[0].seq;
    for (path, body) in [
        ("/fhir/Condition", &condition),
        ("/fhir/MedicationRequest", &medication),
    ] {
        let res = post_fhir(&app, path, &alex, body).await?;
        ensure!(res.status == StatusCode::FORBIDDEN, "{path}: {}", res.body);
        let v = res.json()?;
        conforms(&v)?;
        ensure!(
            v["issue"].as_array().unwrap().iter().all(|i| i["code"] == "forbidden"),
            "{v}"
        );
    }
    let log = app.store.audit_log(2).await?;
    ensure!(
        log.iter()
            .all(|e| e.decision == remit_domain::audit::Decision::Deny && e.seq > before)
    );
    let res = post_fhir(&app, "/fhir/Condition", &app.token_for("dr.okafor").await?, &condition).await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    conforms(&res.json()?)?;
    let res = post_fhir(&app, "/fhir/MedicationRequest", &maria, &medication).await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    let v = res.json()?;
    conforms(&v)?;
    ensure!(
        v["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 500.0,
        "{v}"
    );
    // Validated content: no dose, an unknown element.
    let mut bad = medication.clone();
    bad["dosageInstruction"][0]
        .as_object_mut()
        .unwrap()
        .remove("doseAndRate");
    let res = post_fhir(&app, "/fhir/MedicationRequest", &maria, &bad).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("doseAndRate"),
        "{}",
        res.body
    );
    // A dose only in words (which FHIR allows): the assistant practitioner is told first that they may not prescribe
    // at all, with the reasons; the prescriber, what remit needs instead.
    let mut words = medication.clone();
    words["dosageInstruction"] = json!([{"text": "500 mg by mouth three times a day"}]);
    let before = app.store.audit_log(1).await?[0].seq;
    let res = post_fhir(&app, "/fhir/MedicationRequest", &alex, &words).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    conforms(&res.json()?)?;
    let refused = app.store.audit_log(1).await?;
    ensure!(
        refused[0].seq > before
            && refused[0].decision == remit_domain::audit::Decision::Deny
            && refused[0].action == "medicines.prescribe",
        "the refusal is audited: {refused:?}"
    );
    let res = post_fhir(&app, "/fhir/MedicationRequest", &maria, &words).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY
            && res.body.contains("dosageInstruction[0].doseAndRate")
            && res.body.contains("cannot be checked")
            && res.body.contains("doseQuantity"),
        "{}",
        res.body
    );
    // The JSON API alike: a dose remit cannot read, from someone who may not prescribe, is refused first.
    let lots = json!({"medicine": "Amoxicillin", "dose": "lots", "route": "oral", "frequency": "three times a day"});
    let path = format!("/api/patients/{DAVID}/prescriptions");
    let res = app.post_json(&path, &alex, &lots).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    let res = app.post_json(&path, &maria, &lots).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("dose"),
        "{}",
        res.body
    );
    // A diagnosis from someone who may not diagnose, with a body remit could not take either: refused first.
    let mut empty = condition.clone();
    empty.as_object_mut().unwrap().remove("code");
    let res = post_fhir(&app, "/fhir/Condition", &alex, &empty).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    let mut bad = condition.clone();
    bad["severity2"] = json!("x");
    let res = post_fhir(&app, "/fhir/Condition", &app.token_for("dr.okafor").await?, &bad).await?;
    ensure!(
        res.status == StatusCode::BAD_REQUEST && res.body.contains("Condition.severity2"),
        "{}",
        res.body
    );
    // The CLI does the same.
    let prescribe = |by, dose, frequency| {
        [
            "clinical",
            "prescribe",
            "--patient",
            DAVID,
            "--by",
            by,
            "--medicine",
            "Amoxicillin",
            "--dose",
            dose,
            "--route",
            "oral",
            "--frequency",
            frequency,
        ]
    };
    db.cli_cases(&[
        CliCase {
            what: "an assistant practitioner prescribes",
            args: prescribe("alex.ap", "500 mg", "three times a day").to_vec(),
            status: 1,
            out: &[],
            err: &["independent-prescriber"],
        },
        CliCase {
            what: "an assistant practitioner diagnoses",
            args: vec![
                "clinical",
                "diagnose",
                "--patient",
                DAVID,
                "--by",
                "alex.ap",
                "--diagnosis",
                "Pneumonia",
            ],
            status: 1,
            out: &[],
            err: &[],
        },
        CliCase {
            what: "a prescription with a dose that is not one",
            args: prescribe("maria.acp", "lots", "daily").to_vec(),
            status: 2,
            out: &[],
            err: &["dose"],
        },
    ])?;
    Ok(())
}

async fn the_catalogue_is_data_and_a_bad_one_is_named(db: TestDb) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/imaging/examinations.toml"))?;
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text.replacen("region = \"chest\"", "region = \"thorax\"", 1))?;
    let out = db.remit(&[
        "--imaging-catalogue",
        bad.to_str().context("path")?,
        "imaging",
        "worklist",
        "--stage",
        "awaiting-exposure",
    ]);
    expect_status(&out, 2)?;
    ensure!(
        stderr(&out).contains("line 20") && stderr(&out).contains("thorax"),
        "{}",
        stderr(&out)
    );
    // An employer's own DRL applies.
    let own = dir.path().join("own.toml");
    std::fs::write(&own, text.replacen("drl_dap = 0.10", "drl_dap = 0.05", 1))?;
    expect_status(&db.remit(&["demo", "--seed-only"]), 0)?;
    let out = db.remit(&[
        "--imaging-catalogue",
        own.to_str().unwrap(),
        "imaging",
        "expose",
        "1",
        "--by",
        "jo.ap",
        "--supervision",
        "indirect",
        "--supervisor",
        "tom.rad",
        "--projection",
        "PA",
        "--kv",
        "110",
        "--mas",
        "2.5",
        "--dap",
        "0.08",
        "--sid",
        "180",
        "--json",
    ]);
    expect_status(&out, 0)?;
    let v: Value = serde_json::from_str(&stdout(&out))?;
    ensure!(
        v["exposure"]["drl_exceeded"] == true && v["exposure"]["drl_dap"] == 0.05,
        "{v}"
    );
    Ok(())
}

async fn fhir_service_requests_and_reports(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let okafor = app.token_for("dr.okafor").await?;
    let sr = json!({"resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "code": {"coding": [{"system": "urn:remit:examination", "code": "chest-pa"}]},
        "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": DAVID}},
        "reasonCode": [{"text": "Fever and crackles: ? pneumonia"}]});
    let res = post_fhir(&app, "/fhir/ServiceRequest", &okafor, &sr).await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    let v = res.json()?;
    conforms(&v)?;
    let id = v["id"].as_str().unwrap().to_owned();
    let mut no_info = sr.clone();
    no_info.as_object_mut().unwrap().remove("reasonCode");
    let res = post_fhir(&app, "/fhir/ServiceRequest", &okafor, &no_info).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("clinical information"),
        "{}",
        res.body
    );
    let mut unknown = sr.clone();
    unknown["code"]["coding"][0]["code"] = json!("brain-mri");
    let res = post_fhir(&app, "/fhir/ServiceRequest", &okafor, &unknown).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("ServiceRequest.code"),
        "{}",
        res.body
    );
    // Alex may not refer.
    let res = post_fhir(&app, "/fhir/ServiceRequest", &app.token_for("alex.ap").await?, &sr).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    // Justify and expose by the API, report by FHIR.
    let tom = app.token_for("tom.rad").await?;
    app.post_json(&format!("/api/imaging/requests/{id}/justify"), &tom, &json!({}))
        .await?;
    let op = json!({"projections": ["PA"], "kv": 110, "mas": 2.5, "dap": 0.08, "sid_cm": 180});
    let res = app
        .post_json(&format!("/api/imaging/requests/{id}/expose"), &tom, &op)
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let dr = json!({"resourceType": "DiagnosticReport", "status": "final",
        "basedOn": [{"reference": format!("ServiceRequest/{id}")}],
        "code": {"coding": [{"system": "urn:remit:examination", "code": "chest-pa"}]},
        "conclusion": "Left lower lobe consolidation."});
    let res = post_fhir(&app, "/fhir/DiagnosticReport", &tom, &dr).await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN,
        "a level 5 radiographer does not report: {}",
        res.body
    );
    let res = post_fhir(&app, "/fhir/DiagnosticReport", &app.token_for("dr.reid").await?, &dr).await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    conforms(&res.json()?)?;
    let read = app.get(&format!("/fhir/ServiceRequest/{id}"), &okafor).await?;
    let v = read.json()?;
    conforms(&v)?;
    ensure!(v["status"] == "completed", "{v}");
    let read = app
        .get(&format!("/fhir/DiagnosticReport/{id}"), &okafor)
        .await?
        .json()?;
    conforms(&read)?;
    Ok(())
}

/// The pregnancy enquiry follows childbearing potential, not the recorded sex: everyone in the catalogue's age range
/// is asked where the catalogue asks, "no possibility" is an answer, nowhere else is it asked, and an answer holds
/// for that request on that day only.
async fn the_pregnancy_enquiry_asks_everyone_in_the_age_range_for_that_day(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let add = db.remit(&[
        "patient",
        "add",
        "--nhs-number",
        "9990015023",
        "--given-name",
        "Sam",
        "--family-name",
        "Lee",
        "--date-of-birth",
        "1990-05-01",
        "--sex",
        "male",
        "--place",
        "xray",
    ]);
    crate::helpers::expect_status(&add, 0)?;
    let reid = app.token_for("dr.reid").await?;
    let tom = app.token_for("tom.rad").await?;
    let res = refer(&app, &reid, "9990015023", "lumbar-spine").await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    let id = res.json()?["id"].as_i64().unwrap();
    app.post_json(&format!("/api/imaging/requests/{id}/justify"), &tom, &json!({}))
        .await?;
    let op =
        json!({"projections": ["AP", "lateral"], "kv": 85, "mas": 20, "projection_dap": [0.5, 0.7], "sid_cm": 100});
    let res = app
        .post_json(&format!("/api/imaging/requests/{id}/expose"), &tom, &op)
        .await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("any possibility of pregnancy"),
        "a man of 36 is asked too: {}",
        res.body
    );
    let res = app
        .post_json(
            &format!("/api/imaging/requests/{id}/pregnancy"),
            &tom,
            &json!({"answer": "no-possibility"}),
        )
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let v = res.json()?;
    ensure!(v["status"] == "justified" && v["pregnancy"] == "no-possibility", "{v}");
    let res = app
        .post_json(&format!("/api/imaging/requests/{id}/expose"), &tom, &op)
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    // A chest X-ray asks no enquiry: an answer to one is refused.
    let res = app
        .post_json(
            "/api/imaging/requests/1/pregnancy",
            &tom,
            &json!({"answer": "not-pregnant"}),
        )
        .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("no pregnancy enquiry"),
        "{}",
        res.body
    );
    // Yesterday's answer does not hold today.
    app.post_json("/api/imaging/requests/2/justify", &tom, &json!({}))
        .await?;
    let res = app
        .post_json(
            "/api/imaging/requests/2/pregnancy",
            &tom,
            &json!({"answer": "not-pregnant"}),
        )
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    app.clock.advance(chrono::Duration::days(1));
    let res = app.post_json("/api/imaging/requests/2/expose", &tom, &op).await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("on that day only"),
        "{}",
        res.body
    );
    app.post_json(
        "/api/imaging/requests/2/pregnancy",
        &tom,
        &json!({"answer": "not-pregnant"}),
    )
    .await?;
    let res = app.post_json("/api/imaging/requests/2/expose", &tom, &op).await?;
    ensure!(res.status == StatusCode::OK, "asked again today: {}", res.body);
    // The page offers the enquiry only where it is asked, with nothing chosen.
    let cookie = app.sign_in("tom.rad", "remit-demo").await?;
    let page = app.get("/imaging/requests/1", &cookie).await?;
    ensure!(!page.body.contains("Pregnancy enquiry"), "not for a chest X-ray");
    Ok(())
}

/// A DRL set per projection is compared with each projection's DAP (a total alone is refused, nothing written), one
/// set for the whole examination with the total; the exposure says which projections were above it.
async fn drls_are_compared_per_projection_where_they_are_set_so(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let tom = app.token_for("tom.rad").await?;
    app.post_json("/api/imaging/requests/2/justify", &tom, &json!({}))
        .await?;
    app.post_json(
        "/api/imaging/requests/2/pregnancy",
        &tom,
        &json!({"answer": "not-pregnant"}),
    )
    .await?;
    let before = app.store.audit_log(100_000).await?.len();
    let total_only = json!({"projections": ["AP", "lateral"], "kv": 85, "mas": 20, "dap": 3.6, "sid_cm": 100});
    let res = app
        .post_json("/api/imaging/requests/2/expose", &tom, &total_only)
        .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("projection_dap"),
        "{}",
        res.body
    );
    ensure!(app.store.audit_log(100_000).await?.len() == before, "nothing written");
    // 3.6 in all: under 2.5 for AP, above it for the lateral.
    let each = json!({"projections": ["AP", "lateral"], "kv": 85, "mas": 20, "projection_dap": [1.0, 2.6],
                      "sid_cm": 100});
    let res = app.post_json("/api/imaging/requests/2/expose", &tom, &each).await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let x = &res.json()?["exposure"];
    ensure!(
        x["drl_per"] == "projection"
            && x["drl_exceeded"] == true
            && x["drl_over"] == json!(["lateral"])
            && x["dap"] == 3.6,
        "{x}"
    );
    let flagged = app
        .get("/api/imaging/worklist?stage=drl-exceeded", &tom)
        .await?
        .json()?;
    ensure!(flagged.to_string().contains("lumbar-spine"), "{flagged}");
    Ok(())
}
