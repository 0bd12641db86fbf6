//! Clinical safety: a worse score is never hidden by an earlier acknowledgement, reviews are timed, emergencies
//! reach the grade Chart 4 names wherever the patient is, NEWS2 only where it applies, no empty or "routine"
//! incomplete set, scale 2 only for its target, the sepsis prompt, and times in UK local time. Each test names the
//! hazard it holds in `docs/safety/hazard-log.md`.

use anyhow::{Context, Result, ensure};
use axum::http::StatusCode;
use axum::http::StatusCode as S;
use chrono::Duration;
use remit_policy::PolicyPack;
use serde_json::{Value, json};

use crate::helpers::{Auth, TestApp, TestDb, expect_status, stdout};
use crate::tables::{ApiCase, Said, Step, api, audit, audit_from_here, cli, given, page, wait};

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
    the_inbox_puts_the_most_urgent_first_and_says_when_a_score_rose,
    an_escalation_is_reviewed_from_the_inbox_by_those_who_may,
);

const MARGARET: &str = "9990001375";
const GEORGE: &str = "9990005486";
const AISHA: &str = "9990004110";
const JOHN: &str = "9990012334";
const FATIMA: &str = "9990006857";

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

/// A set recorded over the JSON API for `patient` by `who`.
fn recorded(what: &'static str, who: &'static str, patient: &str, set: Value) -> ApiCase {
    api(
        what,
        who,
        format!("POST /api/patients/{patient}/observations"),
        S::CREATED,
    )
    .body(json!({ "set": set }))
}

/// The escalation kept as `name`, as it stands, read by `who`.
fn escalation(what: &'static str, who: &'static str, name: &str) -> ApiCase {
    api(what, who, format!("GET /api/escalations/{{{name}}}"), S::OK)
}

/// The escalation kept as `name`, acknowledged by `who` over the JSON API.
fn acknowledged(what: &'static str, who: &'static str, name: &str) -> ApiCase {
    api(
        what,
        who,
        format!("POST /api/escalations/{{{name}}}/acknowledge"),
        S::OK,
    )
    .body(json!({}))
}

/// `what` is at `pointer`.
fn at(pointer: &'static str, what: impl Into<Value>) -> Said {
    Said::At(pointer, what.into())
}

/// `username` is told, as `as_`.
fn told(username: &str, as_: &str) -> Said {
    Said::Has("/recipients", json!({"username": username, "as": as_}))
}

/// H3: a later, worse set re-raises the escalation still open — acknowledged (awaiting review) or not — with the new
/// score and level, unacknowledged; a lower set never lowers or closes it; a correction upwards does the same.
async fn a_worse_score_raises_an_open_escalation_again_whatever_its_state(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    app.story(
        &db,
        vec![
            recorded("Alex records Margaret's NEWS2 7", "alex.ap", MARGARET, seven())
                .keep("margaret", "/escalation/id")
                .into(),
            acknowledged("Priya acknowledges it", "priya.rn", "margaret")
                .said(at("/state", "acknowledged"))
                .into(),
            recorded(
                "a NEWS2 18 after the 7 was acknowledged",
                "alex.ap",
                MARGARET,
                eighteen(),
            )
            .said(Said::Kept("/escalation/id", "margaret"))
            .into(),
            escalation(
                "the same escalation is in front of people again",
                "priya.rn",
                "margaret",
            )
            .said(at("/score", 18))
            .said(at("/state", "open"))
            .said(at("/acknowledged_at", Value::Null))
            .said(at("/level", "emergency"))
            .said(at("/waiting_for", "acknowledgement"))
            .said(Said::Contains("raised again: NEWS2 18"))
            .said(Said::Contains("worse than the NEWS2 7"))
            .said(told("priya.rn", "registered staff on duty"))
            .into(),
            cli("the command line says the same", "escalation list --open", 0)
                .out(&["NEWS2 18 ward-7 9990001375", "waiting for acknowledgement"])
                .into(),
            page(
                "the inbox shows it to acknowledge again",
                "priya.rn",
                "GET /inbox",
                S::OK,
            )
            .said(Said::Contains("action=\"/escalations/{margaret}/acknowledge\""))
            .into(),
            recorded("a lower set", "alex.ap", MARGARET, normal())
                .said(at("/escalation", Value::Null))
                .into(),
            escalation("a lower set neither closes nor lowers it", "priya.rn", "margaret")
                .said(at("/state", "open"))
                .said(at("/score", 18))
                .into(),
            // An unacknowledged escalation keeps its place in the cascade when a worse set raises it again.
            recorded(
                "George newly confused",
                "alex.ap",
                GEORGE,
                set(16, 97, 124, 76, "new-confusion", 37.0),
            )
            .keep("george", "/escalation/id")
            .said(at("/escalation/level", "single-red"))
            .into(),
            wait(16),
            escalation("nobody acknowledged it: one step up", "priya.rn", "george")
                .said(at("/stage", 1))
                .into(),
            recorded("a NEWS2 5 for George", "alex.ap", GEORGE, five())
                .said(Said::Kept("/escalation/id", "george"))
                .said(at("/escalation/level", "urgent"))
                .said(at("/escalation/stage", 1))
                .into(),
            // A correction upwards of an acknowledged set raises its escalation again.
            recorded("Aisha's NEWS2 7", "alex.ap", AISHA, seven())
                .keep("aisha", "/escalation/id")
                .keep("aisha_set", "/set/id")
                .into(),
            acknowledged("Priya acknowledges Aisha's", "priya.rn", "aisha").into(),
            api(
                "a correction upwards",
                "alex.ap",
                "POST /api/observations/{aisha_set}/amend",
                S::CREATED,
            )
            .body(json!({"set": eighteen(), "reason": "pulse and pressure misread"}))
            .into(),
            escalation("the correction raised it again", "priya.rn", "aisha")
                .said(at("/state", "open"))
                .said(at("/score", 18))
                .said(at("/acknowledged_at", Value::Null))
                .into(),
        ],
    )
    .await
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
    // The command line keeps the real time; the app's clock is moved on after it to catch up.
    let catch_up = || Step::Wait(Duration::seconds(30));
    app.story(
        &db,
        vec![
            recorded("Margaret's NEWS2 7 on Ward 7", "alex.ap", MARGARET, seven())
                .keep("margaret", "/escalation/id")
                .into(),
            escalation(
                "the registrar and outreach covering the ward are told",
                "priya.rn",
                "margaret",
            )
            .said(told("dr.okafor", "specialty registrar"))
            .said(told("kim.outreach", "critical care outreach practitioner"))
            .said(told("priya.rn", "registered staff on duty"))
            .said(Said::HasNo("/recipients", json!({"as": "medical cover"})))
            .into(),
            cli("a grade the pack does not name", "staff set-grade maria.acp wizard", 2)
                .err(&["specialty-registrar"])
                .into(),
            // In the X-ray department (no nurse): the radiographer on duty, and as no registrar covers it, the
            // consultant radiologist who does.
            recorded("John's NEWS2 7 in the X-ray department", "kim.outreach", JOHN, seven())
                .keep("xray", "/escalation/id")
                .into(),
            escalation(
                "the radiographer and the consultant radiologist are told",
                "dr.reid",
                "xray",
            )
            .said(told("tom.rad", "registered staff on duty"))
            .said(told("dr.reid", "consultant"))
            .into(),
            // Medical cover for an emergency is only someone who may review one (a registrar or above).
            cli("Dr Reid without a grade", "staff set-grade dr.reid --none", 0).into(),
            catch_up(),
            escalation(
                "a doctor of no such grade is not paged as if they could review",
                "dr.reid",
                "xray",
            )
            .said(Said::HasNo("/recipients", json!({"username": "dr.reid"})))
            .into(),
            cli("Dr Reid a consultant again", "staff set-grade dr.reid consultant", 0).into(),
            catch_up(),
            escalation("someone there can acknowledge it", "dr.reid", "xray")
                .said(at("/no_one_to_acknowledge", false))
                .into(),
            acknowledged("the radiographer acknowledges it", "tom.rad", "xray").into(),
            // Nobody on duty there who could acknowledge: with no clinical site manager on duty the board says so;
            // with one, she is told and the board names her.
            recorded("John's NEWS2 18 raises it again", "kim.outreach", JOHN, eighteen())
                .said(Said::Kept("/escalation/id", "xray"))
                .said(at("/escalation/state", "open"))
                .into(),
            cli("the radiographer goes off duty", "staff set-duty tom.rad --off", 0).into(),
            cli(
                "outreach goes to the wards",
                "staff set-duty kim.outreach --place ward-7 --place ward-9",
                0,
            )
            .into(),
            catch_up(),
            page(
                "the board says nobody can acknowledge it",
                "dr.reid",
                "GET /wards/xray",
                S::OK,
            )
            .said(Said::Contains(
                "Nobody on duty here can acknowledge this escalation, and nobody is on duty as",
            ))
            .into(),
            escalation("and so does the escalation", "dr.reid", "xray")
                .said(at("/no_one_to_acknowledge", true))
                .into(),
            cli(
                "a clinical site manager is added",
                concat!(
                    "staff add sue.site --name 'Sue Grant' --job-title 'Clinical site manager' --level 7 ",
                    "--registration NMC:05B1234E:2030-01-31 --grade clinical-site-manager"
                ),
                0,
            )
            .into(),
            cli("she comes on duty", "staff set-duty sue.site --place ward-9", 0).into(),
            catch_up(),
            escalation("she is told", "dr.reid", "xray")
                .said(at("/no_one_to_acknowledge", true))
                .said(Said::Has("/recipients", json!({"username": "sue.site"})))
                .said(Said::Contains("nobody on duty where the patient is can acknowledge"))
                .into(),
            page("the board names her", "dr.reid", "GET /wards/xray", S::OK)
                .said(Said::Contains(
                    "Nobody on duty here can acknowledge this escalation: it has gone to Sue Grant",
                ))
                .into(),
            // Graded staff are called by their grade: the outreach nurse is never ward 9's nurse in charge.
            recorded("a NEWS2 7 on Ward 9", "ben.rn", "9990008221", seven())
                .keep("ward9", "/escalation/id")
                .into(),
            wait(11),
            escalation(
                "Ben is the nurse in charge, not outreach or the site manager",
                "ben.rn",
                "ward9",
            )
            .said(at("/stage", 1))
            .said(Said::Has("/recipients", json!({"as": "nurse in charge"})))
            .said(told("ben.rn", "nurse in charge"))
            .into(),
        ],
    )
    .await
}

/// H8: under 16 on the day of the set, or recorded as pregnant or within six weeks of birth: the readings are kept,
/// no NEWS2 is given, and the registered nurse is told.
async fn news2_is_not_given_under_16_or_in_pregnancy(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
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
    let add = |what, args| cli(what, args, 0);
    app.story(
        &db,
        vec![
            given("fifteen", born(16, 1)),
            given("sixteen", born(16, 0)),
            given("seven_weeks", (today + Duration::days(43)).to_string()),
            given("four_weeks", (today + Duration::days(30)).to_string()),
            add(
                "fifteen, turning sixteen tomorrow",
                concat!(
                    "patient add --nhs-number 9990015007 --given-name Sam --family-name Young ",
                    "--date-of-birth {fifteen} --sex female --place ward-7 --bed 6"
                ),
            )
            .into(),
            add(
                "sixteen today",
                concat!(
                    "patient add --nhs-number 9990015015 --given-name Sam --family-name Older ",
                    "--date-of-birth {sixteen} --sex female --place ward-7 --bed 7"
                ),
            )
            .into(),
            recorded("a set at fifteen", "alex.ap", "9990015007", normal())
                .keep("young", "/set/id")
                .said(Said::Absent("/set/total"))
                .said(Said::Absent("/set/risk"))
                .said(at(
                    "/set/not_scored",
                    "NEWS2 does not apply: under 16 — use the paediatric early warning chart",
                ))
                .said(at("/set/readings/pulse", 76))
                .said(at("/escalation/level", "ward"))
                .said(Said::Absent("/escalation/score"))
                .said(Said::Text("/response", "NEWS2 does not apply: under 16"))
                .into(),
            page("the board says so in words", "priya.rn", "GET /wards/ward-7", S::OK)
                .said(Said::Contains("NEWS2 does not apply: under 16"))
                .into(),
            page("so does the chart", "priya.rn", "GET /patients/9990015007", S::OK)
                .said(Said::Contains("no NEWS2"))
                .into(),
            api(
                "its NEWS2 Observation has no value and says why",
                "priya.rn",
                "GET /fhir/Observation/{young}-news2",
                S::OK,
            )
            .said(Said::Absent("/valueInteger"))
            .said(at("/dataAbsentReason/coding/0/code", "not-applicable"))
            .into(),
            recorded("a set at sixteen today is scored", "alex.ap", "9990015015", normal())
                .said(at("/set/total", 0))
                .into(),
            // Pregnancy is recorded by registered staff, audited; the AP is refused with the reason.
            audit_from_here(),
            api(
                "the AP may not record a pregnancy",
                "alex.ap",
                format!("POST /api/patients/{AISHA}/pregnancy"),
                S::FORBIDDEN,
            )
            .body(json!({"status": "pregnant"}))
            .said(Said::Contains("registration"))
            .into(),
            api(
                "the nurse records Aisha as pregnant",
                "priya.rn",
                format!("POST /api/patients/{AISHA}/pregnancy"),
                S::OK,
            )
            .body(json!({"status": "pregnant"}))
            .into(),
            audit(
                "the refusal and the record",
                &["record.pregnancy-status refused", "record.pregnancy-status"],
            ),
            recorded("a set in pregnancy", "alex.ap", AISHA, seven())
                .said(Said::Text("/set/not_scored", "pregnant"))
                .said(Said::Absent("/escalation/score"))
                .into(),
            // Up to six weeks after birth; not beyond.
            cli(
                "postpartum beyond six weeks",
                "patient set-pregnancy 9990004110 postpartum --by priya.rn --until {seven_weeks}",
                2,
            )
            .into(),
            cli(
                "postpartum with no end",
                "patient set-pregnancy 9990004110 postpartum --by priya.rn",
                2,
            )
            .err(&["six weeks after the birth"])
            .into(),
            cli(
                "postpartum for four weeks",
                "patient set-pregnancy 9990004110 postpartum --by priya.rn --until {four_weeks}",
                0,
            )
            .into(),
            cli(
                "no longer pregnant",
                "patient set-pregnancy 9990004110 not-pregnant --by priya.rn",
                0,
            )
            .into(),
            recorded("scored again", "alex.ap", AISHA, normal())
                .said(at("/set/total", 0))
                .said(Said::Absent("/set/not_scored"))
                .into(),
        ],
    )
    .await
}

/// H9: a set in which nothing was obtained is not a set; "not done" is recorded instead, the patient stays overdue
/// and the nurse sees why.
async fn an_empty_set_is_refused_and_observations_not_done_are_recorded(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let gone = |p: &str| json!({"parameter": p, "absence": "not-obtained", "reason": "off the ward"});
    let empty = json!({"on_oxygen": false, "missing": [gone("respiration_rate"), gone("spo2"), gone("systolic_bp"),
        gone("pulse"), gone("consciousness"), gone("temperature")]});
    let mut no_acvpu = normal();
    no_acvpu.as_object_mut().unwrap().remove("consciousness");
    no_acvpu["missing"] = json!([gone("consciousness")]);
    let missed = format!("POST /api/patients/{GEORGE}/observations/missed");
    app.story(
        &db,
        vec![
            recorded("a set with nothing in it", "alex.ap", GEORGE, empty)
                .answers(S::UNPROCESSABLE_ENTITY)
                .said(Said::Contains("remit obs missed"))
                .into(),
            recorded("a set without consciousness", "alex.ap", GEORGE, no_acvpu)
                .answers(S::UNPROCESSABLE_ENTITY)
                .said(Said::Contains("can always be assessed"))
                .into(),
            audit("nothing written", &[]),
            cli(
                "the command line refuses the same",
                concat!(
                    "obs record --patient 9990005486 --by alex.ap --missing respiration_rate:not-obtained:x ",
                    "--missing spo2:not-obtained:x --missing systolic_bp:not-obtained:x ",
                    "--missing pulse:not-obtained:x --missing consciousness:not-obtained:x ",
                    "--missing temperature:not-obtained:x"
                ),
                2,
            )
            .into(),
            // Not done, recorded with the reason: George stays overdue, the board and inbox say why.
            api("not done for no reason", "alex.ap", &missed, S::UNPROCESSABLE_ENTITY)
                .body(json!({"reason": " "}))
                .into(),
            audit("still nothing written", &[]),
            cli(
                "not done, with the reason",
                "obs missed --patient 9990005486 --by alex.ap --reason 'off the ward for CT'",
                0,
            )
            .into(),
            audit("the reason is recorded", &["vitals.missed"]),
            page("the board says why", "priya.rn", "GET /wards/ward-7", S::OK)
                .said(Said::Contains("Not done: off the ward for CT"))
                .into(),
            api(
                "George is still overdue",
                "priya.rn",
                "GET /api/observations/overdue?ward=ward-7",
                S::OK,
            )
            .said(Said::Has("", json!({"patient": GEORGE})))
            .into(),
            page("the inbox says why", "priya.rn", "GET /inbox", S::OK)
                .said(Said::Contains("off the ward for CT"))
                .into(),
            api(
                "someone who may not record vitals there may not record them as not done",
                "ben.rn",
                &missed,
                S::FORBIDDEN,
            )
            .body(json!({"reason": "x"}))
            .into(),
            page(
                "not done, from the record page",
                "alex.ap",
                format!("POST /patients/{GEORGE}/observations/missed"),
                S::OK,
            )
            .redirects()
            .form(&[("reason", "patient asleep after night sedation")])
            .said(Said::Contains("observations not done"))
            .into(),
        ],
    )
    .await
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
    ensure!(res.status == StatusCode::SEE_OTHER, "{}: {}", res.status, res.body);
    let res = app
        .get(res.header("location").context("the set's page")?, &cookie)
        .await?;
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

/// H3: the inbox puts what waits for acknowledgement first, then the most severe, then the longest waiting; counts
/// what waits in its title (and in every page's header, `browser::a_nurses_open_inbox_shows_a_new_escalation_…`);
/// never shows an open escalation in green; and says when a score rose after the escalation was raised.
async fn the_inbox_puts_the_most_urgent_first_and_says_when_a_score_rose(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    app.story(
        &db,
        vec![
            recorded(
                "a ward-level set for George",
                "alex.ap",
                GEORGE,
                set(16, 97, 124, 95, "alert", 37.0),
            )
            .keep("george", "/escalation/id")
            .said(at("/escalation/level", "ward"))
            .into(),
            wait(5),
            recorded("Fatima's NEWS2 7, five minutes later", "alex.ap", FATIMA, seven())
                .keep("fatima", "/escalation/id")
                .into(),
            recorded("Margaret's NEWS2 5", "alex.ap", MARGARET, five())
                .keep("margaret", "/escalation/id")
                .into(),
            acknowledged("Priya acknowledges Margaret's", "priya.rn", "margaret").into(),
            page("the inbox, most urgent first", "priya.rn", "GET /inbox", S::OK)
                .said(Said::InOrder(&[
                    "data-escalation=\"{fatima}\"",
                    "data-escalation=\"{george}\"",
                    "data-escalation=\"{margaret}\"",
                ]))
                .said(Said::Contains("<title>(2) Inbox"))
                .said(Said::Contains(
                    "class=\"alert alert-emergency alert-unacknowledged\" data-escalation=\"{fatima}\"",
                ))
                .said(Said::Contains(
                    "class=\"alert alert-ward alert-unacknowledged\" data-escalation=\"{george}\"",
                ))
                .said(Said::Contains(
                    "class=\"alert alert-urgent\" data-escalation=\"{margaret}\"",
                ))
                .into(),
            api("the same over the API", "priya.rn", "GET /api/inbox", S::OK)
                .said(at("/to_acknowledge", 2))
                .said(Said::Kept("/escalations/0/id", "fatima"))
                .said(Said::Kept("/escalations/1/id", "george"))
                .said(Said::Has(
                    "/escalations",
                    json!({"id": "{margaret}", "waiting_for": "review"}),
                ))
                .into(),
            recorded("Fatima's NEWS2 18", "alex.ap", FATIMA, eighteen())
                .said(Said::Kept("/escalation/id", "fatima"))
                .into(),
            page("the inbox says the score rose", "priya.rn", "GET /inbox", S::OK)
                .said(Said::Contains(
                    "Worse since it was raised</strong>: raised again: NEWS2 18",
                ))
                .said(Said::Contains("worse than the NEWS2 7"))
                .into(),
            api(
                "and so does the escalation",
                "priya.rn",
                "GET /api/escalations/{fatima}",
                S::OK,
            )
            .said(Said::Text("/score_rose", "raised again: NEWS2 18"))
            .into(),
        ],
    )
    .await
}

/// H3: the review that closes an escalation is recorded from the inbox, by those the routes let review it (the
/// registrar for an emergency, not the nurse who acknowledged it), saying what it found.
async fn an_escalation_is_reviewed_from_the_inbox_by_those_who_may(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let form = "action=\"/escalations/{margaret}/review\"";
    app.story(
        &db,
        vec![
            recorded("Margaret's NEWS2 7", "alex.ap", MARGARET, seven())
                .keep("margaret", "/escalation/id")
                .into(),
            acknowledged("Priya acknowledges it", "priya.rn", "margaret").into(),
            page("the nurse is not offered the review", "priya.rn", "GET /inbox", S::OK)
                .said(Said::Contains("data-escalation=\"{margaret}\""))
                .said(Said::Lacks(form))
                .into(),
            page("the registrar is", "dr.okafor", "GET /inbox", S::OK)
                .said(Said::Contains(form))
                .into(),
            audit_from_here(),
            page(
                "a review that says nothing",
                "dr.okafor",
                "POST /escalations/{margaret}/review",
                S::UNPROCESSABLE_ENTITY,
            )
            .form(&[("note", " ")])
            .said(Said::Contains("say what the review found and decided"))
            .into(),
            page(
                "the nurse may not review an emergency",
                "priya.rn",
                "POST /escalations/{margaret}/review",
                S::FORBIDDEN,
            )
            .form(&[("note", "seen")])
            .into(),
            page(
                "the registrar's review",
                "dr.okafor",
                "POST /escalations/{margaret}/review",
                S::OK,
            )
            .redirects()
            .form(&[("note", "Seen: chest sepsis, antibiotics started, to HDU")])
            .said(Said::Contains("for Margaret Hughes reviewed and closed"))
            .said(Said::Lacks("data-escalation=\"{margaret}\""))
            .into(),
            audit(
                "the refusal and the review",
                &["escalation.review refused", "escalation.review"],
            ),
            escalation("closed, with what the review found", "priya.rn", "margaret")
                .said(at("/state", "closed"))
                .said(at("/review_note", "Seen: chest sepsis, antibiotics started, to HDU"))
                .into(),
        ],
    )
    .await
}
