//! Group commit. Commands do not each take the write lock and sync the log: they queue for one writer task, which
//! runs every command waiting while the previous commit was syncing in one transaction and commits once. A command
//! is answered only after the commit that holds it; one that fails leaves the others untouched.
//!
//! A batch is first run without a savepoint per command (on PostgreSQL each is a round trip of the writer's, one of
//! about three a recorded set). If a command fails, that transaction is rolled back and the batch run again with a
//! savepoint for each command, so that the failed one rolls back to its own and the refusal is recorded (commands
//! are closures that can be cloned, for that second run). Failures are rare (a conflict with what is recorded, a
//! database error), so the second run is too.
//!
//! On SQLite this removes the wait for the write lock (the busy handler sleeps) and all but one sync per batch; on
//! PostgreSQL it holds the audit chain's head row once per batch instead of once per command.
//!
//! On PostgreSQL, consecutive commands that each begin by storing a set for a different patient (recording a set of
//! observations: [`Writer::command_with_set`]) have their sets stored together, in one statement, before the first of
//! them runs; each then runs as it would have with its own set stored. Under load the writer's round trips, not the
//! database's work, were what bounded the sets a second (BENCHMARKS.md, round 22): one a set, each waiting for a
//! processor on both sides. The sets differ in patient because a set reads its patient's open escalation, which the
//! set before it for the same patient could have raised. The second run, with savepoints, stores each set on its own.
//!
//! The writer is a thread of its own. On SQLite its statements run on it directly, and the sync of each commit waits
//! there, not on a request's thread. On PostgreSQL it runs its own single-threaded runtime with a connection of its
//! own: each of its statements is a round trip, and as a task among the requests' it waited, at every answer, for
//! the runtime's threads to finish whatever request they were busy with (under load, most of a batch's time).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use remit_domain::audit::{AuditDraft, AuditEntry};
use tokio::sync::{mpsc, oneshot};

use remit_domain::time::Clock;

use crate::changes::Changes;
use crate::db::{Db, PgPool};
use crate::obs::StoredSet;
use crate::{Result, StoreError, Versions, Waits, WriteTx};
use remit_domain::obs::NewSet;

/// The most commands one commit holds: bounds how long the write lock is kept and the latency of the last one.
const MAX_BATCH: usize = 64;

/// A queued command, its type erased.
trait Job: Send {
    /// Runs the command in the batch's transaction, with `guarded` under a savepoint of its own; its work is cloned,
    /// so that it can be run again. Says whether it failed having run statements (the transaction, unguarded, is then
    /// to be rolled back), which includes failing to read the versions it was decided under; a command not run at all
    /// (its versions moved on) has not.
    fn run<'a>(&'a mut self, tx: &'a mut WriteTx, guarded: bool) -> BoxFuture<'a, bool>;
    /// Answers the caller once the commit is known: with the outcome of the command's last run if it committed.
    fn answer(self: Box<Self>, committed: std::result::Result<(), String>);
    /// The set the command stores first, if it begins by storing one ([`Writer::command_with_set`]).
    fn set(&self) -> Option<&Arc<NewSet>>;
    /// The versions the command was decided under.
    fn under(&self) -> Option<Versions>;
}

/// The queue to the writer task.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer thread (on PostgreSQL, connecting to `url` for itself), making up commits as `batching`
    /// says. It ends when the last `Writer` is dropped.
    pub(crate) fn start(db: Db, url: &str, clock: Arc<dyn Clock>, batching: Batching, changes: Arc<Changes>) -> Self {
        let (queue, jobs) = mpsc::unbounded_channel();
        let spawned = match db {
            Db::Lite(_) => {
                let runtime = tokio::runtime::Handle::current();
                std::thread::Builder::new().name("remit-writer".into()).spawn(move || {
                    let _entered = runtime.enter();
                    futures_executor::block_on(run(db, Waits::Here, clock, batching, changes, jobs));
                })
            }
            Db::Pg(_) => {
                let url = url.to_owned();
                std::thread::Builder::new().name("remit-writer".into()).spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                        Ok(runtime) => runtime,
                        Err(e) => return tracing::error!(error = %e, "could not start the database writer's runtime"),
                    };
                    runtime.block_on(async move {
                        // Connected on first use, and again after a lost connection: a command meanwhile is answered
                        // with the error.
                        let pool = match PgPool::lazy(&url, crate::db::PgLimits::of(1)) {
                            Ok(pool) => pool,
                            Err(e) => return tracing::error!(error = %e, "the database writer cannot connect"),
                        };
                        run(Db::Pg(pool.clone()), Waits::Blocking, clock, batching, changes, jobs).await;
                        pool.close().await;
                    });
                })
            }
        };
        if let Err(e) = spawned {
            // The queue's receiver went with the thread: every command is answered that the writer stopped.
            tracing::error!(error = %e, "could not start the database writer thread");
        }
        Self { queue }
    }

    /// Runs `work` and appends `draft` to the audit log in one commit shared with whatever else is queued. A
    /// conflict rolls the work back and records the refusal instead, with its reason. `under`: the versions the
    /// command was decided under, which its transaction must find unchanged for it to run (else
    /// [`StoreError::Unconfirmed`], nothing written).
    pub(crate) async fn command<T, F>(
        &self,
        under: Option<Versions>,
        draft: AuditDraft,
        work: F,
    ) -> Result<(T, AuditEntry)>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut WriteTx) -> BoxFuture<'a, Result<T>> + Clone + Send + 'static,
    {
        self.queue(under, None, draft, work).await
    }

    /// As [`Writer::command`], for a command that begins by storing the first version of a set: `work` is given the
    /// set as stored, by the writer, alone or together with the sets of the commands beside it.
    pub(crate) async fn command_with_set<T, F>(
        &self,
        under: Option<Versions>,
        set: NewSet,
        draft: AuditDraft,
        work: F,
    ) -> Result<(T, AuditEntry)>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut WriteTx, StoredSet) -> BoxFuture<'a, Result<T>> + Clone + Send + 'static,
    {
        let set = Arc::new(set);
        let ours = set.clone();
        let work = command_work(move |tx| {
            Box::pin(async move {
                let stored = match tx.stored_ahead(&ours) {
                    Some(stored) => stored,
                    None => tx.insert_set(&ours, None).await?,
                };
                work(tx, stored).await
            })
        });
        self.queue(under, Some(set), draft, work).await
    }

    async fn queue<T, F>(
        &self,
        under: Option<Versions>,
        set: Option<Arc<NewSet>>,
        draft: AuditDraft,
        work: F,
    ) -> Result<(T, AuditEntry)>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut WriteTx) -> BoxFuture<'a, Result<T>> + Clone + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(Command {
                under,
                set,
                draft,
                work,
                reply,
                outcome: None,
            }))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// A command's work, as a closure over any transaction's lifetime (which a closure's own signature cannot say).
fn command_work<T, F>(work: F) -> F
where
    F: for<'a> FnOnce(&'a mut WriteTx) -> BoxFuture<'a, Result<T>>,
{
    work
}

fn stopped() -> StoreError {
    StoreError::Commit("the database writer has stopped".into())
}

struct Command<T, F> {
    under: Option<Versions>,
    set: Option<Arc<NewSet>>,
    draft: AuditDraft,
    work: F,
    reply: oneshot::Sender<Result<(T, AuditEntry)>>,
    /// The outcome of the last run.
    outcome: Option<Result<(T, AuditEntry)>>,
}

impl<T, F> Job for Command<T, F>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a mut WriteTx) -> BoxFuture<'a, Result<T>> + Clone + Send + 'static,
{
    fn run<'a>(&'a mut self, tx: &'a mut WriteTx, guarded: bool) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            if let Some(under) = self.under {
                match tx.versions_now().await {
                    // Decided on what has changed since: not run, and the transaction is as it was.
                    Ok(now) if now != under => {
                        self.outcome = Some(Err(StoreError::Unconfirmed));
                        return false;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.outcome = Some(Err(e));
                        return true;
                    }
                }
            }
            let outcome = one(tx, self.draft.clone(), self.work.clone(), guarded).await;
            if self.set.is_none() {
                // A command recording a set changes no profile or record (its work is the set's escalation:
                // `Store::command_with_set`); any other may have.
                tx.versions_may_have_moved();
            }
            let failed = outcome.is_err();
            self.outcome = Some(outcome);
            failed
        })
    }

    fn answer(self: Box<Self>, committed: std::result::Result<(), String>) {
        let outcome = match (committed, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Ok(()), None) => Err(StoreError::Commit("the command was not run".into())),
            (Err(e), _) => Err(StoreError::Commit(e)),
        };
        // The caller may have gone away; the commit stands either way.
        let _ = self.reply.send(outcome);
    }

    fn set(&self) -> Option<&Arc<NewSet>> {
        self.set.as_ref()
    }

    fn under(&self) -> Option<Versions> {
        self.under
    }
}

/// One command. `guarded`: under its own savepoint, which a failed command rolls back to before its refusal is
/// recorded; a command that succeeds leaves its savepoint in place (releasing it would be one more statement; the
/// commit ends them all). Unguarded, a failure leaves the transaction to be rolled back.
async fn one<T, F>(tx: &mut WriteTx, draft: AuditDraft, work: F, guarded: bool) -> Result<(T, AuditEntry)>
where
    F: for<'a> FnOnce(&'a mut WriteTx) -> BoxFuture<'a, Result<T>>,
{
    if guarded {
        tx.statement("SAVEPOINT command").await?;
    }
    let announced = tx.announced_len();
    let done = match work(tx).await {
        Ok(value) => tx.append(draft.clone()).await.map(|entry| (value, entry)),
        Err(e) => Err(e),
    };
    match done {
        Ok(done) => Ok(done),
        Err(e) if !guarded => Err(e),
        Err(e) => {
            // The most recent savepoint of that name is this command's own.
            tx.statement("ROLLBACK TO SAVEPOINT command").await?;
            tx.unannounce_after(announced);
            if let StoreError::Conflict(reason) = &e {
                tx.append(draft.refused(vec![reason.clone()])).await?;
            }
            Err(e)
        }
    }
}

/// How the writer makes up a commit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    /// Whether a commit waits for more commands to join it (without, each holds what was waiting when it began).
    pub(crate) gather: Option<Gather>,
    /// Whether consecutive commands' sets are stored in one statement (see the module's text).
    pub(crate) sets_together: bool,
}

impl Batching {
    /// On SQLite a statement is a call on the writer's own thread, not a round trip: nothing is gained by storing
    /// sets together, and each command's commit is not held (see [`Gather::POSTGRES`]).
    pub(crate) const SQLITE: Batching = Batching {
        gather: None,
        sets_together: false,
    };
    pub(crate) const POSTGRES: Batching = Batching {
        gather: Some(Gather::POSTGRES),
        sets_together: true,
    };
}

/// The most sets stored in one statement.
const MAX_TOGETHER: usize = 32;

/// How long a commit may wait for more commands to join it, and for how many.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gather {
    /// The longest wait, from when the first command of the commit was taken.
    pub(crate) within: Duration,
    /// Enough commands to commit at once.
    pub(crate) enough: usize,
}

impl Gather {
    /// On PostgreSQL, once a commit held more than one command (requests are arriving together), the next waits up
    /// to 3 ms for up to 16. A commit there costs the database a sync and statements of its own (the audit chain's
    /// head, its entries) and the writer a round trip for each; requests waiting meanwhile use no processor, which
    /// is left to the reads (BENCHMARKS.md, round 10). On SQLite a commit is the file's sync on this thread, and
    /// waiting only cost sets a second.
    pub(crate) const POSTGRES: Gather = Gather {
        within: Duration::from_millis(3),
        enough: 16,
    };
}

async fn run(
    db: Db,
    waits: Waits,
    clock: Arc<dyn Clock>,
    batching: Batching,
    changes: Arc<Changes>,
    mut jobs: mpsc::UnboundedReceiver<Box<dyn Job>>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    let mut together = false;
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // A command arriving alone after one that was alone is committed at once: waiting would only delay it.
        if let Some(gather) = batching.gather.filter(|_| together) {
            let deadline = tokio::time::Instant::now() + gather.within;
            while batch.len() < gather.enough.min(MAX_BATCH) {
                let room = MAX_BATCH - batch.len();
                match tokio::time::timeout_at(deadline, jobs.recv_many(&mut batch, room)).await {
                    Ok(n) if n > 0 => {}
                    // The time is up, or the queue closed (what is taken is still committed and answered).
                    _ => break,
                }
            }
        }
        together = batch.len() > 1;
        let committed = commit_batch(&db, waits, clock.as_ref(), &changes, batching.sets_together, &mut batch).await;
        if let Err(e) = &committed {
            tracing::error!(error = %e, commands = batch.len(), "a group commit failed");
        }
        for job in batch.drain(..) {
            job.answer(committed.clone());
        }
    }
}

/// Runs the batch in one transaction and commits it; says whether it committed. The first run is unguarded: the
/// first command that fails rolls it back, and the batch is run again, guarded. With `sets_together`, the first run
/// stores the sets of consecutive commands together ([`store_ahead`]); the second stores each with its command.
async fn commit_batch(
    db: &Db,
    waits: Waits,
    clock: &dyn Clock,
    changes: &Arc<Changes>,
    sets_together: bool,
    batch: &mut Vec<Box<dyn Job>>,
) -> std::result::Result<(), String> {
    let mut guarded = false;
    'run: loop {
        let mut tx = WriteTx::begin(db, clock, waits, changes)
            .await
            .map_err(|e| format!("could not begin a write transaction: {e}"))?;
        let mut i = 0;
        while i < batch.len() {
            tx.now = clock.now();
            if sets_together
                && !guarded
                && let Err(e) = store_ahead(&mut tx, &batch[i..]).await
            {
                // The batch is run again, each set stored by its command, where a failure is its own. Said, since a
                // failure that lasted would run every batch twice.
                tracing::warn!(error = %e, "sets could not be stored together; the batch is run again");
                rollback(tx).await;
                guarded = true;
                continue 'run;
            }
            let failed = match AssertUnwindSafe(batch[i].run(&mut tx, guarded)).catch_unwind().await {
                Ok(failed) => {
                    i += 1;
                    failed
                }
                Err(_) => {
                    // A panicking command is dropped with its reply (its caller hears that the writer stopped).
                    // Guarded, its savepoint may still be open: nothing of the batch is committed.
                    drop(batch.remove(i));
                    tx.broken |= guarded;
                    true
                }
            };
            if failed && !guarded {
                rollback(tx).await;
                guarded = true;
                continue 'run;
            }
        }
        if tx.has_stored_ahead() {
            // A set stored ahead that its command did not take (it cannot happen: each takes its own first). Not
            // committed without the command that accounts for it in the audit log.
            tracing::error!("a set stored ahead was not taken by its command; the batch is run again");
            rollback(tx).await;
            guarded = true;
            continue 'run;
        }
        return if tx.broken {
            Err("a command in the same commit failed part-way; nothing in it was written".to_owned())
        } else {
            tx.finish().await.map_err(|e| e.to_string())
        };
    }
}

/// Before the command at the head of `jobs` runs, stores its set together with those of the commands after it that
/// also begin by storing a set, up to the first for a patient already among them, one decided under other versions
/// (it will not run), or one that does not. Only when nothing stored ahead is waiting to be taken, and only for two
/// or more sets (one is stored by its command, as it would be).
async fn store_ahead(tx: &mut WriteTx, jobs: &[Box<dyn Job>]) -> Result<()> {
    if tx.has_stored_ahead() {
        return Ok(());
    }
    let mut sets: Vec<&Arc<NewSet>> = Vec::new();
    // The versions as they stand, read (if a command before may have moved them) only for a command decided under
    // versions.
    let mut versions = None;
    for job in jobs.iter().take(MAX_TOGETHER) {
        let Some(set) = job.set() else { break };
        if sets.iter().any(|s| s.patient_id == set.patient_id) {
            break;
        }
        if let Some(under) = job.under() {
            let now = match versions {
                Some(now) => now,
                None => *versions.insert(tx.versions_now().await?),
            };
            if under != now {
                break;
            }
        }
        sets.push(set);
    }
    if sets.len() < 2 {
        return Ok(());
    }
    // 2, 4, 8, 16 or 32 at a time, so that the connection prepares few statements (as the audit entries are written);
    // the commands after them have theirs stored when the first of them runs.
    sets.truncate(1 << sets.len().ilog2());
    let rows: Vec<&NewSet> = sets.iter().map(|s| s.as_ref()).collect();
    let stored = tx.insert_sets_together(&rows).await?;
    tx.keep_stored_ahead(sets.into_iter().cloned().zip(stored).collect());
    Ok(())
}

async fn rollback(tx: WriteTx) {
    if let Err(e) = tx.rollback().await {
        // The connection is not reused (sqlx closes one whose rollback failed; SQLite's is dropped).
        tracing::warn!(error = %e, "a write transaction could not be rolled back");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use remit_domain::time::SystemClock;

    /// The transaction a command of `writer` ran in (PostgreSQL's id for it).
    async fn transaction_of(writer: &Writer) -> Result<String> {
        let draft = AuditDraft::permit("test", "test.gather", "nothing");
        let (xid, _) = writer
            .command(None, draft, |tx| {
                Box::pin(async move {
                    let row = crate::db::query("SELECT txid_current()::text AS x")
                        .fetch_one(tx.conn())
                        .await?;
                    crate::col::<String>(&row, "x")
                })
            })
            .await?;
        Ok(xid)
    }

    /// On PostgreSQL, once a commit held several commands, commands arriving one after another within the gathering
    /// time share the next commit (up to `enough`); a command arriving alone after a commit of one is not held.
    #[tokio::test]
    async fn commands_arriving_together_are_gathered_into_one_commit_and_a_lone_one_is_not_held() {
        let Some((admin, name, url)) = crate::test_database("remit_gather", "the gathering test").await else {
            return;
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = crate::Store::connect(&url, clock.clone()).await.expect("connect");
        store.migrate().await.expect("migrate");
        let gather = Gather {
            within: Duration::from_secs(5),
            enough: 4,
        };
        let writer = Writer::start(
            store.shared.db.clone(),
            &url,
            clock,
            Batching {
                gather: Some(gather),
                sets_together: true,
            },
            store.shared.changes.clone(),
        );

        // Commands sent at once until the last commit holds more than one (the writer may take any alone; the
        // three are queued in order, so the second and third sharing one means the last held both).
        let mut armed = false;
        for _ in 0..50 {
            let (a, b, c) = tokio::join!(
                transaction_of(&writer),
                transaction_of(&writer),
                transaction_of(&writer)
            );
            let (a, b, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
            let (a, b, c): (i64, i64, i64) = (a.parse().expect("a"), b.parse().expect("b"), c.parse().expect("c"));
            if b == c {
                assert!(a <= b, "sent in order");
                armed = true;
                break;
            }
        }
        assert!(armed, "three commands sent at once never shared a commit");

        // Four commands, each sent 30 ms after the one before: without gathering each would have its own commit.
        let spaced: Vec<_> = (0..4u64)
            .map(|i| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(30 * i)).await;
                    transaction_of(&writer).await
                })
            })
            .collect();
        let mut xids = Vec::new();
        for t in spaced {
            xids.push(t.await.expect("joined").expect("committed"));
        }
        assert!(
            xids.iter().all(|x| *x == xids[0]),
            "not gathered into one commit: {xids:?}"
        );

        // After the commit of four, a lone command waits out the gathering time; the next lone one does not.
        let lone = transaction_of(&writer).await.expect("committed");
        let started = std::time::Instant::now();
        let next = transaction_of(&writer).await.expect("committed");
        assert_ne!(lone, next);
        assert!(
            started.elapsed() < std::time::Duration::from_millis(2500),
            "a lone command after a lone one was held for {:?}",
            started.elapsed()
        );

        drop(writer);
        drop(store);
        crate::admin_execute(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .expect("drop");
    }

    /// A set for `patient`, scored as recorded: respiration rate `rate` (25 or more scores 3, a single red score).
    fn new_set(patient: i64, staff: i64, rate: u8) -> NewSet {
        use remit_domain::news2::Spo2Scale;
        let at = chrono::Utc::now();
        let readings = remit_domain::obs::Readings {
            respiration_rate: Some(rate),
            spo2: Some(97),
            systolic_bp: Some(120),
            diastolic_bp: Some(80),
            pulse: Some(70),
            consciousness: Some(remit_domain::news2::Consciousness::Alert),
            temperature_tenths: Some(370),
            ..Default::default()
        };
        let assessment = readings.assess_for(Spo2Scale::One, None);
        NewSet {
            patient_id: patient,
            taken_at: at,
            recorded_at: at,
            recorded_by: staff,
            supervisor_id: None,
            next_due_at: assessment.next_due(at),
            readings,
            scale: Spo2Scale::One,
            assessment,
        }
    }

    /// The set version `id` as stored, every column but its id, as text.
    async fn stored_row(store: &crate::Store, id: i64) -> Vec<String> {
        let row = crate::db::query(
            "SELECT CAST(version AS TEXT) || ' ' || CAST(patient_id AS TEXT) || ' ' || state || ' ' || taken_at || ' ' \
             || recorded_at || ' ' || CAST(recorded_by AS TEXT) || ' ' || COALESCE(CAST(supervisor_id AS TEXT), '-') \
             || ' ' || CAST(respiration_rate AS TEXT) || ' ' || CAST(spo2 AS TEXT) || ' ' || CAST(spo2_scale AS TEXT) \
             || ' ' || CAST(on_oxygen AS TEXT) || ' ' || COALESCE(CAST(oxygen_flow_tenths AS TEXT), '-') || ' ' || \
             COALESCE(oxygen_device, '-') || ' ' || CAST(systolic_bp AS TEXT) || ' ' || CAST(diastolic_bp AS TEXT) || \
             ' ' || CAST(pulse AS TEXT) || ' ' || consciousness || ' ' || CAST(temperature_tenths AS TEXT) || ' ' || \
             missing || ' ' || scores || ' ' || CAST(total AS TEXT) || ' ' || risk || ' ' || monitoring || ' ' || \
             CAST(complete AS TEXT) || ' ' || next_due_at || ' ' || COALESCE(change_reason, '-') || ' ' || \
             COALESCE(CAST(changed_by AS TEXT), '-') || ' ' || COALESCE(changed_at, '-') || ' ' || \
             COALESCE(not_scored, '-') || ' ' || CASE WHEN set_id IS NULL THEN 'first' ELSE 'later' END AS r \
             FROM obs_set WHERE id = $1",
        )
        .bind(id)
        .fetch_one(store.pool())
        .await
        .expect("the stored set");
        crate::col::<String>(&row, "r")
            .expect("r")
            .split(' ')
            .map(str::to_owned)
            .collect()
    }

    /// What [`stored_row`] gives for a first version of `s`, worked out from `s` itself.
    fn expected_row(s: &NewSet) -> Vec<String> {
        use remit_domain::time::format_instant;
        let r = &s.readings;
        let a = &s.assessment;
        let n = |v: Option<u16>| v.map_or("-".to_owned(), |v| v.to_string());
        [
            "1".to_owned(),
            s.patient_id.to_string(),
            "current".to_owned(),
            format_instant(s.taken_at),
            format_instant(s.recorded_at),
            s.recorded_by.to_string(),
            "-".to_owned(),
            n(r.respiration_rate.map(u16::from)),
            n(r.spo2.map(u16::from)),
            "1".to_owned(),
            "0".to_owned(),
            "-".to_owned(),
            "-".to_owned(),
            n(r.systolic_bp),
            n(r.diastolic_bp),
            n(r.pulse),
            r.consciousness.map_or("-", |c| c.as_str()).to_owned(),
            n(r.temperature_tenths),
            serde_json::to_string(&r.missing).expect("missing"),
            serde_json::to_string(&a.parameters).expect("scores"),
            a.total.unwrap_or(0).to_string(),
            a.risk.map_or("low", |r| r.as_str()).to_owned(),
            a.monitoring.as_str().to_owned(),
            u8::from(a.complete).to_string(),
            format_instant(s.next_due_at),
            "-".to_owned(),
            "-".to_owned(),
            "-".to_owned(),
            "-".to_owned(),
            "first".to_owned(),
        ]
        .to_vec()
    }

    /// Migrates the store and seeds the demo catalogue: three of its patients and a member of its staff.
    async fn patients_and_staff(store: &crate::Store) -> ([i64; 3], i64) {
        store.migrate().await.expect("migrate");
        store
            .seed_demo("test", &crate::demo::test_catalogue())
            .await
            .expect("seed");
        let rows = crate::db::query("SELECT id FROM patient ORDER BY id")
            .fetch_all(store.pool())
            .await
            .expect("patients");
        let ids: Vec<i64> = rows.iter().map(|r| crate::col(r, "id").expect("id")).collect();
        let staff = crate::db::query("SELECT MIN(id) AS id FROM staff")
            .fetch_one(store.pool())
            .await
            .expect("staff");
        ([ids[0], ids[1], ids[2]], crate::col(&staff, "id").expect("staff id"))
    }

    /// How many sets the three patients have, as a transaction sees them.
    async fn sets_of(tx: &mut WriteTx, patients: [i64; 3]) -> Result<i64> {
        let row = crate::db::query("SELECT COUNT(*) AS n FROM obs_set WHERE patient_id IN ($1, $2, $3)")
            .bind(patients[0])
            .bind(patients[1])
            .bind(patients[2])
            .fetch_one(tx.conn())
            .await?;
        crate::col(&row, "n")
    }

    /// A writer that stores sets together, on `store`'s database, and a command that holds it for a while (so that
    /// the commands sent meanwhile are taken together).
    fn writer_storing_together(store: &crate::Store, url: &str) -> Writer {
        Writer::start(
            store.shared.db.clone(),
            url,
            Arc::new(SystemClock),
            Batching {
                gather: None,
                sets_together: true,
            },
            store.shared.changes.clone(),
        )
    }

    /// Runs `then` while the writer is held by a command of its own (100 ms asleep on the writer's thread), so that
    /// every command `then` sends is queued before the writer takes any: they are taken together, in the order sent.
    async fn while_held<T>(writer: &Writer, then: impl std::future::Future<Output = T>) -> T {
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = started.clone();
        let held = writer.clone();
        let hold = tokio::spawn(async move {
            held.command(None, draft("test.hold"), move |_| {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                Box::pin(async {
                    std::thread::sleep(Duration::from_millis(100));
                    Ok(())
                })
            })
            .await
        });
        while !started.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let out = then.await;
        hold.await.expect("joined").expect("held");
        out
    }

    async fn sets_for(store: &crate::Store, patient: i64) -> i64 {
        let row = crate::db::query("SELECT COUNT(*) AS n FROM obs_set WHERE patient_id = $1")
            .bind(patient)
            .fetch_one(store.pool())
            .await
            .expect("count");
        crate::col(&row, "n").expect("n")
    }

    /// Commands queued together that each begin by storing a set for a different patient have their sets stored in
    /// one statement before the first of them runs, two, four, eight, sixteen or thirty-two at a time; each is given
    /// its own set as storing it alone would have: its row, its id, and its patient's open escalation. A set for a
    /// patient already among them is stored after, and reads the escalation the earlier one raised.
    async fn sets_queued_together_are_stored_together(store: crate::Store, url: String) {
        let (patients, staff) = patients_and_staff(&store).await;
        let writer = writer_storing_together(&store, &url);
        let sets = [
            new_set(patients[0], staff, 25),
            new_set(patients[1], staff, 12),
            new_set(patients[2], staff, 13),
            new_set(patients[0], staff, 26),
        ];
        // Each command sees how many sets the three patients have, and a single red score raises an escalation.
        let record = |set: &NewSet| {
            let rate = set.readings.respiration_rate.unwrap_or(0);
            writer.command_with_set(None, set.clone(), draft("test.set"), move |tx, stored| {
                Box::pin(async move {
                    let seen = sets_of(tx, patients).await?;
                    if stored.open_escalation.is_none() && rate >= 25 {
                        crate::db::query(
                            "INSERT INTO escalation (patient_id, place_code, set_id, version_id, level, score, scored, \
                             state, raised_at, stage, notified_at) SELECT patient_id, 'ward-7', id, id, 'single-red', 3, \
                             1, 'open', taken_at, 0, taken_at FROM obs_set WHERE id = $1",
                        )
                        .bind(stored.version_id)
                        .execute(tx.conn())
                        .await?;
                    }
                    Ok((stored, seen))
                })
            })
        };
        let (first, second, third, again) = while_held(&writer, async {
            tokio::join!(record(&sets[0]), record(&sets[1]), record(&sets[2]), record(&sets[3]))
        })
        .await;
        let answers = [first, second, third, again].map(|a| a.expect("recorded").0);
        let [
            (first, seen_first),
            (second, seen_second),
            (third, seen_third),
            (again, seen_again),
        ] = answers;
        // The first three are for different patients: two are stored together (a power of two), before the first
        // runs. The third and the fourth (for the first's patient, but not among those two) are stored together
        // after the first two ran.
        assert_eq!(
            [seen_first, seen_second, seen_third, seen_again],
            [2, 2, 4, 4],
            "sets stored ahead of their commands, two at a time"
        );
        // Each its own row, as its command would have stored it alone.
        for (stored, set) in [first, second, third, again].iter().zip(&sets) {
            assert_eq!(stored.set_id, stored.version_id, "a first version is its own set");
            let row = stored_row(&store, stored.version_id).await;
            assert_eq!(row, expected_row(set), "set {} as stored", stored.version_id);
        }
        let alone = Writer::start(
            store.shared.db.clone(),
            &url,
            Arc::new(SystemClock),
            Batching {
                gather: None,
                sets_together: false,
            },
            store.shared.changes.clone(),
        );
        let ((single, _), _) = alone
            .command_with_set(None, sets[1].clone(), draft("test.set"), |_, stored| {
                Box::pin(async move { Ok((stored, 0)) })
            })
            .await
            .expect("alone");
        assert_eq!(
            stored_row(&store, single.version_id).await,
            stored_row(&store, second.version_id).await,
            "stored alone, the same row"
        );
        // The set after the first for the same patient reads the escalation the first raised; the others have none.
        let raised = again.open_escalation.expect("the first set's escalation, open");
        assert_eq!(
            (raised.level.as_str(), raised.score, raised.acknowledged),
            ("single-red", Some(3), false)
        );
        assert_eq!(
            (first.open_escalation, second.open_escalation, third.open_escalation),
            (None, None, None)
        );
        // Two sets for one patient are never stored in one statement.
        let (twice, _) = writer
            .command(None, draft("test.twice"), move |tx| {
                Box::pin(async move {
                    let a = new_set(patients[0], staff, 12);
                    let b = new_set(patients[0], staff, 13);
                    Ok(matches!(
                        tx.insert_sets_together(&[&a, &b]).await,
                        Err(StoreError::Invalid(_))
                    ))
                })
            })
            .await
            .expect("twice");
        assert!(twice, "two sets for one patient stored together");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sets_queued_together_are_stored_together_on_sqlite() {
        crate::on_sqlite(sets_queued_together_are_stored_together).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sets_queued_together_are_stored_together_on_postgres() {
        crate::on_postgres(
            "remit_together",
            "sets stored together",
            sets_queued_together_are_stored_together,
        )
        .await;
    }

    /// A command decided under versions (a token's holder kept and not yet confirmed) is not run once a command
    /// before it in the same commit has moved them: the versions it is checked against are read again after any
    /// command that may have changed a profile or a record. A command under the versions that still stand runs.
    async fn a_command_after_one_that_moved_the_versions_is_unconfirmed(store: crate::Store, url: String) {
        let (patients, staff) = patients_and_staff(&store).await;
        let writer = writer_storing_together(&store, &url);
        let before = store.versions().await.expect("versions");
        let under = |action: &'static str| writer.command(Some(before), draft(action), |_| Box::pin(async { Ok(()) }));
        let set_under = |patient: i64| {
            writer.command_with_set(Some(before), new_set(patient, staff, 12), draft("test.set"), |_, _| {
                Box::pin(async { Ok(()) })
            })
        };
        let sets_before = [sets_for(&store, patients[0]).await, sets_for(&store, patients[1]).await];
        // A change to a staff row, which moves the profile counter by trigger.
        let change = writer.command(None, draft("test.change"), move |tx| {
            Box::pin(async move {
                crate::db::query("UPDATE staff SET name = name WHERE id = $1")
                    .bind(staff)
                    .execute(tx.conn())
                    .await
                    .map(|_| ())
            })
        });
        // Two sets after it, which the writer would store together, and another command.
        let (first, changed, set_a, set_b, after) = while_held(&writer, async {
            tokio::join!(
                under("test.first"),
                change,
                set_under(patients[0]),
                set_under(patients[1]),
                under("test.after")
            )
        })
        .await;
        first.expect("decided under the versions that stood: run");
        changed.expect("the change");
        for (what, outcome) in [
            ("a set", set_a.map(|_| ())),
            ("another set", set_b.map(|_| ())),
            ("a command", after.map(|_| ())),
        ] {
            assert!(
                matches!(outcome, Err(StoreError::Unconfirmed)),
                "{what} decided before the change, in the same commit: {outcome:?}"
            );
        }
        assert_eq!(
            (logged(&store, "test.first").await, logged(&store, "test.after").await),
            (1, 0)
        );
        assert_eq!(
            [sets_for(&store, patients[0]).await, sets_for(&store, patients[1]).await],
            sets_before,
            "no set stored"
        );
        let now = store.versions().await.expect("versions");
        assert!(
            now.profiles > before.profiles,
            "the change moved the versions: {before:?} then {now:?}"
        );
        writer
            .command(Some(now), draft("test.now"), |_| Box::pin(async { Ok(()) }))
            .await
            .expect("under the versions now: run");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_command_after_one_that_moved_the_versions_is_unconfirmed_on_sqlite() {
        crate::on_sqlite(a_command_after_one_that_moved_the_versions_is_unconfirmed).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_command_after_one_that_moved_the_versions_is_unconfirmed_on_postgres() {
        crate::on_postgres(
            "remit_versions_moved",
            "versions moved in a commit",
            a_command_after_one_that_moved_the_versions_is_unconfirmed,
        )
        .await;
    }

    /// A command that fails among others whose sets were stored together with its own: the batch is run again with
    /// each set stored by its command, so the others' sets are stored once each, the failed one's not at all, and its
    /// refusal is recorded.
    async fn a_failure_among_sets_stored_together_is_its_own(store: crate::Store, url: String) {
        let (patients, staff) = patients_and_staff(&store).await;
        let writer = writer_storing_together(&store, &url);
        let mut before = Vec::new();
        for p in patients {
            before.push(sets_for(&store, p).await);
        }
        let refused = logged(&store, "test.refused").await;
        // What each run of the failing command saw of the three patients' sets.
        let saw = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = saw.clone();
        let ok = |patient: i64| {
            writer.command_with_set(None, new_set(patient, staff, 12), draft("test.set"), |_, _| {
                Box::pin(async { Ok(()) })
            })
        };
        let fails = writer.command_with_set(
            None,
            new_set(patients[1], staff, 12),
            draft("test.refused"),
            move |tx, _| {
                let seen = seen.clone();
                Box::pin(async move {
                    let n = sets_of(tx, patients).await?;
                    seen.lock().expect("seen").push(n);
                    Err::<(), _>(StoreError::Conflict("refused for the test".into()))
                })
            },
        );
        let (failed, a, c) = while_held(&writer, async { tokio::join!(fails, ok(patients[0]), ok(patients[2])) }).await;
        a.expect("the first is stored");
        c.expect("the third is stored");
        assert!(
            matches!(failed, Err(StoreError::Conflict(_))),
            "{:?}",
            failed.map(|_| ())
        );
        // The first run stored its set and the next together (it saw both); the second stored its own alone.
        let total: i64 = before.iter().sum();
        assert_eq!(
            *saw.lock().expect("seen"),
            vec![total + 2, total + 1],
            "what each run saw"
        );
        let mut after = Vec::new();
        for p in patients {
            after.push(sets_for(&store, p).await);
        }
        assert_eq!(
            after,
            vec![before[0] + 1, before[1], before[2] + 1],
            "each set once, the refused one's not at all"
        );
        assert_eq!(
            logged(&store, "test.refused").await,
            refused + 1,
            "the refusal is recorded"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_among_sets_stored_together_is_its_own_on_sqlite() {
        crate::on_sqlite(a_failure_among_sets_stored_together_is_its_own).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_among_sets_stored_together_is_its_own_on_postgres() {
        crate::on_postgres(
            "remit_together_fail",
            "a failure among sets",
            a_failure_among_sets_stored_together_is_its_own,
        )
        .await;
    }

    /// A migrated SQLite store in a folder of its own.
    async fn sqlite_store() -> (tempfile::TempDir, crate::Store) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("writer.db").display());
        let store = crate::Store::connect(&url, Arc::new(SystemClock))
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        (dir, store)
    }

    async fn logged(store: &crate::Store, action: &str) -> i64 {
        let row = crate::db::query("SELECT COUNT(*) AS n FROM audit_entry WHERE action = $1")
            .bind(action)
            .fetch_one(store.pool())
            .await
            .expect("count");
        crate::col::<i64>(&row, "n").expect("n")
    }

    fn draft(action: &str) -> AuditDraft {
        AuditDraft::permit("test", action, "nothing")
    }

    /// A command's own bug.
    fn bug() -> Result<()> {
        panic!("a command's own bug")
    }

    /// Holds the writer for a while, so that the commands sent meanwhile are taken together.
    fn hold(store: &crate::Store) -> impl std::future::Future<Output = Result<((), AuditEntry)>> + '_ {
        store.command(draft("test.hold"), |_| {
            Box::pin(async {
                std::thread::sleep(Duration::from_millis(100));
                Ok(())
            })
        })
    }

    /// A command that panics is dropped, its caller told the writer stopped; the commands beside it commit, and the
    /// writer goes on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_command_that_panics_is_dropped_and_the_rest_commit() {
        let (_dir, store) = sqlite_store().await;
        let ok = || store.command(draft("test.ok"), |_| Box::pin(async { Ok(()) }));
        let boom = store.command(draft("test.boom"), |_| Box::pin(async { bug() }));
        let (held, first, boom, second) = tokio::join!(hold(&store), ok(), boom, ok());
        assert!(
            held.is_ok() && first.is_ok() && second.is_ok(),
            "a command beside a panic failed"
        );
        match boom {
            Err(StoreError::Commit(m)) => assert!(m.contains("writer has stopped"), "{m}"),
            other => panic!("the panicking command was answered {:?}", other.map(|_| ())),
        }
        assert_eq!(logged(&store, "test.ok").await, 2);
        assert_eq!(
            logged(&store, "test.boom").await,
            0,
            "a panicking command left an audit entry"
        );
        ok().await.expect("the writer goes on after a panic");
        assert_eq!(logged(&store, "test.ok").await, 3);
    }

    /// A command that panics when its batch is run again with savepoints (after another command in it failed)
    /// leaves the batch unsafe to commit: nothing of it is written, and every command in it is told so.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_in_the_guarded_run_writes_nothing_of_its_batch() {
        let (_dir, store) = sqlite_store().await;
        let mut shared = false;
        for _ in 0..20 {
            let written = (logged(&store, "test.ok").await, logged(&store, "test.twice").await);
            let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counted = runs.clone();
            let fails = store.command(draft("test.fails"), |_| {
                Box::pin(async { Err::<(), _>(StoreError::Invalid("bad input".into())) })
            });
            let second_run_panics = store.command(draft("test.twice"), move |_| {
                let run = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Box::pin(async move { if run == 0 { Ok(()) } else { bug() } })
            });
            let ok = store.command(draft("test.ok"), |_| Box::pin(async { Ok(()) }));
            let (_, twice, fails, ok) = tokio::join!(hold(&store), second_run_panics, fails, ok);
            if runs.load(std::sync::atomic::Ordering::SeqCst) < 2 {
                // Not taken with the failing command: try again.
                assert!(fails.is_err() && twice.is_ok() && ok.is_ok());
                continue;
            }
            shared = true;
            for (who, answer) in [("the failing command", fails), ("the other", ok)] {
                match answer {
                    Err(StoreError::Commit(m)) => assert!(m.contains("nothing in it was written"), "{who}: {m}"),
                    other => panic!("{who} was answered {other:?}"),
                }
            }
            assert!(matches!(twice, Err(StoreError::Commit(_))), "the panicking command");
            assert_eq!(
                (logged(&store, "test.ok").await, logged(&store, "test.twice").await),
                written,
                "something of the batch was written"
            );
            break;
        }
        assert!(shared, "the commands never shared a batch");
        let before = logged(&store, "test.ok").await;
        store
            .command(draft("test.ok"), |_| Box::pin(async { Ok(()) }))
            .await
            .expect("the writer goes on");
        assert_eq!(logged(&store, "test.ok").await, before + 1);
    }
}
