//! Clinical safety: a worse score is never hidden by an earlier acknowledgement, reviews are timed, emergencies
//! reach the grade Chart 4 names wherever the patient is, NEWS2 only where it applies, no empty or "routine"
//! incomplete set, scale 2 only for its target, the sepsis prompt, and times in UK local time. Each test names the
//! hazard it holds in `docs/safety/hazard-log.md`.

use anyhow::{Context, Result, ensure};
use axum::http::StatusCode;
use chrono::Duration;
use remit_policy::PolicyPack;
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, TestDb, expect_status, stdout};

crate::tests!(
    a_worse_score_raises_an_open_escalation_again_whatever_its_state,
    an_acknowledged_escalation_not_reviewed_in_time_goes_up_the_cascade,
    review_and_acknowledgement_times_are_the_employers_data,
    emergencies_reach_the_registrar_and_outreach_for_the_place_and_never_nobody,
    news2_is_not_given_under_16_or_in_pregnancy,
    an_empty_set_is_refused_and_observations_not_done_are_recorded,
    an_incomplete_set_goes_to_the_nurse_and_is_never_routine,
    scale_2_only_for_its_target,
    a_score_of_5_or_a_single_3_prompts_a_sepsis_screen,
    times_people_read_are_uk_local_time,
);

const MARGARET: &str = "9990001375";
const GEORGE: &str = "9990005486";
const AISHA: &str = "9990004110";
const JOHN: &str = "9990012334";

fn set(rr: i64, spo2: i64, sbp: i64, pulse: i64, acvpu: &str, temp: f64) -> Value {
    json!({"respiration_rate": rr, "spo2": spo2, "on_oxygen": false, "systolic_bp": sbp, "pulse": pulse,
           "consciousness": acvpu, "temperature": temp})
}

/// NEWS2 7: RR 25 (3), SpO2 93 (2), SBP 105 (1), pulse 105 (1).
fn seven() -> Value {
    set(25, 93, 105, 105, "alert", 37.5)
}

/// NEWS2 18: every parameter but air scores 3.
fn eighteen() -> Value {
    set(6, 85, 85, 140, "voice", 34.9)
}

/// NEWS2 5: RR 21 (2), pulse 115 (2), temperature 38.5 (1).
fn five() -> Value {
    set(21, 97, 124, 115, "alert", 38.5)
}

fn normal() -> Value {
    set(16, 97, 124, 76, "alert", 37.0)
}

async fn record(app: &TestApp, auth: &Auth, patient: &str, body: Value) -> Result<Value> {
    let res = app
        .post_json(
            &format!("/api/patients/{patient}/observations"),
            auth,
            &json!({"set": body}),
        )
        .await?;
    ensure!(res.status == StatusCode::CREATED, "{}: {}", res.status, res.body);
    res.json()
}

async fn open_escalation(app: &TestApp, auth: &Auth, id: i64) -> Result<Value> {
    let list = app.get("/api/escalations?open=true", auth).await?.json()?;
    list.as_array()
        .context("a list")?
        .iter()
        .find(|e| e["id"] == id)
        .cloned()
        .with_context(|| format!("escalation {id} is not open: {list}"))
}

fn recipients(e: &Value) -> Vec<(String, String)> {
    e["recipients"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| {
                    (
                        r["username"].as_str().unwrap_or_default().to_owned(),
                        r["as"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// H3: a later, worse set re-raises the escalation still open — acknowledged (awaiting review) or not — with the new
/// score and level, unacknowledged; a lower set never lowers or closes it; a correction upwards does the same.
async fn a_worse_score_raises_an_open_escalation_again_whatever_its_state(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let priya = app.token_for("priya.rn").await?;
    let v = record(&app, &alex, MARGARET, seven()).await?;
    let id = v["escalation"]["id"].as_i64().context("raised")?;
    let res = app
        .post_json(&format!("/api/escalations/{id}/acknowledge"), &priya, &json!({}))
        .await?;
    ensure!(
        res.status == StatusCode::OK && res.json()?["state"] == "acknowledged",
        "{}",
        res.body
    );

    // NEWS2 18 after the 7 was acknowledged: the same escalation, in front of people again.
    let v = record(&app, &alex, MARGARET, eighteen()).await?;
    ensure!(v["escalation"]["id"] == id, "the open escalation is raised again: {v}");
    let e = open_escalation(&app, &priya, id).await?;
    ensure!(
        e["score"] == 18 && e["state"] == "open" && e["acknowledged_at"].is_null() && e["level"] == "emergency",
        "{e}"
    );
    ensure!(e["waiting_for"] == "acknowledgement", "{e}");
    ensure!(
        e["history"].to_string().contains("raised again: NEWS2 18")
            && e["history"].to_string().contains("worse than the NEWS2 7"),
        "its history says what happened: {e}"
    );
    ensure!(
        recipients(&e).iter().any(|(u, _)| u == "priya.rn"),
        "the nurse is told again: {e}"
    );
    // The CLI says the same.
    let out = db.remit(&["escalation", "list", "--open", "--json"]);
    expect_status(&out, 0)?;
    let list: Value = serde_json::from_str(&stdout(&out))?;
    let margaret: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["patient"] == MARGARET)
        .collect();
    ensure!(margaret.len() == 1, "{list}");
    ensure!(
        margaret[0]["score"] == 18 && margaret[0]["acknowledged_at"].is_null(),
        "{list}"
    );
    // The inbox shows it to acknowledge again.
    let cookie = app.sign_in("priya.rn", "remit-demo").await?;
    let inbox = app.get("/inbox", &cookie).await?;
    ensure!(
        inbox
            .body
            .contains(&format!("action=\"/escalations/{id}/acknowledge\"")),
        "{}",
        inbox.body
    );

    // A lower set changes nothing: never closed, never lowered.
    let v = record(&app, &alex, MARGARET, normal()).await?;
    ensure!(v["escalation"].is_null(), "{v}");
    let e = app.store.escalation(id).await?;
    ensure!(e.state == "open" && e.score == Some(18), "{e:?}");

    // An unacknowledged escalation keeps its place in the cascade when a worse set raises it again.
    let v = record(&app, &alex, GEORGE, set(16, 97, 124, 76, "new-confusion", 37.0)).await?;
    let george = v["escalation"]["id"].as_i64().context("raised")?;
    ensure!(v["escalation"]["level"] == "single-red", "{v}");
    app.clock.advance(Duration::minutes(16));
    let e = open_escalation(&app, &priya, george).await?;
    ensure!(e["stage"] == 1, "{e}");
    let v = record(&app, &alex, GEORGE, five()).await?;
    ensure!(
        v["escalation"]["id"] == george && v["escalation"]["level"] == "urgent",
        "a higher level: {v}"
    );
    ensure!(
        v["escalation"]["stage"] == 1,
        "the cascade is not reset for one nobody has answered: {v}"
    );

    // A correction upwards of an acknowledged set raises its escalation again.
    let v = record(&app, &alex, AISHA, seven()).await?;
    let aisha = v["escalation"]["id"].as_i64().context("raised")?;
    let version = v["set"]["id"].as_i64().unwrap();
    app.post_json(&format!("/api/escalations/{aisha}/acknowledge"), &priya, &json!({}))
        .await?;
    let res = app
        .post_json(
            &format!("/api/observations/{version}/amend"),
            &alex,
            &json!({"set": eighteen(), "reason": "pulse and pressure misread"}),
        )
        .await?;
    ensure!(
        res.status == StatusCode::OK || res.status == StatusCode::CREATED,
        "{}",
        res.body
    );
    let e = app.store.escalation(aisha).await?;
    ensure!(
        e.state == "open" && e.score == Some(18) && e.acknowledged_at.is_none(),
        "{e:?}"
    );
    Ok(())
}

/// H3: an acknowledged urgent or emergency escalation nobody reviews in time goes on up the cascade.
async fn an_acknowledged_escalation_not_reviewed_in_time_goes_up_the_cascade(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let priya = app.token_for("priya.rn").await?;
    let v = record(&app, &alex, MARGARET, seven()).await?;
    let id = v["escalation"]["id"].as_i64().context("raised")?;
    app.post_json(&format!("/api/escalations/{id}/acknowledge"), &priya, &json!({}))
        .await?;
    let e = open_escalation(&app, &priya, id).await?;
    ensure!(e["waiting_for"] == "review" && e["stage"] == 0, "{e}");
    // Reviewers for an emergency: the registrar covering the ward and critical care outreach.
    let to = recipients(&e);
    ensure!(to.contains(&("dr.okafor".into(), "specialty registrar".into())), "{e}");
    ensure!(
        to.contains(&("kim.outreach".into(), "critical care outreach practitioner".into())),
        "{e}"
    );
    // The pack's review time for an emergency is 15 minutes: at 14 nothing moves, at 16 one step.
    app.clock.advance(Duration::minutes(14));
    ensure!(open_escalation(&app, &priya, id).await?["stage"] == 0);
    app.clock.advance(Duration::minutes(2));
    let e = open_escalation(&app, &priya, id).await?;
    ensure!(e["stage"] == 1 && e["state"] == "acknowledged", "{e}");
    ensure!(
        e["history"].to_string().contains("not reviewed within 15 minutes"),
        "{e}"
    );
    // The next step adds the nurse in charge.
    app.clock.advance(Duration::minutes(15));
    let e = open_escalation(&app, &priya, id).await?;
    ensure!(e["stage"] == 2, "{e}");
    ensure!(recipients(&e).iter().any(|(_, as_)| as_ == "nurse in charge"), "{e}");
    // The review closes it.
    let okafor = app.token_for("dr.okafor").await?;
    let res = app
        .post_json(
            &format!("/api/escalations/{id}/review"),
            &okafor,
            &json!({"note": "seen, to HDU"}),
        )
        .await?;
    ensure!(
        res.status == StatusCode::OK && res.json()?["state"] == "closed",
        "{}",
        res.body
    );
    // A ward-level escalation is closed by its acknowledgement: there is no review to wait for.
    let v = record(&app, &alex, GEORGE, set(16, 97, 124, 95, "alert", 37.0)).await?;
    let ward = v["escalation"]["id"].as_i64().context("raised")?;
    ensure!(v["escalation"]["level"] == "ward", "{v}");
    let res = app
        .post_json(&format!("/api/escalations/{ward}/acknowledge"), &priya, &json!({}))
        .await?;
    ensure!(res.json()?["state"] == "closed", "{}", res.body);
    Ok(())
}

/// H3: the times and routes are the employer's, in the pack beside the policies, checked at load.
async fn review_and_acknowledgement_times_are_the_employers_data(db: TestDb) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/nhs-england");
    for e in std::fs::read_dir(from)? {
        let p = e?.path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap()))?;
    }
    let file = dir.path().join("escalation.toml");
    let shipped = std::fs::read_to_string(&file)?;
    // An employer who gives the emergency review an hour.
    std::fs::write(&file, shipped.replace("within_minutes = 15", "within_minutes = 60"))?;
    let pack = PolicyPack::load(dir.path())?;
    let app = TestApp::demo_with_pack(&db, pack).await?;
    let alex = app.token_for("alex.ap").await?;
    let priya = app.token_for("priya.rn").await?;
    let id = record(&app, &alex, MARGARET, seven()).await?["escalation"]["id"]
        .as_i64()
        .context("raised")?;
    app.post_json(&format!("/api/escalations/{id}/acknowledge"), &priya, &json!({}))
        .await?;
    app.clock.advance(Duration::minutes(59));
    ensure!(
        open_escalation(&app, &priya, id).await?["stage"] == 0,
        "the employer's hour holds"
    );
    app.clock.advance(Duration::minutes(2));
    ensure!(open_escalation(&app, &priya, id).await?["stage"] == 1);
    // A file that does not read stops the pack, naming the file and the line; `policy validate` shows the routes.
    std::fs::write(
        &file,
        shipped.replace("acknowledge_within_minutes = 5", "acknowledge_within_minutes = 0"),
    )?;
    let out = db.remit(&["policy", "validate", dir.path().to_str().unwrap()]);
    expect_status(&out, 1)?;
    ensure!(
        stdout(&out).contains("escalation.toml") && stdout(&out).contains("line"),
        "{}",
        stdout(&out)
    );
    std::fs::write(&file, &shipped)?;
    let out = db.remit(&["policy", "validate", dir.path().to_str().unwrap()]);
    expect_status(&out, 0)?;
    ensure!(
        stdout(&out).contains("emergency: to the registered staff on duty, the specialty registrar")
            && stdout(&out).contains("reviewed by"),
        "{}",
        stdout(&out)
    );
    Ok(())
}

/// H7: the emergency response goes to the registrar and outreach covering the place (not any doctor there); in the
/// X-ray department, to the radiographer and the department's medical cover; and when nobody there could
/// acknowledge it, to the site's nurse in charge, and the board says so.
async fn emergencies_reach_the_registrar_and_outreach_for_the_place_and_never_nobody(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let priya = app.token_for("priya.rn").await?;
    let id = record(&app, &alex, MARGARET, seven()).await?["escalation"]["id"]
        .as_i64()
        .context("raised")?;
    let e = open_escalation(&app, &priya, id).await?;
    let to = recipients(&e);
    ensure!(to.contains(&("dr.okafor".into(), "specialty registrar".into())), "{e}");
    ensure!(
        to.contains(&("kim.outreach".into(), "critical care outreach practitioner".into())),
        "{e}"
    );
    ensure!(
        to.contains(&("priya.rn".into(), "registered staff on duty".into())),
        "{e}"
    );
    ensure!(
        !to.iter().any(|(_, as_)| as_ == "medical cover"),
        "not any doctor on the ward: {e}"
    );
    // A grade is set by the CLI, checked against the pack.
    let out = db.remit(&["staff", "set-grade", "maria.acp", "wizard"]);
    expect_status(&out, 2)?;
    ensure!(
        crate::helpers::stderr(&out).contains("specialty-registrar"),
        "{}",
        crate::helpers::stderr(&out)
    );

    // In the X-ray department (no nurse): the radiographer on duty, and as no registrar covers it, the consultant
    // radiologist who does.
    let kim = app.token_for("kim.outreach").await?;
    let v = record(&app, &kim, JOHN, seven()).await?;
    let xray = v["escalation"]["id"].as_i64().context("raised")?;
    let reid = app.token_for("dr.reid").await?;
    let e = open_escalation(&app, &reid, xray).await?;
    let to = recipients(&e);
    ensure!(
        to.contains(&("tom.rad".into(), "registered staff on duty".into())),
        "{e}"
    );
    ensure!(to.contains(&("dr.reid".into(), "consultant".into())), "{e}");
    // Medical cover for an emergency is only someone who may review one (a registrar or above): a doctor of no
    // such grade is not paged as if they could.
    expect_status(&db.remit(&["staff", "set-grade", "dr.reid", "--none"]), 0)?;
    app.clock.advance(Duration::seconds(30));
    let e = open_escalation(&app, &reid, xray).await?;
    ensure!(!recipients(&e).iter().any(|(u, _)| u == "dr.reid"), "{e}");
    expect_status(&db.remit(&["staff", "set-grade", "dr.reid", "consultant"]), 0)?;
    app.clock.advance(Duration::seconds(30));
    ensure!(e["no_one_to_acknowledge"] == false, "{e}");
    // The radiographer may acknowledge it.
    let tom = app.token_for("tom.rad").await?;
    let res = app
        .post_json(&format!("/api/escalations/{xray}/acknowledge"), &tom, &json!({}))
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);

    // Nobody on duty there who could acknowledge: with no clinical site manager on duty the board says so; with one,
    // she is told and the board names her.
    let v = record(&app, &kim, JOHN, eighteen()).await?;
    ensure!(
        v["escalation"]["id"] == xray && v["escalation"]["state"] == "open",
        "{v}"
    );
    expect_status(&db.remit(&["staff", "set-duty", "tom.rad", "--off"]), 0)?;
    expect_status(
        &db.remit(&[
            "staff",
            "set-duty",
            "kim.outreach",
            "--place",
            "ward-7",
            "--place",
            "ward-9",
        ]),
        0,
    )?;
    // The command line keeps the real time; the app's clock catches up with it.
    app.clock.advance(Duration::minutes(1));
    let board = app.get("/wards/xray", &reid).await?;
    ensure!(
        board
            .body
            .contains("Nobody on duty here can acknowledge this escalation, and nobody is on duty as"),
        "no site manager on duty, and the board says so: {}",
        board.body
    );
    let e = open_escalation(&app, &reid, xray).await?;
    ensure!(e["no_one_to_acknowledge"] == true, "{e}");
    let sue = [
        "staff",
        "add",
        "sue.site",
        "--name",
        "Sue Grant",
        "--job-title",
        "Clinical site manager",
        "--level",
        "7",
        "--registration",
        "NMC:05B1234E:2030-01-31",
        "--grade",
        "clinical-site-manager",
    ];
    expect_status(&db.remit(&sue), 0)?;
    expect_status(&db.remit(&["staff", "set-duty", "sue.site", "--place", "ward-9"]), 0)?;
    app.clock.advance(Duration::minutes(1));
    let e = open_escalation(&app, &reid, xray).await?;
    ensure!(e["no_one_to_acknowledge"] == true, "{e}");
    ensure!(
        recipients(&e)
            .iter()
            .any(|(u, as_)| u == "sue.site" && as_.contains("nobody on duty where the patient is can acknowledge")),
        "{e}"
    );
    let board = app.get("/wards/xray", &reid).await?;
    ensure!(board.status == StatusCode::OK, "{}", board.status);
    ensure!(
        board
            .body
            .contains("Nobody on duty here can acknowledge this escalation: it has gone to Sue Grant"),
        "{}",
        board.body
    );
    // Graded staff are called by their grade: the outreach nurse is never ward 9's nurse in charge.
    let ben = app.token_for("ben.rn").await?;
    let id = record(&app, &ben, "9990008221", seven()).await?["escalation"]["id"]
        .as_i64()
        .context("raised")?;
    app.clock.advance(Duration::minutes(11));
    let e = open_escalation(&app, &ben, id).await?;
    ensure!(e["stage"].as_i64() >= Some(1), "{e}");
    let nic: Vec<String> = recipients(&e)
        .into_iter()
        .filter(|(_, a)| a == "nurse in charge")
        .map(|(u, _)| u)
        .collect();
    ensure!(
        nic == ["ben.rn"],
        "ben, not the graded outreach nurse or site manager: {e}"
    );
    Ok(())
}

/// H8: under 16 on the day of the set, or recorded as pregnant or within six weeks of birth: the readings are kept,
/// no NEWS2 is given, and the registered nurse is told.
async fn news2_is_not_given_under_16_or_in_pregnancy(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let priya = app.token_for("priya.rn").await?;
    let today = remit_domain::time::london_date(app.store.now());
    let born = |years: i32, days: i64| {
        let d = chrono::NaiveDate::from_ymd_opt(
            chrono::Datelike::year(&today) - years,
            chrono::Datelike::month(&today),
            chrono::Datelike::day(&today).min(28),
        )
        .unwrap();
        (d + Duration::days(days)).to_string()
    };
    let add = |nhs: &str, family: &str, dob: String, bed: &str| {
        db.remit(&[
            "patient",
            "add",
            "--nhs-number",
            nhs,
            "--given-name",
            "Sam",
            "--family-name",
            family,
            "--date-of-birth",
            &dob,
            "--sex",
            "female",
            "--place",
            "ward-7",
            "--bed",
            bed,
        ])
    };
    // Fifteen, turning sixteen tomorrow; and sixteen today.
    expect_status(&add("9990015007", "Young", born(16, 1), "6"), 0)?;
    expect_status(&add("9990015015", "Older", born(16, 0), "7"), 0)?;
    let v = record(&app, &alex, "9990015007", normal()).await?;
    ensure!(v["set"]["total"].is_null() && v["set"]["risk"].is_null(), "{v}");
    ensure!(
        v["set"]["not_scored"] == "NEWS2 does not apply: under 16 — use the paediatric early warning chart",
        "{v}"
    );
    ensure!(v["set"]["readings"]["pulse"] == 76, "the readings are kept: {v}");
    ensure!(
        v["escalation"]["level"] == "ward" && v["escalation"]["score"].is_null(),
        "the nurse is told: {v}"
    );
    ensure!(
        v["response"]
            .as_str()
            .unwrap()
            .starts_with("NEWS2 does not apply: under 16"),
        "{v}"
    );
    let board = app.get("/wards/ward-7", &priya).await?;
    ensure!(
        board.body.contains("NEWS2 does not apply: under 16"),
        "the board says so in words"
    );
    let chart = app.get("/patients/9990015007", &priya).await?;
    ensure!(chart.body.contains("no NEWS2"), "the chart says so: {}", chart.body);
    // Its NEWS2 Observation in FHIR has no value and says why.
    let version = v["set"]["id"].as_i64().unwrap();
    let fhir = app
        .get(&format!("/fhir/Observation/{version}-news2"), &priya)
        .await?
        .json()?;
    ensure!(
        fhir["valueInteger"].is_null() && fhir["dataAbsentReason"]["coding"][0]["code"] == "not-applicable",
        "{fhir}"
    );
    let v = record(&app, &alex, "9990015015", normal()).await?;
    ensure!(v["set"]["total"] == 0, "sixteen today: scored: {v}");

    // Pregnancy is recorded by registered staff, audited; the AP is refused with the reason.
    let res = app
        .post_json(
            &format!("/api/patients/{AISHA}/pregnancy"),
            &alex,
            &json!({"status": "pregnant"}),
        )
        .await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("registration"),
        "{}",
        res.body
    );
    let res = app
        .post_json(
            &format!("/api/patients/{AISHA}/pregnancy"),
            &priya,
            &json!({"status": "pregnant"}),
        )
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let last = app.store.audit_log(1).await?;
    ensure!(last[0].action == "record.pregnancy-status", "{:?}", last[0]);
    let v = record(&app, &alex, AISHA, seven()).await?;
    ensure!(
        v["set"]["not_scored"].as_str().is_some_and(|s| s.contains("pregnant")),
        "{v}"
    );
    ensure!(v["escalation"]["score"].is_null(), "{v}");
    // Up to six weeks after birth; not beyond.
    let out = db.remit(&[
        "patient",
        "set-pregnancy",
        AISHA,
        "postpartum",
        "--by",
        "priya.rn",
        "--until",
        &(today + Duration::days(43)).to_string(),
    ]);
    expect_status(&out, 2)?;
    let out = db.remit(&["patient", "set-pregnancy", AISHA, "postpartum", "--by", "priya.rn"]);
    expect_status(&out, 2)?;
    ensure!(
        crate::helpers::stderr(&out).contains("six weeks after the birth"),
        "{}",
        crate::helpers::stderr(&out)
    );
    let out = db.remit(&[
        "patient",
        "set-pregnancy",
        AISHA,
        "postpartum",
        "--by",
        "priya.rn",
        "--until",
        &(today + Duration::days(30)).to_string(),
    ]);
    expect_status(&out, 0)?;
    let out = db.remit(&["patient", "set-pregnancy", AISHA, "not-pregnant", "--by", "priya.rn"]);
    expect_status(&out, 0)?;
    let v = record(&app, &alex, AISHA, normal()).await?;
    ensure!(
        v["set"]["total"] == 0 && v["set"]["not_scored"].is_null(),
        "scored again: {v}"
    );
    Ok(())
}

/// H9: a set in which nothing was obtained is not a set; "not done" is recorded instead, the patient stays overdue
/// and the nurse sees why.
async fn an_empty_set_is_refused_and_observations_not_done_are_recorded(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let priya = app.token_for("priya.rn").await?;
    let before = app.store.audit_log(100_000).await?.len();
    let gone = |p: &str| json!({"parameter": p, "absence": "not-obtained", "reason": "off the ward"});
    let empty = json!({"on_oxygen": false, "missing": [gone("respiration_rate"), gone("spo2"), gone("systolic_bp"),
        gone("pulse"), gone("consciousness"), gone("temperature")]});
    let res = app
        .post_json(
            &format!("/api/patients/{GEORGE}/observations"),
            &alex,
            &json!({"set": empty}),
        )
        .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("remit obs missed"),
        "{}",
        res.body
    );
    let mut no_acvpu = normal();
    no_acvpu.as_object_mut().unwrap().remove("consciousness");
    no_acvpu["missing"] = json!([gone("consciousness")]);
    let res = app
        .post_json(
            &format!("/api/patients/{GEORGE}/observations"),
            &alex,
            &json!({"set": no_acvpu}),
        )
        .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("can always be assessed"),
        "{}",
        res.body
    );
    ensure!(app.store.audit_log(100_000).await?.len() == before, "nothing written");
    // The CLI refuses the same, with exit status 2.
    let out = db.remit(&[
        "obs",
        "record",
        "--patient",
        GEORGE,
        "--by",
        "alex.ap",
        "--missing",
        "respiration_rate:not-obtained:x",
        "--missing",
        "spo2:not-obtained:x",
        "--missing",
        "systolic_bp:not-obtained:x",
        "--missing",
        "pulse:not-obtained:x",
        "--missing",
        "consciousness:not-obtained:x",
        "--missing",
        "temperature:not-obtained:x",
    ]);
    expect_status(&out, 2)?;

    // Not done, recorded with the reason: George stays overdue, the board and inbox say why.
    let res = app
        .post_json(
            &format!("/api/patients/{GEORGE}/observations/missed"),
            &alex,
            &json!({"reason": " "}),
        )
        .await?;
    ensure!(res.status == StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let out = db.remit(&[
        "obs",
        "missed",
        "--patient",
        GEORGE,
        "--by",
        "alex.ap",
        "--reason",
        "off the ward for CT",
    ]);
    expect_status(&out, 0)?;
    let last = app.store.audit_log(1).await?;
    ensure!(last[0].action == "vitals.missed", "{:?}", last[0]);
    let board = app.get("/wards/ward-7", &priya).await?;
    ensure!(board.body.contains("Not done: off the ward for CT"), "{}", board.body);
    let overdue = app.get("/api/observations/overdue?ward=ward-7", &priya).await?.json()?;
    ensure!(overdue.to_string().contains(GEORGE), "still overdue: {overdue}");
    let cookie = app.sign_in("priya.rn", "remit-demo").await?;
    let inbox = app.get("/inbox", &cookie).await?;
    ensure!(inbox.body.contains("off the ward for CT"), "{}", inbox.body);
    // A person who may not record vitals there may not record them as not done either.
    let ben = app.token_for("ben.rn").await?;
    let res = app
        .post_json(
            &format!("/api/patients/{GEORGE}/observations/missed"),
            &ben,
            &json!({"reason": "x"}),
        )
        .await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.body);
    // From the record page too.
    let alex_cookie = app.sign_in("alex.ap", "remit-demo").await?;
    let csrf = app.csrf(&alex_cookie).await?;
    let res = app
        .post_form(
            &format!("/patients/{GEORGE}/observations/missed"),
            &alex_cookie,
            &[("csrf", &csrf), ("reason", "patient asleep after night sedation")],
        )
        .await?;
    ensure!(
        res.status == StatusCode::CREATED && res.body.contains("observations not done"),
        "{}",
        res.body
    );
    Ok(())
}

/// H1, H3: every incomplete set goes to the registered nurse (at least a ward-level escalation naming what is
/// missing and the lower bound) and never reads "continue routine monitoring"; the record page marks each
/// parameter not obtained or refused.
async fn an_incomplete_set_goes_to_the_nurse_and_is_never_routine(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let mut body = normal();
    body.as_object_mut().unwrap().remove("temperature");
    body["missing"] = json!([{"parameter": "temperature", "absence": "refused", "reason": "asleep, declined"}]);
    let v = record(&app, &alex, MARGARET, body).await?;
    ensure!(v["set"]["total"] == 0 && v["set"]["complete"] == false, "{v}");
    let response = v["response"].as_str().unwrap();
    ensure!(!response.contains("routine"), "{response}");
    ensure!(
        response.contains("Temperature (refused: asleep, declined)") && response.contains("at least 0"),
        "{response}"
    );
    ensure!(v["escalation"]["level"] == "ward", "{v}");
    ensure!(
        v["escalation"]["about"] == "Incomplete set: Temperature not obtained; NEWS2 is at least 0",
        "{v}"
    );
    // From the page: pulse marked refused, with the reason.
    let cookie = app.sign_in("alex.ap", "remit-demo").await?;
    let csrf = app.csrf(&cookie).await?;
    let form = [
        ("csrf", csrf.as_str()),
        ("respiration_rate", "16"),
        ("spo2", "97"),
        ("on_oxygen", "no"),
        ("systolic_bp", "124"),
        ("pulse", ""),
        ("pulse_absence", "refused"),
        ("consciousness", "alert"),
        ("temperature", "37.0"),
        ("missing_reason", "did not want the probe"),
    ];
    let res = app
        .post_form(&format!("/patients/{GEORGE}/observations"), &cookie, &form)
        .await?;
    ensure!(res.status == StatusCode::CREATED, "{}: {}", res.status, res.body);
    ensure!(
        res.body.contains("Pulse (refused: did not want the probe)"),
        "{}",
        res.body
    );
    ensure!(!res.body.contains("Continue routine monitoring"), "{}", res.body);
    ensure!(
        res.body.contains("within the hour"),
        "the frequency that follows: {}",
        res.body
    );
    let sets = app
        .get(&format!("/api/patients/{GEORGE}/observations"), &alex)
        .await?
        .json()?;
    ensure!(sets[0]["readings"]["missing"][0]["absence"] == "refused", "{sets}");
    Ok(())
}

/// H2: scale 2's bands assume the 88–92% target; any other target is refused with that reason.
async fn scale_2_only_for_its_target(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let okafor = app.token_for("dr.okafor").await?;
    let before = app.store.audit_log(100_000).await?.len();
    let res = app
        .post_json(
            &format!("/api/patients/{MARGARET}/scale-2"),
            &okafor,
            &json!({"target": "85-90", "reason": "COPD"}),
        )
        .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("88–92%") && res.body.contains("85-90"),
        "{}",
        res.body
    );
    ensure!(app.store.audit_log(100_000).await?.len() == before, "nothing written");
    let res = app
        .post_json(
            &format!("/api/patients/{MARGARET}/scale-2"),
            &okafor,
            &json!({"target": "88-92", "reason": "COPD, hypercapnic respiratory failure"}),
        )
        .await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    Ok(())
}

/// H10: NEWS2 of 5 or more, or a single parameter scoring 3, prompts a sepsis screen with the set, the escalation and
/// on the board.
async fn a_score_of_5_or_a_single_3_prompts_a_sepsis_screen(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let priya = app.token_for("priya.rn").await?;
    let v = record(&app, &alex, MARGARET, five()).await?;
    ensure!(
        v["sepsis"]
            .as_str()
            .is_some_and(|s| s.contains("sepsis screen") && s.contains("NG51")),
        "{v}"
    );
    let id = v["escalation"]["id"].as_i64().context("raised")?;
    let e = open_escalation(&app, &priya, id).await?;
    ensure!(e["sepsis"].as_str().is_some_and(|s| s.contains("sepsis screen")), "{e}");
    let board = app.get("/wards/ward-7", &priya).await?;
    ensure!(board.body.contains("Could this be sepsis?"), "the board prompts it");
    // A single red parameter.
    let v = record(&app, &alex, GEORGE, set(16, 97, 124, 76, "new-confusion", 37.0)).await?;
    ensure!(v["sepsis"].is_string(), "{v}");
    // NEWS2 3 with no red parameter: no prompt.
    let v = record(&app, &alex, "9990006857", set(21, 95, 124, 76, "alert", 37.0)).await?;
    ensure!(v["set"]["total"] == 3 && v["sepsis"].is_null(), "{v}");
    Ok(())
}

/// H11: times a person reads are UK local time, zone named where it could be misread; storage and JSON stay UTC.
async fn times_people_read_are_uk_local_time(db: TestDb) -> Result<()> {
    expect_status(&db.remit(&["demo", "--seed-only"]), 0)?;
    let taken = "2026-07-01T23:30:00Z";
    let now = chrono::Utc::now();
    // Within the last day, in summer time or not: pick a time an hour ago and compute its UK form.
    let at = now - Duration::hours(1);
    let at_text = remit_domain::time::format_instant(at);
    let out = db.remit(&[
        "obs",
        "record",
        "--patient",
        MARGARET,
        "--by",
        "alex.ap",
        "--taken-at",
        &at_text,
        "--rr",
        "16",
        "--spo2",
        "97",
        "--sbp",
        "124",
        "--pulse",
        "76",
        "--acvpu",
        "alert",
        "--temp",
        "37.0",
    ]);
    expect_status(&out, 0)?;
    let text = stdout(&out);
    ensure!(text.contains(&remit_domain::time::uk_long(at)), "{text}");
    ensure!(
        text.contains(" GMT") || text.contains(" BST"),
        "the zone is named: {text}"
    );
    // JSON stays UTC.
    let out = db.remit(&["escalation", "list", "--json"]);
    expect_status(&out, 0)?;
    ensure!(stdout(&out).contains("Z\""), "{}", stdout(&out));
    // The conversion itself, across the change to summer time, is held by the domain's unit test.
    ensure!(remit_domain::time::uk_short(remit_domain::time::parse_instant("t", taken)?) == "2 Jul 00:30");
    Ok(())
}
