//! What stands between a person and an activity, asked of the policy pack itself: the same answer from the JSON API
//! and the command line, and a different one as soon as the employer changes the pack.

use anyhow::{Context, Result, ensure};
use axum::http::StatusCode;
use remit_policy::PolicyPack;
use serde_json::Value;

use crate::helpers::{TestApp, TestDb, expect_status, stdout};

crate::tests!(
    what_stands_between_a_person_and_an_activity_comes_from_the_pack,
    a_changed_pack_changes_the_path,
    the_next_level_says_what_it_adds_and_the_routes_to_its_registration,
    a_person_sees_what_they_need_and_the_next_level_on_their_own_page,
    the_education_lead_records_a_programme_and_a_registration_changes_the_answers,
    the_progression_scenarios_hold
);

/// A progression case of `tests/scenarios/progression/`: a person, an activity, and the answer expected of the pack.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    staff: String,
    activity: String,
    #[serde(default)]
    region: Option<String>,
    /// The least supervision today (`none`, `direct`, `indirect`), or `not at all`.
    today: String,
    /// Each step as `competency ID`, `entitlement ID`, `level N`, `registration REGULATOR` or `annotation NAME`.
    steps: Vec<String>,
    reached: bool,
    /// Words the reasons for today's answer must contain.
    #[serde(default)]
    reasons_contain: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Vec<Case>,
}

async fn the_progression_scenarios_hold(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let admin = app.token_for("admin").await?;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/progression");
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let (mut failures, mut count) = (Vec::new(), 0);
    for f in files {
        let parsed: CaseFile =
            toml::from_str(&std::fs::read_to_string(&f)?).with_context(|| format!("{}", f.display()))?;
        for c in parsed.case {
            count += 1;
            let mut path = format!("/api/staff/{}/progression?activity={}", c.staff, c.activity);
            if let Some(r) = &c.region {
                path.push_str(&format!("&region={r}"));
            }
            let res = app.get(&path, &admin).await?;
            ensure!(res.status == StatusCode::OK, "{}: {}", c.description, res.body);
            let v = res.json()?;
            let today = v["today"].as_str().unwrap_or("not at all");
            let reasons = v["reasons"].to_string();
            let missing: Vec<&String> = c
                .reasons_contain
                .iter()
                .filter(|r| !reasons.contains(r.as_str()))
                .collect();
            if today != c.today || steps(&v) != c.steps || v["reached"] != c.reached || !missing.is_empty() {
                failures.push(format!(
                    "{}\n    expected today {} steps {:?} reached {}\n    got      today {today} steps {:?} reached {}\n    missing {missing:?} in {reasons}",
                    c.description, c.today, c.steps, c.reached, steps(&v), v["reached"]
                ));
            }
        }
    }
    ensure!(count >= 12, "{count} cases");
    ensure!(
        failures.is_empty(),
        "{} of {count} progression cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}

fn option<'a>(next: &'a Value, registration: Option<&str>) -> Option<&'a Value> {
    next["options"]
        .as_array()?
        .iter()
        .find(|o| o["registration"].as_str() == registration)
}

fn gained(o: &Value) -> Vec<String> {
    o["gains"]
        .as_array()
        .map(|g| {
            g.iter()
                .map(|x| x["activity"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn route_ids(o: &Value) -> Vec<String> {
    o["routes"]
        .as_array()
        .map(|g| {
            g.iter()
                .map(|x| x["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn the_next_level_says_what_it_adds_and_the_routes_to_its_registration(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    let res = app.get("/api/staff/alex.ap/next-level", &alex).await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let v = res.json()?;
    let next = &v["next"];
    ensure!(next["from"] == 4 && next["to"] == 5 && next["band"] == "5", "{v}");
    // Level 5 in the NHS England pack is for registrants: the registration is what adds most.
    let nmc = option(next, Some("NMC")).context("an NMC option")?;
    ensure!(gained(nmc).contains(&"escalation.acknowledge".to_owned()), "{nmc}");
    ensure!(
        route_ids(nmc) == ["nursing-associate", "registered-nurse-degree"],
        "{nmc}"
    );
    let hcpc = option(next, Some("HCPC")).context("an HCPC option")?;
    ensure!(gained(hcpc).contains(&"imaging.justify".to_owned()), "{hcpc}");
    ensure!(route_ids(hcpc) == ["diagnostic-radiographer-degree"], "{hcpc}");
    ensure!(hcpc["routes"][0]["standard"] == "ST0619" && hcpc["routes"][0]["typical_months"] == 36);
    // No route in the employer's list leads to the GMC register: it is not offered.
    ensure!(option(next, Some("GMC")).is_none(), "{next}");
    // What the level alone adds, and what it would still need.
    let alone = option(next, None).context("the level alone")?;
    let cath = alone["gains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["activity"] == "procedure.catheterisation")
        .context("catheterisation")?;
    ensure!(
        cath["then"] == "none" && steps(cath) == ["competency catheterisation"],
        "{cath}"
    );
    ensure!(
        !gained(nmc).contains(&"procedure.catheterisation".to_owned()),
        "each gain once"
    );
    // A registration's gain is measured from the level alone: medicines under supervision at level 5, alone with
    // the NMC registration.
    let meds = nmc["gains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["activity"] == "medicines.administer")
        .context("medicines with the registration")?;
    ensure!(meds["then"] == "none", "{meds}");
    // What a competency alone would bring at today's level is not credited to the next: Jo may record vital signs
    // alone at level 4 once signed off.
    let jo = app.get("/api/staff/jo.ap/next-level", &alex).await?.json()?;
    let jo_alone = option(&jo["next"], None).context("jo's level alone")?;
    ensure!(!gained(jo_alone).contains(&"vitals.record".to_owned()), "{jo_alone}");
    // Below the registered roles, no registration is paired with the level.
    let sam = app.get("/api/staff/sam.hca/next-level", &alex).await?.json()?;
    ensure!(sam["next"]["options"].as_array().map(Vec::len) == Some(1), "{sam}");
    // The command line says the same; an unknown person is a usage error.
    let out = db.remit(&["progression", "next", "alex.ap", "--json"]);
    expect_status(&out, 0)?;
    let cli: Value = serde_json::from_str(&stdout(&out))?;
    ensure!(cli["next"]["options"] == next["options"], "{cli}");
    let out = db.remit(&["progression", "next", "alex.ap"]);
    expect_status(&out, 0)?;
    ensure!(
        stdout(&out).contains("ST0827") && stdout(&out).contains("band 5"),
        "{}",
        stdout(&out)
    );
    expect_status(&db.remit(&["progression", "next", "no.one"]), 2)?;
    ensure!(app.get("/api/staff/no.one/next-level", &alex).await?.status == StatusCode::NOT_FOUND);
    Ok(())
}

fn steps(v: &Value) -> Vec<String> {
    v["steps"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|x| match x["kind"].as_str().unwrap_or_default() {
                    "competency" => format!("competency {}", x["id"].as_str().unwrap_or_default()),
                    "level" => format!("level {}", x["level"]),
                    "registration" => {
                        let mut r = format!("registration {}", x["regulator"].as_str().unwrap_or_default());
                        for o in x["or"].as_array().into_iter().flatten() {
                            r.push_str(&format!(" or {}", o.as_str().unwrap_or_default()));
                        }
                        r
                    }
                    "entitlement" => format!("entitlement {}", x["entitlement"].as_str().unwrap_or_default()),
                    "annotation" => format!("annotation {}", x["annotation"].as_str().unwrap_or_default()),
                    other => other.to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn what_stands_between_a_person_and_an_activity_comes_from_the_pack(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let alex = app.token_for("alex.ap").await?;
    // Alex (level 4) let the catheterisation competency lapse: not at all today; the competency brings indirect
    // supervision, and level 5 working alone. Priya may sign it off.
    let res = app
        .get(
            "/api/staff/alex.ap/progression?activity=procedure.catheterisation",
            &alex,
        )
        .await?;
    ensure!(res.status == StatusCode::OK, "{}", res.body);
    let v = res.json()?;
    ensure!(v["today"].is_null() && v["reached"] == true, "{v}");
    ensure!(steps(&v) == ["competency catheterisation", "level 5"], "{v}");
    ensure!(v["reasons"].to_string().contains("expired"), "{v}");
    let assessors = v["signed_off_by"]["catheterisation"].as_array().context("assessors")?;
    ensure!(
        assessors.iter().any(|a| a == "priya.rn") && !assessors.iter().any(|a| a == "alex.ap"),
        "{v}"
    );
    // Sam, a level 2 healthcare assistant, records vital signs under indirect supervision today; level 4 alone.
    let v = app
        .get("/api/staff/sam.hca/progression?activity=vitals.record", &alex)
        .await?
        .json()?;
    ensure!(v["today"] == "indirect" && steps(&v) == ["level 4"], "{v}");
    // No registration the employer lists no route to is advised (prescribing needs a GMC registration or an
    // independent prescriber's annotation: neither is a route here).
    let v = app
        .get("/api/staff/sam.hca/progression?activity=medicines.prescribe", &alex)
        .await?
        .json()?;
    ensure!(
        !steps(&v).iter().any(|s| s.contains("GMC")) && v["reached"] == false,
        "{v}"
    );
    // A level the pack keeps for registrants is found with the registration, taken together.
    let v = app
        .get("/api/staff/alex.ap/progression?activity=imaging.expose", &alex)
        .await?
        .json()?;
    let s = steps(&v);
    ensure!(
        v["reached"] == true && s.iter().any(|x| x.starts_with("registration")) && s.contains(&"level 5".to_owned()),
        "{v}"
    );
    // What no step changes is said: a NEWS2 emergency reviewed needs a grade the routes name.
    let v = app
        .get("/api/staff/sam.hca/progression?activity=escalation.review", &alex)
        .await?
        .json()?;
    ensure!(
        v["reached"] == false && v["remaining"].to_string().contains("specialty registrar"),
        "{v}"
    );
    // Someone who may already do it alone has nothing to do.
    let v = app
        .get("/api/staff/priya.rn/progression?activity=vitals.record", &alex)
        .await?
        .json()?;
    ensure!(
        v["today"] == "none" && steps(&v).is_empty() && v["reached"] == true,
        "{v}"
    );
    // Bad input: an activity the pack does not have, a person there is not, a region that is not one.
    for (path, status) in [
        ("/api/staff/alex.ap/progression?activity=flying", StatusCode::NOT_FOUND),
        (
            "/api/staff/no.one/progression?activity=vitals.record",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/staff/alex.ap/progression?activity=imaging.expose&region=head",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/api/staff/alex.ap/progression", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let res = app.get(path, &alex).await?;
        ensure!(res.status == status, "{path}: {} {}", res.status, res.body);
    }
    ensure!(
        app.get(
            "/api/staff/alex.ap/progression?activity=vitals.record",
            &crate::helpers::Auth::None
        )
        .await?
        .status
            == StatusCode::UNAUTHORIZED
    );
    // The command line says the same.
    let out = db.remit(&[
        "progression",
        "show",
        "alex.ap",
        "--activity",
        "procedure.catheterisation",
        "--json",
    ]);
    expect_status(&out, 0)?;
    let cli: Value = serde_json::from_str(&stdout(&out))?;
    ensure!(steps(&cli[0]) == ["competency catheterisation", "level 5"], "{cli}");
    let out = db.remit(&[
        "progression",
        "show",
        "alex.ap",
        "--activity",
        "procedure.catheterisation",
    ]);
    expect_status(&out, 0)?;
    let text = stdout(&out);
    ensure!(text.contains("to do it alone") && text.contains("priya.rn"), "{text}");
    expect_status(
        &db.remit(&["progression", "show", "alex.ap", "--activity", "flying"]),
        2,
    )?;
    expect_status(&db.remit(&["progression", "show", "no.one"]), 2)?;
    // Without an activity: every one they may not yet do alone.
    let out = db.remit(&["progression", "show", "alex.ap", "--json"]);
    expect_status(&out, 0)?;
    let all: Value = serde_json::from_str(&stdout(&out))?;
    let all = all.as_array().context("a list")?;
    ensure!(all.iter().any(|p| p["activity"] == "procedure.catheterisation"));
    ensure!(
        all.iter().all(|p| p["today"] != "none"),
        "only what they may not do alone"
    );
    Ok(())
}

async fn a_changed_pack_changes_the_path(db: TestDb) -> Result<()> {
    // An employer who lets level 4 catheterise alone.
    let dir = tempfile::tempdir()?;
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/nhs-england");
    for e in std::fs::read_dir(from)? {
        let p = e?.path();
        std::fs::copy(&p, dir.path().join(p.file_name().context("a file")?))?;
    }
    let file = dir.path().join("40-procedures.cedar");
    let shipped = std::fs::read_to_string(&file)?;
    let changed = shipped.replace(
        "action == Action::\"procedure.catheterisation\", resource)\nwhen { principal.level == 4 && context.supervision == \"none\" };",
        "action == Action::\"procedure.catheterisation\", resource)\nwhen { principal.level == 3 && context.supervision == \"none\" };",
    );
    ensure!(changed != shipped, "the rule was found");
    std::fs::write(&file, changed)?;
    let app = TestApp::demo_with_pack(&db, PolicyPack::load(dir.path())?).await?;
    let alex = app.token_for("alex.ap").await?;
    let v = app
        .get(
            "/api/staff/alex.ap/progression?activity=procedure.catheterisation",
            &alex,
        )
        .await?
        .json()?;
    ensure!(
        steps(&v) == ["competency catheterisation"] && v["reached"] == true,
        "{v}"
    );
    Ok(())
}

async fn a_person_sees_what_they_need_and_the_next_level_on_their_own_page(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let (alex, _) = app.session_of("alex.ap").await?;
    let me = app.get("/me", &alex).await?;
    ensure!(me.body.contains("href=\"/me/progression\""), "/me links to it");
    let page = app
        .get("/me/progression?activity=procedure.catheterisation", &alex)
        .await?;
    ensure!(page.status == StatusCode::OK, "{}", page.body);
    for needle in [
        "Catheterise",
        "Today: <strong>not at all</strong>",
        "gain the competency &#34;Urinary catheterisation&#34;, signed off",
        "priya.rn",
        "work at Career Framework level 5",
        "At level 5 with a current NMC registration, also",
        "Nursing associate (NMC 2018) apprenticeship",
        "ST0619",
        "href=\"/pay?band=5\"",
    ] {
        ensure!(page.body.contains(needle), "the page lacks `{needle}`");
    }
    ensure!(!page.body.contains("GMC registration, also"), "no route leads there");
    // The pay check, opened at that band, chooses it and judges nothing yet.
    let pay = app.get("/pay?band=5", &alex).await?;
    ensure!(
        pay.status == StatusCode::OK && pay.body.contains("value=\"5\" selected"),
        "{}",
        pay.status
    );
    // Without an activity: the form and the next level; an activity the pack does not have: 404.
    let page = app.get("/me/progression", &alex).await?;
    ensure!(page.status == StatusCode::OK && page.body.contains("The next level"));
    let res = app.get("/me/progression?activity=flying", &alex).await?;
    ensure!(res.status == StatusCode::NOT_FOUND, "{}", res.status);
    let res = app.get("/me/progression?colour=red", &alex).await?;
    ensure!(res.status == StatusCode::BAD_REQUEST, "{}", res.status);
    Ok(())
}

async fn the_education_lead_records_a_programme_and_a_registration_changes_the_answers(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let lee = app.token_for("lee.edu").await?;
    let alex = app.token_for("alex.ap").await?;
    let body = serde_json::json!({"route": "nursing-associate", "provider": "Staffordshire University",
        "starts_on": "2026-09-01", "expected_end": "2028-08-31"});
    // Alex may not record their own; the education lead may.
    let res = app.post_json("/api/staff/alex.ap/enrolments", &alex, &body).await?;
    ensure!(
        res.status == StatusCode::FORBIDDEN && res.body.contains("education-lead"),
        "{}",
        res.body
    );
    let res = app.post_json("/api/staff/alex.ap/enrolments", &lee, &body).await?;
    ensure!(res.status == StatusCode::CREATED, "{}", res.body);
    let e = res.json()?;
    ensure!(
        e["programme"] == "Nursing associate (NMC 2018) apprenticeship" && e["route"] == "nursing-associate",
        "{e}"
    );
    // Bad input changes nothing.
    for (bad, why) in [
        (
            serde_json::json!({"route": "astronaut", "provider": "X", "starts_on": "2026-09-01", "expected_end": "2028-08-31"}),
            "route",
        ),
        (
            serde_json::json!({"provider": "X", "starts_on": "2026-09-01", "expected_end": "2028-08-31"}),
            "programme",
        ),
        (
            serde_json::json!({"route": "nursing-associate", "provider": "X", "starts_on": "2028-09-01", "expected_end": "2026-08-31"}),
            "expected_end",
        ),
        (
            serde_json::json!({"route": "nursing-associate", "provider": "", "starts_on": "2026-09-01", "expected_end": "2028-08-31"}),
            "provider",
        ),
        (
            serde_json::json!({"route": "nursing-associate", "provider": "X", "starts_on": "soon", "expected_end": "2028-08-31"}),
            "starts_on",
        ),
    ] {
        let res = app.post_json("/api/staff/alex.ap/enrolments", &lee, &bad).await?;
        ensure!(
            res.status.is_client_error() && res.body.contains(why),
            "{why}: {} {}",
            res.status,
            res.body
        );
    }
    // The education lead's page records one too, and says so; bad input is said on the page and changes nothing.
    let (lee_page, _) = app.session_of("lee.edu").await?;
    let done = crate::pages::post_done(
        &app,
        &lee_page,
        "/education/enrol",
        &[
            ("staff", "jo.ap"),
            ("route", "diagnostic-radiographer-degree"),
            ("programme", ""),
            ("provider", "University of Exeter"),
            ("starts_on", "2026-09-01"),
            ("expected_end", "2029-08-31"),
        ],
    )
    .await?;
    ensure!(
        done.body
            .contains("enrolled on Diagnostic radiographer (integrated degree) apprenticeship"),
        "{}",
        done.body
    );
    let res = crate::pages::post(
        &app,
        &lee_page,
        "/education/enrol",
        &[
            ("staff", "jo.ap"),
            ("route", ""),
            ("programme", ""),
            ("provider", "X"),
            ("starts_on", "2026-09-01"),
            ("expected_end", "2029-08-31"),
        ],
    )
    .await?;
    ensure!(
        res.status == StatusCode::UNPROCESSABLE_ENTITY && res.body.contains("programme"),
        "{} {}",
        res.status,
        res.body
    );
    let (alex_page, _) = app.session_of("alex.ap").await?;
    let res = crate::pages::post(
        &app,
        &alex_page,
        "/education/enrol",
        &[
            ("staff", "alex.ap"),
            ("route", "nursing-associate"),
            ("provider", "X"),
            ("starts_on", "2026-09-01"),
            ("expected_end", "2028-08-31"),
        ],
    )
    .await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.status);
    ensure!(
        app.get("/api/staff/jo.ap/enrolments", &lee)
            .await?
            .json()?
            .as_array()
            .map(Vec::len)
            == Some(1)
    );
    // Someone else's enrolments are refused, audited.
    let res = app.get("/api/staff/jo.ap/enrolments", &alex).await?;
    ensure!(res.status == StatusCode::FORBIDDEN, "{}", res.status);
    let list = app.get("/api/staff/alex.ap/enrolments", &alex).await?.json()?;
    ensure!(list.as_array().map(Vec::len) == Some(1), "{list}");
    // Alex's page shows it; the education lead's page lists who is on which programme.
    let me = app.get("/me", &alex_page).await?;
    ensure!(
        me.body
            .contains("Nursing associate (NMC 2018) apprenticeship, Staffordshire University"),
        "/me"
    );
    let edu = app.get("/education", &lee_page).await?;
    ensure!(
        edu.body
            .contains("Alex Morgan: Nursing associate (NMC 2018) apprenticeship"),
        "/education"
    );
    // When the registration arrives, the pack's answers change at once.
    let before = app
        .get("/api/staff/alex.ap/progression?activity=task.delegate", &alex)
        .await?
        .json()?;
    ensure!(steps(&before).iter().any(|s| s.starts_with("registration")), "{before}");
    expect_status(
        &db.remit(&["staff", "add-registration", "alex.ap", "NMC:26A1234C:2029-08-31"]),
        0,
    )?;
    let after = app
        .get("/api/staff/alex.ap/progression?activity=task.delegate", &alex)
        .await?
        .json()?;
    ensure!(!steps(&after).iter().any(|s| s.starts_with("registration")), "{after}");
    Ok(())
}
