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
use crate::{Result, StoreError, Versions, Waits, WriteTx};

/// The most commands one commit holds: bounds how long the write lock is kept and the latency of the last one.
const MAX_BATCH: usize = 64;

/// A queued command, its type erased.
trait Job: Send {
    /// Runs the command in the batch's transaction, with `guarded` under a savepoint of its own; its work is cloned,
    /// so that it can be run again. Says whether it failed having run statements (the transaction, unguarded, is then
    /// to be rolled back); a command not run at all (its versions moved on) has not.
    fn run<'a>(&'a mut self, tx: &'a mut WriteTx, guarded: bool) -> BoxFuture<'a, bool>;
    /// Answers the caller once the commit is known: with the outcome of the command's last run if it committed.
    fn answer(self: Box<Self>, committed: std::result::Result<(), String>);
}

/// The queue to the writer task.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer thread (on PostgreSQL, connecting to `url` for itself), gathering commands into a commit as
    /// `gather` says (without, each commit holds what was waiting when it began). It ends when the last `Writer` is
    /// dropped.
    pub(crate) fn start(
        db: Db,
        url: &str,
        clock: Arc<dyn Clock>,
        gather: Option<Gather>,
        changes: Arc<Changes>,
    ) -> Self {
        let (queue, jobs) = mpsc::unbounded_channel();
        let spawned = match db {
            Db::Lite(_) => {
                let runtime = tokio::runtime::Handle::current();
                std::thread::Builder::new().name("remit-writer".into()).spawn(move || {
                    let _entered = runtime.enter();
                    futures_executor::block_on(run(db, Waits::Here, clock, gather, changes, jobs));
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
                        run(Db::Pg(pool.clone()), Waits::Blocking, clock, gather, changes, jobs).await;
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
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(Command {
                under,
                draft,
                work,
                reply,
                outcome: None,
            }))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Commit("the database writer has stopped".into())
}

struct Command<T, F> {
    under: Option<Versions>,
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
            if self.under.is_some_and(|under| under != tx.versions) {
                // Decided on what has changed since: not run, and the transaction is as it was.
                self.outcome = Some(Err(StoreError::Unconfirmed));
                return false;
            }
            let outcome = one(tx, self.draft.clone(), self.work.clone(), guarded).await;
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
    gather: Option<Gather>,
    changes: Arc<Changes>,
    mut jobs: mpsc::UnboundedReceiver<Box<dyn Job>>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    let mut together = false;
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // A command arriving alone after one that was alone is committed at once: waiting would only delay it.
        if let Some(gather) = gather.filter(|_| together) {
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
        let committed = commit_batch(&db, waits, clock.as_ref(), &changes, &mut batch).await;
        if let Err(e) = &committed {
            tracing::error!(error = %e, commands = batch.len(), "a group commit failed");
        }
        for job in batch.drain(..) {
            job.answer(committed.clone());
        }
    }
}

/// Runs the batch in one transaction and commits it; says whether it committed. The first run is unguarded: the
/// first command that fails rolls it back, and the batch is run again, guarded.
async fn commit_batch(
    db: &Db,
    waits: Waits,
    clock: &dyn Clock,
    changes: &Arc<Changes>,
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
        return if tx.broken {
            Err("a command in the same commit failed part-way; nothing in it was written".to_owned())
        } else {
            tx.finish().await.map_err(|e| e.to_string())
        };
    }
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
            Some(gather),
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
