//! Delegation and supervision: checked at delegation, acceptance and completion; decline with reasons;
//! countersigning under direct supervision; supervision load; every move audited.

use anyhow::{Result, bail, ensure};
use chrono::Duration;
use remit_domain::audit::Decision as AuditDecision;
use remit_domain::nhs::NhsNumber;
use remit_domain::staff::Username;
use remit_domain::task::{Move, TaskStatus};
use remit_policy::Supervision;
use remit_services::tasks::{self, Delegation, Outcome};

use crate::helpers::{TestApp, TestDb, expect_status, stderr, stdout};

crate::tests!(
    the_demo_task_runs_its_course_with_every_move_audited,
    a_delegation_is_refused_with_every_reason_from_both_sides,
    the_policy_is_asked_again_at_acceptance_and_at_completion,
    a_declined_task_tells_the_delegator_why,
    direct_supervision_waits_for_the_named_supervisors_countersignature,
    supervision_load_and_its_warning,
    an_open_task_opens_the_patients_record,
    bad_task_input_is_named,
);

fn user(u: &str) -> Username {
    Username::parse(u).unwrap()
}

fn delegation(from: &str, to: &str, patient: &str, activity: &str) -> Delegation {
    Delegation {
        delegator: user(from),
        delegatee: user(to),
        patient: NhsNumber::parse(patient).unwrap(),
        activity: activity.into(),
        exam: None,
        supervision: Supervision::None,
        supervisor: None,
        due_at: None,
        notes: String::new(),
    }
}

async fn seeded(db: &TestDb) -> Result<()> {
    expect_status(&db.remit(&["demo", "--seed-only"]), 0)
}

fn task_json(db: &TestDb, id: &str) -> Result<serde_json::Value> {
    let out = db.remit(&["task", "show", id, "--json"]);
    expect_status(&out, 0)?;
    Ok(serde_json::from_str(&stdout(&out))?)
}

async fn the_demo_task_runs_its_course_with_every_move_audited(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let out = db.remit(&["task", "list", "--owner", "alex.ap", "--status", "requested", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    ensure!(list.as_array().unwrap().len() == 1, "{list}");
    let t = &list[0];
    ensure!(
        t["patient"] == "9990006857" && t["activity"] == "procedure.venepuncture" && t["delegator"] == "priya.rn",
        "{t}"
    );
    let id = t["id"].to_string();
    for (mv, status) in [
        ("accept", "accepted"),
        ("start", "in-progress"),
        ("complete", "completed"),
    ] {
        let out = db.remit(&["task", mv, &id, "--as", "alex.ap", "--json"]);
        expect_status(&out, 0)?;
        ensure!(serde_json::from_str::<serde_json::Value>(&stdout(&out))?["status"] == status);
    }
    let t = task_json(&db, &id)?;
    let moves: Vec<&str> = t["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["move"].as_str().unwrap())
        .collect();
    ensure!(moves == ["delegate", "accept", "start", "complete"], "{moves:?}");
    ensure!(t["history"][1]["by"] == "alex.ap" && !t["history"][1]["at"].as_str().unwrap().is_empty());
    let store = db.store(crate::helpers::TestClock::new()).await?;
    let log = store.audit_log(3).await?;
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    ensure!(actions == ["task.complete", "task.start", "task.accept"], "{actions:?}");
    ensure!(
        log.iter()
            .all(|e| e.target == format!("task:{id}") && e.actor.starts_with("staff:alex.ap"))
    );
    // A finished task moves no more.
    let out = db.remit(&["task", "start", &id, "--as", "alex.ap"]);
    expect_status(&out, 1)?;
    ensure!(
        stderr(&out).contains("a task that is completed cannot be started"),
        "{}",
        stderr(&out)
    );
    Ok(())
}

async fn a_delegation_is_refused_with_every_reason_from_both_sides(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let out = db.remit(&[
        "task",
        "delegate",
        "--from",
        "alex.ap",
        "--to",
        "sam.hca",
        "--patient",
        "9990005486",
        "--activity",
        "procedure.ecg",
    ]);
    expect_status(&out, 1)?;
    let err = stderr(&out);
    for reason in [
        "Delegating work needs a current professional registration; Alex Morgan holds no current registration.",
        "Delegating work needs level 5 or above; Alex Morgan's level is 4.",
        "Recording a 12-lead ECG needs level 3 or above; Sam Patel's level is 2.",
        "Sam Patel holds no `ecg-recording` sign-off",
    ] {
        ensure!(err.contains(reason), "missing `{reason}` in {err}");
    }
    let store = db.store(crate::helpers::TestClock::new()).await?;
    let last = store.audit_log(1).await?.remove(0);
    ensure!(
        last.action == "task.delegate" && last.decision == AuditDecision::Deny && last.reasons.len() == 4,
        "{last:?}"
    );
    ensure!(
        store.list_tasks(&Default::default()).await?.len() == 1,
        "only the demo's task exists"
    );

    // Indirect supervision by a nurse on another ward is refused, saying so.
    let out = db.remit(&[
        "task",
        "delegate",
        "--from",
        "priya.rn",
        "--to",
        "sam.hca",
        "--patient",
        "9990001375",
        "--activity",
        "vitals.record",
        "--supervision",
        "indirect",
        "--supervisor",
        "ben.rn",
    ]);
    expect_status(&out, 1)?;
    ensure!(
        stderr(&out).contains("Ben Adeyemi cannot supervise this") && stderr(&out).contains("on duty on Ward 7"),
        "{}",
        stderr(&out)
    );
    let out = db.remit(&[
        "task",
        "delegate",
        "--from",
        "priya.rn",
        "--to",
        "sam.hca",
        "--patient",
        "9990001375",
        "--activity",
        "vitals.record",
        "--supervision",
        "indirect",
        "--supervisor",
        "priya.rn",
        "--json",
    ]);
    expect_status(&out, 0)?;
    Ok(())
}

async fn the_policy_is_asked_again_at_acceptance_and_at_completion(db: TestDb) -> Result<()> {
    let app = TestApp::demo(&db).await?;
    let (store, pack) = (&app.store, &*app.pack);
    let Outcome::Done(first) = tasks::delegate(
        store,
        pack,
        &delegation("priya.rn", "alex.ap", "9990002746", "procedure.venepuncture"),
        "test",
        4,
    )
    .await?
    else {
        bail!("delegation refused")
    };
    let Outcome::Done(second) = tasks::delegate(
        store,
        pack,
        &delegation("priya.rn", "alex.ap", "9990004110", "procedure.venepuncture"),
        "test",
        4,
    )
    .await?
    else {
        bail!("delegation refused")
    };
    let alex = user("alex.ap");
    for (id, mv) in [(second.task.id, Move::Accept), (second.task.id, Move::Start)] {
        ensure!(matches!(
            tasks::make_move(store, pack, id, mv, &alex, None, "test").await?,
            Outcome::Done(_)
        ));
    }
    // Alex's venepuncture competency lapses after 20 days.
    app.clock.advance(Duration::days(21));
    let Outcome::Refused(reasons) =
        tasks::make_move(store, pack, first.task.id, Move::Accept, &alex, None, "test").await?
    else {
        bail!("acceptance with an expired competency was allowed")
    };
    ensure!(
        reasons[0].contains("`venepuncture` competency expired on"),
        "{reasons:?}"
    );
    ensure!(
        store.task(first.task.id).await?.status == TaskStatus::Requested,
        "nothing changed"
    );
    let Outcome::Refused(reasons) =
        tasks::make_move(store, pack, second.task.id, Move::Complete, &alex, None, "test").await?
    else {
        bail!("completion with an expired competency was allowed")
    };
    ensure!(reasons[0].contains("expired on"), "{reasons:?}");
    ensure!(store.task(second.task.id).await?.status == TaskStatus::InProgress);
    let last = store.audit_log(1).await?.remove(0);
    ensure!(last.action == "task.complete" && last.decision == AuditDecision::Deny);
    Ok(())
}

async fn a_declined_task_tells_the_delegator_why(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let out = db.remit(&[
        "task",
        "decline",
        "1",
        "--as",
        "alex.ap",
        "--reason",
        "Patient asked for the phlebotomist",
    ]);
    expect_status(&out, 0)?;
    let out = db.remit(&["task", "list", "--requester", "priya.rn", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    ensure!(
        list[0]["status"] == "rejected" && list[0]["last_note"] == "Patient asked for the phlebotomist",
        "{list}"
    );
    let out = db.remit(&["task", "decline", "1", "--as", "alex.ap", "--reason", "  "]);
    expect_status(&out, 2)?;
    ensure!(stderr(&out).contains("reason: say why"), "{}", stderr(&out));
    // Only the delegatee declines, only the delegator cancels.
    seeded(&db).await?;
    let out = db.remit(&[
        "task",
        "delegate",
        "--from",
        "priya.rn",
        "--to",
        "alex.ap",
        "--patient",
        "9990006857",
        "--activity",
        "procedure.ecg",
        "--json",
    ]);
    let id = serde_json::from_str::<serde_json::Value>(&stdout(&out))?["task"]["id"].to_string();
    let out = db.remit(&["task", "cancel", &id, "--as", "alex.ap", "--reason", "x"]);
    expect_status(&out, 1)?;
    ensure!(
        stderr(&out).contains("only the person who delegated it may cancel"),
        "{}",
        stderr(&out)
    );
    expect_status(
        &db.remit(&["task", "cancel", &id, "--as", "priya.rn", "--reason", "ECG done in ED"]),
        0,
    )?;
    Ok(())
}

async fn direct_supervision_waits_for_the_named_supervisors_countersignature(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let out = db.remit(&[
        "task",
        "delegate",
        "--from",
        "tom.rad",
        "--to",
        "ria.trainee",
        "--patient",
        "9990012334",
        "--activity",
        "imaging.expose",
        "--exam",
        "chest",
        "--supervision",
        "direct",
        "--supervisor",
        "tom.rad",
        "--json",
    ]);
    expect_status(&out, 0)?;
    let id = serde_json::from_str::<serde_json::Value>(&stdout(&out))?["task"]["id"].to_string();
    for mv in ["accept", "start", "complete"] {
        expect_status(&db.remit(&["task", mv, &id, "--as", "ria.trainee"]), 0)?;
    }
    ensure!(task_json(&db, &id)?["status"] == "awaiting-countersignature");
    let out = db.remit(&["task", "countersign", &id, "--as", "dr.reid"]);
    expect_status(&out, 1)?;
    ensure!(
        stderr(&out).contains("only the supervisor named on it may countersign"),
        "{}",
        stderr(&out)
    );
    expect_status(
        &db.remit(&[
            "task",
            "return",
            &id,
            "--as",
            "tom.rad",
            "--reason",
            "Repeat: rotated projection",
        ]),
        0,
    )?;
    let t = task_json(&db, &id)?;
    ensure!(
        t["status"] == "in-progress" && t["last_note"] == "Repeat: rotated projection",
        "{t}"
    );
    expect_status(&db.remit(&["task", "complete", &id, "--as", "ria.trainee"]), 0)?;
    expect_status(&db.remit(&["task", "countersign", &id, "--as", "tom.rad"]), 0)?;
    ensure!(task_json(&db, &id)?["status"] == "completed");
    // Indirect supervision does not wait.
    let out = db.remit(&[
        "task",
        "delegate",
        "--from",
        "tom.rad",
        "--to",
        "jo.ap",
        "--patient",
        "9990012334",
        "--activity",
        "imaging.expose",
        "--exam",
        "chest",
        "--supervision",
        "indirect",
        "--supervisor",
        "tom.rad",
        "--json",
    ]);
    let id = serde_json::from_str::<serde_json::Value>(&stdout(&out))?["task"]["id"].to_string();
    for mv in ["accept", "start", "complete"] {
        expect_status(&db.remit(&["task", mv, &id, "--as", "jo.ap"]), 0)?;
    }
    ensure!(task_json(&db, &id)?["status"] == "completed");
    Ok(())
}

async fn supervision_load_and_its_warning(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    for (to, patient) in [
        ("sam.hca", "9990001375"),
        ("sam.hca", "9990002746"),
        ("alex.ap", "9990004110"),
    ] {
        let out = db.remit(&[
            "--max-supervisees",
            "1",
            "task",
            "delegate",
            "--from",
            "priya.rn",
            "--to",
            to,
            "--patient",
            patient,
            "--activity",
            "vitals.record",
            "--supervision",
            "indirect",
            "--supervisor",
            "priya.rn",
            "--json",
        ]);
        expect_status(&out, 0)?;
        let id = serde_json::from_str::<serde_json::Value>(&stdout(&out))?["task"]["id"].to_string();
        expect_status(&db.remit(&["task", "accept", &id, "--as", to]), 0)?;
    }
    let out = db.remit(&["task", "load", "--json"]);
    let load: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    ensure!(
        load[0]["supervisor"] == "priya.rn" && load[0]["supervisees"] == serde_json::json!(["alex.ap", "sam.hca"]),
        "{load}"
    );
    ensure!(load[0]["tasks"].as_array().unwrap().len() == 3);
    let out = db.remit(&[
        "--max-supervisees",
        "2",
        "task",
        "delegate",
        "--from",
        "priya.rn",
        "--to",
        "maria.acp",
        "--patient",
        "9990005486",
        "--activity",
        "vitals.record",
        "--supervision",
        "indirect",
        "--supervisor",
        "priya.rn",
    ]);
    expect_status(&out, 0)?;
    ensure!(
        !stderr(&out).contains("warning"),
        "a requested task is not yet supervised work: {}",
        stderr(&out)
    );
    let id = stdout(&out)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_owned();
    expect_status(&db.remit(&["task", "accept", &id, "--as", "maria.acp"]), 0)?;
    let out = db.remit(&[
        "--max-supervisees",
        "2",
        "task",
        "delegate",
        "--from",
        "priya.rn",
        "--to",
        "alex.ap",
        "--patient",
        "9990006857",
        "--activity",
        "vitals.record",
        "--supervision",
        "indirect",
        "--supervisor",
        "priya.rn",
    ]);
    expect_status(&out, 0)?;
    ensure!(
        stderr(&out).contains(
            "warning: Priya Shah now supervises 3 people (alex.ap, maria.acp, sam.hca), more than the maximum of 2"
        ),
        "{}",
        stderr(&out)
    );
    Ok(())
}

async fn an_open_task_opens_the_patients_record(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let read = [
        "scope",
        "check",
        "--staff",
        "alex.ap",
        "--action",
        "record.read",
        "--patient",
        "9990009597",
    ];
    expect_status(&db.remit(&read), 1)?;
    let out = db.remit(&[
        "task",
        "delegate",
        "--from",
        "ben.rn",
        "--to",
        "alex.ap",
        "--patient",
        "9990009597",
        "--activity",
        "procedure.ecg",
        "--json",
    ]);
    expect_status(&out, 0)?;
    let id = serde_json::from_str::<serde_json::Value>(&stdout(&out))?["task"]["id"].to_string();
    expect_status(&db.remit(&read), 0)?;
    for mv in ["accept", "start", "complete"] {
        expect_status(&db.remit(&["task", mv, &id, "--as", "alex.ap"]), 0)?;
    }
    expect_status(&db.remit(&read), 1)?;
    Ok(())
}

async fn bad_task_input_is_named(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let base = [
        "task",
        "delegate",
        "--from",
        "priya.rn",
        "--to",
        "alex.ap",
        "--patient",
        "9990006857",
    ];
    for (extra, message) in [
        (
            &["--activity", "procedure.juggling"][..],
            "`procedure.juggling` is not an activity",
        ),
        (&["--activity", "task.delegate"], "not work that can be delegated"),
        (&["--activity", "staff.manage"], "not work that can be delegated"),
        (
            &["--activity", "vitals.record", "--supervision", "indirect"],
            "needs a named supervisor",
        ),
        (
            &["--activity", "vitals.record", "--supervisor", "priya.rn"],
            "only with indirect or direct supervision",
        ),
        (
            &["--activity", "vitals.record", "--due", "2000-01-01T00:00:00Z"],
            "due: `2000-01-01T00:00:00.000000Z` is not in the future",
        ),
        (
            &["--activity", "vitals.record", "--supervision", "lots"],
            "supervision: `lots`",
        ),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let out = db.remit(&args);
        expect_status(&out, 2).map_err(|e| e.context(format!("{extra:?}")))?;
        ensure!(stderr(&out).contains(message), "{extra:?}: {}", stderr(&out));
    }
    let out = db.remit(&["task", "accept", "999", "--as", "alex.ap"]);
    expect_status(&out, 2)?;
    ensure!(stderr(&out).contains("no task 999"));
    let out = db.remit(&["task", "list", "--status", "done"]);
    expect_status(&out, 2)?;
    ensure!(stderr(&out).contains("status: `done`"));
    Ok(())
}
