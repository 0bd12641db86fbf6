//! Revalidation: a registrant's requirements from the pack's `revalidation.toml`, counted from what is recorded (CPD,
//! shifts worked, evidence), warned of as renewal approaches on their own page and the education lead's, the same from
//! the JSON API and the command line, and different as soon as the employer changes the file.

use anyhow::{Context, Result, ensure};
use axum::http::StatusCode;
use chrono::Duration;
use remit_domain::audit::{AuditDraft, Decision};
use remit_domain::place::PlaceCode;
use remit_domain::staff::Username;
use remit_policy::PolicyPack;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, expect_status, stdout};

crate::tests!(
    a_registrant_is_told_what_is_missing_and_becomes_ready_as_evidence_is_recorded,
    bad_evidence_changes_nothing_and_only_the_registrant_records_their_own,
    the_education_lead_sees_who_is_due_and_the_person_sees_their_warnings,
    a_changed_requirements_file_changes_the_answer
);

fn requirement<'a>(status: &'a Value, measure: &str) -> Result<&'a Value> {
    status["requirements"]
        .as_array()
        .and_then(|r| r.iter().find(|p| p["measure"] == measure))
        .with_context(|| format!("{measure} in {status}"))
}

async fn kim_status(app: &TestApp) -> Result<Value> {
    let kim = app.token_for("kim.outreach").await?;
    let res = app.get("/api/staff/kim.outreach/revalidation", &kim).await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    Ok(res.json()?["registrations"][0].clone())
}

async fn a_registrant_is_told_what_is_missing_and_becomes_ready_as_evidence_is_recorded(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let kim = app.token_for("kim.outreach").await?;
    // Kim's NMC registration renews in 75 days and nothing is recorded: due soon, every counted requirement named.
    let s = kim_status(&app).await?;
    ensure!(
        s["regulator"] == "NMC" && s["days_left"] == 75 && s["state"] == "due-soon",
        "{s}"
    );
    ensure!(
        s["source"] == "https://www.nmc.org.uk/revalidation/requirements/",
        "{s}"
    );
    ensure!(s["requirements"].as_array().map(Vec::len) == Some(9), "{s}");
    // The NMC's application is due by the first of the renewal month.
    let renewal: chrono::NaiveDate = s["renewal"].as_str().context("renewal")?.parse()?;
    let apply_by: chrono::NaiveDate = s["apply_by"].as_str().context("apply_by")?.parse()?;
    ensure!(
        apply_by == chrono::Datelike::with_day(&renewal, 1).context("a first")?,
        "{s}"
    );
    let warning = s["warnings"][0].as_str().context("a warning")?;
    ensure!(
        warning.contains("NMC 07C7654E renews on")
            && warning.contains(&format!("apply by {}", remit_domain::time::uk_date(apply_by)))
            && warning.contains("Not met yet: 0 of 450 practice hours: 450 to go; 0 of 35 CPD hours: 35 to go"),
        "{warning}"
    );
    ensure!(s["when"] == "in 75 days" && s["state_words"] == "due soon", "{s}");
    ensure!(requirement(&s, "declaration")?["met"].is_null(), "{s}");

    // CPD from the command line: 20 participatory hours and 15 more, a month ago.
    let month_ago = (remit_domain::time::london_date(app.store.now()) - Duration::days(30)).to_string();
    for (hours, participatory) in [("10", true), ("10", true), ("7.5", false), ("7.5", false)] {
        let mut args = vec![
            "cpd",
            "add",
            "--staff",
            "kim.outreach",
            "--date",
            &month_ago,
            "--hours",
            hours,
            "--activity",
            "Sepsis study day",
            "--reflection",
            "Earlier recognition on the ward",
            "--method",
            "study-day",
        ];
        if participatory {
            args.push("--participatory");
        }
        expect_status(&db.remit(&args), 0)?;
    }
    let s = kim_status(&app).await?;
    ensure!(requirement(&s, "cpd-hours")?["have"] == 35.0, "{s}");
    ensure!(requirement(&s, "participatory-cpd-hours")?["met"] == true, "{s}");
    // A CPD method that is not one is a usage error, and writes nothing.
    let out = db.remit(&[
        "cpd",
        "add",
        "--staff",
        "kim.outreach",
        "--date",
        &month_ago,
        "--hours",
        "1",
        "--activity",
        "x",
        "--reflection",
        "y",
        "--method",
        "osmosis",
    ]);
    expect_status(&out, 2)?;
    ensure!(requirement(&kim_status(&app).await?, "cpd-hours")?["have"] == 35.0);

    // Shifts worked on the roster count as practice hours; a shift not yet over does not, and a shift rostered on
    // two wards at once counts once.
    let kim_id = app.store.staff_id(&Username::parse("kim.outreach")?).await?;
    let ward = PlaceCode::parse("ward-7")?;
    let now = app.store.now();
    let mut tx = app.store.begin().await?;
    for day in 2..=5 {
        let start = now - Duration::days(day);
        tx.insert_duty(kim_id, &ward, start, Some(start + Duration::hours(12)))
            .await?;
    }
    let start = now - Duration::days(2);
    tx.insert_duty(
        kim_id,
        &PlaceCode::parse("ward-9")?,
        start,
        Some(start + Duration::hours(12)),
    )
    .await?;
    tx.insert_duty(kim_id, &ward, now - Duration::hours(1), Some(now + Duration::hours(11)))
        .await?;
    tx.commit(AuditDraft::permit("test", "duty.import", "staff:kim.outreach"))
        .await?;
    let s = kim_status(&app).await?;
    ensure!(requirement(&s, "practice-hours")?["have"] == 48.0, "{s}");

    // The rest through the JSON API, as the registrant.
    let today = remit_domain::time::london_date(now).to_string();
    let post = |body: Value| {
        let (app, kim) = (&app, &kim);
        async move {
            app.post_json("/api/staff/kim.outreach/revalidation/evidence", kim, &body)
                .await
        }
    };
    let res =
        post(json!({"kind": "practice-hours", "date": today, "hours": "402", "note": "Bank shifts at another trust"}))
            .await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    ensure!(res.json()?["hours"] == 402.0, "{}", res.body);
    for kind in ["feedback", "reflective-account"] {
        for _ in 0..5 {
            let res =
                post(json!({"kind": kind, "date": today, "note": "From a colleague after a deteriorating patient"}))
                    .await?;
            ensure!(res.status == StatusCode::CREATED, "{}", res.body);
        }
    }
    let res = post(
        json!({"kind": "reflective-discussion", "date": today, "note": "Five accounts discussed",
        "with": "Priya Shah, NMC 19A1234B"}),
    )
    .await?;
    ensure!(
        res.status == StatusCode::CREATED && res.body.contains("Priya Shah"),
        "{}",
        res.body
    );
    let s = kim_status(&app).await?;
    ensure!(s["state"] == "due-soon", "the confirmation is still missing: {s}");
    ensure!(
        s["warnings"][0]
            .as_str()
            .is_some_and(|w| w.ends_with("Not met yet: 0 of 1 confirmations: 1 to go.")),
        "{s}"
    );
    let res = post(
        json!({"kind": "confirmation", "date": today, "note": "Confirmed by my line manager",
        "with": "Lee Walsh, NMC 98D4567E"}),
    )
    .await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    let s = kim_status(&app).await?;
    ensure!(s["state"] == "ready", "{s}");
    ensure!(
        s["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("everything remit counts for NMC revalidation is recorded; apply by")),
        "{s}"
    );

    // The command line says the same.
    let out = db.remit(&["revalidation", "status", "kim.outreach", "--json"]);
    expect_status(&out, 0)?;
    let cli: Value = serde_json::from_str(&stdout(&out))?;
    ensure!(cli["registrations"][0]["requirements"] == s["requirements"], "{cli}");
    let out = db.remit(&["revalidation", "status", "kim.outreach"]);
    expect_status(&out, 0)?;
    ensure!(
        stdout(&out).contains("NMC revalidation, NMC 07C7654E") && stdout(&out).contains(": ready to apply"),
        "{}",
        stdout(&out)
    );
    expect_status(&db.remit(&["revalidation", "status", "no.one"]), 2)?;
    // Recording the renewal starts the next cycle: nothing of the last one counts towards it.
    let next = (renewal + chrono::Months::new(36)).to_string();
    let spec = |until: &str| format!("NMC:07C7654E:{until}");
    expect_status(
        &db.remit(&["staff", "renew-registration", "kim.outreach", &spec(&next)]),
        0,
    )?;
    let s = kim_status(&app).await?;
    ensure!(s["renewal"] == next.as_str() && s["state"] != "ready", "{s}");
    ensure!(requirement(&s, "confirmation")?["have"] == 0.0, "{s}");
    // A renewal to an earlier date, or of a registration not held, is a usage error and changes nothing.
    expect_status(
        &db.remit(&["staff", "renew-registration", "kim.outreach", &spec("2027-01-01")]),
        2,
    )?;
    expect_status(
        &db.remit(&["staff", "renew-registration", "kim.outreach", "NMC:99Z9999Z:2031-01-01"]),
        2,
    )?;
    ensure!(kim_status(&app).await?["renewal"] == next.as_str());
    // The doctor's GMC registration is not tracked, and says so.
    let out = db.remit(&["revalidation", "status", "dr.okafor", "--json"]);
    expect_status(&out, 0)?;
    let okafor: Value = serde_json::from_str(&stdout(&out))?;
    ensure!(okafor["not_tracked"] == json!(["GMC 7012345"]), "{okafor}");
    // The HCPC radiographer is asked for a recent CPD entry and a mixture of activities.
    let tom = app.token_for("tom.rad").await?;
    let t = app.get("/api/staff/tom.rad/revalidation", &tom).await?.json()?;
    let hcpc = &t["registrations"][0];
    ensure!(
        hcpc["regulator"] == "HCPC" && hcpc["title"] == "HCPC renewal and the standards for CPD",
        "{t}"
    );
    ensure!(requirement(hcpc, "months-since-cpd")?["met"] == false, "{t}");
    // The API is in the OpenAPI document.
    let doc = app.get("/api/openapi.json", &kim).await?.json()?;
    for path in [
        "/api/staff/{username}/revalidation",
        "/api/staff/{username}/revalidation/evidence",
    ] {
        ensure!(doc["paths"][path].is_object(), "{path} documented");
    }
    Ok(())
}

async fn bad_evidence_changes_nothing_and_only_the_registrant_records_their_own(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let kim = app.token_for("kim.outreach").await?;
    let today = remit_domain::time::london_date(app.store.now());
    let tomorrow = (today + Duration::days(1)).to_string();
    let today = today.to_string();
    let path = "/api/staff/kim.outreach/revalidation/evidence";
    for (body, why) in [
        (
            json!({"kind": "gossip", "date": today, "note": "x"}),
            "kind: `gossip` is not one of practice-hours",
        ),
        (
            json!({"kind": "feedback", "date": today, "note": "x", "hours": "2"}),
            "hours: only practice hours",
        ),
        (
            json!({"kind": "practice-hours", "date": today, "note": "x"}),
            "hours: give the practice hours",
        ),
        (
            json!({"kind": "practice-hours", "date": today, "note": "x", "hours": "-3"}),
            "hours: `-3` must be more than 0",
        ),
        (
            json!({"kind": "practice-hours", "date": today, "note": "x", "hours": "lots"}),
            "hours: `lots` is not a number",
        ),
        (
            json!({"kind": "reflective-discussion", "date": today, "note": "x"}),
            "with: name who",
        ),
        (
            json!({"kind": "feedback", "date": today, "note": "x", "with": "Someone"}),
            "with: only a reflective discussion",
        ),
        (
            json!({"kind": "feedback", "date": tomorrow, "note": "x"}),
            "is in the future",
        ),
        (
            json!({"kind": "feedback", "date": "1999-01-01", "note": "x"}),
            "more than ten years ago",
        ),
        (json!({"kind": "feedback", "date": "last week", "note": "x"}), "date"),
        (
            json!({"kind": "feedback", "date": today, "note": "  "}),
            "note: must be 1 to 4000",
        ),
        (
            json!({"kind": "feedback", "date": today, "note": "x", "colour": "red"}),
            "unknown field",
        ),
        (json!({"kind": "feedback", "date": today}), "note"),
    ] {
        let res = app.post_json(path, &kim, &body).await?;
        ensure!(
            res.status.is_client_error() && res.body.contains(why),
            "{why}: {} {}",
            res.status,
            res.body
        );
    }
    ensure!(
        app.store
            .revalidation_evidence(&Username::parse("kim.outreach")?)
            .await?
            .is_empty(),
        "nothing written"
    );
    // Nobody records another's evidence, not even the education lead; the refusal is audited.
    let lee = app.token_for("lee.edu").await?;
    let res = app
        .post_json(path, &lee, &json!({"kind": "feedback", "date": today, "note": "x"}))
        .await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("recorded by the registrant themselves"),
        "{} {}",
        res.status,
        res.body
    );
    // Someone with no registration has nothing to revalidate.
    let alex = app.token_for("alex.ap").await?;
    let res = app
        .post_json(
            "/api/staff/alex.ap/revalidation/evidence",
            &alex,
            &json!({"kind": "feedback", "date": today, "note": "x"}),
        )
        .await?;
    ensure!(
        res.status == StatusCode::CONFLICT && res.body.contains("holds no registration"),
        "{} {}",
        res.status,
        res.body
    );
    // A colleague's revalidation is refused, audited; the education lead may read it.
    let res = app.get("/api/staff/kim.outreach/revalidation", &alex).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.status);
    ensure!(app.get("/api/staff/kim.outreach/revalidation", &lee).await?.status == StatusCode::OK);
    let log = app.store.audit_log(50).await?;
    for action in ["revalidation.read", "revalidation.evidence"] {
        ensure!(
            log.iter().any(|e| e.action == action && e.decision == Decision::Deny),
            "{action} refusal audited"
        );
    }
    ensure!(app.get("/api/staff/no.one/revalidation", &lee).await?.status == StatusCode::NOT_FOUND);
    // The command line refuses bad evidence with a usage error, and writes nothing.
    let out = db.remit(&[
        "revalidation",
        "record",
        "--staff",
        "kim.outreach",
        "--kind",
        "feedback",
        "--date",
        &today,
        "--note",
        "x",
        "--hours",
        "3",
    ]);
    expect_status(&out, 2)?;
    let out = db.remit(&[
        "revalidation",
        "record",
        "--staff",
        "kim.outreach",
        "--kind",
        "feedback",
        "--date",
        &today,
        "--note",
        "Thanked by a relative",
    ]);
    expect_status(&out, 0)?;
    ensure!(
        app.store
            .revalidation_evidence(&Username::parse("kim.outreach")?)
            .await?
            .len()
            == 1
    );
    Ok(())
}

async fn the_education_lead_sees_who_is_due_and_the_person_sees_their_warnings(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let (lee, _) = app.session_of("lee.edu").await?;
    let edu = app.get("/education", &lee).await?;
    ensure!(edu.status == StatusCode::OK, "{}", edu.status);
    let due = &edu.body[edu
        .body
        .find("Revalidation due within 90 days")
        .context("the section")?..];
    let due = &due[..due.find("</table>").context("its table")?];
    ensure!(
        due.contains("Kim Taylor") && due.contains("NMC 07C7654E") && due.contains("due soon"),
        "{due}"
    );
    // Priya renews in 300 days: not listed.
    ensure!(!due.contains("Priya Shah"), "{due}");
    // The command line's list agrees, and a longer period brings in the rest.
    let out = db.remit(&["revalidation", "due", "--json"]);
    expect_status(&out, 0)?;
    let list: Value = serde_json::from_str(&stdout(&out))?;
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r["staff"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    ensure!(names(&list) == ["kim.outreach"], "{list}");
    let out = db.remit(&["revalidation", "due", "--within", "52w", "--json"]);
    expect_status(&out, 0)?;
    let all = names(&serde_json::from_str(&stdout(&out))?);
    ensure!(
        all.first().map(String::as_str) == Some("kim.outreach")
            && all.contains(&"tom.rad".to_owned())
            && !all.contains(&"dr.okafor".to_owned()),
        "{all:?}"
    );
    expect_status(&db.remit(&["revalidation", "due", "--within", "soon"]), 2)?;
    // A suspended registrant is not on the list.
    expect_status(
        &db.remit(&["staff", "suspend", "kim.outreach", "--reason", "on leave"]),
        0,
    )?;
    let out = db.remit(&["revalidation", "due", "--json"]);
    ensure!(
        names(&serde_json::from_str(&stdout(&out))?).is_empty(),
        "{}",
        stdout(&out)
    );
    expect_status(&db.remit(&["staff", "reinstate", "kim.outreach"]), 0)?;

    // Kim's own page warns, and the revalidation page records evidence from its form.
    let (kim, _) = app.session_of("kim.outreach").await?;
    let me = app.get("/me", &kim).await?;
    ensure!(
        me.body.contains("NMC 07C7654E renews on") && me.body.contains("/me/revalidation"),
        "/me"
    );
    let done = crate::pages::post_done(
        &app,
        &kim,
        "/me/revalidation",
        &[
            ("kind", "reflective-discussion"),
            ("date", ""),
            ("hours", ""),
            ("with", "Priya Shah, NMC 19A1234B"),
            ("note", "Discussed my accounts"),
        ],
    )
    .await?;
    ensure!(
        done.body.contains("Recorded: a reflective discussion on")
            && done
                .body
                .contains("with Priya Shah, NMC 19A1234B: Discussed my accounts"),
        "{}",
        done.body
    );
    ensure!(
        done.body.contains("1 of 1 reflective discussions: met"),
        "the table counts it"
    );
    // What is wrong is said on the page, with what was typed kept, and nothing is written.
    let res = crate::pages::post(
        &app,
        &kim,
        "/me/revalidation",
        &[
            ("kind", "confirmation"),
            ("date", ""),
            ("hours", ""),
            ("with", ""),
            ("note", "Confirmed <b>by</b> my manager"),
        ],
    )
    .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY
            && res.body.contains("with: name who confirmation was with")
            && res.body.contains("Confirmed &#60;b&#62;by&#60;/b&#62; my manager"),
        "{} {}",
        res.status,
        res.body
    );
    ensure!(
        app.store
            .revalidation_evidence(&Username::parse("kim.outreach")?)
            .await?
            .len()
            == 1
    );
    // CPD from the work page says whether it was participatory.
    let done = crate::pages::post_done(
        &app,
        &kim,
        "/me/cpd",
        &[
            ("date", ""),
            ("hours", "3"),
            ("activity", "Outreach simulation"),
            ("reflection", "Team roles at a cardiac arrest"),
            ("method", "workshop"),
            ("participatory", "yes"),
        ],
    )
    .await?;
    ensure!(done.body.contains("3 h, participatory,"), "{}", done.body);
    let res = crate::pages::post(
        &app,
        &kim,
        "/me/cpd",
        &[
            ("hours", "3"),
            ("activity", "x"),
            ("reflection", "y"),
            ("method", "telepathy"),
        ],
    )
    .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("method: `telepathy` is not one of"),
        "{} {}",
        res.status,
        res.body
    );
    // Someone with nothing to revalidate is told so, with no form.
    let (alex, _) = app.session_of("alex.ap").await?;
    let page = app.get("/me/revalidation", &alex).await?;
    ensure!(
        page.status == StatusCode::OK
            && page.body.contains("nothing to revalidate")
            && !page.body.contains("evidence-form"),
        "{}",
        page.body
    );
    ensure!(app.get("/me/revalidation?evidence=999", &alex).await?.status == StatusCode::NOT_FOUND);
    Ok(())
}

async fn a_changed_requirements_file_changes_the_answer(db: TestDb) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/nhs-england");
    for e in std::fs::read_dir(from)? {
        let p = e?.path();
        std::fs::copy(&p, dir.path().join(p.file_name().context("a file")?))?;
    }
    let file = dir.path().join("revalidation.toml");
    let shipped = std::fs::read_to_string(&file)?;
    // An employer who warns 30 days before the application date and asks for 40 CPD hours.
    let changed = shipped
        .replacen("warn_days = 90", "warn_days = 30", 1)
        .replacen("at_least = 35", "at_least = 40", 1);
    ensure!(changed != shipped);
    std::fs::write(&file, &changed)?;
    let app = TestApp::demo_with_pack(&db, PolicyPack::load(dir.path())?).await?;
    let s = kim_status(&app).await?;
    // The application, some 50 days out, is no longer within the warning: with nothing recorded and most of the
    // cycle gone, behind.
    ensure!(s["state"] == "behind", "{s}");
    ensure!(requirement(&s, "cpd-hours")?["needed"] == 40, "{s}");
    ensure!(
        s["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("0 of 40 CPD hours")),
        "{s}"
    );
    // A file with a mistake is refused at load, naming the file and the line.
    std::fs::write(
        &file,
        changed.replacen("measure = \"feedback\"", "measure = \"fedback\"", 1),
    )?;
    let err = PolicyPack::load(dir.path()).err().context("refused")?.to_string();
    ensure!(
        err.contains("revalidation.toml") && err.contains("fedback") && err.contains("line"),
        "{err}"
    );
    // Without the file nothing is tracked, and the registration says so.
    std::fs::remove_file(&file)?;
    let bare = PolicyPack::load(dir.path())?;
    ensure!(bare.revalidation().all().is_empty());
    let bare_dir = dir.path().to_str().context("a UTF-8 path")?;
    let out = db.remit(&["--policy", bare_dir, "revalidation", "status", "kim.outreach", "--json"]);
    expect_status(&out, 0)?;
    let v: Value = serde_json::from_str(&stdout(&out))?;
    ensure!(
        v["registrations"] == json!([]) && v["not_tracked"] == json!(["NMC 07C7654E"]),
        "{v}"
    );
    Ok(())
}
