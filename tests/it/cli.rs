//! The `remit` command line: listings, bad input (exit 2, nothing written), and commands that fail half-way.

use anyhow::{Context, Result, ensure};
use remit_domain::audit::Decision;

use crate::helpers::{TestClock, TestDb, expect_status, stderr, stdout};
use crate::tables::CliCase;

crate::tests!(
    staff_are_linked_to_their_identity_at_the_provider,
    staff_are_added_shown_and_listed,
    bad_input_exits_2_and_writes_nothing,
    a_command_failing_half_way_leaves_only_its_refusal,
    duty_starts_and_ends,
    duty_comes_from_the_roster,
    patients_are_added_listed_and_shown,
    places_are_added_and_listed,
    tokens_are_created_once_and_revoked,
    the_audit_log_lists_newest_first,
    the_command_line_is_safe_for_terminals_pipes_and_file_permissions,
);

async fn seeded(db: &TestDb) -> Result<()> {
    expect_status(&db.remit(&["demo", "--seed-only"]), 0)
}

async fn audit_count(db: &TestDb) -> Result<i64> {
    Ok(db.store(TestClock::new()).await?.audit_head().await?.0)
}

async fn staff_are_added_shown_and_listed(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let out = db.remit_with_stdin(
        &[
            "staff",
            "add",
            "kim.ap",
            "--name",
            "Kim Lee",
            "--job-title",
            "Assistant practitioner",
            "--level",
            "4",
            "--body",
            "UNISON",
            "--registration",
            "HCPC:RA654321:2030-01-31",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    expect_status(&out, 0)?;
    let out = db.remit(&["staff", "show", "kim.ap", "--json"]);
    expect_status(&out, 0)?;
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    ensure!(
        v["name"] == "Kim Lee" && v["level"] == 4 && v["status"] == "active",
        "{v}"
    );
    ensure!(v["registrations"][0]["regulator"] == "HCPC" && v["registrations"][0]["expires_on"] == "2030-01-31");
    ensure!(!stdout(&out).contains("argon2"), "no password hash in output");
    let out = db.remit(&["staff", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    ensure!(list.as_array().map(Vec::len) == Some(14));
    // The list says of everyone what their own record says: roles, memberships and where they are on duty now.
    let mut usernames = Vec::new();
    for entry in list.as_array().into_iter().flatten() {
        let username = entry["username"].as_str().unwrap_or_default();
        let shown: serde_json::Value =
            serde_json::from_str(&stdout(&db.remit(&["staff", "show", username, "--json"])))?;
        for field in ["name", "level", "status", "roles", "professional_bodies", "on_duty"] {
            ensure!(
                entry[field] == shown[field],
                "{username}'s {field}: {} listed, {} shown",
                entry[field],
                shown[field]
            );
        }
        usernames.push(username.to_owned());
    }
    ensure!(
        usernames.windows(2).all(|w| w[0] < w[1]),
        "listed by username: {usernames:?}"
    );
    let kim = list
        .as_array()
        .and_then(|l| l.iter().find(|e| e["username"] == "kim.ap"));
    ensure!(
        kim.is_some_and(|k| k["professional_bodies"] == serde_json::json!(["UNISON"])),
        "{kim:?}"
    );
    let some = |field: &str| {
        list.as_array()
            .is_some_and(|l| l.iter().any(|e| e[field].as_array().is_some_and(|v| !v.is_empty())))
    };
    ensure!(
        some("on_duty") && some("roles"),
        "someone on duty and someone with a role: {list}"
    );
    let out = db.remit(&["staff", "show", "kim.ap"]);
    ensure!(
        stdout(&out).contains("HCPC RA654321 expires 31 January 2030"),
        "{}",
        stdout(&out)
    );
    Ok(())
}

async fn bad_input_exits_2_and_writes_nothing(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let before = audit_count(&db).await?;
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "staff",
                "add",
                "x.y",
                "--name",
                "X",
                "--job-title",
                "T",
                "--level",
                "10",
            ],
            "level: `10` is not a Career Framework level",
        ),
        (
            &[
                "staff",
                "add",
                "x.y",
                "--name",
                "X",
                "--job-title",
                "T",
                "--registration",
                "GDC:1234567:2030-01-01",
            ],
            "regulator: `GDC`",
        ),
        (
            &[
                "staff",
                "add",
                "x.y",
                "--name",
                "X",
                "--job-title",
                "T",
                "--registration",
                "NMC:1234:2030-01-01",
            ],
            "not a NMC number",
        ),
        (
            &["staff", "add", "X Y", "--name", "X", "--job-title", "T"],
            "username: `X Y`",
        ),
        (
            &[
                "staff",
                "add",
                "x.y",
                "--name",
                "X",
                "--job-title",
                "T",
                "--role",
                "superuser",
            ],
            "role: `superuser`",
        ),
        (
            &[
                "patient",
                "add",
                "--nhs-number",
                "9990001376",
                "--given-name",
                "A",
                "--family-name",
                "B",
                "--date-of-birth",
                "1950-01-01",
                "--sex",
                "female",
                "--place",
                "ward-7",
            ],
            "bad check digit",
        ),
        (
            &[
                "patient",
                "add",
                "--nhs-number",
                "9990014434",
                "--given-name",
                "A",
                "--family-name",
                "B",
                "--date-of-birth",
                "1950-01-01",
                "--sex",
                "female",
                "--place",
                "ward-99",
            ],
            "no place `ward-99`",
        ),
        (
            &[
                "patient",
                "add",
                "--nhs-number",
                "9990014434",
                "--given-name",
                "A",
                "--family-name",
                "B",
                "--date-of-birth",
                "2099-01-01",
                "--sex",
                "female",
                "--place",
                "ward-7",
            ],
            "in the future",
        ),
        (
            &[
                "patient",
                "add",
                "--nhs-number",
                "9990014434",
                "--given-name",
                "A",
                "--family-name",
                "B",
                "--date-of-birth",
                "1950-01-01",
                "--sex",
                "f",
                "--place",
                "ward-7",
            ],
            "sex: `f`",
        ),
        (
            &["staff", "set-duty", "nobody", "--place", "ward-7"],
            "no staff member `nobody`",
        ),
        (
            &["staff", "set-duty", "alex.ap", "--place", "ward-99"],
            "no place `ward-99`",
        ),
        (
            &[
                "staff", "set-duty", "alex.ap", "--place", "ward-7", "--until", "tomorrow",
            ],
            "until: `tomorrow`",
        ),
        (
            &[
                "staff",
                "set-duty",
                "alex.ap",
                "--place",
                "ward-7",
                "--until",
                "2000-01-01T00:00:00Z",
            ],
            "not in the future",
        ),
        (
            &["staff", "grant-entitlement", "jo.ap", "irmer-wizard"],
            "entitlement: `irmer-wizard`",
        ),
        (&["staff", "show", "nobody"], "no staff member `nobody`"),
        (&["patient", "show", "9990014434"], "no patient with NHS number"),
        (&["patient", "list", "--place", "ward-99"], "no place `ward-99`"),
        (&["token", "create", "--staff", "nobody"], "no staff member `nobody`"),
        (&["audit", "log", "--limit", "0"], "limit"),
        (&["staff", "frobnicate"], "unrecognized subcommand"),
    ];
    for (args, message) in cases {
        let out = db.remit(args);
        expect_status(&out, 2).map_err(|e| e.context(format!("{args:?}")))?;
        ensure!(
            stderr(&out).contains(message),
            "{args:?}: expected `{message}` in: {}",
            stderr(&out)
        );
    }
    let out = db.remit_with_stdin(&["staff", "set-password", "alex.ap"], "short\n");
    expect_status(&out, 2)?;
    ensure!(stderr(&out).contains("at least 10 characters"));
    ensure!(audit_count(&db).await? == before, "nothing was written");
    let store = db.store(TestClock::new()).await?;
    ensure!(store.list_staff().await?.len() == 13 && store.list_patients(None).await?.len() == 9);
    Ok(())
}

async fn a_command_failing_half_way_leaves_only_its_refusal(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let before = audit_count(&db).await?;
    // The staff row is inserted first; the second registration then collides with Priya Shah's NMC PIN.
    let out = db.remit(&[
        "staff",
        "add",
        "new.rn",
        "--name",
        "New Nurse",
        "--job-title",
        "Registered nurse",
        "--level",
        "5",
        "--registration",
        "HCPC:RA999999:2030-01-01",
        "--registration",
        "NMC:19A1234B:2030-01-01",
    ]);
    expect_status(&out, 2)?;
    ensure!(
        stderr(&out).contains("NMC registration `19A1234B` is already recorded"),
        "{}",
        stderr(&out)
    );
    let store = db.store(TestClock::new()).await?;
    ensure!(
        store
            .staff_id(&remit_domain::staff::Username::parse("new.rn")?)
            .await
            .is_err(),
        "no staff row"
    );
    let mut raw = db.raw().await?;
    let regs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM registration WHERE number = 'RA999999'")
        .fetch_one(&mut raw)
        .await?;
    ensure!(regs == 0, "no registration row");
    ensure!(audit_count(&db).await? == before + 1, "one entry: the refusal");
    let last = store.audit_log(1).await?.remove(0);
    ensure!(last.decision == Decision::Deny && last.action == "staff.add" && last.target == "staff:new.rn");
    ensure!(last.reasons[0].contains("already recorded"), "{:?}", last.reasons);
    // A refused change to existing data is recorded the same way.
    let out = db.remit(&["staff", "grant-entitlement", "jo.ap", "irmer-operator"]);
    expect_status(&out, 2)?;
    ensure!(stderr(&out).contains("already granted"), "{}", stderr(&out));
    let last = store.audit_log(1).await?.remove(0);
    ensure!(last.decision == Decision::Deny && last.action == "staff.grant-entitlement");
    ensure!(store.verify_audit().await?.outcome == remit_store::VerifyOutcome::Intact);
    Ok(())
}

async fn duty_starts_and_ends(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    expect_status(
        &db.remit(&["staff", "set-duty", "lee.edu", "--place", "ward-7", "--place", "ward-9"]),
        0,
    )?;
    let show = |db: &TestDb| -> Result<serde_json::Value> {
        Ok(serde_json::from_str(&stdout(
            &db.remit(&["staff", "show", "lee.edu", "--json"]),
        ))?)
    };
    ensure!(
        show(&db)?["on_duty"] == serde_json::json!(["ward-7", "ward-9"]),
        "{}",
        show(&db)?
    );
    expect_status(
        &db.remit(&[
            "staff",
            "set-duty",
            "lee.edu",
            "--place",
            "xray",
            "--until",
            "2099-01-01T00:00:00Z",
        ]),
        0,
    )?;
    ensure!(show(&db)?["on_duty"] == serde_json::json!(["xray"]));
    expect_status(&db.remit(&["staff", "set-duty", "lee.edu", "--off"]), 0)?;
    ensure!(show(&db)?["on_duty"] == serde_json::json!([]));
    Ok(())
}

/// A roster export is read whole: any bad line names itself and nothing is written; a good one puts people on duty
/// where it says, and decisions follow; importing it again adds nothing.
async fn duty_comes_from_the_roster(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let dir = tempfile::tempdir()?;
    let now = chrono::Utc::now();
    let at = |hours: i64| remit_domain::time::format_instant(now + chrono::Duration::hours(hours));
    let good = dir.path().join("roster.csv");
    std::fs::write(
        &good,
        format!(
            "staff,place,start,end\n\
             # Ben covers Ward 7 today, and works there tomorrow night\n\
             ben.rn,ward-7,{},{}\n\
             ben.rn,ward-7,{},{}\n\
             ben.rn,ward-7,{},{}\n",
            at(-1),
            at(7),
            at(30),
            at(42),
            at(30),
            at(42),
        ),
    )?;
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "staff,place,start,end\n\
         ben.rn,ward-7,2026-12-07 07:30,2026-12-07 20:00\n\
         nobody.here,ward-7,2026-12-07 07:30,2026-12-07 20:00\n\
         ben.rn,ward-77,2026-12-08 07:30,2026-12-08 20:00\n",
    )?;
    let unreadable = dir.path().join("broken.csv");
    std::fs::write(&unreadable, "staff,place,start,end\nben.rn,ward-7,soon,later\n")?;
    let (good, bad, unreadable) = (
        good.to_str().context("path")?,
        bad.to_str().context("path")?,
        unreadable.to_str().context("path")?,
    );
    let margaret = [
        "scope",
        "check",
        "--staff",
        "ben.rn",
        "--action",
        "record.read",
        "--patient",
        "9990001375",
    ];
    db.cli_cases(&[
        CliCase::of("Ben is on Ward 9, not Ward 7", &margaret, 1),
        CliCase::of("a line that is not a time", &["duty", "import", unreadable], 2)
            .err(&["line 2: start: `soon` is not a time", "nothing written"]),
        CliCase::of("names remit does not know", &["duty", "import", bad], 2)
            .err(&["line 3: no staff member `nobody.here`", "line 4: no place `ward-77`"]),
        CliCase::of("still not on Ward 7", &margaret, 1),
        CliCase::of("the roster", &["duty", "import", good], 0).out(&["2 shifts: 2 added, 0 recorded already"]),
        CliCase::of("on duty on Ward 7 now", &margaret, 0),
        CliCase::of("again: nothing twice", &["duty", "import", good, "--json"], 0)
            .out(&["\"added\": 0", "\"already\": 2"]),
        CliCase::of(
            "a file that is not there",
            &["duty", "import", "/nonexistent/roster.csv"],
            2,
        )
        .err(&["could not read the roster"]),
    ])?;
    let log = db.remit(&["audit", "log", "--json"]);
    let log: serde_json::Value = serde_json::from_str(&stdout(&log))?;
    let imports: Vec<&serde_json::Value> = log
        .as_array()
        .context("log")?
        .iter()
        .filter(|e| e["action"] == "duty.import")
        .collect();
    ensure!(imports.len() == 2, "each import that ran is audited once: {imports:?}");
    Ok(())
}

async fn patients_are_added_listed_and_shown(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let out = db.remit(&[
        "patient",
        "add",
        "--nhs-number",
        "999 001 4434",
        "--given-name",
        "Ann",
        "--family-name",
        "Jones",
        "--date-of-birth",
        "1960-02-29",
        "--sex",
        "female",
        "--place",
        "ward-9",
        "--bed",
        "3",
    ]);
    expect_status(&out, 0)?;
    let out = db.remit(&["patient", "list", "--place", "ward-9", "--json"]);
    expect_status(&out, 0)?;
    let list: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    let numbers: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["nhs_number"].as_str().unwrap())
        .collect();
    ensure!(numbers == ["9990008221", "9990009597", "9990014434"], "{numbers:?}");
    let out = db.remit(&["patient", "show", "9990014434"]);
    ensure!(
        stdout(&out).contains("Ann Jones — NHS number 9990014434"),
        "{}",
        stdout(&out)
    );
    let again = db.remit(&[
        "patient",
        "add",
        "--nhs-number",
        "9990014434",
        "--given-name",
        "Ann",
        "--family-name",
        "Jones",
        "--date-of-birth",
        "1960-02-29",
        "--sex",
        "female",
        "--place",
        "ward-9",
    ]);
    expect_status(&again, 2)?;
    ensure!(stderr(&again).contains("already exists"));
    Ok(())
}

async fn tokens_are_created_once_and_revoked(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    let out = db.remit(&["token", "create", "--staff", "alex.ap", "--label", "ward tablet"]);
    expect_status(&out, 0)?;
    let token = stdout(&out).trim().to_owned();
    ensure!(token.starts_with("remit_") && token.len() > 40);
    let mut raw = db.raw().await?;
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM api_token")
        .fetch_one(&mut raw)
        .await?;
    ensure!(!stored.contains(&token[6..]), "the token itself is not stored");
    let store = db.store(TestClock::new()).await?;
    ensure!(store.token_holder(&token).await?.is_some());
    expect_status(
        &db.remit(&["token", "revoke", "--staff", "alex.ap", "--label", "ward tablet"]),
        0,
    )?;
    ensure!(store.token_holder(&token).await?.is_none());
    expect_status(
        &db.remit(&["token", "revoke", "--staff", "alex.ap", "--label", "ward tablet"]),
        2,
    )?;
    Ok(())
}

async fn the_audit_log_lists_newest_first(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    expect_status(
        &db.remit(&["staff", "suspend", "sam.hca", "--reason", "under investigation"]),
        0,
    )?;
    let out = db.remit(&["audit", "log", "--json", "--limit", "5"]);
    expect_status(&out, 0)?;
    let log: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    ensure!(
        log[0]["action"] == "staff.suspend"
            && log[0]["target"] == "staff:sam.hca"
            && log[0]["seq"].as_i64() == log[1]["seq"].as_i64().map(|s| s + 1),
        "{log}"
    );
    ensure!(
        log[1]["action"] == "imaging.refer",
        "the demo's last entry is its last referral: {log}"
    );
    ensure!(
        !stdout(&out).contains("under investigation"),
        "the payload is kept as a digest only"
    );
    Ok(())
}

async fn places_are_added_and_listed(db: TestDb) -> Result<()> {
    let out = db.remit(&[
        "place",
        "add",
        "ward-12",
        "--name",
        "Ward 12 — Surgical",
        "--kind",
        "ward",
    ]);
    expect_status(&out, 0)?;
    let out = db.remit(&["place", "add", "ward-12", "--name", "Again", "--kind", "ward"]);
    expect_status(&out, 2)?;
    ensure!(
        stderr(&out).contains("place `ward-12` already exists"),
        "{}",
        stderr(&out)
    );
    let out = db.remit(&["place", "add", "theatre", "--name", "Theatres", "--kind", "theatre"]);
    expect_status(&out, 2)?;
    ensure!(
        stderr(&out).contains("kind: `theatre` is not one of ward, department"),
        "{}",
        stderr(&out)
    );
    let out = db.remit(&["place", "list", "--json"]);
    let places: serde_json::Value = serde_json::from_str(&stdout(&out))?;
    ensure!(
        places == serde_json::json!([{"code": "ward-12", "name": "Ward 12 — Surgical", "kind": "ward"}]),
        "{places}"
    );
    Ok(())
}

/// The SQLite file is its owner's only; text users typed reaches the administrator's terminal escaped; a closed
/// pipe ends the command quietly.
async fn the_command_line_is_safe_for_terminals_pipes_and_file_permissions(db: TestDb) -> Result<()> {
    expect_status(&db.remit(&["demo", "--seed-only"]), 0)?;
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        use std::os::unix::fs::PermissionsExt;
        let path = path.split('?').next().unwrap_or(path);
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        ensure!(mode == 0o600, "the database file is {mode:o}");
    }
    // A failed sign-in with an escape sequence for a username, then the audit log as text.
    let store = db.store(crate::helpers::TestClock::new()).await?;
    store
        .record(remit_domain::audit::AuditDraft::deny(
            "anonymous",
            "session.sign-in",
            "staff:\u{1b}]0;owned\u{7}\u{1b}[2J",
            vec!["unknown username or wrong password".into()],
        ))
        .await?;
    let out = db.remit(&["audit", "log", "--limit", "5"]);
    expect_status(&out, 0)?;
    let text = stdout(&out);
    ensure!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "raw control characters reached the terminal"
    );
    ensure!(text.contains("\\u{1b}]0;owned"), "{text}");
    // `remit audit log | head -1`: no panic when the reader goes away (more output than a pipe holds, so a write
    // fails).
    for i in 0..40 {
        store
            .record(remit_domain::audit::AuditDraft::deny(
                "test",
                "padding",
                format!("entry:{i}"),
                vec!["x".repeat(3000)],
            ))
            .await?;
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} --database-url '{}' audit log --limit 1000 | head -c 10",
            env!("CARGO_BIN_EXE_remit"),
            db.url
        ))
        .output()?;
    ensure!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// An administrator links each person to their identity at the trust's OpenID Connect provider: once each, an
/// identity to one person, nothing written for bad input.
async fn staff_are_linked_to_their_identity_at_the_provider(db: TestDb) -> Result<()> {
    seeded(&db).await?;
    db.cli_cases(&[
        CliCase::of("Ben", &["staff", "link-identity", "ben.rn", "5551-2345"], 0)
            .out(&["ben.rn: linked to the identity `5551-2345`"]),
        CliCase::of(
            "the same identity for Priya",
            &["staff", "link-identity", "priya.rn", "5551-2345"],
            2,
        )
        .err(&["the identity `5551-2345` is linked to another staff member"]),
        CliCase::of(
            "someone remit does not know",
            &["staff", "link-identity", "nobody.here", "x"],
            2,
        )
        .err(&["no staff member `nobody.here`"]),
        CliCase::of(
            "an identity with a space",
            &["staff", "link-identity", "priya.rn", "a b"],
            2,
        )
        .err(&["subject: an identity is 1 to 255 printable characters"]),
        CliCase::of(
            "neither identity nor --unlink",
            &["staff", "link-identity", "priya.rn"],
            2,
        ),
        CliCase::of("Ben unlinked", &["staff", "link-identity", "ben.rn", "--unlink"], 0)
            .out(&["ben.rn: no identity linked"]),
        CliCase::of(
            "now Priya may have it",
            &["staff", "link-identity", "priya.rn", "5551-2345"],
            0,
        ),
    ])?;
    let store = db.store(crate::helpers::TestClock::new()).await?;
    let linked = store.staff_by_oidc_subject("5551-2345").await?.context("linked")?;
    ensure!(linked.1.as_str() == "priya.rn", "{linked:?}");
    Ok(())
}
