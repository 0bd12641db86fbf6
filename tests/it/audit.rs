//! The audit chain: intact logs verify; any edit, deletion, insertion, reordering or truncation is named; a signed
//! checkpoint catches a rewrite of the whole table.

use anyhow::{Result, ensure};
use remit_domain::audit::AuditDraft;
use remit_store::Store;
use sqlx::Executor;

use crate::helpers::{TestClock, TestDb, expect_status, stdout};

crate::tests!(
    an_intact_log_verifies,
    an_edited_entry_is_named,
    an_unreadable_decision_or_reasons_list_is_named,
    verification_reads_one_snapshot_while_entries_are_appended,
    a_deleted_entry_is_named,
    an_inserted_entry_is_named,
    reordered_entries_are_named,
    removing_the_newest_entries_is_detected,
    a_signed_checkpoint_detects_a_rewritten_table,
    a_checkpoint_with_a_bad_signature_is_refused,
    concurrent_commands_keep_one_chain,
    commands_that_share_a_commit_fail_alone,
    a_transaction_of_its_own_and_the_writer_never_deadlock,
);

/// A log of `n` entries, alternating permitted commands and refusals.
async fn log_of(db: &TestDb, n: i64) -> Result<Store> {
    let store = db.store(TestClock::new()).await?;
    append(&store, n, "staff:alex.ap").await?;
    Ok(store)
}

async fn append(store: &Store, n: i64, actor: &str) -> Result<()> {
    for i in 0..n {
        if i % 2 == 0 {
            store
                .begin()
                .await?
                .commit(AuditDraft::permit(actor, "patient.add", format!("patient:{i}")))
                .await?;
        } else {
            store
                .record(AuditDraft::deny(
                    actor,
                    "medicines.prescribe",
                    "patient:9990001375",
                    vec!["Prescribing needs a current GMC registration".into()],
                ))
                .await?;
        }
    }
    Ok(())
}

fn verify_names(db: &TestDb, entry: i64) -> Result<()> {
    let out = db.remit(&["audit", "verify"]);
    expect_status(&out, 1)?;
    let text = stdout(&out);
    ensure!(
        text.contains(&format!("broken at entry {entry}:")),
        "expected entry {entry} named, got: {text}"
    );
    Ok(())
}

async fn an_intact_log_verifies(db: TestDb) -> Result<()> {
    log_of(&db, 6).await?;
    let out = db.remit(&["audit", "verify"]);
    expect_status(&out, 0)?;
    ensure!(stdout(&out).contains("intact: 6 entries"), "{}", stdout(&out));
    Ok(())
}

async fn an_edited_entry_is_named(db: TestDb) -> Result<()> {
    log_of(&db, 6).await?;
    db.raw()
        .await?
        .execute("UPDATE audit_entry SET decision = 'permit' WHERE seq = 4")
        .await?;
    verify_names(&db, 4)
}

/// A decision that is neither `permit` nor `deny` (here a refusal's `deny` capitalised), or a reasons list that is
/// not JSON, cannot stand for the value that was sealed.
async fn an_unreadable_decision_or_reasons_list_is_named(db: TestDb) -> Result<()> {
    log_of(&db, 6).await?;
    let mut raw = db.raw().await?;
    raw.execute("UPDATE audit_entry SET decision = 'Deny' WHERE seq = 4")
        .await?;
    verify_names(&db, 4)?;
    raw.execute("UPDATE audit_entry SET decision = 'deny' WHERE seq = 4")
        .await?;
    expect_status(&db.remit(&["audit", "verify"]), 0)?;
    raw.execute("UPDATE audit_entry SET reasons = '[\"Prescribing needs a current GMC registration\"' WHERE seq = 2")
        .await?;
    verify_names(&db, 2)
}

/// Entries appended while the chain is verified are either all in what it reads or not at all, head included: the
/// verification never reports a break that is only a commit it half saw.
async fn verification_reads_one_snapshot_while_entries_are_appended(db: TestDb) -> Result<()> {
    let store = log_of(&db, 20).await?;
    let writing = {
        let store = store.clone();
        tokio::spawn(async move { append(&store, 400, "staff:writer").await })
    };
    let mut last = 0;
    while !writing.is_finished() {
        let v = store.verify_audit().await?;
        ensure!(v.outcome == remit_store::VerifyOutcome::Intact, "{:?}", v.outcome);
        ensure!(v.verified >= last, "{} entries after {last}", v.verified);
        last = v.verified;
    }
    writing.await??;
    let v = store.verify_audit().await?;
    ensure!(
        v.outcome == remit_store::VerifyOutcome::Intact && v.verified == 420,
        "{v:?}"
    );
    Ok(())
}

async fn a_deleted_entry_is_named(db: TestDb) -> Result<()> {
    log_of(&db, 6).await?;
    db.raw().await?.execute("DELETE FROM audit_entry WHERE seq = 3").await?;
    verify_names(&db, 3)
}

async fn an_inserted_entry_is_named(db: TestDb) -> Result<()> {
    log_of(&db, 6).await?;
    let mut raw = db.raw().await?;
    // Make room at 3 (in two steps, so no key collides on the way), then forge an entry there that links to 2.
    raw.execute("UPDATE audit_entry SET seq = -seq WHERE seq >= 3").await?;
    raw.execute("UPDATE audit_entry SET seq = 1 - seq WHERE seq < 0")
        .await?;
    raw.execute(
        "INSERT INTO audit_entry (seq, at, actor, action, target, decision, reasons, payload_digest, prev_hash, hash) \
         SELECT 3, at, actor, action, 'patient:forged', decision, reasons, payload_digest, hash, hash \
         FROM audit_entry WHERE seq = 2",
    )
    .await?;
    verify_names(&db, 3)
}

async fn reordered_entries_are_named(db: TestDb) -> Result<()> {
    log_of(&db, 6).await?;
    let mut raw = db.raw().await?;
    raw.execute("UPDATE audit_entry SET seq = 100 WHERE seq = 2").await?;
    raw.execute("UPDATE audit_entry SET seq = 2 WHERE seq = 5").await?;
    raw.execute("UPDATE audit_entry SET seq = 5 WHERE seq = 100").await?;
    verify_names(&db, 2)
}

async fn removing_the_newest_entries_is_detected(db: TestDb) -> Result<()> {
    log_of(&db, 6).await?;
    db.raw()
        .await?
        .execute("DELETE FROM audit_entry WHERE seq >= 5")
        .await?;
    verify_names(&db, 5)
}

async fn a_signed_checkpoint_detects_a_rewritten_table(db: TestDb) -> Result<()> {
    let store = log_of(&db, 6).await?;
    let dir = tempfile::tempdir()?;
    let prefix = dir.path().join("audit");
    expect_status(&db.remit(&["audit", "keygen", "--out", prefix.to_str().unwrap()]), 0)?;
    let key = dir.path().join("audit.key");
    let public = dir.path().join("audit.pub");
    let out = db.remit(&["audit", "checkpoint", "--key", key.to_str().unwrap()]);
    expect_status(&out, 0)?;
    let checkpoint = dir.path().join("head.json");
    std::fs::write(&checkpoint, stdout(&out))?;
    let with_checkpoint = [
        "audit",
        "verify",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
    ];

    // Later entries do not disturb an earlier checkpoint.
    append(&store, 3, "staff:priya.rn").await?;
    let out = db.remit(&with_checkpoint);
    expect_status(&out, 0)?;
    ensure!(stdout(&out).contains("checkpoint of 6 entries"), "{}", stdout(&out));

    // Someone with write access rewrites the whole log consistently: the chain alone cannot tell.
    let mut raw = db.raw().await?;
    raw.execute("DELETE FROM audit_entry").await?;
    raw.execute(
        "UPDATE audit_head SET seq = 0, hash = '0000000000000000000000000000000000000000000000000000000000000000'",
    )
    .await?;
    append(&store, 9, "staff:someone-else").await?;
    expect_status(&db.remit(&["audit", "verify"]), 0)?;
    let out = db.remit(&with_checkpoint);
    expect_status(&out, 1)?;
    ensure!(stdout(&out).contains("rewritten"), "{}", stdout(&out));

    // Cutting the rewritten log below the checkpoint is caught too.
    raw.execute("DELETE FROM audit_entry").await?;
    raw.execute(
        "UPDATE audit_head SET seq = 0, hash = '0000000000000000000000000000000000000000000000000000000000000000'",
    )
    .await?;
    append(&store, 2, "staff:someone-else").await?;
    let out = db.remit(&with_checkpoint);
    expect_status(&out, 1)?;
    ensure!(stdout(&out).contains("entries were removed"), "{}", stdout(&out));
    Ok(())
}

async fn a_checkpoint_with_a_bad_signature_is_refused(db: TestDb) -> Result<()> {
    log_of(&db, 2).await?;
    let dir = tempfile::tempdir()?;
    for name in ["one", "two"] {
        let prefix = dir.path().join(name);
        expect_status(&db.remit(&["audit", "keygen", "--out", prefix.to_str().unwrap()]), 0)?;
    }
    let out = db.remit(&[
        "audit",
        "checkpoint",
        "--key",
        dir.path().join("one.key").to_str().unwrap(),
    ]);
    expect_status(&out, 0)?;
    let checkpoint = dir.path().join("head.json");
    std::fs::write(&checkpoint, stdout(&out))?;
    // The other key's public half does not verify it.
    let out = db.remit(&[
        "audit",
        "verify",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--public-key",
        dir.path().join("two.pub").to_str().unwrap(),
    ]);
    expect_status(&out, 1)?;
    // A checkpoint whose count was edited no longer verifies with the right key either.
    let edited = stdout(&db.remit(&[
        "audit",
        "checkpoint",
        "--key",
        dir.path().join("one.key").to_str().unwrap(),
    ]))
    .replace("\"count\": 2", "\"count\": 1");
    std::fs::write(&checkpoint, edited)?;
    let out = db.remit(&[
        "audit",
        "verify",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--public-key",
        dir.path().join("one.pub").to_str().unwrap(),
    ]);
    expect_status(&out, 1)?;
    ensure!(
        crate::helpers::stderr(&out).contains("signature"),
        "{}",
        crate::helpers::stderr(&out)
    );
    Ok(())
}

async fn concurrent_commands_keep_one_chain(db: TestDb) -> Result<()> {
    let store = db.store(TestClock::new()).await?;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            append(&store, 10, &format!("staff:user{t}")).await
        }));
    }
    for t in tasks {
        t.await??;
    }
    let v = store.verify_audit().await?;
    ensure!(v.outcome == remit_store::VerifyOutcome::Intact, "{:?}", v.outcome);
    ensure!(v.verified == 80, "expected 80 entries, found {}", v.verified);
    Ok(())
}

/// Many commands at once share commits (group commit); each one that fails rolls back its own writes only, a conflict
/// is recorded as a refusal, and the chain holds every entry once. Some fail in the database itself (a duplicate key,
/// after a write of their own), which on PostgreSQL aborts the whole transaction until rolled back.
async fn commands_that_share_a_commit_fail_alone(db: TestDb) -> Result<()> {
    use remit_domain::place::{Place, PlaceCode, PlaceKind};
    use remit_store::StoreError;
    let store = db.store(TestClock::new()).await?;
    let before = store.verify_audit().await?.verified;
    let places_before = store.places().await?.len();
    let mut tasks = Vec::new();
    for i in 0..240 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let place = Place {
                code: PlaceCode::parse(&format!("gc{i}"))?,
                name: format!("Group commit {i}"),
                kind: PlaceKind::Ward,
            };
            let draft = AuditDraft::permit("test", "place.add", format!("place:gc{i}"));
            let outcome = store
                .command(draft, move |tx| {
                    Box::pin(async move {
                        tx.insert_place(&place).await?;
                        match i % 6 {
                            1 => Err(StoreError::Conflict(format!("conflict {i}"))),
                            2 => Err(StoreError::Invalid(format!("invalid {i}"))),
                            3 => tx.insert_place(&place).await.map(|()| i),
                            _ => Ok(i),
                        }
                    })
                })
                .await;
            anyhow::Ok((i, outcome))
        }));
    }
    let mut kept = 0;
    let mut refused = 0;
    for t in tasks {
        let (i, outcome) = t.await??;
        match (i % 6, outcome) {
            (1 | 3, Err(StoreError::Conflict(_))) => refused += 1,
            (2, Err(StoreError::Invalid(_))) => {}
            (_, Ok((n, entry))) => {
                ensure!(n == i && entry.action == "place.add", "{i}: {entry:?}");
                kept += 1;
            }
            (_, other) => anyhow::bail!("command {i}: {other:?}"),
        }
    }
    ensure!(kept == 120 && refused == 80, "{kept} kept, {refused} refused");
    let places = store.places().await?;
    ensure!(places.len() == places_before + 120, "{} places", places.len());
    for p in &places {
        if let Some(n) = p.code.as_str().strip_prefix("gc") {
            let n: u32 = n.parse()?;
            ensure!(!matches!(n % 6, 1..=3), "the work of failed command {n} was kept");
        }
    }
    let v = store.verify_audit().await?;
    ensure!(v.outcome == remit_store::VerifyOutcome::Intact, "{:?}", v.outcome);
    ensure!(
        v.verified == before + 200,
        "expected {} entries, found {}",
        before + 200,
        v.verified
    );
    let log = store.audit_log(200).await?;
    let denies = log
        .iter()
        .filter(|e| e.decision == remit_domain::audit::Decision::Deny)
        .count();
    ensure!(denies == 80, "{denies} refusals recorded");
    Ok(())
}

/// A transaction begun on its own (`Store::begin`: the command line, the escalation sweep) and the group-commit
/// writer's both take the audit chain's head and, through the version triggers, a version counter's row. Both take the
/// head first, so neither holds a counter while waiting for the head: here the writer holds the head while its command
/// works, and the other transaction writes a place (moving the record version on) and commits meanwhile. Taking the
/// head only at commit, it held the counter's row waiting for the head while the writer waited for that row, and
/// PostgreSQL ended the deadlock by failing it.
async fn a_transaction_of_its_own_and_the_writer_never_deadlock(db: TestDb) -> Result<()> {
    use remit_domain::place::{Place, PlaceCode, PlaceKind};
    use std::time::Duration;
    let store = db.store(TestClock::new()).await?;
    let place = |code: &str| -> Result<Place> {
        Ok(Place {
            code: PlaceCode::parse(code)?,
            name: format!("Place {code}"),
            kind: PlaceKind::Ward,
        })
    };
    let by_writer = place("writer")?;
    let writer = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .command(AuditDraft::permit("test", "place.add", "place:writer"), move |tx| {
                    Box::pin(async move {
                        // Still working when the other transaction writes and commits.
                        tokio::time::sleep(Duration::from_millis(400)).await;
                        tx.insert_place(&by_writer).await
                    })
                })
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut own = store.begin().await?;
    own.insert_place(&place("own")?).await?;
    own.commit(AuditDraft::permit("test", "place.add", "place:own")).await?;
    writer.await??;
    let codes: Vec<String> = store.places().await?.iter().map(|p| p.code.to_string()).collect();
    ensure!(
        codes.contains(&"own".to_owned()) && codes.contains(&"writer".to_owned()),
        "{codes:?}"
    );
    let v = store.verify_audit().await?;
    ensure!(v.outcome == remit_store::VerifyOutcome::Intact, "{:?}", v.outcome);
    Ok(())
}
