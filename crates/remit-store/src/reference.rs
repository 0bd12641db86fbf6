//! The database's own durable write rate, measured on the store's own connections: the reference a load run reports
//! remit's sets a second against, so that runs on hosts of different speeds compare (`remit-bench`).
//!
//! One row inserted a transaction, each committed durably, as pgbench's simple insert does: on PostgreSQL from as
//! many connections as the load has clients (the server's own commit grouping applies, as it does to remit's); on
//! SQLite from its one writer, with the pragmas remit runs with (WAL, `synchronous = FULL`), since SQLite commits
//! one transaction at a time whoever asks. The rows go to a table of its own, `reference_insert`, created and dropped
//! around the run.

use std::time::{Duration, Instant};

use crate::db::Db;
use crate::{Result, Store, StoreError};

impl Store {
    /// Durable one-row transactions a second over `duration`, from `clients` connections on PostgreSQL or the one
    /// writer on SQLite. Meant for a harness's own database: it replaces a table of its own, `reference_insert`, and
    /// drops it afterwards whether the run succeeded or not.
    pub async fn durable_insert_rate(&self, clients: usize, duration: Duration) -> Result<f64> {
        match &self.shared.db {
            Db::Lite(pool) => {
                let pool = pool.clone();
                tokio::task::spawn_blocking(move || -> Result<f64> {
                    let mut conn = pool.take()?;
                    conn.execute_batch(
                        "DROP TABLE IF EXISTS reference_insert; \
                         CREATE TABLE reference_insert (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)",
                    )?;
                    let run = |conn: &mut rusqlite::Connection| -> Result<f64> {
                        let started = Instant::now();
                        let mut n: u64 = 0;
                        while started.elapsed() < duration {
                            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                            tx.prepare_cached("INSERT INTO reference_insert (v) VALUES (?1)")?
                                .execute([n as i64])?;
                            tx.commit()?;
                            n += 1;
                        }
                        Ok(n as f64 / started.elapsed().as_secs_f64())
                    };
                    let rate = run(&mut conn);
                    conn.execute_batch("DROP TABLE IF EXISTS reference_insert")?;
                    pool.put(conn);
                    rate
                })
                .await
                .map_err(|e| StoreError::Corrupt(format!("the reference writer stopped: {e}")))?
            }
            Db::Pg(pool) => {
                use sqlx::Executor;
                let mut setup = pool.connect_single().await?;
                setup
                    .execute(
                        "DROP TABLE IF EXISTS reference_insert; \
                         CREATE TABLE reference_insert (id BIGSERIAL PRIMARY KEY, v BIGINT NOT NULL)",
                    )
                    .await?;
                let rate = pg_clients(pool, clients, duration).await;
                setup.execute("DROP TABLE IF EXISTS reference_insert").await?;
                sqlx::Connection::close(setup).await?;
                rate
            }
        }
    }
}

/// The PostgreSQL clients of the reference: every one connected before the clock starts (as pgbench's are), each
/// inserting until the deadline; the first to fail stops the others.
async fn pg_clients(pool: &crate::db::PgPool, clients: usize, duration: Duration) -> Result<f64> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients.max(1) {
        conns.push(pool.connect_single().await?);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (c, mut conn) in conns.into_iter().enumerate() {
        tasks.spawn(async move {
            let mut n: u64 = 0;
            while Instant::now() < deadline {
                sqlx::query("INSERT INTO reference_insert (v) VALUES ($1)")
                    .bind(((c as i64) << 32) | n as i64)
                    .execute(&mut conn)
                    .await?;
                n += 1;
            }
            Ok::<(u64, sqlx::PgConnection), sqlx::Error>((n, conn))
        });
    }
    let mut n = 0;
    let mut done = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let joined = joined.map_err(|e| StoreError::Corrupt(format!("a reference client stopped: {e}")));
        match joined {
            Ok(Ok((count, conn))) => {
                n += count;
                done.push(conn);
            }
            Ok(Err(e)) => {
                tasks.abort_all();
                return Err(e.into());
            }
            Err(e) => {
                tasks.abort_all();
                return Err(e);
            }
        }
    }
    // Timed before the connections close.
    let rate = n as f64 / started.elapsed().as_secs_f64();
    for conn in done {
        let _ = sqlx::Connection::close(conn).await;
    }
    Ok(rate)
}
