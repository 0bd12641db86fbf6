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
    /// writer on SQLite. Meant for a harness's own database: it creates and drops a table of its own.
    pub async fn durable_insert_rate(&self, clients: usize, duration: Duration) -> Result<f64> {
        let done = match &self.db {
            Db::Lite(pool) => {
                let pool = pool.clone();
                tokio::task::spawn_blocking(move || -> Result<f64> {
                    let mut conn = pool.take()?;
                    conn.execute_batch("CREATE TABLE reference_insert (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")?;
                    let started = Instant::now();
                    let mut n: u64 = 0;
                    while started.elapsed() < duration {
                        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                        tx.prepare_cached("INSERT INTO reference_insert (v) VALUES (?1)")?
                            .execute([n as i64])?;
                        tx.commit()?;
                        n += 1;
                    }
                    let rate = n as f64 / started.elapsed().as_secs_f64();
                    conn.execute_batch("DROP TABLE reference_insert")?;
                    pool.put(conn);
                    Ok(rate)
                })
                .await
                .map_err(|e| StoreError::Corrupt(format!("the reference writer stopped: {e}")))??
            }
            Db::Pg(pool) => {
                use sqlx::Executor;
                let mut setup = pool.connect_single().await?;
                setup
                    .execute("CREATE TABLE reference_insert (id BIGSERIAL PRIMARY KEY, v BIGINT NOT NULL)")
                    .await?;
                // Every client connected before the clock starts, as pgbench's are.
                let mut conns = Vec::with_capacity(clients);
                for _ in 0..clients.max(1) {
                    conns.push(pool.connect_single().await?);
                }
                let started = Instant::now();
                let deadline = started + duration;
                let mut tasks = Vec::with_capacity(conns.len());
                for (c, mut conn) in conns.into_iter().enumerate() {
                    tasks.push(tokio::spawn(async move {
                        let mut n: u64 = 0;
                        while Instant::now() < deadline {
                            sqlx::query("INSERT INTO reference_insert (v) VALUES ($1)")
                                .bind(((c as i64) << 32) | n as i64)
                                .execute(&mut conn)
                                .await?;
                            n += 1;
                        }
                        sqlx::Connection::close(conn).await?;
                        Ok::<u64, sqlx::Error>(n)
                    }));
                }
                let mut n = 0;
                for t in tasks {
                    n += t
                        .await
                        .map_err(|e| StoreError::Corrupt(format!("a reference client stopped: {e}")))??;
                }
                let rate = n as f64 / started.elapsed().as_secs_f64();
                setup.execute("DROP TABLE reference_insert").await?;
                sqlx::Connection::close(setup).await?;
                rate
            }
        };
        Ok(done)
    }
}
