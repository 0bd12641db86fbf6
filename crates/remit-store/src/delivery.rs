//! The outbox of escalations delivered outside remit (a paging or messaging gateway): written in the transaction that
//! raises, raises again or cascades an escalation, so that nothing acknowledged is lost; read and marked by the
//! delivery worker, which delivers each at least once under its idempotency key.

use chrono::{DateTime, Utc};
use remit_domain::obs::EscalationLevel;
use remit_domain::time::format_instant;
use serde::Serialize;

use crate::db::query;
use crate::{Result, Store, WriteTx, col};

/// Why a delivery is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryEvent {
    Raised,
    RaisedAgain,
    Cascaded,
}

impl DeliveryEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryEvent::Raised => "raised",
            DeliveryEvent::RaisedAgain => "raised-again",
            DeliveryEvent::Cascaded => "cascaded",
        }
    }
}

/// A delivery waiting to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: i64,
    pub escalation_id: i64,
    pub event: String,
    pub level: String,
    pub stage: i64,
    pub idempotency_key: String,
    pub created_at: String,
    pub attempts: i64,
}

/// Where an escalation's latest delivery stands, as its pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryStatus {
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub done_at: Option<String>,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Failed; tried again at the time given.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Failed for the last time.
    Failed {
        error: String,
    },
}

impl WriteTx {
    /// Writes the delivery of escalation `id`'s `event` (at `level` and cascade `stage`), due now. The same event
    /// written twice at the same moment is one delivery.
    pub async fn enqueue_delivery(
        &mut self,
        id: i64,
        event: DeliveryEvent,
        level: EscalationLevel,
        stage: u8,
    ) -> Result<()> {
        let now = format_instant(self.now());
        let key = format!("remit-escalation-{id}-{}-{stage}-{now}", event.as_str());
        query(
            "INSERT INTO delivery (escalation_id, event, level, stage, idempotency_key, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(id)
        .bind(event.as_str())
        .bind(level.as_str())
        .bind(i64::from(stage))
        .bind(key)
        .bind(&now)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Deliveries due at `now`, oldest first, at most `limit`, claimed for this worker until `lease` has passed: each
    /// is taken by one worker of however many instances ask at once (a row claimed meanwhile by another is no longer
    /// due), and one whose worker died before recording its outcome is due again when its lease ends.
    pub async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<DueDelivery>> {
        let rows = query(
            "UPDATE delivery SET next_attempt_at = $3 WHERE state = 'pending' AND next_attempt_at <= $1 AND id IN \
             (SELECT id FROM delivery WHERE state = 'pending' AND next_attempt_at <= $1 \
              ORDER BY next_attempt_at, id LIMIT $2) \
             RETURNING id, escalation_id, event, level, stage, idempotency_key, created_at, attempts",
        )
        .bind(format_instant(now))
        .bind(limit)
        .bind(format_instant(now + lease))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueDelivery {
                    id: col(r, "id")?,
                    escalation_id: col(r, "escalation_id")?,
                    event: col(r, "event")?,
                    level: col(r, "level")?,
                    stage: col(r, "stage")?,
                    idempotency_key: col(r, "idempotency_key")?,
                    created_at: col(r, "created_at")?,
                    attempts: col(r, "attempts")?,
                })
            })
            .collect()
    }

    /// Records what attempt number `attempts` of delivery `id` came to. A delivery marked already (by another
    /// worker) is left as it is: the answer says whether this one counted.
    pub async fn record_attempt(&self, id: i64, attempts: i64, outcome: &Attempt) -> Result<bool> {
        let now = format_instant(self.now());
        let (state, next, error) = match outcome {
            Attempt::Delivered => ("delivered", now.clone(), None),
            Attempt::Retry { at, error } => ("pending", format_instant(*at), Some(error.as_str())),
            Attempt::Failed { error } => ("failed", now.clone(), Some(error.as_str())),
        };
        let done = query(
            "UPDATE delivery SET state = $1, attempts = $2, next_attempt_at = $3, last_error = $4, \
             done_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $5 END \
             WHERE id = $6 AND state = 'pending' AND attempts = $7",
        )
        .bind(state)
        .bind(attempts + 1)
        .bind(next)
        .bind(error)
        .bind(&now)
        .bind(id)
        .bind(attempts)
        .execute(self.pool())
        .await?;
        Ok(done == 1)
    }

    /// The latest delivery of each of `escalations` that has one.
    pub async fn delivery_status(&self, escalations: &[i64]) -> Result<Vec<(i64, DeliveryStatus)>> {
        let mut out = Vec::new();
        for &id in escalations {
            let row = query(
                "SELECT state, attempts, last_error, done_at FROM delivery WHERE escalation_id = $1 \
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
            if let Some(r) = row {
                out.push((
                    id,
                    DeliveryStatus {
                        state: col(&r, "state")?,
                        attempts: col(&r, "attempts")?,
                        last_error: col(&r, "last_error")?,
                        done_at: col(&r, "done_at")?,
                    },
                ));
            }
        }
        Ok(out)
    }

    /// Deliveries in each state, for the metrics.
    pub async fn delivery_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = query("SELECT state, COUNT(*) AS n FROM delivery GROUP BY state ORDER BY state")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((col(r, "state")?, col(r, "n")?))).collect()
    }
}
