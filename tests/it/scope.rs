//! Scope of practice against the demo trust: the scenario files, decisions that follow the clock, and the CLI and
//! API that ask.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail, ensure};
use axum::http::StatusCode;
use chrono::Duration;
use remit_domain::audit::{AuditDraft, Decision as AuditDecision};
use remit_domain::nhs::NhsNumber;
use remit_domain::staff::{CompetencyId, StaffStatus, Username};
use remit_policy::{ExamRegion, Supervision};
use remit_services::scope::{Ask, Facts, check};
use serde::Deserialize;

use crate::helpers::{Auth, TestApp, TestDb, expect_status, stderr, stdout};
use crate::tables::{ApiCase, CliCase, Said, api, cli};

crate::tests!(
    the_scenarios_hold,
    decisions_follow_the_clock_and_the_records,
    scope_check_and_show_on_the_command_line,
    policy_validate_and_diff,
    competencies_are_signed_off_revoked_and_expire,
    the_scope_api_answers_and_documents_itself,
    a_task_reaches_its_patient_only_for_its_activity_and_only_on_duty,
    imaging_scope_follows_the_profession,
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    scenario: Vec<Scenario>,
}

/// One question and its expected answer. Unknown keys are errors, so a stale fixture fails loudly.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    staff: String,
    action: String,
    #[serde(default)]
    patient: Option<String>,
    #[serde(default)]
    colleague: Option<String>,
    #[serde(default)]
    competency: Option<String>,
    #[serde(default)]
    exam: Option<String>,
    #[serde(default)]
    supervision: Option<String>,
    #[serde(default)]
    supervisor: Option<String>,
    #[serde(default)]
    break_glass: Option<String>,
    #[serde(default)]
    request_justified: bool,
    #[serde(default)]
    named_supervisor: bool,
    /// For acting on an escalation: its Chart 4 level.
    #[serde(default)]
    escalation_level: Option<String>,
    decision: String,
    policies: Vec<String>,
    #[serde(default)]
    reasons_contain: Vec<String>,
}

impl Scenario {
    fn ask(&self) -> Result<Ask> {
        let mut a = Ask::new(Username::parse(&self.staff)?, self.action.clone());
        a.patient = self.patient.as_deref().map(NhsNumber::parse).transpose()?;
        a.colleague = self.colleague.as_deref().map(Username::parse).transpose()?;
        a.competency = self.competency.as_deref().map(CompetencyId::parse).transpose()?;
        a.exam = self.exam.as_deref().map(ExamRegion::parse).transpose()?;
        a.supervision = self
            .supervision
            .as_deref()
            .map(Supervision::parse)
            .transpose()?
            .unwrap_or(Supervision::None);
        a.supervisor = self.supervisor.as_deref().map(Username::parse).transpose()?;
        a.break_glass = self.break_glass.clone();
        a.request_justified = self.request_justified;
        a.named_supervisor = self.named_supervisor;
        a.escalation_level = self
            .escalation_level
            .as_deref()
            .map(remit_domain::obs::EscalationLevel::parse)
            .transpose()?;
        Ok(a)
    }
}

fn scenarios() -> Result<Vec<(String, Scenario)>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for f in files.into_iter().filter(|f| f.extension().is_some_and(|x| x == "toml")) {
        let text = std::fs::read_to_string(&f)?;
        let parsed: ScenarioFile = toml::from_str(&text).with_context(|| format!("{}", f.display()))?;
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        out.extend(parsed.scenario.into_iter().map(|s| (name.clone(), s)));
    }
    Ok(out)
}

async fn the_scenarios_hold(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let all = scenarios()?;
    ensure!(all.len() >= 80, "{} scenarios", all.len());
    let mut failures = Vec::new();
    for (file, s) in &all {
        let ask = s.ask().with_context(|| format!("{file}: {}", s.description))?;
        let facts = Facts::load(&app.store, &app.pack, &ask)
            .await
            .with_context(|| s.description.clone())?;
        let q = facts.question(&ask);
        let d = app.pack.decide(&q);
        // What remit builds for Cedar conforms to the pack's schema.
        let strict = app.pack.decide_strict(&q);
        if strict != d {
            failures.push(format!(
                "{file}: {}: strict {strict:?} differs from {d:?}",
                s.description
            ));
        }
        // Asked again, perhaps answered from a permit remembered from this or another scenario: the same answer.
        let again = app.pack.decide(&q);
        if again != d {
            failures.push(format!(
                "{file}: {}: asked again, {again:?} differs from {d:?}",
                s.description
            ));
        }
        let missing: Vec<&String> = s
            .reasons_contain
            .iter()
            .filter(|r| !d.reasons.iter().any(|x| x.contains(*r)))
            .collect();
        if d.decision != s.decision || d.policies != s.policies || !missing.is_empty() {
            failures.push(format!(
                "{file}: {}\n    expected {} by {:?}\n    got      {} by {:?}\n    reasons  {:?}{}",
                s.description,
                s.decision,
                s.policies,
                d.decision,
                d.policies,
                d.reasons,
                if missing.is_empty() {
                    String::new()
                } else {
                    format!("\n    missing  {missing:?}")
                }
            ));
        }
        if !d.permitted() && d.reasons.len() != d.policies.len() {
            failures.push(format!("{file}: {}: one reason per deciding policy", s.description));
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} of {} scenarios failed:\n{}",
            failures.len(),
            all.len(),
            failures.join("\n")
        );
    }
    ensure!(app.pack.remembered_answers() > 0, "no permit was answered from memory");
    // Every activity and every demo person appears.
    let people: BTreeSet<&str> = all.iter().map(|(_, s)| s.staff.as_str()).collect();
    for u in remit_store::demo::demo_usernames() {
        ensure!(people.contains(u), "no scenario for {u}");
    }
    let actions: BTreeSet<&str> = all.iter().map(|(_, s)| s.action.as_str()).collect();
    for a in app.pack.activities() {
        ensure!(actions.contains(a.id.as_str()), "no scenario for {}", a.id);
    }
    Ok(())
}

async fn decisions_follow_the_clock_and_the_records(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let ask = |staff: &str, action: &str, patient: &str| -> Result<Ask> {
        let mut a = Ask::new(Username::parse(staff)?, action);
        a.patient = Some(NhsNumber::parse(patient)?);
        Ok(a)
    };
    // Alex's venepuncture expires in 20 days: allowed on day 20, refused on day 21, with the date.
    let venepuncture = ask("alex.ap", "procedure.venepuncture", "9990006857")?;
    app.clock.advance(Duration::days(20));
    ensure!(
        check(&app.store, &app.pack, &venepuncture).await?.permitted(),
        "valid on its expiry day"
    );
    app.clock.advance(Duration::days(1));
    let d = check(&app.store, &app.pack, &venepuncture).await?;
    ensure!(
        !d.permitted() && d.reasons[0].contains("`venepuncture` competency expired on"),
        "{d:?}"
    );

    // Priya's registration lapses after 300 days: she can no longer delegate, and the lapse is named.
    let delegate = ask("priya.rn", "task.delegate", "9990006857")?;
    ensure!(check(&app.store, &app.pack, &delegate).await?.permitted());
    app.clock.advance(Duration::days(280));
    let d = check(&app.store, &app.pack, &delegate).await?;
    ensure!(!d.permitted() && d.reasons[0].contains("NMC lapsed on"), "{d:?}");

    // Going off duty closes the ward's records; nothing else changes.
    let read = ask("ben.rn", "record.read", "9990009597")?;
    ensure!(check(&app.store, &app.pack, &read).await?.permitted());
    let ben = app.store.staff_id(&Username::parse("ben.rn")?).await?;
    let mut tx = app.store.begin().await?;
    tx.set_duty(ben, &[], None).await?;
    tx.commit(AuditDraft::permit("test", "staff.set-duty", "staff:ben.rn"))
        .await?;
    let d = check(&app.store, &app.pack, &read).await?;
    ensure!(!d.permitted() && d.policies == ["on-duty", "duty"], "{d:?}");

    // A suspended member of staff may do nothing at all.
    let sam = app.store.staff_id(&Username::parse("sam.hca")?).await?;
    let mut tx = app.store.begin().await?;
    tx.set_status(sam, StaffStatus::Suspended).await?;
    tx.commit(AuditDraft::permit("test", "staff.suspend", "staff:sam.hca"))
        .await?;
    let d = check(&app.store, &app.pack, &ask("sam.hca", "record.read", "9990001375")?).await?;
    ensure!(
        !d.permitted() && d.policies == ["active"] && d.reasons[0].contains("suspended"),
        "{d:?}"
    );
    Ok(())
}

async fn scope_check_and_show_on_the_command_line(db: TestDb) -> Result<()> {
    expect_status(&db.remit(&["demo", "--seed-only"]), 0)?;
    let out = db.remit(&[
        "scope",
        "check",
        "--staff",
        "alex.ap",
        "--action",
        "medicines.prescribe",
        "--patient",
        "9990001375",
        "--json",
    ]);
    expect_status(&out, 1)?;
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    ensure!(
        v["decision"] == "deny" && v["policies"] == serde_json::json!(["medicines.prescribe"]),
        "{v}"
    );
    ensure!(
        v["reasons"][0]
            .as_str()
            .unwrap()
            .contains("Alex Morgan holds no current registration")
    );
    let out = db.remit(&[
        "scope",
        "check",
        "--staff",
        "jo.ap",
        "--action",
        "imaging.expose",
        "--patient",
        "9990012334",
        "--exam",
        "chest",
        "--supervision",
        "indirect",
        "--supervisor",
        "tom.rad",
        "--json",
    ]);
    expect_status(&out, 0)?;
    ensure!(serde_json::from_str::<serde_json::Value>(&stdout(&out))?["decision"] == "permit");
    // The question and its refusal are in the audit log.
    let log: serde_json::Value = serde_json::from_str(&stdout(&db.remit(&["audit", "log", "--json", "--limit", "2"])))?;
    ensure!(
        log[1]["action"] == "scope.check:medicines.prescribe" && log[1]["decision"] == "deny",
        "{log}"
    );
    ensure!(log[1]["reasons"][0].as_str().unwrap().starts_with("Prescribing needs"));

    let check = |staff, action, more: &[&'static str]| {
        let mut args = vec!["scope", "check", "--staff", staff, "--action", action];
        args.extend_from_slice(more);
        args
    };
    let bad = |what, args: &[&'static str], words| CliCase::of(what, args, 2).err(words);
    let asks = [
        check("alex.ap", "vitals.fly", &[]),
        check("alex.ap", "vitals.record", &["--supervision", "some"]),
        check("alex.ap", "vitals.record", &["--supervision", "indirect"]),
        check("alex.ap", "imaging.expose", &["--exam", "pelvis"]),
        check("alex.ap", "record.read", &["--patient", "1234567890"]),
        check("nobody", "record.read", &[]),
    ];
    db.cli_cases(&[
        bad(
            "an activity there is not",
            &asks[0],
            &["`vitals.fly` is not an activity"],
        ),
        bad("a supervision there is not", &asks[1], &["supervision: `some`"]),
        bad("supervision by nobody named", &asks[2], &["needs --supervisor"]),
        bad("an examination region there is not", &asks[3], &["exam: `pelvis`"]),
        bad("an NHS number that is not one", &asks[4], &["nhs_number"]),
        bad("a staff member there is not", &asks[5], &["no staff member `nobody`"]),
        bad(
            "the scope of a staff member there is not",
            &["scope", "show", "nobody"],
            &["no staff member `nobody`"],
        ),
    ])?;

    let out = db.remit(&["scope", "show", "sam.hca", "--json"]);
    expect_status(&out, 0)?;
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    let line = |activity: &str, detail: Option<&str>| {
        v["activities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["activity"] == activity && l["detail"].as_str() == detail)
            .cloned()
            .unwrap_or_default()
    };
    ensure!(
        line("vitals.record", None)["least_supervision"] == "indirect",
        "{}",
        line("vitals.record", None)
    );
    ensure!(
        line("vitals.record", None)["reasons"][0]
            .as_str()
            .unwrap()
            .contains("only under indirect supervision")
    );
    ensure!(line("record.read", None)["least_supervision"] == "none");
    ensure!(line("medicines.prescribe", None)["least_supervision"].is_null());
    let out = db.remit(&["scope", "show", "ria.trainee", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    let lines = v["activities"].as_array().unwrap();
    let expose = |region: &str| {
        lines
            .iter()
            .find(|l| l["activity"] == "imaging.expose" && l["detail"] == region)
            .unwrap()
    };
    ensure!(expose("chest")["least_supervision"] == "direct", "{}", expose("chest"));
    ensure!(expose("axial")["least_supervision"].is_null());
    let out = db.remit(&["scope", "show", "alex.ap", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    let cath = v["activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["activity"] == "procedure.catheterisation")
        .unwrap();
    ensure!(
        cath["least_supervision"].is_null() && cath["reasons"][0].as_str().unwrap().contains("expired on"),
        "{cath}"
    );
    Ok(())
}

fn copy_pack(to: &std::path::Path) -> Result<()> {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/nhs-england");
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let p = e?.path();
        std::fs::copy(&p, to.join(p.file_name().unwrap()))?;
    }
    Ok(())
}

async fn policy_validate_and_diff(db: TestDb) -> Result<()> {
    expect_status(&db.remit(&["demo", "--seed-only"]), 0)?;
    let dir = tempfile::tempdir()?;
    let old = dir.path().join("old");
    let new = dir.path().join("new");
    copy_pack(&old)?;
    copy_pack(&new)?;
    let out = db.remit(&["policy", "validate", old.to_str().unwrap()]);
    expect_status(&out, 0)?;
    ensure!(
        stdout(&out).contains("valid (")
            && stdout(&out).contains("37 activities")
            && stdout(&out).contains("emergency: to the registered staff on duty"),
        "{}",
        stdout(&out)
    );

    // The employer moves vital signs up to level 4 with supervision, and ECGs up to level 5.
    let vitals = new.join("20-vitals.cedar");
    let text = std::fs::read_to_string(&vitals)?.replace(
        "principal.level <= 3 && context.supervision",
        "principal.level <= 4 && context.supervision",
    );
    std::fs::write(&vitals, text)?;
    let procedures = new.join("40-procedures.cedar");
    let text = std::fs::read_to_string(&procedures)?.replace(
        "unless { principal.level >= 3 };\n\n@id(\"procedure.ecg/competency\")",
        "unless { principal.level >= 5 };\n\n@id(\"procedure.ecg/competency\")",
    );
    std::fs::write(&procedures, text)?;
    let out = db.remit(&["policy", "diff", old.to_str().unwrap(), new.to_str().unwrap(), "--json"]);
    expect_status(&out, 0)?;
    let changes: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    let changes = changes.as_array().unwrap();
    let has = |staff: &str, activity: &str, change: &str, from: serde_json::Value, to: serde_json::Value| {
        changes.iter().any(|c| {
            c["staff"] == staff
                && c["activity"] == activity
                && c["change"] == change
                && c["from"] == from
                && c["to"] == to
        })
    };
    ensure!(
        has(
            "alex.ap",
            "vitals.record",
            "supervision",
            "none".into(),
            "indirect".into()
        ),
        "{changes:?}"
    );
    ensure!(
        has(
            "alex.ap",
            "procedure.ecg",
            "lost",
            "none".into(),
            serde_json::Value::Null
        ),
        "{changes:?}"
    );
    ensure!(has("lee.edu", "procedure.ecg", "supervision", "none".into(), "none".into()) == false);
    ensure!(
        !changes.iter().any(|c| c["staff"] == "priya.rn"),
        "priya's scope does not change: {changes:?}"
    );
    let text_out = stdout(&db.remit(&["policy", "diff", old.to_str().unwrap(), new.to_str().unwrap()]));
    ensure!(text_out.contains("alex.ap") && text_out.contains("lost"), "{text_out}");

    // A broken pack: validate names the file and line and exits 1; serving with it refuses to start.
    std::fs::write(
        &procedures,
        std::fs::read_to_string(&procedures)?.replace(
            "principal.competencies.contains(\"wound-care\")",
            "principal.competences.contains(\"wound-care\")",
        ),
    )?;
    let out = db.remit(&["policy", "validate", new.to_str().unwrap()]);
    expect_status(&out, 1)?;
    ensure!(
        stdout(&out).contains("40-procedures.cedar line") && stdout(&out).contains("competences"),
        "{}",
        stdout(&out)
    );
    let out = db.remit(&["--policy", new.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"]);
    expect_status(&out, 2)?;
    ensure!(stderr(&out).contains("40-procedures.cedar line"), "{}", stderr(&out));
    Ok(())
}

async fn competencies_are_signed_off_revoked_and_expire(db: TestDb) -> Result<()> {
    expect_status(&db.remit(&["demo", "--seed-only"]), 0)?;
    // Expiring soon: Alex's venepuncture, in 20 days.
    let out = db.remit(&["competency", "expiring", "--within", "60d", "--json"]);
    expect_status(&out, 0)?;
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    ensure!(
        v[0]["staff"] == "alex.ap" && v[0]["competency"] == "venepuncture" && v[0]["days_to_expiry"] == 20,
        "{v}"
    );
    ensure!(v.as_array().unwrap().len() == 1, "{v}");

    // Renewal is a new sign-off, by an assessor who passes the policy.
    let sign_off = |staff, competency, assessor| {
        [
            "competency",
            "sign-off",
            "--staff",
            staff,
            "--competency",
            competency,
            "--assessor",
            assessor,
            "--evidence",
            "Observed three successful draws",
        ]
    };
    db.cli_cases(&[CliCase {
        what: "a renewal by the education lead",
        args: sign_off("alex.ap", "venepuncture", "lee.edu").to_vec(),
        status: 0,
        out: &[],
        err: &[],
    }])?;
    let out = db.remit(&["competency", "expiring", "--within", "60d", "--json"]);
    ensure!(
        serde_json::from_str::<serde_json::Value>(&stdout(&out))?
            .as_array()
            .unwrap()
            .is_empty(),
        "renewed: {}",
        stdout(&out)
    );
    let out = db.remit(&["competency", "list", "--staff", "alex.ap", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    let venepuncture: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["competency"] == "venepuncture")
        .collect();
    ensure!(
        venepuncture.len() == 2 && venepuncture[1]["assessor"] == "lee.edu",
        "{list}"
    );

    // A refused sign-off: every reason, audited, nothing recorded.
    db.cli_cases(&[CliCase {
        what: "a sign-off by an assistant practitioner",
        args: sign_off("sam.hca", "catheterisation", "alex.ap").to_vec(),
        status: 1,
        out: &[],
        err: &[
            "needs a current professional registration",
            "`catheterisation` competency expired on",
        ],
    }])?;
    let store = db.store(crate::helpers::TestClock::new()).await?;
    let last = store.audit_log(1).await?.remove(0);
    ensure!(
        last.decision == AuditDecision::Deny && last.action == "competency.sign-off" && last.reasons.len() == 3,
        "{last:?}"
    );
    ensure!(
        store
            .competency_records(Some(&Username::parse("sam.hca")?))
            .await?
            .len()
            == 1
    );

    // Revocation by an education lead takes effect at once; bad input is named and changes nothing.
    let revoke = |competency, by, reason| {
        [
            "competency",
            "revoke",
            "--staff",
            "alex.ap",
            "--competency",
            competency,
            "--by",
            by,
            "--reason",
            reason,
        ]
    };
    let cpd = |date, hours| {
        [
            "cpd",
            "add",
            "--staff",
            "alex.ap",
            "--date",
            date,
            "--hours",
            hours,
            "--activity",
            "a",
            "--reflection",
            "r",
        ]
    };
    let mut future_sign_off = sign_off("alex.ap", "venepuncture", "lee.edu").to_vec();
    future_sign_off.extend(["--date", "2999-01-01"]);
    db.cli_cases(&[
        CliCase {
            what: "a revocation by the education lead",
            args: revoke("ecg-recording", "lee.edu", "Practice concerns raised").to_vec(),
            status: 0,
            out: &[],
            err: &[],
        },
        CliCase {
            what: "the revoked competency counts at once",
            args: vec![
                "scope",
                "check",
                "--staff",
                "alex.ap",
                "--action",
                "procedure.ecg",
                "--json",
            ],
            status: 1,
            out: &["`ecg-recording` competency was revoked"],
            err: &[],
        },
        CliCase {
            what: "a revocation by a ward nurse",
            args: revoke("wound-care", "priya.rn", "x").to_vec(),
            status: 1,
            out: &[],
            err: &[],
        },
        CliCase {
            what: "a revocation of what is revoked already",
            args: revoke("ecg-recording", "lee.edu", "again").to_vec(),
            status: 2,
            out: &[],
            err: &["no current `ecg-recording` sign-off"],
        },
        CliCase {
            what: "an activity not in the catalogue",
            args: sign_off("alex.ap", "juggling", "lee.edu").to_vec(),
            status: 2,
            out: &[],
            err: &["`juggling` is not in the catalogue"],
        },
        CliCase {
            what: "a sign-off dated in the future",
            args: future_sign_off.clone(),
            status: 2,
            out: &[],
            err: &["in the future"],
        },
        CliCase {
            what: "a window that is not a duration",
            args: vec!["competency", "expiring", "--within", "soon"],
            status: 2,
            out: &[],
            err: &["within: `soon`"],
        },
        CliCase {
            what: "CPD of no hours",
            args: cpd("2026-01-01", "0").to_vec(),
            status: 2,
            out: &[],
            err: &["hours: `0`"],
        },
        CliCase {
            what: "CPD of more than a day",
            args: cpd("2026-01-01", "25").to_vec(),
            status: 2,
            out: &[],
            err: &["at most 24"],
        },
        CliCase {
            what: "CPD dated in the future",
            args: cpd("2999-01-01", "1").to_vec(),
            status: 2,
            out: &[],
            err: &["in the future"],
        },
    ])?;
    expect_status(
        &db.remit(&[
            "cpd",
            "add",
            "--staff",
            "alex.ap",
            "--date",
            "2026-01-01",
            "--hours",
            "1.5",
            "--activity",
            "Sepsis study day",
            "--reflection",
            "Earlier escalation of a rising NEWS2.",
        ]),
        0,
    )?;
    let out = db.remit(&["cpd", "list", "--staff", "alex.ap", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    ensure!(v[0]["hours"] == 1.5 && v[0]["activity"] == "Sepsis study day", "{v}");
    Ok(())
}

async fn the_scope_api_answers_and_documents_itself(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let auth = app.token_for("priya.rn").await?;
    let check = |what, who, body, status, said: Vec<Said>| {
        said.into_iter().fold(
            api(what, who, "POST /api/scope/check", status).body(body),
            ApiCase::said,
        )
    };
    use StatusCode as S;
    use serde_json::json;
    // A patient there is not is judged as one on nobody's ward: the answer tells nobody whether a patient exists.
    // Asked about oneself, the answer is a refusal; asked about someone else, the asker must be able to read the
    // patient's record, or the answer would tell where the patient is.
    let veiled = Said::Contains("the patient's ward or department");
    app.api_cases(&[
        check(
            "an assistant practitioner may not catheterise: both reasons",
            "priya.rn",
            json!({"staff": "alex.ap", "action": "procedure.catheterisation", "patient": "9990005486"}),
            S::OK,
            vec![Said::At("/decision", json!("deny")), Said::Count("/reasons", 2)],
        ),
        check(
            "a support worker records vital signs under a named supervisor",
            "priya.rn",
            json!({"staff": "sam.hca", "action": "vitals.record", "patient": "9990005486",
                "supervision": "indirect", "supervisor": "priya.rn"}),
            S::OK,
            vec![Said::At("/decision", json!("permit"))],
        ),
        check(
            "a patient there is not, asked about oneself",
            "priya.rn",
            json!({"staff": "priya.rn", "action": "record.read", "patient": "9990014434"}),
            S::OK,
            vec![veiled],
        ),
        check(
            "a patient there is not, asked about someone else",
            "priya.rn",
            json!({"staff": "alex.ap", "action": "record.read", "patient": "9990014434"}),
            S::FORBIDDEN,
            vec![Said::Contains("the patient's ward or department")],
        ),
        check(
            "Ben asked who may read a Ward 7 patient",
            "ben.rn",
            json!({"staff": "priya.rn", "action": "record.read", "patient": "9990001375"}),
            S::FORBIDDEN,
            vec![],
        ),
        check(
            "an unknown field",
            "priya.rn",
            json!({"staff": "alex.ap", "action": "record.read", "colour": "red"}),
            S::UNPROCESSABLE_ENTITY,
            vec![Said::Error("unknown field `colour`")],
        ),
        check(
            "no action",
            "priya.rn",
            json!({"staff": "alex.ap"}),
            S::UNPROCESSABLE_ENTITY,
            vec![Said::Error("missing field `action`")],
        ),
        check(
            "an NHS number with a bad check digit",
            "priya.rn",
            json!({"staff": "alex.ap", "action": "record.read", "patient": "9990001376"}),
            S::UNPROCESSABLE_ENTITY,
            vec![Said::Error("bad check digit")],
        ),
        check(
            "direct supervision by nobody",
            "priya.rn",
            json!({"staff": "alex.ap", "action": "record.read", "supervision": "direct"}),
            S::UNPROCESSABLE_ENTITY,
            vec![Said::Error("supervisor")],
        ),
        check(
            "a staff member there is not",
            "priya.rn",
            json!({"staff": "ghost", "action": "record.read"}),
            S::NOT_FOUND,
            vec![Said::Error("no staff member `ghost`")],
        ),
        api(
            "a body that is not JSON",
            "priya.rn",
            "POST /api/scope/check",
            S::BAD_REQUEST,
        )
        .raw_body("{not json"),
    ])
    .await?;

    let res = app.get("/api/staff/jo.ap/scope", &auth).await?;
    ensure!(res.status == StatusCode::OK);
    let v = res.json()?;
    let chest = v["activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["activity"] == "imaging.expose" && l["detail"] == "chest")
        .unwrap();
    ensure!(chest["least_supervision"] == "indirect", "{chest}");
    ensure!(app.get("/api/staff/ghost/scope", &auth).await?.status == StatusCode::NOT_FOUND);
    ensure!(app.get("/api/staff/Not%20A%20User/scope", &auth).await?.status == StatusCode::UNPROCESSABLE_ENTITY);
    ensure!(app.get("/api/staff/jo.ap/scope", &Auth::None).await?.status == StatusCode::UNAUTHORIZED);

    let res = app.get("/api/openapi.json", &auth).await?;
    ensure!(res.status == StatusCode::OK);
    let doc = res.json()?;
    for path in ["/api/scope/check", "/api/staff/{username}/scope", "/api/me"] {
        ensure!(doc["paths"][path].is_object(), "{path} documented");
    }
    ensure!(doc["components"]["schemas"]["ScopeCheckBody"]["properties"]["supervisor"].is_object());
    ensure!(app.get("/api/openapi.json", &Auth::None).await?.status == StatusCode::UNAUTHORIZED);
    Ok(())
}

/// Duty bounds every clinical act: an open task reaches its patient beyond the delegatee's duty only for the
/// delegated activity (and reading the record), and off duty nothing; delegating to oneself is refused.
async fn a_task_reaches_its_patient_only_for_its_activity_and_only_on_duty(db: TestDb) -> Result<()> {
    expect_status(&db.remit(&["demo", "--seed-only"]), 0)?;
    // Fatima Noor (ward 7) has an open venepuncture task for alex.ap; Alex is put on ward 9 only.
    const FATIMA: &str = "9990006857";
    expect_status(&db.remit(&["staff", "set-duty", "alex.ap", "--place", "ward-9"]), 0)?;
    let check = |action: &str| {
        db.remit(&[
            "scope",
            "check",
            "--staff",
            "alex.ap",
            "--action",
            action,
            "--patient",
            FATIMA,
        ])
    };
    let out = check("vitals.record");
    expect_status(&out, 1)?;
    ensure!(stdout(&out).contains("for this activity"), "{}", stdout(&out));
    expect_status(&check("procedure.venepuncture"), 0)?;
    expect_status(&check("record.read"), 0)?;
    expect_status(&check("procedure.wound-care"), 1)?;
    // Off duty: nothing, the task's own activity included.
    expect_status(&db.remit(&["staff", "set-duty", "alex.ap", "--off"]), 0)?;
    for action in ["vitals.record", "procedure.venepuncture", "record.read"] {
        let out = check(action);
        expect_status(&out, 1)?;
        ensure!(
            stdout(&out).contains("not on duty anywhere"),
            "{action}: {}",
            stdout(&out)
        );
    }
    // A nurse who delegates to herself is refused, with the reason, and nothing is written.
    let out = db.remit(&[
        "task",
        "delegate",
        "--from",
        "priya.rn",
        "--to",
        "priya.rn",
        "--patient",
        "9990001375",
        "--activity",
        "procedure.venepuncture",
    ]);
    expect_status(&out, 1)?;
    ensure!(
        stderr(&out).contains("Delegating to oneself is not delegation"),
        "{}",
        stderr(&out)
    );
    Ok(())
}

/// An exposure is supervised by a radiographer (HCPC RA), not any HCPC registrant; an assistant practitioner's axial
/// work needs the employer's approved extension; an HCPC number names a profession the register knows.
async fn imaging_scope_follows_the_profession(db: TestDb) -> Result<()> {
    let expose = |patient, exam, supervisor| {
        [
            "scope",
            "check",
            "--staff",
            "jo.ap",
            "--action",
            "imaging.expose",
            "--patient",
            patient,
            "--exam",
            exam,
            "--supervision",
            "indirect",
            "--supervisor",
            supervisor,
        ]
    };
    let sign = |staff, competency, assessor| {
        [
            "competency",
            "sign-off",
            "--staff",
            staff,
            "--competency",
            competency,
            "--assessor",
            assessor,
            "--evidence",
            "assessed in the department",
        ]
    };
    let (chest_by_physio, chest_by_radiographer) = (
        expose("9990012334", "chest", "pat.physio"),
        expose("9990012334", "chest", "tom.rad"),
    );
    let axial = expose("9990013705", "axial", "tom.rad");
    let (axial_for_jo, extension_by_tom) = (
        sign("jo.ap", "xray-axial", "tom.rad"),
        sign("jo.ap", "ap-axial-extension", "tom.rad"),
    );
    let (axial_for_sam, extension_by_sam) = (
        sign("sam.lead", "xray-axial", "tom.rad"),
        sign("jo.ap", "ap-axial-extension", "sam.lead"),
    );
    db.cli_cases(&[
        cli("the demo trust", "demo --seed-only", 0),
        cli(
            "a physiotherapist",
            concat!(
                "staff add pat.physio --name 'Pat Physio' --job-title Physiotherapist --level 6 ",
                "--registration HCPC:PH12345:2030-01-31"
            ),
            0,
        ),
        cli("on duty in the department", "staff set-duty pat.physio --place xray", 0),
        CliCase::of("supervised by a physiotherapist", &chest_by_physio, 1)
            .out(&["supervised by a radiographer (HCPC RA); Pat Physio is not one"]),
        CliCase::of("supervised by a radiographer", &chest_by_radiographer, 0),
        // Axial: the competency alone is not enough for an assistant practitioner.
        CliCase::of("Jo's axial competency", &axial_for_jo, 0),
        CliCase::of("axial with the competency alone", &axial, 1).out(&["outside an assistant practitioner's scope"]),
        // The extension is the employer's approval: not a level 5 radiographer's to give, a senior one's.
        CliCase::of(
            "the extension signed off by a level 5 radiographer",
            &extension_by_tom,
            1,
        )
        .err(&["level 7 or above"]),
        cli(
            "a radiology service manager",
            concat!(
                "staff add sam.lead --name 'Sam Khan' --job-title 'Radiology service manager' --level 7 ",
                "--registration HCPC:RA765432:2030-01-31"
            ),
            0,
        ),
        CliCase::of("her own axial competency", &axial_for_sam, 0),
        CliCase::of("the extension signed off by her", &extension_by_sam, 0),
        CliCase::of("axial with the extension", &axial, 0),
        cli(
            "an HCPC number with no profession's prefix",
            "staff add x.y --name 'X Y' --job-title X --registration HCPC:XX12345:2030-01-31",
            2,
        )
        .err(&["profession's prefix"]),
    ])
}
