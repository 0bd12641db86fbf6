//! The pages, through the router with real sessions and CSRF tokens: the ward board, the chart, my work, the education
//! lead's matrix and sign-off, the radiography forms and the audit log. (The browser suite drives the core journeys
//! in Chromium; these cover every page on both databases.)

use anyhow::{Context, Result, ensure};
use axum::http::StatusCode;

use crate::helpers::{Auth, TestApp, TestDb, TestResponse};
use crate::tables::{Said, api, audit, audit_from_here, given, page, sql};
use serde_json::json;

crate::tests!(
    the_ward_board_and_the_chart_show_the_stories,
    the_ward_board_counts_tasks_shows_a_delegatee_their_patient_and_moves_the_cascade,
    the_chart_shows_the_newest_current_sets_however_often_one_was_corrected,
    my_work_shows_tasks_scope_and_competencies_and_moves_a_task,
    the_education_lead_sees_the_matrix_and_signs_off,
    the_radiography_forms_run_the_chain_and_show_refusals,
    the_audit_page_shows_whether_the_chain_verifies,
    every_form_answers_hostile_values_without_a_server_error,
    a_refresh_never_repeats_a_write,
    every_patient_page_carries_the_patient_banner,
    work_done_under_direct_supervision_is_countersigned_from_the_inbox,
    a_set_is_corrected_or_marked_entered_in_error_from_the_chart,
    work_is_delegated_from_the_chart_by_those_who_may,
    a_person_records_their_cpd_from_their_work_page,
    each_role_starts_on_its_own_page,
    an_x_ray_request_offers_only_the_steps_the_reader_may_take_now,
    a_browser_is_answered_errors_as_pages_and_systems_as_json,
    a_form_in_error_says_what_is_wrong_and_marks_the_fields,
    the_chart_values_are_also_a_table_with_every_parameter,
);

pub(crate) async fn post(app: &TestApp, auth: &Auth, path: &str, form: &[(&str, &str)]) -> Result<TestResponse> {
    let csrf = app.csrf(auth).await?;
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    app.post_form(path, auth, &fields).await
}

/// A form posted that does its work: answered with a redirect (post/redirect/get), whose page is returned.
pub(crate) async fn post_done(app: &TestApp, auth: &Auth, path: &str, form: &[(&str, &str)]) -> Result<TestResponse> {
    let res = post(app, auth, path, form).await?;
    ensure!(
        res.status == StatusCode::SEE_OTHER,
        "{path}: {} {}",
        res.status,
        res.body
    );
    let to = res.header("location").context("a redirect names its page")?;
    app.get(to, auth).await
}

async fn the_ward_board_and_the_chart_show_the_stories(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let priya = app.sign_in("priya.rn", "remit-demo").await?;
    let board = app.get("/wards/ward-7", &priya).await?;
    ensure!(board.status == StatusCode::OK, "{}", board.status);
    let b = &board.body;
    for needle in [
        "Margaret Hughes",
        "David Clarke",
        "George Wilson",
        "URGENT response (NEWS2 6)",
        "overdue by 2 h 0 min",
    ] {
        ensure!(b.contains(needle), "the board lacks `{needle}`");
    }
    ensure!(b.contains("rising (4 → 6)"), "David's trend");
    ensure!(
        b.contains("nhsuk-tag nhsuk-tag--orange") && b.contains("Medium risk"),
        "risk by colour and by text"
    );
    ensure!(
        !b.contains("Susan Blake"),
        "ward 9's patients are not on ward 7's board"
    );
    let chart = app.get("/patients/9990002746", &priya).await?;
    ensure!(chart.status == StatusCode::OK);
    ensure!(
        chart.body.contains("<svg") && chart.body.matches("<rect").count() >= 3 * 8,
        "a cell per parameter and set"
    );
    ensure!(chart.body.contains("#ed8b00"), "a score of 2 shaded orange");
    ensure!(chart.body.contains("Escalation") && chart.body.contains("acknowledged"));
    ensure!(chart.body.contains("min for review."), "what the escalation waits for");
    // Ben works on ward 9: David's record is not his to open.
    let ben = app.sign_in("ben.rn", "remit-demo").await?;
    let res = app.get("/patients/9990002746", &ben).await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("not on duty"),
        "{}",
        res.body
    );
    Ok(())
}

/// The board is one read: each patient's open tasks, the reader's own tasks (which open a patient elsewhere to them),
/// and the escalations, moved along the cascade first when one has waited too long. A ward that does not exist is
/// not found.
async fn the_ward_board_counts_tasks_shows_a_delegatee_their_patient_and_moves_the_cascade(db: TestDb) -> Result<()> {
    // Margaret Hughes (9990001375) and David Clarke are on Ward 7; ben.rn is on duty on Ward 9.
    let app = TestApp::demo(&db).await?;
    let ben = app.token_for("ben.rn").await?;
    let res = app.get("/wards/ward-99", &ben).await?;
    ensure!(
        res.status == StatusCode::NOT_FOUND && res.body.contains("no place `ward-99`"),
        "{}: {}",
        res.status,
        res.body
    );
    let board = app.get("/wards/ward-7", &ben).await?;
    ensure!(board.status == StatusCode::OK, "{}", board.status);
    ensure!(
        !board.body.contains("Margaret Hughes") && !board.body.contains("David Clarke"),
        "Ward 7's patients are not ben's"
    );

    let mut raw = db.raw().await?;
    crate::helpers::delegate_at_sql_prompt(&mut raw, "9990001375", "priya.rn", "ben.rn").await?;
    let board = app.get("/wards/ward-7", &ben).await?;
    ensure!(board.status == StatusCode::OK, "{}", board.status);
    ensure!(
        board.body.contains("Margaret Hughes") && !board.body.contains("David Clarke"),
        "a task delegated to ben opens Margaret's record to him, and only hers"
    );
    ensure!(board.body.contains("1 open"), "Margaret's open task is counted");

    // A set scoring 7 raises an escalation; nobody acknowledges it within the pack's 5 minutes, and the board is
    // read.
    let alex = app.token_for("alex.ap").await?;
    let seven = serde_json::json!({"set": {"respiration_rate": 25, "spo2": 93, "on_oxygen": false,
        "systolic_bp": 105, "pulse": 105, "consciousness": "alert", "temperature": 37.5}});
    let res = app
        .post_json("/api/patients/9990001375/observations", &alex, &seven)
        .await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    let id = res.json()?["escalation"]["id"].as_i64().unwrap_or_default();
    let priya = app.token_for("priya.rn").await?;
    let board = app.get("/wards/ward-7", &priya).await?;
    ensure!(
        board
            .body
            .contains("EMERGENCY response (NEWS2 7), not yet acknowledged"),
        "the new escalation is on the board"
    );
    ensure!(stage_of(&mut raw, id).await? == 0, "not yet due");
    app.clock.advance(chrono::Duration::minutes(6));
    let board = app.get("/wards/ward-7", &priya).await?;
    ensure!(board.status == StatusCode::OK, "{}", board.status);
    ensure!(
        stage_of(&mut raw, id).await? == 1,
        "reading the board re-notified the escalation that waited"
    );
    Ok(())
}

async fn stage_of(raw: &mut sqlx::AnyConnection, escalation: i64) -> Result<i64> {
    let sql = format!("SELECT stage FROM escalation WHERE id = {escalation}");
    Ok(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .fetch_one(raw)
        .await?)
}

/// The chart's sets are the newest current ones, and the history the newest versions of any state. The page takes the
/// chart's from the history when it holds enough of them; here the newest set was corrected 45 times, so the 50
/// newest versions hold only 5 current sets and the chart's 12 must be read on their own.
async fn the_chart_shows_the_newest_current_sets_however_often_one_was_corrected(db: TestDb) -> Result<()> {
    const MARGARET: &str = "9990001375";
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let set = |pulse: i64| {
        serde_json::json!({"set": {"respiration_rate": 16, "spo2": 97, "on_oxygen": false, "systolic_bp": 124,
            "pulse": pulse, "consciousness": "alert", "temperature": 37.0}})
    };
    let mut version = 0;
    for pulse in 61..=73 {
        let res = app
            .post_json(&format!("/api/patients/{MARGARET}/observations"), &alex, &set(pulse))
            .await?;
        ensure!(res.status == StatusCode::CREATED, "{}", res.body);
        version = res.json()?["set"]["id"].as_i64().unwrap_or_default();
    }
    let page = app.get(&format!("/patients/{MARGARET}"), &alex).await?;
    ensure!(page.status == StatusCode::OK, "{}", page.status);
    ensure!(
        page.body.contains("NEWS2 chart of the 12 most recent sets"),
        "before corrections"
    );
    for n in 0..45 {
        let mut body = set(80 + n % 10);
        body["reason"] = serde_json::json!("pulse recounted");
        let res = app
            .post_json(&format!("/api/observations/{version}/amend"), &alex, &body)
            .await?;
        ensure!(res.status == StatusCode::CREATED, "{}", res.body);
        version = res.json()?["set"]["id"].as_i64().unwrap_or_default();
    }
    let page = app.get(&format!("/patients/{MARGARET}"), &alex).await?;
    ensure!(page.status == StatusCode::OK, "{}", page.status);
    let b = &page.body;
    ensure!(
        b.contains("NEWS2 chart of the 12 most recent sets"),
        "after corrections"
    );
    // The oldest of the twelve is the set with pulse 62 (61 is the thirteenth newest); the newest is the last
    // correction (pulse 84).
    ensure!(b.contains(">62</text>") && !b.contains(">61</text>") && b.contains(">84</text>"));
    ensure!(
        b.matches("superseded").count() >= 45,
        "the history lists the corrections"
    );
    Ok(())
}

async fn my_work_shows_tasks_scope_and_competencies_and_moves_a_task(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.sign_in("alex.ap", "remit-demo").await?;
    let me = app.get("/me", &alex).await?;
    ensure!(me.status == StatusCode::OK);
    // The task in words, with the buttons its state allows Alex now: accept or decline, not yet start or complete.
    for needle in [
        "<strong>Take blood</strong>",
        "Fatima Noor</a>, bed 5",
        "From Priya Shah to Alex Morgan",
        "action=\"/tasks/1/accept\"",
        "action=\"/tasks/1/decline\"",
    ] {
        ensure!(me.body.contains(needle), "/me lacks `{needle}`");
    }
    for absent in [
        "procedure.venepuncture",
        "action=\"/tasks/1/start\"",
        "action=\"/tasks/1/complete\"",
    ] {
        ensure!(!me.body.contains(absent), "/me shows `{absent}`");
    }
    for needle in ["What I may do now", "catheterisation", "expired", "expires in 20 days"] {
        ensure!(me.body.contains(needle), "/me lacks `{needle}`");
    }
    ensure!(me.body.contains("Prescribe a medicine") && me.body.contains("not allowed"));
    let res = post(&app, &alex, "/tasks/1/decline", &[("reason", "")]).await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("say why"),
        "{}",
        res.body
    );
    let res = post_done(&app, &alex, "/tasks/1/accept", &[]).await?;
    ensure!(
        res.status == StatusCode::OK && res.body.contains("Task 1 is now accepted"),
        "{}",
        res.body
    );
    // A form without the session's CSRF token is refused.
    let res = app.post_form("/tasks/1/start", &alex, &[("csrf", "forged")]).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.status);
    Ok(())
}

async fn the_education_lead_sees_the_matrix_and_signs_off(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let lee = app.sign_in("lee.edu", "remit-demo").await?;
    let page = app.get("/education", &lee).await?;
    ensure!(page.status == StatusCode::OK, "{}", page.status);
    for needle in [
        "Ward 7 — Acute Medical Unit",
        "Alex Morgan",
        "Within 30 days",
        "venepuncture expires",
    ] {
        ensure!(page.body.contains(needle), "/education lacks `{needle}`");
    }
    // Alex goes off duty: he is still one of Ward 7's staff on its matrix, red, amber and green with words; Lee,
    // rostered nowhere, is listed too; his lapsed catheterisation is listed.
    let mut raw = db.raw().await?;
    sqlx::Executor::execute(
        &mut raw,
        sqlx::AssertSqlSafe(
            "UPDATE duty SET ends_at = starts_at WHERE staff_id = (SELECT id FROM staff WHERE username = 'alex.ap')",
        ),
    )
    .await?;
    let page = app.get("/education", &lee).await?;
    let b = &page.body;
    let ward_7 = b
        .split("<h3>")
        .find(|m| m.starts_with("Ward 7"))
        .ok_or_else(|| anyhow::anyhow!("no Ward 7 matrix"))?;
    let alex_row = ward_7
        .split("<tr>")
        .find(|r| r.contains("Alex Morgan"))
        .ok_or_else(|| anyhow::anyhow!("Alex, off duty, is not on Ward 7's matrix"))?;
    for needle in [
        "not on duty",
        "<strong class=\"nhsuk-tag nhsuk-tag--green\">valid until",
        "<strong class=\"nhsuk-tag nhsuk-tag--yellow\">expires in 20 days",
        "<strong class=\"nhsuk-tag nhsuk-tag--red\">expired",
        "<span class=\"not-held\">not held</span>",
    ] {
        ensure!(alex_row.contains(needle), "Alex's row lacks `{needle}`: {alex_row}");
    }
    ensure!(
        ward_7.contains("Priya Shah<br><small>on duty now"),
        "Priya is on duty: {ward_7}"
    );
    let nowhere = b
        .split("<h3>")
        .find(|m| m.starts_with("Not rostered anywhere"))
        .ok_or_else(|| anyhow::anyhow!("no matrix for those rostered nowhere"))?;
    ensure!(nowhere.contains("Lee Walsh") && !nowhere.contains("System Administrator"));
    ensure!(
        b.contains("Alex Morgan: Urinary catheterisation, expired"),
        "the lapsed list"
    );
    let res = post_done(
        &app,
        &lee,
        "/education/sign-off",
        &[
            ("staff", "alex.ap"),
            ("competency", "catheterisation"),
            ("evidence", "Observed on ward 7, three catheterisations"),
        ],
    )
    .await?;
    ensure!(
        res.status == StatusCode::OK && res.body.contains("signed off, valid until"),
        "{}",
        res.body
    );
    // Lee does not hold x-ray competencies: refused, with the reason.
    let res = post(
        &app,
        &lee,
        "/education/sign-off",
        &[
            ("staff", "jo.ap"),
            ("competency", "xray-axial"),
            ("evidence", "observed"),
        ],
    )
    .await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("xray-axial"),
        "{}",
        res.body
    );
    ensure!(
        !res.body.contains("axial extension"),
        "a reason names only what applies: {}",
        res.body
    );
    // What was asked for is kept, to be mended rather than chosen again.
    for kept in [
        "<option value=\"jo.ap\" selected>",
        "<option value=\"xray-axial\" selected>",
        "name=\"evidence\" value=\"observed\"",
    ] {
        ensure!(res.body.contains(kept), "the refused sign-off lost `{kept}`");
    }
    // An administrator sees the matrix, not a sign-off form they could never use.
    let admin = app.sign_in("admin", "remit-demo").await?;
    let page = app.get("/education", &admin).await?;
    ensure!(page.status == StatusCode::OK && !page.body.contains("sign-off-form"));
    let alex = app.sign_in("alex.ap", "remit-demo").await?;
    ensure!(app.get("/education", &alex).await?.status == StatusCode::FORBIDDEN);
    Ok(())
}

async fn the_radiography_forms_run_the_chain_and_show_refusals(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let tom = app.sign_in("tom.rad", "remit-demo").await?;
    let lists = app.get("/imaging", &tom).await?;
    ensure!(lists.body.contains("Awaiting justification") && lists.body.contains("Linda Evans"));
    ensure!(
        lists
            .body
            .contains("Request 2: Lumbar spine</a> for Linda Evans (NHS number 999 001 3705)"),
        "the examination in words, the NHS number as printed"
    );
    let res = post_done(
        &app,
        &tom,
        "/imaging/requests/2/justify",
        &[("note", "fall, tender L3")],
    )
    .await?;
    ensure!(res.body.contains("Request 2 is now justified"), "{}", res.body);
    let jo = app.sign_in("jo.ap", "remit-demo").await?;
    let exposure = [
        ("projections", "PA"),
        ("kv", "110"),
        ("mas", "2.5"),
        ("dap", "0.08"),
        ("sid_cm", "180"),
    ];
    let res = post(&app, &jo, "/imaging/requests/1/expose", &exposure).await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("indirect supervision"),
        "{}",
        res.body
    );
    let mut supervised = exposure.to_vec();
    supervised.push(("supervisor", "tom.rad"));
    let res = post_done(&app, &jo, "/imaging/requests/1/expose", &supervised).await?;
    ensure!(res.body.contains("Request 1 is now exposed"), "{}", res.body);
    let res = post(&app, &jo, "/imaging/requests/1/report", &[("conclusion", "normal")]).await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("image-reporting"),
        "{}",
        res.body
    );
    let res = post(&app, &jo, "/imaging/requests/2/expose", &[("kv", "lots")]).await?;
    ensure!(res.status == StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    Ok(())
}

async fn the_audit_page_shows_whether_the_chain_verifies(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    // More entries than a page holds.
    for _ in 0..100 {
        app.token_for("sam.hca").await?;
    }
    app.story(
        &db,
        vec![
            page(
                "the log, newest first, a page at a time",
                "admin",
                "GET /audit",
                StatusCode::OK,
            )
            .said(Said::Contains("Verify the whole hash chain now"))
            .said(Said::Lacks("The hash chain verifies"))
            .said(Said::Contains("Older entries"))
            .into(),
            page(
                "the chain verified on request",
                "admin",
                "GET /audit?verify=1",
                StatusCode::OK,
            )
            .said(Said::Contains("The hash chain verifies: all"))
            .into(),
            page(
                "one action's entries",
                "admin",
                "GET /audit?action=vitals.record",
                StatusCode::OK,
            )
            .said(Said::Contains("<td>vitals.record</td>"))
            .said(Said::Lacks("<td>token.create</td>"))
            .said(Said::Contains("value=\"vitals.record\""))
            .into(),
            page(
                "an older page keeps the filter",
                "admin",
                "GET /audit?action=vitals.record&before=1000000",
                StatusCode::OK,
            )
            .said(Said::Contains("<td>vitals.record</td>"))
            .into(),
            page(
                "a page starts where the one before ended",
                "admin",
                "GET /audit?before=10",
                StatusCode::OK,
            )
            .said(Said::Contains("<tr><td>9</td>"))
            .said(Said::Lacks("<tr><td>10</td>"))
            .said(Said::Lacks("Older entries"))
            .into(),
            page(
                "nothing matches",
                "admin",
                "GET /audit?actor=staff:nobody",
                StatusCode::OK,
            )
            .said(Said::Contains("No entries match."))
            .into(),
            page(
                "a query the page does not take",
                "admin",
                "GET /audit?colour=red",
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .into(),
            sql("UPDATE audit_entry SET actor = 'someone-else' WHERE seq = 3"),
            page(
                "an edited entry breaks the chain",
                "admin",
                "GET /audit?verify=1",
                StatusCode::OK,
            )
            .said(Said::Contains("The hash chain is broken"))
            .into(),
            page(
                "the log is for administrators",
                "priya.rn",
                "GET /audit",
                StatusCode::FORBIDDEN,
            )
            .into(),
        ],
    )
    .await
}

/// Every form remit serves, posted with values generated at random (numbers out of range, odd text, control and
/// right-to-left characters, fields missing or repeated): each answer is a page or a 4xx, never a server error, and
/// the audit chain still verifies afterwards.
async fn every_form_answers_hostile_values_without_a_server_error(db: TestDb) -> Result<()> {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    let app = TestApp::demo(&db).await?;
    let forms: &[(&str, &str, &[&str])] = &[
        (
            "alex.ap",
            "/patients/9990001375/observations",
            &[
                "respiration_rate",
                "spo2",
                "on_oxygen",
                "oxygen_flow",
                "systolic_bp",
                "diastolic_bp",
                "pulse",
                "consciousness",
                "temperature",
                "supervisor",
                "missing_reason",
            ],
        ),
        (
            "dr.okafor",
            "/patients/9990002746/prescribe",
            &["medicine", "dose", "route", "frequency"],
        ),
        ("lee.edu", "/education/sign-off", &["staff", "competency", "evidence"]),
        (
            "lee.edu",
            "/education/enrol",
            &["staff", "route", "programme", "provider", "starts_on", "expected_end"],
        ),
        ("tom.rad", "/imaging/requests/1/justify", &["note"]),
        ("tom.rad", "/imaging/requests/2/pregnancy", &["answer", "note"]),
        (
            "tom.rad",
            "/imaging/requests/1/expose",
            &["supervisor", "projections", "kv", "mas", "dap", "sid_cm"],
        ),
        ("tom.rad", "/imaging/requests/1/report", &["conclusion"]),
        ("alex.ap", "/tasks/1/accept", &["reason"]),
        ("alex.ap", "/tasks/1/decline", &["reason"]),
        ("priya.rn", "/escalations/1/acknowledge", &[]),
    ];
    let value = prop_oneof![
        Just(String::new()),
        "-?[0-9]{1,6}(\\.[0-9]{1,4})?",
        "\\PC{0,40}",
        "[\\x00-\\x1f\\u{202e}\\u{feff}<>&\"']{0,8}",
        proptest::sample::select(vec![
            "alert",
            "yes",
            "no",
            "chest-pa",
            "alex.ap",
            "venepuncture",
            "oral",
            "1e308",
            "NaN"
        ])
        .prop_map(str::to_owned),
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut tried = 0;
    for (user, path, fields) in forms {
        let auth = app.sign_in(user, "remit-demo").await?;
        for _ in 0..30 {
            let mut form: Vec<(String, String)> = Vec::new();
            for f in *fields {
                // Leave a field out now and then, or send it twice.
                let copies = match runner.rng().next_u32() % 6 {
                    0 => 0,
                    1 => 2,
                    _ => 1,
                };
                for _ in 0..copies {
                    let v = value.new_tree(&mut runner).map_err(anyhow::Error::msg)?.current();
                    form.push(((*f).to_owned(), v));
                }
            }
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let res = post(&app, &auth, path, &pairs).await?;
            ensure!(
                !res.status.is_server_error(),
                "{user} POST {path} {form:?}: {} {}",
                res.status,
                res.body.chars().take(300).collect::<String>()
            );
            tried += 1;
        }
    }
    ensure!(tried == forms.len() * 30);
    let v = app.store.verify_audit().await?;
    ensure!(v.outcome == remit_store::VerifyOutcome::Intact, "{:?}", v.outcome);
    Ok(())
}

/// Every form that writes answers with a redirect to a page that says what was saved (post/redirect/get): reloading
/// that page repeats nothing. The page says it only to whoever did it, of what is theirs to read.
async fn a_refresh_never_repeats_a_write(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let set = [
        ("respiration_rate", "25"),
        ("spo2", "93"),
        ("on_oxygen", "no"),
        ("systolic_bp", "105"),
        ("pulse", "105"),
        ("consciousness", "alert"),
        ("temperature", "37.5"),
    ];
    let reload = |what, who, said| {
        page(what, who, "GET {page}", StatusCode::OK)
            .said(Said::Contains(said))
            .into()
    };
    app.story(
        &db,
        vec![
            // The demo's escalations waiting too long move up their cascades at the first read.
            page(
                "the inbox as the shift starts",
                "priya.rn",
                "GET /inbox",
                StatusCode::OK,
            )
            .into(),
            audit_from_here(),
            page(
                "a set from the form",
                "alex.ap",
                "POST /patients/9990001375/observations",
                StatusCode::OK,
            )
            .redirects()
            .form(&set)
            .keep_location("page")
            .said(Said::Contains("Saved: NEWS2 7"))
            .into(),
            reload("the page reloaded", "alex.ap", "Saved: NEWS2 7"),
            reload("and again", "alex.ap", "Saved: NEWS2 7"),
            audit("one set, however often the page is reloaded", &["vitals.record"]),
            page(
                "not done, from the form",
                "alex.ap",
                "POST /patients/9990005486/observations/missed",
                StatusCode::OK,
            )
            .redirects()
            .form(&[("reason", "in the bath")])
            .keep_location("page")
            .said(Said::Contains("observations not done (in the bath)"))
            .into(),
            reload("the page reloaded", "alex.ap", "observations not done (in the bath)"),
            audit("recorded once", &["vitals.missed"]),
            api(
                "an escalation to acknowledge",
                "alex.ap",
                "POST /api/patients/9990004110/observations",
                StatusCode::CREATED,
            )
            .body(
                json!({"set": {"respiration_rate": 25, "spo2": 93, "on_oxygen": false, "systolic_bp": 105,
                    "pulse": 105, "consciousness": "alert", "temperature": 37.5}}),
            )
            .keep("escalation", "/escalation/id")
            .into(),
            page(
                "acknowledged from the inbox",
                "priya.rn",
                "POST /escalations/{escalation}/acknowledge",
                StatusCode::OK,
            )
            .redirects()
            .keep_location("page")
            .said(Said::Contains("for Aisha Rahman acknowledged"))
            .into(),
            reload("the inbox reloaded", "priya.rn", "for Aisha Rahman acknowledged"),
            audit("acknowledged once", &["vitals.record", "escalation.acknowledge"]),
            page(
                "the inbox does not say so to someone else",
                "ben.rn",
                "GET /inbox?acknowledged={escalation}",
                StatusCode::OK,
            )
            .said(Said::Lacks("Aisha"))
            .into(),
            api(
                "Aisha worse: her escalation waits for acknowledgement again",
                "alex.ap",
                "POST /api/patients/9990004110/observations",
                StatusCode::CREATED,
            )
            .body(
                json!({"set": {"respiration_rate": 6, "spo2": 85, "on_oxygen": false, "systolic_bp": 85,
                    "pulse": 140, "consciousness": "voice", "temperature": 34.9}}),
            )
            .into(),
            page(
                "the inbox Priya has open still shows it, and no longer says she acknowledged it",
                "priya.rn",
                "GET {page}",
                StatusCode::OK,
            )
            .said(Said::Contains("data-escalation=\"{escalation}\" data-state=\"open\""))
            .said(Said::Lacks("for Aisha Rahman acknowledged"))
            .into(),
            audit("the worse set", &["vitals.record"]),
            page(
                "prescribed from the form",
                "maria.acp",
                "POST /patients/9990005486/prescribe",
                StatusCode::OK,
            )
            .redirects()
            .form(&[
                ("medicine", "Amoxicillin"),
                ("dose", "500 mg"),
                ("route", "oral"),
                ("frequency", "three times a day"),
            ])
            .keep_location("page")
            .said(Said::Contains("Prescribed: Amoxicillin 500 mg oral three times a day."))
            .into(),
            reload("the page reloaded", "maria.acp", "Prescribed: Amoxicillin"),
            audit("prescribed once", &["medicines.prescribe"]),
            page(
                "justified from the request's page",
                "tom.rad",
                "POST /imaging/requests/2/justify",
                StatusCode::OK,
            )
            .redirects()
            .form(&[("note", "fall, tender L3")])
            .keep_location("page")
            .said(Said::Contains("Request 2 is now justified"))
            .into(),
            reload("the page reloaded", "tom.rad", "Request 2 is now justified"),
            audit("justified once", &["imaging.justify"]),
            page(
                "a task accepted from my work",
                "alex.ap",
                "POST /tasks/1/accept",
                StatusCode::OK,
            )
            .redirects()
            .keep_location("page")
            .said(Said::Contains("Task 1 is now accepted"))
            .into(),
            reload("the page reloaded", "alex.ap", "Task 1 is now accepted"),
            audit("accepted once", &["task.accept"]),
            page(
                "signed off from the education page",
                "lee.edu",
                "POST /education/sign-off",
                StatusCode::OK,
            )
            .redirects()
            .form(&[
                ("staff", "alex.ap"),
                ("competency", "catheterisation"),
                ("evidence", "observed"),
            ])
            .keep_location("page")
            .said(Said::Contains("alex.ap: `catheterisation` signed off, valid until"))
            .into(),
            reload("the page reloaded", "lee.edu", "signed off, valid until"),
            audit("signed off once", &["competency.sign-off"]),
            // What a page says it saved is read from what was saved, and only for what is the reader's.
            page(
                "a set of another patient's",
                "alex.ap",
                "GET /patients/9990005486/observations/new?recorded=1",
                StatusCode::NOT_FOUND,
            )
            .into(),
            page(
                "a query the page does not take",
                "alex.ap",
                "GET /patients/9990005486/observations/new?colour=red",
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .into(),
            page("someone else's task", "ben.rn", "GET /me?task=1", StatusCode::NOT_FOUND).into(),
        ],
    )
    .await
}

/// Every page about one patient opens with the patient banner: the family name in capitals, then the given name;
/// date of birth in UK form and age; sex; the NHS number as 3 3 4; where the patient is.
async fn every_patient_page_carries_the_patient_banner(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let today = remit_domain::time::london_date(app.store.now());
    let born = |date: &str| -> Result<String> {
        let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")?;
        Ok(format!(
            "{} ({} years)",
            remit_domain::time::uk_date(d),
            today.years_since(d).context("born before today")?
        ))
    };
    let margaret = |what, who, path| {
        page(what, who, path, StatusCode::OK)
            .said(Said::InOrder(&[
                "id=\"patient-banner\"",
                "HUGHES, Margaret",
                "<dd>{margaret}</dd>",
                "<dd>Female</dd>",
                "<dd>999 000 1375</dd>",
                "<dd>Ward 7 — Acute Medical Unit, bed 1</dd>",
                "<h1>",
            ]))
            .into()
    };
    app.story(
        &db,
        vec![
            given("margaret", born("1942-03-14")?),
            given("linda", born("1979-08-25")?),
            margaret("her chart", "priya.rn", "GET /patients/9990001375"),
            margaret(
                "recording a set",
                "alex.ap",
                "GET /patients/9990001375/observations/new",
            ),
            margaret("prescribing", "maria.acp", "GET /patients/9990001375/prescribe"),
            page("an X-ray request", "tom.rad", "GET /imaging/requests/2", StatusCode::OK)
                .said(Said::InOrder(&[
                    "id=\"patient-banner\"",
                    "EVANS, Linda",
                    "<dd>{linda}</dd>",
                    "<dd>Female</dd>",
                    "<dd>999 001 3705</dd>",
                    "no bed",
                    "<h1>",
                ]))
                .into(),
        ],
    )
    .await
}

/// Every move of a delegated task from the browser, each person offered only the moves the task's state allows them:
/// the delegatee accepts, starts and completes; work under direct supervision then waits in the supervisor's inbox
/// with Countersign and Return buttons, and is countersigned there.
async fn work_done_under_direct_supervision_is_countersigned_from_the_inbox(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let task = json!({
        "resourceType": "Task", "status": "requested", "intent": "order",
        "code": {"coding": [{"system": "urn:remit:activity", "code": "imaging.expose"}]},
        "for": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990012334"}},
        "owner": {"reference": "Practitioner/ria.trainee"},
        "input": [
            {"type": {"text": "supervision"}, "valueCode": "direct"},
            {"type": {"text": "supervisor"}, "valueReference": {"reference": "Practitioner/tom.rad"}},
            {"type": {"text": "exam-region"}, "valueCode": "chest"}
        ]
    });
    let button = |mv| Said::Contains(mv);
    app.story(
        &db,
        vec![
            api(
                "Tom asks Ria for a chest X-ray under his direct supervision",
                "tom.rad",
                "POST /fhir/Task",
                StatusCode::CREATED,
            )
            .body(task)
            .keep("id", "/id")
            .into(),
            page("Ria may accept or decline it", "ria.trainee", "GET /me", StatusCode::OK)
                .said(Said::Contains("<strong>Perform an X-ray exposure — chest</strong>"))
                .said(Said::Contains("John Murphy"))
                .said(button("action=\"/tasks/{id}/accept\""))
                .said(button("action=\"/tasks/{id}/decline\""))
                .said(Said::Lacks("action=\"/tasks/{id}/complete\""))
                .into(),
            page("she accepts", "ria.trainee", "POST /tasks/{id}/accept", StatusCode::OK)
                .redirects()
                .said(Said::Contains("is now accepted"))
                .said(button("action=\"/tasks/{id}/start\""))
                .said(Said::Lacks("action=\"/tasks/{id}/accept\""))
                .into(),
            page("she starts", "ria.trainee", "POST /tasks/{id}/start", StatusCode::OK)
                .redirects()
                .said(button("action=\"/tasks/{id}/complete\""))
                .said(button("action=\"/tasks/{id}/fail\""))
                .into(),
            page(
                "she completes",
                "ria.trainee",
                "POST /tasks/{id}/complete",
                StatusCode::OK,
            )
            .redirects()
            .said(Said::Contains("is now awaiting-countersignature"))
            .into(),
            page(
                "it waits in Tom's inbox, to countersign or return",
                "tom.rad",
                "GET /inbox",
                StatusCode::OK,
            )
            .said(Said::InOrder(&["Work to countersign", "data-task=\"{id}\"", "Ria"]))
            .said(button("action=\"/tasks/{id}/countersign\""))
            .said(button("action=\"/tasks/{id}/return\""))
            .into(),
            page(
                "nobody else may countersign it",
                "priya.rn",
                "POST /tasks/{id}/countersign",
                StatusCode::FORBIDDEN,
            )
            .into(),
            page(
                "Tom countersigns",
                "tom.rad",
                "POST /tasks/{id}/countersign",
                StatusCode::OK,
            )
            .redirects()
            .said(Said::Contains("is now completed"))
            .into(),
            page("and it has left his inbox", "tom.rad", "GET /inbox", StatusCode::OK)
                .said(Said::Lacks("data-task=\"{id}\""))
                .into(),
        ],
    )
    .await
}

/// A set is corrected from the chart (the record form filled with its readings, and a reason) and marked entered in
/// error from its correction page: each a new version, the original kept, each audited; a superseded version is not
/// corrected again; someone who may not read the patient is refused.
async fn a_set_is_corrected_or_marked_entered_in_error_from_the_chart(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let corrected = [
        ("respiration_rate", "25"),
        ("spo2", "93"),
        ("on_oxygen", "no"),
        ("systolic_bp", "105"),
        ("pulse", "60"),
        ("consciousness", "alert"),
        ("temperature", "37.5"),
        ("change_reason", "pulse misread: 60, not 105"),
    ];
    app.story(
        &db,
        vec![
            api(
                "Alex records Margaret's NEWS2 7",
                "alex.ap",
                "POST /api/patients/9990001375/observations",
                StatusCode::CREATED,
            )
            .body(
                json!({"set": {"respiration_rate": 25, "spo2": 93, "on_oxygen": false, "systolic_bp": 105,
                    "pulse": 105, "consciousness": "alert", "temperature": 37.5}}),
            )
            .keep("v", "/set/id")
            .into(),
            page(
                "the chart offers to correct it",
                "priya.rn",
                "GET /patients/9990001375",
                StatusCode::OK,
            )
            .said(Said::Contains("href=\"/observations/{v}/amend\""))
            .into(),
            page(
                "the correction page: the form filled with the set",
                "alex.ap",
                "GET /observations/{v}/amend",
                StatusCode::OK,
            )
            .said(Said::InOrder(&[
                "HUGHES, Margaret",
                "Correct a set of observations",
                "value=\"105\"",
            ]))
            .said(Said::Contains("action=\"/observations/{v}/amend\""))
            .said(Said::Contains("id=\"change_reason\""))
            .into(),
            audit_from_here(),
            page(
                "a correction without a reason",
                "alex.ap",
                "POST /observations/{v}/amend",
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .form(&corrected[..7])
            .said(Said::Contains("say why the set is being amended"))
            .into(),
            page(
                "the correction",
                "alex.ap",
                "POST /observations/{v}/amend",
                StatusCode::OK,
            )
            .redirects()
            .form(&corrected)
            .said(Said::Contains("Saved: NEWS2 6"))
            .into(),
            page(
                "the old version is not corrected again",
                "alex.ap",
                "GET /observations/{v}/amend",
                StatusCode::CONFLICT,
            )
            .into(),
            api(
                "the set's versions",
                "priya.rn",
                "GET /api/observations/{v}/history",
                StatusCode::OK,
            )
            .said(Said::At("/0/state", json!("superseded")))
            .said(Said::At("/1/change_reason", json!("pulse misread: 60, not 105")))
            .keep("v2", "/1/id")
            .into(),
            page(
                "someone who may not read Margaret",
                "ben.rn",
                "GET /observations/{v2}/amend",
                StatusCode::FORBIDDEN,
            )
            .into(),
            page(
                "marked entered in error without a reason",
                "priya.rn",
                "POST /observations/{v2}/entered-in-error",
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .form(&[("reason", "")])
            .into(),
            page(
                "marked entered in error",
                "priya.rn",
                "POST /observations/{v2}/entered-in-error",
                StatusCode::OK,
            )
            .redirects()
            .form(&[("reason", "recorded against the wrong patient")])
            .said(Said::Contains(
                "marked entered in error (recorded against the wrong patient)",
            ))
            .into(),
            audit(
                "the correction, Ben's refusal and the withdrawal",
                &["vitals.amend", "record.read refused", "vitals.entered-in-error"],
            ),
        ],
    )
    .await
}

/// The chart offers the delegation form to those who may delegate work for the patient (a registered nurse, not an
/// assistant practitioner), and the Prescribe link only to prescribers; a delegation from it is decided as every
/// delegation is, and the task appears in both people's work in words.
async fn work_is_delegated_from_the_chart_by_those_who_may(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let chart = "GET /patients/9990001375";
    let prescribe = "href=\"/patients/9990001375/prescribe\"";
    app.story(
        &db,
        vec![
            page(
                "the nurse's chart: the delegation form, no Prescribe link",
                "priya.rn",
                chart,
                StatusCode::OK,
            )
            .said(Said::Contains("id=\"delegate-form\""))
            .said(Said::Contains("<option value=\"alex.ap\">Alex Morgan</option>"))
            .said(Said::Contains(
                "<option value=\"procedure.ecg\">Record a 12-lead ECG</option>",
            ))
            .said(Said::Lacks(prescribe))
            .into(),
            page("the AP's chart: neither", "alex.ap", chart, StatusCode::OK)
                .said(Said::Lacks("id=\"delegate-form\""))
                .said(Said::Lacks(prescribe))
                .into(),
            page(
                "the advanced practitioner's chart: Prescribe",
                "maria.acp",
                chart,
                StatusCode::OK,
            )
            .said(Said::Contains(prescribe))
            .into(),
            audit_from_here(),
            page(
                "Priya delegates an ECG to Alex",
                "priya.rn",
                "POST /patients/9990001375/tasks",
                StatusCode::OK,
            )
            .redirects()
            .form(&[
                ("activity", "procedure.ecg"),
                ("delegatee", "alex.ap"),
                ("supervision", "none"),
                ("supervisor", ""),
                ("notes", "before the ward round"),
            ])
            .said(Said::Contains("is now requested"))
            .said(Said::InOrder(&[
                "Tasks I delegated",
                "<strong>Record a 12-lead ECG</strong>",
                "Margaret Hughes",
            ]))
            .into(),
            page(
                "it waits in Alex's work, to accept",
                "alex.ap",
                "GET /me",
                StatusCode::OK,
            )
            .said(Said::InOrder(&[
                "Tasks for me",
                "<strong>Record a 12-lead ECG</strong>",
                "before the ward round",
            ]))
            .into(),
            page(
                "work the colleague may not do is refused with the reasons",
                "priya.rn",
                "POST /patients/9990001375/tasks",
                StatusCode::FORBIDDEN,
            )
            .form(&[
                ("activity", "procedure.catheterisation"),
                ("delegatee", "sam.hca"),
                ("supervision", "none"),
                ("supervisor", ""),
                ("notes", ""),
            ])
            .said(Said::Contains("Sam"))
            .into(),
            audit(
                "the delegation and the refusal",
                &["task.delegate", "task.delegate refused"],
            ),
        ],
    )
    .await
}

/// CPD is recorded from one's own work page, checked as the command line checks it, audited, and said back only to
/// its owner.
async fn a_person_records_their_cpd_from_their_work_page(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let today = remit_domain::time::uk_date(remit_domain::time::london_date(app.store.now()));
    let entry = [
        ("date", ""),
        ("hours", "1.5"),
        ("activity", "Sepsis study day"),
        ("reflection", "Screening earlier on the ward"),
    ];
    app.story(
        &db,
        vec![
            given("today", today),
            page("the form on Alex's work page", "alex.ap", "GET /me", StatusCode::OK)
                .said(Said::Contains("id=\"cpd-form\""))
                .into(),
            audit_from_here(),
            page(
                "no time at all",
                "alex.ap",
                "POST /me/cpd",
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .form(&[("hours", "0"), ("activity", "x"), ("reflection", "y")])
            .said(Said::Contains("hours: `0` must be more than 0 and at most 24"))
            // The design system's error summary, and "Error:" first in the title for a screen reader.
            .said(Said::Contains("<title>Error: My work — remit</title>"))
            .said(Said::Contains("<div class=\"nhsuk-error-summary\""))
            .into(),
            page(
                "a day in the future",
                "alex.ap",
                "POST /me/cpd",
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .form(&[
                ("date", "2999-01-01"),
                ("hours", "1"),
                ("activity", "x"),
                ("reflection", "y"),
            ])
            .said(Said::Contains("is in the future"))
            .into(),
            audit("nothing written", &[]),
            page("a study day", "alex.ap", "POST /me/cpd", StatusCode::OK)
                .redirects()
                .form(&entry)
                .keep_location("page")
                .said(Said::Contains("CPD recorded: Sepsis study day, 1.5 h on {today}."))
                .said(Said::Contains("<title>My work — remit</title>"))
                .said(Said::InOrder(&["My CPD", "Sepsis study day (1.5 h)"]))
                .into(),
            audit("recorded once", &["cpd.add"]),
            page(
                "nobody else is told of it",
                "ben.rn",
                "GET {page}",
                StatusCode::NOT_FOUND,
            )
            .into(),
        ],
    )
    .await
}

/// Signed in, each person starts where their work is: a radiographer on duty in the X-ray department at the
/// worklists, a nurse at her ward's board, the education lead at the competency matrix, an administrator at the
/// audit log.
async fn each_role_starts_on_its_own_page(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let starts = |who, to| {
        page("where they start", who, "GET /", StatusCode::SEE_OTHER)
            .said(Said::Header("location", to))
            .into()
    };
    app.story(
        &db,
        vec![
            starts("tom.rad", "/imaging"),
            starts("jo.ap", "/imaging"),
            starts("priya.rn", "/wards/ward-7"),
            starts("lee.edu", "/education"),
            starts("admin", "/audit"),
        ],
    )
    .await
}

/// An X-ray request's page shows each person the forms for the steps they may take now, and only those: the
/// practitioner justifies; the operator asks the pregnancy enquiry where the catalogue asks it and then exposes (at
/// once where it does not), an assistant practitioner only the work in their scope; the radiologist reports.
async fn an_x_ray_request_offers_only_the_steps_the_reader_may_take_now(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let form = |step: &'static str| match step {
        "justify" => "action=\"/imaging/requests/2/justify\"",
        "pregnancy" => "action=\"/imaging/requests/2/pregnancy\"",
        "expose" => "action=\"/imaging/requests/2/expose\"",
        _ => "action=\"/imaging/requests/2/report\"",
    };
    let exposure = [
        ("projections", "AP"),
        ("kv", "80"),
        ("mas", "20"),
        ("dap", "1.2"),
        ("sid_cm", "110"),
    ];
    app.story(
        &db,
        vec![
            page(
                "John's chest X-ray, justified, no enquiry: Jo may expose at once",
                "jo.ap",
                "GET /imaging/requests/1",
                StatusCode::OK,
            )
            .said(Said::Contains("action=\"/imaging/requests/1/expose\""))
            .said(Said::Lacks("action=\"/imaging/requests/1/pregnancy\""))
            .into(),
            page(
                "Linda's request waits for justification: Tom may justify",
                "tom.rad",
                "GET /imaging/requests/2",
                StatusCode::OK,
            )
            .said(Said::Contains(form("justify")))
            .said(Said::Lacks(form("expose")))
            .into(),
            page("Jo may not", "jo.ap", "GET /imaging/requests/2", StatusCode::OK)
                .said(Said::Lacks(form("justify")))
                .said(Said::Lacks(form("expose")))
                .into(),
            page(
                "Tom justifies it",
                "tom.rad",
                "POST /imaging/requests/2/justify",
                StatusCode::OK,
            )
            .redirects()
            .form(&[("note", "fall, tender L3")])
            .into(),
            page(
                "a lumbar spine is axial work, outside an assistant practitioner's scope",
                "jo.ap",
                "GET /imaging/requests/2",
                StatusCode::OK,
            )
            .said(Said::Lacks(form("pregnancy")))
            .said(Said::Lacks(form("expose")))
            .into(),
            page(
                "Linda is of an age to be asked: the enquiry first, not the exposure",
                "tom.rad",
                "GET /imaging/requests/2",
                StatusCode::OK,
            )
            .said(Said::Contains(form("pregnancy")))
            .said(Said::Lacks(form("expose")))
            .into(),
            page(
                "Tom asks",
                "tom.rad",
                "POST /imaging/requests/2/pregnancy",
                StatusCode::OK,
            )
            .redirects()
            .form(&[("answer", "not-pregnant")])
            .said(Said::Contains(form("expose")))
            .said(Said::Lacks(form("pregnancy")))
            .into(),
            page(
                "Tom exposes",
                "tom.rad",
                "POST /imaging/requests/2/expose",
                StatusCode::OK,
            )
            .redirects()
            .form(&exposure)
            .said(Said::Contains("is now exposed"))
            .said(Said::Lacks(form("report")))
            .into(),
            page(
                "the radiologist may report it",
                "dr.reid",
                "GET /imaging/requests/2",
                StatusCode::OK,
            )
            .said(Said::Contains(form("report")))
            .into(),
        ],
    )
    .await
}

/// A person in a browser meets an error as a page (with its status, and the way back to their start page); a system
/// calling the API or FHIR still gets JSON.
async fn a_browser_is_answered_errors_as_pages_and_systems_as_json(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    app.story(
        &db,
        vec![
            page(
                "a request there is not",
                "tom.rad",
                "GET /imaging/requests/999",
                StatusCode::NOT_FOUND,
            )
            .said(Said::Contains("<title>Page not found"))
            .said(Said::Contains("no imaging request 999"))
            .said(Said::Contains("href=\"/\""))
            .into(),
            page("a page there is not", "tom.rad", "GET /nowhere", StatusCode::NOT_FOUND)
                .said(Said::Contains("<title>Page not found"))
                .into(),
            page(
                "a bad query",
                "admin",
                "GET /audit?colour=red",
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .said(Said::Contains("<h1>Check what was entered</h1>"))
            .said(Said::Contains("colour"))
            .into(),
            api(
                "the API still answers JSON",
                "tom.rad",
                "GET /api/imaging/requests/999",
                StatusCode::NOT_FOUND,
            )
            .said(Said::Error("no imaging request 999"))
            .into(),
        ],
    )
    .await
}

/// A set form in error says so first: "Error:" in the page's title, an error summary linking to each field it names,
/// and those fields marked invalid for assistive technology; what was typed is kept.
async fn a_form_in_error_says_what_is_wrong_and_marks_the_fields(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    app.story(
        &db,
        vec![
            page(
                "a set without pulse or temperature",
                "alex.ap",
                "POST /patients/9990001375/observations",
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .form(&[
                ("respiration_rate", "25"),
                ("spo2", "93"),
                ("on_oxygen", "no"),
                ("systolic_bp", "105"),
                ("consciousness", "alert"),
            ])
            .said(Said::Contains("<title>Error: Record a set"))
            .said(Said::InOrder(&[
                "id=\"error-summary\"",
                "href=\"#pulse\">Go to pulse</a>",
                "href=\"#temperature\">Go to temperature</a>",
            ]))
            .said(Said::Contains("name=\"pulse\" min=\"0\""))
            .said(Said::InOrder(&[
                "id=\"pulse\"",
                "aria-invalid=\"true\"",
                "id=\"temperature\"",
                "aria-invalid=\"true\"",
            ]))
            .said(Said::Contains("value=\"25\""))
            .into(),
        ],
    )
    .await
}

/// Beneath the chart its values are a table a screen reader can read, with what the chart has no row for: the
/// diastolic pressure, the oxygen flow and device, and how soon the next set is due.
async fn the_chart_values_are_also_a_table_with_every_parameter(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    app.story(
        &db,
        vec![
            api(
                "a set on oxygen",
                "alex.ap",
                "POST /api/patients/9990001375/observations",
                StatusCode::CREATED,
            )
            .body(
                json!({"set": {"respiration_rate": 22, "spo2": 95, "on_oxygen": true, "oxygen_flow": 2.0,
                    "oxygen_device": "nasal-cannula", "systolic_bp": 105, "diastolic_bp": 65, "pulse": 92,
                    "consciousness": "alert", "temperature": 37.9}}),
            )
            .keep("v", "/set/id")
            .into(),
            page(
                "its correction keeps the device",
                "alex.ap",
                "GET /observations/{v}/amend",
                StatusCode::OK,
            )
            .said(Said::Contains("<option value=\"nasal-cannula\" selected>"))
            .into(),
            page(
                "the chart's values, newest on the right",
                "priya.rn",
                "GET /patients/9990001375",
                StatusCode::OK,
            )
            .said(Said::InOrder(&[
                "id=\"chart-values\"",
                "<th scope=\"row\">Air or oxygen</th>",
                "<td>oxygen 2.0 L/min, nasal cannula</td></tr>",
                "<th scope=\"row\">Blood pressure (mmHg)</th>",
                "<td>105/65</td></tr>",
                "<th scope=\"row\">Next set</th>",
            ]))
            .into(),
            page(
                "the plotted chart: the total over its bands, every parameter, the next set",
                "priya.rn",
                "GET /patients/9990001375",
                StatusCode::OK,
            )
            .said(Said::InOrder(&[
                "<p id=\"chart-title\" class=\"nhsuk-u-visually-hidden\">NEWS2 chart of the 7 most recent sets",
                // The labels, in a column of their own that stays in view.
                "class=\"chart-labels\"",
                ">7+ high</text>",
                ">5–6 medium</text>",
                ">1–4 low</text>",
                ">Air or O2</text>",
                ">BP mmHg</text>",
                ">Next set in</text>",
                "class=\"chart-data\"",
                // The newest set scores 7: plotted at 7 (14 units a point above the baseline, which is at 224).
                "<circle cx=\"588\" cy=\"126\" r=\"7\" fill=\"#d5281b\"",
                ">7</text>",
                ">2.0 N</text>",
                ">105/65</text>",
                ">constant</text>",
                "data-newest",
            ]))
            .said(Said::Contains("N nasal cannulae"))
            .into(),
        ],
    )
    .await
}
