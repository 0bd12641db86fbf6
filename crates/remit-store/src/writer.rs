//! Group commit. Commands do not each take the write lock and sync the log: they queue for one writer task, which
//! runs every command waiting while the previous commit was syncing in one transaction, each under its own
//! savepoint, and commits once. A command is answered only after the commit that holds it; one that fails rolls back
//! to its savepoint and leaves the others untouched.
//!
//! On SQLite this removes the wait for the write lock (the busy handler sleeps) and all but one sync per batch; on
//! PostgreSQL it holds the audit chain's head row once per batch instead of once per command.
//!
//! On SQLite the writer is a thread of its own: its statements run on it directly, and the sync of each commit waits
//! there, not on a request's thread. On PostgreSQL it is a task on the runtime.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use remit_domain::audit::{AuditDraft, AuditEntry};
use tokio::sync::{mpsc, oneshot};

use remit_domain::time::Clock;

use crate::db::Db;
use crate::{Result, StoreError, Waits, WriteTx};

/// The most commands one commit holds: bounds how long the write lock is kept and the latency of the last one.
const MAX_BATCH: usize = 64;

/// A queued command, its type erased.
trait Job: Send {
    /// Runs the command in the batch's transaction; what it gives back answers the caller once the commit is known.
    fn run<'a>(self: Box<Self>, tx: &'a mut WriteTx) -> BoxFuture<'a, Box<dyn Answer>>;
    /// The batch could not start.
    fn fail(self: Box<Self>, error: StoreError);
}

/// A command's outcome, held until its batch commits.
trait Answer: Send {
    fn send(self: Box<Self>, committed: std::result::Result<(), String>);
}

/// The queue to the writer task.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer task on the current runtime. It ends when the last `Writer` is dropped.
    pub(crate) fn start(db: Db, clock: Arc<dyn Clock>) -> Self {
        let (queue, jobs) = mpsc::unbounded_channel();
        match db {
            Db::Lite(_) => {
                let runtime = tokio::runtime::Handle::current();
                let spawned = std::thread::Builder::new().name("remit-writer".into()).spawn(move || {
                    let _entered = runtime.enter();
                    futures_executor::block_on(run(db, Waits::Here, clock, jobs));
                });
                if let Err(e) = spawned {
                    // The queue's receiver went with the thread: every command is answered that the writer stopped.
                    tracing::error!(error = %e, "could not start the database writer thread");
                }
            }
            Db::Any(_) => {
                tokio::spawn(run(db, Waits::Blocking, clock, jobs));
            }
        }
        Self { queue }
    }

    /// Runs `work` and appends `draft` to the audit log in one commit shared with whatever else is queued. A
    /// conflict rolls the work back and records the refusal instead, with its reason.
    pub(crate) async fn command<T, F>(&self, draft: AuditDraft, work: F) -> Result<(T, AuditEntry)>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut WriteTx) -> BoxFuture<'a, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(Command { draft, work, reply }))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Commit("the database writer has stopped".into())
}

struct Command<T, F> {
    draft: AuditDraft,
    work: F,
    reply: oneshot::Sender<Result<(T, AuditEntry)>>,
}

struct Reply<T> {
    outcome: Result<(T, AuditEntry)>,
    reply: oneshot::Sender<Result<(T, AuditEntry)>>,
}

impl<T: Send + 'static> Answer for Reply<T> {
    fn send(self: Box<Self>, committed: std::result::Result<(), String>) {
        let outcome = match committed {
            Ok(()) => self.outcome,
            Err(e) => Err(StoreError::Commit(e)),
        };
        // The caller may have gone away; the commit stands either way.
        let _ = self.reply.send(outcome);
    }
}

impl<T, F> Job for Command<T, F>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a mut WriteTx) -> BoxFuture<'a, Result<T>> + Send + 'static,
{
    fn run<'a>(self: Box<Self>, tx: &'a mut WriteTx) -> BoxFuture<'a, Box<dyn Answer>> {
        Box::pin(async move {
            let Command { draft, work, reply } = *self;
            let outcome = one(tx, draft, work).await;
            Box::new(Reply { outcome, reply }) as Box<dyn Answer>
        })
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// One command under its own savepoint. A command that succeeds leaves its savepoint in place (releasing it would
/// be one more statement; the commit ends them all); a failed one rolls back to it.
async fn one<T, F>(tx: &mut WriteTx, draft: AuditDraft, work: F) -> Result<(T, AuditEntry)>
where
    F: for<'a> FnOnce(&'a mut WriteTx) -> BoxFuture<'a, Result<T>>,
{
    tx.statement("SAVEPOINT command").await?;
    let done = match work(tx).await {
        Ok(value) => tx.append(draft.clone()).await.map(|entry| (value, entry)),
        Err(e) => Err(e),
    };
    match done {
        Ok(done) => Ok(done),
        Err(e) => {
            // The most recent savepoint of that name is this command's own.
            tx.statement("ROLLBACK TO SAVEPOINT command").await?;
            if let StoreError::Conflict(reason) = &e {
                tx.append(draft.refused(vec![reason.clone()])).await?;
            }
            Err(e)
        }
    }
}

/// Begins a batch's transaction and takes the audit head before any command's savepoint.
async fn begin(db: &Db, waits: Waits, clock: &dyn Clock) -> Result<WriteTx> {
    let mut tx = WriteTx::begin(db, clock, waits).await?;
    tx.take_head().await?;
    Ok(tx)
}

async fn run(db: Db, waits: Waits, clock: Arc<dyn Clock>, mut jobs: mpsc::UnboundedReceiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut tx = match begin(&db, waits, clock.as_ref()).await {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!(error = %e, "could not begin a write transaction");
                let message = e.to_string();
                for job in batch.drain(..) {
                    job.fail(StoreError::Commit(message.clone()));
                }
                continue;
            }
        };
        let mut answers = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            tx.now = clock.now();
            // A panicking command drops its own reply (its caller hears that the writer stopped); the batch it was
            // in is not committed, since its savepoint may still be open.
            match AssertUnwindSafe(job.run(&mut tx)).catch_unwind().await {
                Ok(answer) => answers.push(answer),
                Err(_) => tx.broken = true,
            }
        }
        let committed = if tx.broken {
            Err("a command in the same commit failed part-way; nothing in it was written".to_owned())
        } else {
            tx.finish().await.map_err(|e| e.to_string())
        };
        if let Err(e) = &committed {
            tracing::error!(error = %e, commands = answers.len(), "a group commit failed");
        }
        for answer in answers {
            answer.send(committed.clone());
        }
    }
}
